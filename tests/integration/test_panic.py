"""The panic threshold (Envoy's): when fewer than --panic-threshold percent
of the up backends are available (not ejected by the breaker, not skipped
after a failed connect), lb-proxy balances across all of them; /info,
/metrics, the log, the bus, lb-discover's status and lb-ctl say so."""
import json
import re
import signal

from conftest import SLOW, ctl, ctl_json, generation, served_by, started_proxy, wait_for
from support.rawbackend import RawBackend, ok, serve_each

WARN = (r"WARN panic: fewer than 50% of backends available, balancing across all of them "
        r"available={available} of={of} threshold=50")
ENDED = r"INFO panic ended: enough backends available, balancing across those again"


def fails_then_recovers(n=3, status=b"502 Bad Gateway"):
    """A raw backend answering `status` to its first n requests, then 200."""
    seen = []

    def respond(head, headers, body):
        seen.append(head)
        if len(seen) <= n:
            return b"HTTP/1.1 %s\r\nContent-Length: 4\r\n\r\nbad\n" % status
        return ok(b"fine")
    return RawBackend(serve_each(respond))


def panic_info(px):
    return px.admin("/info")[1]["panic"]


def breaker_state(px, addr):
    return next(b["breaker"]["state"] for b in px.admin("/info")[1]["backends"]
                if b["address"] == addr)


def metric(px, name):
    m = re.search(rf"^{name} (\S+)$", px.admin("/metrics")[1], re.M)
    assert m, f"no {name} in /metrics"
    return float(m.group(1))


def fault(echo, body):
    status, _, _ = echo.request("POST", "/fault", body=json.dumps(body),
                                headers={"Content-Type": "application/json"})
    assert status == 200


def test_one_backend_ejected_while_it_recovered_still_serves(proxy):
    """The issue's case: one backend answers 502 three times and is ejected
    (the gateway rule), though it recovered after its third answer: with the
    default threshold (50%) every request is served, and the proxy says it
    is in panic."""
    be = fails_then_recovers()
    px = proxy([be.addr], "--access-log", "off", "--monitor-uri", "/lb-health")
    assert [px.request("GET", f"/{i}")[0] for i in range(3)] == [502] * 3
    assert breaker_state(px, be.addr) == "open"
    got = [px.request("GET", f"/after/{i}")[0] for i in range(10)]
    assert got == [200] * 10, got
    assert breaker_state(px, be.addr) == "open"          # still ejected: panic serves it
    p = panic_info(px)
    assert p == {"active": True, "available": 0, "of": 1, "threshold": 50,
                 "entered_total": 1}, p
    assert px.admin("/debug/next-backend") == (200, {"backend": be.addr, "balance": "round-robin",
                                                     "keyed": False})
    # a pick can return it: the proxy is ready (k8s keeps it in the Service)
    assert px.admin("/ready") == (200, {"status": "ready", "usable_backends": 1})
    status, _, body = px.request("GET", "/lb-health")
    assert (status, json.loads(body)) == (200, {"status": "healthy", "backends_available": 1})
    px.proc.wait_log(WARN.format(available=0, of=1))
    assert len(re.findall(r"WARN panic:", px.proc.text())) == 1    # said once
    be.close()


def test_threshold_0_keeps_the_503(proxy):
    """--panic-threshold 0: no panic; an ejected lone backend means 503, and
    the proxy is not ready."""
    be = fails_then_recovers()
    px = proxy([be.addr], "--access-log", "off", "--panic-threshold", "0")
    assert [px.request("GET", f"/{i}")[0] for i in range(3)] == [502] * 3
    got = [px.request("GET", f"/after/{i}")[0] for i in range(5)]
    assert got == [503] * 5, got
    p = panic_info(px)
    assert p == {"active": False, "available": 0, "of": 1, "threshold": 0,
                 "entered_total": 0}, p
    assert px.admin("/debug/next-backend")[0] == 503
    assert px.admin("/ready") == (503, {"status": "not ready", "usable_backends": 0})
    assert "panic" not in px.proc.text()
    be.close()


def test_two_of_three_ejected_all_three_serve_then_panic_ends(echo, proxy):
    """Three backends, two ejected (--eject-max-percent 100): one of three is
    available, below 50%: every backend gets requests, /metrics says so;
    when the ejections run out (a short --eject-time) panic ends, logged."""
    good = echo("--access-log", "off", env={"POD_NAME": "good"})
    bad = [echo("--access-log", "off", "--error-rate", "1", env={"POD_NAME": f"bad-{i}"})
           for i in range(2)]
    eject_time = 3 * SLOW
    px = proxy([good.addr] + [b.addr for b in bad], "--access-log", "off", "--eject-5xx", "1",
               "--eject-max-percent", "100", "--eject-time", str(eject_time))
    for i in range(12):
        px.request("GET", f"/eject/{i}")
        if all(breaker_state(px, b.addr) == "open" for b in bad):
            break
    assert all(breaker_state(px, b.addr) == "open" for b in bad)
    for b in bad:
        fault(b, {"errorRate": 0})      # recovered, still ejected
    got = [px.request("GET", f"/panic/{i}") for i in range(12)]
    assert all(st == 200 for st, _, _ in got), [st for st, _, _ in got]
    who = {served_by(h) for _, h, _ in got}
    assert who == {"good", "bad-0", "bad-1"}, who
    p = panic_info(px)
    assert p["active"] and p["available"] == 1 and p["of"] == 3 and p["entered_total"] == 1, p
    assert metric(px, "lb_proxy_panic") == 1
    assert metric(px, "lb_proxy_panics_total") == 1
    px.proc.wait_log(WARN.format(available=1, of=3))
    # the first ejection runs out: two of three are available again
    wait_for("panic over", lambda: not panic_info(px)["active"], timeout=eject_time + 2)
    px.proc.wait_log(ENDED + r" available=[23] of=3 threshold=50")
    assert metric(px, "lb_proxy_panic") == 0
    assert metric(px, "lb_proxy_panics_total") == 1


def test_sighup_changes_the_threshold(procs, tmp_path):
    """--panic-threshold is reloadable, as the --eject-* rules are."""
    be = fails_then_recovers()
    cfg = tmp_path / "proxy.json"
    base = {"listen": "127.0.0.1:0", "backends": be.addr, "accessLog": False,
            "panicThreshold": 0}
    cfg.write_text(json.dumps(base))
    from conftest import binary
    px = started_proxy(procs([binary("lb-proxy"), "--config", str(cfg), "--admin",
                              "127.0.0.1:0"]))
    assert [px.request("GET", f"/{i}")[0] for i in range(4)] == [502, 502, 502, 503]
    cfg.write_text(json.dumps(dict(base, panicThreshold=50)))
    px.proc.p.send_signal(signal.SIGHUP)
    px.proc.wait_log(r"INFO reloaded[^\n]*panicThreshold")
    assert [px.request("GET", f"/{i}")[0] for i in range(4)] == [200] * 4
    assert panic_info(px)["threshold"] == 50
    be.close()


# ---- on the bus: lb-discover hears it, lb-ctl shows it ----------------------------------

def bus_proxy(proxy, rundir, *flags):
    return proxy(None, "--runtime-dir", rundir, "--access-log", "off", "--report-interval",
                 "0.05", *flags)


def proxy_row(rundir, pid):
    return next((p for p in ctl_json(rundir, "status")["proxies"] if p["pid"] == pid), None)


def test_a_proxy_in_panic_is_shown_by_lb_ctl(echo, discover, proxy, rundir):
    bad = echo("--access-log", "off", "--error-rate", "1")
    d = discover("--static", bad.addr, "--health-interval", "0.2")
    px = bus_proxy(proxy, rundir, "--eject-5xx", "2")
    wait_for("a set", lambda: generation(px) >= 1)
    row = wait_for("the proxy reported", lambda: proxy_row(rundir, px.proc.pid))
    assert row["panic"] is False, row
    for i in range(4):
        px.request("GET", f"/{i}")
    assert breaker_state(px, bad.addr) == "open"
    assert panic_info(px)["active"]
    wait_for("lb-discover hears the panic", lambda: proxy_row(rundir, px.proc.pid)["panic"])
    code, out, err = ctl(rundir, "status")
    assert code == 0, err
    assert (f"panic: proxy {px.proc.pid} balances across every backend, ejected or not "
            f"(fewer than its --panic-threshold available)") in out, out
    code, out, err = ctl(rundir, "proxies")
    assert code == 0, err
    line = next(x for x in out.splitlines() if x.startswith(str(px.proc.pid)))
    assert line.rstrip().endswith("panic"), out
    d.wait_log(rf"WARN proxy in panic: it balances across every backend, ejected or not "
               rf"pid={px.proc.pid}")


def test_a_fleet_ejection_counts_toward_another_proxys_panic(echo, discover, proxy, rundir):
    """Proxy a ejects two of three backends; lb-discover publishes both
    (its --eject-max-percent 100); proxy b, which never sent them a request,
    counts them as unavailable and enters panic too."""
    good = echo("--access-log", "off", env={"POD_NAME": "good"})
    bad = [echo("--access-log", "off", "--error-rate", "1", env={"POD_NAME": f"bad-{i}"})
           for i in range(2)]
    addrs = [good.addr] + [b.addr for b in bad]
    discover("--static", ",".join(addrs), "--health-interval", "0.2",
             "--eject-max-percent", "100")
    a = bus_proxy(proxy, rundir, "--eject-5xx", "1", "--eject-max-percent", "100")
    b = bus_proxy(proxy, rundir, "--eject-5xx", "1", "--eject-max-percent", "100")
    wait_for("both on a set", lambda: generation(a) >= 1 and generation(b) >= 1)
    assert not panic_info(b)["active"]
    for i in range(12):
        a.request("GET", f"/{i}")
        if all(breaker_state(a, x.addr) == "open" for x in bad):
            break
    assert all(breaker_state(a, x.addr) == "open" for x in bad)
    wait_for("b hears both ejections", lambda: all(
        breaker_state(b, x.addr) == "open" for x in bad))
    p = panic_info(b)
    assert p["active"] and p["available"] == 1 and p["of"] == 3, p
    b.proc.wait_log(WARN.format(available=1, of=3))
    for x in bad:
        fault(x, {"errorRate": 0})
    who = {served_by(h) for st, h, _ in (b.request("GET", f"/b/{i}") for i in range(9))}
    assert who == {"good", "bad-0", "bad-1"}, who
    wait_for("both proxies in panic in lb-discover's status", lambda: all(
        (proxy_row(rundir, p.proc.pid) or {}).get("panic") for p in (a, b)))
