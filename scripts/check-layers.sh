#!/usr/bin/env bash
# The house rules a compiler cannot see (part of `make lint`): SQL and PostgresNIO only in
# Sources/RegistryStorage; nothing above RegistryDomain imported by it.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
if hits=$(grep -rnE '\.query\("|\.query\(PostgresQuery|PostgresQuery\(|unsafeSQL|\.copyFrom\(|^import PostgresNIO' Sources --include=*.swift \
    | grep -v '^Sources/RegistryStorage/' | grep -v 'page\.query("'); then
    echo "SQL or PostgresNIO outside Sources/RegistryStorage (move it into a store):"
    echo "$hits"
    status=1
fi
if hits=$(grep -rnE '^import ' Sources/RegistryDomain --include=*.swift); then
    echo "RegistryDomain imports nothing:"
    echo "$hits"
    status=1
fi
exit $status
