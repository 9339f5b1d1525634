"""Shared fixtures: start lb programs as real processes on 127.0.0.1 with
ephemeral ports and a private runtime dir, and clean them up by pid."""
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import pytest

# tests/ on the path: the helpers shared with tests/chaos and tests/bench are
# the package tests/support (support.rawbackend, support.k8ssim, ...)
TESTS_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
if TESTS_DIR not in sys.path:
    sys.path.insert(0, TESTS_DIR)

from support.k8ssim import Simulator  # noqa: E402

BIN_DIR = os.environ.get("LB_BIN_DIR") or os.path.join(
    os.path.dirname(__file__), "..", "..", "bin")
SANITIZED = os.environ.get("LB_SANITIZED") == "1"
# Sanitized binaries are several times slower: scale the waits, not the checks.
SLOW = 3.0 if SANITIZED else 1.0


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "no_lb_binaries: the test starts no lb program (a document, a simulator "
        "alone): the release run checks it and the ASan run, which only changes the "
        "binaries, skips it")


# The test files that take longest, longest first (release and ASan runs,
# docs/testing.md#where-make-tests-time-goes). pytest-xdist's --dist loadfile
# hands files to workers in collection order: a long file collected last (the
# order is alphabetical) would start late and end the run alone. Any file not
# named here runs after these, in the usual order.
LONGEST_FIRST = [
    "test_k8ssim_gateway.py", "test_k8s_fidelity.py", "test_bus.py", "test_k8s_fleet.py",
    "test_k8s_sim_state.py", "test_balance.py", "test_h2.py", "test_status_page.py",
    "test_tls.py", "test_chaos.py", "test_outlier.py", "test_admin_hardening.py",
    "test_bus_frames.py", "test_k8s.py", "test_proxy.py", "test_tcp_mode.py", "test_echo.py",
    "test_admin_proxy.py", "test_proxy_resources.py", "test_routed_fleet.py",
    "test_listeners.py", "test_gateway_routes.py", "test_compose.py",
]


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    # a stable sort: each file's tests stay together and in their order
    items.sort(key=lambda item: rank.get(os.path.basename(str(item.fspath)), len(rank)))
    if not SANITIZED:
        return
    skip = pytest.mark.skip(reason="starts no lb program: checked by the release run")
    for item in items:
        if item.get_closest_marker("no_lb_binaries"):
            item.add_marker(skip)


def protocol_constant(name, header="bus_protocol.h"):
    """A #define of common/bus_protocol.h (the bus's limits; or of another
    header of common/), as a number."""
    path = os.path.join(os.path.dirname(__file__), "..", "..", "common", header)
    with open(path) as f:
        m = re.search(rf"^#define {name} ([0-9 ()*+-]+?)\s*(/\*.*)?$", f.read(), re.M)
    assert m, f"no numeric #define {name} in {path}"
    return eval(m.group(1), {"__builtins__": {}})


def binary(name):
    path = os.path.abspath(os.path.join(BIN_DIR, name))
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is missing: run make first")
    return path


class Proc:
    """One running program; stderr goes to a file the test can read."""

    def __init__(self, argv, env=None, cwd=None, preexec_fn=None):
        self.argv = argv
        self.log_path = tempfile.mktemp(prefix="lb-test-", suffix=".log")
        self.log = open(self.log_path, "wb")
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=self.log,
                                  stdin=subprocess.DEVNULL, env=full_env, cwd=cwd,
                                  preexec_fn=preexec_fn)
        self.pid = self.p.pid
        self.expect_exit = None

    def text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_log(self, pattern, timeout=5.0):
        deadline = time.time() + timeout * SLOW
        rx = re.compile(pattern)
        while time.time() < deadline:
            m = rx.search(self.text())
            if m:
                return m
            if self.p.poll() is not None:
                raise AssertionError(f"{self.argv[0]} exited {self.p.returncode}:\n{self.text()}")
            time.sleep(0.02)
        raise AssertionError(f"no /{pattern}/ in the log of {self.argv}:\n{self.text()}")

    def stop(self, timeout=10.0):
        """SIGTERM and wait; returns the exit code."""
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        try:
            return self.p.wait(timeout * SLOW)
        except subprocess.TimeoutExpired:
            where = self.backtrace()
            self.p.kill()
            self.p.wait()
            raise AssertionError(f"{self.argv[0]} did not stop on SIGTERM; where it was:\n"
                                 f"{where}\nits log ends:\n{self.text()[-3000:]}")

    def backtrace(self):
        """Where a stuck process is (gdb, when there is one), for the failure's message."""
        try:
            r = subprocess.run(["gdb", "-batch", "-p", str(self.pid), "-ex", "bt"],
                               capture_output=True, text=True, timeout=30)
            return "\n".join(line for line in r.stdout.splitlines() if line.startswith("#"))
        except (OSError, subprocess.TimeoutExpired):
            return "(no gdb)"

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()
        self.expect_exit = -9

    def sanitizer_report(self):
        t = self.text()
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
            if marker in t:
                return t
        return None


@pytest.fixture
def procs():
    """Starts processes; at teardown each is stopped with SIGTERM and must exit
    0 (under ASan that includes no leak) with no sanitizer report."""
    started = []

    def start(argv, env=None, cwd=None, preexec_fn=None):
        p = Proc(argv, env, cwd, preexec_fn)
        started.append(p)
        return p

    yield start
    problems = []
    # the last started first: a client (a proxy in front of a backend, a
    # proxy in front of a proxy) goes before what it holds connections to,
    # so no one drains connections a peer keeps open (Reload and restart)
    for p in reversed(started):
        if p.expect_exit is None:
            try:
                code = p.stop()
            except AssertionError as e:     # killed: the others are still stopped
                problems.append(str(e)[:6000])
                code = 0
            if code != 0:
                problems.append(f"{p.argv} exited {code}:\n{p.text()[-4000:]}")
        report = p.sanitizer_report()
        if report:
            problems.append(f"{p.argv} sanitizer report:\n{report[-6000:]}")
        p.log.close()
        os.unlink(p.log_path)
    assert not problems, "\n".join(problems)


class Server:
    """A running program serving HTTP on 127.0.0.1:port."""

    def __init__(self, proc, port):
        self.proc = proc
        self.port = port
        self.addr = f"127.0.0.1:{port}"

    def conn(self, timeout=10):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout * SLOW)

    def request(self, method, path, body=None, headers=None, timeout=10):
        c = self.conn(timeout)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, dict(r.getheaders()), r.read()
        finally:
            c.close()


class Echo(Server):
    def get_json(self, path, headers=None):
        status, hdrs, body = self.request("GET", path, headers=headers)
        return status, json.loads(body)


@pytest.fixture
def echo(procs):
    """start_echo(*flags, env={}) -> Echo listening on an ephemeral port."""
    def start_echo(*flags, env=None):
        p = procs([binary("lb-echo"), "--listen", "127.0.0.1:0", *flags], env=env)
        m = p.wait_log(r"listening listen=127\.0\.0\.1:(\d+)")
        return Echo(p, int(m.group(1)))
    return start_echo


@pytest.fixture
def three_echos(echo):
    """Three lb-echo, access log off, serving as echo-0, echo-1, echo-2."""
    return [echo("--access-log", "off", env={"POD_NAME": f"echo-{i}"}) for i in range(3)]


def raw_exchange(port, data, timeout=5.0, until_close=True):
    """Sends raw bytes and returns everything received until the peer closes
    (or the timeout, when until_close is False)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout * SLOW)
    try:
        s.sendall(data)
        chunks = []
        deadline = time.time() + timeout * SLOW
        while time.time() < deadline:
            try:
                b = s.recv(65536)
            except socket.timeout:
                break
            if not b:
                return b"".join(chunks), True
            chunks.append(b)
            if not until_close:
                s.settimeout(0.3)
        return b"".join(chunks), False
    finally:
        s.close()


def recv_until(s, suffix, got=b""):
    """Receives on s until the bytes end with suffix; the peer closing first
    fails the test (instead of spinning on empty reads)."""
    while not got.endswith(suffix):
        data = s.recv(65536)
        assert data, f"the peer closed the connection after {got[-200:]!r}"
        got += data
    return got


def recv_exactly(s, n):
    """Receives exactly n bytes on s; the peer closing first fails the test."""
    got = b""
    while len(got) < n:
        data = s.recv(65536)
        assert data, f"the peer closed the connection after {len(got)} of {n} bytes"
        got += data
    return got


def split_responses(data):
    """Splits a byte stream of HTTP responses with Content-Length bodies into
    (status, headers, body) tuples."""
    out = []
    while data:
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", "0"))
        out.append((status, headers, rest[:n]))
        data = rest[n:]
    return out


class Proxy(Server):
    def __init__(self, proc, port, admin_port):
        super().__init__(proc, port)
        self.admin_port = admin_port

    def admin(self, path):
        c = http.client.HTTPConnection("127.0.0.1", self.admin_port, timeout=10 * SLOW)
        try:
            c.request("GET", path)
            r = c.getresponse()
            body = r.read()
            return r.status, (json.loads(body) if path != "/metrics" else body.decode())
        finally:
            c.close()


def started_proxy(p):
    """The Proxy of a started lb-proxy (a Proc, --admin 127.0.0.1:0), once its
    log says where it listens: admin, then clients."""
    admin = p.wait_log(r"admin listening admin=127\.0\.0\.1:(\d+)")
    m = p.wait_log(r"INFO listening listen=127\.0\.0\.1:(\d+)")
    return Proxy(p, int(m.group(1)), int(admin.group(1)))


@pytest.fixture
def proxy(procs):
    """start_proxy(backends, *flags) -> Proxy on ephemeral client and admin ports."""
    def start_proxy(backends, *flags, listen="127.0.0.1:0", env=None, preexec_fn=None):
        argv = [binary("lb-proxy"), "--listen", listen, "--admin", "127.0.0.1:0"]
        if backends is not None:
            argv += ["--backends", ",".join(backends)]
        p = procs(argv + list(flags), env=env, preexec_fn=preexec_fn)
        return started_proxy(p)
    return start_proxy


def bus_proxy(proxy, rundir, *flags, listen="127.0.0.1:0"):
    """A proxy (the proxy fixture) on the bus of rundir: its backends come
    from lb-discover; access log off; --reuse-port, so the tests' fleets of
    proxies on one port share it (SO_REUSEPORT is off by default)."""
    return proxy(None, "--runtime-dir", rundir, "--access-log", "off", "--reuse-port", *flags,
                 listen=listen)


def generation(p):
    """The generation of the set a proxy serves (its /info)."""
    return p.admin("/info")[1]["generation"]


def metric(p, name):
    """The value of one series of the proxy's /metrics (0 when absent)."""
    text = p.admin("/metrics")[1]
    m = re.search(r"^" + re.escape(name) + r" (\S+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


def request_in_flight(proxy, path, backend=None):
    """Sends GET path through proxy from a thread; returns the thread once the
    proxy has the request in flight (a backend picked for it: /info "active"
    up by one, on `backend` if given), so a test acts on a request that is
    really there. The request must be slow enough to be seen; join() the
    thread, then its .response is (status, headers, body)."""
    def active():
        return sum(b["active"] for b in proxy.admin("/info")[1]["backends"]
                   if backend in (None, b["address"]))

    before = active()
    t = threading.Thread(target=lambda: setattr(t, "response", proxy.request("GET", path)))
    t.start()
    wait_for(f"GET {path} in flight on the proxy", lambda: active() > before)
    return t


class PipeLines:
    """What a child writes to a pipe, read by a thread line by line as it
    comes, so a test can wait for a line (a watcher's first event) before it
    acts instead of guessing how long the child takes to start."""

    def __init__(self, pipe):
        self.lines = []
        self.thread = threading.Thread(target=self._read, args=(pipe,), daemon=True)
        self.thread.start()

    def _read(self, pipe):
        for line in pipe:
            self.lines.append(line)

    def text(self):
        return "".join(self.lines)

    def rest(self, timeout=10.0):
        """All of it, once the child has exited."""
        self.thread.join(timeout)
        return self.text()


def served_by(resp_headers):
    return resp_headers.get("X-Served-By")


@pytest.fixture
def rundir():
    """A private runtime dir with a short path (Unix socket paths are short)."""
    d = tempfile.mkdtemp(prefix="lb-rt-", dir="/tmp")
    yield d
    subprocess.run(["rm", "-rf", d])


def ctl(rundir, *args, timeout=30):
    """Runs lb-ctl; returns (exit code, stdout, stderr)."""
    r = subprocess.run([binary("lb-ctl"), "--runtime-dir", rundir, *args], capture_output=True,
                       text=True, timeout=timeout * SLOW, stdin=subprocess.DEVNULL)
    return r.returncode, r.stdout, r.stderr


def ctl_json(rundir, *args):
    code, out, err = ctl(rundir, "--json", *args)
    assert code == 0, err
    return json.loads(out)


@pytest.fixture
def sim():
    """The Kubernetes API simulator (tests/support/k8ssim.py), stopped after the test."""
    s = Simulator()
    yield s
    s.stop()


@pytest.fixture
def discover(procs, rundir):
    """start_discover(*flags) -> lb-discover on the test's runtime dir."""
    def start_discover(*flags, runtime_dir=None, env_extra=None):
        p = procs([binary("lb-discover"), "--runtime-dir", runtime_dir or rundir, *flags],
                  env=env_extra)
        p.wait_log(r"INFO publishing ")
        return p
    return start_discover


def wait_for(what, check, timeout=5.0, interval=0.02):
    """Polls check() until it returns a true value; returns it."""
    deadline = time.time() + timeout * SLOW
    while True:
        v = check()
        if v:
            return v
        if time.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)
