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
#   BENCH_SMALL_WORKERS (10000)      a second, small registry on which the report is measured again (0 skips)
#   BENCH_SOAK (600)                 seconds of mixed traffic for the memory soak (0 skips it)
#   REGISTRY_BIN                     a registry binary to measure instead of a fresh release build
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
BIN=${REGISTRY_BIN:-$ROOT/.build/release/registry}
SOAK=${BENCH_SOAK:-600}

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
    if [ -f "$WORK/small/postgres/pg/PG_VERSION" ]; then
        if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$pgctl" -D "$WORK/small/postgres/pg" -m fast -w stop >/dev/null 2>&1 || true
        else "$pgctl" -D "$WORK/small/postgres/pg" -m fast -w stop >/dev/null 2>&1 || true; fi
    fi
    [ "${BENCH_KEEP:-0}" = 1 ] && echo "kept $WORK" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT

put load.start "$(cut -d' ' -f1-3 /proc/loadavg)"   # before anything of the benchmark runs
if [ -z "${REGISTRY_BIN:-}" ]; then
    step "release build"
    swift build -c release --product registry
fi

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
# pg_stat_statements (in Debian's postgresql package) says which statements take PostgreSQL's time in each
# measurement; loading it needs a restart of the benchmark's own cluster.
PGDATA_DIR=$REGISTRY_DATA_DIR/postgres/pg
PGCTL=/usr/lib/postgresql/15/bin/pg_ctl
[ -x "$PGCTL" ] || PGCTL=$(command -v pg_ctl)
as_owner() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
echo "shared_preload_libraries = 'pg_stat_statements'" | as_owner tee -a "$PGDATA_DIR/postgresql.conf" >/dev/null
as_owner "$PGCTL" -D "$PGDATA_DIR" -w -t 60 -m fast restart -l "$REGISTRY_DATA_DIR/postgres/log/postgres.log" >/dev/null
"$BIN" migrate >/dev/null
psql "$URL" -qc 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements'
put machine.postgres "$(psql "$URL" -Atc 'SHOW server_version')"
postmaster() { head -1 "$PGDATA_DIR/postmaster.pid"; }
# Around each measurement: CPU per request by process (bench/cpu.py) and PostgreSQL's busiest
# statements (pg_stat_statements), so that RESULTS.md can say what bounds each figure.
measure_begin() {
    echo 0 >"$WORK/loadgen.txt"
    psql "$URL" -qAtc 'SELECT pg_stat_statements_reset()' >/dev/null
    python3 bench/cpu.py snap "${SERVER:-0}" "$(postmaster)" >"$WORK/cpu-before.json"
}
measure_end() {   # name, requests (the load generator's or the command's own CPU in $WORK/loadgen.txt when it ran under `cpu.py run`)
    python3 bench/cpu.py snap "${SERVER:-0}" "$(postmaster)" >"$WORK/cpu-after.json"
    put "cpu.$1" "$(python3 bench/cpu.py diff "$WORK/cpu-before.json" "$WORK/cpu-after.json" "$2" "$WORK/loadgen.txt")"
    echo 0 >"$WORK/loadgen.txt"
    put "pgss.$1" "$(psql "$URL" -AtF ' ' -c "SELECT 'calls=' || calls || ' mean_ms=' || round(mean_exec_time::numeric, 3) || ' share_pct=' ||
        round((100 * total_exec_time / nullif(sum(total_exec_time) OVER (), 0))::numeric) || ' statement=' ||
        left(regexp_replace(query, '\s+', ' ', 'g'), 48)
        FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat_statements%' ORDER BY total_exec_time DESC LIMIT 1")"
}


step "scale data: $WORKERS workers"
record demo "registry demo --workers $WORKERS --agencies $AGENCIES --reviews-per-worker $REVIEWS --flags $FLAGS"
measure_begin
python3 bench/cpu.py run "$WORK/loadgen.txt" -- "$BIN" demo --workers "$WORKERS" --agencies "$AGENCIES" --reviews-per-worker "$REVIEWS" \
    --flags "$FLAGS" | tee "$WORK/demo.txt"
measure_end demo "$WORKERS"
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
measure_begin
python3 bench/cpu.py run "$WORK/loadgen.txt" -- "$BIN" regrade --all 2>/dev/null | tee "$WORK/regrade.txt"
measure_end regrade "$WORKERS"
put regrade.line "$(tail -1 "$WORK/regrade.txt")"

step "flag import: $FLAG_ROWS rows, against psql \\copy"
record flags "REGISTRY_BIN=.build/release/registry bench/flag-import.sh $FLAG_ROWS"
REGISTRY_BIN=$BIN FLAGS_FILE=$WORK/flags-$FLAG_ROWS.csv bench/flag-import.sh "$FLAG_ROWS" | tee "$WORK/flags.txt"
put flags.copy "$(grep '^psql' "$WORK/flags.txt")"
put flags.import "$(grep 'first run' "$WORK/flags.txt")"
put flags.rerun "$(grep 're-run' "$WORK/flags.txt")"
rm -f "$WORK/flags-$FLAG_ROWS.csv"

step "steady state: each scheduled job run once to completion (untimed)"
# Generated data and imported flags carry dates in the past, so the first runs of flag-expiry and
# grade-refresh catch up on hundreds of thousands of rows, as a registry does once when it starts
# serving. Run here, before the server starts, so that the measurements below do not share the
# cores with that catch-up (in one full-scale run they did: the flag-expiry job was PostgreSQL's
# busiest statement while /health/live and sign-in were measured).
steady_state() {   # file for the jobs' output
    : >"$1"
    for job in flag-expiry transfer-deadlines case-deadlines credential-expiry grade-refresh housekeeping audit-checkpoint calendar-check; do
        "$BIN" jobs run "$job" 2>/dev/null | tee -a "$1"
    done
}
steady_state "$WORK/jobs.txt"
put jobs.catch_up "$(paste -sd';' "$WORK/jobs.txt" | sed 's/;/; /g')"

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
# The benchmark's own copy of the policies: the public lookup's limit is raised for its load generator
# on loopback by an allowance, as policy lets an operator do for a partner platform (Policies/reports.yaml).
mkdir -p "$WORK/root"
for d in Migrations Web; do ln -s "$ROOT/$d" "$WORK/root/$d"; done
cp -r "$ROOT/Policies" "$WORK/root/Policies"
sed -i 's|^public_lookup_allowances: \[\]$|public_lookup_allowances: [{network: 127.0.0.1, per_minute: 100000000, reason: "make bench: its own load generator"}]|' \
    "$WORK/root/Policies/reports.yaml"
grep -q 'make bench: its own load generator' "$WORK/root/Policies/reports.yaml"
put config.lookup_allowance "127.0.0.1: 100,000,000 lookups a minute (the benchmark's copy of Policies/reports.yaml)"
# Texts go to the recording SMS gateway on loopback (a server outside demo mode must have a channel).
SMS_SECRET="bench-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
python3 Tests/support/sms_gateway.py --secret "$SMS_SECRET" --record "$WORK/sms.jsonl" --ready-file "$WORK/sms.port" >/dev/null 2>&1 &
GATEWAY=$!
for _ in $(seq 100); do [ -s "$WORK/sms.port" ] && break; sleep 0.1; done
serve() {   # starts the server (optionally under a wrapper such as valgrind) and waits until it is ready
    REGISTRY_ROOT=$WORK/root REGISTRY_SMS_GATEWAY_URL="http://127.0.0.1:$(cat "$WORK/sms.port")/v1/messages" \
        REGISTRY_SMS_GATEWAY_SECRET="$SMS_SECRET" "$@" "$BIN" serve >>"$WORK/serve.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 600); do curl -sf "$BASE/health/ready" >/dev/null && break; sleep 0.5; done
    curl -sf "$BASE/health/ready" >/dev/null
}
serve
sleep 5
rss() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$SERVER/status"; }
# Texts queued before the server started (by the catch-up above) go out before anything is measured
# (at most 10 minutes): the outbox's dispatcher would otherwise share the cores with the measurements.
due() { psql "$URL" -Atc "SELECT count(*) FROM notifications WHERE status IN ('pending', 'sending') AND next_attempt_at <= now()"; }
put outbox.due_at_start "$(due)"
for _ in $(seq 600); do [ "$(due)" = 0 ] && break; sleep 1; done
put outbox.due_when_measuring "$(due)"
put rss.idle_kib "$(rss VmRSS)"

step "sessions and consents"
python3 bench/sessions.py "$BASE" "$REGISTRY_DEMO_PASSWORD" "$URL" "$WORK" 10000 | tee "$WORK/sessions.txt"
while IFS='=' read -r k v; do put "sessions.$k" "$v"; done <"$WORK/sessions.txt"

# The baselines' inputs, the same as the HTTP load's: (role, user, worker) pairs for the report, and
# for the lookup 10,000 random well-formed ID numbers (wrk) and as many 32-byte keys (pgbench: the
# blind index needs the registry's key, so pgbench looks up keys of the same size that, like almost
# all of the ID numbers, match no worker).
python3 bench/make-ids.py 10000 "$WORK/ids.txt"
psql "$URL" -q <<SQL
CREATE TABLE bench_pairs_admin (n int PRIMARY KEY, role text, user_id uuid, worker_id uuid);
CREATE TABLE bench_pairs_employer (n int PRIMARY KEY, role text, user_id uuid, worker_id uuid);
\copy bench_pairs_admin FROM '$WORK/admin-pairs.tsv'
\copy bench_pairs_employer FROM '$WORK/employer-pairs.tsv'
CREATE TABLE bench_lookup_keys AS SELECT n, sha256(('bench-' || n)::bytea) AS blind FROM generate_series(1, 10000) n;
ALTER TABLE bench_lookup_keys ADD PRIMARY KEY (n);
ANALYZE bench_pairs_admin, bench_pairs_employer, bench_lookup_keys;
SQL
"$BIN" db statement report | python3 bench/pgbench-script.py report bench_pairs_admin >"$WORK/report-admin.sql"
"$BIN" db statement report | python3 bench/pgbench-script.py report bench_pairs_employer >"$WORK/report-employer.sql"
"$BIN" db statement ban-lookup | python3 bench/pgbench-script.py ban-lookup bench_lookup_keys >"$WORK/lookup.sql"
RECENT=$(sed -n 's/^report_recent_reviews: *\([0-9]*\).*/\1/p' "$WORK/root/Policies/reports.yaml")
TODAY=$(TZ=Asia/Shanghai date +%F)

# Samples the server's resident memory while a load runs; the peak goes to rss.load_kib.
sample_rss() { while kill -0 "$SERVER" 2>/dev/null; do rss VmRSS; sleep 0.5; done >>"$WORK/rss-load.txt"; }

wrk_run() {   # name, script, connections, threads, url, script arguments...
    local name=$1 script=$2 conns=$3 threads=$4 url=$5; shift 5
    local extra=()
    [ $# -gt 0 ] && extra=(-- "$@")
    local shown="${extra[*]:-}"
    record "$name" "wrk -t$threads -c$conns -d${DURATION}s --timeout 10s -s bench/$script $url ${shown//$REGISTRY_DEMO_PASSWORD/<demo password>}"
    measure_begin
    python3 bench/cpu.py run "$WORK/loadgen.txt" -- wrk -t"$threads" -c"$conns" -d"${DURATION}s" --timeout 10s -s "bench/$script" "$url" \
        "${extra[@]}" | tee "$WORK/$name.txt"
    local result
    result=$(grep '^RESULT' "$WORK/$name.txt" | sed 's/^RESULT //')
    put "$name" "$result"
    measure_end "$name" "$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<<"$result")"
}

pgbench_run() {   # name, script, shown script, -D variables...
    local name=$1 script=$2 shown=$3; shift 3
    local vars=()
    for v in "$@"; do vars+=(-D "$v"); done
    record "$name" "pgbench -n -M prepared -c $CONNECTIONS -j $CORES -T $DURATION -f $shown $*"
    rm -f "$WORK"/pgb.*
    measure_begin
    (cd "$WORK" && python3 "$ROOT/bench/cpu.py" run "$WORK/loadgen.txt" -- pgbench -n -M prepared -c "$CONNECTIONS" -j "$CORES" -T "$DURATION" -l --log-prefix=pgb -f "$script" "${vars[@]}" "$URL" 2>"$WORK/$name.err") \
        >"$WORK/$name.txt" || { cat "$WORK/$name.err" >&2; return 1; }
    local tps tx
    tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$WORK/$name.txt" | tail -1)
    tx=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$WORK/$name.txt")
    put "$name.tps" "$tps"
    put "$name.latency" "$(cat "$WORK"/pgb.* | awk '{print $3}' | sort -n | awk '{v[NR]=$1} END {printf "p50_ms=%.3f p99_ms=%.3f", v[int(NR*0.5)]/1000, v[int(NR*0.99)]/1000}')"
    measure_end "$name" "$tx"
    rm -f "$WORK"/pgb.*
}

step "report: the report's own statement in pgbench, then the endpoint, administrator then employers"
ADMIN_PAIRS=$(wc -l <"$WORK/admin-pairs.tsv")
EMPLOYER_PAIRS=$(wc -l <"$WORK/employer-pairs.tsv")
pgbench_run pgbench_report_admin "$WORK/report-admin.sql" "<registry db statement report | bench/pgbench-script.py report bench_pairs_admin>" \
    "pairs=$ADMIN_PAIRS" "today=$TODAY" "recent=$RECENT" "items=50"
sample_rss & SAMPLER=$!
wrk_run report_admin report.lua "$CONNECTIONS" "$CORES" "$BASE" "$WORK/admin-pairs.txt" "?purpose=audit"
kill "$SAMPLER" 2>/dev/null || true
pgbench_run pgbench_report_employer "$WORK/report-employer.sql" "<registry db statement report | bench/pgbench-script.py report bench_pairs_employer>" \
    "pairs=$EMPLOYER_PAIRS" "today=$TODAY" "recent=$RECENT" "items=50"
sample_rss & SAMPLER=$!
wrk_run report_employer report.lua "$CONNECTIONS" "$CORES" "$BASE" "$WORK/employer-pairs.txt"
kill "$SAMPLER" 2>/dev/null || true
put rss.load_kib "$(sort -n "$WORK/rss-load.txt" | tail -1)"

step "public ban lookup: its own statement in pgbench, then the endpoint"
pgbench_run pgbench_lookup "$WORK/lookup.sql" "<registry db statement ban-lookup | bench/pgbench-script.py ban-lookup bench_lookup_keys>" \
    "keys=10000" "per_minute=100000000"
wrk_run lookup lookup.lua "$CONNECTIONS" "$CORES" "$BASE" "$WORK/ids.txt"

step "HTTP stack alone: /health/live"
wrk_run health health.lua "$CONNECTIONS" "$CORES" "$BASE/health/live"

step "sign-in: $CORES concurrent logins"
wrk_run login login.lua "$CORES" "$CORES" "$BASE" "employer1@scale.demo.local" "$REGISTRY_DEMO_PASSWORD"
put rss.peak_kib "$(rss VmHWM)"
put rss.after_kib "$(rss VmRSS)"

step "service CPU per report over a fixed 2,000 reports from one client"
# Beside the rates, which wander with whatever else shares the cores, the CPU the service's process
# spends on a fixed number of requests, one at a time, varies far less from run to run.
head -2000 "$WORK/admin-pairs.txt" >"$WORK/fixed-pairs.txt"
python3 bench/cpu.py snap "$SERVER" "$(postmaster)" >"$WORK/cpu-before.json"
python3 bench/fixed-reports.py "$BASE" "$WORK/fixed-pairs.txt"
python3 bench/cpu.py snap "$SERVER" "$(postmaster)" >"$WORK/cpu-after.json"
put cpu.fixed_reports "$(python3 bench/cpu.py diff "$WORK/cpu-before.json" "$WORK/cpu-after.json" "$(wc -l <"$WORK/fixed-pairs.txt")")"

if [ "$SOAK" -gt 0 ]; then
    step "memory soak: $SOAK s of mixed traffic, resident memory every 10 s"
    record soak "python3 bench/soak.py BASE <demo password> URL WORK $SOAK 6  (reports 40 %, lookups 30 %, registrations 12 %, placements with reviews 12 %, sign-ins 6 %)"
    (t=0; while kill -0 "$SERVER" 2>/dev/null; do printf '%d\t%s\n' "$t" "$(rss VmRSS)"; sleep 10; t=$((t + 10)); done) >"$WORK/soak-rss.tsv" &
    SOAK_SAMPLER=$!
    python3 bench/soak.py "$BASE" "$REGISTRY_DEMO_PASSWORD" "$URL" "$WORK" "$SOAK" 6 | tee "$WORK/soak.txt"
    kill "$SOAK_SAMPLER" 2>/dev/null || true
    put soak.rss "$(awk -F'\t' '{printf "%s%s:%s", (NR > 1 ? " " : ""), $1, $2}' "$WORK/soak-rss.tsv")"
    put soak.counts "$(tr '\n' ' ' <"$WORK/soak.txt")"
fi
kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""

# callgrind counts instructions exactly; Debian 12's valgrind (3.19) crashes on any program that starts
# Swift's concurrency runtime, and this VM exposes no hardware counter to `perf stat -e instructions`,
# so the step runs only where valgrind can run the service (probed first).
if command -v valgrind >/dev/null && ! valgrind --tool=none "$BIN" db statement report >/dev/null 2>&1; then
    put callgrind.unavailable "valgrind $(valgrind --version | sed 's/valgrind-//') cannot run this binary (it fails inside valgrind on Swift's concurrency runtime)"
elif command -v valgrind >/dev/null; then
    step "instructions per report: the server under callgrind, 200 reports after 20 to warm up"
    record callgrind "valgrind --tool=callgrind registry serve; 20 reports, zero the counters, 200 reports (one client), dump"
    # Debian 12's valgrind cannot read the DWARF 5 of Swift's debug information: the counted binary is
    # the same one without it (the instructions are the same; only the names in callgrind's tables go).
    objcopy --strip-debug "$BIN" "$WORK/registry-nodebug"
    BIN=$WORK/registry-nodebug serve valgrind --tool=callgrind --callgrind-out-file="$WORK/callgrind.out.%p"
    head -220 "$WORK/admin-pairs.txt" >"$WORK/callgrind-pairs.txt"
    python3 - "$BASE" "$WORK/callgrind-pairs.txt" "$SERVER" <<'PY'
import http.client, subprocess, sys, urllib.parse
base, pairs, pid = sys.argv[1], sys.argv[2], sys.argv[3]
u = urllib.parse.urlparse(base)
conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
lines = [l.split() for l in open(pairs) if l.strip()]
def get(token, worker):
    conn.request("GET", f"/api/v1/workers/{worker}/report?purpose=audit", headers={"Authorization": "Bearer " + token})
    r = conn.getresponse(); r.read()
    assert r.status == 200, r.status
for token, worker in lines[:20]:
    get(token, worker)
subprocess.run(["callgrind_control", "--zero", pid], check=True, capture_output=True)
for token, worker in lines[20:220]:
    get(token, worker)
subprocess.run(["callgrind_control", "--dump", pid], check=True, capture_output=True)
PY
    # The dump after zeroing (callgrind.out.PID.1) holds exactly the 200 reports.
    ir=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p;s/^totals: *\([0-9]*\).*/\1/p' "$WORK"/callgrind.out.*.1 | head -1)
    put callgrind.report "instructions_per_request=$((ir / 200)) requests=200"
    kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""
fi

SMALL=${BENCH_SMALL_WORKERS:-10000}
if [ "$SMALL" -gt 0 ] && [ "$WORKERS" -gt "$SMALL" ]; then
    step "the same report on a registry of $SMALL workers: does a report cost the same at both sizes?"
    (   # A second embedded cluster beside the first, the same generator, server and measurements.
        export REGISTRY_DATA_DIR=$WORK/small PORT=$((PORT + 1))
        BASE=http://127.0.0.1:$PORT
        URL=$("$BIN" db url 2>/dev/null)
        PGPASSWORD=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["owner"])' "$REGISTRY_DATA_DIR/postgres/credentials.json")
        export PGPASSWORD
        PGDATA_DIR=$REGISTRY_DATA_DIR/postgres/pg
        echo "shared_preload_libraries = 'pg_stat_statements'" | as_owner tee -a "$PGDATA_DIR/postgresql.conf" >/dev/null
        as_owner "$PGCTL" -D "$PGDATA_DIR" -w -t 60 -m fast restart -l "$REGISTRY_DATA_DIR/postgres/log/postgres.log" >/dev/null
        "$BIN" migrate >/dev/null
        psql "$URL" -qc 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements'
        "$BIN" demo --workers "$SMALL" --agencies 20 --reviews-per-worker "$REVIEWS" --flags "$SMALL" >"$WORK/small-demo.txt"
        psql "$URL" -qc 'VACUUM (ANALYZE)'
        steady_state "$WORK/small-jobs.txt" >/dev/null   # as for the full registry: no catch-up during the measurements
        mkdir -p "$WORK/small-work"
        serve
        for _ in $(seq 600); do [ "$(due)" = 0 ] && break; sleep 1; done
        python3 bench/sessions.py "$BASE" "$REGISTRY_DEMO_PASSWORD" "$URL" "$WORK/small-work" 10000 >/dev/null
        psql "$URL" -q <<SQL
CREATE TABLE bench_pairs_admin (n int PRIMARY KEY, role text, user_id uuid, worker_id uuid);
\copy bench_pairs_admin FROM '$WORK/small-work/admin-pairs.tsv'
ANALYZE bench_pairs_admin;
SQL
        pgbench_run pgbench_report_admin_small "$WORK/report-admin.sql" "<the same script>" \
            "pairs=$(wc -l <"$WORK/small-work/admin-pairs.tsv")" "today=$TODAY" "recent=$RECENT" "items=50"
        wrk_run report_admin_small report.lua "$CONNECTIONS" "$CORES" "$BASE" "$WORK/small-work/admin-pairs.txt" "?purpose=audit"
        head -2000 "$WORK/small-work/admin-pairs.txt" >"$WORK/fixed-pairs.txt"
        python3 bench/cpu.py snap "$SERVER" "$(postmaster)" >"$WORK/cpu-before.json"
        python3 bench/fixed-reports.py "$BASE" "$WORK/fixed-pairs.txt"
        python3 bench/cpu.py snap "$SERVER" "$(postmaster)" >"$WORK/cpu-after.json"
        put cpu.fixed_reports_small "$(python3 bench/cpu.py diff "$WORK/cpu-before.json" "$WORK/cpu-after.json" "$(wc -l <"$WORK/fixed-pairs.txt")")"
        kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
        as_owner "$PGCTL" -D "$PGDATA_DIR" -w -m fast stop >/dev/null
    )
    put config.small_workers "$SMALL"
fi

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
