#!/usr/bin/env python3
"""lb-proxy --workers: 1 against 2 workers. wrk (keep-alive GETs, -c64)
through lb-proxy to one nginx backend that answers 200 itself; req/s, and
the proxy's CPU per request (utime + stime of the supervisor and its workers
from /proc, over the run, divided by the requests answered). Modes alternate,
ROUNDS rounds of DURATION seconds, medians printed.

Modes on this machine (2 cores, shared):
  pinned-1w    the proxy alone on the last core (taskset), wrk and nginx on the
               others: the usual setup of tests/bench (one event loop)
  pinned-2w    --workers 2 on that same one core: what the supervisor and a
               second loop cost when there is no core to gain
  shared-1w    nothing pinned: proxy, wrk -t1 and nginx share every core
  shared-2w    the same with --workers 2 (--workers auto is 2 here)

On a bigger machine, give the proxy K cores and the load the rest, and let
--workers auto follow the affinity:
  taskset -c 0-$((K-1)) bin/lb-proxy --workers auto ...   # K workers
  taskset -c K-... wrk -tT -c256 ...                       # the load elsewhere
and raise K (1, 2, 4, ...) while the load cores keep up (wrk's own CPU below
100% per thread): req/s per worker shows where scaling stops.

  python3 tests/bench/bench_workers.py      (ROUNDS=3 DURATION=5 by default)
"""
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import common  # noqa: E402
from common import (BIN, NCPU, SUT_CPUS, Procs, free_port, nginx, table,  # noqa: E402
                    wait_port, wrk)

ROUNDS = int(os.environ.get("ROUNDS", "3"))
DURATION = int(os.environ.get("DURATION", "5"))
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime + stime of pid and its children (a supervisor's workers), and of pid alone."""
    total, own = 0.0, 0.0
    pids = [pid]
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            pids += [int(x) for x in f.read().split()]
    except OSError:
        pass
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            t = (int(fields[11]) + int(fields[12])) / TICK
        except OSError:
            continue
        total += t
        if p == pid:
            own = t
    return total, own


def start_nginx(procs):
    port = free_port()
    nginx(procs, f"server {{ listen 127.0.0.1:{port}; location / {{ return 200 \"ok\\n\"; }} }}",
          under_test=False)
    wait_port(port)
    return f"127.0.0.1:{port}"


def run(mode, backend):
    workers = 2 if mode.endswith("2w") else 1
    pinned = mode.startswith("pinned")
    procs = Procs()
    port, admin = free_port(), free_port()
    argv = [os.path.join(BIN, "lb-proxy"), "--listen", f"127.0.0.1:{port}", "--admin",
            f"127.0.0.1:{admin}", "--backends", backend, "--access-log", "off",
            "--workers", str(workers)]
    if pinned and NCPU >= 2:
        argv = ["taskset", "-c", ",".join(SUT_CPUS)] + argv
    try:
        p = procs.start(argv, name=mode)
        wait_port(port)
        time.sleep(0.3 if workers == 1 else 1.0)	# every worker listening
        before = cpu_seconds(p.pid)
        saved, common.PIN = common.PIN, common.PIN and pinned	# wrk pinned or not
        try:
            r = wrk(f"http://127.0.0.1:{port}/", duration=DURATION)
        finally:
            common.PIN = saved
        after = cpu_seconds(p.pid)
        cpu = after[0] - before[0]
        # the supervisor's own CPU (0 with one worker: it is the worker then)
        supervisor = after[1] - before[1] if workers > 1 else 0.0
        requests = r["rps"] * DURATION
        return (r["rps"], cpu / requests * 1e6 if requests else 0.0, r["non2xx"], r["sockerr"],
                supervisor)
    finally:
        procs.stop_all()


def main():
    modes = ["pinned-1w", "pinned-2w", "shared-1w", "shared-2w"]
    backend_procs = Procs()
    try:
        backend = start_nginx(backend_procs)
        got = {m: [] for m in modes}
        for _ in range(ROUNDS):
            for m in modes:
                got[m].append(run(m, backend))
    finally:
        backend_procs.stop_all()
    with open("/proc/loadavg") as f:
        load = f.read().split()[0]
    print(f"lb-proxy --workers: {NCPU} CPUs, load average {load} at the end, "
          f"{ROUNDS} rounds x {DURATION} s, medians")
    rows = []
    for m in modes:
        rps = statistics.median(x[0] for x in got[m])
        cpu = statistics.median(x[1] for x in got[m])
        errors = sum(x[2] for x in got[m])
        sup = max(x[4] for x in got[m])
        rows.append([m, f"{rps:,.0f}", f"{cpu:.1f}", f"{sup:.2f}", errors,
                     "; ".join(x[3] for x in got[m] if x[3]) or "-"])
    table(rows, ["mode", "req/s", "proxy CPU us/req", "supervisor CPU s (max)", "non-2xx",
                 "socket errors"])


if __name__ == "__main__":
    main()
