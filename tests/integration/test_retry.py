"""lb-proxy's retry policy against real backends: each --retry-on reason, the
safety rules, the per-try timeout, the backoff between attempts, the retry
budget under concurrent load, and the chaos target (a backend killed -9,
stopped or drained while clients keep asking)."""
import json
import os
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import SLOW, binary, ctl, metric, served_by, wait_for
from support.net import dead_addr
from support.rawbackend import RawBackend, Reader, ok, serve_each


def retries(p, reason):
    return metric(p, f'lb_proxy_retries_total{{reason="{reason}"}}')


def reset_after_request(conn, backend):
    """Reads a request, then resets the connection: no response byte."""
    req = Reader(conn).request()
    with backend.lock:
        backend.requests.append(req)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    conn.close()


def answer_status(code):
    reason = {500: b"Internal Server Error", 502: b"Bad Gateway", 503: b"Service Unavailable",
              504: b"Gateway Timeout"}[code]
    body = b'{"from":"bad"}'
    return serve_each(lambda h, hd, b: b"HTTP/1.1 %d %s\r\nContent-Length: %d\r\n\r\n%s"
                      % (code, reason, len(body), body))


@pytest.fixture
def good():
    b = RawBackend(serve_each(lambda h, hd, body: ok(b"good")))
    yield b
    b.close()


def test_connect_failure_is_retried_by_default(proxy, good):
    p = proxy([dead_addr(), good.addr], "--fail-timeout", "0")
    for i in range(4):
        status, _, body = p.request("GET", f"/{i}")
        assert (status, body) == (200, b"good")
    assert retries(p, "connect-failure") >= 1
    assert retries(p, "reset") == 0


def test_connect_failure_is_not_retried_when_not_named(proxy, good):
    p = proxy([dead_addr(), good.addr], "--fail-timeout", "0", "--retry-on", "reset")
    statuses = sorted(p.request("GET", f"/{i}")[0] for i in range(4))
    assert statuses == [200, 200, 502, 502]
    assert retries(p, "connect-failure") == 0


def test_reset_is_retried_by_default_and_not_without_it(proxy, good):
    bad = RawBackend(reset_after_request)
    p = proxy([bad.addr, good.addr])
    for i in range(4):
        status, _, body = p.request("GET", f"/{i}")
        assert (status, body) == (200, b"good")
    assert retries(p, "reset") >= 1
    p2 = proxy([bad.addr, good.addr], "--retry-on", "connect-failure")
    statuses = sorted(p2.request("GET", f"/{i}")[0] for i in range(4))
    assert statuses == [200, 200, 502, 502]
    assert retries(p2, "reset") == 0
    bad.close()


def test_per_try_timeout_answers_504_or_retries_with_timeout(echo, proxy):
    # 5 times the per-try timeout (lb-echo finishes the requests the proxy
    # gave up on before it stops: the test's teardown waits for them)
    slow = echo("--delay-ms", "1500", "--access-log", "off", env={"POD_NAME": "slow"})
    fast = echo("--access-log", "off", env={"POD_NAME": "fast"})
    # Without `timeout` in --retry-on the per-try timeout (not the 60 s
    # response timeout) ends the attempt with 504.
    p = proxy([slow.addr], "--per-try-timeout", "0.3")
    t = time.time()
    status, _, body = p.request("GET", "/")
    assert status == 504 and json.loads(body)["error"] == "backend timed out"
    assert 0.3 <= time.time() - t < 3 * SLOW
    p = proxy([slow.addr, fast.addr], "--per-try-timeout", "0.3",
              "--retry-on", "connect-failure,reset,timeout")
    for i in range(2):
        t = time.time()
        status, hdrs, _ = p.request("GET", f"/{i}")
        assert status == 200 and served_by(hdrs) == "fast"
        assert time.time() - t < 3 * SLOW
    assert retries(p, "timeout") >= 1
    p.proc.wait_log(r"status=200 backend=127\.0\.0\.1:%d .*tried=127\.0\.0\.1:%d:timeout,"
                    % (fast.port, slow.port))


@pytest.mark.parametrize("code,retry_on,retried", [
    (503, "gateway-error", True),
    (502, "gateway-error", True),
    (504, "gateway-error", True),
    (500, "gateway-error", False),
    (500, "5xx", True),
    (503, "5xx", True),
    (503, "connect-failure,reset", False),
])
def test_retryable_status_is_dropped_and_sent_elsewhere(proxy, good, code, retry_on, retried):
    bad = RawBackend(answer_status(code))
    p = proxy([bad.addr, good.addr], "--retry-on", retry_on)
    status, _, body = p.request("GET", "/a")           # `bad` first in turn
    if retried:
        assert (status, body) == (200, b"good")
        reason = "gateway-error" if retry_on == "gateway-error" else "5xx"
        assert retries(p, reason) == 1
        # a dropped answer counts the backend as failed, as the docs say
        # (it stayed 0 after retried 500s), in /metrics and /info alike
        assert metric(p, f'lb_proxy_backend_errors_total{{backend="{bad.addr}"}}') == 1
        assert {b["address"]: b["errors"] for b in p.admin("/info")[1]["backends"]} == \
            {bad.addr: 1, good.addr: 0}
        p.proc.wait_log(r"status=200 .*tried=127\.0\.0\.1:%d:status-%d," % (bad.port, code))
        # the backend connection that answered it was closed, not pooled:
        # each request `bad` saw came on a connection of its own
        for i in range(8):
            assert p.request("GET", f"/{i}")[0] == 200
            if len(bad.requests) >= 3:
                break
        assert len(bad.requests) >= 3
        assert bad.connections == len(bad.requests)
    else:
        assert (status, body) == (code, b'{"from":"bad"}')   # the backend's own answer
        assert metric(p, 'lb_proxy_retries_total{reason="5xx"}') == 0
    bad.close()


def test_retry_of_a_status_goes_out_on_a_pooled_connection(proxy, good):
    """The retry of a 503 on a backend whose connection is pooled is written
    at once (it stalled until the response timeout when the retry waited for
    the pooled connection to signal)."""
    bad = RawBackend(answer_status(503))
    p = proxy([bad.addr, good.addr], "--retry-on", "gateway-error", "--retry-backoff", "0")
    for i in range(8):
        assert p.request("GET", f"/{i}", timeout=5)[0] == 200
    assert len(bad.requests) >= 2 and good.connections == 1
    bad.close()


def test_last_retryable_status_reaches_the_client(proxy):
    """When every attempt answers 503, the client gets the last backend's 503
    (its body), not a 502 of the proxy."""
    bad = [RawBackend(answer_status(503)) for _ in range(3)]
    p = proxy([b.addr for b in bad], "--retry-on", "gateway-error", "--retries", "2")
    status, _, body = p.request("GET", "/")
    assert (status, body) == (503, b'{"from":"bad"}')
    assert retries(p, "gateway-error") == 2
    assert sum(len(b.requests) for b in bad) == 3
    for b in bad:
        b.close()


def test_post_is_not_retried_after_it_was_sent(proxy, good):
    bad = RawBackend(answer_status(503))
    p = proxy([bad.addr, good.addr], "--retry-on", "gateway-error,reset,timeout")
    status, _, body = p.request("POST", "/pay", body=b"x")
    assert (status, body) == (503, b'{"from":"bad"}')
    assert len(good.requests) == 0
    reset = RawBackend(reset_after_request)
    p = proxy([reset.addr, good.addr], "--retry-on", "gateway-error,reset,timeout")
    assert p.request("POST", "/pay", body=b"x")[0] == 502
    assert len(good.requests) == 0
    assert p.request("PUT", "/put", body=b"x")[0] == 200   # idempotent: sent again
    bad.close()
    reset.close()


def test_backoff_delays_each_retry(proxy, good):
    """Full jitter: each retry waits random [0, base) before its first retry;
    with base 0.2 s, 12 retries add at least 0.24 s (a sum of 12 uniform
    draws falls under a tenth of its range with probability 1e-7)."""
    bad = RawBackend(reset_after_request)
    # (no ejection: the resetting backend must keep being tried)
    p = proxy([bad.addr, good.addr], "--retry-backoff", "0.2", "--access-log", "off",
              "--eject-gateway", "0", "--eject-5xx", "0")
    t = time.time()
    for i in range(24):
        assert p.request("GET", f"/{i}")[0] == 200
    took = time.time() - t
    n = retries(p, "reset")
    assert n >= 12
    assert took >= 0.02 * n
    bad.close()


def test_client_gone_during_backoff_is_cleaned_up(proxy, good):
    bad = RawBackend(reset_after_request)
    p = proxy([bad.addr, good.addr], "--retry-backoff", "5", "--retry-backoff-max", "5")
    s = socket.create_connection(("127.0.0.1", p.port))
    s.sendall(b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
    wait_for("the failed attempt", lambda: retries(p, "reset") == 1)
    s.close()
    wait_for("the client connection closed",
             lambda: metric(p, "lb_proxy_client_connections") == 0)
    # the proxy goes on serving (and its teardown finds no leak)
    assert p.request("GET", "/y")[0] == 200
    bad.close()


def test_retry_budget_limits_retries_in_flight(proxy, echo):
    """30 concurrent requests, half first sent to a backend that resets them;
    the retries go to a backend that takes 2 s, so they stay in flight. With
    --retry-budget 0 only the floor (3) may retry at once: the others fail as
    they would without retries, counted."""
    bad = RawBackend(reset_after_request)
    slow = echo("--delay-ms", "2000", "--access-log", "off")
    # (no ejection: the resetting backend must keep taking first attempts)
    p = proxy([bad.addr, slow.addr], "--retry-budget", "0", "--access-log", "off",
              "--retry-backoff", "0", "--eject-gateway", "0", "--eject-5xx", "0")
    results = []
    lock = threading.Lock()

    def one(i):
        status = p.request("GET", f"/{i}", timeout=30)[0]
        with lock:
            results.append(status)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    exhausted = metric(p, "lb_proxy_retry_budget_exhausted_total")
    assert exhausted >= 1
    assert results.count(502) == exhausted
    assert results.count(200) == 30 - exhausted
    assert retries(p, "reset") + exhausted == len(bad.requests)
    bad.close()


@pytest.mark.parametrize("flag,value,says", [
    ("--retry-on", "reset,bogus", '"bogus" is not one of connect-failure, reset, timeout'),
    ("--retry-on", "", "is not one of"),
    ("--retry-backoff-max", "0.01", "--retry-backoff-max: 0.01 is below --retry-backoff 0.025"),
    ("--retry-backoff", "-1", "--retry-backoff"),
    ("--retry-budget", "101", "--retry-budget"),
    ("--per-try-timeout", "x", "--per-try-timeout"),
])
def test_bad_retry_flags_exit_2(flag, value, says):
    r = subprocess.run([binary("lb-proxy"), "--backends", "127.0.0.1:1", flag, value],
                       capture_output=True, text=True, timeout=10 * SLOW)
    assert r.returncode == 2
    assert says in r.stderr and flag in r.stderr


# ---- chaos: 0 failed idempotent requests ------------------------------------------------

CHAOS_FLAGS = ("--retry-on", "connect-failure,reset,timeout", "--per-try-timeout", "0.5",
               "--access-log", "off")


class Load:
    """Client threads sending GETs (keep-alive) until stopped; counts answers.
    Three, so retries in flight never pass the budget's floor."""

    def __init__(self, p, threads=3):
        self.p = p
        self.stop = threading.Event()
        self.statuses = []
        self.errors = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(threads)]
        for t in self.threads:
            t.start()

    def run(self):
        c = self.p.conn(timeout=20)
        while not self.stop.is_set():
            try:
                c.request("GET", "/chaos")
                r = c.getresponse()
                r.read()
                with self.lock:
                    self.statuses.append(r.status)
                if r.getheader("Connection", "").lower() == "close":
                    c.close()
                    c = self.p.conn(timeout=20)
            except Exception as e:             # the client saw a failure
                with self.lock:
                    self.errors.append(repr(e))
                c.close()
                c = self.p.conn(timeout=20)
        c.close()

    def count(self):
        with self.lock:
            return len(self.statuses)

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(30 * SLOW)
        bad = [s for s in self.statuses if s != 200]
        assert not self.errors and not bad, (self.errors[:5], bad[:5])


@pytest.fixture
def two_echos(echo):
    return [echo("--access-log", "off", env={"POD_NAME": f"echo-{i}"}) for i in range(2)]


def test_chaos_backend_killed(two_echos, proxy):
    p = proxy([e.addr for e in two_echos], *CHAOS_FLAGS)
    load = Load(p)
    wait_for("some load", lambda: load.count() >= 200, timeout=20)
    two_echos[0].proc.kill()                   # SIGKILL: resets, then refused
    n = load.count()
    wait_for("load after the kill", lambda: load.count() >= n + 300, timeout=30)
    load.finish()


def test_chaos_backend_stopped(two_echos, proxy):
    p = proxy([e.addr for e in two_echos], *CHAOS_FLAGS)
    load = Load(p)
    wait_for("some load", lambda: load.count() >= 200, timeout=20)
    stopped = two_echos[0].proc.p
    os.kill(stopped.pid, signal.SIGSTOP)       # accepts in the kernel, never answers
    try:
        n = load.count()
        wait_for("load while stopped", lambda: load.count() >= n + 40, timeout=30)
        assert retries(p, "timeout") >= 1
        load.finish()
    finally:
        os.kill(stopped.pid, signal.SIGCONT)


def test_chaos_backend_drained(two_echos, proxy):
    """A rolling update's old pod: one of two backends drains (SIGTERM:
    in-flight requests finish, idle keep-alive connections close, it exits)
    while clients keep asking."""
    p = proxy([e.addr for e in two_echos], *CHAOS_FLAGS)
    load = Load(p)
    wait_for("some load", lambda: load.count() >= 200, timeout=20)
    assert two_echos[0].proc.stop() == 0
    n = load.count()
    wait_for("load after the drain", lambda: load.count() >= n + 300, timeout=30)
    load.finish()


def test_chaos_rolling_update_on_the_bus(echo, discover, proxy, rundir):
    """A rolling update as lb-discover sees it: a new backend joins, an old
    one is drained, then exits (SIGTERM) and is removed, while clients keep
    asking through a proxy on the bus."""
    old = [echo("--access-log", "off", env={"POD_NAME": f"old-{i}"}) for i in range(2)]
    new = echo("--access-log", "off", env={"POD_NAME": "new"})
    discover("--static", ",".join(e.addr for e in old), "--heartbeat", "0.2")
    p = proxy(None, "--runtime-dir", rundir, *CHAOS_FLAGS)
    wait_for("the set", lambda: len(p.admin("/info")[1]["backends"]) == 2)
    load = Load(p)
    wait_for("some load", lambda: load.count() >= 200, timeout=20)

    def generation():
        return p.admin("/info")[1]["generation"]

    for verb, addr in (("add", new.addr), ("drain", old[0].addr)):
        gen = generation()
        code, _, err = ctl(rundir, verb, addr)
        assert code == 0, err
        wait_for(f"the set after {verb}", lambda: generation() > gen)
    n = load.count()
    wait_for("load on the new set", lambda: load.count() >= n + 200, timeout=30)
    assert old[0].proc.stop() == 0             # the old pod exits
    n = load.count()
    wait_for("load after the exit", lambda: load.count() >= n + 300, timeout=30)
    code, _, err = ctl(rundir, "remove", old[0].addr)
    assert code == 0, err
    n = load.count()
    wait_for("load after the removal", lambda: load.count() >= n + 200, timeout=30)
    load.finish()
