#!/usr/bin/env python3
"""Signs in over the API and writes the (token, worker id) pairs the report benchmark picks from.

usage: sessions.py BASE_URL PASSWORD PSQL_URL OUT_DIR [ADMIN_SAMPLE]

  OUT_DIR/admin-pairs.txt     the demo administrator's token with ADMIN_SAMPLE random workers
  OUT_DIR/employer-pairs.txt  employers who may read a report: those with a confirmed engagement
                              with the worker, and those who redeemed a consent code the worker
                              issued in her own account (POST /api/v1/me/consents, then
                              POST /api/v1/consents/redeem) — the two consent paths of the report
  OUT_DIR/admin-pairs.tsv, OUT_DIR/employer-pairs.tsv
                              the same pairs, line for line, as "n<TAB>role<TAB>user id<TAB>worker id":
                              what pgbench reads to run the report's own statement for the same readers
Prints counts as key=value lines. Tokens stay in OUT_DIR (a temporary folder); no ID number is used.
"""
import http.client
import json
import subprocess
import sys
import urllib.parse


def main():
    base, password, psql_url, out = sys.argv[1:5]
    sample = int(sys.argv[5]) if len(sys.argv) > 5 else 10000
    u = urllib.parse.urlparse(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)

    def call(method, path, body=None, token=None):
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = "Bearer " + token
        conn.request(method, path, json.dumps(body) if body is not None else None, headers)
        response = conn.getresponse()
        data = response.read()
        if response.status >= 300:
            raise SystemExit(f"{method} {path}: {response.status} {data[:300]!r}")
        return json.loads(data) if data else {}

    def login(**identifier):
        return call("POST", "/api/v1/auth/login", dict(identifier, password=password))["token"]

    def sql(query):
        result = subprocess.run(["psql", psql_url, "-AtF", " ", "-c", query], capture_output=True, text=True, check=True)
        return [line.split(" ") for line in result.stdout.splitlines() if line]

    admin = login(email="admin@demo.registry.local")
    admin_id = sql("SELECT id FROM users WHERE email = 'admin@demo.registry.local'")[0][0]
    workers = [row[0] for row in sql(f"SELECT id FROM workers ORDER BY random() LIMIT {int(sample)}")]
    with open(f"{out}/admin-pairs.txt", "w") as f, open(f"{out}/admin-pairs.tsv", "w") as t:
        for i, w in enumerate(workers, 1):
            f.write(f"{admin} {w}\n")
            t.write(f"{i}\tadmin\t{admin_id}\t{w}\n")

    employers = {}
    ids = {}
    for email, user_id in sql("SELECT email, id FROM users WHERE role = 'employer' AND password_hash IS NOT NULL ORDER BY email"):
        employers[email] = login(email=email)
        ids[employers[email]] = user_id
    pairs = []
    for email, worker in sql("""
            SELECT u.email, e.worker_id FROM engagements e JOIN users u ON u.id = e.employer_id
            WHERE e.status = 'confirmed' AND u.password_hash IS NOT NULL AND u.role = 'employer'"""):
        pairs.append((employers[email], worker))
    engaged = len(pairs)
    names = sorted(employers)
    for i, (phone, worker) in enumerate(sql(
            "SELECT phone, worker_id FROM users WHERE role = 'worker' AND password_hash IS NOT NULL ORDER BY phone")):
        code = call("POST", "/api/v1/me/consents", {}, login(phone=phone))["code"]
        employer = employers[names[i % len(names)]]
        call("POST", "/api/v1/consents/redeem", {"code": code}, employer)
        pairs.append((employer, worker))
    with open(f"{out}/employer-pairs.txt", "w") as f, open(f"{out}/employer-pairs.tsv", "w") as t:
        for i, (token, worker) in enumerate(pairs, 1):
            f.write(f"{token} {worker}\n")
            t.write(f"{i}\temployer\t{ids[token]}\t{worker}\n")
    print(f"admin_pairs={len(workers)}")
    print(f"employer_engagement_pairs={engaged}")
    print(f"employer_consent_pairs={len(pairs) - engaged}")
    print(f"employers_signed_in={len(employers)}")


if __name__ == "__main__":
    main()
