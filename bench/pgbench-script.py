#!/usr/bin/env python3
"""Turns one of the service's prepared statements (`registry db statement NAME`, on stdin) into a
pgbench script that runs exactly that SQL, with pgbench variables where the service binds parameters.
Each transaction first picks its inputs from a table of the same inputs the HTTP load uses (one
primary-key select, as the service's request starts with its session lookup).

usage: registry db statement report | pgbench-script.py report TABLE > report.sql
       registry db statement ban-lookup | pgbench-script.py ban-lookup TABLE > lookup.sql

report:      TABLE (n, role, user_id, worker_id); variables pairs, today, recent, items (pgbench -D)
ban-lookup:  TABLE (n, blind); variables keys, per_minute (pgbench -D)
"""
import re
import sys

PARAMETERS = {
    # $1 worker, $2 role, $3 user, $4 agency, $5 administrator's purpose, $6 today, $7 newest reviews,
    # $8 newest engagements, $9 actor kind, $10 actor role, $11 request id
    "report": {1: ":worker_id", 2: ":role", 3: ":user_id", 4: "NULL", 5: "'audit'", 6: ":today", 7: ":recent", 8: ":items",
               9: "'user'", 10: ":role", 11: "'pgbench'"},
    # $1 throttle key, $2 per minute, $3 blind index
    "ban-lookup": {1: "'pgbench-lookup'", 2: ":per_minute", 3: ":blind"},
}
PICK = {
    "report": "\\set n random(1, :pairs)\nSELECT role, user_id, worker_id FROM {table} WHERE n = :n \\gset\n",
    "ban-lookup": "\\set n random(1, :keys)\nSELECT blind FROM {table} WHERE n = :n \\gset\n",
}


def main():
    name, table = sys.argv[1], sys.argv[2]
    if not re.fullmatch(r"[a-z_]+", table):
        raise SystemExit("TABLE is a lower-case name")
    sql = sys.stdin.read().strip().rstrip(";")
    values = PARAMETERS[name]
    used = set(int(k) for k in re.findall(r"\$(\d+)", sql))
    if used != set(values):
        raise SystemExit(f"the statement binds {sorted(used)}, the script knows {sorted(values)}: update bench/pgbench-script.py")
    sql = re.sub(r"\$(\d+)", lambda m: values[int(m.group(1))], sql)
    sys.stdout.write(PICK[name].format(table=table) + sql + ";\n")


if __name__ == "__main__":
    main()
