#!/usr/bin/env bash
# Runs a command against a freshly started registry: `scripts/with-server.sh REGISTRY_BINARY COMMAND...`
# starts a recording SMS gateway and `REGISTRY_BINARY serve --demo` (texting through it) on free ports
# with a new data folder (its own embedded PostgreSQL), waits until /health/ready answers, runs
# COMMAND with BASE_URL, ADMIN_EMAIL, ADMIN_PASSWORD, SERVER_LOG, SMS_RECORD (the gateway's record,
# JSON lines), SMS_GATEWAY (its address, for /control) and REGISTRY_DATA_DIR set, then stops the server with SIGTERM (which
# stops its PostgreSQL), checks that no code it texted (nor any text) is in its log
# (Tests/support/codes_in_log.py), and removes the folder, also when something fails. Exits with
# COMMAND's status, or 1 when COMMAND passed and the log check failed.
set -euo pipefail
registry=$1
shift
root=$(cd "$(dirname "$0")/.." && pwd)

data=$(mktemp -d /tmp/registry-server.XXXXXX)
chmod 755 "$data"  # the embedded PostgreSQL runs as the postgres user when we are root
log="$data/server.log"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
password="run-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"

server=""
gateway=""
stop_processes() {
    if [[ -n "$gateway" ]]; then kill -TERM "$gateway" 2>/dev/null || true; wait "$gateway" 2>/dev/null || true; fi
    gateway=""
    if [[ -n "$server" ]] && kill -0 "$server" 2>/dev/null; then
        kill -TERM "$server" 2>/dev/null || true
        for _ in $(seq 1 150); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
    fi
    server=""
}
stop_server() {
    stop_processes
    if [[ -n "${KEEP_SERVER_LOG:-}" && -f "$log" ]]; then cp "$log" "$KEEP_SERVER_LOG"; fi
    rm -rf "$data" "$data-keys"   # the keys file lives beside the data folder
}
trap stop_server EXIT
trap 'exit 130' INT TERM

# The recording SMS gateway (Tests/support/sms_gateway.py): the registry's texts reach it signed, and
# the suites read them from its record as the person would read her phone.
sms_secret="gw-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
python3 "$root/Tests/support/sms_gateway.py" --secret "$sms_secret" --record "$data/sms.jsonl" --ready-file "$data/sms.port" \
    >"$data/sms-gateway.log" 2>&1 &
gateway=$!
for _ in $(seq 1 100); do [[ -s "$data/sms.port" ]] && break; sleep 0.1; done
sms_url="http://127.0.0.1:$(cat "$data/sms.port")"

HOST=127.0.0.1 PORT=$port REGISTRY_DATA_DIR="$data" REGISTRY_ROOT="$root" REGISTRY_DEMO_PASSWORD="$password" \
    REGISTRY_SMS_GATEWAY_URL="$sms_url/v1/messages" REGISTRY_SMS_GATEWAY_SECRET="$sms_secret" \
    "$registry" serve --demo >"$log" 2>&1 &
server=$!

for _ in $(seq 1 600); do
    if ! kill -0 "$server" 2>/dev/null; then
        echo "the registry exited during startup:" >&2
        tail -n 40 "$log" >&2
        exit 1
    fi
    if python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/health/ready', timeout=2)" 2>/dev/null; then
        break
    fi
    sleep 0.2
done

status=0
BASE_URL="http://127.0.0.1:$port" ADMIN_EMAIL="admin@demo.registry.local" ADMIN_PASSWORD="$password" SERVER_LOG="$log" \
    SMS_RECORD="$data/sms.jsonl" SMS_GATEWAY="$sms_url" REGISTRY_DATA_DIR="$data" "$@" || status=$?

# No code in any log: every code texted during the run (read from the gateway's record, as from her
# phone) and every text looked for in every line the server wrote, once it has stopped. Names the
# kind and the line, never the code.
stop_processes
clean_log=yes
if ! python3 "$root/Tests/support/codes_in_log.py" --record "$data/sms.jsonl" --templates "$root/Web/i18n/messages" "$log"; then
    clean_log=""
    echo "the server log holds a code or a text it sent (see above); its last lines are not shown for that reason" >&2
    (( status != 0 )) || status=1
fi
if (( status != 0 )) && [[ -n "$clean_log" ]]; then
    echo "--- last lines of the server log:" >&2
    tail -n 30 "$log" >&2
fi
exit $status
