"""Per-Service settings of routed Services (docs/routing.md#per-service-protocol-and-balancing):
a Service port's appProtocol chooses the protocol to its backends (GEP-1911,
the Gateway API's HTTPRouteBackendProtocolH2C conformance case), its
lb.dev/balance annotation its algorithm; both travel in the Service's sets
and a proxy applies them with the set, without a restart. From a file
(Backends documents) and from the cluster (the simulator's Services)."""
import collections
import json
import os
import subprocess
import sys
import threading

import pytest

from conftest import SLOW, bus_proxy, protocol_constant, served_by, wait_for
from support.k8ssim import api
from test_gateway_controller import CLASSES, GATEWAYS, NS, ROUTES, create, gateway_class
from test_gateway_controller import gateway as gateway_doc
from test_gateway_controller import httproute, parent_conditions
from test_gateway_routes import GATEWAY, backends, gateway, prefix, ref, route  # noqa: F401 (gateway is a fixture)

grpc = pytest.importorskip("grpc", reason="python3-grpcio is needed (make test-deps)")

VERSION = protocol_constant("BUS_PROTOCOL_VERSION")
GRPC_BACKEND = os.path.join(os.path.dirname(__file__), "..", "support", "grpc_backend.py")


@pytest.fixture
def grpc_backend(procs):
    """A gRPC server (HTTP/2 only, answers "NAME:" + the message)."""
    p = procs([sys.executable, GRPC_BACKEND, "--name", "g0"])
    m = p.wait_log(r"listening port=(\d+)", timeout=20 * SLOW)
    p.addr = f"127.0.0.1:{m.group(1)}"
    return p


def grpc_echo(px):
    """One gRPC call through the proxy: the reply, or the grpc.RpcError."""
    with grpc.insecure_channel(f"127.0.0.1:{px.port}") as ch:
        try:
            return ch.unary_unary("/lb.Test/Echo")(b"hi", timeout=10 * SLOW)
        except grpc.RpcError as e:
            return e


def service(name, addresses, app_protocol=None, balance=None):
    """A Backends document with the settings a Service carries."""
    doc = backends(name, addresses)
    if app_protocol is not None:
        doc["spec"]["ports"][0]["appProtocol"] = app_protocol
    if balance is not None:
        doc["metadata"]["annotations"] = {"lb.dev/balance": balance}
    return doc


def proxy_services(px):
    return {s["name"]: s for s in px.admin("/routes")[1]["services"]}


def wait_settings(gw, name, **want):
    """Waits until the proxy uses want (protocol=, balance=) for Service name."""
    return wait_for(f"the proxy to use {want} for {name}", lambda: (lambda s: s if s and all(
        s[k] == v for k, v in want.items()) else None)(proxy_services(gw.proxy).get(name)))


def rewrite(gw, docs):
    """Writes docs; the route table may stay the same (settings only)."""
    gw.write(docs)
    gw.docs = docs


def test_h2c_service_beside_an_http1_one_through_one_proxy(gateway, grpc_backend, echo):
    """GEP-1911 / HTTPRouteBackendProtocolH2C: a Service port of appProtocol
    kubernetes.io/h2c gets HTTP/2 with prior knowledge (RFC 9113 3.3: a
    gRPC server speaks nothing else), while another Service of the same
    table, without appProtocol, gets the proxy's --backend-protocol
    (http1: lb-echo speaks HTTP/1.1 only)."""
    web = echo("--pod-name", "web")
    docs = [GATEWAY,
            route("grpc", [{"matches": [prefix("/lb.Test")], "backendRefs": [ref("grpc")]}]),
            route("web", [{"matches": [prefix("/web")], "backendRefs": [ref("web")]}]),
            service("grpc", [grpc_backend.addr], app_protocol="kubernetes.io/h2c"),
            service("web", [web.addr])]
    gw = gateway(docs)
    assert grpc_echo(gw.proxy) == b"g0:hi"
    status, hdrs, _ = gw.get("/web/x")
    assert status == 200 and served_by(hdrs) == "web"
    got = proxy_services(gw.proxy)
    assert got["default/grpc:80"]["protocol"] == "h2c"
    assert got["default/web:80"]["protocol"] == "http1"
    info = {s["name"]: s for s in gw.served()["services"]}
    assert info["default/grpc:80"]["protocol"] == "h2c"
    # kubernetes.io/ws is HTTP/1.1 (a WebSocket Upgrade), said in the set
    rewrite(gw, docs[:4] + [service("web", [web.addr], app_protocol="kubernetes.io/ws")])
    gw.proxy.proc.wait_log(r"service settings applied service=default/web:80 protocol=http1")
    assert gw.get("/web/x")[0] == 200


def test_app_protocol_change_is_applied_without_a_restart(gateway, grpc_backend):
    """The Service's protocol changes with a new set: new requests go to the
    new pool. Without appProtocol a gRPC server gets HTTP/1.1 and refuses it
    (the call fails); once the file says kubernetes.io/h2c the same proxy's
    calls succeed; back to none, they fail again."""
    docs = [GATEWAY,
            route("grpc", [{"matches": [prefix("/")], "backendRefs": [ref("grpc")]}]),
            service("grpc", [grpc_backend.addr])]
    gw = gateway(docs)
    assert proxy_services(gw.proxy)["default/grpc:80"]["protocol"] == "http1"
    assert isinstance(grpc_echo(gw.proxy), grpc.RpcError)
    pid = gw.proxy.proc.p.pid
    rewrite(gw, docs[:2] + [service("grpc", [grpc_backend.addr], app_protocol="kubernetes.io/h2c")])
    wait_settings(gw, "default/grpc:80", protocol="h2c")
    assert grpc_echo(gw.proxy) == b"g0:hi"
    gw.proxy.proc.wait_log(r"service settings applied service=default/grpc:80 protocol=h2c")
    rewrite(gw, docs)
    wait_settings(gw, "default/grpc:80", protocol="http1")
    assert isinstance(grpc_echo(gw.proxy), grpc.RpcError)
    assert gw.proxy.proc.p.pid == pid


def spread(gw, path, n=120, clients=6):
    """n requests to path from `clients` threads at once: the backends that
    answered them."""
    counts = collections.Counter()
    lock = threading.Lock()
    left = [n]

    def client():
        while True:
            with lock:
                if not left[0]:
                    return
                left[0] -= 1
            status, hdrs, _ = gw.get(path)
            with lock:
                counts[served_by(hdrs) if status == 200 else status] += 1
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return counts


def test_each_service_balances_with_its_own_algorithm(gateway, echo):
    """docs/balancing.md: least-request keeps traffic off a slow backend,
    round-robin gives each backend its turn. Two Services over the same
    three backends (one 20x slower): the one annotated lb.dev/balance:
    least-request sends the slow one few requests, the other (the proxy's
    --balance, round-robin) exactly a third; swapping the annotations swaps
    the behaviour, without a restart."""
    fast = [echo("--pod-name", f"fast{i}", "--delay-ms", "5", "--access-log", "off")
            for i in range(2)]
    slow = echo("--pod-name", "slow", "--delay-ms", "100", "--access-log", "off")
    addrs = [b.addr for b in (*fast, slow)]

    def docs(lr):
        return [GATEWAY,
                route("a", [{"matches": [prefix("/a")], "backendRefs": [ref("a")]}]),
                route("b", [{"matches": [prefix("/b")], "backendRefs": [ref("b")]}]),
                service("a", addrs, balance="least-request" if lr == "a" else None),
                service("b", addrs, balance="least-request" if lr == "b" else None)]
    gw = gateway(docs("a"))
    wait_settings(gw, "default/a:80", balance="least-request")
    assert proxy_services(gw.proxy)["default/b:80"]["balance"] == "round-robin"
    a, b = spread(gw, "/a"), spread(gw, "/b")
    assert sum(a.values()) == sum(b.values()) == 120, (a, b)
    assert b["slow"] == 40, b        # round-robin: every third pick
    assert a["slow"] < 25, a         # least-request: few (about 8)
    rewrite(gw, docs("b"))
    wait_settings(gw, "default/a:80", balance="round-robin")
    wait_settings(gw, "default/b:80", balance="least-request")
    a, b = spread(gw, "/a"), spread(gw, "/b")
    assert a["slow"] == 40, a
    assert b["slow"] < 25, b


def test_unknown_values_keep_the_default_and_are_noted(gateway, echo):
    """GEP-1911: an appProtocol lb does not speak makes the route's
    ResolvedRefs False with reason UnsupportedProtocol; lb serves the
    Service with the proxy's --backend-protocol all the same. An
    lb.dev/balance lb has not is logged and the proxy's --balance kept."""
    web = echo("--pod-name", "web")
    gw = gateway([GATEWAY, route("web", [{"matches": [prefix("/")], "backendRefs": [ref("web")]}]),
                  service("web", [web.addr], app_protocol="example.com/quic",
                          balance="fastest")])
    status, hdrs, _ = gw.get("/x")
    assert status == 200 and served_by(hdrs) == "web"
    got = proxy_services(gw.proxy)["default/web:80"]
    assert got["protocol"] == "http1" and got["balance"] == "round-robin"
    gw.discover.wait_log(r'WARN routed service: its appProtocol is not one lb speaks.* '
                         r'app_protocol="example.com/quic"')
    gw.discover.wait_log(r'WARN routed service: lb.dev/balance is not an algorithm lb has.* '
                         r'balance="fastest"')
    gw.discover.wait_log(r"route not fully served route=default/web .*"
                         r"resolved_refs=False:UnsupportedProtocol")


def test_settings_from_the_cluster(sim, discover, proxy, rundir, echo):
    """The same from Services of the cluster (the simulator): the port's
    appProtocol and the Service's annotation reach the proxy, a patch of
    the Service (kubectl patch) is applied without a restart, and an
    unknown appProtocol is the route's ResolvedRefs False,
    UnsupportedProtocol (GEP-1911)."""
    a = echo("--pod-name", "a")
    sim.set_service(NS, "svc-a", ready=["127.0.0.1"], port=a.port, service_port=80)
    discover("--gateway", f"{NS}/gw", "--api-server", sim.url, "--no-health-check")
    p = bus_proxy(proxy, rundir)
    create(sim, CLASSES, gateway_class())
    create(sim, GATEWAYS, gateway_doc(p.port))
    create(sim, ROUTES, httproute("web", [{"name": "svc-a", "port": 80}]))
    wait_for("the proxy to serve the route", lambda: p.request(
        "GET", "/x", headers={"Host": "h"})[0] == 200, timeout=10 * SLOW)
    svc = f"/api/v1/namespaces/{NS}/services/svc-a"
    port = {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}

    def patch(doc):
        status, body = api(sim, "PATCH", svc, doc, ctype="application/merge-patch+json")
        assert status == 200, body

    def settings():
        return {s["name"]: s for s in p.admin("/routes")[1]["services"]}.get(
            f"{NS}/svc-a:80", {})
    patch({"metadata": {"annotations": {"lb.dev/balance": "least-request"}},
           "spec": {"ports": [dict(port, appProtocol="kubernetes.io/ws")]}})
    wait_for("the Service's settings on the proxy", lambda: settings().get("balance") ==
             "least-request", timeout=10 * SLOW)
    assert settings()["protocol"] == "http1"
    assert p.request("GET", "/x", headers={"Host": "h"})[0] == 200
    patch({"spec": {"ports": [dict(port, appProtocol="example.com/quic")]}})
    refs = wait_for("the route's ResolvedRefs", lambda: (lambda c: c if c and c.get(
        "reason") == "UnsupportedProtocol" else None)(parent_conditions(
            api(sim, "GET", ROUTES + "/web")[1]).get("ResolvedRefs")), timeout=10 * SLOW)
    assert refs["status"] == "False" and "appProtocol" in refs["message"], refs
    assert p.request("GET", "/x", headers={"Host": "h"})[0] == 200


def test_a_set_naming_h2_without_backend_tls_is_not_taken(proxy, rundir, echo):
    """Hostile bus input: a set is free to say "protocol":"h2" (HTTP/2 over
    TLS, RFC 9113 3.2), which only --backend-tls gives. A proxy without it
    logs that it does not take it and goes on with HTTP/1.1, rather than
    opening TLS it has no context for. (lb-discover never publishes h2: a
    Service's own TLS needs a BackendTLSPolicy, which lb does not read.)"""
    web = echo("--pod-name", "web")
    p = proxy(None, "--runtime-dir", rundir, "--access-log", "off", "--initial-set-timeout", "0")
    table = {"v": protocol_constant("ROUTE_CODEC_VERSION", "route_codec.h"),
             "listeners": [{"name": "http", "port": p.port, "protocol": "HTTP", "vhosts": [
        {"hostname": "*", "entries": [[0, 0]]}]}],
        "rules": [{"route": "default/web", "index": 0, "matches": [
            {"pathType": "PathPrefix", "path": "/"}], "backends": [
            {"namespace": "default", "name": "web", "port": 80, "weight": 1, "resolved": True}]}]}
    messages = [{"v": VERSION, "type": "routes", "generation": 5, "table": table},
                {"v": VERSION, "type": "set", "service": "default/web:80", "generation": 7,
                 "protocol": "h2", "balance": "random",
                 "backends": [{"address": web.addr, "weight": 1, "state": "up", "reason": ""}]}]
    for msg, applied in zip(messages, (r"routes applied generation=5",
                                       r"service protocol not taken: .* protocol=h2 .*"
                                       r"backend_tls=off")):
        # nanocat repeats its message: the proxy may still be connecting
        pub = subprocess.Popen(["nanocat", "--pub", "--bind", f"ipc://{rundir}/sets.sock",
                                "--interval", "0.05", "--data",
                                json.dumps(msg, separators=(",", ":"))],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            p.proc.wait_log(applied)
        finally:
            pub.kill()
            pub.wait()
    status, hdrs, _ = p.request("GET", "/x", headers={"Host": "h"})
    assert status == 200 and served_by(hdrs) == "web"
    got = proxy_services(p)["default/web:80"]
    assert got == {"name": "default/web:80", "protocol": "http1", "balance": "random",
                   "generation": 7}, got
