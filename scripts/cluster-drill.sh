#!/usr/bin/env bash
# The failover drill (part of `make test`): the cluster of `make cluster` in a temporary folder,
# 8 clients writing through the balancer, kill -9 of the primary PostgreSQL node, then of a
# registry node, then the old primary rejoining; nothing acknowledged lost or doubled, the audit
# chain intact; the figures printed (Tests/cluster/drill.py). Only the Python standard library.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck disable=SC2086
swift build ${SWIFT_BUILD_FLAGS:-}
# shellcheck disable=SC2086
registry="$(swift build ${SWIFT_BUILD_FLAGS:-} --show-bin-path | tail -n 1)/registry"
exec timeout 900 python3 -B Tests/cluster/drill.py "$registry" "$@"
