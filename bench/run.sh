#!/usr/bin/env bash
# `make bench`: a release build, a fresh embedded PostgreSQL under /tmp, synthetic data at scale,
# then every figure measured beside its baseline in the same run, written to bench/RESULTS.md.
# Benchmarks report; they never pass or fail on a figure.
#
#   BENCH_WORKERS (1000000)  BENCH_AGENCIES (200)  BENCH_REVIEWS_PER_WORKER (10)  BENCH_FLAGS (= workers)
#   BENCH_FLAG_FILE_ROWS (1000000)   rows of the file for import-flags against psql \copy
#   BENCH_DURATION (30)              seconds per wrk / pgbench run
#   BENCH_CONNECTIONS (16)           concurrent clients for the report and for pgbench -S
#   BENCH_PORT (18080)  BENCH_OUT (bench/RESULTS.md)  BENCH_KEEP=1 keeps the data folder
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
WORKERS=${BENCH_WORKERS:-1000000}
AGENCIES=${BENCH_AGENCIES:-200}
REVIEWS=${BENCH_REVIEWS_PER_WORKER:-10}
FLAGS=${BENCH_FLAGS:-$WORKERS}
FLAG_ROWS=${BENCH_FLAG_FILE_ROWS:-1000000}
DURATION=${BENCH_DURATION:-30}
CONNECTIONS=${BENCH_CONNECTIONS:-16}
PORT=${BENCH_PORT:-18080}
OUT=${BENCH_OUT:-bench/RESULTS.md}
CORES=$(nproc)
BIN=$ROOT/.build/release/registry

WORK=$(mktemp -d /tmp/registry-bench.XXXXXX)
chmod 755 "$WORK"   # the embedded cluster runs as the postgres user when we are root
RESULTS=$WORK/results.tsv
: >"$RESULTS"
export REGISTRY_DATA_DIR=$WORK/data REGISTRY_ROOT=$ROOT HOST=127.0.0.1 PORT LOG_LEVEL=warning
export REGISTRY_DEMO_PASSWORD="bench-$(head -c 12 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
BASE=http://127.0.0.1:$PORT
SERVER=""

put() { printf '%s\t%s\n' "$1" "$2" >>"$RESULTS"; }
step() { printf '\n== %s\n' "$*" >&2; }
now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc; }
# Remembers a measured command for the report (key cmd.NAME), with the machine's load average just
# before it: other processes on the machine show up there.
record() { local name=$1; shift; put "cmd.$name" "$*"; put "load.$name" "$(cut -d' ' -f1-3 /proc/loadavg)"; }

cleanup() {
    [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null || true
    [ -n "${GATEWAY:-}" ] && kill "$GATEWAY" 2>/dev/null || true
    local pgctl=/usr/lib/postgresql/15/bin/pg_ctl
    [ -x "$pgctl" ] || pgctl=$(command -v pg_ctl || echo pg_ctl)
    if [ -f "$REGISTRY_DATA_DIR/postgres/pg/PG_VERSION" ]; then
        if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$pgctl" -D "$REGISTRY_DATA_DIR/postgres/pg" -m fast -w stop >/dev/null 2>&1 || true
        else "$pgctl" -D "$REGISTRY_DATA_DIR/postgres/pg" -m fast -w stop >/dev/null 2>&1 || true; fi
    fi
    [ "${BENCH_KEEP:-0}" = 1 ] && echo "kept $WORK" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT

put load.start "$(cut -d' ' -f1-3 /proc/loadavg)"   # before anything of the benchmark runs
step "release build"
swift build -c release --product registry

step "machine"
put machine.cpu "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
put machine.cores "$CORES"
put machine.memory_gib "$(awk '/MemTotal/ {printf "%.1f", $2 / 1048576}' /proc/meminfo)"
put machine.kernel "$(uname -sr)"
put machine.os "$(. /etc/os-release && echo "$PRETTY_NAME")"
put machine.swift "$(swift --version 2>&1 | head -1)"
put machine.wrk "$(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
put machine.date "$(date -u '+%Y-%m-%d %H:%M UTC')"
put machine.commit "$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- 2>/dev/null || echo ' (with uncommitted changes)')"
put config.workers "$WORKERS"; put config.agencies "$AGENCIES"; put config.reviews "$REVIEWS"; put config.flags "$FLAGS"
put config.flag_rows "$FLAG_ROWS"; put config.duration "$DURATION"; put config.connections "$CONNECTIONS"

step "embedded cluster in $REGISTRY_DATA_DIR"
URL=$("$BIN" db url 2>/dev/null)   # starts the cluster and leaves it running for every step below
# The embedded cluster asks for the owner's password (SCRAM); psql reads it from PGPASSWORD.
PGPASSWORD=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["owner"])' "$REGISTRY_DATA_DIR/postgres/credentials.json")
export PGPASSWORD
"$BIN" migrate >/dev/null
put machine.postgres "$(psql "$URL" -Atc 'SHOW server_version')"

step "scale data: $WORKERS workers"
record demo "registry demo --workers $WORKERS --agencies $AGENCIES --reviews-per-worker $REVIEWS --flags $FLAGS"
"$BIN" demo --workers "$WORKERS" --agencies "$AGENCIES" --reviews-per-worker "$REVIEWS" --flags "$FLAGS" | tee "$WORK/demo.txt"
put demo.seconds "$(sed -n 's/^scale demo data loaded in \([0-9.]*\) s.*/\1/p' "$WORK/demo.txt")"
grep -E '^  [a-z].* in +[0-9.]+ s \(' "$WORK/demo.txt" | sed 's/^  //' | nl -ba -w1 -s$'\t' | sed 's/^/demo.phase./' >>"$RESULTS"
for table in workers reviews engagements flags tenures transfers grades audit_log; do
    put "rows.$table" "$(psql "$URL" -Atc "SELECT count(*) FROM $table")"
done
put db.size "$(psql "$URL" -Atc "SELECT pg_size_pretty(pg_database_size(current_database()))")"
start=$(now)
record vacuum "psql -c 'VACUUM (ANALYZE)'  (as the database owner, after loading)"
psql "$URL" -qc 'VACUUM (ANALYZE)'
put vacuum.seconds "$(since "$start")"

step "regrade --all"
record regrade "registry regrade --all"
"$BIN" regrade --all 2>/dev/null | tee "$WORK/regrade.txt"
put regrade.line "$(tail -1 "$WORK/regrade.txt")"

step "flag import: $FLAG_ROWS rows, against psql \\copy"
record flags "REGISTRY_BIN=.build/release/registry bench/flag-import.sh $FLAG_ROWS"
REGISTRY_BIN=$BIN FLAGS_FILE=$WORK/flags-$FLAG_ROWS.csv bench/flag-import.sh "$FLAG_ROWS" | tee "$WORK/flags.txt"
put flags.copy "$(grep '^psql' "$WORK/flags.txt")"
put flags.import "$(grep 'first run' "$WORK/flags.txt")"
put flags.rerun "$(grep 're-run' "$WORK/flags.txt")"
rm -f "$WORK/flags-$FLAG_ROWS.csv"

step "pgbench -S on the same database (baseline for the report)"
SCALE=$(( WORKERS >= 100000 ? WORKERS / 100000 : 1 ))
put pgbench.scale "$SCALE"
pgbench -i -q -s "$SCALE" "$URL" >/dev/null 2>&1
for mode in prepared simple; do
    record "pgbench_$mode" "pgbench -S -M $mode -c $CONNECTIONS -j $CORES -T $DURATION -l  (scale $SCALE: $((SCALE * 100000)) accounts)"
    rm -f "$WORK"/pgb.*
    (cd "$WORK" && pgbench -S -M "$mode" -c "$CONNECTIONS" -j "$CORES" -T "$DURATION" -l --log-prefix=pgb "$URL" 2>/dev/null) >"$WORK/pgbench-$mode.txt"
    put "pgbench_$mode.tps" "$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$WORK/pgbench-$mode.txt")"
    put "pgbench_$mode.latency" "$(cat "$WORK"/pgb.* | awk '{print $3}' | sort -n | awk '{v[NR]=$1} END {printf "p50_ms=%.3f p99_ms=%.3f", v[int(NR*0.5)]/1000, v[int(NR*0.99)]/1000}')"
done
rm -f "$WORK"/pgb.*
psql "$URL" -qc 'DROP TABLE pgbench_accounts, pgbench_branches, pgbench_history, pgbench_tellers'

step "registry serve"
# Texts go to the recording SMS gateway on loopback (a server outside demo mode must have a channel).
SMS_SECRET="bench-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
python3 Tests/support/sms_gateway.py --secret "$SMS_SECRET" --record "$WORK/sms.jsonl" --ready-file "$WORK/sms.port" >/dev/null 2>&1 &
GATEWAY=$!
for _ in $(seq 100); do [ -s "$WORK/sms.port" ] && break; sleep 0.1; done
REGISTRY_SMS_GATEWAY_URL="http://127.0.0.1:$(cat "$WORK/sms.port")/v1/messages" REGISTRY_SMS_GATEWAY_SECRET="$SMS_SECRET" \
    "$BIN" serve >"$WORK/serve.log" 2>&1 &
SERVER=$!
for _ in $(seq 120); do curl -sf "$BASE/health/ready" >/dev/null && break; sleep 0.5; done
curl -sf "$BASE/health/ready" >/dev/null
sleep 5
rss() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$SERVER/status"; }
put rss.idle_kib "$(rss VmRSS)"

step "sessions and consents"
python3 bench/sessions.py "$BASE" "$REGISTRY_DEMO_PASSWORD" "$URL" "$WORK" 10000 | tee "$WORK/sessions.txt"
while IFS='=' read -r k v; do put "sessions.$k" "$v"; done <"$WORK/sessions.txt"

# Samples the server's resident memory while a load runs; the peak goes to rss.load_kib.
sample_rss() { while kill -0 "$SERVER" 2>/dev/null; do rss VmRSS; sleep 0.5; done >>"$WORK/rss-load.txt"; }

wrk_run() {   # name, script, connections, threads, url, script arguments...
    local name=$1 script=$2 conns=$3 threads=$4 url=$5; shift 5
    local extra=()
    [ $# -gt 0 ] && extra=(-- "$@")
    local shown="${extra[*]:-}"
    record "$name" "wrk -t$threads -c$conns -d${DURATION}s --timeout 10s -s bench/$script $url ${shown//$REGISTRY_DEMO_PASSWORD/<demo password>}"
    wrk -t"$threads" -c"$conns" -d"${DURATION}s" --timeout 10s -s "bench/$script" "$url" "${extra[@]}" | tee "$WORK/$name.txt"
    put "$name" "$(grep '^RESULT' "$WORK/$name.txt" | sed 's/^RESULT //')"
}

step "report: administrator"
sample_rss & SAMPLER=$!
wrk_run report_admin report.lua "$CONNECTIONS" "$CORES" "$BASE" "$WORK/admin-pairs.txt"
step "report: employers (confirmed engagement or redeemed consent code)"
wrk_run report_employer report.lua "$CONNECTIONS" "$CORES" "$BASE" "$WORK/employer-pairs.txt"
kill "$SAMPLER" 2>/dev/null || true
put rss.load_kib "$(sort -n "$WORK/rss-load.txt" | tail -1)"

step "HTTP stack alone: /health/live"
wrk_run health health.lua "$CONNECTIONS" "$CORES" "$BASE/health/live"

step "sign-in: $CORES concurrent logins"
wrk_run login login.lua "$CORES" "$CORES" "$BASE" "employer1@scale.demo.local" "$REGISTRY_DEMO_PASSWORD"
put rss.peak_kib "$(rss VmHWM)"
put rss.after_kib "$(rss VmRSS)"
kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""

step "argon2id ceiling: the same hasher, $CORES threads"
record hash "registry bench-hash --seconds 10 --threads $CORES"
"$BIN" bench-hash --seconds 10 --threads "$CORES" | tee "$WORK/hash.txt"
put hash.line "$(tail -1 "$WORK/hash.txt")"

step "scheduled jobs on the same registry: nothing due, and 1 % of flags expiring at once"
record jobs "REGISTRY_BIN=.build/release/registry bench/jobs.sh $WORKERS"
REGISTRY_BIN=$BIN bench/jobs.sh "$WORKERS" | tee "$WORK/jobs.txt"
grep -E ' ms, [0-9]+ rows$|^baseline|^their workers|^== ' "$WORK/jobs.txt" | nl -ba -w1 -s$'\t' | sed 's/^/jobs.line./' >>"$RESULTS"

step "results"
python3 bench/write-results.py "$RESULTS" >"$OUT"
echo "wrote $OUT" >&2
