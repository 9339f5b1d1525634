"""lb-discover's status page (GET /, /page.js, /page.css) and its live feed
(GET /events, server-sent events): the content types and security headers,
the event stream's framing with hostile values from the bus, its bounds (a
slow client dropped, the oldest of too many streams closed), writes from
another origin refused; and the page itself in a real browser (Debian's
chromium driven by puppeteer-core, tests/browser/status_page.mjs) against a
running fleet."""
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse

import pytest

from conftest import SLOW, binary, bus_proxy, ctl, ctl_json, protocol_constant, wait_for
from test_admin_api import start_admin, token_file
from test_k8s import pods  # noqa: F401 (a fixture)
from test_k8s_fleet import fleet  # noqa: F401 (a fixture)
from test_routed_fleet import API, WEB, Fleet

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BROWSER_TESTS = os.path.join(ROOT, "tests", "browser")
PAGE_DIR = os.path.join(ROOT, "lb-discover", "api", "page")
VERSION = protocol_constant("BUS_PROTOCOL_VERSION")
NAME_MAX = protocol_constant("BUS_NAME_MAX")


class Stream:
    """A raw GET /events: the head, then events as they come."""

    def __init__(self, port, rcvbuf=None, path="/events"):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.s.settimeout(10 * SLOW)
        self.s.connect(("127.0.0.1", port))
        self.s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        self.buf = b""
        self.head = None

    def read_head(self):
        while b"\r\n\r\n" not in self.buf:
            data = self.s.recv(65536)
            assert data, f"closed before the head: {self.buf!r}"
            self.buf += data
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        self.head = {k.strip().lower(): v.strip() for k, _, v in
                     (line.partition(":") for line in lines[1:])}
        return self.status, self.head

    def event(self):
        """The next event as (name, data) ("retry" blocks give (None, None))."""
        if self.head is None:
            self.read_head()
        while b"\n\n" not in self.buf:
            data = self.s.recv(65536)
            assert data, "the stream closed"
            self.buf += data
        block, _, self.buf = self.buf.partition(b"\n\n")
        name = data = None
        for line in block.decode().split("\n"):
            field, _, value = line.partition(": ")
            # the fields of a server-sent event (HTML, 9.2.6): no other line
            assert field in ("event", "data", "retry"), f"a stray line {line!r} in {block!r}"
            if field == "event":
                name = value
            elif field == "data":
                assert data is None, f"two data lines in one event: {block!r}"
                data = json.loads(value)
        return name, data

    def until(self, name, check=lambda d: True, timeout=10):
        deadline = time.time() + timeout * SLOW
        while time.time() < deadline:
            n, d = self.event()
            if n == name and check(d):
                return d
        raise AssertionError(f"no {name} event that passes the check")

    def closed(self, timeout=10):
        """1 when the server closed the stream (its unread bytes drained)."""
        self.s.settimeout(timeout * SLOW)
        try:
            while self.s.recv(1 << 20):
                pass
            return True
        except (socket.timeout, ConnectionResetError):
            return False

    def close(self):
        self.s.close()


def fake_report(address, reason):
    """A proxy's report (pid 999999) that says it ejected `address` for `reason`."""
    return {"v": VERSION, "type": "report", "pid": 999999, "service": "backend", "generation": 1,
            "ignored": 0, "stale": False, "uptime": 1.0,
            "backends": [{"address": address, "state": "up", "active": 0, "requests": 1,
                          "errors": 0, "responses_5xx": 1, "breaker": "open",
                          "ejection": {"reason": reason, "left": 30, "count": 1}}]}


def push(rundir, doc):
    """nanocat pushing doc to lb-discover's reports socket until stopped."""
    return subprocess.Popen(["nanocat", "--push", "--connect", f"ipc://{rundir}/reports.sock",
                             "--data", json.dumps(doc), "--interval", "0.2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_page_files_and_events_answer_their_content_types(echo, discover):
    """RFC 9110 8.3 (Content-Type) and the page's security headers
    (CSP 3: scripts and styles from 'self' only); the event stream is
    text/event-stream (HTML, 9.2) with no Content-Length: its body ends when
    the connection closes (RFC 9112 6.3); a HEAD of it gets GET's head and
    the connection closes (RFC 9110 9.3.2)."""
    e = echo("--access-log", "off")
    api = start_admin(discover, "--static", e.addr)
    st, h, html = api.call("GET", "/")
    assert st == 200 and h["content-type"] == "text/html; charset=utf-8", (st, h)
    csp = h["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp, csp
    assert "'unsafe-inline'" not in csp and "frame-ancestors 'none'" in csp, csp
    assert h["x-content-type-options"] == "nosniff"
    # no inline script to allow: every <script> has a src
    assert re.findall(r"<script\b[^>]*>", html) == ['<script src="/page.js" defer>'], html
    assert "<style" not in html and " style=" not in html
    with open(os.path.join(PAGE_DIR, "index.html")) as f:
        assert html == f.read()
    st, h, js = api.call("GET", "/page.js")
    assert st == 200 and h["content-type"] == "text/javascript; charset=utf-8"
    assert "content-security-policy" in h
    st, h, _ = api.call("GET", "/page.css")
    assert st == 200 and h["content-type"] == "text/css; charset=utf-8"
    st, h, _ = api.call("GET", "/?refresh=1")
    assert st == 200 and h["content-type"].startswith("text/html")
    st, h, _ = api.call("POST", "/")
    assert st == 405 and h["allow"] == "GET, HEAD"
    st, _, _ = api.call("GET", "/index.html")
    assert st == 404
    s = Stream(api.port)
    st, h = s.read_head()
    assert st == 200 and h["content-type"] == "text/event-stream; charset=utf-8", h
    assert "content-length" not in h and h["cache-control"] == "no-store", h
    st_set = s.until("set")
    assert st_set["type"] == "set" and st_set["backends"][0]["address"] == e.addr
    doc = s.until("status")
    assert doc["backends"][0]["address"] == e.addr and doc["token"] is False
    # and again every second, with the clock the page measures rates on
    t0 = doc["time"]
    assert s.until("status")["time"] > t0
    s.close()
    c = socket.create_connection(("127.0.0.1", api.port), timeout=10 * SLOW)
    c.sendall(b"HEAD /events HTTP/1.1\r\nHost: x\r\n\r\n")
    got = b""
    while chunk := c.recv(65536):
        got += chunk
    c.close()
    assert got.startswith(b"HTTP/1.1 200 ") and got.endswith(b"\r\n\r\n"), got
    assert b"text/event-stream" in got and b"Content-Length" not in got, got


def test_the_page_script_never_parses_values_as_markup():
    """Every value reaches the page's DOM as text: the script has none of
    the calls that parse a string as HTML (a static check of page.js)."""
    with open(os.path.join(PAGE_DIR, "page.js")) as f:
        js = f.read()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
                 "new Function", "setAttribute(\"on", "srcdoc"):
        assert sink not in js, sink


def test_a_hostile_reason_from_the_bus_stays_inside_its_event(echo, discover, rundir):
    """A proxy's report (the bus: hostile input) names an ejection reason
    made to break out of an event (line breaks, a forged "data:" line) and
    out of HTML: the event stream carries it as one JSON string on one data
    line (HTML 9.2.6: a line break would start a new field), unchanged."""
    a, b = echo("--access-log", "off"), echo("--access-log", "off")
    api = start_admin(discover, "--static", f"{a.addr},{b.addr}", "--no-health-check")
    hostile = '</script><img src=x onerror=alert(1)>\n\ndata: {"forged":1}\r\n'
    assert len(hostile.encode()) < NAME_MAX
    s = Stream(api.port)
    s.until("status")
    p = push(rundir, fake_report(b.addr, hostile))
    got = {}
    try:
        deadline = time.time() + 10 * SLOW
        while len(got) < 2 and time.time() < deadline:
            name, doc = s.event()
            for x in (doc or {}).get("backends", []):
                if x["address"] == b.addr and "ejection" in x:
                    got[name] = x["ejection"]["reason"]
    finally:
        p.kill()
        p.wait()
    # in the status and in the set (what lb-ctl watch prints), unchanged
    assert got == {"status": hostile, "set": hostile}, got
    s.close()


def test_writes_from_another_origin_are_refused(echo, discover):
    """A page of another site open in the operator's browser cannot drive
    the API (cross-site request forgery): a write whose Origin is not
    http://HOST is 403 and changes nothing; the page's own origin, and a
    client that sends no Origin (curl, scripts), are served."""
    e1, e2 = echo("--access-log", "off"), echo("--access-log", "off")
    api = start_admin(discover, "--static", f"{e1.addr},{e2.addr}")
    path = f"/admin/backends/{e2.addr}/drain"
    for origin in ("http://evil.example", "null", f"https://127.0.0.1:{api.port}",
                   f"http://127.0.0.1:{api.port}.evil.example"):
        st, _, body = api.call("POST", path, headers={"Origin": origin,
                                                      "Host": f"127.0.0.1:{api.port}"})
        assert st == 403 and "another origin" in body["error"], (origin, st, body)
    assert api.rows()[e2.addr]["state"] == "up"
    st, _, _ = api.call("POST", path, headers={"Origin": f"http://127.0.0.1:{api.port}",
                                               "Host": f"127.0.0.1:{api.port}"})
    assert st == 200
    assert api.rows()[e2.addr]["state"] == "draining"
    st, _, _ = api.call("POST", f"/admin/backends/{e2.addr}/undrain")
    assert st == 200


def test_too_many_streams_close_the_oldest(echo, discover):
    """ADMIN_MAX_STREAMS streams at once: one more closes the oldest."""
    e = echo("--access-log", "off")
    api = start_admin(discover, "--static", e.addr)
    with open(os.path.join(ROOT, "lb-discover", "api", "admin_server.h")) as f:
        limit = int(re.search(r"#define ADMIN_MAX_STREAMS (\d+)", f.read()).group(1))
    streams = []
    for _ in range(limit):
        s = Stream(api.port)
        s.until("status")
        streams.append(s)
    newest = Stream(api.port)
    newest.until("status")
    assert streams[0].closed(), "the oldest stream is still open"
    api.proc.wait_log(r"event streams full: the oldest closed for a new one")
    assert newest.until("status")
    for s in streams[1:] + [newest]:
        s.close()


def test_a_slow_stream_is_dropped_not_buffered(echo, discover):
    """A client that does not read its events (a small window, never read)
    is dropped once ADMIN_STREAM_BACKLOG bytes wait for it, instead of
    lb-discover buffering for it forever; the others go on."""
    backends = ",".join(f"127.0.0.{i // 200 + 2}:{10000 + i}" for i in range(1500))
    api = start_admin(discover, "--static", backends, "--no-health-check")
    slow = Stream(api.port, rcvbuf=4096)
    slow.read_head()
    good = Stream(api.port)
    good.until("status")
    api.proc.wait_log(r"event stream dropped: the client takes events too slowly", timeout=30)
    assert slow.closed(), "the slow stream is still open"
    assert good.until("status")["backends"]
    slow.close()
    good.close()


def test_events_name_every_routed_service(procs, proxy, echo, rundir):
    """Issue 28 with issue 24's routes (lb-discover --routes, two routed
    Services and the main one): every stream gets each Service's set
    changes, each naming its Service (a drain of a routed backend with
    lb-ctl --service); a stream's status is its ?service= Service's (its
    backends and proxies, "routed": true), each with the list of every
    Service (the main one first) and the route table's summary; an unknown
    ?service= is 404 (RFC 9110 15.5.5) naming the Services served."""
    f = Fleet(procs, proxy, echo, rundir, ())
    main = Stream(f.admin)
    doc = main.until("status")
    assert doc["service"] == "backend" and [b["address"] for b in doc["backends"]] == [f.main.addr]
    assert [s["name"] for s in doc["services"]] == ["backend", API, WEB], doc["services"]
    assert [s["main"] for s in doc["services"]] == [True, False, False]
    assert doc["services_total"] == 3
    assert doc["routes"]["generation"] == f.status()["routes"]["generation"]
    web = Stream(f.admin, path="/events?service=" + urllib.parse.quote(WEB, safe=""))
    sets = {}
    while WEB not in sets:                      # the main set, then the stream's Service's
        name, d = web.event()
        if name == "set":
            sets[d["service"]] = d
    assert list(sets) == ["backend", WEB]
    doc = web.until("status")
    assert doc["service"] == WEB and doc["routed"] is True, doc
    assert sorted(b["address"] for b in doc["backends"]) == sorted(e.addr for e in f.web)
    assert {p["pid"] for p in doc["proxies"]} == {f.a.proc.pid, f.b.proc.pid}
    assert doc["routes"]["proxies_serving"] == 2 and len(doc["services"]) == 3
    code, _, err = ctl(rundir, "drain", f.web[0].addr, "--service", WEB)
    assert code == 0, err

    def drained(d):
        return d["service"] == WEB and any(b["address"] == f.web[0].addr and
                                           b["state"] == "draining" for b in d["backends"])
    main.until("set", drained)                   # every stream hears every Service's change
    web.until("set", drained)
    assert web.until("status", drained)
    for s in (main, web):
        s.close()
    st, _, body = admin_get(f.admin, "/events?service=default%2Fnope%3A80")
    assert st == 404 and "unknown service default/nope:80" in body["error"], body
    assert API in body["error"] and WEB in body["error"], body


def admin_get(port, path):
    """GET path on the admin API: (status, headers, JSON body)."""
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10 * SLOW)
    c.request("GET", path)
    r = c.getresponse()
    body = json.loads(r.read())
    c.close()
    return r.status, dict(r.getheaders()), body


# --- the page in a real browser ----------------------------------------------------

def traffic(proxies, stop):
    """Requests through the proxies until stop is set: the page's rates move."""
    import http.client
    i = 0
    while not stop.is_set():
        p = proxies[i % len(proxies)]
        try:
            c = http.client.HTTPConnection("127.0.0.1", p.port, timeout=5)
            c.request("GET", "/hello")
            c.getresponse().read()
            c.close()
        except OSError:
            pass
        i += 1
        stop.wait(0.02)


def test_the_page_in_a_real_browser(echo, discover, proxy, rundir):
    """Headless chromium: the page loads with no console error and shows the
    fleet's backends and proxies; a drain with lb-ctl shows within 2 s; a
    drain from the page (token, confirmation) reaches every proxy; a write
    without the token is refused (401) and shown; a hostile reason from the
    bus is shown as text; uneject and weight from the page reach the proxies.
    Writes docs/status-page.png (the release run)."""
    echos = [echo("--access-log", "off", env={"POD_NAME": f"echo-{i}"}) for i in range(4)]
    token = token_file("page-token\n")
    try:
        d = discover("--static", ",".join(e.addr for e in echos), "--heartbeat", "0.2",
                     "--admin", "127.0.0.1:0", "--admin-token", token)
    finally:
        os.unlink(token)
    port = int(d.wait_log(r"admin listening admin=[^ ]*:(\d+)").group(1))
    proxies = [bus_proxy(proxy, rundir, "--report-interval", "0.2") for _ in range(2)]
    wait_for("both proxies report", lambda: len(ctl_json(rundir, "proxies")) == 2,
             timeout=10)
    stop = threading.Event()
    t = threading.Thread(target=traffic, args=(proxies, stop), daemon=True)
    t.start()
    hostile = '<img src=x onerror="document.body.dataset.pwned=1"><b>x'
    shot = os.path.join(ROOT, "docs", "status-page.png")
    if os.environ.get("LB_SANITIZED") == "1":
        shot = os.path.join(rundir, "status-page.png")
    cfg = {"url": f"http://127.0.0.1:{port}/", "token": "page-token", "lbctl": binary("lb-ctl"),
           "rundir": rundir, "backends": [e.addr for e in echos], "ctlDrain": echos[0].addr,
           "pageDrain": echos[1].addr, "weigh": echos[3].addr, "proxies": [p.admin_port for p in proxies],
           "hostile": {"address": echos[2].addr, "reason": hostile},
           "hostileReport": fake_report(echos[2].addr, hostile),
           "screenshot": shot, "scale": SLOW, "updateLimit": 2.0 * SLOW}
    try:
        out = browse(cfg)
    finally:
        stop.set()
        t.join(10)
    assert "ok no console error but the refused write's 401" in out
    assert os.path.getsize(shot) > 10000


def browse(cfg):
    """Runs tests/browser/status_page.mjs with cfg; returns what it printed."""
    node = shutil.which("node")
    assert node, "node is missing: run make test-deps"
    assert os.access("/usr/bin/chromium", os.X_OK), "chromium is missing: run make test-deps"
    assert os.path.isdir(os.path.join(BROWSER_TESTS, "node_modules", "puppeteer-core")), \
        "tests/browser/node_modules is missing: run make test-deps"
    r = subprocess.run([node, os.path.join(BROWSER_TESTS, "status_page.mjs"), json.dumps(cfg)],
                       capture_output=True, text=True, timeout=300 * SLOW, cwd=BROWSER_TESTS)
    print(r.stdout)
    assert r.returncode == 0, r.stdout + r.stderr[-3000:]
    return r.stdout


def test_the_page_shows_the_replicas_and_the_shared_state(fleet):
    """--kubernetes: the page of one replica shows both replicas (their
    Leases, live) and the shared state's ConfigMap, with no console error."""
    a, b, ips, port = fleet(2, "--admin", "127.0.0.1:0")
    admin = int(a.discover.wait_log(r"admin listening admin=[^ ]*:(\d+)").group(1))
    out = browse({"url": f"http://127.0.0.1:{admin}/", "backends": [f"{ip}:{port}" for ip in ips],
                  "proxies": [a.proxy.admin_port], "scale": SLOW,
                  "kubernetes": {"replicas": ["lb-a", "lb-b"], "configmap": "lb-state-backend"}})
    assert "ok the replicas lb-a, lb-b" in out


def test_the_page_shows_every_routed_service(procs, proxy, echo, rundir):
    """Issues 28 and 24: lb-discover --routes with two routed Services and
    the main one, two proxies. In chromium the page lists the three Services
    (the main one first) and the routes naming them, shows each routed
    Service's backends by its name, shows a drain of a routed backend made
    with lb-ctl --service, and a drain from the page (confirmed) acts on the
    Service shown: both its proxies apply it (lb-ctl status --service), the
    other Service is untouched; no console error."""
    f = Fleet(procs, proxy, echo, rundir, ("--report-interval", "0.2"))
    out = browse({"url": f"http://127.0.0.1:{f.admin}/", "backends": [f.main.addr],
                  "proxies": [f.a.admin_port, f.b.admin_port], "scale": SLOW,
                  "lbctl": binary("lb-ctl"), "rundir": rundir,
                  "routed": {"main": "backend", "services": {API: [e.addr for e in f.api],
                                                             WEB: [e.addr for e in f.web]},
                             "show": WEB, "ctlDrain": f.web[0].addr, "pageDrain": f.web[1].addr,
                             "untouched": API}})
    assert "ok no console error" in out
