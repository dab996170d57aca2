#!/usr/bin/env bash
# The scheduler's jobs on a large registry, measured in one run:
#   - each job's run time when nothing is due (its second run of the day), beside a full scan of
#     the flags table (what a job that is not driven by an index on its day would read daily);
#   - flag-expiry when 1 % of flags expire at once, beside PostgreSQL updating the same rows in
#     one set-based statement.
# Usage: bench/jobs.sh [WORKERS] (default 1000000; as many flags). Uses REGISTRY_DATA_DIR
# (default /tmp/registry-jobs-bench; generated when empty) and the debug build unless REGISTRY_BIN
# is set. Durations are the jobs' own (job_runs.last_duration_ms), not the command's start-up.
set -euo pipefail
cd "$(dirname "$0")/.."
WORKERS=${1:-1000000}
export REGISTRY_DATA_DIR=${REGISTRY_DATA_DIR:-/tmp/registry-jobs-bench}
export REGISTRY_DEMO_PASSWORD=${REGISTRY_DEMO_PASSWORD:-bench password 1}
BIN=${REGISTRY_BIN:-.build/debug/registry}
"$BIN" migrate >/dev/null 2>&1
URL=$("$BIN" db url 2>/dev/null)
PGPASSWORD=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["owner"])' "$REGISTRY_DATA_DIR/postgres/credentials.json")
export PGPASSWORD
q() { psql "$URL" -qAtc "$1"; }
ms() { q "SELECT round(last_duration_ms::numeric, 1) || ' ms, ' || last_rows || ' rows' FROM job_runs WHERE job = '$1'"; }
if [ "$(q 'SELECT count(*) FROM workers')" -lt "$WORKERS" ]; then
    echo "generating $WORKERS workers and as many flags (once per data folder)"
    "$BIN" demo --workers "$WORKERS" --flags "$WORKERS" 2>/dev/null | tail -1
    q 'VACUUM (ANALYZE)'
fi
echo "registry: $(q 'SELECT count(*) FROM workers') workers, $(q 'SELECT count(*) FROM flags') flags, $(q 'SELECT count(*) FROM grades') grades"

JOBS="flag-expiry transfer-deadlines case-deadlines credential-expiry grade-refresh housekeeping audit-checkpoint calendar-check"
echo "== first run of the day (catches up on whatever is due)"
for job in $JOBS; do "$BIN" jobs run "$job" >/dev/null 2>&1; printf '%-20s %s\n' "$job" "$(ms "$job")"; done
"$BIN" regrade >/dev/null 2>&1   # grade what the first runs queued
echo "== nothing due (second run)"
for job in $JOBS; do "$BIN" jobs run "$job" >/dev/null 2>&1; printf '%-20s %s\n' "$job" "$(ms "$job")"; done
scan=$(psql "$URL" -qAt -c '\timing on' -c 'SELECT count(*) FROM flags' | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p')
echo "baseline: a full scan of flags (SELECT count(*)): $scan ms"

echo "== 1 % of flags expire at once"
N=$(( $(q 'SELECT count(*) FROM flags WHERE worker_id IS NOT NULL') / 100 ))
q "CREATE TABLE IF NOT EXISTS bench_expiring AS SELECT id FROM flags WHERE worker_id IS NOT NULL AND expiry_applied_on IS NULL ORDER BY random() LIMIT $N"
base=$(psql "$URL" -qAt -c '\timing on' -c "UPDATE flags f SET expires_on = (now() AT TIME ZONE 'Asia/Shanghai')::date - 1, updated_at = now() FROM bench_expiring b WHERE f.id = b.id" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p')
q 'DROP TABLE bench_expiring'
"$BIN" jobs run flag-expiry >/dev/null 2>&1
echo "flag-expiry, $N flags: $(ms flag-expiry)"
echo "baseline: PostgreSQL setting expires_on on the same $N rows in one statement: $base ms"
start=$(date +%s.%N)
"$BIN" regrade >/dev/null 2>&1
echo "their workers regraded (registry regrade, the queue the job filled): $(echo "$(date +%s.%N) - $start" | bc) s"
