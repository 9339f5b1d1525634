"""RequestMirror and sticky weighted splits (lb.dev/split-key) on routes from
a file (docs/routing.md), with real processes. Each test names the Gateway
API conformance test (gateway-api conformance/tests/*.go) or the section of
docs/routing.md it follows."""
import collections
import json
import os
import re
import socket
import threading

import pytest

import test_gateway_routes as gr
from conftest import binary, bus_proxy, metric, served_by, wait_for
from support.rawbackend import RawBackend, ok, serve_each


def split_route(name, key, rules, hostnames):
    r = gr.route(name, rules, hostnames=hostnames)
    r["metadata"]["annotations"] = {"lb.dev/split-key": key}
    return r


def mirror(name, **fraction):
    f = {"backendRef": gr.ref(name)}
    f.update(fraction)
    return {"type": "RequestMirror", "requestMirror": f}


def mirrored(p, result):
    return metric(p, f'lb_proxy_mirror_requests_total{{result="{result}"}}')


class Fleet:
    """lb-discover --routes on a file and `n` bus proxies, each listening on
    its own port: the Gateway has one listener per proxy port, and every
    route attaches to all of them (parentRefs without sectionName)."""

    def __init__(self, procs, proxy, rundir, docs, n=1, proxy_flags=()):
        self.path = os.path.join(rundir, "routes.yaml")
        self.ports = [1 + i for i in range(n)]
        self.write(docs)
        self.discover = procs([binary("lb-discover"), "--runtime-dir", rundir, "--routes",
                               self.path, "--no-health-check"])
        self.discover.wait_log(r"INFO publishing ")
        self.proxies = [bus_proxy(proxy, rundir, *proxy_flags) for _ in range(n)]
        self.ports = [p.port for p in self.proxies]
        self.apply(docs)

    def write(self, docs):
        gw = json.loads(json.dumps(gr.GATEWAY))
        gw["spec"]["listeners"] = [{"name": f"p{i}", "port": port, "protocol": "HTTP"}
                                   for i, port in enumerate(self.ports)]
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            f.write("\n---\n".join(json.dumps(d) for d in [gw] + docs))
        os.rename(tmp, self.path)

    def generation(self):
        found = re.findall(r"routes changed generation=(\d+)", self.discover.text())
        return int(found[-1]) if found else 0

    def apply(self, docs):
        """Writes docs; waits until every proxy serves the table and its sets."""
        before = self.generation()
        self.write(docs)
        gen = wait_for("lb-discover to publish the new routes",
                       lambda: self.generation() if self.generation() != before else 0)
        for p in self.proxies:
            wait_for("a proxy to serve the new routes",
                     lambda: p.admin("/info")[1]["routes"]["generation"] == gen)
            wait_for("a proxy to hold every routed service's set",
                     lambda: all(s["generation"]
                                 for s in p.admin("/info")[1]["routes"]["services"]))


@pytest.fixture
def fleet(procs, proxy, rundir):
    def start(docs, n=1, proxy_flags=()):
        return Fleet(procs, proxy, rundir, docs, n, proxy_flags)
    return start


def get(p, host, path="/", headers=None, method="GET", body=None):
    h = {"Host": host}
    h.update(headers or {})
    return p.request(method, path, body=body, headers=h)


def test_mirror_sends_a_copy_of_head_and_body(fleet, echo):
    """HTTPRouteRequestMirror: the client is answered by the backendRef; a
    copy of the request (method, path, headers, body as framed) reaches the
    mirror's Service, whose answer is read and dropped (counted sent)."""
    seen = RawBackend(serve_each(lambda head, headers, body: ok(b"from the mirror")))
    try:
        e = gr.pods(echo, "primary")
        docs = [gr.route("mir", [{"matches": [gr.prefix("/mirror")],
                                  "filters": [mirror("shadow")],
                                  "backendRefs": [gr.ref("primary")]}]),
                gr.backends("primary", [e["primary"].addr]),
                gr.backends("shadow", [seen.addr])]
        f = fleet(docs)
        p = f.proxies[0]
        status, headers, body = get(p, "example.com", "/mirror/a?x=1", method="POST",
                                    body=b'{"hi":1}', headers={"X-Test": "t1"})
        assert status == 200 and served_by(headers) == "primary", (status, headers, body)
        assert b"from the mirror" not in body
        # RFC 9112 7.1: a chunked body is copied as the client framed it
        c = p.conn()
        c.putrequest("PUT", "/mirror/b", skip_host=True)
        c.putheader("Host", "example.com")
        c.putheader("Transfer-Encoding", "chunked")
        c.endheaders()
        c.send(b'3\r\n{"k\r\n4\r\n":1}\r\n0\r\n\r\n')
        r = c.getresponse()
        out = r.read()
        c.close()
        assert r.status == 200, out
        wait_for("both copies at the mirror", lambda: len(seen.requests) == 2)
        wait_for("both copies counted sent", lambda: mirrored(p, "sent") == 2)
        by_path = {req[0].split(b" ")[1]: req for req in seen.requests}
        head, hdrs, body = by_path[b"/mirror/a?x=1"]
        assert head.startswith(b"POST /mirror/a?x=1 HTTP/1.1")
        assert hdrs["host"] == ["example.com"] and hdrs["x-test"] == ["t1"]
        assert body == b'{"hi":1}'
        assert by_path[b"/mirror/b"][2] == b'{"k":1}'
        # nothing unmirrored: a route without the filter sends no copy
        status, _, _ = get(p, "example.com", "/other")
        assert status == 404 and len(seen.requests) == 2
    finally:
        seen.close()


def test_mirror_fraction(fleet, echo):
    """HTTPRouteRequestPercentageMirror: percent 0 mirrors nothing, no
    fraction mirrors all, fraction 1/2 about half. Over 200 requests the
    count is Binomial(200, 1/2): outside [60, 140] (5.7 standard deviations)
    with probability below 1e-7, so the test cannot flake."""
    seen = RawBackend(serve_each(lambda head, headers, body: ok()))
    try:
        e = gr.pods(echo, "primary")
        docs = [gr.route("mir", [
                    {"matches": [gr.prefix("/none")], "filters": [mirror("shadow", percent=0)],
                     "backendRefs": [gr.ref("primary")]},
                    {"matches": [gr.prefix("/half")],
                     "filters": [mirror("shadow", fraction={"numerator": 1, "denominator": 2})],
                     "backendRefs": [gr.ref("primary")]}]),
                gr.backends("primary", [e["primary"].addr]),
                gr.backends("shadow", [seen.addr])]
        f = fleet(docs)
        p = f.proxies[0]
        c = p.conn()
        for path in ["/none"] * 50 + ["/half"] * 200:
            c.request("GET", path, headers={"Host": "example.com"})
            r = c.getresponse()
            r.read()
            assert r.status == 200
        c.close()
        # every drawn copy ends (sent), so the count settles
        wait_for("the copies to end", lambda: metric(p, "lb_proxy_mirror_in_flight") == 0)
        paths = collections.Counter(req[0].split(b" ")[1] for req in seen.requests)
        assert paths[b"/none"] == 0
        assert 60 <= paths[b"/half"] <= 140, paths
        assert mirrored(p, "sent") == paths[b"/half"]
    finally:
        seen.close()


def test_a_dead_slow_or_full_mirror_never_touches_the_client(fleet, echo):
    """HTTPRouteRequestMirror ("responses from the mirror are ignored") and
    docs/routing.md, RequestMirror: a mirror that refuses connections, one
    that never answers, the in-flight cap and the body cap: the client gets
    the backendRef's answer each time; each copy is counted by its result;
    the mirror's failures mark no backend (no errors, no ejection)."""
    hold = threading.Event()
    slow = RawBackend(serve_each(lambda head, headers, body: (hold.wait(30), ok())[1]))
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    dead_addr = "127.0.0.1:%d" % dead.getsockname()[1]
    dead.close()        # nothing listens there: connections are refused
    try:
        e = gr.pods(echo, "primary")
        docs = [gr.route("mir", [
                    {"matches": [gr.prefix("/dead")], "filters": [mirror("dead")],
                     "backendRefs": [gr.ref("primary")]},
                    {"matches": [gr.prefix("/slow")], "filters": [mirror("slow")],
                     "backendRefs": [gr.ref("primary")]}]),
                gr.backends("primary", [e["primary"].addr]),
                gr.backends("dead", [dead_addr]),
                gr.backends("slow", [slow.addr])]
        f = fleet(docs, proxy_flags=("--mirror-max-inflight", "1", "--mirror-max-body", "8",
                                     "--eject-gateway", "1"))
        p = f.proxies[0]
        for _ in range(3):
            status, headers, _ = get(p, "example.com", "/dead")
            assert status == 200 and served_by(headers) == "primary"
        wait_for("the dead mirror's copies counted failed", lambda: mirrored(p, "failed") == 3)
        # the answer came while the slow mirror's copy is still in flight
        status, headers, _ = get(p, "example.com", "/slow")
        assert status == 200 and served_by(headers) == "primary"
        wait_for("the slow copy at its backend", lambda: len(slow.requests) == 1)
        assert metric(p, "lb_proxy_mirror_in_flight") == 1
        # the cap (--mirror-max-inflight 1) is taken: the next copy is dropped
        status, _, _ = get(p, "example.com", "/slow")
        assert status == 200 and mirrored(p, "dropped") == 1
        hold.set()
        wait_for("the slow copy to end", lambda: mirrored(p, "sent") == 1)
        # a body over --mirror-max-body 8 is not mirrored; the request is served
        status, _, _ = get(p, "example.com", "/slow", method="POST", body=b'{"k":"0123456789"}')
        assert status == 200 and mirrored(p, "too_large") == 1
        # --eject-gateway 1 would eject a backend at its first failure: the
        # dead mirror's backend has none counted and is still up
        labels = f'backend="{dead_addr}",service="default/dead:80"'
        assert metric(p, f"lb_proxy_backend_errors_total{{{labels}}}") == 0
        assert metric(p, f"lb_proxy_backend_up{{{labels}}}") == 1
    finally:
        hold.set()
        slow.close()


def split_docs(e, weights, key="header:X-User", name="split", host="split.example"):
    return [split_route(name, key, [{"backendRefs": [gr.ref(n, w) for n, w in weights]}],
                        [host])] + [gr.backends(n, [e[n].addr]) for n, _ in weights]


def test_weights_70_30_0_hashed_split_is_exact(fleet, echo):
    """HTTPRouteWeight's bar (70/30/0 over 500 requests within 5 points) with
    a header split: each of 500 distinct users is hashed (balance_hash, no
    per-process seed) onto the cumulative weight interval, so the counts are
    the same on every run: the false-failure probability is 0 (the test
    fails only if the hash or the interval is wrong)."""
    e = gr.pods(echo, "a", "b", "c")
    f = fleet(split_docs(e, [("a", 70), ("b", 30), ("c", 0)]))
    counts = collections.Counter()
    c = f.proxies[0].conn()
    for i in range(500):
        c.request("GET", "/", headers={"Host": "split.example", "X-User": f"user-{i}"})
        r = c.getresponse()
        r.read()
        assert r.status == 200
        counts[r.getheader("X-Served-By")] += 1
    c.close()
    assert abs(counts["a"] / 5 - 70) <= 5, counts
    assert abs(counts["b"] / 5 - 30) <= 5, counts
    assert counts["c"] == 0, counts


def test_sticky_splits_agree_across_two_proxies(fleet, echo):
    """docs/routing.md, sticky splits: by header, by client address (behind
    --trusted-proxies) and by cookie, a user lands on the same backendRef on
    both proxies and on every request, with no state shared between them."""
    e = gr.pods(echo, "a", "b")
    w = [("a", 50), ("b", 50)]
    docs = (split_docs(e, w, "header:X-User", "by-header", "h.example")[:1] +
            split_docs(e, w, "client", "by-client", "c.example")[:1] +
            split_docs(e, w, "cookie:lb-split", "by-cookie", "k.example"))
    f = fleet(docs, n=2, proxy_flags=("--trusted-proxies", "127.0.0.1/32"))
    p1, p2 = f.proxies
    sides = collections.Counter()
    for i in range(20):
        for host, h in (("h.example", {"X-User": f"u{i}"}),
                        ("c.example", {"X-Forwarded-For": f"10.0.{i}.1"})):
            got = {served_by(get(p, host, headers=h)[1]) for p in (p1, p2, p1)}
            assert len(got) == 1, (host, h, got)
            sides[got.pop()] += 1
    assert sides["a"] and sides["b"], sides      # both sides are used
    for _ in range(6):
        status, headers, _ = get(p1, "k.example")
        cookie = headers["Set-Cookie"]
        m = re.match(r"lb-split=(default/([ab]):80); Path=/; HttpOnly$", cookie)
        assert status == 200 and m, cookie
        assert served_by(headers) == m.group(2)
        for p in (p2, p1):
            status, again, _ = get(p, "k.example", headers={"Cookie": f"x=1; lb-split={m.group(1)}"})
            assert served_by(again) == m.group(2) and "Set-Cookie" not in again


def test_weight_0_keeps_existing_cookie_sessions(fleet, echo):
    """docs/routing.md, sticky splits (the canary rollback Traefik #8157 gets
    wrong): with a cookie split, a backendRef set to weight 0 takes no new
    users, but a request whose cookie names it still goes there; a cookie
    naming a backendRef the rule no longer has (or a forged one) is replaced."""
    e = gr.pods(echo, "stable", "canary", "old")
    f = fleet(split_docs(e, [("stable", 50), ("canary", 50)], "cookie:lb-split"))
    p = f.proxies[0]
    f.apply(split_docs(e, [("stable", 100), ("canary", 0), ("old", 0)], "cookie:lb-split"))
    for _ in range(10):                     # no new user lands on weight 0
        status, headers, _ = get(p, "split.example")
        assert served_by(headers) == "stable"
        assert headers["Set-Cookie"].startswith("lb-split=default/stable:80;")
    status, headers, _ = get(p, "split.example", headers={"Cookie": "lb-split=default/canary:80"})
    assert served_by(headers) == "canary" and "Set-Cookie" not in headers
    f.apply(split_docs(e, [("stable", 100), ("old", 0)], "cookie:lb-split"))
    for value in ("default/canary:80", "forged", ""):
        status, headers, _ = get(p, "split.example", headers={"Cookie": f"lb-split={value}"})
        assert status == 200 and served_by(headers) == "stable"
        assert headers["Set-Cookie"].startswith("lb-split=default/stable:80;")
