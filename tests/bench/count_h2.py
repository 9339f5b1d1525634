"""HTTP/2 to clients, counted rather than timed: system calls and user-space
instructions per stream of `h2load -c 10 -m 10 -n STREAMS` through lb-proxy
(h2c and h2 over TLS, HTTP/1.1 to three lb-echo), and HAProxy's system calls
for the same. Counts, unlike CPU time, hardly move with the machine's load:
a before and after of a change to the h2 path (bench_h2.py times it).

  python3 tests/bench/count_h2.py                      # this tree and HAProxy
  LB_BASELINE_BIN=/old/bin python3 tests/bench/count_h2.py

System calls: strace -c -f attached after WARMUP streams, over STREAMS more.
Instructions: valgrind's callgrind, counters dumped after WARMUP streams and
again after STREAMS more; the second dump is theirs alone (its top functions
printed with PROFILE=1). H2_CASES=h2c,tls picks the cases, HAPROXY=0 leaves
HAProxy out. Needs strace, valgrind, h2load, haproxy."""
import glob
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from common import BIN, Procs, echo_backends, free_port, table, wait_port  # noqa: E402
from bench_proxy import haproxy, make_cert  # noqa: E402

WARMUP = int(os.environ.get("WARMUP", "1000"))
STREAMS = int(os.environ.get("STREAMS", "10000"))
BASELINE = os.environ.get("LB_BASELINE_BIN")
PROFILE = os.environ.get("PROFILE") == "1"
CASES = os.environ.get("H2_CASES", "h2c,tls").split(",")
HAPROXY = os.environ.get("HAPROXY", "1") != "0"


def h2load(url, n):
    out = subprocess.run(["h2load", "-c", "10", "-m", "10", "-t", "1", "-n", str(n), url],
                         capture_output=True, text=True, timeout=600).stdout
    done = re.search(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded", out)
    if not done or int(done.group(1)) != n:
        raise RuntimeError(f"h2load said:\n{out}")


def lb_argv(bindir, port, backends, tls, cert):
    argv = [os.path.join(bindir, "lb-proxy"), "--listen",
            f"{'tls:' if tls else ''}127.0.0.1:{port}", "--admin", f"127.0.0.1:{free_port()}",
            "--backends", ",".join(backends), "--access-log", "off"]
    return argv + (["--tls-cert", cert[0], "--tls-key", cert[1]] if tls else [])


def url(port, tls):
    return f"{'https' if tls else 'http'}://127.0.0.1:{port}/"


def syscalls(pid, target):
    """strace -c over STREAMS streams to target: {syscall: calls}."""
    h2load(target, WARMUP)
    out = tempfile.mktemp(prefix="lb-strace-")
    st = subprocess.Popen(["strace", "-c", "-f", "-o", out, "-p", str(pid)],
                          stderr=subprocess.PIPE, text=True)
    st.stderr.readline()	# "strace: Process N attached"
    h2load(target, STREAMS)
    st.send_signal(signal.SIGINT)
    st.wait(30)
    calls = {}
    with open(out) as f:
        for line in f:
            m = re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)\s*$", line)
            if m and m.group(2) != "total":
                calls[m.group(2)] = int(m.group(1))
    os.unlink(out)
    return calls


def last_dump(pattern, before):
    for _ in range(300):
        new = sorted(set(glob.glob(pattern)) - before, key=os.path.getmtime)
        if new:
            time.sleep(0.3)
            with open(new[-1]) as f:
                for line in f:
                    if line.startswith(("summary:", "totals:")):
                        return new[-1], int(line.split()[1])
        time.sleep(0.1)
    raise RuntimeError("no callgrind dump")


def print_top(dump, total, n=25):
    """The functions of a dump by their own instructions, and each library's
    share (callgrind_annotate 3.19 puts a dump's all under main)."""
    names, own, lib = {}, {}, {}
    ob = fn = None
    skip = False
    with open(dump) as f:
        for line in f:
            key, _, val = line.rstrip("\n").partition("=")
            if key in ("ob", "fn", "cob", "cfn"):
                m = re.match(r"\((\d+)\)(?: (.*))?", val)
                v = (names.setdefault((key[-2:], m.group(1)), m.group(2))) if m else val
                if key == "ob":
                    ob = os.path.basename(v or "?")
                elif key == "fn":
                    fn = v
                    lib[fn] = ob
            elif key == "calls":
                skip = True	# the next line is the call's inclusive cost
            elif line[:1].isdigit() or line[:1] in "+-*":
                parts = line.split()
                if not skip and fn and len(parts) >= 2:
                    own[fn] = own.get(fn, 0) + int(parts[1])
                skip = False
    shares = {}
    for f, c in own.items():
        shares[lib[f]] = shares.get(lib[f], 0) + c
    print(f"\n{dump}: " + ", ".join(f"{o} {c * 100 / total:.1f}%" for o, c in
                                     sorted(shares.items(), key=lambda x: -x[1])[:6]))
    for f, c in sorted(own.items(), key=lambda x: -x[1])[:n]:
        print(f"{c * 100 / total:5.1f}% {c / STREAMS:8.0f}/stream  {f} [{lib[f]}]")


class Callgrind:
    """Starts a proxy under callgrind (a Procs for bench_proxy.haproxy)."""

    def __init__(self, procs):
        self.dir = procs.dir
        self.out = os.path.join(tempfile.mkdtemp(prefix="lb-cg-"), "cg.out")

    def start(self, argv, **_):
        return subprocess.Popen(["valgrind", "--tool=callgrind", "--compress-strings=no",
                                 f"--callgrind-out-file={self.out}"] + argv,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def instructions(cg, p, port, tls):
    """The instructions of p (started by cg) over STREAMS streams."""
    out = cg.out
    try:
        wait_port(port, timeout=60)
        h2load(url(port, tls), WARMUP)
        before = set(glob.glob(out + "*"))
        subprocess.run(["callgrind_control", "-d", str(p.pid)], capture_output=True, check=True)
        _, _ = last_dump(out + "*", before)
        before = set(glob.glob(out + "*"))
        h2load(url(port, tls), STREAMS)
        subprocess.run(["callgrind_control", "-d", str(p.pid)], capture_output=True, check=True)
        dump, total = last_dump(out + "*", before)
        if PROFILE:
            print_top(dump, total)
        return total
    finally:
        p.terminate()
        p.wait(30)


def main():
    procs = Procs()
    try:
        backends = echo_backends(procs, 3)
        cert = make_cert(procs.dir)
        builds = [("lb-proxy", BIN)] + ([("lb-proxy (baseline)", BASELINE)] if BASELINE else [])
        rows = []
        for tls in [c == "tls" for c in CASES]:
            case = "h2 over TLS" if tls else "h2c"
            for name, bindir in builds:
                port = free_port()
                p = procs.start(lb_argv(bindir, port, backends, tls, cert), name="lb-proxy")
                wait_port(port)
                calls = syscalls(p.pid, url(port, tls))
                port, cg = free_port(), Callgrind(procs)
                # slow under valgrind on a busy machine: timeouts to match
                argv = lb_argv(bindir, port, backends, tls, cert) + [
                    "--connect-timeout", "30", "--response-timeout", "60"]
                ir = instructions(cg, cg.start(argv), port, tls)
                rows.append((case, name, calls, ir))
            if not HAPROXY:
                continue
            bind = f" ssl crt {cert[2]} alpn h2,http/1.1" if tls else " proto h2"
            name = f"haproxy-{'tls' if tls else 'h2c'}"
            port = free_port()
            p = haproxy(procs, port, backends, name=name, bind_extra=bind)
            wait_port(port)
            calls = syscalls(p.pid, url(port, tls))
            port, cg = free_port(), Callgrind(procs)
            p = haproxy(cg, port, backends, name=name + "-cg", bind_extra=bind)
            rows.append((case, "haproxy", calls, instructions(cg, p, port, tls)))
        print(f"\nh2load -c 10 -m 10 -t 1 -n {STREAMS} (after {WARMUP}), HTTP/1.1 keep-alive to "
              "3 lb-echo; per stream\n")
        names = sorted({k for r in rows for k in r[2]}, key=lambda k: -max(r[2].get(k, 0)
                                                                       for r in rows))[:8]
        table([[case, name, f"{sum(c.values()) / STREAMS:.2f}",
                *(f"{c.get(k, 0) / STREAMS:.2f}" for k in names),
                f"{ir / STREAMS:,.0f}" if ir else "-"] for case, name, c, ir in rows],
              ["case", "proxy", "syscalls", *names, "instructions"])
    finally:
        procs.stop_all()


if __name__ == "__main__":
    main()
