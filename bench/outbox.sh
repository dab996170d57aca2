#!/usr/bin/env bash
# The outbox dispatcher against the recording SMS gateway on loopback: how many messages a second
# one node delivers, and the delay from a message's commit to the gateway's receipt (p50, p99),
# beside a baseline measured in the same run: the same gateway taking the same signed requests
# one at a time straight from a client, with no registry in between.
#
#   bench/outbox.sh [MESSAGES (5000)]     REGISTRY_BIN (.build/debug/registry)
# Prints key=value lines. Benchmarks report; they never pass or fail on a figure.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
N=${1:-5000}
BIN=${REGISTRY_BIN:-$ROOT/.build/debug/registry}
WORK=$(mktemp -d /tmp/registry-outbox.XXXXXX)
chmod 755 "$WORK"
export REGISTRY_DATA_DIR=$WORK/data REGISTRY_ROOT=$ROOT HOST=127.0.0.1 LOG_LEVEL=warning
export PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
SECRET="outbox-bench-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
SERVER="" GATEWAY=""
cleanup() {
    [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null || true
    [ -n "$GATEWAY" ] && kill "$GATEWAY" 2>/dev/null || true
    local pgctl=/usr/lib/postgresql/15/bin/pg_ctl
    [ -x "$pgctl" ] || pgctl=$(command -v pg_ctl || echo pg_ctl)
    if [ -f "$REGISTRY_DATA_DIR/postgres/pg/PG_VERSION" ]; then
        if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$pgctl" -D "$REGISTRY_DATA_DIR/postgres/pg" -m fast -w stop >/dev/null 2>&1 || true
        else "$pgctl" -D "$REGISTRY_DATA_DIR/postgres/pg" -m fast -w stop >/dev/null 2>&1 || true; fi
    fi
    rm -rf "$WORK" "$WORK/data-keys"
}
trap cleanup EXIT

python3 Tests/support/sms_gateway.py --secret "$SECRET" --record "$WORK/sms.jsonl" --ready-file "$WORK/sms.port" >/dev/null 2>&1 &
GATEWAY=$!
for _ in $(seq 100); do [ -s "$WORK/sms.port" ] && break; sleep 0.1; done
GW="http://127.0.0.1:$(cat "$WORK/sms.port")"

# Baseline: the gateway alone, the same signed requests one at a time.
python3 - "$GW" "$SECRET" "$N" <<'PY'
import hashlib, hmac, http.client, json, sys, time, urllib.parse
gw, secret, n = sys.argv[1], sys.argv[2].encode(), int(sys.argv[3])
u = urllib.parse.urlparse(gw)
conn = http.client.HTTPConnection(u.hostname, u.port)
started = time.time()
for i in range(n):
    body = json.dumps({"id": f"baseline-{i}", "to": "13900000000", "kind": "consent_code", "text": "【家政信用档案】基线 %06d" % i}).encode()
    ts = str(int(time.time()))
    sig = "sha256=" + hmac.new(secret, f"POST\n/v1/messages\n{ts}\n".encode() + body, hashlib.sha256).hexdigest()
    conn.request("POST", "/v1/messages", body, {"Content-Type": "application/json", "X-Registry-Key-Id": "bench",
                 "X-Registry-Request-Id": f"baseline-{i}", "X-Registry-Timestamp": ts, "X-Registry-Signature": sig})
    r = conn.getresponse(); r.read()
    assert r.status == 200, r.status
print(f"baseline.messages_per_s={n / (time.time() - started):.0f}")
PY
: >"$WORK/sms.jsonl"

URL=$("$BIN" db url 2>/dev/null)
# The embedded cluster asks for the owner's password (SCRAM); psql reads it from PGPASSWORD.
PGPASSWORD=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["owner"])' "$REGISTRY_DATA_DIR/postgres/credentials.json")
export PGPASSWORD
"$BIN" migrate >/dev/null 2>&1
REGISTRY_SMS_GATEWAY_URL="$GW/v1/messages" REGISTRY_SMS_GATEWAY_SECRET="$SECRET" "$BIN" serve >"$WORK/serve.log" 2>&1 &
SERVER=$!
for _ in $(seq 300); do curl -sf "http://127.0.0.1:$PORT/health/ready" >/dev/null && break; sleep 0.2; done

# N messages committed at once (as the changes that cause them would), then delivered by the node.
psql "$URL" -qtAc "INSERT INTO notifications (channel, recipient, template, payload, idempotency_key)
    SELECT 'sms', '139' || lpad(i::text, 8, '0'), 'consent_code', jsonb_build_object('code', lpad(i::text, 8, '0'), 'minutes', '30'),
           'bench-' || i FROM generate_series(1, $N) i"
COMMITTED=$(psql "$URL" -qtAc "SELECT extract(epoch FROM max(created_at)) FROM notifications WHERE idempotency_key LIKE 'bench-%'")
for _ in $(seq 600); do
    [ "$(wc -l <"$WORK/sms.jsonl")" -ge "$N" ] && break
    sleep 0.2
done
python3 - "$WORK/sms.jsonl" "$COMMITTED" "$N" <<'PY'
import json, sys
record, committed, n = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
received = sorted(json.loads(line)["received_at"] for line in open(record) if line.strip())
delays = [r - committed for r in received]
print(f"outbox.delivered={len(received)} of {n}")
print(f"outbox.messages_per_s={len(received) / (received[-1] - committed):.0f}")
print(f"outbox.delay_p50_s={delays[len(delays) // 2]:.2f} outbox.delay_p99_s={delays[int(len(delays) * 0.99) - 1]:.2f}")
PY
# Light load: one message at a time, half a second apart: the delay a person waits for her code.
for i in $(seq 20); do
    psql "$URL" -qtAc "INSERT INTO notifications (channel, recipient, template, payload, idempotency_key)
        VALUES ('sms', '13800000000', 'consent_code', '{\"code\": \"12345678\", \"minutes\": \"30\"}', 'steady-$i')"
    sleep 0.5
done
sleep 3
psql "$URL" -qtAc "SELECT idempotency_key, extract(epoch FROM created_at) FROM notifications WHERE idempotency_key LIKE 'steady-%'" >"$WORK/steady.txt"
python3 - "$WORK/sms.jsonl" "$WORK/steady.txt" <<'PY'
import json, sys
received = {m["id"]: m["received_at"] for m in map(json.loads, filter(str.strip, open(sys.argv[1])))}
created = dict(line.strip().split("|") for line in open(sys.argv[2]) if line.strip())
delays = sorted(received[k] - float(v) for k, v in created.items() if k in received)
print(f"steady.delivered={len(delays)} of {len(created)} steady.delay_p50_s={delays[len(delays) // 2]:.2f} steady.delay_max_s={delays[-1]:.2f}")
PY
echo "outbox.sent=$(psql "$URL" -qtAc "SELECT count(*) FROM notifications WHERE status = 'sent'") outbox.dead=$(psql "$URL" -qtAc "SELECT count(*) FROM notifications WHERE status = 'dead'")"
