#!/usr/bin/env python3
"""Mixed traffic for the memory soak: reports, public ban lookups, sign-ins, registrations and
reviews (an agency places a worker with a household, the household confirms and reviews), from
THREADS clients for SECONDS. bench/run.sh samples the server's memory meanwhile.

usage: soak.py BASE_URL PASSWORD PSQL_URL WORK_DIR SECONDS [THREADS]
Reads WORK_DIR/admin-pairs.txt (bench/sessions.py) and WORK_DIR/ids.txt (bench/make-ids.py).
Prints key=value lines: requests per kind and answers by status class.
"""
import collections
import datetime
import http.client
import json
import random
import subprocess
import sys
import threading
import time
import urllib.parse

WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
CHECK = "10X98765432"
MIX = [("report", 40), ("lookup", 30), ("register", 12), ("review", 12), ("login", 6)]


def main():
    base, password, psql_url, work, seconds = sys.argv[1:6]
    threads = int(sys.argv[6]) if len(sys.argv) > 6 else 6
    seconds = float(seconds)
    u = urllib.parse.urlparse(base)
    pairs = [line.split() for line in open(f"{work}/admin-pairs.txt") if line.strip()]
    ids = [line.strip() for line in open(f"{work}/ids.txt") if line.strip()]

    def sql(query):
        out = subprocess.run(["psql", psql_url, "-AtF", " ", "-c", query], capture_output=True, text=True, check=True).stdout
        return [line.split(" ") for line in out.splitlines() if line]

    staff = sql("SELECT u.email, u.agency_id FROM users u WHERE u.role = 'agency_staff' AND u.email LIKE 'staff%-1@scale.demo.local' "
                "ORDER BY u.email LIMIT 4")
    employers = [row[0] for row in sql("SELECT email FROM users WHERE role = 'employer' AND password_hash IS NOT NULL "
                                       "AND email LIKE 'employer%@scale.demo.local' ORDER BY email LIMIT 8")]
    placeable = {agency: [row[0] for row in sql(
        f"SELECT id FROM workers WHERE current_agency_id = '{agency}' AND status = 'active' ORDER BY random() LIMIT 2000")]
        for _, agency in staff}
    counts = collections.Counter()
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client():
        return http.client.HTTPConnection(u.hostname, u.port, timeout=30)

    def run(worker_no):
        rng = random.Random(worker_no * 7919 + int(time.time()))
        conn = client()

        def call(method, path, body=None, token=None):
            nonlocal conn
            headers = {"Content-Type": "application/json"}
            if token:
                headers["Authorization"] = "Bearer " + token
            try:
                conn.request(method, path, json.dumps(body) if body is not None else None, headers)
                r = conn.getresponse()
                data = r.read()
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = client()
                with lock:
                    counts["answer.error"] += 1
                return 0, {}
            with lock:
                counts[f"answer.{r.status // 100}xx"] += 1
            try:
                return r.status, json.loads(data) if data else {}
            except ValueError:
                return r.status, {}

        def login(**who):
            status, body = call("POST", "/api/v1/auth/login", dict(who, password=password))
            return body.get("token")

        my_staff = staff[worker_no % len(staff)]
        staff_token = login(email=my_staff[0])
        employer_email = employers[worker_no % len(employers)]
        employer_token = login(email=employer_email)
        kinds = [k for k, w in MIX for _ in range(w)]
        while time.monotonic() < stop:
            kind = rng.choice(kinds)
            with lock:
                counts["requests." + kind] += 1
            if kind == "report":
                token, worker = rng.choice(pairs)
                call("GET", f"/api/v1/workers/{worker}/report?purpose=audit", token=token)
            elif kind == "lookup":
                call("POST", "/api/v1/public/ban-status", {"id_number": rng.choice(ids)})
            elif kind == "login":
                login(email=employer_email)
            elif kind == "register":
                birth = datetime.date(1965, 1, 1) + datetime.timedelta(days=rng.randrange(35 * 365))
                body = "320102" + birth.strftime("%Y%m%d") + f"{rng.randrange(1000):03d}"
                number = body + CHECK[sum(int(c) * w for c, w in zip(body, WEIGHTS)) % 11]
                call("POST", "/api/v1/workers", {
                    "id_number": number, "full_name": "测试" + "秀英", "sex": "M" if int(body[16]) % 2 else "F",
                    "phone": "139" + f"{rng.randrange(10 ** 8):08d}", "home_region": "320102", "service_categories": ["nanny"]},
                    token=staff_token)
            elif kind == "review":
                workers = placeable.get(my_staff[1]) or []
                if not workers:
                    continue
                status, placed = call("POST", "/api/v1/engagements", {
                    "worker_id": rng.choice(workers), "employer_email": employer_email, "category": "nanny",
                    "starts_on": (datetime.date.today() - datetime.timedelta(days=rng.randrange(1, 300))).isoformat()},
                    token=staff_token)
                if status == 201 and placed.get("id"):
                    call("POST", f"/api/v1/engagements/{placed['id']}/confirm", token=employer_token)
                    call("POST", f"/api/v1/engagements/{placed['id']}/review", {
                        "skill_scores": {"quality": rng.randint(3, 5)},
                        "ethics_scores": {"honesty": 5, "respect": 5, "reliability": 4, "care": 5}, "comment": "准时，细心"},
                        token=employer_token)
        conn.close()

    pool = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    for key in sorted(counts):
        print(f"{key}={counts[key]}")


if __name__ == "__main__":
    main()
