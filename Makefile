# The two commands: `make run` and `make test`. Both install what is missing first.
SHELL := /bin/bash
SWIFT_BUILD_FLAGS ?=
PORT ?= 8080

.PHONY: run test build deps test-deps clean-data bench format lint cluster cluster-down

deps:
	@scripts/install-deps.sh run

## What the browser tests need besides the rest: headless Chromium, its WebDriver, Python's venv,
## and a CJK font so that screenshots of failed journeys are readable.
BROWSER_TEST_PACKAGES := chromium chromium-driver python3-venv fonts-wqy-microhei
## The recording SMTP relay of the e-mail tests (Tests/support/smtp_server.py): aiosmtpd, and
## openssl for its self-signed certificate.
SMTP_TEST_PACKAGES := python3-aiosmtpd openssl

## The cluster of `make cluster` and the failover drill: pg_auto_failover (monitor and keeper) for
## PostgreSQL 15, HAProxy in front of the nodes, curl for health checks.
CLUSTER_PACKAGES := pg-auto-failover-cli postgresql-15-auto-failover haproxy curl

test-deps:
	@REGISTRY_TEST_PACKAGES="$(BROWSER_TEST_PACKAGES) $(SMTP_TEST_PACKAGES) $(CLUSTER_PACKAGES)" scripts/install-deps.sh test

build: deps
	swift build $(SWIFT_BUILD_FLAGS)

## Build, start the embedded PostgreSQL, migrate, load demo data, serve on 127.0.0.1:$(PORT).
run: build
	PORT=$(PORT) .build/debug/registry serve --demo

## The whole suite: unit, integration (real PostgreSQL), HTTP, access-matrix and bad-input tests;
## then, reusing the same build, the API contract (schemathesis), the faults (kill -9, PostgreSQL
## restart, stalled clients, replays), the browser journeys through the web pages, and the failover
## drill (Tests/cluster/drill.py: kill -9 the primary PostgreSQL, then a registry node, under load).
## The Swift run is bounded, so that a test left waiting fails the run instead of holding CI.
test: test-deps
	timeout 1800 swift test $(SWIFT_BUILD_FLAGS)
	SWIFT_BUILD_FLAGS="$(SWIFT_BUILD_FLAGS)" scripts/contract-tests.sh
	SWIFT_BUILD_FLAGS="$(SWIFT_BUILD_FLAGS)" scripts/fault-tests.sh
	SWIFT_BUILD_FLAGS="$(SWIFT_BUILD_FLAGS)" scripts/browser-tests.sh
	SWIFT_BUILD_FLAGS="$(SWIFT_BUILD_FLAGS)" scripts/cluster-drill.sh

## Several nodes on this machine (README, "Running more than one node"): pg_auto_failover's
## monitor, a primary and a synchronous standby, two registry nodes and HAProxy on
## 127.0.0.1:$(CLUSTER_PORT); data, logs and pid files under .cluster/. `make cluster-down` stops it all.
CLUSTER_PORT ?= 8090

cluster: build
	@REGISTRY_TEST_PACKAGES="$(CLUSTER_PACKAGES)" scripts/install-deps.sh test
	CLUSTER_PORT=$(CLUSTER_PORT) scripts/cluster.sh up "$$(swift build $(SWIFT_BUILD_FLAGS) --show-bin-path | tail -n 1)/registry"

cluster-down:
	CLUSTER_PORT=$(CLUSTER_PORT) scripts/cluster.sh down

## Remove the local data folder (the embedded cluster, demo credentials) and the keys beside it. Stop the registry first.
clean-data:
	rm -rf .registry .registry-keys

## Benchmarks, never run by CI: a release build, a fresh embedded cluster under /tmp, scale data
## (BENCH_WORKERS=1000000 by default; e.g. BENCH_WORKERS=100000 for a quicker run), then each figure
## beside its same-run baseline, written to bench/RESULTS.md. Installs wrk and bc when missing.
BENCH_PACKAGES := wrk bc postgresql-client curl valgrind

bench:
	@REGISTRY_TEST_PACKAGES="$(BENCH_PACKAGES)" scripts/install-deps.sh test
	bench/run.sh

## Formatting: `.swift-format` (Hummingbird's settings) applied to the tree; CI runs `make lint` first,
## which also checks that SQL and PostgresNIO stay in Sources/RegistryStorage (scripts/check-layers.sh).
format:
	swift format --in-place --recursive --parallel Sources Tests Package.swift

lint:
	swift format lint --strict --recursive --parallel Sources Tests Package.swift
	scripts/check-layers.sh
