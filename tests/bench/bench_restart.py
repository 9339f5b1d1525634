#!/usr/bin/env python3
"""Restart under load: wrk drives many requests (Connection: close, then
keep-alive) through lb-proxy while the proxy is replaced N times, and counts
what the clients lost: socket errors (connect, read, write, timeout) and
non-2xx answers.

Two ways to replace a proxy (and `none`, the same load with no replacement:
what the machine itself loses):
  reuse-port  start the new one beside it with --reuse-port, then SIGTERM the
              old one (what lb did before --takeover): the connections queued
              on the old listener are reset when it closes;
  takeover    start the new one with --takeover: it takes the listening
              sockets from the old one (SCM_RIGHTS), which then drains.

  python3 tests/bench/bench_restart.py [--replacements 5] [--connections 64]
      [--interval 1.0] [--modes reuse-port,takeover,none] [--bin DIR]
"""
import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from common import BIN, Procs, echo_backends, free_port, pinned, table  # noqa: E402


def wait_log(path, pattern, timeout=10.0, start=0):
    """Waits for `pattern` in the log file from byte `start`; returns the match."""
    rx = re.compile(pattern)
    deadline = time.time() + timeout
    while time.time() < deadline:
        with open(path, "rb") as f:
            f.seek(start)
            m = rx.search(f.read().decode("utf-8", "replace"))
        if m:
            return m
        time.sleep(0.01)
    raise RuntimeError(f"no /{pattern}/ in {path}")


def parse_wrk(out):
    total = int(re.search(r"(\d+) requests in", out).group(1))
    errors = {"connect": 0, "read": 0, "write": 0, "timeout": 0}
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        errors = dict(zip(errors, map(int, m.groups())))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return total, errors, int(non2xx.group(1)) if non2xx else 0


class Replacer:
    """One proxy on a fixed port, replaced in place."""

    def __init__(self, procs, bindir, port, admin, backends, rundir, mode):
        self.procs, self.bindir, self.mode = procs, bindir, mode
        self.argv = [os.path.join(bindir, "lb-proxy"), "--listen", f"127.0.0.1:{port}",
                     "--admin", f"127.0.0.1:{admin}", "--backends", ",".join(backends),
                     "--access-log", "off", "--drain-timeout", "10"]
        if mode == "takeover":
            self.argv += ["--runtime-dir", rundir]
        elif mode == "reuse-port":
            # SO_REUSEPORT is off by default: the first must share as well
            self.argv += ["--reuse-port"]
        self.n = 0
        self.current = self.start([])
        wait_log(self.current[1], r"INFO listening")

    def start(self, extra):
        log = os.path.join(self.procs.dir, f"proxy-{self.mode}-{self.n}.log")
        self.n += 1
        with open(log, "wb") as f:
            p = subprocess.Popen(pinned(self.argv + extra, True), stdout=f, stderr=f,
                                 stdin=subprocess.DEVNULL)
        self.procs.procs.append(p)
        return p, log

    def replace(self):
        old, _ = self.current
        if self.mode == "none":
            return None
        if self.mode == "takeover":
            new = self.start(["--takeover"])
            wait_log(new[1], r"took over|no lb-proxy to take over")
        else:
            # the admin listener has no SO_REUSEPORT: the new one takes another port
            new = self.start(["--admin", f"127.0.0.1:{free_port()}"])
            wait_log(new[1], r"INFO listening")
            old.send_signal(signal.SIGTERM)
        self.current = new
        return old


def run(bindir, mode, keepalive, replacements, connections, interval):
    procs = Procs()
    try:
        backends = echo_backends(procs, 2, bindir=bindir)
        port, admin = free_port(), free_port()
        rundir = tempfile.mkdtemp(prefix="lb-rs-", dir="/tmp")
        r = Replacer(procs, bindir, port, admin, backends, rundir, mode)
        duration = int(replacements * interval + 2)
        argv = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s"]
        if not keepalive:
            argv += ["-H", "Connection: close"]
        w = subprocess.Popen(pinned(argv + [f"http://127.0.0.1:{port}/"], False),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(1.0)
        olds = []
        for _ in range(replacements):
            olds.append(r.replace())
            time.sleep(interval)
        out, _ = w.communicate(timeout=duration + 30)
        for p in olds:
            if p:
                p.wait(30)
        return parse_wrk(out)
    finally:
        procs.stop_all()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--replacements", type=int, default=5)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--modes", default="reuse-port,takeover")
    ap.add_argument("--bin", default=BIN, help="where lb-proxy and lb-echo are (default bin/)")
    args = ap.parse_args()
    rows = []
    for mode in args.modes.split(","):
        for keepalive in (False, True):
            total, errors, non2xx = run(args.bin, mode, keepalive, args.replacements,
                                        args.connections, args.interval)
            failed = sum(errors.values()) + non2xx
            rows.append([mode, "keep-alive" if keepalive else "Connection: close",
                         f"{total:,}", failed,
                         "connect {connect}, read {read}, write {write}, timeout {timeout}"
                         .format(**errors), non2xx])
    print(f"\n{args.replacements} replacements {args.interval:g} s apart under wrk -t2 "
          f"-c{args.connections} (binaries: {args.bin})")
    table(rows, ["replacement", "requests", "total", "failed", "socket errors", "non-2xx"])


if __name__ == "__main__":
    main()
