#!/usr/bin/env python3
"""Runs schemathesis against a running registry (see scripts/contract-tests.sh), once per caller.

Environment: BASE_URL, ADMIN_EMAIL, ADMIN_PASSWORD (set by scripts/with-server.sh), CONTRACT_ST
(the schemathesis executable), CONTRACT_EXAMPLES, CONTRACT_SEED. Extra arguments go to `st run`.
"""
import json
import os
import subprocess
import sys
import time
import urllib.request

CHECKS = ",".join([
    "not_a_server_error",            # no 5xx, whatever is sent
    "status_code_conformance",       # every status is one the document lists for the operation
    "content_type_conformance",      # and its content type
    "response_schema_conformance",   # bodies match their schemas (including the error shape)
    "negative_data_rejection",       # input the schema forbids is refused with a 4xx
])
# Signing out would end the session the rest of the run uses.
EXCLUDED = ["--exclude-path", "/api/v1/auth/logout"]


def login(base, email, password):
    request = urllib.request.Request(base + "/api/v1/auth/login", json.dumps({"email": email, "password": password}).encode(),
                                     {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["token"]


def main():
    base = os.environ["BASE_URL"]
    password = os.environ["ADMIN_PASSWORD"]
    callers = [("administrator", os.environ["ADMIN_EMAIL"]), ("agency", "anxin@demo.registry.local")]
    failed = []
    for name, email in callers:
        token = login(base, email, password)
        command = [os.environ["CONTRACT_ST"], "run", base + "/openapi.yaml", "--url", base,
                   "--checks", CHECKS, "--seed", os.environ.get("CONTRACT_SEED", "20261129"),
                   "--max-examples", os.environ.get("CONTRACT_EXAMPLES", "25"), "--phases", "examples,coverage,fuzzing",
                   "--generation-database", "none", "--workers", "1", "--request-timeout", "30", "--no-color",
                   "--output-truncate", "true", "-H", f"Authorization: Bearer {token}", *EXCLUDED, *sys.argv[1:]]
        print(f"contract tests as the {name}: {' '.join(c if not c.startswith('Authorization') else 'Authorization: Bearer …' for c in command[1:])}",
              flush=True)
        started = time.time()
        code = subprocess.call(command)
        print(f"contract tests as the {name}: exit {code} in {time.time() - started:.0f} s", flush=True)
        if code != 0:
            failed.append(name)
    if failed:
        print("contract tests FAILED for: " + ", ".join(failed))
        sys.exit(1)


if __name__ == "__main__":
    main()
