"""Benchmark helpers: start processes on ephemeral ports, run wrk, parse it."""
import os
import re
import resource
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# LB_BIN_DIR: the lb binaries to measure (default: this tree's bin/)
BIN = os.environ.get("LB_BIN_DIR") or os.path.join(ROOT, "bin")

# the helpers shared with the tests: the package tests/support
sys.path.insert(0, os.path.join(ROOT, "tests"))
from support.net import free_port  # noqa: E402,F401 (the scripts import it from here)


def raise_fd_limit(want=65536):
    """More descriptors for the 10,000-connection case (possible as root)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(hard, want)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def wait_port(port, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def echo_backends(procs, n, *flags, bindir=BIN, pod_names=False):
    """Starts n lb-echo backends (access log off, `flags`; not the process
    under test) on free ports and waits until each accepts; their addresses.
    pod_names: each answers as echo-0, echo-1, ... (POD_NAME)."""
    addrs = []
    for i in range(n):
        port = free_port()
        procs.start([os.path.join(bindir, "lb-echo"), "--listen", f"127.0.0.1:{port}",
                     "--access-log", "off", *flags],
                    env={"POD_NAME": f"echo-{i}"} if pod_names else None, name="echo")
        wait_port(port)
        addrs.append(f"127.0.0.1:{port}")
    return addrs


# On a machine with at least two cores, the proxy (or server) under test gets
# the last core to itself and everything else (wrk, backends) the others, so
# each measures its own cost rather than the scheduler's mood. BENCH_PIN=0 off.
NCPU = os.cpu_count() or 1
PIN = os.environ.get("BENCH_PIN", "1") != "0" and NCPU >= 2
SUT_CPUS = [str(NCPU - 1)]
LOAD_CPUS = [str(c) for c in range(NCPU - 1)]


def pinned(argv, under_test):
    if not PIN:
        return argv
    return ["taskset", "-c", ",".join(SUT_CPUS if under_test else LOAD_CPUS)] + argv


class Procs:
    def __init__(self):
        self.procs = []
        self.dir = tempfile.mkdtemp(prefix="lb-bench-")

    def start(self, argv, env=None, name="proc", under_test=False, stderr=None):
        """stderr: where its stderr goes (a pipe's end), else the log file."""
        argv = pinned(argv, under_test)
        e = dict(os.environ)
        e.update(env or {})
        log = open(os.path.join(self.dir, f"{name}-{len(self.procs)}.log"), "wb")
        p = subprocess.Popen(argv, stdout=log, stderr=stderr or log, stdin=subprocess.DEVNULL,
                             env=e, preexec_fn=raise_fd_limit)
        self.procs.append(p)
        return p

    def stop_all(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        self.procs = []


def nginx(procs, conf_body, under_test=True, name="nginx"):
    """Starts nginx in the foreground with one worker and `conf_body` as its http block:
    on the core of the server under test, or (under_test=False: a backend, a sink) on the
    load cores."""
    d = tempfile.mkdtemp(prefix="nginx-", dir=procs.dir)
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""worker_processes 1;
daemon off;
master_process off;
user root;
error_log {d}/error.log warn;
pid {d}/nginx.pid;
worker_rlimit_nofile 20000;
events {{ worker_connections 10100; }}
http {{
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path {d};
  {conf_body}
}}
""")
    return procs.start(["nginx", "-c", conf, "-p", d], name=name, under_test=under_test)


def wrk(url, duration=5, connections=64, script=None, headers=()):
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency"]
    for h in headers:
        argv += ["-H", h]
    if script:
        argv += ["-s", script]
    out = subprocess.run(pinned(argv + [url], False), capture_output=True, text=True,
                         timeout=duration + 30).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = {}
    for pct in ("50", "99"):
        m = re.search(r"\s%s%%\s+([\d.]+)(us|ms|s)" % pct, out)
        v = float(m.group(1))
        lat[pct] = v / 1000 if m.group(2) == "us" else v * 1000 if m.group(2) == "s" else v
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock_err = re.search(r"Socket errors: (.*)", out)
    return {"rps": rps, "p50": lat["50"], "p99": lat["99"],
            "non2xx": int(errors.group(1)) if errors else 0,
            "sockerr": sock_err.group(1) if sock_err else ""}


def table(rows, header):
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths))
    print(line)
    print("-" * len(line))
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))
