# The two commands: `make run` and `make test`. Both install what is missing first.
SHELL := /bin/bash
SWIFT_BUILD_FLAGS ?=
PORT ?= 8080

.PHONY: run test build deps test-deps clean-data

deps:
	@scripts/install-deps.sh run

## What the browser tests need besides the rest: headless Chromium, its WebDriver, Python's venv,
## and a CJK font so that screenshots of failed journeys are readable.
BROWSER_TEST_PACKAGES := chromium chromium-driver python3-venv fonts-wqy-microhei

test-deps:
	@REGISTRY_TEST_PACKAGES="$(BROWSER_TEST_PACKAGES)" scripts/install-deps.sh test

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

## Remove the local data folder (the embedded cluster, keys, demo credentials). Stop the registry first.
clean-data:
	rm -rf .registry
