#!/usr/bin/env bash
# The browser suite: real journeys through the web pages in headless Chromium (Debian's chromium
# and chromium-driver, driven by Selenium), at 360 px and desktop width, in zh-CN and English.
#
#   1. a virtual environment in .build/browser-venv with selenium (from PyPI, once);
#   2. an incremental build in the same folder and configuration as `swift test` (after it,
#      this only checks that nothing changed);
#   3. `.build/debug/registry serve --demo` on a free port, with a fresh data folder;
#   4. Tests/browser/journeys.py (extra arguments are passed on, e.g. -k English);
#   5. SIGTERM to the server (it stops its embedded PostgreSQL), also when something fails;
#   6. no code in any log: the codes texted during the run (from the recording gateway's record)
#      and the texts themselves looked for in the server log (Tests/support/codes_in_log.py).
# Screenshots and page sources of failed journeys: .build/browser-artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

for tool in chromium chromedriver python3; do
    command -v "$tool" >/dev/null || { echo "browser tests need $tool (apt-get install chromium chromium-driver python3-venv)" >&2; exit 1; }
done

venv=.build/browser-venv
if ! "$venv/bin/python" -c 'import selenium' 2>/dev/null; then
    echo "browser tests: creating $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r Tests/browser/requirements.txt
fi

# The same build folder and configuration as `swift test` (SWIFT_BUILD_FLAGS as in the Makefile).
# shellcheck disable=SC2086
swift build ${SWIFT_BUILD_FLAGS:-}
# shellcheck disable=SC2086
registry="$(swift build ${SWIFT_BUILD_FLAGS:-} --show-bin-path | tail -n 1)/registry"

artifacts=.build/browser-artifacts
rm -rf "$artifacts"
mkdir -p "$artifacts"

# The embedded PostgreSQL runs as the postgres user when we are root: the folder must be reachable.
data=$(mktemp -d /tmp/registry-browser.XXXXXX)
chmod 755 "$data"
log="$artifacts/server.log"
port=$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
password="browser-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"

# The journeys register more households and agencies from 127.0.0.1 in a minute than a person
# would: they run on a copy of the policies with the per-address registration limit raised
# (everything else is the repository's own).
testroot=$(mktemp -d /tmp/registry-browser-root.XXXXXX)
chmod 755 "$testroot"
ln -s "$root/Migrations" "$testroot/Migrations"
ln -s "$root/Web" "$testroot/Web"
cp -r "$root/Policies" "$testroot/Policies"
sed -i -e 's/^registrations_per_address_per_minute: .*/registrations_per_address_per_minute: 1000/' \
    -e 's/^registrations_per_minute: .*/registrations_per_minute: 1000/' "$testroot/Policies/authentication.yaml"

server=""
gateway=""
stop_processes() {
    if [[ -n "$gateway" ]]; then kill -TERM "$gateway" 2>/dev/null || true; wait "$gateway" 2>/dev/null || true; fi
    gateway=""
    if [[ -n "$server" ]] && ! kill -0 "$server" 2>/dev/null; then
        wait "$server" 2>/dev/null && code=0 || code=$?
        echo "browser tests: the registry had already stopped (exit status $code); see $log" >&2
    elif [[ -n "$server" ]]; then
        kill -TERM "$server" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$server" 2>/dev/null; then
            echo "browser tests: the server did not stop in 10 s; killing it" >&2
            kill -KILL "$server" 2>/dev/null || true
        fi
        wait "$server" 2>/dev/null || true
    fi
    server=""
}
stop_server() {
    stop_processes
    rm -rf "$data" "$data-keys" "$testroot"
}
trap stop_server EXIT
trap 'exit 130' INT TERM

# The recording SMS gateway: the worker's transfer code is read from what it received, as from her phone.
sms_secret="gw-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
sms_record="$artifacts/sms.jsonl"
python3 "$root/Tests/support/sms_gateway.py" --secret "$sms_secret" --record "$sms_record" --ready-file "$data/sms.port" \
    >"$artifacts/sms-gateway.log" 2>&1 &
gateway=$!
for _ in $(seq 1 100); do [[ -s "$data/sms.port" ]] && break; sleep 0.1; done

echo "browser tests: starting the registry on 127.0.0.1:$port (log: $log)"
HOST=127.0.0.1 PORT=$port REGISTRY_DATA_DIR="$data" REGISTRY_ROOT="$testroot" REGISTRY_DEMO_PASSWORD="$password" \
    REGISTRY_SMS_GATEWAY_URL="http://127.0.0.1:$(cat "$data/sms.port")/v1/messages" REGISTRY_SMS_GATEWAY_SECRET="$sms_secret" \
    LOG_LEVEL=info "$registry" serve --demo >"$log" 2>&1 &
server=$!

ready=""
for _ in $(seq 1 600); do
    if ! kill -0 "$server" 2>/dev/null; then
        echo "browser tests: the registry exited during startup:" >&2
        tail -n 40 "$log" >&2
        exit 1
    fi
    if "$venv/bin/python" - "$port" <<'PY' 2>/dev/null
import sys, urllib.request
urllib.request.urlopen("http://127.0.0.1:%s/health/ready" % sys.argv[1], timeout=2)
PY
    then ready=yes; break; fi
    sleep 0.2
done
[[ -n "$ready" ]] || { echo "browser tests: the registry was not ready in 120 s" >&2; tail -n 40 "$log" >&2; exit 1; }

status=0
# REGISTRY_DATA_DIR and REGISTRY_BIN: journeys run CLI commands (create-admin) against the running server's data.
BASE_URL="http://127.0.0.1:$port" SERVER_LOG="$log" SMS_RECORD="$sms_record" ADMIN_EMAIL="admin@demo.registry.local" ADMIN_PASSWORD="$password" \
    REGISTRY_DATA_DIR="$data" REGISTRY_BIN="$registry" REGISTRY_ROOT="$testroot" \
    ARTIFACTS="$root/$artifacts" SE_OFFLINE=true PYTHONDONTWRITEBYTECODE=1 \
    "$venv/bin/python" Tests/browser/journeys.py "$@" || status=$?

# No code in any log: once the server has stopped, every code texted during the journeys (read from
# the gateway's record, as from her phone) and every text looked for in every line it wrote. Names
# the kind and the line, never the code.
stop_processes
if ! python3 "$root/Tests/support/codes_in_log.py" --record "$sms_record" --templates "$testroot/Web/i18n/messages" "$log"; then
    echo "browser tests: the server log ($log) holds a code or a text it sent (see above)" >&2
    (( status != 0 )) || status=1
fi
if (( status != 0 )); then
    echo "browser tests failed; screenshots, page sources and the server log are in $artifacts/" >&2
fi
exit $status
