#!/usr/bin/env bash
# Flag import (registry import-flags) against psql \copy of the same file into a bare table,
# measured in one run. Usage: bench/flag-import.sh [ROWS] (default 1000000).
# Uses REGISTRY_DATA_DIR (default /tmp/registry-bench) and the debug build unless REGISTRY_BIN is set.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-1000000}
export REGISTRY_DATA_DIR=${REGISTRY_DATA_DIR:-/tmp/registry-bench}
BIN=${REGISTRY_BIN:-.build/debug/registry}
FILE=${FLAGS_FILE:-/tmp/registry-bench-flags-$ROWS.csv}
[ -f "$FILE" ] || python3 bench/make-flags.py "$ROWS" "$FILE"
"$BIN" migrate >/dev/null 2>&1
URL=$("$BIN" db url 2>/dev/null)
# The embedded cluster asks for the owner's password (SCRAM); psql reads it from PGPASSWORD.
PGPASSWORD=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["owner"])' "$REGISTRY_DATA_DIR/postgres/credentials.json")
export PGPASSWORD
SRC=bench-$(date +%s)
psql "$URL" -qAtc "INSERT INTO integration_sources (name, kind, display_name) VALUES ('$SRC', 'credit_bureau', 'Bench bureau')"
psql "$URL" -qAtc "DROP TABLE IF EXISTS bench_bare; CREATE TABLE bench_bare (id_number text, reference text, category text, severity text, status text, occurred_on text, expires_on text, narrative text)"
start=$(date +%s.%N)
psql "$URL" -qc "\\copy bench_bare FROM '$FILE' WITH (FORMAT csv, HEADER true)"
copy_s=$(echo "$(date +%s.%N) - $start" | bc)
psql "$URL" -qAtc "DROP TABLE bench_bare"
start=$(date +%s.%N)
"$BIN" import-flags --source "$SRC" "$FILE" 2>/dev/null | tail -1
import_s=$(echo "$(date +%s.%N) - $start" | bc)
start=$(date +%s.%N)
"$BIN" import-flags --source "$SRC" "$FILE" 2>/dev/null | tail -1
rerun_s=$(echo "$(date +%s.%N) - $start" | bc)
printf 'rows %d\npsql \\copy into a bare table: %.1f s (%.0f rows/s)\nregistry import-flags (first run): %.1f s (%.0f rows/s)\nregistry import-flags (re-run, no-op): %.1f s (%.0f rows/s)\nratio import/copy: %.1fx\n' \
  "$ROWS" "$copy_s" "$(echo "$ROWS / $copy_s" | bc -l)" "$import_s" "$(echo "$ROWS / $import_s" | bc -l)" "$rerun_s" "$(echo "$ROWS / $rerun_s" | bc -l)" "$(echo "$import_s / $copy_s" | bc -l)"
