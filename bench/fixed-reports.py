#!/usr/bin/env python3
"""Reads the report once for each (token, worker) line of FILE, one request at a time, as an
administrator stating the purpose `audit`; fails on any answer but 200.

usage: fixed-reports.py BASE_URL FILE
"""
import http.client
import sys
import urllib.parse

u = urllib.parse.urlparse(sys.argv[1])
conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
for line in open(sys.argv[2]):
    token, worker = line.split()
    conn.request("GET", f"/api/v1/workers/{worker}/report?purpose=audit", headers={"Authorization": "Bearer " + token})
    response = conn.getresponse()
    response.read()
    if response.status != 200:
        raise SystemExit(f"report of {worker}: {response.status}")
