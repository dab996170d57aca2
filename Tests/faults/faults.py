#!/usr/bin/env python3
"""Fault tests against the real `registry` binary and its embedded PostgreSQL.

usage: faults.py REGISTRY_BINARY [-k NAME]

Each fault is a function below; they run in order against one data folder:

  kill9_during_writes   kill -9 of the server while 8 clients register workers: every
                        registration that got a 2xx is there after a restart, and the audit
                        chain verifies.
  replayed_batches      the same flag batch sent 4 times at once, again later, and once more
                        around a kill -9: exactly one flag per reference, one audit event each.
  postgres_restart      PostgreSQL stopped under load: the API answers 503 (never 500, never
                        hangs) while it is down and recovers by itself when it is back.
  slow_clients          stalled and cut connections: other requests are still served at once,
                        and the server closes the stalled ones after REGISTRY_IDLE_TIMEOUT.
  extreme_numbers       every numeric query, header and JSON body field of /openapi.yaml (and
                        two page parameters, the flag feed's X-Registry-Timestamp, Accept-Language
                        quality values and Content-Length) sent extreme numbers by every kind of
                        caller: no 5xx but 503, and the process never dies (a Swift arithmetic
                        overflow traps and kills it).
  postgres_crash        PostgreSQL crashed (`pg_ctl -m immediate`: no flush, no checkpoint) together
                        with kill -9 of the registry while 8 clients register workers: after the
                        restart (crash recovery) every acknowledged registration is there with
                        exactly the content sent. Then the same with synchronous_commit off, to
                        show the check can fail: the acknowledged writes lost are counted and printed.
  import_flags_exit     `registry import-flags` with rejected lines (a wrong column count): the good
                        lines are imported, every rejected record lands in FILE.rejects.csv, and
                        the command exits 2 so that a scheduled job notices; a clean file exits 0.
  writes_while_postgres_down
                        PostgreSQL stopped (`pg_ctl -m fast`): once the monitor has noticed, a
                        registration is refused at once with 503 database_unavailable and leaves no
                        worker and no audit row; one sent at the moment of the stop is answered 201 or
                        503 no later than the outage, and stored exactly when acknowledged; after
                        PostgreSQL is back the refused registration, sent again, is stored as sent.
  cli_report_verify     `registry report verify FILE [--public-key KEY]` on a signed report saved from
                        the API: exit 0 and "valid" as fetched (and with the API's public key); exit 1
                        and INVALID with one byte of the signed report changed (six places), one
                        character of the signature changed, or another registry's key.
  cli_audit_checkpoint  `registry audit checkpoint` twice around more writes: each prints the head of
                        the chain as recomputed here from the rows, appends it to
                        audit-checkpoints.jsonl and audit_checkpoints, the second extends the first;
                        `registry audit verify` names the checkpoint it checked against; a row changed
                        by the owner is named (exit 1); the same change with every hash after it
                        recomputed passes without checkpoints and fails against the data folder's
                        checkpoints and against a copy kept outside (--checkpoints).
  keys_file             the keys file beside the data folder is 0600 in a 0700 folder, also when a
                        start without --demo creates it under umask 000; a keys file with one or two
                        of the three keys, one or two of REGISTRY_{SEALING,BLIND_INDEX,SIGNING}_KEY, or
                        REGISTRY_KEYS_FILE inside the data folder: exit 1 with a message saying what
                        is wrong, nothing listening, the keys file untouched.
  cli_import_workers    `registry import-workers --agency ID FILE.csv`: a clean roster is registered
                        (each worker read back through the API field by field, one audit row each); a
                        file with rows that fail (wrong check character, unknown category, sex not
                        matching the ID, an ID repeated) reports each with its line and reason (the
                        repeat against its first line) and registers the valid rows around them; a
                        re-run creates nothing twice; --rejects OUT (from `--help`) writes the rejected
                        records.
  sms_gateway_down      the recording SMS gateway's process killed for a minute while the agency starts
                        workers' accounts and asks for consent codes (18 texts), then started again on
                        the same port with the same secret and record: the texts wait in the outbox (none
                        dead), then each is received exactly once, to its phone (request ids against the
                        record's lines), and GET /api/v1/admin/messages shows nothing pending or sending
                        and no new dead letter. Runs on a copy of the policies with a 2–8 s backoff.
  kill9_mid_batch       120 texts queued to a gateway slowed to 1 s a text, kill -9 of the registry while
                        its dispatcher is mid-batch, restart on the same data: every text received once;
                        those the dead node had leased went again only after their lease (10 s in a copy
                        of the policies), on a second attempt; the ones the gateway had already accepted
                        came back with the same request id and were dropped as repeats (409).
                        Both end by looking for every code texted, and every text, in the server log.

Only the standard library; prints one line per check and exits 1 on the first failure.
"""
import base64
import contextlib
import hashlib
import http.client
import csv
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid

PASSWORD = "faults-" + "".join(random.choice("abcdefghjkmnpqrstuvwxyz23456789") for _ in range(12))
IDLE_TIMEOUT = 3
RUN_AS_POSTGRES = os.geteuid() == 0


def check(condition, what):
    if not condition:
        print(f"FAIL  {what}", flush=True)
        raise SystemExit(1)
    print(f"ok    {what}", flush=True)


# ---------------------------------------------------------------- identifiers

WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
_used = set()


def id_number():
    """A valid resident ID number (GB 11643 check character), unique within the run."""
    while True:
        body = "320102" + f"19{random.randint(60, 99)}{random.randint(1, 12):02d}{random.randint(1, 28):02d}" + \
               f"{random.randint(0, 499) * 2:03d}"
        if body not in _used:
            _used.add(body)
            return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, WEIGHTS)) % 11]


# ---------------------------------------------------------------- the server

SMS_SECRET = "faults-sms-gateway-secret"


class Server:
    def __init__(self, binary, data):
        self.binary, self.data = binary, data
        self.port = free_port()
        self.process = None
        self.log = open(os.path.join(data, "faults-server.log"), "ab")
        self.sms_gateway = None  # the recording SMS gateway's address, set by main()
        self.root = None  # REGISTRY_ROOT for the next start, when not the environment's (a copy with other policies)

    def env(self):
        env = dict(os.environ)
        env.update({"REGISTRY_DATA_DIR": self.data, "PORT": str(self.port), "REGISTRY_DEMO_PASSWORD": PASSWORD,
                    "REGISTRY_IDLE_TIMEOUT": str(IDLE_TIMEOUT), "REGISTRY_LOG_LEVEL": "info"})
        if self.sms_gateway:
            env.update({"REGISTRY_SMS_GATEWAY_URL": self.sms_gateway + "/v1/messages", "REGISTRY_SMS_GATEWAY_SECRET": SMS_SECRET})
        if self.root:
            env["REGISTRY_ROOT"] = self.root
        env.pop("DATABASE_URL", None)
        return env

    def start(self, demo=False):
        args = [self.binary, "serve"] + (["--demo"] if demo else [])
        self.process = subprocess.Popen(args, env=self.env(), stdout=self.log, stderr=self.log, cwd=ROOT)
        deadline = time.time() + 90
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the registry exited with {self.process.returncode}; see {self.log.name}")
            try:
                if request(self.port, "GET", "/health/live", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise SystemExit("the registry did not start in 90 s")

    def kill9(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def cli(self, *args):
        return subprocess.run([self.binary, *args], env=self.env(), capture_output=True, text=True, cwd=ROOT, timeout=120)

    def pg_ctl(self, *args):
        binary = postgres_bin() + "/pg_ctl"
        command = [binary, "-D", os.path.join(self.data, "postgres", "pg"), *args]
        if RUN_AS_POSTGRES:
            command = ["runuser", "-u", "postgres", "--"] + command
        return subprocess.run(command, capture_output=True, text=True, timeout=120)

    def psql(self, sql, *params):
        url = self.cli("db", "url").stdout.strip().splitlines()[-1]
        variables = []
        for i, p in enumerate(params):
            variables += ["-v", f"p{i + 1}={p}"]
        # The embedded cluster asks for the owner's password (SCRAM), kept in its credentials file.
        with open(os.path.join(self.data, "postgres", "credentials.json")) as f:
            password = json.load(f)["owner"]
        env = dict(os.environ, PGPASSWORD=password)
        result = subprocess.run(["psql", url, "-X", "-At", *variables], input=sql, capture_output=True, text=True, timeout=60,
                                env=env)
        if result.returncode != 0:
            raise SystemExit(f"psql failed: {result.stderr}")
        return result.stdout.strip()


def postgres_bin():
    versions = sorted(os.listdir("/usr/lib/postgresql"), key=lambda v: int(v) if v.isdigit() else 0)
    return f"/usr/lib/postgresql/{versions[-1]}/bin"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def request(port, method, path, body=None, token=None, timeout=10):
    """One JSON request; answers the status and the parsed body."""
    return raw_request(port, method, path, None if body is None else json.dumps(body), token=token, timeout=timeout)


def login(port, email, via="email"):
    status, body = request(port, "POST", "/api/v1/auth/login", {via: email, "password": PASSWORD})
    if status != 200:
        raise SystemExit(f"login as {email}: {status} {body}")
    return body["token"]


def register(port, token, number):
    return request(port, "POST", "/api/v1/workers", {
        "id_number": number, "full_name": "测试" + random.choice("秀英桂兰玉梅春花"), "sex": "M" if int(number[16]) % 2 else "F",
        "phone": None, "home_region": "320102", "service_categories": ["nanny"]}, token=token, timeout=15)


# ---------------------------------------------------------------- the faults

class World:
    server: Server
    admin: str
    agency: str
    acknowledged: dict  # worker id -> ID number


def kill9_during_writes(w):
    acknowledged, errors, lock = {}, [], threading.Lock()
    stop = threading.Event()

    def writer():
        while not stop.is_set():
            number = id_number()
            try:
                status, body = register(w.server.port, w.agency, number)
            except OSError:
                continue  # the server is gone: this write was never acknowledged
            with lock:
                if status == 201:
                    acknowledged[body["id"]] = number
                elif status >= 500 and status != 503:
                    errors.append((status, body))

    threads = [threading.Thread(target=writer, daemon=True) for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(3)
    w.server.kill9()
    stop.set()
    for t in threads:
        t.join(30)
    check(len(acknowledged) > 0, f"{len(acknowledged)} registrations acknowledged before kill -9")
    check(not errors, f"no 5xx other than 503 before the kill ({errors[:3]})")
    w.server.start()
    missing = [i for i in acknowledged if request(w.server.port, "GET", f"/api/v1/workers/{i}", token=w.agency)[0] != 200]
    check(not missing, f"after restart every acknowledged worker is there ({len(missing)} missing)")
    verify = w.server.cli("audit", "verify")
    check(verify.returncode == 0 and "intact" in verify.stdout, f"the audit chain verifies: {verify.stdout.strip()}")
    w.acknowledged = acknowledged


def integration_key(w, name, display_name, require_signature=False, kind="police"):
    """A source (police unless `kind` says otherwise) registered by the administrator and an API key
    for it, as the API answered them."""
    status, source = request(w.server.port, "POST", "/api/v1/integrations",
                             {"name": name, "kind": kind, "display_name": display_name, "require_signature": require_signature},
                             token=w.admin)
    check(status == 201, f"integration source {name} created ({status})")
    status, key = request(w.server.port, "POST", f"/api/v1/integrations/{source['id']}/keys", {"label": "faults"}, token=w.admin)
    check(status == 201, f"API key issued ({status})")
    return source, key


def replayed_batches(w):
    source, key = integration_key(w, "faults-police", "Faults police")
    numbers = list(w.acknowledged.values())[:40]
    batch = {"flags": [{"id_number": n, "reference": f"R-{i}", "category": "fraud", "severity": 1, "status": "alleged",
                        "occurred_on": "2025-03-01"} for i, n in enumerate(numbers)]}

    def send():
        try:
            return request(w.server.port, "POST", "/api/v1/flags:batch", batch, token=key["key"], timeout=30)[0]
        except OSError:
            return None

    results = [None] * 4
    threads = [threading.Thread(target=lambda i=i: results.__setitem__(i, send()), daemon=True) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check(all(r in (200, 201) for r in results), f"four concurrent copies accepted: {results}")
    check(send() in (200, 201), "a later replay accepted")

    def counts():
        flags = w.server.psql("SELECT count(*) FROM flags WHERE source_id = :'p1'::uuid", source["id"])
        events = w.server.psql("SELECT count(*) FROM audit_log WHERE action = 'flag.created' AND details->>'source' = 'faults-police'")
        return int(flags), int(events)

    flags, events = counts()
    check(flags == len(numbers), f"exactly one flag per reference ({flags} for {len(numbers)})")
    check(events == len(numbers), f"and exactly one flag.created audit event per reference ({events} for {len(numbers)})")
    # A replay around a crash: sent, the server killed at once, sent again after the restart.
    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    time.sleep(0.05)
    w.server.kill9()
    sender.join()
    w.server.start()
    check(send() in (200, 201), "the replay after kill -9 accepted")
    flags_after, events_after = counts()
    check(flags_after == len(numbers), f"still exactly one flag per reference after the crash ({flags_after})")
    check(events_after == len(numbers), f"and still one audit event per reference ({events_after} for {len(numbers)})")


def postgres_restart(w):
    worker = next(iter(w.acknowledged))
    samples, stop = [], threading.Event()

    def load():
        while not stop.is_set():
            start = time.time()
            try:
                status = request(w.server.port, "GET", f"/api/v1/workers/{worker}", token=w.agency, timeout=15)[0]
            except OSError as e:
                status = f"error {e}"
            samples.append((start, time.time() - start, status))
            time.sleep(0.05)

    threads = [threading.Thread(target=load, daemon=True) for _ in range(3)]
    for t in threads:
        t.start()
    time.sleep(1)
    stopped = w.server.pg_ctl("-m", "immediate", "-w", "stop")
    check(stopped.returncode == 0, f"PostgreSQL stopped under load {stopped.stderr.strip()}")
    down_at = time.time()
    detected = None
    while time.time() < down_at + 10:
        try:
            if request(w.server.port, "GET", "/health/ready", timeout=5)[0] == 503:
                detected = time.time()
                break
        except OSError as e:
            check(False, f"/health/ready answers while the database is down ({e})")
        time.sleep(0.1)
    check(detected is not None, f"/health/ready says 503 while the database is down "
                                f"(after {None if detected is None else round(detected - down_at, 2)} s)")
    noticed = detected
    # Once the monitor has noticed (a ping fails within 2 s, one per second), every new request
    # is answered at once with 503.
    time.sleep(3)
    detected = time.time()
    during = []
    for _ in range(20):
        start = time.time()
        try:
            status = request(w.server.port, "GET", f"/api/v1/workers/{worker}", token=w.agency, timeout=10)[0]
        except OSError as e:
            status = f"error {e}"
        during.append((start, time.time() - start, status))
        time.sleep(0.1)
    started = w.server.pg_ctl("-w", "-t", "60", "-l", os.path.join(w.server.data, "postgres", "log", "postgres.log"), "start")
    check(started.returncode == 0, f"PostgreSQL started again {started.stderr.strip()}")
    up_at = time.time()
    recovered = None
    while time.time() < up_at + 30:
        if request(w.server.port, "GET", f"/api/v1/workers/{worker}", token=w.agency)[0] == 200:
            recovered = time.time() - up_at
            break
        time.sleep(0.2)
    stop.set()
    for t in threads:
        t.join()
    during += [s for s in samples if detected < s[0] and s[0] + s[1] < up_at]
    check(all(s[2] == 503 for s in during), f"{len(during)} requests while it was down: every one answered 503 "
                                             f"({sorted(set(str(s[2]) for s in during))})")
    slowest = max(s[1] for s in during)
    check(slowest < 1, f"at once (slowest {slowest * 1000:.0f} ms)")
    # Requests sent after the monitor noticed are answered at once (checked above); the others,
    # sent before it noticed or in flight when PostgreSQL died, wait at most until it is back.
    # (PostgresNIO alone leaves a statement written to a connection already closed waiting for
    # ever; Storage refuses such a connection before it sends anything.)
    bound = (up_at - down_at) + 5
    caught = [s for s in samples if s[0] < noticed]
    later = [s for s in samples if s[0] >= noticed]
    longest = max(s[1] for s in later) if later else 0
    check(longest < bound, f"no request sent after the monitor noticed hung ({longest:.1f} s at most, outage {up_at - down_at:.1f} s)")
    longest_caught = max((s[1] for s in caught), default=0)
    check(longest_caught < bound, f"none of the {len(caught)} requests caught by the outage waited beyond it "
                                  f"({longest_caught:.1f} s at most, outage {up_at - down_at:.1f} s)")
    check(not any(isinstance(s[2], int) and s[2] >= 500 and s[2] != 503 for s in samples), "no other 5xx at any time")
    check(recovered is not None, f"the service recovered by itself, {recovered if recovered is None else round(recovered, 2)} s after")
    check(w.server.process.poll() is None, "the registry kept running")
    check(request(w.server.port, "GET", "/health/ready")[0] == 200, "/health/ready is 200 again")


def slow_clients(w):
    worker = next(iter(w.acknowledged))
    stalled = []
    for i in range(20):
        s = socket.create_connection(("127.0.0.1", w.server.port), timeout=30)
        if i % 2:
            s.sendall(b"GET /health/live HTTP/1.1\r\nHost: registry\r\n")  # headers never finished
        else:
            s.sendall(b"POST /api/v1/workers HTTP/1.1\r\nHost: registry\r\nContent-Type: application/json\r\n"
                      b"Authorization: Bearer " + w.agency.encode() + b"\r\nContent-Length: 5000\r\n\r\n{\"id_n")  # body stalls
        stalled.append(s)
    # Connections cut right after sending a request: the server must not mind.
    for _ in range(20):
        s = socket.create_connection(("127.0.0.1", w.server.port), timeout=5)
        s.sendall(f"GET /api/v1/workers/{worker}/report HTTP/1.1\r\nHost: registry\r\nAuthorization: Bearer {w.agency}\r\n\r\n".encode())
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()
    times, statuses = [], []
    for _ in range(20):
        start = time.time()
        statuses.append(request(w.server.port, "GET", f"/api/v1/workers/{worker}", token=w.agency)[0])
        times.append(time.time() - start)
    check(statuses == [200] * 20, f"every normal request is served while others stall ({statuses})")
    check(max(times) < 2.0, f"20 normal requests beside 20 stalled connections, slowest {max(times) * 1000:.0f} ms")
    time.sleep(IDLE_TIMEOUT * 2 + 1)
    closed = 0
    for s in stalled:
        s.settimeout(2)
        try:
            data = s.recv(4096)
            closed += 1 if data == b"" or b"HTTP/1.1" in data else 0
        except (ConnectionResetError, BrokenPipeError):
            closed += 1
        except socket.timeout:
            pass
        s.close()
    check(closed == len(stalled), f"the server closed the stalled connections after the idle timeout ({closed}/{len(stalled)})")
    check(request(w.server.port, "GET", "/health/ready")[0] == 200, "and stays ready")
    status, _ = request(w.server.port, "GET", f"/api/v1/workers/{worker}", token=w.agency)
    check(status == 200, "and serves")


# ---------------------------------------------------------------- a little YAML

def yaml_load(text):
    """The YAML that Web/openapi.yaml uses: block mappings and sequences, flow {…} and […]
    (also over several lines), quoted and plain scalars, | and > block scalars. No anchors,
    tags, documents or comments after values."""
    raw = text.splitlines()
    lines, i = [], 0
    while i < len(raw):
        line = raw[i]
        i += 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip(" "))
        body = line.strip()
        while _yaml_depth(body) > 0 and i < len(raw):
            body += " " + raw[i].strip()
            i += 1
        block = None
        marker = re.search(r"(?:: |^-[ ]?)([|>])([+-]?)$", body)
        if marker:
            collected = []
            while i < len(raw) and (not raw[i].strip() or len(raw[i]) - len(raw[i].lstrip(" ")) > indent):
                collected.append(raw[i])
                i += 1
            while collected and not collected[-1].strip():
                collected.pop()
            margin = min((len(c) - len(c.lstrip(" ")) for c in collected if c.strip()), default=0)
            collected = [c[margin:] for c in collected]
            block = ("\n" if marker.group(1) == "|" else " ").join(collected) + ("" if marker.group(2) == "-" else "\n")
            body = body[:marker.start(1)].rstrip()
        lines.append((indent, body, block))
    if not lines:
        return None
    value, end = _yaml_node(lines, 0, lines[0][0])
    if end != len(lines):
        raise ValueError(f"YAML: cannot read past {lines[end][1]!r}")
    return value


def _yaml_depth(s):
    depth, quote, i = 0, None, 0
    while i < len(s):
        c = s[i]
        if quote:
            if c == "\\" and quote == '"':
                i += 1
            elif c == quote:
                quote = None
        elif c in "\"'" and (i == 0 or s[i - 1] in " [{,:"):
            quote = c
        elif c in "[{":
            depth += 1
        elif c in "]}":
            depth -= 1
        i += 1
    return depth


def _yaml_item(body):
    return body == "-" or body.startswith("- ")


def _yaml_key(body):
    """(key, rest) when the line is `key: rest` or `key:`, else None."""
    if body[:1] in "\"'":
        value, end = _yaml_quoted(body, 0)
        rest = body[end:].lstrip()
        return (value, rest[1:].strip()) if rest.startswith(":") else None
    if body[:1] in "[{":
        return None
    at = body.find(": ")
    if at >= 0:
        return body[:at].strip(), body[at + 2:].strip()
    return (body[:-1].strip(), "") if body.endswith(":") else None


def _yaml_node(lines, i, indent):
    return (_yaml_seq if _yaml_item(lines[i][1]) else _yaml_map)(lines, i, indent)


def _yaml_map(lines, i, indent):
    out = {}
    while i < len(lines) and lines[i][0] == indent and not _yaml_item(lines[i][1]):
        _, body, block = lines[i]
        split = _yaml_key(body)
        if split is None:
            raise ValueError(f"YAML: expected `key: value`, got {body!r}")
        key, rest = split
        i += 1
        if rest:
            out[key] = _yaml_flow(rest)
        elif block is not None:
            out[key] = block
        elif i < len(lines) and (lines[i][0] > indent or (lines[i][0] == indent and _yaml_item(lines[i][1]))):
            out[key], i = _yaml_node(lines, i, lines[i][0])
        else:
            out[key] = None
    return out, i


def _yaml_seq(lines, i, indent):
    out = []
    while i < len(lines) and lines[i][0] == indent and _yaml_item(lines[i][1]):
        _, body, block = lines[i]
        rest = body[1:].strip()
        if not rest:
            i += 1
            if block is not None:
                out.append(block)
            elif i < len(lines) and lines[i][0] > indent:
                value, i = _yaml_node(lines, i, lines[i][0])
                out.append(value)
            else:
                out.append(None)
        elif rest[0] not in "[{" and _yaml_key(rest) is not None:
            # A mapping that starts on the dash's line: its other keys line up with the first.
            inner = indent + len(body) - len(rest)
            lines[i] = (inner, rest, block)
            value, i = _yaml_map(lines, i, inner)
            out.append(value)
        else:
            out.append(block if block is not None and not rest else _yaml_flow(rest))
            i += 1
    return out, i


def _yaml_flow(text):
    value, end = _yaml_value(text, 0, top=True)
    if text[end:].strip():
        raise ValueError(f"YAML: unexpected {text[end:]!r} after a value")
    return value


def _yaml_skip(s, p):
    while p < len(s) and s[p] == " ":
        p += 1
    return p


def _yaml_quoted(s, p):
    quote, p, out = s[p], p + 1, []
    while p < len(s):
        c = s[p]
        if quote == '"' and c == "\\":
            nxt = s[p + 1]
            if nxt == "u":
                out.append(chr(int(s[p + 2:p + 6], 16)))
                p += 6
                continue
            out.append({"n": "\n", "t": "\t", "\\": "\\", '"': '"', "/": "/", "0": "\0"}.get(nxt, nxt))
            p += 2
            continue
        if c == quote:
            if quote == "'" and s[p + 1:p + 2] == "'":
                out.append("'")
                p += 2
                continue
            return "".join(out), p + 1
        out.append(c)
        p += 1
    raise ValueError(f"YAML: unterminated string in {s!r}")


def _yaml_plain(text):
    text = text.strip()
    if text in ("", "~", "null"):
        return None
    if text in ("true", "false"):
        return text == "true"
    if re.fullmatch(r"[-+]?[0-9]+", text):
        return int(text)
    if re.fullmatch(r"[-+]?([0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)([eE][-+]?[0-9]+)?", text):
        return float(text)
    return text


def _yaml_value(s, p, top=False):
    p = _yaml_skip(s, p)
    if p >= len(s):
        return None, p
    c = s[p]
    if c == "{":
        out, p = {}, p + 1
        while True:
            p = _yaml_skip(s, p)
            if s[p] == "}":
                return out, p + 1
            if s[p] in "\"'":
                key, p = _yaml_quoted(s, p)
            else:
                end = p
                while end < len(s) and not (s[end] == ":" and (end + 1 == len(s) or s[end + 1] in " ,}")) and s[end] not in ",}":
                    end += 1
                key, p = s[p:end].strip(), end
            p = _yaml_skip(s, p)
            value = None
            if s[p] == ":":
                value, p = _yaml_value(s, p + 1)
            out[key] = value
            p = _yaml_skip(s, p)
            if s[p] == ",":
                p += 1
            elif s[p] != "}":
                raise ValueError(f"YAML: expected , or }} at {s[p:]!r}")
    if c == "[":
        out, p = [], p + 1
        while True:
            p = _yaml_skip(s, p)
            if s[p] == "]":
                return out, p + 1
            value, p = _yaml_value(s, p)
            out.append(value)
            p = _yaml_skip(s, p)
            if s[p] == ",":
                p += 1
            elif s[p] != "]":
                raise ValueError(f"YAML: expected , or ] at {s[p:]!r}")
    if c in "\"'":
        return _yaml_quoted(s, p)
    if top:
        return _yaml_plain(s[p:]), len(s)
    end = p
    while end < len(s) and s[end] not in ",]}":
        end += 1
    return _yaml_plain(s[p:end]), end


# ---------------------------------------------------------------- extreme numbers

EXTREME_NUMBERS = ["-9223372036854775808", "9223372036854775807", "9223372036854775808", "-9223372036854775809",
                   "1e308", "-1e308", "4294967296", "-1", "0", "99999999999999999999999999"]
# Not numbers, or numbers in forms a lenient parser might take: a timestamp header must refuse them.
JUNK_NUMBERS = ["1e3", " 12", "+5", "-0", "١٢٣", "", "0x10", "12abc", "9" * 40]
# Keys for maps of numbers (ReviewInput's scores); the first of each is the one varied.
MAP_KEYS = {"skill_scores": ["punctuality"], "ethics_scores": ["honesty", "respect", "reliability", "care"]}
# Numeric query parameters of pages (not in the OpenAPI document), with the caller who may see the page.
PAGE_QUERIES = [("/agency/workers", "offset", "agency"), ("/admin/audit", "before", "admin")]
FLAG_ROUTES = [("POST", "/api/v1/flags"), ("POST", "/api/v1/flags:batch"), ("PUT", "/api/v1/flags/{source}/{reference}"),
               ("DELETE", "/api/v1/flags/{source}/{reference}")]
HAS_TO_FIND = {"limit", "offset", "before", "min_level", "severity", "hours", "level", "ethics_rating"}
_NUMBER = "__extreme_number__"


def raw_request(port, method, path, body=None, token=None, headers=None, timeout=10):
    """One request with the body as given (text) and extra headers (values sent as UTF-8)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    sent = {}
    if body is not None:
        sent["Content-Type"] = "application/json"
        body = body.encode()
    if token:
        sent["Authorization"] = "Bearer " + token
    for name, value in (headers or {}).items():
        sent[name] = value.encode()
    try:
        connection.request(method, path, body, sent)
        response = connection.getresponse()
        data = response.read()
        try:
            parsed = json.loads(data) if data else None
        except ValueError:
            parsed = None
        return response.status, parsed
    finally:
        connection.close()


def _numeric(schema):
    kinds = schema.get("type") if isinstance(schema, dict) else None
    kinds = kinds if isinstance(kinds, list) else [kinds]
    return "integer" in kinds or "number" in kinds


class OpenAPI:
    """The operations of an OpenAPI document and their numeric inputs."""

    def __init__(self, document):
        self.doc = document

    def resolve(self, node, depth=0):
        while isinstance(node, dict) and "$ref" in node and depth < 20:
            target = self.doc
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node, depth = target, depth + 1
        return node if isinstance(node, dict) else {}

    def operations(self):
        for path, item in (self.doc.get("paths") or {}).items():
            common = item.get("parameters") or []
            for method in ("get", "put", "post", "delete", "patch"):
                if method in item:
                    op = item[method]
                    params = [self.resolve(p) for p in common + (op.get("parameters") or [])]
                    content = (self.resolve(op.get("requestBody")).get("content") or {})
                    body = content["application/json"].get("schema") if "application/json" in content else None
                    yield method.upper(), path, op, params, (self.resolve(body) if body is not None else None)

    def body_fields(self, schema, path=(), depth=0):
        """Paths (keys and list indexes) to every numeric property, nested ones included."""
        schema = self.resolve(schema)
        if depth > 8:
            return
        if _numeric(schema):
            yield path
        for combined in ("allOf", "anyOf", "oneOf"):
            for part in schema.get(combined) or []:
                yield from self.body_fields(part, path, depth + 1)
        for name, sub in (schema.get("properties") or {}).items():
            yield from self.body_fields(sub, path + (name,), depth + 1)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) and path:
            for key in MAP_KEYS.get(path[-1], ["x"])[:1]:
                yield from self.body_fields(extra, path + (key,), depth + 1)
        if "items" in schema:
            yield from self.body_fields(schema["items"], path + (0,), depth + 1)

    def sample(self, schema, name, ids, depth=0):
        """A minimal otherwise plausible value: required properties and every one leading to a number."""
        schema = self.resolve(schema)
        if "example" in schema:
            return schema["example"]
        if "enum" in schema:
            return schema["enum"][0]
        kinds = schema.get("type") if isinstance(schema.get("type"), list) else [schema.get("type")]
        if "properties" in schema or "object" in kinds:
            out, required = {}, set(schema.get("required") or [])
            for key, sub in (schema.get("properties") or {}).items():
                if key in required or any(True for _ in self.body_fields(sub)):
                    out[key] = self.sample(sub, key, ids, depth + 1)
            extra = schema.get("additionalProperties")
            if isinstance(extra, dict) and _numeric(self.resolve(extra)):
                out.update({key: self.sample(extra, key, ids, depth + 1) for key in MAP_KEYS.get(name, ["x"])})
            return out
        if "array" in kinds:
            return [self.sample(schema.get("items") or {}, name, ids, depth + 1)] if depth < 8 else []
        if _numeric(schema):
            return schema.get("minimum", 1)
        if "boolean" in kinds:
            return False
        if schema.get("format") == "date":
            return "2025-03-01"
        if schema.get("format") == "uuid":
            return ids.get(name) or str(uuid.uuid4())
        if name == "id_number":
            return id_number()
        return "faults extreme numbers"


def _with_number(body, path):
    """The body as JSON text with the property at `path` replaced by a placeholder."""
    body = json.loads(json.dumps(body))
    target = body
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = _NUMBER
    return json.dumps(body, ensure_ascii=False)


def extreme_numbers(w):
    port, started = w.server.port, time.time()
    callers = {"admin": w.admin, "agency": w.agency,
               "employer": login(port, "household@demo.registry.local"), "worker": login(port, "13800138003", via="phone")}
    source, key = integration_key(w, "faults-extreme", "Faults extreme numbers")
    signed, signed_key = integration_key(w, "faults-extreme-signed", "Faults extreme numbers (signed)", require_signature=True)
    callers["integration"], callers["signed integration"] = key["key"], signed_key["key"]
    # Another registry's key: the only caller the ban exchange lets past authorization.
    _, registry_key = integration_key(w, "faults-extreme-registry", "Faults extreme numbers (registry)", kind="registry")
    callers["registry integration"] = registry_key["key"]

    # Real records to aim at, so that requests get past "not found" to the numbers.
    roster = request(port, "GET", "/api/v1/workers?limit=500", token=w.agency)[1]["workers"]
    worker = next((x for x in roster if x["full_name"] == "王春梅"), roster[0])["id"]
    engagements = request(port, "GET", "/api/v1/engagements", token=callers["employer"])[1]["engagements"]
    transfers = request(port, "GET", "/api/v1/transfers", token=w.agency)[1]["transfers"]
    cases = (request(port, "GET", "/api/v1/cases", token=w.admin)[1] or {}).get("cases") or [{}]
    flag = {"id_number": id_number(), "reference": "X-1", "category": "fraud", "severity": 1, "status": "alleged",
            "occurred_on": "2025-03-01"}
    status, _ = request(port, "POST", "/api/v1/flags", flag, token=key["key"])
    check(status in (200, 201), f"a flag to change created ({status})")
    by_segment = {"workers": worker, "transfers": transfers[0]["id"] if transfers else None,
                  "engagements": engagements[0]["id"] if engagements else None,
                  "reviews": next((e.get("review_id") for e in engagements if e.get("review_id")), None),
                  "cases": cases[0].get("id"), "integrations": source["id"], "keys": key["id"]}
    ids = {"worker_id": worker, "source": "faults-extreme", "reference": "X-1"}

    def concrete(template, params, real):
        """The path with real ids where we have them (or random ones), enum values, our source and flag."""
        def fill(match):
            name = match.group(1)
            segment = template[:match.start()].rstrip("/").rsplit("/", 1)[-1]
            schema = next((p.get("schema") or {} for p in params if p.get("name") == name and p.get("in") == "path"), {})
            if "enum" in schema:
                return schema["enum"][0]
            if real and name in ("source", "reference"):
                return ids[name]
            if real and by_segment.get(segment):
                return by_segment[segment]
            return str(uuid.uuid4()) if schema.get("format") == "uuid" or name == "id" else "x" + uuid.uuid4().hex[:8]
        return re.sub(r"\{([^}]+)\}", fill, template)

    sent, problems, statuses = 0, [], {}

    def survived(what):
        process = w.server.process
        answer = None
        if process.poll() is None:
            try:
                answer = raw_request(port, "GET", "/health/live", timeout=2)[0]
            except OSError as e:
                answer = f"no answer ({e.__class__.__name__})"
            if answer == 200:
                return
        for _ in range(50):  # a crashing Swift process may take a moment to print its backtrace and exit
            if process.poll() is not None:
                break
            time.sleep(0.1)
        code = process.poll()
        how = ("it exited with " + (signal.Signals(-code).name if code < 0 else f"status {code}")) if code is not None \
            else f"/health/live answered {answer}"
        w.server.log.flush()
        with open(w.server.log.name, "rb") as f:
            f.seek(max(0, os.path.getsize(w.server.log.name) - 20000))
            tail = [line.strip() for line in f.read().decode(errors="replace").splitlines()
                    if "Fatal error" in line or "crashed" in line or "overflow" in line]
        check(False, f"the registry survives {what}: {how}" + (f" [{tail[-1][:200]}]" if tail else ""))

    def send(caller, method, path, what, body=None, headers=None):
        nonlocal sent
        what = f"{method} {path} {what} as {caller}"
        try:
            status, answer = raw_request(port, method, path, body, callers.get(caller), headers, timeout=15)
        except OSError as e:
            status, answer = f"no answer ({e.__class__.__name__})", None
        sent += 1
        survived(what)
        if not isinstance(status, int) or (status >= 500 and status != 503):
            code = ((answer or {}).get("error") or {}).get("code") if isinstance(answer, dict) else None
            problems.append(f"{what} → {status} {code or ''}".rstrip())
        return status

    # 1. The flag feed's timestamp header, as each integration client on each flag route.
    stamps = {}
    for value in EXTREME_NUMBERS + JUNK_NUMBERS:
        for method, template in FLAG_ROUTES:
            path = concrete(template, [], real=True)
            body = None if method == "DELETE" else json.dumps(
                {"severity": 1} if method == "PUT" else {"flags": [flag]} if template.endswith("batch") else flag)
            for caller in ("integration", "signed integration"):
                # A well-formed new nonce with each, so that nothing stops the request before the timestamp is read.
                status = send(caller, method, path, f"with X-Registry-Timestamp: {value!r} (X-Registry-Signature: sha256=00)",
                              body, {"X-Registry-Timestamp": value, "X-Registry-Nonce": uuid.uuid4().hex,
                                     "X-Registry-Signature": "sha256=00"})
                stamps[status] = stamps.get(status, 0) + 1
    check(True, f"X-Registry-Timestamp: {len(EXTREME_NUMBERS + JUNK_NUMBERS)} values × {len(FLAG_ROUTES)} routes × 2 sources, "
                f"answered {dict(sorted(stamps.items(), key=str))}")

    # 2. Every numeric query, header and JSON body field in the OpenAPI document, as every caller the
    #    operation lets in (a caller answered 401 or 403 is not tried further on that operation).
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", "/openapi.yaml")
    response = connection.getresponse()
    document = response.read().decode()
    connection.close()
    check(response.status == 200, f"/openapi.yaml served ({response.status})")
    spec = OpenAPI(yaml_load(document))
    plan = []
    for method, template, op, params, body_schema in spec.operations():
        fields = [(p["in"], p["name"], None) for p in params
                  if p.get("in") in ("query", "header") and _numeric(spec.resolve(p.get("schema")))]
        if body_schema is not None:
            fields += [("body", ".".join(map(str, path)), path) for path in dict.fromkeys(spec.body_fields(body_schema))]
        if fields:
            plan.append((method, template, op, params, body_schema, fields))
    names = {f[1].rsplit(".", 1)[-1] for *_, fields in plan for f in fields}
    total = sum(len(fields) for *_, fields in plan)
    check(HAS_TO_FIND <= names, f"/openapi.yaml: {total} numeric fields in {len(plan)} operations "
                                f"({', '.join(sorted(names))}){'' if HAS_TO_FIND <= names else f'; missing {HAS_TO_FIND - names}'}")
    covered = set()
    for method, template, op, params, body_schema, fields in plan:
        who = list(callers) + (["anonymous"] if op.get("security") == [] else [])
        variants = [True, False] if "{" in template else [True]
        for caller in who:
            let_in = True
            for real in variants:
                path = concrete(template, params, real)
                base = spec.sample(body_schema, "", ids) if body_schema is not None else None
                for where, name, body_path in fields:
                    seen = statuses.setdefault((method, template, where, name, caller), {})
                    for value in EXTREME_NUMBERS:
                        target, body, headers = path, (json.dumps(base, ensure_ascii=False) if base is not None else None), None
                        if where == "query":
                            target = path + "?" + urllib.parse.urlencode({name: value})
                        elif where == "header":
                            headers = {name: value}
                        else:
                            body = _with_number(base, body_path).replace(json.dumps(_NUMBER), value)
                        status = send(caller, method, target, f"{where} {name}={value}", body, headers)
                        seen[status] = seen.get(status, 0) + 1
                        if status in (401, 403):
                            let_in = False
                            break
                        covered.add((method, template, where, name))
                    if not let_in:
                        break
                if not let_in:
                    break
    for (method, template, where, name, caller), seen in statuses.items():
        if not (set(seen) <= {401, 403}):
            print(f"      {method} {template} {where} {name} as {caller}: {dict(sorted(seen.items(), key=str))}", flush=True)

    # 3. Numeric query parameters of pages.
    for page, name, caller in PAGE_QUERIES:
        seen = {}
        for value in EXTREME_NUMBERS:
            status = send(caller, "GET", page + "?" + urllib.parse.urlencode({name: value}), f"query {name}={value}")
            seen[status] = seen.get(status, 0) + 1
        covered.add(("GET", page, "query", name))
        print(f"      GET {page} query {name} as {caller}: {dict(sorted(seen.items(), key=str))}", flush=True)

    # 4. Numbers in standard headers: Accept-Language quality values (pages and the worker's grade) and
    #    Content-Length (a raw request: a large declared length is only waited for briefly).
    seen = {}
    for value in EXTREME_NUMBERS:
        for caller, path in (("anonymous", "/signin"), ("worker", "/api/v1/me/grade")):
            status = send(caller, "GET", path, f"with Accept-Language: en;q={value}", headers={"Accept-Language": f"en;q={value}, zh-CN;q=0.5"})
            seen[status] = seen.get(status, 0) + 1
    print(f"      Accept-Language q= on /signin and /api/v1/me/grade: {dict(sorted(seen.items(), key=str))}", flush=True)
    seen = {}
    for value in EXTREME_NUMBERS:
        what = f"POST /api/v1/workers with Content-Length: {value} as agency"
        connection = socket.create_connection(("127.0.0.1", port), timeout=1)
        try:
            connection.sendall(f"POST /api/v1/workers HTTP/1.1\r\nHost: registry\r\nAuthorization: Bearer {w.agency}\r\n"
                               f"Content-Type: application/json\r\nContent-Length: {value}\r\n\r\n{{}}".encode())
            data = connection.recv(200)
            status = int(data.split()[1]) if data.startswith(b"HTTP/1.1 ") else "closed"
        except socket.timeout:
            status = "waits for the body"
        except OSError as e:
            status = f"closed ({e.__class__.__name__})"
        finally:
            connection.close()
        sent += 1
        survived(what)
        if isinstance(status, int) and status >= 500 and status != 503:
            problems.append(f"{what} → {status}")
        seen[status] = seen.get(status, 0) + 1
    print(f"      Content-Length on POST /api/v1/workers: {dict(sorted(seen.items(), key=str))}", flush=True)

    for problem in problems:
        print(f"      {problem}", flush=True)
    check(not problems, f"no 5xx other than 503, no unanswered request ({len(problems)} problems)")
    reached = len({c for c in covered if not c[1].startswith(("/agency", "/admin"))})
    check(reached == total, f"every numeric field of /openapi.yaml reached past authorization by some caller ({reached} of {total})")
    print(f"extreme numbers: {sent} requests, {len(covered)} fields covered ({total} from /openapi.yaml in {len(plan)} operations, "
          f"{len(PAGE_QUERIES)} page parameters, X-Registry-Timestamp on {len(FLAG_ROUTES)} flag routes, Accept-Language, "
          f"Content-Length), "
          f"{time.time() - started:.1f} s", flush=True)


def registration_body(number):
    return {"id_number": number, "full_name": "测试" + random.choice("秀英桂兰玉梅春花") + random.choice("一二三四五"),
            "sex": "M" if int(number[16]) % 2 else "F", "phone": "139" + "".join(random.choice("0123456789") for _ in range(8)),
            "home_region": random.choice(["320102", "350102", "110105"]), "service_categories": random.sample(["nanny", "cooking", "elder_care"], 2)}


def writes_through_a_crash(w, seconds=3):
    """8 writers register workers; PostgreSQL is stopped immediately and the registry killed -9 under
    them; both come back. Returns what was acknowledged (worker id -> the body sent)."""
    acknowledged, errors, lock = {}, [], threading.Lock()
    stop = threading.Event()

    def writer():
        while not stop.is_set():
            body = registration_body(id_number())
            try:
                status, answer = request(w.server.port, "POST", "/api/v1/workers", body, token=w.agency, timeout=15)
            except OSError:
                continue  # the server is gone: this write was never acknowledged
            with lock:
                if status == 201:
                    acknowledged[answer["id"]] = body
                elif status >= 500 and status != 503:
                    errors.append((status, answer))

    threads = [threading.Thread(target=writer, daemon=True) for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(seconds)
    crashed = w.server.pg_ctl("-m", "immediate", "-w", "stop")
    w.server.kill9()
    stop.set()
    for t in threads:
        t.join(30)
    check(crashed.returncode == 0, f"PostgreSQL crashed (immediate stop) with {len(acknowledged)} registrations acknowledged")
    check(not errors, f"no 5xx other than 503 before the crash ({errors[:3]})")
    w.server.start()
    return acknowledged


def lost_or_changed(w, acknowledged):
    """Acknowledged registrations that are missing after the restart, or not as they were sent."""
    bad = []
    for worker_id, sent in acknowledged.items():
        status, file = request(w.server.port, "GET", f"/api/v1/workers/{worker_id}", token=w.agency)
        if status != 200:
            bad.append((worker_id, f"status {status}"))
            continue
        number = sent["id_number"]
        expected = {"full_name": sent["full_name"], "sex": sent["sex"], "phone": sent["phone"], "home_region": sent["home_region"],
                    "id_number_masked": number[:2] + "*" * 15 + number[-1]}
        got = {k: file.get(k) for k in expected}
        if got != expected or sorted(file.get("service_categories") or []) != sorted(sent["service_categories"]):
            bad.append((worker_id, f"sent {expected}, stored {got}"))
    return bad


def postgres_crash(w):
    acknowledged = writes_through_a_crash(w)
    bad = lost_or_changed(w, acknowledged)
    check(len(acknowledged) > 0 and not bad,
          f"after crash recovery all {len(acknowledged)} acknowledged registrations are there, as sent ({len(bad)} lost or changed: {bad[:2]})")
    verify = w.server.cli("audit", "verify")
    check(verify.returncode == 0 and "intact" in verify.stdout, "the audit chain verifies after the crash")
    # The same with synchronous_commit off: an acknowledged commit may still sit in WAL buffers
    # when PostgreSQL dies. The check above is what would catch it; count what it finds.
    w.server.psql("ALTER SYSTEM SET synchronous_commit = off; SELECT pg_reload_conf();")
    try:
        counted = []
        for _ in range(3):
            unsafe = writes_through_a_crash(w, seconds=2)
            counted.append((len(lost_or_changed(w, unsafe)), len(unsafe)))
            if counted[-1][0] > 0:
                break
    finally:
        w.server.psql("ALTER SYSTEM RESET synchronous_commit; SELECT pg_reload_conf();")
    lost = sum(c[0] for c in counted)
    print(f"note  with synchronous_commit off, the same check found {lost} of {sum(c[1] for c in counted)} acknowledged registrations "
          f"lost over {len(counted)} crash(es): {'the check can fail' if lost else 'none lost this time (the WAL writer was quick)'}",
          flush=True)
    setting = w.server.psql("SHOW synchronous_commit")
    check(setting == "on", f"synchronous_commit is on again ({setting})")


def import_flags_exit(w):
    source, _ = integration_key(w, "faults-import", "Import test")
    folder = tempfile.mkdtemp(prefix="faults-import-")
    try:
        header = "id_number,reference,category,severity,status,occurred_on,expires_on,narrative\n"
        good = "".join(f"{id_number()},IMP-{i},theft,3,charged,2025-01-01,,\n" for i in range(3))
        bad = f"{id_number()},IMP-X,theft,3,charged,2025-01-01,,unquoted, comma\n"
        mixed = os.path.join(folder, "mixed.csv")
        with open(mixed, "w") as f:
            f.write(header + good + bad)
        result = w.server.cli("import-flags", "--source", "faults-import", mixed)
        check(result.returncode == 2, f"rejected lines: exit status 2 ({result.returncode}; {result.stdout.strip()[-200:]})")
        rejects = mixed + ".rejects.csv"
        check(os.path.exists(rejects), "the rejected records are written beside the input")
        with open(rejects) as f:
            text = f.read()
        check("unquoted, comma" in text and "columns" in text, "with the record and the reason (a wrong column count)")
        clean = os.path.join(folder, "clean.csv")
        with open(clean, "w") as f:
            f.write(header + good)
        again = w.server.cli("import-flags", "--source", "faults-import", clean)
        check(again.returncode == 0, f"a clean file (here a re-run): exit status 0 ({again.returncode})")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# ---------------------------------------------------------------- the command line and the keys

def exchange(port, method, path, body=None, token=None, timeout=10):
    """One request; answers the status (or the exception's name), the headers (lower-case names),
    the raw body and the seconds it took."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"Authorization": "Bearer " + token} if token else {}
    data = None
    if body is not None:
        headers["Content-Type"] = "application/json"
        data = json.dumps(body).encode()
    started = time.time()
    try:
        connection.request(method, path, data, headers)
        response = connection.getresponse()
        raw = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, raw, time.time() - started
    except (OSError, http.client.HTTPException) as e:
        return f"{e.__class__.__name__}", {}, b"", time.time() - started
    finally:
        connection.close()


def error_code(raw):
    try:
        return (json.loads(raw).get("error") or {}).get("code")
    except (ValueError, AttributeError):
        return None


def listening(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def agency_id(w):
    status, me = request(w.server.port, "GET", "/api/v1/auth/me", token=w.agency)
    check(status == 200 and me["user"].get("agency_id"), f"the agency's id from /api/v1/auth/me ({status})")
    return me["user"]["agency_id"]


def stored_worker(w, worker_id, sent, agency):
    """What differs between a worker's file read through the API and the registration sent (empty: nothing)."""
    status, file = request(w.server.port, "GET", f"/api/v1/workers/{worker_id}", token=w.agency)
    if status != 200:
        return [f"GET /api/v1/workers/{worker_id}: {status}"]
    number = sent["id_number"]
    expected = {"full_name": sent["full_name"], "sex": sent["sex"], "phone": sent["phone"] or None, "home_region": sent["home_region"],
                "id_number_masked": number[:2] + "*" * 15 + number[-1], "status": "active",
                "service_categories": sorted(sent["service_categories"]), "current_agency": agency,
                "open tenures with the agency": 1}
    got = {k: file.get(k) for k in ("full_name", "sex", "phone", "home_region", "id_number_masked", "status")}
    got["service_categories"] = sorted(file.get("service_categories") or [])
    got["current_agency"] = (file.get("current_agency") or {}).get("id")
    got["open tenures with the agency"] = sum(1 for t in file.get("tenures") or []
                                              if t.get("agency_id") == agency and not t.get("ended_on"))
    return [f"{k}: sent {expected[k]!r}, stored {got[k]!r}" for k in expected if expected[k] != got[k]]


def writes_while_postgres_down(w):
    """PostgreSQL stopped (fast): once the monitor has noticed, a registration is refused at once with
    503 database_unavailable and leaves nothing behind; one sent before it noticed ends either
    acknowledged and stored or refused and absent; after PostgreSQL is back the same registration
    succeeds."""
    port, log = w.server.port, w.server.log.name

    def count(sql, *params):
        return int(w.server.psql(sql, *params))

    before = (count("SELECT count(*) FROM workers"), count("SELECT count(*) FROM audit_log WHERE action = 'worker.registered'"))
    early_body, refused_body = registration_body(id_number()), registration_body(id_number())
    early_body["full_name"], refused_body["full_name"] = "停库早" + uuid.uuid4().hex[:6], "停库拒" + uuid.uuid4().hex[:6]
    early = {}
    log_from = os.path.getsize(log)
    stopped = w.server.pg_ctl("-m", "fast", "-w", "stop")
    down_at = time.time()
    check(stopped.returncode == 0, f"PostgreSQL stopped (pg_ctl -m fast) {stopped.stderr.strip()}")
    # Sent before the monitor can have noticed: it may wait, but only until the database is back.
    sender = threading.Thread(target=lambda: early.update(answer=exchange(port, "POST", "/api/v1/workers", early_body, w.agency, 60)),
                              daemon=True)
    sender.start()
    noticed = None
    while time.time() < down_at + 10:
        with open(log, "rb") as f:
            f.seek(log_from)
            if b"database unreachable" in f.read():
                noticed = time.time() - down_at
                break
        time.sleep(0.1)
    check(noticed is not None and noticed < 6, f"the monitor noticed the outage ({noticed if noticed is None else round(noticed, 1)} s "
                                               f"after the stop; a ping every second, given up after 2)")
    status, headers, raw, took = exchange(port, "POST", "/api/v1/workers", refused_body, w.agency, timeout=15)
    check(status == 503 and error_code(raw) == "database_unavailable",
          f"a registration while it is down: 503 database_unavailable ({status} {raw[:120]!r})")
    check(took < 1, f"refused at once ({took * 1000:.0f} ms), not queued")
    retry_after = headers.get("retry-after")
    outage = time.time() - down_at
    started = w.server.pg_ctl("-w", "-t", "60", "-l", os.path.join(w.server.data, "postgres", "log", "postgres.log"), "start")
    up_at = time.time()
    check(started.returncode == 0, f"PostgreSQL started again after {outage:.1f} s {started.stderr.strip()}")
    ready = None
    while time.time() < up_at + 20:
        if request(port, "GET", "/health/ready", timeout=5)[0] == 200:
            ready = time.time() - up_at
            break
        time.sleep(0.2)
    check(ready is not None, f"ready again by itself ({ready if ready is None else round(ready, 1)} s after PostgreSQL)")
    sender.join(30)
    e_status, _, e_raw, e_took = early.get("answer", ("no answer", {}, b"", 0))
    e_stored = count("SELECT count(*) FROM workers WHERE full_name = :'p1'", early_body["full_name"])
    check(e_status in (201, 503), f"the registration sent at the stop was answered 201 or 503 ({e_status} {e_raw[:100]!r})")
    check(e_took < (up_at - down_at) + 5, f"after {e_took:.1f} s, not hung past the outage ({up_at - down_at:.1f} s)")
    check(e_stored == (1 if e_status == 201 else 0), f"and it is stored exactly when it was acknowledged ({e_status}, {e_stored} stored)")
    acknowledged = 1 if e_status == 201 else 0
    refused = count("SELECT count(*) FROM workers WHERE full_name = :'p1'", refused_body["full_name"])
    after = (count("SELECT count(*) FROM workers"), count("SELECT count(*) FROM audit_log WHERE action = 'worker.registered'"))
    check(refused == 0 and after == (before[0] + acknowledged, before[1] + acknowledged),
          f"the refused registration left nothing: no worker of that name ({refused}), workers {before[0]} → {after[0]}, "
          f"worker.registered audit rows {before[1]} → {after[1]} ({acknowledged} acknowledged meanwhile)")
    status, answer = request(port, "POST", "/api/v1/workers", refused_body, token=w.agency, timeout=15)
    check(status == 201, f"the same registration sent again succeeds ({status} {answer})")
    differences = stored_worker(w, answer["id"], refused_body, agency_id(w))
    check(not differences, f"and is stored as sent {differences}")
    check(retry_after is not None and retry_after.isdigit() and 0 < int(retry_after) <= 60,
          f"the 503 database_unavailable carried Retry-After ({retry_after!r})")


# A valid Ed25519 public key that is not this registry's (RFC 8032, test 1).
OTHER_PUBLIC_KEY = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="


def cli_report_verify(w):
    """`registry report verify FILE [--public-key KEY]` on a signed report saved from the API: valid as
    fetched; one character of the report changed anywhere, or of the signature: exit 1, INVALID."""
    worker = next(iter(w.acknowledged))
    status, _, raw, _ = exchange(w.server.port, "GET", f"/api/v1/workers/{worker}/report?signed=true&purpose=audit", token=w.admin)
    check(status == 200, f"a signed report fetched from the API ({status})")
    document = json.loads(raw)
    check(json.loads(document["payload"])["report"]["worker"]["id"] == worker, "about the worker asked for")
    folder = tempfile.mkdtemp(prefix="faults-report-")
    try:
        path = os.path.join(folder, "report.json")

        def verify(content, *options):
            with open(path, "wb") as f:
                f.write(content)
            return w.server.cli("report", "verify", path, *options)

        result = verify(raw)
        check(result.returncode == 0 and result.stdout.startswith("valid") and worker in result.stdout
              and document["key_id"] in result.stdout, f"as fetched: exit 0, valid ({result.returncode}: {result.stdout.strip()})")
        _, key = request(w.server.port, "GET", "/api/v1/reports/public-key", token=w.admin)
        result = verify(raw, "--public-key", key["public_key"])
        check(result.returncode == 0 and result.stdout.startswith("valid"), f"with --public-key of the API's key: valid ({result.returncode})")
        result = verify(raw, "--public-key", OTHER_PUBLIC_KEY)
        check(result.returncode == 1 and "INVALID" in result.stdout, f"with another registry's key: exit 1, INVALID ({result.returncode})")
        # One byte of the file changed: an ASCII letter or digit of the signed payload (not an escape),
        # replaced by another of its kind so that the file stays a well-formed document.
        start = raw.index(b'"payload":"') + len(b'"payload":"')
        end = raw.index(b'","', start)
        while raw[end - 1:end] == b"\\":
            end = raw.index(b'","', end + 1)
        age = raw.index(b'\\"age\\":', start) + len(b'\\"age\\":')
        places = [p for p in range(start, end) if chr(raw[p]).isalnum() and raw[p] < 128 and raw[p - 1:p] != b"\\"
                  and b"\\u" not in raw[max(start, p - 5):p]]
        chosen = [age] + random.sample(places, 5)
        for p in chosen:
            old = chr(raw[p])
            pool = "0123456789" if old.isdigit() else "abcdefghijklmnopqrstuvwxyz" if old.islower() else "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
            changed = raw[:p] + random.choice(pool.replace(old, "")).encode() + raw[p + 1:]
            result = verify(changed)
            context = raw[max(start, p - 10):p].decode(errors="replace") + "[" + old + "→" + chr(changed[p]) + "]" + \
                raw[p + 1:p + 10].decode(errors="replace")
            check(json.loads(changed)["payload"] != document["payload"] and result.returncode == 1
                  and result.stdout.startswith("INVALID: the signature does not match"),
                  f"one byte of the signed report changed ({context}): exit 1, {result.stdout.strip()[:60]!r}")
        signature = document["signature"]
        forged = dict(document, signature=("A" if signature[0] != "A" else "B") + signature[1:])
        result = verify(json.dumps(forged, ensure_ascii=False).encode())
        check(result.returncode == 1 and "INVALID" in result.stdout, f"one character of the signature changed: exit 1 ({result.returncode})")
        result = verify(b'{"report": "not signed"}')
        check(result.returncode == 1 and "not a signed report" in result.stdout, f"a file that is no signed report: exit 1, says so ({result.returncode})")
        result = verify(raw)
        check(result.returncode == 0, "the file as fetched still verifies")
        # The envelope's own fields are not signed: each must still name exactly the key that verifies.
        accepted = []
        for field in ("algorithm", "public_key", "key_id"):
            value = document[field]
            if verify(json.dumps(dict(document, **{field: value[:-1] + ("x" if value[-1] != "x" else "y")}), ensure_ascii=False)
                      .encode()).returncode == 0:
                accepted.append(field)
        check(not accepted, f"a changed envelope field outside the signed payload (algorithm, public_key, key_id) fails too ({accepted or 'none verified'})")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def audit_rows(w):
    """Every chained audit row, as psql gives them: the fields the content hash covers, the stored hashes."""
    text = w.server.psql("""
        SELECT json_build_array(c.seq, l.id, (extract(epoch FROM l.occurred_at) * 1000000)::bigint::text, l.actor_kind,
                                coalesce(l.actor_id::text, ''), coalesce(l.actor_role, ''), l.action, l.subject_type,
                                coalesce(l.subject_id, ''), coalesce(l.request_id, ''), l.details::text,
                                encode(l.content_hash, 'hex'), encode(c.prev_hash, 'hex'), encode(c.hash, 'hex'))
        FROM audit_chain c JOIN audit_log l ON l.id = c.event_id ORDER BY c.seq""")
    return [json.loads(line) for line in text.splitlines()]


def chain_head(rows):
    """The chain recomputed here from the rows' fields: (length, head hash, first problem or None)."""
    previous = bytes(32)
    for expected_seq, (seq, event, micros, *fields) in enumerate(rows, start=1):
        fields, content, prev, link = fields[:8], fields[8], fields[9], fields[10]
        computed = hashlib.sha256("\x1f".join([str(event), micros, *fields]).encode()).digest()
        if seq != expected_seq or computed.hex() != content or prev != previous.hex():
            return expected_seq - 1, previous.hex(), f"link {seq} (event {event}) does not recompute"
        previous = hashlib.sha256(previous + computed + str(seq).encode()).digest()
        if previous.hex() != link:
            return expected_seq - 1, previous.hex(), f"link {seq} hash differs"
    return len(rows), previous.hex(), None


REWRITE_CHAIN = r"""
\set ON_ERROR_STOP on
BEGIN;
SELECT pg_advisory_xact_lock(hashtext('registry.audit.sequencer'));
SELECT set_config('faults.event', :'p1', true), set_config('faults.rewrite', :'p3', true);
ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only;
ALTER TABLE audit_chain DISABLE TRIGGER audit_chain_append_only;
UPDATE audit_log SET details = :'p2'::jsonb WHERE id = :'p1'::bigint;
UPDATE audit_log SET content_hash = audit_content_hash(id, occurred_at, actor_kind, actor_id, actor_role, action, subject_type,
                                                       subject_id, request_id, details)
WHERE id = :'p1'::bigint AND :'p3' = 'consistently';
DO $$
DECLARE
    r record;
    previous bytea;
BEGIN
    IF current_setting('faults.rewrite') <> 'consistently' THEN RETURN; END IF;
    SELECT prev_hash INTO previous FROM audit_chain WHERE event_id = current_setting('faults.event')::bigint;
    FOR r IN SELECT c.seq, l.content_hash FROM audit_chain c JOIN audit_log l ON l.id = c.event_id
             WHERE c.seq >= (SELECT seq FROM audit_chain WHERE event_id = current_setting('faults.event')::bigint) ORDER BY c.seq
    LOOP
        UPDATE audit_chain SET prev_hash = previous, hash = audit_link_hash(previous, r.content_hash, r.seq) WHERE seq = r.seq;
        previous := audit_link_hash(previous, r.content_hash, r.seq);
    END LOOP;
END
$$;
ALTER TABLE audit_chain ENABLE TRIGGER audit_chain_append_only;
ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only;
COMMIT;
"""


def rewrite_audit_row(w, event, details, how):
    """As the database owner (triggers off for a moment): the row's details replaced; with how =
    'consistently' its content hash and every link from it to the head recomputed as well."""
    w.server.psql(REWRITE_CHAIN, event, details, how)


def cli_audit_checkpoint(w):
    """`registry audit checkpoint`: prints the head, which is the chain recomputed here from the rows,
    appends it to the data folder's checkpoints file and to audit_checkpoints; a later one extends
    the chain; `registry audit verify` checks against them, names a changed row, and catches a
    consistently rewritten chain only through a checkpoint."""
    path = os.path.join(w.server.data, "audit-checkpoints.jsonl")
    lines_before = open(path).read().splitlines() if os.path.exists(path) else []
    heads = []
    for round_ in (1, 2):
        if round_ == 2:
            statuses = [register(w.server.port, w.agency, id_number())[0] for _ in range(3)]
            check(statuses == [201] * 3, f"3 registrations after the first checkpoint ({statuses})")
        result = w.server.cli("audit", "checkpoint")
        found = re.search(r"checkpoint: link (\d+), head ([0-9a-f]{64}) \(saved in (.+)\)", result.stdout)
        check(result.returncode == 0 and found, f"checkpoint {round_}: exit 0, prints link and head ({result.returncode}: {result.stdout.strip()})")
        seq, head, saved_in = int(found.group(1)), found.group(2), found.group(3)
        check(os.path.realpath(saved_in) == os.path.realpath(path), f"saved in the data folder's audit-checkpoints.jsonl ({saved_in})")
        rows = audit_rows(w)
        length, computed, problem = chain_head(rows[:seq])
        check(problem is None and length == seq and computed == head,
              f"the printed head is the chain recomputed here from the {seq} rows' fields ({problem or computed[:16]})")
        lines = open(path).read().splitlines()
        saved = json.loads(lines[-1])
        check(len(lines) == len(lines_before) + round_ and saved["seq"] == seq and saved["hash"] == head and saved.get("takenAt"),
              f"one more line in the file, with that link and head ({len(lines)} lines; {lines[-1]})")
        stored = w.server.psql("SELECT encode(hash, 'hex') FROM audit_checkpoints WHERE seq = :'p1'::bigint", seq)
        check(stored == head, "and a row in audit_checkpoints")
        heads.append((seq, head))
    (first_seq, first_head), (second_seq, second_head) = heads
    check(second_seq > first_seq, f"the second checkpoint extends the chain (link {first_seq} → {second_seq})")
    check(audit_rows(w)[first_seq - 1][-1] == first_head, "and the first checkpoint's link is unchanged on it")
    verify = w.server.cli("audit", "verify")
    check(verify.returncode == 0 and "intact" in verify.stdout and f"checkpoint at link {second_seq} ({second_head})" in verify.stdout,
          f"audit verify: intact, checked against the newest checkpoint ({verify.stdout.strip()})")
    folder = tempfile.mkdtemp(prefix="faults-audit-")
    try:
        # A copy kept outside the data folder, holding only the first checkpoint.
        kept = os.path.join(folder, "kept.jsonl")
        with open(kept, "w") as f:
            f.write(open(path).read().splitlines()[len(lines_before)] + "\n")
        empty = os.path.join(folder, "none.jsonl")
        open(empty, "w").close()
        verify = w.server.cli("audit", "verify", "--checkpoints", kept)
        check(verify.returncode == 0 and f"checkpoint at link {first_seq} ({first_head})" in verify.stdout,
              f"audit verify --checkpoints COPY: checked against that copy's checkpoint ({verify.stdout.strip()[-120:]})")
        # A row changed by the owner (who can switch the append-only trigger off).
        row = audit_rows(w)[first_seq // 2]
        seq, event, original = row[0], row[1], row[10]
        tampered = json.dumps(dict(json.loads(original), tampered="by the owner"))
        try:
            rewrite_audit_row(w, event, tampered, "details only")
            check(w.server.psql("SELECT details->>'tampered' FROM audit_log WHERE id = :'p1'::bigint", event) == "by the owner",
                  f"the owner changed audit row {event} (link {seq})")
            verify = w.server.cli("audit", "verify")
            check(verify.returncode == 1 and f"BROKEN at link {seq} (event {event})" in verify.stdout and "content was changed" in verify.stdout,
                  f"audit verify: exit 1, names the link and why ({verify.returncode}: {verify.stdout.strip()})")
            # The same change with the row's hash and every later link recomputed: the chain is whole
            # again, and only a checkpoint kept from before shows that it was rewritten.
            rewrite_audit_row(w, event, tampered, "consistently")
            verify = w.server.cli("audit", "verify", "--checkpoints", empty)
            check(verify.returncode == 1 and "differs from the checkpoint" in verify.stdout,
                  f"rewritten consistently: the signed checkpoint recorded in the database catches it even without a file "
                  f"({verify.returncode}: {verify.stdout.strip()[:120]})")
            # The owner deletes the recorded checkpoints too: then only the copies kept outside the
            # database tell (the chain itself verifies, with another head).
            w.server.psql("DELETE FROM audit_checkpoints")
            verify = w.server.cli("audit", "verify", "--checkpoints", empty)
            check(verify.returncode == 0 and "intact" in verify.stdout and second_head not in verify.stdout,
                  f"with the recorded checkpoints deleted as well, the chain verifies without a file, with another head "
                  f"({verify.returncode}: {verify.stdout.strip()[:100]})")
            # The data folder's file also holds the checkpoints the service's hourly job took (one at
            # start): the first of them at or after the changed link is where the rewrite shows.
            saved_seqs = [json.loads(line)["seq"] for line in open(path).read().splitlines()]
            first_after = min(s for s in saved_seqs if s >= seq)
            for name, file, at in (("the data folder's checkpoints", None, first_after), ("the copy kept outside", kept, first_seq)):
                verify = w.server.cli("audit", "verify", *(["--checkpoints", file] if file else []))
                check(verify.returncode == 1 and f"BROKEN at link {at}" in verify.stdout and "differs from the checkpoint" in verify.stdout,
                      f"against {name}: exit 1 at the checkpoint's link {at} ({verify.returncode}: {verify.stdout.strip()})")
        finally:
            rewrite_audit_row(w, event, original, "consistently")
        verify = w.server.cli("audit", "verify")
        check(verify.returncode == 0 and audit_rows(w)[seq - 1][11] == row[11],
              f"the row put back: the chain verifies again ({verify.returncode})")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def start_refused(w, what, extra_env):
    """`registry serve` (not demo) on a free port with the world's environment and extra_env: it must
    exit non-zero without serving. Answers what it printed."""
    port = free_port()
    env = w.server.env()
    env.update(extra_env, PORT=str(port))
    process = subprocess.Popen([w.server.binary, "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    try:
        output, _ = process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        serving = listening(port)
        process.kill()
        output, _ = process.communicate()
        check(False, f"{what}: start refused (still running after 15 s, {'serving' if serving else 'not serving'} on {port}): {output[-300:]}")
    check(process.returncode != 0 and not listening(port),
          f"{what}: start refused, exit {process.returncode}, nothing listening: {(output.strip().splitlines() or [''])[-1][:170]}")
    return output


def no_sms_channel(w):
    """Outside demo mode the service refuses to start without an SMS channel, and says which variables
    to set: activation and transfer codes would otherwise reach no one."""
    env = {"REGISTRY_SMS_GATEWAY_URL": "", "REGISTRY_SMS_GATEWAY_SECRET": ""}
    output = start_refused(w, "no SMS gateway configured", env)
    check("REGISTRY_SMS_GATEWAY_URL" in output and "REGISTRY_SMS_GATEWAY_SECRET" in output and "--demo" in output,
          "the message names the variables and the demo alternative")
    output = start_refused(w, "a gateway without its secret", {"REGISTRY_SMS_GATEWAY_SECRET": ""})
    check("REGISTRY_SMS_GATEWAY_SECRET" in output, "the message asks for the secret")


def keys_file(w):
    """The keys file beside the data folder is 0600 in a 0700 folder (also when created by a non-demo
    start, whatever the umask); a keys file or environment holding one or two of the three keys,
    or a keys file inside the data folder, stops the start with a clear message and nothing served."""
    keys = w.server.data + "-keys/keys.json"
    # kill9_during_writes (always run first) restarted this server without --demo.
    mode, folder_mode = os.stat(keys).st_mode & 0o777, os.stat(os.path.dirname(keys)).st_mode & 0o777
    check(mode == 0o600 and folder_mode == 0o700, f"{keys}: mode {oct(mode)}, its folder {oct(folder_mode)} (0600, 0700)")
    with open(keys, "rb") as f:
        original = f.read()
    stored = json.loads(original)
    names = ["sealing_key", "blind_index_key", "signing_key"]
    check(all(len(base64.b64decode(stored.get(n) or "")) == 32 for n in names), "it holds the three 32-byte keys")
    check(request(w.server.port, "GET", "/health/ready")[0] == 200, "the server started with it is ready")
    folder = tempfile.mkdtemp(prefix="faults-keys-")
    second = None
    try:
        # A first start without --demo and with a permissive umask creates the file owner-only.
        fresh = os.path.join(folder, "fresh", "keys.json")
        port = free_port()
        env = dict(w.server.env(), PORT=str(port), REGISTRY_KEYS_FILE=fresh)
        second = subprocess.Popen([w.server.binary, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT, umask=0)
        deadline = time.time() + 60
        while time.time() < deadline and second.poll() is None and not listening(port):
            time.sleep(0.2)
        check(second.poll() is None and request(port, "GET", "/health/live")[0] == 200,
              f"a second node without --demo and a new REGISTRY_KEYS_FILE serves (exit {second.poll()})")
        mode, folder_mode = os.stat(fresh).st_mode & 0o777, os.stat(os.path.dirname(fresh)).st_mode & 0o777
        check(mode == 0o600 and folder_mode == 0o700, f"the keys file it created under umask 000: mode {oct(mode)}, folder {oct(folder_mode)}")
        check(all(len(base64.b64decode(json.load(open(fresh)).get(n) or "")) == 32 for n in names), "with three new keys")
        second.send_signal(signal.SIGTERM)
        second.wait(30)
        check(request(w.server.port, "GET", "/health/ready")[0] == 200, "the first node is still ready after the second stopped")
        # The keys file beside the data folder with one or two of the three keys.
        try:
            for kept in (["sealing_key"], ["sealing_key", "blind_index_key"], ["blind_index_key", "signing_key"]):
                partial = json.dumps({n: stored[n] for n in kept}, indent=2).encode()
                with open(keys, "wb") as f:
                    f.write(partial)
                output = start_refused(w, f"a keys file with only {', '.join(kept)}", {})
                missing = [n for n in names if n not in kept]
                check(keys in output and "not a valid keys file" in output and any(n in output for n in missing),
                      f"the message names the file and a missing key ({'/'.join(missing)})")
                check(open(keys, "rb").read() == partial, "and the keys file is left as it was (no keys made up in its place)")
        finally:
            with open(keys, "wb") as f:
                f.write(original)
            os.chmod(keys, 0o600)
        # The keys in the environment: all three or none.
        variables = {"sealing_key": "REGISTRY_SEALING_KEY", "blind_index_key": "REGISTRY_BLIND_INDEX_KEY", "signing_key": "REGISTRY_SIGNING_KEY"}
        for given in (["signing_key"], ["sealing_key", "blind_index_key"]):
            output = start_refused(w, f"{' and '.join(variables[n] for n in given)} alone in the environment", {variables[n]: stored[n] for n in given})
            check("all three" in output and all(v in output for v in variables.values()), "the message says to set all three or none")
        inside = os.path.join(w.server.data, "keys-inside", "keys.json")
        output = start_refused(w, "REGISTRY_KEYS_FILE inside the data folder", {"REGISTRY_KEYS_FILE": inside})
        check("inside the data folder" in output and not os.path.exists(inside), "the message says why, and no keys file was made there")
        check(open(keys, "rb").read() == original and request(w.server.port, "GET", "/health/ready")[0] == 200,
              "the keys file is back as it was and the server still ready")
    finally:
        if second is not None and second.poll() is None:
            second.kill()
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(os.path.join(w.server.data, "keys-inside"), ignore_errors=True)


def cli_import_workers(w):
    """`registry import-workers --agency ID FILE.csv`: a clean roster is registered (read back through
    the API field by field, with its tenure and audit rows); in a file with bad rows each is reported
    with its line and reason (a repeated ID against its first line) and the valid rows around them are
    registered; a re-run creates nothing twice."""
    agency = agency_id(w)
    folder = tempfile.mkdtemp(prefix="faults-roster-")
    token = "".join(random.choice("甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉") for _ in range(4))
    header = "id_number,full_name,sex,phone,home_region,service_categories\n"

    def row(body):
        return ",".join([body["id_number"], body["full_name"], body["sex"], body["phone"] or "", body["home_region"],
                         ";".join(body["service_categories"])]) + "\n"

    def person(label, phone=True):
        body = registration_body(id_number())
        body["full_name"] = f"导入{token}{label}"
        body["phone"] = body["phone"] if phone else None
        return body

    def summary(output):
        found = re.search(r"created (\d+), already registered (\d+), transfer needed (\d+), rejected (\d+)", output)
        return tuple(int(g) for g in found.groups()) if found else None

    def verify_registered(bodies):
        ids = []
        for body in bodies:
            status, roster = request(w.server.port, "GET", "/api/v1/workers?q=" + urllib.parse.quote(body["full_name"]), token=w.agency)
            matches = [entry["id"] for entry in (roster or {}).get("workers", []) if entry["full_name"] == body["full_name"]]
            differences = stored_worker(w, matches[0], body, agency) if len(matches) == 1 else []
            check(status == 200 and len(matches) == 1 and not differences,
                  f"{body['full_name']}: on the agency's roster once ({status}, {len(matches)}), her file as imported {differences}")
            ids.append(matches[0])
        return ids

    try:
        clean = [person("一"), person("二", phone=False), person("三")]
        clean_file = os.path.join(folder, "clean.csv")
        with open(clean_file, "w") as f:
            f.write(header + "".join(row(b) for b in clean))
        result = w.server.cli("import-workers", "--agency", agency, clean_file)
        check(result.returncode == 0 and summary(result.stdout) == (3, 0, 0, 0) and "line " not in result.stdout,
              f"a clean roster: exit 0, created 3 ({result.returncode}: {result.stdout.strip()})")
        ids = verify_registered(clean)
        audited = w.server.psql("SELECT count(*) FROM audit_log WHERE action = 'worker.registered' AND details->>'via' = 'import' "
                                "AND subject_id = ANY(string_to_array(:'p1', ','))", ",".join(ids))
        check(audited == "3", f"one worker.registered audit row each ({audited})")

        # Lines: 2 valid, 3 a wrong check character, 4 valid, 5 the ID of line 2 again, 6 an unknown
        # category, 7 a sex that does not match the ID, 8 valid.
        good = [person("四"), person("五", phone=False), person("六")]
        wrong_check = person("错")
        number = wrong_check["id_number"]
        wrong_check["id_number"] = number[:17] + random.choice([c for c in "0123456789X" if c != number[17]])
        repeated = dict(good[0], full_name=f"导入{token}重")
        unknown = person("类")
        unknown["service_categories"] = ["gardening"]
        mismatch = person("性")
        mismatch["sex"] = "F" if mismatch["sex"] == "M" else "M"
        mixed_file = os.path.join(folder, "mixed.csv")
        with open(mixed_file, "w") as f:
            f.write(header + "".join(row(b) for b in [good[0], wrong_check, good[1], repeated, unknown, mismatch, good[2]]))
        result = w.server.cli("import-workers", "--agency", agency, mixed_file)
        reported = dict(re.findall(r"^line (\d+): (.*)$", result.stdout, re.M))
        check(summary(result.stdout) == (3, 0, 0, 4), f"bad rows: the 3 valid ones created, 4 rejected ({result.stdout.strip().splitlines()[-1]})")
        check(sorted(reported) == ["3", "5", "6", "7"] and all(r.startswith("rejected — ") and len(r) > len("rejected — ") + 5
                                                               for r in reported.values()),
              f"each bad row reported with its line and a reason: {reported}")
        check("line 2" in reported["5"], f"the repeated ID is reported against its first line ({reported['5']})")
        check(result.returncode == 2, f"rejected rows: exit status 2, as import-flags ({result.returncode})")
        with open(mixed_file + ".rejects.csv") as f:
            beside = list(csv.reader(f))
        check(beside[0] == ["line", "reason", "record"] and [r[0] for r in beside[1:]] == ["3", "5", "6", "7"]
              and wrong_check["id_number"] in beside[1][2] and all(r[1] for r in beside[1:]),
              f"every rejected record is written beside the input with its line, reason and the record as sent ({[r[:2] for r in beside]})")
        verify_registered(good)
        found = {}
        for body in (wrong_check, unknown, mismatch, repeated):
            status, roster = request(w.server.port, "GET", "/api/v1/workers?q=" + urllib.parse.quote(body["full_name"]), token=w.agency)
            found[body["full_name"]] = len(roster["workers"]) if status == 200 else status
        check(set(found.values()) == {0}, f"none of the rejected rows was registered {found}")
        again = w.server.cli("import-workers", "--agency", agency, mixed_file)
        check(summary(again.stdout) == (0, 3, 0, 4), f"a re-run creates nothing twice ({again.stdout.strip().splitlines()[-1]})")
        verify_registered(good)
        # `registry import-workers --help`: "--rejects <rejects>  Where to write the rejected records
        # (default: FILE.rejects.csv beside the input)".
        rejects = os.path.join(folder, "rejected.csv")
        out = w.server.cli("import-workers", "--agency", agency, mixed_file, "--rejects", rejects)
        check(out.returncode == 2 and os.path.exists(rejects), f"--rejects OUT: the rejected records are written there ({out.returncode})")
        with open(rejects) as f:
            check([r[0] for r in list(csv.reader(f))[1:]] == ["3", "5", "6", "7"], "the same four records")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# ---------------------------------------------------------------- messages that reach people

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "support"))
import codes_in_log  # noqa: E402  (Tests/support: the log check of with-server.sh and the browser suite)


def registry_root():
    """The folder with Migrations/, Policies/ and Web/ the server runs with."""
    return os.environ.get("REGISTRY_ROOT") or ROOT


@contextlib.contextmanager
def messages_policy(w, **changes):
    """The server restarted on a copy of the root whose Policies/messages.yaml has `changes` (the rest as
    it is), and back on the real one afterwards. The repository's backoff (30 s, doubling) and lease
    (60 s) would make these faults wait minutes for what shorter values show as well."""
    root = tempfile.mkdtemp(prefix="faults-root-")
    os.chmod(root, 0o755)
    for name in ("Migrations", "Web"):
        os.symlink(os.path.join(registry_root(), name), os.path.join(root, name))
    shutil.copytree(os.path.join(registry_root(), "Policies"), os.path.join(root, "Policies"))
    path = os.path.join(root, "Policies", "messages.yaml")
    with open(path) as f:
        text = f.read()
    for key, value in changes.items():
        text, n = re.subn(rf"^{key}: .*$", f"{key}: {value}", text, flags=re.M)
        if n != 1:
            raise SystemExit(f"messages.yaml has no line {key}")
    with open(path, "w") as f:
        f.write(text)
    w.server.stop()
    w.server.root = root
    w.server.start()
    try:
        yield
    finally:
        w.server.stop()
        w.server.root = None
        w.server.start()
        shutil.rmtree(root, ignore_errors=True)


def texting_workers(w, n):
    """n workers registered by the agency, each with a phone: (worker id, phone)."""
    workers, refused = [], []
    for _ in range(n):
        body = registration_body(id_number())
        status, answer = request(w.server.port, "POST", "/api/v1/workers", body, token=w.agency, timeout=15)
        if status == 201:
            workers.append((answer["id"], body["phone"]))
        else:
            refused.append((status, answer))
    check(not refused and len(workers) == n, f"{n} workers with phones registered ({refused[:2]})")
    return workers


def queue_texts(w, workers):
    """For each worker, the agency starts her account (an activation code) and asks twice for a check
    consent code: three texts each. Answers how many the API acknowledged (201), and the refusals."""
    queued, refused = 0, []
    for worker_id, _ in workers:
        for path in (f"/api/v1/workers/{worker_id}/account", f"/api/v1/workers/{worker_id}/consents", f"/api/v1/workers/{worker_id}/consents"):
            status, answer = request(w.server.port, "POST", path, token=w.agency, timeout=15)
            if status == 201:
                queued += 1
            else:
                refused.append((path, status, answer))
    return queued, refused


def last_message_id(w):
    return int(w.server.psql("SELECT coalesce(max(id), 0) FROM notifications"))


def texts_since(w, after):
    """The SMS queued after message `after`: {idempotency key: {recipient, kind, status, attempts, sent_at,
    lease_until}} (times as Unix seconds, or None)."""
    rows = w.server.psql("SELECT idempotency_key, recipient, template, status, attempts, extract(epoch FROM sent_at), "
                         "extract(epoch FROM lease_until) FROM notifications WHERE channel = 'sms' AND id > :'p1'::bigint ORDER BY id",
                         after)
    texts = {}
    for line in rows.splitlines():
        key, recipient, kind, status, attempts, sent_at, lease_until = line.split("|")
        texts[key] = {"to": recipient, "kind": kind, "status": status, "attempts": int(attempts),
                      "sent_at": float(sent_at) if sent_at else None, "lease_until": float(lease_until) if lease_until else None}
    return texts


def gateway_record(w):
    with open(w.sms_record, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def gateway_control(w, settings):
    status, _ = request(w.gateway_port, "POST", "/control", settings)
    check(status == 200, f"the gateway told {settings}")


def wait_all_sent(w, after, expected, seconds):
    """Waits until the `expected` texts queued after message `after` are all sent (or `seconds` pass)."""
    deadline = time.time() + seconds
    while True:
        texts = texts_since(w, after)
        if (len(texts) >= expected and all(t["status"] == "sent" for t in texts.values())) or time.time() > deadline:
            return texts
        time.sleep(0.5)


def delivered_once(w, texts, what):
    """Every text reached the gateway's record exactly once, to its recipient, as its kind; none lost."""
    record = gateway_record(w)
    lines = {}
    for entry in record:
        lines.setdefault(entry["id"], []).append(entry)
    missing = [k for k in texts if k not in lines]
    doubled = {k: len(lines[k]) for k in texts if len(lines.get(k, [])) > 1}
    wrong = [k for k in texts if k in lines and (lines[k][0]["to"] != texts[k]["to"] or lines[k][0]["kind"] != texts[k]["kind"])]
    check(not missing, f"{what}: every one of the {len(texts)} texts is in the gateway's record ({len(missing)} lost)")
    check(not doubled, f"none received twice: {len(texts)} request ids, {sum(len(lines[k]) for k in texts)} lines in the record "
                       f"(doubled: {list(doubled.items())[:3]})")
    check(not wrong, f"each to its worker's phone, as its kind ({len(wrong)} not)")
    total = len(record)
    check(total == len(lines), f"the whole record: {total} lines, {len(lines)} distinct request ids")


def outbox_settled(w, dead_before):
    """GET /api/v1/admin/messages as the administrator: nothing pending or sending, no new SMS dead letter."""
    status, overview = request(w.server.port, "GET", "/api/v1/admin/messages", token=w.admin)
    check(status == 200, f"GET /api/v1/admin/messages as the administrator ({status})")
    counts = overview["counts"]
    new_dead = [d for d in overview["dead"] if d["id"] not in dead_before and d["channel"] == "sms"]
    check(counts.get("pending", 0) == 0 and counts.get("sending", 0) == 0 and not new_dead,
          f"the outbox at the end: {counts}, {len(new_dead)} new SMS dead letters {new_dead[:2]}")


def dead_letters(w):
    status, overview = request(w.server.port, "GET", "/api/v1/admin/messages", token=w.admin)
    check(status == 200, f"the outbox's dead letters before ({status}: {overview.get('counts') if status == 200 else overview})")
    return {d["id"] for d in overview["dead"]}


def no_code_in_log(w):
    problems = codes_in_log.findings(w.sms_record, os.path.join(registry_root(), "Web", "i18n", "messages"), [w.server.log.name])
    codes = codes_in_log.issued(w.sms_record, os.path.join(registry_root(), "Web", "i18n", "messages"))[0]
    check(not problems, f"none of the {len(codes)} codes texted so far, nor any text, is in the server log {problems[:3]}")


def sms_gateway_down(w):
    """The SMS gateway's process gone for a minute while the agency keeps starting accounts and asking
    for consent codes: the outbox holds every text (retried, none dead), and once the gateway is back
    on the same address every one is delivered, exactly once."""
    # Policy copy: backoff_base_seconds 2, backoff_max_seconds 8 (the repository's 30 s doubling would
    # put the retries 1–4 minutes after the outage) and max_attempts 40 (a minute of failures at that
    # pace must not make a dead letter). The lease is the repository's.
    with messages_policy(w, backoff_base_seconds=2, backoff_max_seconds=8, max_attempts=40):
        workers = texting_workers(w, 8)
        dead_before = dead_letters(w)
        after = last_message_id(w)
        queued, refused = queue_texts(w, workers[:2])
        texts = wait_all_sent(w, after, queued, 20)
        check(not refused and len(texts) == queued and all(t["status"] == "sent" for t in texts.values()),
              f"with the gateway up, {queued} texts queued and sent ({refused[:2]})")
        w.gateway.kill()
        w.gateway.wait()
        down_at = time.time()
        check(not listening(w.gateway_port), f"the gateway's process killed: nothing listens on {w.gateway_port}")
        during = 0
        for i, worker in enumerate(workers[2:]):
            n, refused = queue_texts(w, [worker])
            check(not refused, f"{int(time.time() - down_at)} s into the outage: the agency's {n} requests acknowledged ({refused[:1]})")
            during += n
            time.sleep(max(0, down_at + 10 * (i + 1) - time.time()))
        texts = texts_since(w, after)
        waiting = [t for t in texts.values() if t["status"] in ("pending", "sending")]
        dead = [t for t in texts.values() if t["status"] == "dead"]
        tries = max(t["attempts"] for t in waiting)
        check(len(waiting) == during and not dead,
              f"after {time.time() - down_at:.0f} s without a gateway: the {during} texts queued meanwhile wait in the outbox "
              f"({len(waiting)} pending, {len(dead)} dead), tried up to {tries} times")
        if tries < 6:
            print(f"note  the first text of the outage was tried only {tries} times in {time.time() - down_at:.0f} s with a 1–8 s "
                  "backoff: a try against the closed port is logged as unreachable about 10 s after it starts (the send "
                  "timeout), not at once, and holds a place in the dispatcher's round meanwhile", flush=True)
        w.gateway, port = start_gateway(w.server.data, w.sms_record, w.gateway_port)
        up_at = time.time()
        check(port == w.gateway_port, f"the gateway started again on the same port {port}, same secret and record")
        texts = wait_all_sent(w, after, queued + during, 60)
        sent = [t for t in texts.values() if t["status"] == "sent"]
        last = max(t["sent_at"] for t in sent)
        check(len(sent) == queued + during, f"every text sent: {len(sent)} of {queued + during}, the last "
                                            f"{last - up_at:.1f} s after the gateway was back")
        delivered_once(w, texts, "after the outage")
        outbox_settled(w, dead_before)
        no_code_in_log(w)


def kill9_mid_batch(w):
    """kill -9 of the registry while its dispatcher is in the middle of a batch to a slow gateway: after
    the restart every text is delivered, each received once; those the dead node had leased go again
    only once their lease has run out, and the ones the gateway had already accepted come back as
    repeats that it drops (409), which the outbox counts as sent."""
    # Policy copy: lease_seconds 10 instead of 60 (the wait after the restart), a short backoff.
    lease = 10
    with messages_policy(w, lease_seconds=lease, backoff_base_seconds=2, backoff_max_seconds=8, max_attempts=40):
        workers = texting_workers(w, 40)
        dead_before = dead_letters(w)
        after = last_message_id(w)
        recorded_before = len(gateway_record(w))
        gateway_control(w, {"delay": 1.0})  # a second per text, 8 at a time: a batch of 50 takes 7 s
        queued, refused = queue_texts(w, workers)
        check(not refused and queued == 3 * len(workers), f"{queued} texts queued ({refused[:2]})")
        # Kill once a batch is under way: some of ours accepted, more leased than are in flight.
        deadline, state = time.time() + 60, {}
        while time.time() < deadline:
            texts = texts_since(w, after)
            state = {s: sum(1 for t in texts.values() if t["status"] == s) for s in ("pending", "sending", "sent")}
            if state["sent"] >= 8 and state["sending"] >= 20:
                break
            time.sleep(0.2)
        w.server.kill9()
        killed_at = time.time()
        check(state.get("sending", 0) >= 20, f"kill -9 mid-batch: {state}")
        time.sleep(1.5)  # the texts in flight reach the gateway (it answers a socket nobody reads)
        texts = texts_since(w, after)
        leased = {k: t for k, t in texts.items() if t["status"] == "sending"}
        accepted = {e["id"] for e in gateway_record(w)[recorded_before:]}
        unmarked = {k for k in leased if k in accepted}
        check(len(leased) > len(unmarked) > 0,
              f"the dead node left {len(leased)} texts leased, {len(unmarked)} of them accepted by the gateway but never marked sent")
        gateway_control(w, {"delay": 0})
        w.server.start()
        restarted_at = time.time()
        texts = wait_all_sent(w, after, queued, lease + 60)
        sent = [t for t in texts.values() if t["status"] == "sent"]
        check(len(sent) == queued, f"after the restart every text is sent ({len(sent)} of {queued}, "
                                   f"{time.time() - restarted_at:.0f} s after the restart)")
        early = [k for k in leased if texts[k]["sent_at"] < leased[k]["lease_until"]]
        check(not early and all(texts[k]["attempts"] >= 2 for k in leased),
              f"the {len(leased)} leased by the dead node went again only after their lease ran out "
              f"({lease} s; {len(early)} sooner), each on a second attempt")
        status, repeats = request(w.gateway_port, "GET", "/repeats")
        check(status == 200 and unmarked <= set(repeats),
              f"the {len(unmarked)} the gateway had accepted came again with the same request id and were dropped as repeats (409): "
              f"{len(unmarked & set(repeats))} of them among its {len(repeats)} repeats")
        delivered_once(w, texts, "after kill -9 mid-batch")
        outbox_settled(w, dead_before)
        no_code_in_log(w)


def start_gateway(data, record, port=0):
    """The recording SMS gateway on `port` (0: a free one), appending to `record`: (its process, its port)."""
    ready = os.path.join(data, "sms.port")
    if os.path.exists(ready):
        os.remove(ready)
    process = subprocess.Popen([sys.executable, os.path.join(ROOT, "Tests", "support", "sms_gateway.py"), "--secret", SMS_SECRET,
                                "--record", record, "--ready-file", ready, "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        if os.path.exists(ready) and open(ready).read().strip():
            return process, int(open(ready).read().strip())
        if process.poll() is not None:
            break
        time.sleep(0.1)
    raise SystemExit(f"the recording SMS gateway did not start on port {port or 'any'} (exit {process.poll()})")


FAULTS = [kill9_during_writes, replayed_batches, postgres_restart, slow_clients, postgres_crash, extreme_numbers, import_flags_exit,
          writes_while_postgres_down, cli_report_verify, cli_audit_checkpoint, keys_file, no_sms_channel, cli_import_workers,
          sms_gateway_down, kill9_mid_batch]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    binary = os.path.abspath(sys.argv[1])
    only = sys.argv[sys.argv.index("-k") + 1] if "-k" in sys.argv else None
    data = tempfile.mkdtemp(prefix="registry-faults.")
    os.chmod(data, 0o755)
    w = World()
    w.server = Server(binary, data)
    # The recording SMS gateway (Tests/support/sms_gateway.py): a server not in demo mode must have one.
    w.sms_record = os.path.join(data, "sms.jsonl")
    w.gateway, w.gateway_port = start_gateway(data, w.sms_record)
    w.server.sms_gateway = f"http://127.0.0.1:{w.gateway_port}"
    started = time.time()
    try:
        w.server.start(demo=True)
        w.admin = login(w.server.port, "admin@demo.registry.local")
        w.agency = login(w.server.port, "anxin@demo.registry.local")
        for fault in FAULTS:
            if only and only not in fault.__name__ and fault is not kill9_during_writes:
                continue
            print(f"--- {fault.__name__}", flush=True)
            fault(w)
        print(f"fault tests passed in {time.time() - started:.0f} s", flush=True)
    finally:
        w.server.stop()
        if w.gateway.poll() is None:
            w.gateway.terminate()
        # The cluster outlives a killed server; stop it whatever happened.
        w.server.pg_ctl("-m", "fast", "-w", "stop")
        if os.environ.get("KEEP_FAULT_DATA") != "1":
            shutil.rmtree(data, ignore_errors=True)
            shutil.rmtree(data + "-keys", ignore_errors=True)  # the keys file lives beside the data folder
        else:
            print(f"data kept in {data}")


if __name__ == "__main__":
    main()
