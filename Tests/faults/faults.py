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

Only the standard library; prints one line per check and exits 1 on the first failure.
"""
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

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

class Server:
    def __init__(self, binary, data):
        self.binary, self.data = binary, data
        self.port = free_port()
        self.process = None
        self.log = open(os.path.join(data, "faults-server.log"), "ab")

    def env(self):
        env = dict(os.environ)
        env.update({"REGISTRY_DATA_DIR": self.data, "PORT": str(self.port), "REGISTRY_DEMO_PASSWORD": PASSWORD,
                    "REGISTRY_IDLE_TIMEOUT": str(IDLE_TIMEOUT), "REGISTRY_LOG_LEVEL": "info"})
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
        result = subprocess.run(["psql", url, "-X", "-At", *variables], input=sql, capture_output=True, text=True, timeout=60)
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
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {}
    if body is not None:
        headers["Content-Type"] = "application/json"
        body = json.dumps(body)
    if token:
        headers["Authorization"] = "Bearer " + token
    try:
        connection.request(method, path, body, headers)
        response = connection.getresponse()
        data = response.read()
        try:
            parsed = json.loads(data) if data else None
        except ValueError:
            parsed = None
        return response.status, parsed
    finally:
        connection.close()


def login(port, email):
    status, body = request(port, "POST", "/api/v1/auth/login", {"email": email, "password": PASSWORD})
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


def replayed_batches(w):
    status, source = request(w.server.port, "POST", "/api/v1/integrations",
                             {"name": "faults-police", "kind": "police", "display_name": "Faults police", "require_signature": False},
                             token=w.admin)
    check(status == 201, f"integration source created ({status})")
    status, key = request(w.server.port, "POST", f"/api/v1/integrations/{source['id']}/keys", {"label": "faults"}, token=w.admin)
    check(status == 201, f"API key issued ({status})")
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
    check(events_after == events, f"and no second audit event for them ({events} then {events_after})")


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
    # Requests caught in the first moments wait at most until the database is back.
    longest = max(s[1] for s in samples)
    check(longest < (up_at - down_at) + 5, f"no request hung ({longest:.1f} s at most, outage {up_at - down_at:.1f} s)")
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
    times = []
    for _ in range(20):
        start = time.time()
        status = request(w.server.port, "GET", f"/api/v1/workers/{worker}", token=w.agency)[0]
        times.append(time.time() - start)
        check(status == 200, "a normal request is served while others stall") if len(times) == 1 else None
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


FAULTS = [kill9_during_writes, replayed_batches, postgres_restart, slow_clients]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    binary = os.path.abspath(sys.argv[1])
    only = sys.argv[sys.argv.index("-k") + 1] if "-k" in sys.argv else None
    data = tempfile.mkdtemp(prefix="registry-faults.")
    os.chmod(data, 0o755)
    w = World()
    w.server = Server(binary, data)
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
        # The cluster outlives a killed server; stop it whatever happened.
        w.server.pg_ctl("-m", "fast", "-w", "stop")
        if os.environ.get("KEEP_FAULT_DATA") != "1":
            shutil.rmtree(data, ignore_errors=True)
        else:
            print(f"data kept in {data}")


if __name__ == "__main__":
    main()
