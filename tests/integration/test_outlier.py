"""Outlier ejection (the circuit breaker): per proxy (consecutive 5xx,
gateway failures, growth and cap, max-percent, the half-open trial, client
aborts) and fleet-wide through lb-discover."""
import json
import socket
import subprocess
import threading
import time

import pytest

from conftest import SLOW, binary, ctl, ctl_json, served_by, wait_for


def breaker(proxy, addr):
    for b in proxy.admin("/info")[1]["backends"]:
        if b["address"] == addr:
            return b["breaker"]
    raise AssertionError(f"{addr} not in /info")


def info_backend(proxy, addr):
    return next(b for b in proxy.admin("/info")[1]["backends"] if b["address"] == addr)


def metric(proxy, name, addr):
    text = proxy.admin("/metrics")[1]
    for line in text.splitlines():
        if line.startswith(f'{name}{{backend="{addr}"}} '):
            return float(line.split()[-1])
    raise AssertionError(f"no {name} for {addr} in /metrics")


def statuses(proxy, n, path="/x"):
    out = []
    for _ in range(n):
        status, headers, _ = proxy.request("GET", path)
        out.append((status, served_by(headers)))
    return out


def fault(echo, body):
    status, _, _ = echo.request("POST", "/fault", body=json.dumps(body),
                                headers={"Content-Type": "application/json"})
    assert status == 200


def pod(echo):
    return echo.get_json("/")[1]["podName"]


def test_flags_are_checked_at_start_up():
    for flags, word in ((["--eject-time", "30", "--eject-time-max", "10"], "--eject-time-max"),
                        (["--eject-max-percent", "101"], "--eject-max-percent"),
                        (["--eject-5xx", "-1"], "--eject-5xx"),
                        (["--eject-gateway", "x"], "--eject-gateway")):
        r = subprocess.run([binary("lb-proxy"), "--backends", "127.0.0.1:1", "--listen",
                            "127.0.0.1:0", "--admin", "127.0.0.1:0", *flags],
                           capture_output=True, text=True, timeout=10 * SLOW)
        assert r.returncode == 2, (flags, r.stderr)
        assert word in r.stderr, r.stderr


def test_consecutive_5xx_eject_the_backend(echo, proxy):
    """A backend answering 500 to everything gets exactly --eject-5xx requests,
    then none; /info and the metrics say so."""
    good = echo(env={"POD_NAME": "good"})
    bad = echo("--error-rate", "1")
    px = proxy([good.addr, bad.addr], "--eject-5xx", "3")
    got = statuses(px, 30)
    assert sum(1 for s, _ in got if s == 500) == 3, got
    assert all(s == 200 for s, _ in got[8:]), got
    b = breaker(px, bad.addr)
    assert b["state"] == "open", b
    assert b["reason"] == f"outlier: 3 consecutive 5xx on proxy {px.proc.pid}", b
    assert 29 < b["left"] <= 30, b
    assert b["ejections"] == 1
    assert metric(px, "lb_proxy_backend_breaker_state", bad.addr) == 1
    assert metric(px, "lb_proxy_backend_ejections_total", bad.addr) == 1
    assert metric(px, "lb_proxy_backend_breaker_state", good.addr) == 0
    assert "backend ejected" in px.proc.text()


def test_refused_connects_eject_the_backend(echo, proxy):
    """Refused connects are gateway failures: after --eject-gateway of them
    the backend is not tried again (with --fail-timeout 0, only the breaker
    keeps requests off it); clients see no failure (retried)."""
    good = echo()
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    dead = f"127.0.0.1:{s.getsockname()[1]}"
    s.close()
    px = proxy([good.addr, dead], "--eject-gateway", "2", "--fail-timeout", "0")
    got = statuses(px, 20)
    assert all(st == 200 for st, _ in got), got
    d = info_backend(px, dead)
    assert d["errors"] == 2, d
    assert d["breaker"]["state"] == "open"
    assert "gateway failures" in d["breaker"]["reason"]


def test_response_timeouts_eject_the_backend(echo, proxy):
    """A backend slower than --response-timeout: --eject-gateway 504s, then
    every request goes to the other backend."""
    good = echo(env={"POD_NAME": "good"})
    slow = echo("--delay-ms", "1500")
    px = proxy([good.addr, slow.addr], "--eject-gateway", "2", "--response-timeout", "0.5")
    got = statuses(px, 12)
    assert sum(1 for st, _ in got if st == 504) == 2, got
    assert all(st == 200 for st, _ in got[4:]), got
    assert breaker(px, slow.addr)["state"] == "open"


def test_half_open_trial_decides(echo, proxy):
    """When the time is up one trial request goes to the backend: a failure
    ejects it for longer (--eject-time x ejections, capped at --eject-time-max),
    a success closes the breaker."""
    good = echo(env={"POD_NAME": "good"})
    bad = echo("--error-rate", "1", env={"POD_NAME": "bad"})
    px = proxy([good.addr, bad.addr], "--eject-5xx", "2", "--eject-time", "1",
               "--eject-time-max", "1.5")
    statuses(px, 6)
    b = breaker(px, bad.addr)
    assert b["state"] == "open" and b["ejections"] == 1 and b["left"] <= 1, b
    wait_for("half-open", lambda: breaker(px, bad.addr)["state"] == "half-open", timeout=3)
    got = statuses(px, 6)
    assert [st for st, _ in got].count(500) == 1, got     # the one trial
    b = breaker(px, bad.addr)
    assert b["state"] == "open" and b["ejections"] == 2, b
    assert 1.0 < b["left"] <= 1.5, b                       # 2 x 1 s, capped at 1.5 s
    assert b["reason"] == f"outlier: the trial failed (5xx) on proxy {px.proc.pid}", b
    fault(bad, {"errorRate": 0})
    wait_for("half-open again", lambda: breaker(px, bad.addr)["state"] == "half-open", timeout=4)
    got = statuses(px, 6)
    assert all(st == 200 for st, _ in got), got
    assert "bad" in [who for _, who in got], got
    b = breaker(px, bad.addr)
    assert b["state"] == "closed", b
    assert metric(px, "lb_proxy_backend_ejections_total", bad.addr) == 2


def test_half_open_admits_one_trial_at_a_time(echo, proxy):
    """Ten requests at once on a half-open backend: one goes to it."""
    good = echo(env={"POD_NAME": "good"})
    bad = echo("--error-rate", "1", env={"POD_NAME": "bad"})
    px = proxy([good.addr, bad.addr], "--eject-5xx", "1", "--eject-time", "0.5")
    statuses(px, 4)
    assert breaker(px, bad.addr)["state"] == "open"
    fault(bad, {"errorRate": 0, "delayMs": 1000})
    wait_for("half-open", lambda: breaker(px, bad.addr)["state"] == "half-open", timeout=3)
    before = info_backend(px, bad.addr)["requests_forwarded"]
    results = []
    threads = [threading.Thread(target=lambda: results.append(px.request("GET", "/y")))
               for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 10 and all(r[0] == 200 for r in results), results
    assert info_backend(px, bad.addr)["requests_forwarded"] - before == 1
    assert breaker(px, bad.addr)["state"] == "closed"


def test_a_client_abort_is_not_a_backend_failure(echo, proxy):
    """Clients that hang up before the answer never count against a backend."""
    slow = echo("--delay-ms", "3000")
    px = proxy([slow.addr], "--eject-5xx", "1", "--eject-gateway", "1")
    for _ in range(3):
        s = socket.create_connection(("127.0.0.1", px.port))
        s.sendall(b"GET /z HTTP/1.1\r\nHost: x\r\n\r\n")
        wait_for("in flight", lambda: info_backend(px, slow.addr)["active"] == 1)
        s.close()
        wait_for("let go", lambda: info_backend(px, slow.addr)["active"] == 0)
    b = breaker(px, slow.addr)
    assert b["state"] == "closed", b
    assert b["consecutive_5xx"] == 0 and b["consecutive_gateway"] == 0, b
    assert px.admin("/info")[1]["backends"][0]["errors"] == 0


def test_max_percent_bounds_the_ejected_share(echo, proxy):
    """Four backends all failing, --eject-max-percent 50: two are ejected, the
    other two keep serving (their 500s reach clients)."""
    bad = [echo("--error-rate", "1") for _ in range(4)]
    px = proxy([b.addr for b in bad], "--eject-5xx", "1", "--eject-max-percent", "50")
    statuses(px, 12)
    states = [breaker(px, b.addr)["state"] for b in bad]
    assert states.count("open") == 2, states
    assert states.count("closed") == 2, states
