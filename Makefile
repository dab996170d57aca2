# The two commands: `make run` and `make test`. Both install what is missing first.
SHELL := /bin/bash
SWIFT_BUILD_FLAGS ?=
PORT ?= 8080

.PHONY: run test build deps test-deps clean-data

deps:
	@scripts/install-deps.sh run

test-deps:
	@scripts/install-deps.sh test

build: deps
	swift build $(SWIFT_BUILD_FLAGS)

## Build, start the embedded PostgreSQL, migrate, load demo data, serve on 127.0.0.1:$(PORT).
run: build
	PORT=$(PORT) .build/debug/registry serve --demo

## The whole suite: unit, integration (real PostgreSQL) and HTTP tests.
test: test-deps
	swift test $(SWIFT_BUILD_FLAGS)

## Remove the local data folder (the embedded cluster, keys, demo credentials). Stop the registry first.
clean-data:
	rm -rf .registry
