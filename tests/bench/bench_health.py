"""lb-discover's CPU while it health-checks many backends: BACKENDS (1000)
listeners on 127.0.0.1 answer every check with 200 (a Python asyncio server,
on its own core when there are two); lb-discover's user + system CPU is read
from /proc over SECONDS (10) after a warm-up. INTERVALS="2 0.2" sets the
--health-interval values; LB_BIN=... another build's bin/ (a before/after)."""
import asyncio
import os
import subprocess
import sys
import tempfile
import threading
import time

from common import BIN, raise_fd_limit
from support.procfs import cpu_seconds  # tests/support: common.py puts it on the path

BACKENDS = int(os.environ.get("BACKENDS", "1000"))
SECONDS = float(os.environ.get("SECONDS", "10"))
INTERVALS = os.environ.get("INTERVALS", "2 0.2").split()
LB_BIN = os.environ.get("LB_BIN", BIN)
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class Backends:
    def __init__(self, n):
        self.checks = 0
        self.ports = []
        ready = threading.Event()
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.run, args=(n, ready), daemon=True).start()
        ready.wait()

    async def serve(self, reader, writer):
        try:
            await reader.readuntil(b"\r\n\r\n")
            self.checks += 1
            writer.write(ANSWER)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    def run(self, n, ready):
        asyncio.set_event_loop(self.loop)
        for _ in range(n):
            srv = self.loop.run_until_complete(asyncio.start_server(self.serve, "127.0.0.1", 0,
                                                                    backlog=256))
            self.ports.append(srv.sockets[0].getsockname()[1])
        ready.set()
        self.loop.run_forever()


def measure(backends, interval):
    rundir = tempfile.mkdtemp(prefix="lb-bh-", dir="/tmp")
    listing = os.path.join(rundir, "backends.txt")
    with open(listing, "w") as f:
        f.write("".join(f"127.0.0.1:{p}\n" for p in backends.ports))
    argv = [os.path.join(LB_BIN, "lb-discover"), "--runtime-dir", rundir, "--file", listing,
            "--health-interval", interval, "--log-level", "warn"]
    cores = os.cpu_count() or 1
    if cores > 1:                       # lb-discover alone on the last core
        argv = ["taskset", "-c", str(cores - 1)] + argv
    p = subprocess.Popen(argv, stderr=subprocess.DEVNULL)
    try:
        time.sleep(3)                   # a warm-up: every backend checked at least once
        c0, n0, t0 = cpu_seconds(p.pid), backends.checks, time.monotonic()
        time.sleep(SECONDS)
        c1, n1, t1 = cpu_seconds(p.pid), backends.checks, time.monotonic()
    finally:
        p.terminate()
        p.wait()
        subprocess.run(["rm", "-rf", rundir])
    return 100 * (c1 - c0) / (t1 - t0), (n1 - n0) / (t1 - t0)


def main():
    raise_fd_limit()
    backends = Backends(BACKENDS)
    if (os.cpu_count() or 1) > 1:       # the Python server off lb-discover's core
        os.sched_setaffinity(0, set(range(os.cpu_count() - 1)))
    print(f"lb-discover ({LB_BIN}) health-checking {BACKENDS} backends, {SECONDS:g} s each:")
    for interval in INTERVALS:
        cpu, rate = measure(backends, interval)
        print(f"  --health-interval {interval}: {cpu:.1f}% of a core, {rate:.0f} checks/s "
              f"(expected {BACKENDS / float(interval):.0f})")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
