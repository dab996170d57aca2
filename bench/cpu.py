#!/usr/bin/env python3
"""Where the CPU went during one measurement: the service's process, PostgreSQL (the postmaster,
its live backends and those that exited) and the whole machine (every core), from /proc.

usage: cpu.py snap SERVICE_PID POSTMASTER_PID > before.json
       cpu.py run LOADGEN.txt -- COMMAND...          runs the load generator, writing its own CPU seconds
       cpu.py diff before.json after.json REQUESTS [LOADGEN.txt]   -> key=value line:
         service_ms  postgres_ms  loadgen_ms   CPU milliseconds per request of the service's process,
                                               of PostgreSQL and of the load generator (or the command)
         other_pct                             share of the cores used by anything else on the machine
         busy_pct                              share of all cores busy during the measurement
         bound                                 what bounds the figure: when the cores were ≥ 90 % busy, the
                                               busier of the service and PostgreSQL (or the command
                                               itself); otherwise "waiting" (locks, I/O, round trips)
SERVICE_PID may be 0 (no service in the measurement).
"""
import json
import os
import sys

TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid, children_done=False):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return (utime + stime + ((cutime + cstime) if children_done else 0)) / TICK


def children(pid):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
                pass
    return found


def machine():
    with open("/proc/stat") as f:
        parts = [int(x) for x in f.readline().split()[1:]]
    idle = parts[3] + parts[4]
    return sum(parts) / TICK, idle / TICK


def snap(service, postmaster):
    total, idle = machine()
    postgres = proc_cpu(postmaster, children_done=True) + sum(proc_cpu(c) for c in children(postmaster))
    return {"service": proc_cpu(service) if service else 0.0, "postgres": postgres, "total": total, "idle": idle}


def main():
    if sys.argv[1] == "run":
        import resource
        import subprocess
        command = sys.argv[sys.argv.index("--") + 1:]
        status = subprocess.call(command)
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        with open(sys.argv[2], "w") as f:
            f.write(f"{usage.ru_utime + usage.ru_stime}\n")
        sys.exit(status)
    if sys.argv[1] == "snap":
        json.dump(snap(int(sys.argv[2]), int(sys.argv[3])), sys.stdout)
        return
    a, b = (json.load(open(p)) for p in sys.argv[2:4])
    requests = max(1, int(float(sys.argv[4])))
    total = max(1e-9, b["total"] - a["total"])
    busy = (b["total"] - a["total"]) - (b["idle"] - a["idle"])
    service = b["service"] - a["service"]
    postgres = b["postgres"] - a["postgres"]
    loadgen = float(open(sys.argv[5]).read()) if len(sys.argv) > 5 else 0.0
    other = max(0.0, busy - service - postgres - loadgen)
    share = busy / total
    parts = {"the service": service, "PostgreSQL": postgres}
    if not service:
        parts["the command"] = loadgen
    bound = max(parts, key=parts.get) + " CPU" if share >= 0.9 else "waiting"
    per = lambda s: s * 1000 / requests
    print(f"service_ms={per(service):.3f} postgres_ms={per(postgres):.3f} loadgen_ms={per(loadgen):.3f} "
          f"other_pct={other / total * 100:.0f} busy_pct={share * 100:.0f} bound={bound.replace(' ', '_')}")


if __name__ == "__main__":
    main()
