#!/usr/bin/env python3
"""Report latency against a running registry, with a baseline measured in the same run.

usage: report-latency.py BASE_URL ADMIN_EMAIL ADMIN_PASSWORD PSQL_URL [N]

Signs in as an administrator, picks N random workers from the database, and times
GET /api/v1/workers/{id}/report (each view also writes an inquiry and an audit row) against
GET /health/live on the same server and connection as the baseline. Prints p50/p99 and ratios.
"""
import http.client
import json
import random
import statistics
import subprocess
import sys
import time
import urllib.parse


def main():
    base, email, password, psql_url = sys.argv[1:5]
    n = int(sys.argv[5]) if len(sys.argv) > 5 else 300
    u = urllib.parse.urlparse(base)
    conn = http.client.HTTPConnection(u.hostname, u.port)
    conn.request("POST", "/api/v1/auth/login", json.dumps({"email": email, "password": password}),
                 {"Content-Type": "application/json"})
    token = json.loads(conn.getresponse().read())["token"]
    ids = subprocess.run(["psql", psql_url, "-Atc", "SELECT id FROM workers ORDER BY random() LIMIT %d" % n],
                         capture_output=True, text=True, check=True).stdout.split()
    count = subprocess.run(["psql", psql_url, "-Atc", "SELECT count(*) FROM workers"],
                           capture_output=True, text=True, check=True).stdout.strip()
    headers = {"Authorization": "Bearer " + token}

    def timed(path):
        start = time.perf_counter()
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        response.read()
        assert response.status == 200, (path, response.status)
        return (time.perf_counter() - start) * 1000

    for _ in range(20):
        timed("/health/live")
    baseline = sorted(timed("/health/live") for _ in range(n))
    report = sorted(timed("/api/v1/workers/%s/report" % random.choice(ids)) for _ in range(n))

    def p(values, q):
        return values[min(len(values) - 1, int(q * len(values)))]

    print("workers in database: %s; requests: %d each, sequential, one keep-alive connection" % (count, n))
    print("baseline GET /health/live   p50 %.2f ms  p99 %.2f ms" % (p(baseline, 0.5), p(baseline, 0.99)))
    print("GET /api/v1/workers/{id}/report  p50 %.2f ms  p99 %.2f ms  mean %.2f ms" % (p(report, 0.5), p(report, 0.99), statistics.mean(report)))
    print("ratio report/baseline: p50 %.1fx  p99 %.1fx" % (p(report, 0.5) / p(baseline, 0.5), p(report, 0.99) / p(baseline, 0.99)))


if __name__ == "__main__":
    main()
