"""A Gateway's TLS (Passthrough) and TCP listeners: lb-discover compiles
TLSRoutes and TCPRoutes (gateway.networking.k8s.io/v1alpha2) from a file
(--routes) or the cluster (--gateway, against the API simulator), and
lb-proxy relays the connections to the port such a listener names, routed by
the ClientHello's server name (RFC 6066 3, read without terminating TLS) and
by weight. Each test names the Gateway API conformance test
(conformance/tests/*.go) whose manifests and assertions it follows; the
clients are real TLS stacks (Python's ssl, openssl s_client) verifying the
backends' own certificates end to end."""
import collections
import json
import os
import re
import signal
import socket
import ssl
import subprocess

import pytest

from conftest import SLOW, binary, bus_proxy, metric, served_by, wait_for
from support.k8ssim import api
from support.rawbackend import RawBackend

GW = "gateway.networking.k8s.io"
CONTROLLER = "lb.dev/gateway-controller"
NAMES = ["abc.example.com", "xyz.example.com", "other.example.org"]


def gateway(listeners):
    return {"apiVersion": f"{GW}/v1", "kind": "Gateway",
            "metadata": {"name": "gw", "namespace": "default"},
            "spec": {"gatewayClassName": "lb", "listeners": listeners}}


def tls_listener(port, hostname=None, name="tls"):
    listener = {"name": name, "port": port, "protocol": "TLS", "tls": {"mode": "Passthrough"}}
    if hostname:
        listener["hostname"] = hostname
    return listener


def stream_route(kind, name, refs, hostnames=None, namespace="default", section=None):
    parent = {"name": "gw", "namespace": "default"}
    if section:
        parent["sectionName"] = section
    spec = {"parentRefs": [parent], "rules": [{"backendRefs": refs}]}
    if hostnames:
        spec["hostnames"] = hostnames
    return {"apiVersion": f"{GW}/v1alpha2", "kind": kind,
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def ref(name, weight=None, port=443, namespace=None):
    r = {"name": name, "port": port}
    if weight is not None:
        r["weight"] = weight
    if namespace:
        r["namespace"] = namespace
    return r


def backends(name, addresses, port=443):
    return {"apiVersion": "lb.dev/v1alpha1", "kind": "Backends",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"ports": [{"port": port, "addresses": list(addresses)}]}}


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    """One certificate for every name the tests use (the backends' own)."""
    d = tmp_path_factory.mktemp("gateway-tls")
    san = ",".join("DNS:" + n for n in NAMES + ["*.example.com"])
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=abc.example.com",
                    "-addext", "subjectAltName=" + san, "-days", "2",
                    "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem")],
                   check=True, capture_output=True, timeout=60)
    return str(d / "cert.pem"), str(d / "key.pem")


class TLSBackend(RawBackend):
    """A TLS server (Python's ssl) that answers "NAME SNI": which backend
    the connection reached, and the server name its handshake carried."""

    def __init__(self, name, cert):
        self.name = name
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(*cert)
        self.ctx.sni_callback = lambda sock, name, _ctx: setattr(sock, "lb_sni", name)
        RawBackend.__init__(self, lambda conn, _backend: self.serve_one(conn))

    def serve_one(self, c):
        c.settimeout(10 * SLOW)
        try:
            with self.ctx.wrap_socket(c, server_side=True) as s:
                s.recv(100)
                s.sendall(("%s %s" % (self.name, getattr(s, "lb_sni", None) or "-")).encode())
        except (OSError, ssl.SSLError):
            pass


@pytest.fixture
def tls_backends(cert):
    made = []

    def start(*names):
        made.extend(TLSBackend(n, cert) for n in names)
        return made[-len(names):]
    yield start
    for b in made:
        b.sock.close()


def tls_get(port, sni, cert):
    """What the backend behind the proxy answers a TLS client sending sni;
    None when the proxy closes the connection (no route)."""
    ctx = ssl.create_default_context(cafile=cert[0])
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10 * SLOW) as raw:
            with ctx.wrap_socket(raw, server_hostname=sni) as s:
                s.sendall(b"hi")
                return s.recv(100).decode()
    except (ConnectionError, ssl.SSLError) as e:
        assert "certificate" not in str(e), e     # a handshake the proxy touched
        return None


def tcp_get(port):
    """The podName of the lb-echo behind a TCP relay (HTTP spoken through it)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10 * SLOW) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return json.loads(data.split(b"\r\n\r\n", 1)[1])["podName"]


class FileGateway:
    """lb-discover --routes FILE, one bus proxy; the Gateway's listeners on
    the proxy's port (written again once it listens)."""

    def __init__(self, procs, proxy, rundir, docs):
        self.path = os.path.join(rundir, "routes.yaml")
        self.port = 1
        self.write(docs)
        self.discover = procs([binary("lb-discover"), "--runtime-dir", rundir, "--routes",
                               self.path, "--no-health-check"])
        self.discover.wait_log(r"INFO publishing ")
        self.proxy = bus_proxy(proxy, rundir, "--access-log", "on")
        self.port = self.proxy.port
        self.apply(docs)

    def write(self, docs):
        out = []
        for d in docs:
            if d["kind"] == "Gateway":
                d = json.loads(json.dumps(d))
                for listener in d["spec"]["listeners"]:
                    listener["port"] = self.port
            out.append(json.dumps(d))
        with open(self.path + ".tmp", "w") as f:
            f.write("\n---\n".join(out))
        os.rename(self.path + ".tmp", self.path)

    def generation(self):
        found = re.findall(r"routes changed generation=(\d+)", self.discover.text())
        return int(found[-1]) if found else 0

    def apply(self, docs):
        before = self.generation()
        self.write(docs)
        gen = wait_for("lb-discover to publish the routes",
                       lambda: self.generation() if self.generation() != before else 0)
        routes = lambda: self.proxy.admin("/info")[1]["routes"]  # noqa: E731
        wait_for("the proxy to serve them", lambda: routes()["generation"] == gen)
        wait_for("every routed service's set",
                 lambda: all(s["generation"] for s in routes()["services"]))


@pytest.fixture
def file_gateway(procs, proxy, rundir):
    return lambda docs: FileGateway(procs, proxy, rundir, docs)


def test_tlsroute_simple_same_namespace(file_gateway, tls_backends, cert):
    """TLSRouteSimpleSameNamespace: a TLSRoute for abc.example.com on a TLS
    Passthrough listener; the client's handshake reaches the backend whole
    (it verifies the backend's certificate for its SNI). A server name no
    route takes is closed, logged and counted (no-route); so is a hello
    without a server name."""
    (a,) = tls_backends("a")
    g = file_gateway([gateway([tls_listener(1)]),
                      stream_route("TLSRoute", "gateway-conformance-tls",
                                   [ref("tls-backend")], hostnames=["abc.example.com"]),
                      backends("tls-backend", [a.addr])])
    assert tls_get(g.port, "abc.example.com", cert) == "a abc.example.com"
    assert tls_get(g.port, "xyz.example.com", cert) is None
    g.proxy.proc.wait_log(r"WARN connection closed: no route takes it .*sni=xyz\.example\.com "
                          r"reason=no-route")
    ctx = ssl.create_default_context(cafile=cert[0])
    ctx.check_hostname = False
    with socket.create_connection(("127.0.0.1", g.port), timeout=10 * SLOW) as raw:
        with pytest.raises((ConnectionError, ssl.SSLError)):
            ctx.wrap_socket(raw).sendall(b"hi")     # no server_name: no route
    assert metric(g.proxy, 'lb_proxy_tcp_refused_total{reason="no-route"}') == 2
    assert metric(g.proxy, 'lb_proxy_tcp_sni_total{result="found"}') == 2
    assert metric(g.proxy, 'lb_proxy_tcp_sni_total{result="none"}') == 1
    # openssl s_client: another TLS stack's hello, the name in another case
    r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{g.port}",
                        "-servername", "ABC.example.com", "-CAfile", cert[0],
                        "-verify_return_error", "-quiet"], input=b"hi", capture_output=True,
                       timeout=30 * SLOW)
    assert b"a ABC.example.com" in r.stdout, r.stderr
    g.proxy.proc.wait_log(r"INFO tcp .*backend=127\.0\.0\.1:\d+ sni=abc\.example\.com "
                          r"sni_result=found ")


def test_tls_listener_hostname_intersection_exact_beats_wildcard(file_gateway, tls_backends,
                                                                cert):
    """HTTPRouteHostnameIntersection's rules on a TLS listener (the suite has
    no TLSRoute case for them): the listener takes *.example.com; an exact route
    hostname beats the wildcard route, a route whose hostnames miss the
    listener's is NoMatchingListenerHostname and takes nothing."""
    a, b, c = tls_backends("a", "b", "c")
    g = file_gateway([gateway([tls_listener(1, hostname="*.example.com")]),
                      stream_route("TLSRoute", "exact", [ref("svc-a")],
                                   hostnames=["abc.example.com"]),
                      stream_route("TLSRoute", "wildcard", [ref("svc-b")],
                                   hostnames=["*.example.com"]),
                      stream_route("TLSRoute", "elsewhere", [ref("svc-c")],
                                   hostnames=["other.example.org"]),
                      backends("svc-a", [a.addr]), backends("svc-b", [b.addr]),
                      backends("svc-c", [c.addr])])
    assert tls_get(g.port, "abc.example.com", cert) == "a abc.example.com"
    assert tls_get(g.port, "xyz.example.com", cert) == "b xyz.example.com"
    assert tls_get(g.port, "other.example.org", cert) is None
    g.discover.wait_log(r"route not fully served route=default/elsewhere parent=0 "
                        r"accepted=False:NoMatchingListenerHostname")


def test_tcproute_weights_and_http_beside_it(file_gateway, echo):
    """TCPRoute basics (the suite has no TCPRoute test yet: lb's case, with
    the manifests' shape of TLSRouteSimpleSameNamespace) and the weights of
    HTTPRouteWeight: backendRefs weighted 3/1/0 take 75/25/0 of
    the connections (200, each an HTTP exchange relayed as bytes to
    lb-echo); an HTTPRoute attached to the TCP listener is
    NotAllowedByListeners."""
    a, b, c = (echo("--pod-name", n) for n in "abc")
    g = file_gateway([gateway([{"name": "tcp", "port": 1, "protocol": "TCP"}]),
                      stream_route("TCPRoute", "db", [ref("svc-a", 3, 5432),
                                                      ref("svc-b", 1, 5432),
                                                      ref("svc-c", 0, 5432)]),
                      {"apiVersion": f"{GW}/v1", "kind": "HTTPRoute",
                       "metadata": {"name": "web", "namespace": "default"},
                       "spec": {"parentRefs": [{"name": "gw"}],
                                "rules": [{"backendRefs": [ref("svc-a", port=5432)]}]}},
                      backends("svc-a", ["127.0.0.1:%d" % a.port], 5432),
                      backends("svc-b", ["127.0.0.1:%d" % b.port], 5432),
                      backends("svc-c", ["127.0.0.1:%d" % c.port], 5432)])
    g.discover.wait_log(r"route=default/web parent=0 accepted=False:NotAllowedByListeners")
    seen = collections.Counter(tcp_get(g.port) for _ in range(200))
    assert seen["c"] == 0, seen
    assert 125 <= seen["a"] <= 175, seen      # 150 expected, sd 6.1: 4 sd either way
    assert seen["a"] + seen["b"] == 200


# ---- against the API simulator: the status lb writes ------------------------

def create(sim, path, doc):
    status, body = api(sim, "POST", path, doc)
    assert status == 201, body


def parent_conditions(sim, path):
    obj = api(sim, "GET", path)[1]
    parents = [p for p in obj.get("status", {}).get("parents", [])
               if p.get("controllerName") == CONTROLLER]
    return {c["type"]: c for c in parents[0]["conditions"]} if parents else {}


def test_tlsroute_invalid_reference_grant_and_status(sim, discover, proxy, rundir, tls_backends,
                                                     cert):
    """TLSRouteInvalidReferenceGrant: a TLSRoute whose backendRef crosses into
    another namespace under a ReferenceGrant that grants HTTPRoutes only is
    ResolvedRefs False, RefNotPermitted (and takes no connection); a grant
    from TLSRoutes resolves it and the connection reaches the backend. The
    listener says supportedKinds TLSRoute and attachedRoutes 1; an HTTPRoute
    naming it is NotAllowedByListeners."""
    (a,) = tls_backends("a")
    host, port = a.addr.split(":")
    sim.set_service("backends", "tls-backend", ready=[host], port=int(port), service_port=443)
    discover("--gateway", "default/gw", "--api-server", sim.url, "--no-health-check")
    p = bus_proxy(proxy, rundir)
    create(sim, f"/apis/{GW}/v1/gatewayclasses", {
        "apiVersion": f"{GW}/v1", "kind": "GatewayClass", "metadata": {"name": "lb"},
        "spec": {"controllerName": CONTROLLER}})
    create(sim, f"/apis/{GW}/v1/namespaces/default/gateways",
           gateway([tls_listener(p.port, name="tls")]))
    grant = {"apiVersion": f"{GW}/v1beta1", "kind": "ReferenceGrant",
             "metadata": {"name": "grant", "namespace": "backends"},
             "spec": {"from": [{"group": GW, "kind": "HTTPRoute", "namespace": "default"}],
                      "to": [{"group": "", "kind": "Service"}]}}
    create(sim, f"/apis/{GW}/v1beta1/namespaces/backends/referencegrants", grant)
    tls_routes = f"/apis/{GW}/v1alpha2/namespaces/default/tlsroutes"
    create(sim, tls_routes, stream_route("TLSRoute", "gateway-conformance-tls",
                                         [ref("tls-backend", namespace="backends")],
                                         hostnames=["abc.example.com"]))
    create(sim, f"/apis/{GW}/v1/namespaces/default/httproutes", {
        "apiVersion": f"{GW}/v1", "kind": "HTTPRoute",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"parentRefs": [{"name": "gw"}], "rules": [{}]}})
    resolved = wait_for("the TLSRoute's ResolvedRefs", lambda: parent_conditions(
        sim, tls_routes + "/gateway-conformance-tls").get("ResolvedRefs"), timeout=10)
    assert (resolved["status"], resolved["reason"]) == ("False", "RefNotPermitted")
    web = wait_for("the HTTPRoute's Accepted", lambda: parent_conditions(
        sim, f"/apis/{GW}/v1/namespaces/default/httproutes/web").get("Accepted"), timeout=10)
    assert (web["status"], web["reason"]) == ("False", "NotAllowedByListeners")
    listener = wait_for("the listener's status", lambda: (api(
        sim, "GET", f"/apis/{GW}/v1/namespaces/default/gateways/gw")[1].get(
            "status", {}).get("listeners") or [None])[0], timeout=10)
    assert listener["supportedKinds"] == [{"group": GW, "kind": "TLSRoute"}]
    assert listener["attachedRoutes"] == 1
    wait_for("the proxy to serve the TLSRoute's rule",
             lambda: p.admin("/info")[1]["routes"].get("rules") == 1, timeout=10)
    assert tls_get(p.port, "abc.example.com", cert) is None
    p.proc.wait_log(r"reason=unresolved")

    grant["spec"]["from"][0]["kind"] = "TLSRoute"
    status, _ = api(sim, "PUT", f"/apis/{GW}/v1beta1/namespaces/backends/referencegrants/grant",
                    grant)
    assert status == 200
    resolved = wait_for("the grant to resolve the ref", lambda: (lambda c: c.get(
        "ResolvedRefs", {}).get("status") == "True" and c)(parent_conditions(
            sim, tls_routes + "/gateway-conformance-tls")), timeout=10)
    assert resolved["Accepted"]["status"] == "True"
    assert wait_for("the connection to reach the backend",
                    lambda: tls_get(p.port, "abc.example.com", cert),
                    timeout=10) == "a abc.example.com"


def test_a_new_table_leaves_open_relays_alone_and_turns_the_port(file_gateway, tls_backends,
                                                                 echo, cert):
    """lb's own (no conformance test): a relayed connection holds the table
    it started with, so a table that drops its route and its Service (and,
    here, turns the port into an HTTP listener) leaves it working; new
    connections to the port get what the new table says (HTTP)."""
    (a,) = tls_backends("a")
    web = echo("--pod-name", "web")
    g = file_gateway([gateway([tls_listener(1)]),
                      stream_route("TLSRoute", "shop", [ref("svc-a")],
                                   hostnames=["abc.example.com"]),
                      backends("svc-a", [a.addr])])
    ctx = ssl.create_default_context(cafile=cert[0])
    with socket.create_connection(("127.0.0.1", g.port), timeout=10 * SLOW) as raw:
        with ctx.wrap_socket(raw, server_hostname="abc.example.com") as s:
            g.apply([gateway([{"name": "http", "port": 1, "protocol": "HTTP"}]),
                     {"apiVersion": f"{GW}/v1", "kind": "HTTPRoute",
                      "metadata": {"name": "web", "namespace": "default"},
                      "spec": {"parentRefs": [{"name": "gw"}],
                               "rules": [{"backendRefs": [ref("web", port=80)]}]}},
                     backends("web", ["127.0.0.1:%d" % web.port], 80)])
            s.sendall(b"hi")
            assert s.recv(100) == b"a abc.example.com"
    status, headers, _ = g.proxy.request("GET", "/", headers={"Host": "abc.example.com"})
    assert status == 200 and served_by(headers) == "web"


def test_sigterm_lets_an_open_relay_finish(file_gateway, tls_backends, cert):
    """lb's own: on SIGTERM the port takes no new connection, and an open
    relay keeps going (up to --drain-timeout) though no HTTP connection is
    open; the proxy exits once it ends."""
    (a,) = tls_backends("a")
    g = file_gateway([gateway([tls_listener(1)]),
                      stream_route("TLSRoute", "shop", [ref("svc-a")],
                                   hostnames=["abc.example.com"]),
                      backends("svc-a", [a.addr])])
    ctx = ssl.create_default_context(cafile=cert[0])
    with socket.create_connection(("127.0.0.1", g.port), timeout=10 * SLOW) as raw:
        with ctx.wrap_socket(raw, server_hostname="abc.example.com") as s:
            wait_for("the relay to be open", lambda: metric(
                g.proxy, "lb_proxy_tcp_connections_active") == 1)
            g.proxy.proc.p.send_signal(signal.SIGTERM)
            g.proxy.proc.wait_log(r"INFO draining connections=1")
            with pytest.raises(OSError):
                socket.create_connection(("127.0.0.1", g.port), timeout=2).recv(1)
            s.sendall(b"hi")
            assert s.recv(100) == b"a abc.example.com"
    assert g.proxy.proc.p.wait(10 * SLOW) == 0
