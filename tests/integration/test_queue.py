"""lb-proxy's concurrency limit and queue (--max-per-backend, --queue-size,
--queue-timeout) against a backend that holds each request until the test
lets it go: the cap, first come first served, the queue timeout, a full
queue, and a client that leaves the queue."""
import hashlib
import hmac
import json
import socket
import subprocess
import threading
import time

import pytest

from conftest import SLOW, binary, ctl, metric, served_by, wait_for
from support.rawbackend import RawBackend, Reader, ok


class HeldBackend(RawBackend):
    """Answers each request only once release() lets one go; records the
    paths in arrival order and the most requests it held at once."""

    def __init__(self):
        self.arrivals = []
        self.held = 0
        self.most_held = 0
        self.gate = threading.Semaphore(0)
        super().__init__(self.serve)

    def serve(self, conn, backend):
        r = Reader(conn)
        while True:
            req = r.request()
            if req is None:
                return
            path = req[0].split(b" ")[1].decode()
            with self.lock:
                self.arrivals.append(path)
                self.held += 1
                self.most_held = max(self.most_held, self.held)
            self.gate.acquire()
            with self.lock:
                self.held -= 1
            conn.sendall(ok(path.encode()))

    def release(self, n=1):
        for _ in range(n):
            self.gate.release()

    def close(self):
        self.release(100)
        super().close()


@pytest.fixture
def held():
    b = HeldBackend()
    yield b
    b.close()


def send(p, path, results):
    """GET path from a thread; results[path] = (status, headers, body)."""
    t = threading.Thread(target=lambda: results.__setitem__(path, p.request("GET", path,
                                                                          timeout=30)))
    t.start()
    return t


def test_cap_is_respected_and_the_queue_is_served_in_order(proxy, held):
    p = proxy([held.addr], "--max-per-backend", "2")
    results, threads = {}, []
    for i in range(2):
        threads.append(send(p, f"/{i}", results))
        wait_for(f"{i + 1} at the backend", lambda: len(held.arrivals) == i + 1)
    for i in range(2, 6):
        threads.append(send(p, f"/{i}", results))
        wait_for(f"{i - 1} queued", lambda: metric(p, "lb_proxy_queue_length") == i - 1)
    status, info = p.admin("/info")
    assert info["queue"]["length"] == 4 and info["queue"]["max_per_backend"] == 2
    assert info["backends"][0]["active"] == 2
    for n in range(3, 7):
        held.release()
        wait_for(f"{n} requests at the backend", lambda: len(held.arrivals) == n)
    held.release(2)
    for t in threads:
        t.join()
    assert held.arrivals == [f"/{i}" for i in range(6)]
    assert held.most_held == 2
    assert all(results[f"/{i}"][0] == 200 for i in range(6))
    assert metric(p, "lb_proxy_queue_length") == 0
    assert metric(p, "lb_proxy_queue_wait_seconds_count") == 4


def test_cap_spreads_over_backends(proxy):
    """With two backends at cap 1, the third request waits, then goes to
    whichever frees first."""
    a, b = HeldBackend(), HeldBackend()
    p = proxy([a.addr, b.addr], "--max-per-backend", "1")
    results = {}
    threads = [send(p, "/1", results)]
    wait_for("one at a backend", lambda: len(a.arrivals) + len(b.arrivals) == 1)
    threads.append(send(p, "/2", results))
    wait_for("one at each", lambda: len(a.arrivals) == 1 and len(b.arrivals) == 1)
    threads.append(send(p, "/3", results))
    wait_for("the third queued", lambda: metric(p, "lb_proxy_queue_length") == 1)
    b.release()
    wait_for("the third at b", lambda: b.arrivals == ["/2", "/3"])
    assert a.arrivals == ["/1"]
    a.release()
    b.release()
    for t in threads:
        t.join()
    assert sorted(s for s, _, _ in results.values()) == [200, 200, 200]
    a.close()
    b.close()


def test_sticky_client_at_a_full_backend_is_balanced_elsewhere(proxy):
    """The cap holds for sticky clients too: one whose backend is at its cap
    goes to another with room (HAProxy's redispatch), not past the cap."""
    a, b = HeldBackend(), HeldBackend()
    p = proxy([a.addr, b.addr], "--max-per-backend", "1", "--sticky-cookie", "lbsrv",
              "--sticky-secret", "k")
    cookie = "lbsrv=" + hmac.new(b"k", a.addr.encode(), hashlib.sha256).hexdigest()[:16]
    results = {}
    get = lambda path: results.__setitem__(path, p.request("GET", path, headers={"Cookie": cookie}))
    first = threading.Thread(target=get, args=("/first",))
    first.start()
    wait_for("the sticky request at its backend", lambda: a.arrivals == ["/first"])
    second = threading.Thread(target=get, args=("/second",))
    second.start()
    wait_for("the second at the other backend", lambda: b.arrivals == ["/second"])
    assert a.most_held == 1
    a.release()
    b.release()
    first.join()
    second.join()
    assert results["/second"][0] == 200
    a.close()
    b.close()


def test_queue_timeout_is_503_overloaded_with_retry_after(proxy, held):
    p = proxy([held.addr], "--max-per-backend", "1", "--queue-timeout", "0.4")
    results = {}
    first = send(p, "/first", results)
    wait_for("one at the backend", lambda: len(held.arrivals) == 1)
    t = time.time()
    status, hdrs, body = p.request("GET", "/waits")
    took = time.time() - t
    assert status == 503
    doc = json.loads(body)
    assert doc["error"] == "overloaded" and doc["requestId"] == hdrs["X-Request-Id"]
    assert hdrs["Retry-After"] == "1"
    assert 0.4 <= took < 0.4 + 2 * SLOW
    assert held.arrivals == ["/first"]          # the backend never saw it
    assert metric(p, "lb_proxy_queue_timeouts_total") == 1
    assert metric(p, "lb_proxy_queue_length") == 0
    p.proc.wait_log(r'status=503 backend=- .*refused="queue timeout"')
    held.release()
    first.join()
    assert results["/first"][0] == 200


def test_full_queue_is_503_at_once(proxy, held):
    p = proxy([held.addr], "--max-per-backend", "1", "--queue-size", "1",
              "--queue-timeout", "30")
    results = {}
    threads = [send(p, "/first", results)]
    wait_for("one at the backend", lambda: len(held.arrivals) == 1)
    threads.append(send(p, "/queued", results))
    wait_for("one queued", lambda: metric(p, "lb_proxy_queue_length") == 1)
    t = time.time()
    status, hdrs, body = p.request("GET", "/third")
    assert time.time() - t < 5 * SLOW           # not the 30 s queue timeout
    assert status == 503 and json.loads(body)["error"] == "overloaded"
    assert hdrs["Retry-After"] == "1"
    assert metric(p, "lb_proxy_queue_full_total") == 1
    held.release(2)
    for th in threads:
        th.join()
    assert results["/first"][0] == 200 and results["/queued"][0] == 200
    assert held.arrivals == ["/first", "/queued"]


def test_queue_size_0_refuses_at_the_cap(proxy, held):
    p = proxy([held.addr], "--max-per-backend", "1", "--queue-size", "0")
    results = {}
    first = send(p, "/first", results)
    wait_for("one at the backend", lambda: len(held.arrivals) == 1)
    status, hdrs, body = p.request("GET", "/second")
    assert status == 503 and json.loads(body)["error"] == "overloaded"
    held.release()
    first.join()


def test_client_that_leaves_the_queue_is_forgotten(proxy, held):
    p = proxy([held.addr], "--max-per-backend", "1")
    results = {}
    first = send(p, "/first", results)
    wait_for("one at the backend", lambda: len(held.arrivals) == 1)
    s = socket.create_connection(("127.0.0.1", p.port))
    s.sendall(b"GET /gone HTTP/1.1\r\nHost: a\r\n\r\n")
    wait_for("it is queued", lambda: metric(p, "lb_proxy_queue_length") == 1)
    s.close()
    wait_for("it left the queue", lambda: metric(p, "lb_proxy_queue_length") == 0)
    after = send(p, "/after", results)
    wait_for("the next queued", lambda: metric(p, "lb_proxy_queue_length") == 1)
    held.release()
    wait_for("the next at the backend", lambda: len(held.arrivals) == 2)
    held.release()
    first.join()
    after.join()
    assert held.arrivals == ["/first", "/after"]
    assert results["/after"][0] == 200


def test_no_cap_by_default(proxy, held):
    p = proxy([held.addr])
    results = {}
    threads = [send(p, f"/{i}", results) for i in range(5)]
    wait_for("all five at the backend", lambda: len(held.arrivals) == 5)
    assert metric(p, "lb_proxy_queue_length") == 0
    held.release(5)
    for t in threads:
        t.join()


def test_a_new_set_with_room_wakes_the_queue(echo, discover, proxy, rundir):
    """All at the cap, a request waits; a backend added (lb-ctl add) takes it
    at once instead of when the busy one frees."""
    # busy long enough for the add to reach the proxy first on a loaded machine
    busy = echo("--delay-ms", "2500", "--access-log", "off", env={"POD_NAME": "busy"})
    fresh = echo("--access-log", "off", env={"POD_NAME": "fresh"})
    discover("--static", busy.addr, "--heartbeat", "0.2")
    p = proxy(None, "--runtime-dir", rundir, "--max-per-backend", "1", "--queue-timeout", "30")
    wait_for("the set", lambda: p.admin("/info")[1]["generation"] >= 1)
    results = {}
    first = send(p, "/first", results)
    wait_for("the first in flight", lambda: p.admin("/info")[1]["backends"][0]["active"] == 1)
    second = send(p, "/second", results)
    wait_for("the second queued", lambda: metric(p, "lb_proxy_queue_length") == 1)
    code, _, err = ctl(rundir, "add", fresh.addr)
    assert code == 0, err
    second.join(10 * SLOW)
    assert "/second" in results and "/first" not in results
    assert results["/second"][0] == 200 and served_by(results["/second"][1]) == "fresh"
    first.join()
    assert results["/first"][0] == 200


@pytest.mark.parametrize("flag,value", [
    ("--max-per-backend", "-1"),
    ("--max-per-backend", "lots"),
    ("--queue-size", "-5"),
    ("--queue-timeout", "0"),
    ("--queue-timeout", "soon"),
])
def test_bad_queue_flags_exit_2(flag, value):
    r = subprocess.run([binary("lb-proxy"), "--backends", "127.0.0.1:1", flag, value],
                       capture_output=True, text=True, timeout=10 * SLOW)
    assert r.returncode == 2
    assert flag in r.stderr
