#!/usr/bin/env python3
"""The failover drill (part of `make test`, scripts/cluster-drill.sh): the cluster of
`make cluster` in a temporary folder — pg_auto_failover's monitor, a primary and a synchronous
standby, two registry nodes, HAProxy in front — with 8 clients writing through the balancer.

  1. kill -9 the primary PostgreSQL node (its pg_autoctl keeper and postmaster): the standby is
     promoted and the registry nodes move to it by themselves;
  2. kill -9 one registry node: the balancer stops sending to it;
  3. restart the old primary's keeper: it rejoins as the standby.

Each client loops: register a worker (agency), place her with the demo household, which confirms
and reviews the placement. Afterwards every acknowledged registration and review is present
exactly once, and `registry audit verify` passes on the new primary. Every failed request must be
503 with Retry-After (never a 500, never a hang). The figures (seconds without writes after each
kill, failed requests) are printed, and written to the file named by DRILL_FIGURES if set.

Usage: drill.py REGISTRY_BINARY   (Python standard library only)
"""
import datetime
import http.client
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "Tests", "faults"))
from faults import check, id_number, registration_body  # noqa: E402

PASSWORD = "drill-" + "".join(random.choice("abcdefghjkmnpqrstuvwxyz23456789") for _ in range(12))
AGENCY = "anxin@demo.registry.local"
HOUSEHOLD = "household@demo.registry.local"
CLIENTS = 8
TIMEOUT = 40  # a request that takes longer is a hang


class Cluster:
    def __init__(self, binary):
        self.binary = binary
        self.dir = tempfile.mkdtemp(prefix="registry-drill-")
        os.chmod(self.dir, 0o755)
        self.port = random.randint(20, 60) * 1000 + 90
        self.env = dict(os.environ, CLUSTER_DIR=self.dir, CLUSTER_PORT=str(self.port), REGISTRY_DEMO_PASSWORD=PASSWORD)
        self.env.pop("DATABASE_URL", None)

    def script(self, *args, timeout=600):
        return subprocess.run([os.path.join(ROOT, "scripts", "cluster.sh"), *args], env=self.env, capture_output=True, text=True,
                              timeout=timeout, cwd=ROOT)

    def up(self):
        result = self.script("up", self.binary)
        if result.returncode != 0:
            for name in sorted(os.listdir(os.path.join(self.dir, "log"))):
                with open(os.path.join(self.dir, "log", name), errors="replace") as f:
                    print(f"--- {name}\n" + "".join(f.readlines()[-30:]))
            raise SystemExit(f"make cluster failed:\n{result.stdout}\n{result.stderr}")

    def states(self):
        """pg_autoctl's view: node name -> reported state."""
        out = self.script("status", timeout=60).stdout
        states = {}
        for line in out.splitlines():
            cells = [c.strip() for c in line.split("|")]
            if len(cells) == 7 and cells[0].startswith("node"):
                states[cells[0]] = cells[5]
        return states

    def wait_state(self, name, wanted, seconds):
        deadline = time.time() + seconds
        while time.time() < deadline:
            if self.states().get(name) in wanted:
                return True
            time.sleep(0.5)
        return False

    def kill_node(self, name):
        """kill -9 a PostgreSQL node's whole process group: pg_autoctl and the postmaster under it."""
        with open(os.path.join(self.dir, name, "postmaster.pid")) as f:
            postmaster = int(f.readline())
        group = os.getpgid(postmaster)
        os.killpg(group, signal.SIGKILL)
        return postmaster

    def kill_registry(self, index):
        with open(os.path.join(self.dir, "run", f"registry-{index}.pid")) as f:
            pid = int(f.read())
        os.kill(pid, signal.SIGKILL)

    def sql(self, statement):
        """One statement on the primary (libpq's multi-host URL), as the cluster's superuser."""
        command = ["psql", self.script("url").stdout.strip(), "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", statement]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--"] + command
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise SystemExit(f"psql failed: {result.stderr}")
        return [line.split("|") for line in result.stdout.strip().splitlines() if line]

    def down(self, keep=False):
        self.script("down", timeout=180)
        if not keep:
            shutil.rmtree(self.dir, ignore_errors=True)


def request(port, method, path, body=None, token=None):
    """(status, parsed body, Retry-After) or (None, error, None) when the connection failed."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        headers["Authorization"] = "Bearer " + token
    try:
        connection.request(method, path, None if body is None else json.dumps(body).encode(), headers)
        response = connection.getresponse()
        data = response.read()
        try:
            parsed = json.loads(data) if data else None
        except ValueError:
            parsed = data[:200]
        return response.status, parsed, response.getheader("Retry-After")
    except TimeoutError:
        return "hang", None, None
    except OSError as error:
        return None, str(error), None
    finally:
        connection.close()


def login(port, email):
    status, body, _ = request(port, "POST", "/api/v1/auth/login", {"email": email, "password": PASSWORD})
    if status != 200:
        raise SystemExit(f"login as {email}: {status} {body}")
    return body["token"]


class Writers:
    """8 clients; every answer is recorded with its time."""

    def __init__(self, port, agency, household):
        self.port, self.agency, self.household = port, agency, household
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.acks = []  # time of each acknowledged write
        self.workers = {}  # worker id -> body sent
        self.reviews = {}  # review id -> engagement id
        self.failures = []  # (time, status, code, retry-after, path)
        self.unknown = 0  # writes whose outcome the client cannot know (connection cut, 503 on a write)

    def send(self, method, path, body, token):
        status, answer, retry_after = request(self.port, method, path, body, token)
        now = time.time()
        with self.lock:
            if isinstance(status, int) and status < 300:
                self.acks.append(now)
            else:
                code = (answer or {}).get("error", {}).get("code") if isinstance(answer, dict) else None
                self.failures.append((now, status, code, retry_after, re.sub(r"[0-9a-f-]{36}", "{id}", path)))
        if not (isinstance(status, int) and status < 500):
            # A client that is told to come back later waits a little (not the whole Retry-After,
            # so that the figures show when writes resume, not when the clients looked again).
            time.sleep(0.5)
        return status, answer

    def client(self):
        today = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=8)).date().isoformat()
        while not self.stop.is_set():
            body = registration_body(id_number())
            status, answer = self.send("POST", "/api/v1/workers", body, self.agency)
            if status != 201:
                continue
            worker = answer["id"]
            with self.lock:
                self.workers[worker] = body
            status, answer = self.send("POST", "/api/v1/engagements", {
                "worker_id": worker, "employer_email": HOUSEHOLD, "category": body["service_categories"][0],
                "starts_on": today}, self.agency)
            if status != 201:
                continue
            engagement = answer["id"]
            status, _ = self.send("POST", f"/api/v1/engagements/{engagement}/confirm", None, self.household)
            if status != 200:
                continue
            status, answer = self.send("POST", f"/api/v1/engagements/{engagement}/review", {
                "skill_scores": {"punctuality": random.randint(3, 5), "quality": random.randint(3, 5)},
                "ethics_scores": {"honesty": 5, "respect": 5, "reliability": random.randint(4, 5), "care": 5}}, self.household)
            if status == 201:
                with self.lock:
                    self.reviews[answer["id"]] = engagement

    def start(self):
        self.threads = [threading.Thread(target=self.client, daemon=True) for _ in range(CLIENTS)]
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(TIMEOUT + 5)

    def acks_since(self, moment):
        with self.lock:
            return [t for t in self.acks if t > moment]

    def gap_after(self, moment, until):
        """The longest time without an acknowledged write from `moment` to `until`: between
        consecutive acknowledgements, counting from the last one before `moment`. (The first
        acknowledgement after `moment` alone can be a write committed just before it.)"""
        with self.lock:
            before = [t for t in self.acks if t <= moment]
            within = sorted(t for t in self.acks if moment < t <= until)
        if not within:
            return None
        times = [before[-1] if before else moment] + within
        return max(b - a for a, b in zip(times, times[1:]))

    def failures_between(self, start, end):
        with self.lock:
            return [f for f in self.failures if start <= f[0] < end]


def wait_for_writes(writers, moment, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if writers.acks_since(moment):
            return True
        time.sleep(0.2)
    return False


def summary(failures):
    counts = {}
    for _, status, code, _, path in failures:
        key = f"{status} {code or ''}".strip()
        counts[key] = counts.get(key, 0) + 1
    return ", ".join(f"{n}× {k}" for k, n in sorted(counts.items())) or "none"


def main():
    binary = os.path.abspath(sys.argv[1])
    cluster = Cluster(binary)
    started = time.time()
    ok = False
    try:
        cluster.up()
        check(True, f"make cluster: monitor, primary, standby, two registry nodes and the balancer up in {time.time() - started:.0f} s")
        port = cluster.port
        writers = Writers(port, login(port, AGENCY), login(port, HOUSEHOLD))
        writers.start()
        time.sleep(6)
        check(len(writers.acks) > 0, f"8 clients writing through the balancer ({len(writers.acks)} writes acknowledged in 6 s)")

        # 1. The primary PostgreSQL node dies.
        states = cluster.states()
        primary = next((n for n, s in states.items() if s in ("primary", "wait_primary", "single")), None)
        standby = next((n for n in states if n != primary), None)
        check(primary is not None and standby is not None, f"the formation: {states}")
        killed_primary = time.time()
        cluster.kill_node(primary)
        resumed = wait_for_writes(writers, killed_primary + 0.5, 90)
        check(resumed, f"writes resumed after kill -9 of the primary ({primary})")
        check(cluster.wait_state(standby, ("wait_primary", "primary"), 30), f"{standby} was promoted")
        time.sleep(4)
        primary_gap = writers.gap_after(killed_primary, time.time())
        primary_failures = writers.failures_between(killed_primary, time.time())

        # 2. A registry node dies.
        killed_node = time.time()
        cluster.kill_registry(1)
        time.sleep(8)
        check(writers.acks_since(killed_node + 4), "writes go on through the other registry node")
        node_gap = writers.gap_after(killed_node, time.time())
        node_failures = writers.failures_between(killed_node, time.time())

        # 3. The old primary comes back and rejoins as the standby.
        rejoin_started = time.time()
        result = cluster.script("restart-node", primary, timeout=60)
        check(result.returncode == 0, f"the old primary's keeper restarted ({result.stderr.strip()[:200]})")
        check(cluster.wait_state(primary, ("secondary",), 120),
              f"{primary} rejoined as the standby in {time.time() - rejoin_started:.0f} s")
        time.sleep(3)
        writers.finish()
        total = len(writers.acks)

        # Nothing acknowledged is lost or doubled.
        hangs = [f for f in writers.failures if f[1] == "hang"]
        check(not hangs, f"no request hung (more than {TIMEOUT} s): {len(hangs)}")
        bad = [f for f in writers.failures if f[1] is not None and (f[1] >= 500 and (f[1] != 503 or not f[3]))]
        check(not bad, f"every 5xx was 503 with Retry-After ({bad[:5]})")
        agency = login(port, AGENCY)
        missing = [w for w in writers.workers if request(port, "GET", f"/api/v1/workers/{w}", token=agency)[0] != 200]
        check(not missing, f"all {len(writers.workers)} acknowledged registrations are there ({missing[:3]})")
        ids = ",".join(f"'{r}'" for r in writers.reviews) or "NULL"
        stored = {row[0]: row[1] for row in cluster.sql(f"SELECT id, engagement_id FROM reviews WHERE id IN ({ids})")}
        lost = [r for r, e in writers.reviews.items() if stored.get(r) != e]
        check(not lost, f"all {len(writers.reviews)} acknowledged reviews are there, on their engagements ({lost[:3]})")
        doubled = cluster.sql("SELECT engagement_id FROM reviews GROUP BY engagement_id HAVING count(*) > 1")
        check(not doubled, f"no engagement has two reviews ({doubled[:3]})")
        twice = cluster.sql("SELECT id_blind_index FROM workers GROUP BY id_blind_index HAVING count(*) > 1")
        check(not twice, f"no ID number registered twice ({len(twice)})")

        env = dict(os.environ, DATABASE_URL=cluster.script("url").stdout.strip(), REGISTRY_DB_APP_PASSWORD="cluster app password",
                   REGISTRY_KEYS_FILE=os.path.join(cluster.dir, "keys", "keys.json"),
                   REGISTRY_DATA_DIR=os.path.join(cluster.dir, "registry-2"))
        verify = subprocess.run([binary, "audit", "verify"], env=env, capture_output=True, text=True, timeout=300, cwd=ROOT)
        check(verify.returncode == 0, f"registry audit verify on the new primary: {verify.stdout.strip().splitlines()[-1:]}")

        figures = [
            f"writes acknowledged in all: {total} ({len(writers.workers)} registrations, {len(writers.reviews)} reviews) by {CLIENTS} clients",
            f"primary PostgreSQL killed (-9): {primary_gap:.1f} s without an acknowledged write; failed requests: "
            f"{len(primary_failures)} ({summary(primary_failures)})",
            f"registry node killed (-9): {node_gap:.1f} s between acknowledged writes; failed requests: "
            f"{len(node_failures)} ({summary(node_failures)})",
            f"old primary rejoined as standby in {time.time() - rejoin_started:.0f} s; drill took {time.time() - started:.0f} s",
        ]
        print("\nDrill figures:\n  " + "\n  ".join(figures), flush=True)
        if os.environ.get("DRILL_FIGURES"):
            with open(os.environ["DRILL_FIGURES"], "w") as f:
                f.write("\n".join(figures) + "\n")
        check(primary_gap < 30, f"downtime on primary loss under 30 s ({primary_gap:.1f} s; target 15 s)")
        ok = True
    finally:
        cluster.down(keep=not ok and bool(os.environ.get("DRILL_KEEP")))


if __name__ == "__main__":
    main()
