"""Routing as a Gateway API implementation, from a file: lb-discover --routes
FILE compiles Gateway, HTTPRoute and Backends documents and publishes the
route table and each Service's set; lb-proxy matches every request against
it. Each test names the Gateway API conformance test (gateway-api
conformance/tests/*.go) whose manifests and assertions it follows, run here
against real processes instead of a cluster."""
import collections
import json
import os
import re
import subprocess
import time

import pytest

from conftest import SLOW, binary, bus_proxy, ctl, ctl_json, served_by, wait_for
from support.otlpreceiver import Receiver
from support.rawbackend import RawBackend, ok, serve_each

GATEWAY = {
    "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
    "metadata": {"name": "gw", "namespace": "default"},
    "spec": {"gatewayClassName": "lb", "listeners": [
        {"name": "http", "port": 1, "protocol": "HTTP"}]},
}


def route(name, rules, hostnames=None, namespace="default"):
    spec = {"parentRefs": [{"name": "gw", "namespace": "default"}], "rules": rules}
    if hostnames:
        spec["hostnames"] = hostnames
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def backends(name, addresses, port=80, namespace="default"):
    return {"apiVersion": "lb.dev/v1alpha1", "kind": "Backends",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"ports": [{"port": port, "addresses": list(addresses)}]}}


def ref(name, weight=None, port=80):
    r = {"name": name, "port": port}
    if weight is not None:
        r["weight"] = weight
    return r


def prefix(value):
    return {"path": {"type": "PathPrefix", "value": value}}


class Gateway:
    """lb-discover --routes on a file, one bus proxy listening on the port the
    file's Gateway listener names (the file is written again with the
    proxy's port once it listens), and the documents served."""

    def __init__(self, procs, proxy, rundir, docs, *flags, proxy_flags=()):
        self.path = os.path.join(rundir, "routes.yaml")
        self.docs = docs
        self.port = 1
        self.write(docs)
        self.discover = procs([binary("lb-discover"), "--runtime-dir", rundir, "--routes",
                               self.path, *flags])
        self.discover.wait_log(r"INFO publishing ")
        self.proxy = bus_proxy(proxy, rundir, *proxy_flags)
        self.port = self.proxy.port
        self.apply(docs)

    def write(self, docs):
        listener_docs = []
        for d in docs:
            if d.get("kind") == "Gateway":
                d = json.loads(json.dumps(d))
                for listener in d["spec"]["listeners"]:
                    listener["port"] = self.port
            listener_docs.append(d)
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            f.write("\n---\n".join(json.dumps(d) for d in listener_docs))
        os.rename(tmp, self.path)   # as editors and ConfigMaps replace files

    def generation(self):
        """The routes generation lb-discover published last (its log)."""
        found = re.findall(r"routes changed generation=(\d+)", self.discover.text())
        return int(found[-1]) if found else 0

    def served(self):
        return self.proxy.admin("/info")[1]["routes"]

    def apply(self, docs):
        """Writes docs and waits until the proxy serves the table they make,
        and every routed service's set."""
        before = self.generation()
        self.write(docs)
        gen = wait_for("lb-discover to publish the new routes",
                       lambda: self.generation() if self.generation() != before else 0)
        wait_for("the proxy to serve the new routes",
                 lambda: self.served()["generation"] == gen)
        wait_for("the proxy to hold every routed service's set",
                 lambda: all(s["generation"] for s in self.served()["services"]))
        self.docs = docs

    def get(self, path, host="example.com", headers=None, method="GET"):
        h = {"Host": host}
        h.update(headers or {})
        return self.proxy.request(method, path, headers=h)


@pytest.fixture
def gateway(procs, proxy, rundir):
    def start(docs, *flags, proxy_flags=()):
        return Gateway(procs, proxy, rundir, docs, "--no-health-check", *flags,
                       proxy_flags=proxy_flags)
    return start


def pods(echo, *names):
    return {n: echo("--pod-name", n) for n in names}


def test_path_host_header_method_matching(gateway, echo):
    """HTTPRouteMatching, HTTPRouteExactPathMatching, HTTPRoutePathMatchOrder,
    HTTPRouteHeaderMatching, HTTPRouteMethodMatching,
    HTTPRouteHostnameIntersection: each request goes to the rule the spec's
    precedence picks; a PathPrefix matches whole segments; no match is 404."""
    e = pods(echo, "a", "b", "c", "d")
    docs = [GATEWAY,
            route("by-path", [
                {"matches": [prefix("/foo")], "backendRefs": [ref("a")]},
                {"matches": [{"path": {"type": "Exact", "value": "/foo/exact"}}],
                 "backendRefs": [ref("b")]},
                {"matches": [{"path": {"type": "PathPrefix", "value": "/foo"},
                              "headers": [{"name": "X-Version", "value": "2"}]}],
                 "backendRefs": [ref("c")]},
                {"matches": [{"path": {"type": "PathPrefix", "value": "/foo"},
                              "method": "POST"}],
                 "backendRefs": [ref("d")]}],
                  hostnames=["example.com"]),
            route("other-host", [{"backendRefs": [ref("d")]}], hostnames=["*.other.org"])]
    docs += [backends(n, [e[n].addr]) for n in e]
    gw = gateway(docs)

    def who(path, **kw):
        status, headers, _ = gw.get(path, **kw)
        return status, served_by(headers)

    assert who("/foo") == (200, "a")
    assert who("/foo/bar") == (200, "a")
    assert who("/foo/") == (200, "a")
    # RFC-free but spec-fixed: PathPrefix /foo does not take /foobar (element-wise)
    assert who("/foobar")[0] == 404
    assert who("/foo/exact") == (200, "b")           # Exact beats any prefix
    assert who("/foo/exact/more") == (200, "a")
    assert who("/foo/x", headers={"X-Version": "2"}) == (200, "c")   # more header matches first
    assert who("/foo/x", method="POST")[1] == "d"                    # a method match first
    assert who("/foo", host="EXAMPLE.com:8080") == (200, "a")        # any case, port ignored
    assert who("/anything", host="a.other.org") == (200, "d")        # wildcard hostname
    assert who("/anything", host="other.org")[0] == 404              # *.x does not take x
    status, _, body = gw.get("/foo", host="nowhere.example")
    assert status == 404 and json.loads(body)["error"] == "no route"


def test_weights_70_30_0(gateway, echo):
    """HTTPRouteWeight: backendRefs weighted 70/30/0 land within 5 points of
    their share; weight 0 takes none. Each request picks at random: over the
    conformance test's 500 requests a's count is Binomial(500, 0.7), outside
    70 +- 5 points with probability 1.5% (2.44 standard deviations): a flaky
    test. Over 2,000 requests that is 4.88 standard deviations, 1.1e-6. (The
    hashed split in test_gateway_splits.py meets the bar at 500, exactly.)"""
    e = pods(echo, "a", "b", "c")
    docs = [GATEWAY, route("split", [{"backendRefs": [ref("a", 70), ref("b", 30),
                                                       ref("c", 0)]}])]
    docs += [backends(n, [e[n].addr]) for n in e]
    gw = gateway(docs)
    counts = collections.Counter()
    c = gw.proxy.conn()
    for _ in range(2000):
        c.request("GET", "/", headers={"Host": "example.com"})
        r = c.getresponse()
        r.read()
        assert r.status == 200
        counts[r.getheader("X-Served-By")] += 1
    c.close()
    assert abs(counts["a"] / 20 - 70) <= 5, counts
    assert abs(counts["b"] / 20 - 30) <= 5, counts
    assert counts["c"] == 0, counts


def test_header_modifiers(gateway):
    """HTTPRouteRequestHeaderModifier and HTTPRouteResponseHeaderModifier:
    set replaces the client's field, add appends one beside it, remove drops
    it; the same on the backend's response. Fields the proxy owns (framing,
    Host) are never touched by a route."""
    seen = RawBackend(serve_each(lambda head, headers, body: ok(
        extra=b"X-Backend-Drop: 1\r\nX-Backend-Keep: 1\r\nX-Resp-Set: old\r\n")))
    try:
        docs = [GATEWAY, route("mod", [{
            "filters": [
                {"type": "RequestHeaderModifier", "requestHeaderModifier": {
                    "set": [{"name": "X-Set", "value": "route"},
                            {"name": "Content-Length", "value": "99"}],
                    "add": [{"name": "X-Add", "value": "route"}],
                    "remove": ["X-Remove"]}},
                {"type": "ResponseHeaderModifier", "responseHeaderModifier": {
                    "set": [{"name": "X-Resp-Set", "value": "new"}],
                    "add": [{"name": "X-Resp-Add", "value": "1"}],
                    "remove": ["X-Backend-Drop"]}}],
            "backendRefs": [ref("raw")]}]), backends("raw", [seen.addr])]
        gw = gateway(docs)
        status, headers, body = gw.get("/m", headers={"X-Set": "client", "X-Add": "client",
                                                      "X-Remove": "client", "X-Other": "kept"})
        assert status == 200 and body == b"ok"
        _, got, _ = seen.requests[-1]
        assert got["x-set"] == ["route"]
        assert sorted(got["x-add"]) == ["client", "route"]
        assert "x-remove" not in got
        assert got["x-other"] == ["kept"]
        assert "content-length" not in got        # a GET without a body stays without one
        assert headers.get("X-Resp-Set") == "new"
        assert headers.get("X-Resp-Add") == "1"
        assert "X-Backend-Drop" not in headers
        assert headers.get("X-Backend-Keep") == "1"
    finally:
        seen.close()


def test_redirects(gateway, echo):
    """HTTPRouteRedirectHostAndStatus, HTTPRouteRedirectPath,
    HTTPRouteRedirectScheme, HTTPRouteRedirectPort: the proxy answers the
    redirect itself with the Location the filter makes; the query is kept."""
    e = echo("--pod-name", "a")
    docs = [GATEWAY, route("redir", [
        {"matches": [prefix("/host")], "filters": [{"type": "RequestRedirect",
         "requestRedirect": {"hostname": "example.org", "statusCode": 301}}]},
        {"matches": [prefix("/old")], "filters": [{"type": "RequestRedirect",
         "requestRedirect": {"path": {"type": "ReplacePrefixMatch",
                                      "replacePrefixMatch": "/new"}}}]},
        {"matches": [prefix("/secure")], "filters": [{"type": "RequestRedirect",
         "requestRedirect": {"scheme": "https"}}]},
        {"matches": [prefix("/")], "backendRefs": [ref("a")]}]),
        backends("a", [e.addr])]
    gw = gateway(docs)
    port = gw.port
    status, headers, _ = gw.get("/host/x?q=1")
    assert status == 301
    assert headers["Location"] == f"http://example.org:{port}/host/x?q=1"
    status, headers, _ = gw.get("/old/page")
    assert status == 302
    assert headers["Location"] == f"http://example.com:{port}/new/page"
    status, headers, _ = gw.get("/secure/a")
    assert status == 302
    assert headers["Location"] == "https://example.com/secure/a"
    status, headers, _ = gw.get("/other")
    assert status == 200 and served_by(headers) == "a"


def test_rewrites(gateway):
    """HTTPRouteRewritePath and HTTPRouteRewriteHost: the backend gets the
    rewritten target (the query kept) and Host; the client's URL is
    unchanged in X-Forwarded-Host."""
    seen = RawBackend(serve_each(lambda *req: ok()))
    try:
        docs = [GATEWAY, route("rw", [
            {"matches": [prefix("/prefix/one")], "filters": [{"type": "URLRewrite",
             "urlRewrite": {"path": {"type": "ReplacePrefixMatch",
                                     "replacePrefixMatch": "/one"}}}],
             "backendRefs": [ref("raw")]},
            {"matches": [prefix("/full")], "filters": [{"type": "URLRewrite",
             "urlRewrite": {"hostname": "internal.example",
                            "path": {"type": "ReplaceFullPath", "replaceFullPath": "/one"}}}],
             "backendRefs": [ref("raw")]}]),
            backends("raw", [seen.addr])]
        gw = gateway(docs)
        assert gw.get("/prefix/one/two?x=1")[0] == 200
        head, got, _ = seen.requests[-1]
        assert head.split(b"\r\n")[0] == b"GET /one/two?x=1 HTTP/1.1"
        assert got["host"] == ["example.com"]
        assert gw.get("/full/anything")[0] == 200
        head, got, _ = seen.requests[-1]
        assert head.split(b"\r\n")[0] == b"GET /one HTTP/1.1"
        assert got["host"] == ["internal.example"]
        assert got["x-forwarded-host"] == ["example.com"]
    finally:
        seen.close()


def test_unresolved_backend_is_500_for_its_share(gateway, echo):
    """HTTPRouteInvalidBackendRefUnknownKind, HTTPRouteInvalidNonExistentBackendRef:
    a backendRef that does not resolve answers 500 for the requests its
    weight draws; the others are served; lb-discover says why."""
    e = echo("--pod-name", "a")
    docs = [GATEWAY, route("half", [{"backendRefs": [ref("a", 50), ref("missing", 50)]}]),
            route("kind", [{"matches": [prefix("/kind")], "backendRefs": [
                {"name": "a", "port": 80, "kind": "ConfigMap", "group": ""}]}]),
            backends("a", [e.addr])]
    gw = gateway(docs)
    statuses = collections.Counter(gw.get("/x")[0] for _ in range(200))
    assert set(statuses) == {200, 500}, statuses
    assert 60 <= statuses[500] <= 140, statuses
    assert gw.get("/kind")[0] == 500
    log = gw.discover.text()
    assert "BackendNotFound" in log and "InvalidKind" in log


def test_service_without_endpoints_is_503(gateway, echo):
    """A Service with no ready endpoints: 503 (the spec's answer), not 500."""
    docs = [GATEWAY, route("empty", [{"backendRefs": [ref("none")]}]), backends("none", [])]
    gw = gateway(docs)
    assert gw.get("/")[0] == 503


def test_route_change_reaches_the_proxy_and_a_bad_edit_keeps_the_last(gateway, echo):
    """A route change in the file is served at once (one table, applied
    whole); a bad edit is refused with its file:line and the proxy keeps
    serving the last good routes."""
    e = pods(echo, "a", "b")
    first = [GATEWAY, route("r", [{"matches": [prefix("/x")], "backendRefs": [ref("a")]}])]
    first += [backends(n, [e[n].addr]) for n in e]
    gw = gateway(first)
    assert served_by(gw.get("/x")[1]) == "a"
    second = [GATEWAY, route("r", [{"matches": [prefix("/x")], "backendRefs": [ref("b")]},
                                   {"matches": [prefix("/y")], "backendRefs": [ref("a")]}])]
    second += [backends(n, [e[n].addr]) for n in e]
    gw.apply(second)
    assert served_by(gw.get("/x")[1]) == "b"
    assert served_by(gw.get("/y")[1]) == "a"
    served = gw.served()["generation"]
    with open(gw.path, "a") as f:
        f.write("\n---\nkind: [unclosed\n")
    gw.discover.wait_log(r"routes file: bad edit ignored.*routes\.yaml:\d+")
    assert gw.served()["generation"] == served
    assert served_by(gw.get("/x")[1]) == "b"


def test_start_refuses_a_bad_routes_file(rundir, tmp_path):
    """A routes file that cannot be served stops lb-discover at start-up,
    naming the file, the line and the field."""
    path = tmp_path / "routes.yaml"
    path.write_text(json.dumps(GATEWAY) + "\n---\n" + json.dumps(
        backends("a", ["127.0.0.1:notaport"])) + "\n")
    r = subprocess.run([binary("lb-discover"), "--runtime-dir", rundir, "--routes", str(path)],
                       capture_output=True, text=True, timeout=30 * SLOW)
    assert r.returncode == 2
    assert re.search(r"routes\.yaml:3: spec\.ports\[0\]\.addresses\[0\]", r.stderr), r.stderr
    two = json.dumps(GATEWAY) + "\n---\n" + json.dumps(
        dict(GATEWAY, metadata={"name": "gw2", "namespace": "default"}))
    path.write_text(two)
    r = subprocess.run([binary("lb-discover"), "--runtime-dir", rundir, "--routes", str(path)],
                       capture_output=True, text=True, timeout=30 * SLOW)
    assert r.returncode == 2 and "--gateway NAMESPACE/NAME" in r.stderr, r.stderr


def test_health_checks_per_routed_service(procs, proxy, rundir, echo):
    """Each routed Service's backends are health-checked as the single
    service's are: one that fails its checks takes no requests."""
    e = pods(echo, "a", "b")
    docs = [GATEWAY, route("r", [{"backendRefs": [ref("svc")]}]),
            backends("svc", [e["a"].addr, e["b"].addr])]
    gw = Gateway(procs, proxy, rundir, docs, "--health-interval", "0.1", "--fall", "1",
                 "--rise", "1")
    assert {served_by(gw.get("/")[1]) for _ in range(10)} == {"a", "b"}
    e["b"].proc.stop()
    m = gw.discover.wait_log(r"set changed service=default/svc:80 generation=(\d+) "
                             r".*changed=127\.0\.0\.1:%d:up>down" % e["b"].port, timeout=10)
    gw.proxy.proc.wait_log(r"set applied service=default/svc:80 generation=%s " % m.group(1))
    assert {served_by(gw.get("/")[1]) for _ in range(6)} == {"a"}
    assert "backend failed" not in gw.proxy.proc.text()


def test_rule_timeouts(gateway, echo):
    """HTTPRouteTimeoutBackendRequest and HTTPRouteTimeoutRequest: a backend
    slower than the rule's timeouts is answered 504 when they pass (lb counts
    them to the response head, as --per-try-timeout), not after the
    proxy's own 60 s; the request timeout also ends the retries."""
    slow = echo("--pod-name", "slow", "--delay-ms", "3000")
    docs = [GATEWAY, route("t", [
        {"matches": [prefix("/backend")], "timeouts": {"backendRequest": "200ms"},
         "backendRefs": [ref("slow")]},
        {"matches": [prefix("/request")], "timeouts": {"request": "300ms"},
         "backendRefs": [ref("slow")]}]),
        backends("slow", [slow.addr])]
    gw = gateway(docs)
    for path in ("/backend", "/request"):
        t0 = time.monotonic()
        status, _, _ = gw.get(path)
        took = time.monotonic() - t0
        assert status == 504, path
        assert took < 2.5, (path, took)


def test_two_services_on_one_address_are_two_series(gateway, echo):
    """Two routed Services may list the same address: each has its own
    backend (counters, breaker), and /metrics tells them apart by a
    `service` label instead of writing one series twice."""
    e = echo("--pod-name", "a")
    docs = [GATEWAY, route("r", [{"backendRefs": [ref("one", 1), ref("two", 1)]}]),
            backends("one", [e.addr]), backends("two", [e.addr])]
    gw = gateway(docs)
    for _ in range(20):
        assert gw.get("/")[0] == 200
    text = gw.proxy.admin("/metrics")[1]
    series = [line.rsplit(" ", 1)[0] for line in text.splitlines()
              if line and not line.startswith("#")]
    dup = [s for s, n in collections.Counter(series).items() if n > 1]
    assert not dup, dup
    for svc in ("default/one:80", "default/two:80"):
        assert re.search(r'lb_proxy_backend_requests_total\{backend="%s",service="%s",'
                         r'code_class="2xx"\} [1-9]' % (re.escape(e.addr), re.escape(svc)),
                         text), text


def test_lb_ctl_status_shows_the_routes_and_who_serves_them(gateway, echo, rundir):
    """lb-ctl status: the routes generation, how many proxies serve it (the
    proxies report it), and each routed Service's set; --json carries the
    same, and each proxy's routes generation."""
    e = echo("--pod-name", "a")
    gw = gateway([GATEWAY, route("r", [{"backendRefs": [ref("a")]}]), backends("a", [e.addr])])
    gen = gw.served()["generation"]
    doc = wait_for("lb-discover to hear the proxy serve the routes", lambda: (lambda d: d if d.get(
        "routes", {}).get("proxies_serving") == 1 else None)(ctl_json(rundir, "status")))
    assert doc["routes"]["generation"] == gen
    assert doc["routes"]["services"] == [{"name": "default/a:80", "generation":
                                          doc["routes"]["services"][0]["generation"],
                                          "backends": 1, "up": 1}]
    assert [p["routes"] for p in doc["proxies"]] == [gen]
    code, out, _ = ctl(rundir, "status")
    assert code == 0
    assert f"routes generation {gen}  listeners 1  rules 1  served by 1 of 1 proxies" in out, out
    assert re.search(r"default/a:80\s+\d+\s+1\s+1", out), out


def test_a_routed_request_span_is_named_by_its_route(gateway, echo):
    """Tracing meets routing: the SERVER span of a routed request is named
    "{method} {route}" with http.route the match's path as the route wrote
    it (the HTTP semantic conventions' low-cardinality template), never the
    request's own path."""
    receiver = Receiver()
    try:
        e = echo("--pod-name", "a")
        gw = gateway([GATEWAY, route("r", [{"matches": [prefix("/api")],
                                            "backendRefs": [ref("a")]}]),
                      backends("a", [e.addr])],
                     proxy_flags=("--otlp-endpoint", receiver.url, "--otlp-interval", "0.05"))
        trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
        assert gw.get("/api/orders/42", headers={
            "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"})[0] == 200
        span = wait_for("lb's SERVER span", lambda: next(
            (s for s in list(receiver.spans)
             if s["trace_id"] == trace_id and s["kind"] == "SERVER"), None), timeout=10)
        assert span["name"] == "GET /api"
        assert span["attributes"]["http.route"] == ("string", "/api")
        assert span["attributes"]["url.path"] == ("string", "/api/orders/42")
    finally:
        receiver.close()
        assert not receiver.errors, receiver.errors


def test_http2_streams_are_routed_one_by_one(gateway, echo):
    """HTTP/2 meets routing: the streams of one h2c connection (nghttp, many
    streams on one connection) are each matched against the table, so two
    paths on one connection reach two Services (RFC 9113 8.3.1: :path and
    :authority are the request's target and Host)."""
    e = pods(echo, "a", "b")
    docs = [GATEWAY, route("r", [{"matches": [prefix("/a")], "backendRefs": [ref("a")]},
                                 {"matches": [prefix("/b")], "backendRefs": [ref("b")]}],
                           hostnames=["example.com"])]
    docs += [backends(n, [e[n].addr]) for n in e]
    gw = gateway(docs, proxy_flags=("--access-log", "on"))
    base = f"http://127.0.0.1:{gw.port}"
    r = subprocess.run(["nghttp", "-n", "-s", "-H", ":authority: example.com",
                        f"{base}/a/1", f"{base}/b/2", f"{base}/a/3", f"{base}/c"],
                       capture_output=True, text=True, timeout=30 * SLOW)
    assert r.returncode == 0, r.stderr
    lines = wait_for("the four streams' log lines", lambda: (lambda got: got if len(got) == 4
                     else None)([line for line in gw.proxy.proc.text().splitlines()
                                 if "proto=h2" in line]))
    got = {re.search(r'request="GET (\S+)"', line).group(1):
           (re.search(r"status=(\d+)", line).group(1), re.search(r"backend=(\S+)", line).group(1))
           for line in lines}
    assert got["/a/1"] == ("200", e["a"].addr) and got["/a/3"] == ("200", e["a"].addr), got
    assert got["/b/2"] == ("200", e["b"].addr), got
    assert got["/c"] == ("404", "-"), got
    assert len({re.search(r"stream=(\d+)", line).group(1) for line in lines}) == 4
