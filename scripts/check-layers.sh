#!/usr/bin/env bash
# The house rules a compiler cannot see (part of `make lint`): SQL and PostgresNIO only in
# Sources/RegistryStorage (and its driver shim, RegistryStorageDriver); statements through the
# closed-connection guard; nothing above RegistryDomain imported by it; services and pages read
# the time from the registry's clock; RegistryHTTP names no store.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
if hits=$(grep -rnE '\.query\("|\.query\(PostgresQuery|PostgresQuery\(|unsafeSQL|\.copyFrom\(|^import PostgresNIO' Sources --include=*.swift \
    | grep -vE '^Sources/RegistryStorage(Driver)?/' | grep -v 'page\.query("'); then
    echo "SQL or PostgresNIO outside Sources/RegistryStorage (move it into a store):"
    echo "$hits"
    status=1
fi
if hits=$(grep -rn 'unguardedQuery' Sources --include=*.swift | grep -vE '^Sources/RegistryStorage(Driver/UnguardedQuery|/PostgresConnection\+Guard)\.swift:'); then
    echo "Statements go through the guard over connection.query (PostgresConnection+Guard.swift), never around it:"
    echo "$hits"
    status=1
fi
if hits=$(grep -rnE '[A-Za-z]+Store\.[A-Za-z]' Sources/RegistryHTTP --include=*.swift | grep -vE '^[^:]+:[0-9]+:\s*//'); then
    echo "RegistryHTTP calls services and answers with their types, never a store or a storage row:"
    echo "$hits"
    status=1
fi
if hits=$(grep -rnE '^import ' Sources/RegistryDomain --include=*.swift); then
    echo "RegistryDomain imports nothing:"
    echo "$hits"
    status=1
fi
if hits=$(grep -rnE '[^.[:alnum:]_]Date\(\)|CivilDate\.today\(\)' Sources/RegistryServices Sources/RegistryHTTP --include=*.swift \
    | grep -v '^Sources/RegistryServices/RegistryClock.swift:' | grep -v '^Sources/RegistryServices/Caller.swift:' | grep -vE '^[^:]+:[0-9]+:\s*//'); then
    echo "Services and pages read the time from the registry's clock (clock.now, clock.today), not Date() or CivilDate.today():"
    echo "$hits"
    status=1
fi
exit $status
