#!/usr/bin/env bash
# Flag import (registry import-flags) against PostgreSQL storing the same rows itself, in one run.
# Usage: bench/flag-import.sh [ROWS] (default 1000000).
#
# What is compared:
# - the import: `registry import-flags` of a CSV of ROWS new flags for a new credit-bureau source
#   (every line validated, its ID number blind-indexed, its content hashed, the flag stored and
#   matched to a worker's file, the effects of those on files, one transaction), then the same
#   file again (a no-op: nothing changes);
# - the baseline: `psql \copy` of the very rows the first import stored, written out in the flags
#   table's own shape (ID numbers already blind indexes, everything already computed), into
#   `bench_flags`, created as `CREATE TABLE bench_flags (LIKE flags INCLUDING ALL)` — the same
#   columns, defaults, checks and indexes — with the same two foreign keys as flags (to
#   integration_sources and workers), and filled first (untimed) with every other flag the
#   registry holds, so that its indexes are as large as the ones the import writes into. The same
#   copy without the foreign keys is printed too.
# Each measurement starts after a CHECKPOINT. Printed: rows/s of each, the first import's rows/s
# against the baseline's (the target is at least 0.70) and the re-run's time against the first
# import's (the target is at most 0.10), and the import's own steps.
#
# Lines about registered workers: `bench/make-flags.py` draws ID numbers at random, so next to no
# line is about a worker `registry demo` generated. With MATCH_WORKERS=N the script first registers
# N workers from a generated roster (`registry import-workers`, into the first approved agency, as
# `registry demo` creates) and makes 1 % of the file's lines about them.
#
# Uses REGISTRY_DATA_DIR (default /tmp/registry-bench) and the debug build unless REGISTRY_BIN is set.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-1000000}
export REGISTRY_DATA_DIR=${REGISTRY_DATA_DIR:-/tmp/registry-bench}
BIN=${REGISTRY_BIN:-.build/debug/registry}
MATCH_WORKERS=${MATCH_WORKERS:-0}
"$BIN" migrate >/dev/null 2>&1
URL=$("$BIN" db url 2>/dev/null)
# The embedded cluster asks for the owner's password (SCRAM); psql reads it from PGPASSWORD.
PGPASSWORD=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["owner"])' "$REGISTRY_DATA_DIR/postgres/credentials.json")
export PGPASSWORD PGOPTIONS="-c client_min_messages=warning"
sql() { psql "$URL" -qAtc "$1"; }
now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc; }

ROSTER=""
if [ "$MATCH_WORKERS" -gt 0 ]; then
    ROSTER=/tmp/registry-bench-roster-$MATCH_WORKERS.csv
    python3 bench/make-roster.py "$MATCH_WORKERS" "$ROSTER" 42
    AGENCY=$(sql "SELECT id FROM agencies WHERE status = 'approved' ORDER BY id LIMIT 1")
    [ -n "$AGENCY" ] || { echo "MATCH_WORKERS needs an approved agency: run registry demo first" >&2; exit 1; }
    "$BIN" import-workers --agency "$AGENCY" "$ROSTER" 2>/dev/null | tail -1
fi
FILE=${FLAGS_FILE:-/tmp/registry-bench-flags-$ROWS${ROSTER:+-matching-$MATCH_WORKERS}.csv}
[ -f "$FILE" ] || python3 bench/make-flags.py "$ROWS" "$FILE" 7 $ROSTER
SHAPE=$FILE.flags-shape.tsv

SRC=bench-$(date +%s)
sql "INSERT INTO integration_sources (name, kind, display_name) VALUES ('$SRC', 'credit_bureau', 'Bench bureau')"
SRC_ID=$(sql "SELECT id FROM integration_sources WHERE name = '$SRC'")

sql "CHECKPOINT"
start=$(now)
"$BIN" import-flags --source "$SRC" "$FILE" 2>/dev/null | grep -E '^(steps|[0-9]+ lines)' | sed 's/^/  import, 1st: /'
import_s=$(since "$start")
start=$(now)
"$BIN" import-flags --source "$SRC" "$FILE" 2>/dev/null | grep -E '^(steps|[0-9]+ lines)' | sed 's/^/  import, 2nd: /'
rerun_s=$(since "$start")

# The baseline: the rows the import stored, in the table's shape, copied into a table like flags.
stored=$(sql "SELECT count(*) FROM flags WHERE source_id = '$SRC_ID'")
on_files=$(sql "SELECT count(*) FROM flags WHERE source_id = '$SRC_ID' AND worker_id IS NOT NULL")
psql "$URL" -qc "\\copy (SELECT * FROM flags WHERE source_id = '$SRC_ID') TO '$SHAPE'"
copy_into() {
    sql "DROP TABLE IF EXISTS bench_flags; CREATE TABLE bench_flags (LIKE flags INCLUDING ALL)"
    [ "$1" = with-keys ] && sql "ALTER TABLE bench_flags ADD FOREIGN KEY (source_id) REFERENCES integration_sources (id),
                                                     ADD FOREIGN KEY (worker_id) REFERENCES workers (id)"
    # Holding what flags held before the import, so that its indexes are as large.
    sql "INSERT INTO bench_flags SELECT * FROM flags WHERE source_id <> '$SRC_ID'"
    sql "CHECKPOINT"
    local start
    start=$(now)
    psql "$URL" -qc "\\copy bench_flags FROM '$SHAPE'"
    since "$start"
}
copy_s=$(copy_into with-keys)
bare_s=$(copy_into without-keys)
sql "DROP TABLE bench_flags"
rm -f "$SHAPE"

rate() { echo "$ROWS / $1" | bc -l; }
printf 'rows %d (%d stored, %d of them on workers'"'"' files)\n' "$ROWS" "$stored" "$on_files"
printf 'psql \\copy of the stored rows into a table like flags (columns, checks, indexes, foreign keys): %.1f s (%.0f rows/s)\n' \
    "$copy_s" "$(rate "$copy_s")"
printf '  the same copy without the foreign keys: %.1f s (%.0f rows/s)\n' "$bare_s" "$(rate "$bare_s")"
printf 'registry import-flags (first run): %.1f s (%.0f rows/s), %.2f of psql'"'"'s rows/s (%.2f without foreign keys)\n' \
    "$import_s" "$(rate "$import_s")" "$(echo "$copy_s / $import_s" | bc -l)" "$(echo "$bare_s / $import_s" | bc -l)"
printf 'registry import-flags (re-run, no-op): %.1f s (%.0f rows/s), %.3f of the first import'"'"'s time\n' \
    "$rerun_s" "$(rate "$rerun_s")" "$(echo "$rerun_s / $import_s" | bc -l)"
