"""lb-discover's HTTP admin API (--admin): every route against real
processes, its errors, the token and loopback rules, drain?wait= against a
proxy with a request in flight, and that lb-ctl and the API are one
implementation (the same results and messages)."""
import http.client
import json
import os
import re
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import SLOW, binary, bus_proxy, ctl, ctl_json, request_in_flight, wait_for
from support.net import recv_until_close
from support.rawbackend import RawBackend, ok, serve_each


class Admin:
    """The admin API of one lb-discover."""

    def __init__(self, proc, port, token=None):
        self.proc = proc
        self.port = port
        self.token = token

    def call(self, method, path, body=None, token="default", raw=None, headers=None):
        """(status, headers, JSON body or text)."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30 * SLOW)
        h = dict(headers or {})
        token = self.token if token == "default" else token
        if token:
            h["Authorization"] = f"Bearer {token}"
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        if data is not None:
            h.setdefault("Content-Type", "application/json")
        try:
            c.request(method, path, body=data, headers=h)
            r = c.getresponse()
            text = r.read().decode()
            hdrs = {k.lower(): v for k, v in r.getheaders()}
            if text and hdrs.get("content-type", "").startswith("application/json"):
                return r.status, hdrs, json.loads(text)
            return r.status, hdrs, text
        finally:
            c.close()

    def rows(self):
        return {b["address"]: b for b in self.call("GET", "/admin/backends")[2]["backends"]}


def start_admin(discover, *flags, token=None, admin="127.0.0.1:0"):
    p = discover(*flags, "--admin", admin)
    m = p.wait_log(r"admin listening admin=[^ ]*:(\d+)")
    return Admin(p, int(m.group(1)), token)


def token_file(text):
    f = tempfile.NamedTemporaryFile("w", prefix="lb-token-", delete=False)
    f.write(text)
    f.close()
    return f.name


def test_every_route_and_lb_ctl_agree(echo, discover, rundir):
    e1, e2, e3 = echo(), echo(), echo()
    a = start_admin(discover, "--static", f"{e1.addr},{e2.addr}")
    st, _, doc = a.call("GET", "/admin/health")
    assert st == 200 and doc["service"] == "backend" and doc["generation"] >= 1
    row = {b["address"]: b for b in doc["backends"]}[e1.addr]
    for k in ("state", "health", "reason", "weight", "active", "requests", "errors"):
        assert k in row
    assert a.call("GET", "/admin/backends")[2]["backends"] == doc["backends"]
    assert ctl_json(rundir, "status")["backends"] == doc["backends"]   # one implementation
    st, _, px = a.call("GET", "/admin/proxies")
    assert st == 200 and px["proxies"] == [] and "proxies_settled" in px
    # add (the URL spelling in the body), answered with the new generation
    gen = doc["generation"]
    st, _, r = a.call("POST", "/admin/backends", {"address": f"http://{e3.addr}/", "weight": 2})
    assert (st, r) == (201, {"generation": gen + 1, "address": e3.addr})
    assert ctl_json(rundir, "status")["generation"] == gen + 1
    assert {b["address"]: b["weight"] for b in ctl_json(rundir, "status")["backends"]}[e3.addr] == 2
    # lb-ctl's writes show in the API and the API's in lb-ctl
    assert ctl(rundir, "drain", e1.addr)[0] == 0
    assert a.rows()[e1.addr]["state"] == "draining"
    st, _, r = a.call("POST", f"/admin/backends/{e1.addr}/undrain")
    assert st == 200 and r["generation"] == gen + 3
    assert {b["address"]: b["state"] for b in ctl_json(rundir, "status")["backends"]}[e1.addr] == "up"
    st, _, r = a.call("PUT", f"/admin/backends/{e2.addr}/weight", {"weight": 7})
    assert st == 200 and a.rows()[e2.addr]["weight"] == 7
    st, _, r = a.call("POST", f"/admin/backends/{e2.addr}/drain")
    assert st == 200 and a.rows()[e2.addr]["state"] == "draining"
    st, _, r = a.call("DELETE", f"/admin/backends/{e3.addr}")
    assert st == 200 and e3.addr not in a.rows()
    assert e3.addr not in {b["address"] for b in ctl_json(rundir, "status")["backends"]}
    # the same refusals, in the same words
    code, _, err = ctl(rundir, "add", e1.addr)
    st, _, r = a.call("POST", "/admin/backends", {"address": e1.addr})
    assert code == 1 and st == 409 and r["error"] in err and "already in the set" in r["error"]
    code, _, err = ctl(rundir, "drain", "10.9.9.9:80")
    st, _, r = a.call("POST", "/admin/backends/10.9.9.9:80/drain")
    assert code == 1 and st == 404 and r["error"] in err and "unknown backend 10.9.9.9:80" in err
    code, _, err = ctl(rundir, "add", "10.0.0.1:80", "--weight", "5000")
    st, _, r = a.call("POST", "/admin/backends", {"address": "10.0.0.1:80", "weight": 5000})
    assert code == 1 and st == 400 and r["error"] in err and "1 to 1000" in err
    # the operator log names the command and the backend, for both
    a.proc.wait_log(rf"operator command=weight address={re.escape(e2.addr)}")


def test_errors(echo, discover, rundir):
    e1 = echo()
    a = start_admin(discover, "--static", e1.addr)
    post = lambda body=None, raw=None: a.call("POST", "/admin/backends", body, raw=raw)
    st, _, r = post(raw="{not json")
    assert st == 400 and "not JSON" in r["error"]
    assert post(raw="[1]")[0] == 400
    assert post(raw="")[0] == 400
    st, _, r = post({"weight": 2})
    assert st == 400 and "needs an \"address\"" in r["error"]
    st, _, r = post({"address": "10.0.0.1"})
    assert st == 400 and "port" in r["error"]
    st, _, r = post({"address": "https://10.0.0.1:80"})
    assert st == 400 and "only http://" in r["error"]
    st, _, r = post({"address": "10.0.0.1:80", "weight": "2"})
    assert st == 400 and "1 to 1000" in r["error"]
    st, _, r = a.call("PUT", f"/admin/backends/{e1.addr}/weight", {"weight": 0})
    assert st == 400 and "1 to 1000" in r["error"]
    st, _, r = a.call("PUT", f"/admin/backends/{e1.addr}/weight", {})
    assert st == 400
    st, _, r = a.call("DELETE", "/admin/backends/10.0.0.99:80")
    assert st == 404 and "unknown backend" in r["error"]
    st, _, r = a.call("POST", f"/admin/backends/{e1.addr}/drain?wait=abc")
    assert st == 400 and "wait must be decimal seconds" in r["error"]
    assert a.rows()[e1.addr]["state"] == "up"        # a refused request changed nothing
    # 405 names what the route takes
    st, h, r = a.call("DELETE", "/admin/health")
    assert st == 405 and h["allow"] == "GET, HEAD"
    st, h, _ = a.call("GET", f"/admin/backends/{e1.addr}/drain")
    assert st == 405 and h["allow"] == "POST"
    st, h, _ = a.call("PUT", "/admin/backends")
    assert st == 405 and "POST" in h["allow"]
    st, _, r = a.call("GET", "/admin/nothing")
    assert st == 404 and "/admin/health" in r["error"]
    # bounded: a body over 4 KiB is 413, a head over 8 KiB 431
    st, _, r = post(raw=json.dumps({"address": "10.0.0.1:80", "pad": "x" * 5000}))
    assert st == 413
    st, _, _ = a.call("GET", "/admin/health", headers={"X-Pad": "x" * 9000})
    assert st == 431
    # HEAD: the head of GET
    st, h, body = a.call("HEAD", "/admin/health")
    assert st == 200 and body == "" and int(h["content-length"]) > 0
    # IPv6 and the URL spelling, percent-encoded in the path
    assert post({"address": "[::1]:9"})[0] == 201
    assert a.call("POST", "/admin/backends/%5B%3A%3A1%5D%3A9/drain")[0] == 200
    assert a.rows()["[::1]:9"]["state"] == "draining"
    assert a.call("POST", f"/admin/backends/{e1.addr.replace(':', '%3A')}/drain")[0] == 200
    assert a.rows()[e1.addr]["state"] == "draining"
    assert a.call("POST", f"/admin/backends/{e1.addr}/undrain")[0] == 200
    assert a.rows()[e1.addr]["state"] == "up"
    # an address in the path holds no '/': the http:// spelling goes in a body
    st, _, r = a.call("POST", f"/admin/backends/http%3A%2F%2F{e1.addr}/drain")
    assert st == 400 and "no '/'" in r["error"]
    st, _, r = a.call("POST", f"/admin/backends/http://{e1.addr}/undrain")
    assert st == 400 and "no '/'" in r["error"]
    # a client that sends half a request and leaves costs nothing
    import socket
    s = socket.create_connection(("127.0.0.1", a.port))
    s.sendall(b"POST /admin/backends HTTP/1.1\r\nContent-Length: 50\r\n\r\n{")
    s.close()
    assert a.call("GET", "/admin/health")[0] == 200


def test_token_guards_writes(echo, discover, rundir):
    e1 = echo()
    path = token_file("s3cret-token\n")
    try:
        a = start_admin(discover, "--static", e1.addr, "--admin-token", path, token=None)
        assert a.call("GET", "/admin/health")[0] == 200        # reads are open
        st, h, r = a.call("POST", f"/admin/backends/{e1.addr}/drain")
        assert st == 401 and h["www-authenticate"].startswith("Bearer") and "token" in r["error"]
        st, _, r = a.call("POST", f"/admin/backends/{e1.addr}/drain", token="wrong")
        assert st == 403
        st, _, r = a.call("POST", f"/admin/backends/{e1.addr}/drain", token="s3cret-token-")
        assert st == 403
        assert a.call("POST", f"/admin/backends/{e1.addr}/drain",
                      headers={"Authorization": "Basic czNjcmV0"})[0] == 401
        assert a.rows()[e1.addr]["state"] == "up"
        st, _, r = a.call("POST", f"/admin/backends/{e1.addr}/drain", token="s3cret-token")
        assert st == 200 and a.rows()[e1.addr]["state"] == "draining"
        # lb-ctl needs no token: the runtime dir (0700) is its guard
        assert ctl(rundir, "undrain", e1.addr)[0] == 0
    finally:
        os.unlink(path)


def run_discover(rundir, *flags):
    r = subprocess.run([binary("lb-discover"), "--runtime-dir", rundir, *flags],
                       capture_output=True, text=True, timeout=10 * SLOW)
    return r.returncode, r.stderr


def test_loopback_rule_and_flag_validation(echo, discover, rundir):
    e1 = echo()
    code, err = run_discover(rundir + "-a", "--static", e1.addr, "--admin", "0.0.0.0:0")
    assert code == 2 and "--admin 0.0.0.0:0" in err and "loopback only" in err, err
    code, err = run_discover(rundir + "-a", "--static", e1.addr, "--admin-token", "/x")
    assert code == 2 and "need --admin" in err, err
    code, err = run_discover(rundir + "-a", "--static", e1.addr, "--admin", "127.0.0.1:0",
                             "--admin-token", "/nonexistent/token")
    assert code == 2 and "--admin-token /nonexistent/token" in err, err
    empty = token_file("\n")
    try:
        code, err = run_discover(rundir + "-a", "--static", e1.addr, "--admin", "127.0.0.1:0",
                                 "--admin-token", empty)
        assert code == 2 and "one token" in err, err
    finally:
        os.unlink(empty)
    code, err = run_discover(rundir + "-a", "--static", e1.addr, "--admin", "127.0.0.1:99999")
    assert code == 2 and "--admin" in err, err
    # --admin-insecure opens it without a token
    a = start_admin(discover, "--static", e1.addr, "--admin-insecure", admin="0.0.0.0:0")
    assert a.call("GET", "/admin/health")[0] == 200
    a.proc.wait_log(r"admin listening admin=0\.0\.0\.0:\d+ auth=none")


def test_token_opens_any_address(echo, discover, rundir):
    e1 = echo()
    path = token_file("t0k")
    try:
        a = start_admin(discover, "--static", e1.addr, "--admin-token", path, admin="0.0.0.0:0",
                        token="t0k")
        assert a.call("POST", f"/admin/backends/{e1.addr}/drain")[0] == 200
        a.proc.wait_log(r"auth=token")
    finally:
        os.unlink(path)


def test_drain_wait_parks_until_the_request_in_flight_ends(discover, proxy, rundir):
    # the backend answers only when the test says: the wait is shown to end
    # with the request, whatever the machine's speed (a 1 s backend could
    # answer before a slow start-up reached the drain)
    release = threading.Event()
    held = RawBackend(serve_each(lambda *req: (release.wait(30 * SLOW), ok())[1]))
    try:
        # heartbeat 0.05: proxies_settled comes 5 heartbeats + 2 s after the start
        a = start_admin(discover, "--static", held.addr, "--heartbeat", "0.05")
        p = bus_proxy(proxy, rundir, "--heartbeat", "0.2", "--report-interval", "0.05")
        wait_for("set", lambda: p.admin("/info")[1]["generation"] >= 1)
        wait_for("lb-discover has heard every proxy",
                 lambda: a.call("GET", "/admin/proxies")[2]["proxies_settled"], timeout=10)

        def in_flight_seen():
            d = ctl_json(rundir, "in-flight", held.addr)
            return d if d["in_flight"] == 1 else None
        t = request_in_flight(p, "/slow")
        # lb-ctl in-flight asks the rule the API's wait uses (one implementation)
        got = wait_for("lb-discover sums the request", in_flight_seen, timeout=10)
        assert got["proxies"] == 1 and got["drained"] is False
        code, out, _ = ctl(rundir, "in-flight", held.addr)
        assert code == 0 and f"{held.addr}: 1 in flight on 1 proxy" in out, out
        box = {}
        w = threading.Thread(target=lambda: box.setdefault(
            "r", a.call("POST", f"/admin/backends/{held.addr}/drain?wait=10")))
        w.start()
        w.join(0.3)
        assert w.is_alive(), f"drain?wait returned with the request in flight: {box}"
        release.set()
        w.join()
        t.join()
        assert t.response[0] == 200
        st, _, r = box["r"]
        assert st == 200 and r["drained"] is True and r["proxies"] == 1 and \
            r["in_flight"] == 0, r
        assert r["generation"] == ctl_json(rundir, "status")["generation"]
        # other requests are answered while one waits (nothing blocks)
        release.clear()
        assert a.call("POST", f"/admin/backends/{held.addr}/undrain")[0] == 200
        wait_for("undrained", lambda: p.admin("/info")[1]["backends"][0]["state"] == "up")
        t = request_in_flight(p, "/slow2")
        wait_for("lb-discover sums the request", in_flight_seen, timeout=10)
        box = {}
        w = threading.Thread(target=lambda: box.setdefault(
            "r", a.call("POST", f"/admin/backends/{held.addr}/drain?wait=0.4")))
        w.start()
        assert a.call("GET", "/admin/health")[0] == 200
        w.join()
        st, _, r = box["r"]
        # timing out: 202, the drain applied and its request still running
        assert st == 202 and r["drained"] is False and r["in_flight"] in (1, -1), r
        release.set()
        t.join()
        assert t.response[0] == 200
    finally:
        release.set()
        held.close()


def test_metrics(echo, discover, proxy, rundir):
    e1 = echo("--access-log", "off")
    a = start_admin(discover, "--static", e1.addr, "--heartbeat", "0.2", "--health-interval",
                    "0.1")
    p = bus_proxy(proxy, rundir, "--heartbeat", "0.2", "--report-interval", "0.05")
    wait_for("set", lambda: p.admin("/info")[1]["generation"] >= 1)
    for _ in range(5):
        assert p.request("GET", "/")[0] == 200

    def metric(text, name, **labels):
        for line in text.splitlines():
            m = re.match(r"^(\w+)(?:\{(.*)\})? (\S+)$", line)
            if m and m.group(1) == name:
                got = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
                if all(got.get(k) == v for k, v in labels.items()):
                    return float(m.group(3))
        return None

    def scraped():
        st, h, text = a.call("GET", "/admin/metrics")
        assert st == 200 and h["content-type"].startswith("text/plain")
        return text
    wait_for("the proxy's requests summed",
             lambda: metric(scraped(), "lb_discover_backend_requests_total", backend=e1.addr) == 5)
    text = scraped()
    assert metric(text, "lb_discover_backend_state", backend=e1.addr, state="up") == 1
    assert metric(text, "lb_discover_backend_state", backend=e1.addr, state="down") == 0
    assert metric(text, "lb_discover_backends", service="backend") == 1
    wait_for("health checks counted", lambda: metric(
        scraped(), "lb_discover_backend_health_checks_total", backend=e1.addr) >= 2)
    assert metric(scraped(), "lb_discover_backend_health_check_seconds", backend=e1.addr) > 0
    assert metric(text, "lb_discover_backend_health_check_failures_total", backend=e1.addr) == 0
    assert metric(text, "lb_discover_proxy_report_age_seconds", pid=str(p.proc.pid)) < 5
    assert metric(text, "lb_discover_proxies") == 1
    # a failing backend: its failures count, its state goes down
    assert a.call("POST", "/admin/backends", {"address": "127.0.0.1:1"})[0] == 201
    wait_for("the dead backend down", lambda: metric(
        scraped(), "lb_discover_backend_state", backend="127.0.0.1:1", state="down") == 1)
    assert metric(scraped(), "lb_discover_backend_health_check_failures_total",
                  backend="127.0.0.1:1") >= 3
    for line in scraped().splitlines():              # the text format's grammar
        assert line.startswith("# HELP ") or line.startswith("# TYPE ") or \
            re.match(r'^[a-z_][a-z0-9_]*(\{([a-z_]+="[^"]*",?)+\})? [0-9.e+-]+$', line), line


def test_localhost_rule_and_joined_left_log(echo, discover, proxy, rundir):
    """Names resolve where nothing can block (lb-discover --static and lb-ctl,
    as lb-proxy --backends); the API and the file source take IP literals and
    say so."""
    e1, e2 = echo(), echo()
    a = start_admin(discover, "--static", f"localhost:{e1.port}")
    assert list(a.rows()) == [f"127.0.0.1:{e1.port}"]
    a.proc.wait_log(rf"set changed service=backend generation=1 backends=1 "
                    rf"joined=127\.0\.0\.1:{e1.port} left=-")
    a.proc.wait_log(r"INFO publishing .* backends=1")
    code, _, err = ctl(rundir, "add", f"localhost:{e2.port}")
    assert code == 0, err
    assert f"127.0.0.1:{e2.port}" in a.rows()
    a.proc.wait_log(rf"generation=2 backends=2 joined=127\.0\.0\.1:{e2.port} left=-")
    assert ctl(rundir, "remove", f"localhost:{e1.port}")[0] == 0
    a.proc.wait_log(rf"generation=3 backends=1 joined=- left=127\.0\.0\.1:{e1.port}")
    st, _, r = a.call("POST", "/admin/backends", {"address": "backend.example:80"})
    assert st == 400 and "not an IP address" in r["error"] and "start-up" in r["error"], r
    p = proxy(None, "--runtime-dir", rundir)
    wait_for("the proxy applies what lb-discover logged",
             lambda: len(p.admin("/info")[1]["backends"]) == 1)


def test_file_source_takes_ip_literals_and_localhost_and_says_why(discover, rundir, tmp_path):
    """The file source runs in the loop, where nothing may block on a
    resolver: IP literals, and localhost (RFC 6761: the loopback, never looked
    up; it was refused, a surprise); another name is refused, naming why."""
    f = tmp_path / "backends.txt"
    f.write_text("backend.example:8080\n")
    code, err = run_discover(rundir + "-f", "--file", str(f))
    assert code == 2 and "not an IP address" in err and "start-up" in err, err
    f.write_text("localhost:8080\nLOCALHOST:8081\n")
    d = discover("--file", str(f))
    d.wait_log(r"set changed .* joined=127\.0\.0\.1:8080,127\.0\.0\.1:8081 ")


def test_lb_ctl_help_is_the_verb_table():
    """lb-ctl help and --help print every row of common/verbs.c."""
    with open(os.path.join(os.path.dirname(__file__), "..", "..", "common", "verbs.c")) as f:
        rows = re.findall(r'\{ "([a-z-]+)", [^"]*(?:NULL|"[a-z-]+"), [01], "([^"]+)",\s*"([^"]+)",',
                          f.read())
    assert len(rows) >= 9, rows
    for args in (["help"], ["--help"]):
        r = subprocess.run([binary("lb-ctl"), *args], capture_output=True, text=True, timeout=10)
        assert r.returncode == 0, r.stderr
        for name, usage, help_ in rows:
            assert re.search(rf"^  {re.escape(usage)} +{re.escape(help_)}$", r.stdout, re.M), \
                (name, r.stdout)
    r = subprocess.run([binary("lb-ctl"), "frobnicate"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and "unknown command" in r.stderr
    # a verb's row says what it takes: drain takes --wait, status does not
    r = subprocess.run([binary("lb-ctl"), "status", "--wait"], capture_output=True, text=True,
                       timeout=10)
    assert r.returncode == 2 and "unexpected \"--wait\"" in r.stderr

def test_chunk_framing_is_bounded_too(echo, discover, rundir):
    """A chunked body of tiny chunks stays under the body limit but not
    under the request's: 413, and lb-discover goes on."""
    import socket
    e1 = echo()
    a = start_admin(discover, "--static", e1.addr)
    s = socket.create_connection(("127.0.0.1", a.port), timeout=10 * SLOW)
    s.sendall(b"POST /admin/backends HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    try:
        s.sendall(b"1\r\n \r\n" * 3000)
    except OSError:
        pass                                      # closed on us once answered
    data = recv_until_close(s, stop_on=OSError)   # or until it resets
    s.close()
    assert data.startswith(b"HTTP/1.1 413 "), data[:200]
    assert a.call("GET", "/admin/health")[0] == 200
