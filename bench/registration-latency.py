#!/usr/bin/env python3
"""Time of one worker registration over the API, against GET /health/live as the baseline.

usage: registration-latency.py BASE_URL STAFF_EMAIL PASSWORD [N]
"""
import datetime
import http.client
import json
import random
import sys
import time
import urllib.parse

WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def id_number(rng):
    day = datetime.date(1970, 1, 1) + datetime.timedelta(days=rng.randrange(0, 365 * 35))
    body = f"440106{day:%Y%m%d}{rng.randrange(0, 500) * 2:03d}"
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, WEIGHTS)) % 11]


def main():
    base, email, password = sys.argv[1:4]
    n = int(sys.argv[4]) if len(sys.argv) > 4 else 100
    u = urllib.parse.urlparse(base)
    conn = http.client.HTTPConnection(u.hostname, u.port)
    conn.request("POST", "/api/v1/auth/login", json.dumps({"email": email, "password": password}), {"Content-Type": "application/json"})
    token = json.loads(conn.getresponse().read())["token"]
    headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
    rng = random.Random(time.time_ns())

    def timed(method, path, body=None):
        start = time.perf_counter()
        conn.request(method, path, body, headers)
        r = conn.getresponse()
        r.read()
        return (time.perf_counter() - start) * 1000, r.status

    base_ms = sorted(timed("GET", "/health/live")[0] for _ in range(n))
    reg = []
    while len(reg) < n:
        ms, status = timed("POST", "/api/v1/workers", json.dumps({
            "id_number": id_number(rng), "full_name": "测试", "sex": "F", "home_region": "440106", "service_categories": ["nanny"]}))
        if status == 201:
            reg.append(ms)
    reg.sort()
    p = lambda v, q: v[min(len(v) - 1, int(q * len(v)))]
    print("baseline GET /health/live  p50 %.2f ms  p99 %.2f ms" % (p(base_ms, .5), p(base_ms, .99)))
    print("POST /api/v1/workers       p50 %.2f ms  p99 %.2f ms  (n=%d)" % (p(reg, .5), p(reg, .99), n))
    print("ratio p50 %.1fx" % (p(reg, .5) / p(base_ms, .5)))


if __name__ == "__main__":
    main()
