#!/usr/bin/env bash
# The fault suite (part of `make test`): kill -9 during concurrent writes, replayed feed
# batches, PostgreSQL stopped and restarted under load, stalled and cut client connections —
# against the real `registry` binary (same build folder and configuration as `swift test`) on
# its own embedded PostgreSQL in a temporary folder. Extra arguments go to Tests/faults/faults.py
# (e.g. -k postgres). Only the Python standard library is needed.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck disable=SC2086
swift build ${SWIFT_BUILD_FLAGS:-}
# shellcheck disable=SC2086
registry="$(swift build ${SWIFT_BUILD_FLAGS:-} --show-bin-path | tail -n 1)/registry"
exec timeout 600 python3 -B Tests/faults/faults.py "$registry" "$@"
