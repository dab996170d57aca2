#!/usr/bin/env bash
# Installs the Debian packages the registry needs, only when something is missing.
#   scripts/install-deps.sh run    what `make run` needs (PostgreSQL server, libargon2 headers)
#   scripts/install-deps.sh test   plus what the test suite needs
set -euo pipefail
need=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for pkg in postgresql libargon2-dev pkg-config; do
    have_pkg "$pkg" || need+=("$pkg")
done
if [[ "${1:-run}" == "test" ]]; then
    for pkg in ${REGISTRY_TEST_PACKAGES:-}; do
        have_pkg "$pkg" || need+=("$pkg")
    done
fi
if ((${#need[@]})); then
    echo "installing: ${need[*]}"
    sudo=""
    [[ $(id -u) -eq 0 ]] || sudo="sudo"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}"
fi
command -v swift >/dev/null || { echo "Swift 6 is required (https://www.swift.org/install/linux/)" >&2; exit 1; }
