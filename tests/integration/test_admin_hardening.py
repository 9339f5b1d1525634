"""The admin APIs hardened (issue "Reliability round 3"): a drain --wait that
ends "drained" only for the drain it waits on (409 / exit 5 when it was
cancelled), the admin API reachable under a flood of unfinished
connections, Host, raw routing, strict ?wait=, 414, 503 at SIGTERM; and the
same classes in lb-proxy's admin listener and lb-ctl's flags."""
import http.client
import json
import socket
import subprocess
import threading
import time

import pytest

from conftest import SLOW, binary, bus_proxy, ctl, ctl_json, request_in_flight, wait_for
from support.rawbackend import RawBackend, ok, serve_each
from test_admin_api import start_admin


def settled(discover, proxy, rundir, backends):
    """lb-discover (admin API, --static backends) with one bus proxy whose
    reports it has heard."""
    a = start_admin(discover, "--static", ",".join(backends), "--heartbeat", "0.05")
    p = bus_proxy(proxy, rundir, "--heartbeat", "0.2", "--report-interval", "0.05")
    wait_for("set", lambda: p.admin("/info")[1]["generation"] >= 1)
    wait_for("lb-discover has heard every proxy",
             lambda: a.call("GET", "/admin/proxies")[2]["proxies_settled"], timeout=10)
    return a, p


def in_flight(rundir, addr, n):
    return wait_for(f"{n} in flight to {addr}",
                    lambda: ctl_json(rundir, "in-flight", addr)["in_flight"] == n, timeout=10)


def parked_drain(a, addr, wait=10):
    box = {}
    t = threading.Thread(target=lambda: box.setdefault(
        "r", a.call("POST", f"/admin/backends/{addr}/drain?wait={wait}")))
    t.start()
    t.box = box
    return t


@pytest.mark.parametrize("cancel", ["undrain", "remove-add", "undrain-drain"])
def test_drain_wait_ends_409_when_the_drain_is_cancelled(discover, proxy, rundir, cancel):
    release = threading.Event()
    held = RawBackend(serve_each(lambda *req: (release.wait(30 * SLOW), ok())[1]))
    try:
        a, p = settled(discover, proxy, rundir, [held.addr])
        t = request_in_flight(p, "/slow")
        in_flight(rundir, held.addr, 1)
        w = parked_drain(a, held.addr)
        wait_for("the drain applied", lambda: a.rows()[held.addr]["state"] == "draining")
        w.join(0.3)
        assert w.is_alive(), w.box
        if cancel == "undrain":
            assert a.call("POST", f"/admin/backends/{held.addr}/undrain")[0] == 200
        elif cancel == "remove-add":
            assert a.call("DELETE", f"/admin/backends/{held.addr}")[0] == 200
            assert a.call("POST", "/admin/backends", {"address": held.addr})[0] == 201
        else:
            assert a.call("POST", f"/admin/backends/{held.addr}/undrain")[0] == 200
            assert a.call("POST", f"/admin/backends/{held.addr}/drain")[0] == 200
        release.set()           # the request ends: nothing in flight any more
        t.join()
        w.join(15 * SLOW)
        st, _, r = w.box["r"]
        assert st == 409 and r["drained"] is False, (st, r)
        assert "cancelled" in r["error"], r
        assert "drain wait ended: the drain was cancelled" in a.proc.text()
    finally:
        release.set()
        held.close()


def test_lb_ctl_drain_wait_exits_5_when_the_drain_is_undone(discover, proxy, rundir):
    release = threading.Event()
    held = RawBackend(serve_each(lambda *req: (release.wait(30 * SLOW), ok())[1]))
    try:
        a, p = settled(discover, proxy, rundir, [held.addr])
        t = request_in_flight(p, "/slow")
        in_flight(rundir, held.addr, 1)
        c = subprocess.Popen([binary("lb-ctl"), "--runtime-dir", rundir, "drain", held.addr,
                              "--wait", "--timeout", "20"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
        wait_for("the drain applied", lambda: a.rows()[held.addr]["state"] == "draining")
        assert c.poll() is None
        code, _, err = ctl(rundir, "undrain", held.addr)
        assert code == 0, err
        release.set()
        t.join()
        out, err = c.communicate(timeout=15 * SLOW)
        assert c.returncode == 5, (c.returncode, out, err)
        assert "not drained: the drain was cancelled" in err and "drained on" not in err, err
        # lb-ctl in-flight says the same through the same rule
        d = ctl_json(rundir, "in-flight", held.addr)
        assert d["drained"] is False and "undrain" in d["cancelled"], d
    finally:
        release.set()
        held.close()


def raw(port, data, timeout=5.0):
    """Sends raw bytes; returns (status, body JSON or text, seconds) of the
    answer read until the server closes."""
    t0 = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout * SLOW)
    try:
        s.sendall(data)
        got = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    finally:
        s.close()
    head, _, body = got.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1]) if head.startswith(b"HTTP/1.") else None
    try:
        body = json.loads(body)
    except ValueError:
        body = body.decode("latin-1")
    return status, body, time.monotonic() - t0


class Flood:
    """Connections that never finish their request head: `first` at once,
    then `rate` new ones a second from a thread, from `source` (a loopback
    address of its own: another client)."""

    def __init__(self, port, source, first=300, rate=50):
        self.port, self.source, self.rate = port, source, rate
        self.socks, self.stopped = [], threading.Event()
        for _ in range(first):
            self.open()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def open(self):
        try:
            s = socket.socket()
            s.bind((self.source, 0))
            s.settimeout(2)
            s.connect(("127.0.0.1", self.port))
            s.sendall(b"GET /admin/health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            self.socks.append(s)
        except OSError:
            s.close()

    def run(self):
        while not self.stopped.wait(1 / self.rate):
            self.open()

    def close(self):
        self.stopped.set()
        self.thread.join(5)
        for s in self.socks:
            s.close()


@pytest.mark.parametrize("source", ["127.0.0.2", "127.0.0.1"])
def test_a_flood_of_unfinished_heads_does_not_lock_the_admin_api_out(echo, discover, source):
    e1 = echo()
    a = start_admin(discover, "--static", e1.addr)
    flood = Flood(a.port, source)
    try:
        for _ in range(5):
            t0 = time.monotonic()
            c = http.client.HTTPConnection("127.0.0.1", a.port, timeout=5 * SLOW)
            c.request("GET", "/admin/health")
            r = c.getresponse()
            assert r.status == 200 and json.loads(r.read())["backends"]
            c.close()
            assert time.monotonic() - t0 < 1.0 * SLOW
            time.sleep(0.2)
        # logged, once per interval, not once per connection
        wait_for("the eviction logged", lambda: "admin API full" in a.proc.text())
        assert a.proc.text().count("admin API full") <= 2
    finally:
        flood.close()


def test_a_head_that_does_not_come_gets_408_after_2s(echo, discover):
    e1 = echo()
    a = start_admin(discover, "--static", e1.addr)
    st, body, took = raw(a.port, b"GET /admin/health HTTP/1.1\r\nHost: x\r\n")
    assert st == 408 and "within 2s" in body["error"], (st, body)
    assert 1.5 < took < 4 * SLOW, took


def test_http11_without_host_is_400_on_both_admin_apis(echo, discover, proxy):
    e1 = echo()
    a = start_admin(discover, "--static", e1.addr)
    p = proxy([e1.addr])
    for port, path in ((a.port, "/admin/health"), (p.admin_port, "/info")):
        st, body, _ = raw(port, f"GET {path} HTTP/1.1\r\n\r\n".encode())
        assert st == 400 and "without Host" in body["error"], (port, st, body)
        st, body, _ = raw(port, f"GET {path} HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n".encode())
        assert st == 400, (port, st, body)
        st, _, _ = raw(port, f"GET {path} HTTP/1.0\r\n\r\n".encode())
        assert st == 200
        st, _, _ = raw(port, f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert st == 200


def test_routes_on_the_raw_path_strict_wait_and_414(echo, discover):
    e1 = echo()
    a = start_admin(discover, "--static", e1.addr)
    # %2F is not a route's slash: this is not a drain of e1
    st, _, r = a.call("POST", f"/admin/backends/{e1.addr}%2Fdrain")
    assert st in (400, 404, 405), (st, r)
    st, _, r = a.call("DELETE", f"/admin/backends/{e1.addr}%2Fdrain")
    assert st == 400 and "no '/'" in r["error"], (st, r)
    assert a.rows()[e1.addr]["state"] == "up"
    # hexadecimal through strtod: refused at once, nothing drained
    for w in ("0x10", "inf", "1e999"):
        t0 = time.monotonic()
        st, _, r = a.call("POST", f"/admin/backends/{e1.addr}/drain?wait={w}")
        assert st == 400 and "decimal seconds" in r["error"], (w, st, r)
        assert time.monotonic() - t0 < 2
    assert a.rows()[e1.addr]["state"] == "up"
    # a path over 512 bytes: 414, said so
    st, _, r = a.call("GET", "/admin/" + "a" * 600)
    assert st == 414 and "over 512 bytes" in r["error"], (st, r)


def test_sigterm_answers_a_parked_drain_503(echo, discover):
    e1 = echo()
    a = start_admin(discover, "--static", e1.addr)   # no proxy: the wait cannot end
    w = parked_drain(a, e1.addr, wait=60)
    wait_for("parked", lambda: a.rows()[e1.addr]["state"] == "draining")
    w.join(0.3)
    assert w.is_alive()
    assert a.proc.stop() == 0
    w.join(10 * SLOW)
    assert "r" in w.box, "the parked request had no answer"
    st, _, r = w.box["r"]
    assert st == 503 and "stopping" in r["error"], (st, r)


def test_lb_proxy_admin_listener_under_a_flood(echo, proxy):
    e1 = echo()
    p = proxy([e1.addr])
    flood = Flood(p.admin_port, "127.0.0.2", first=200)
    try:
        for _ in range(3):
            t0 = time.monotonic()
            assert p.admin("/health")[0] == 200
            assert time.monotonic() - t0 < 1.0 * SLOW
        assert wait_for("the eviction logged",
                        lambda: "admin listener full" in p.proc.text())
    finally:
        flood.close()
    st, body, took = raw(p.admin_port, b"GET /health HTTP/1.1\r\nHost: x\r\n")
    assert st == 408 and 1.5 < took < 4 * SLOW, (st, body, took)


def test_lb_ctl_numbers_are_decimal(echo, discover, rundir):
    """The class of ?wait=0x10 in lb-ctl: its flags went through strtod or
    strtol (0x10, inf, 2.7 as 2, 5x as 5); they take decimal digits now."""
    e1 = echo()
    a = start_admin(discover, "--static", e1.addr)
    for args in (("weight", e1.addr, "2.7"), ("weight", e1.addr, "5x"),
                 ("weight", e1.addr, " 5"), ("add", "10.0.0.7:80", "--weight", "0x10"),
                 ("status", "--timeout", "0x10"), ("status", "--timeout", "inf"),
                 ("load", f"http://{e1.addr}/", "-n", "1", "--rate", "0x10")):
        code, _, err = ctl(rundir, *args)
        assert code == 2 and "lb-ctl" in err, (args, code, err)
    assert a.rows()[e1.addr]["weight"] == 1 and "10.0.0.7:80" not in a.rows()
    # what the flags take
    assert ctl(rundir, "status", "--timeout", "2s")[0] == 0
    assert ctl(rundir, "weight", e1.addr, "7")[0] == 0
    assert a.rows()[e1.addr]["weight"] == 7


def test_lb_echo_408_for_a_trickled_head(echo):
    """The class of the admin API's head deadline in lb-echo: its timer was
    re-armed at every read, so a byte every so often held a connection
    forever; --idle-timeout now bounds a request from its first byte."""
    e = echo("--idle-timeout", "1")
    s = socket.create_connection(("127.0.0.1", e.port), timeout=10 * SLOW)
    t0 = time.monotonic()
    got = b""
    try:
        for ch in b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: abcdefghijklmnop":
            s.sendall(bytes([ch]))
            time.sleep(0.1)
            s.setblocking(False)
            try:
                got += s.recv(65536)
            except BlockingIOError:
                pass
            s.setblocking(True)
            if got:
                break
        s.settimeout(5 * SLOW)
        while b"\r\n\r\n" not in got:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    finally:
        s.close()
    assert got.startswith(b"HTTP/1.1 408"), got
    assert time.monotonic() - t0 < 2.5 * SLOW
