#!/usr/bin/env python3
"""The io_uring experiment (issue 26, docs/benchmarks.md "io_uring"): would an
io_uring transport make lb-proxy cheaper per request than its epoll loop?

tests/bench/relay_ceiling.c relays bytes between each client and its own
backend connection, once with epoll and once with io_uring (multishot accept,
multishot recv into a provided-buffer ring, sends submitted once per pass):
the system calls of a proxied keep-alive request without any HTTP work. The
difference between the two is the most an io_uring transport could save.
lb-proxy --mode tcp (the same relay inside lb) and lb-proxy over HTTP run in
the same rounds, against the same lb-echo backend, each alone on its core.

  python3 tests/bench/bench_uring.py          (ROUNDS=3 DURATION=5 CONNS=50)

Prints req/s and CPU µs per request (the relay's user + system time over
wrk's requests), medians of the rounds.
"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import BIN, Procs, echo_backends, free_port, table, wait_port, wrk  # noqa: E402
from support.procfs import cpu_seconds  # noqa: E402

ROUNDS = int(os.environ.get("ROUNDS", "3"))
DURATION = int(os.environ.get("DURATION", "5"))
CONNS = int(os.environ.get("CONNS", "50"))
HERE = os.path.dirname(os.path.abspath(__file__))


def build_relay():
    out = os.path.join(tempfile.mkdtemp(prefix="relay-"), "relay_ceiling")
    r = subprocess.run(["cc", "-O2", "-Wall", "-o", out, os.path.join(HERE, "relay_ceiling.c"),
                        "-luring"], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("bench_uring: cannot build relay_ceiling (make bench-deps installs "
                 "liburing-dev):\n" + r.stderr)
    return out


def main():
    relay = build_relay()
    procs = Procs()
    try:
        # the backend runs beside wrk, not on the core of the subject measured
        be_port = int(echo_backends(procs, 1)[0].rsplit(":", 1)[1])
        subjects = {
            "relay epoll": lambda port: [relay, "epoll", str(port), str(be_port)],
            "relay io_uring": lambda port: [relay, "uring", str(port), str(be_port)],
            "lb-proxy tcp": lambda port: [os.path.join(BIN, "lb-proxy"), "--mode", "tcp",
                                          "--listen", f"127.0.0.1:{port}", "--backends",
                                          f"127.0.0.1:{be_port}", "--access-log", "off",
                                          "--admin", "127.0.0.1:0", "--runtime-dir",
                                          procs.dir],
            "lb-proxy http": lambda port: [os.path.join(BIN, "lb-proxy"), "--listen",
                                           f"127.0.0.1:{port}", "--backends",
                                           f"127.0.0.1:{be_port}", "--access-log", "off",
                                           "--admin", "127.0.0.1:0", "--runtime-dir",
                                           procs.dir],
        }
        started = {}
        for name, argv in subjects.items():
            port = free_port()
            started[name] = (procs.start(argv(port), name=name.replace(" ", "-"),
                                         under_test=True), port)
            wait_port(port)
        got = {name: [] for name in subjects}
        for rnd in range(ROUNDS):
            for name, (p, port) in started.items():
                wrk(f"http://127.0.0.1:{port}/", duration=1, connections=CONNS)   # warm
                cpu = cpu_seconds(p.pid)
                res = wrk(f"http://127.0.0.1:{port}/", duration=DURATION, connections=CONNS)
                used = cpu_seconds(p.pid) - cpu
                n = res["rps"] * DURATION
                res["cpu_us"] = used * 1e6 / n if n else float("nan")
                got[name].append(res)
                print(f"round {rnd + 1} {name}: {res['rps']:.0f} req/s, p99 {res['p99']:.2f} ms, "
                      f"cpu {res['cpu_us']:.2f} us/req", flush=True)
        rows = []
        base = statistics.median(r["cpu_us"] for r in got["relay epoll"])
        for name in subjects:
            cpu = statistics.median(r["cpu_us"] for r in got[name])
            rows.append([name, f"{statistics.median(r['rps'] for r in got[name]):.0f}",
                         f"{statistics.median(r['p99'] for r in got[name]):.2f}",
                         f"{cpu:.2f}", f"{cpu / base:.2f}x"])
        print()
        table(rows, ["subject", "req/s", "p99 ms", "cpu us/req", "vs relay epoll"])
    finally:
        procs.stop_all()
        shutil.rmtree(os.path.dirname(relay), ignore_errors=True)


if __name__ == "__main__":
    main()
