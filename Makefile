# The two commands: `make run` and `make test`. Both install what is missing first.
SHELL := /bin/bash
SWIFT_BUILD_FLAGS ?=
PORT ?= 8080

.PHONY: run test build deps test-deps clean-data bench format lint

deps:
	@scripts/install-deps.sh run

## What the browser tests need besides the rest: headless Chromium, its WebDriver, Python's venv,
## and a CJK font so that screenshots of failed journeys are readable.
BROWSER_TEST_PACKAGES := chromium chromium-driver python3-venv fonts-wqy-microhei
## The recording SMTP relay of the e-mail tests (Tests/support/smtp_server.py): aiosmtpd, and
## openssl for its self-signed certificate.
SMTP_TEST_PACKAGES := python3-aiosmtpd openssl

test-deps:
	@REGISTRY_TEST_PACKAGES="$(BROWSER_TEST_PACKAGES) $(SMTP_TEST_PACKAGES)" scripts/install-deps.sh test

build: deps
	swift build $(SWIFT_BUILD_FLAGS)

## Build, start the embedded PostgreSQL, migrate, load demo data, serve on 127.0.0.1:$(PORT).
run: build
	PORT=$(PORT) .build/debug/registry serve --demo

## The whole suite: unit, integration (real PostgreSQL), HTTP, access-matrix and bad-input tests;
## then, reusing the same build, the API contract (schemathesis), the faults (kill -9, PostgreSQL
## restart, stalled clients, replays) and the browser journeys through the web pages.
test: test-deps
	swift test $(SWIFT_BUILD_FLAGS)
	SWIFT_BUILD_FLAGS="$(SWIFT_BUILD_FLAGS)" scripts/contract-tests.sh
	SWIFT_BUILD_FLAGS="$(SWIFT_BUILD_FLAGS)" scripts/fault-tests.sh
	SWIFT_BUILD_FLAGS="$(SWIFT_BUILD_FLAGS)" scripts/browser-tests.sh

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
