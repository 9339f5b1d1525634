"""A Gateway listener is Programmed only when every proxy listens on its port
with the kind it needs (issue 24: "a listener no proxy listens on is
Programmed=False with a clear message"): each lb-proxy's bus report names its
--listen ports ("listens", docs/bus-protocol.md) and lb-discover --gateway
checks each listener's port against them (docs/routing.md, "From the
cluster"). Gateway API v1 ListenerConditionType Programmed, reason Pending;
against the Kubernetes API simulator."""
import base64
import subprocess

import pytest

from conftest import bus_proxy, wait_for
from support.k8ssim import api
from support.net import free_port

GW = "gateway.networking.k8s.io"
NS = "default"
GATEWAYS = f"/apis/{GW}/v1/namespaces/{NS}/gateways"


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    d = tmp_path_factory.mktemp("gateway-listeners")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=s.example.com",
                    "-days", "2", "-keyout", str(d / "s.key"), "-out", str(d / "s.pem")],
                   check=True, capture_output=True, timeout=60)
    return (d / "s.pem").read_text(), (d / "s.key").read_text()


def create(sim, path, doc):
    status, body = api(sim, "POST", path, doc)
    assert status == 201, body


def programmed(sim, name):
    gw = api(sim, "GET", GATEWAYS + "/gw")[1]
    for entry in gw.get("status", {}).get("listeners", []):
        if entry["name"] == name:
            return {c["type"]: c for c in entry["conditions"]}.get("Programmed", {})
    return {}


def wait_programmed(sim, name, status, words):
    return wait_for(f"listener {name} Programmed {status} saying {words!r}",
                    lambda: (lambda c: c.get("status") == status and words in c.get(
                        "message", "") and c)(programmed(sim, name)), timeout=15)


def test_a_listener_is_programmed_only_where_every_proxy_listens(sim, discover, proxy, rundir,
                                                                  echo, cert):
    e = echo("--pod-name", "e")
    sim.set_service(NS, "svc", ready=["127.0.0.1"], port=e.port, service_port=80)
    d = discover("--gateway", f"{NS}/gw", "--api-server", sim.url, "--no-health-check",
                 "--heartbeat", "0.3")
    a = bus_proxy(proxy, rundir)
    other = free_port()
    b64 = lambda s: base64.b64encode(s.encode()).decode()  # noqa: E731
    create(sim, f"/api/v1/namespaces/{NS}/secrets", {
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
        "metadata": {"name": "s", "namespace": NS},
        "data": {"tls.crt": b64(cert[0]), "tls.key": b64(cert[1])}})
    create(sim, f"/apis/{GW}/v1/gatewayclasses", {
        "apiVersion": f"{GW}/v1", "kind": "GatewayClass", "metadata": {"name": "lb"},
        "spec": {"controllerName": "lb.dev/gateway-controller"}})
    create(sim, GATEWAYS, {"apiVersion": f"{GW}/v1", "kind": "Gateway",
                           "metadata": {"name": "gw", "namespace": NS},
                           "spec": {"gatewayClassName": "lb", "listeners": [
                               {"name": "web", "port": a.port, "protocol": "HTTP"},
                               {"name": "other", "port": other, "protocol": "HTTP"},
                               {"name": "secure", "port": a.port, "protocol": "HTTPS",
                                "hostname": "s.example.com",
                                "tls": {"certificateRefs": [{"kind": "Secret", "name": "s"}]}}]}})

    # one proxy, plain on a.port: web is served; other's port has no proxy;
    # secure (HTTPS) needs a tls: listener on a.port, and a.port is plain
    c = wait_programmed(sim, "web", "True", "every proxy (1) serves routes generation")
    assert c["reason"] == "Programmed"
    c = wait_programmed(sim, "other", "False",
                        f"no proxy listens on port {other} (give lb-proxy --listen "
                        f"ADDR:{other})")
    assert c["reason"] == "Pending"
    c = wait_programmed(sim, "secure", "False",
                        f"no proxy listens on port {a.port} (give lb-proxy --listen "
                        f"tls:ADDR:{a.port})")
    assert c["reason"] == "Pending"

    # a second proxy, plain on other's port only: each port has 1 of 2
    b = bus_proxy(proxy, rundir, listen=f"127.0.0.1:{other}")
    wait_programmed(sim, "web", "False", f"1 of 2 proxies listen on port {a.port}")
    wait_programmed(sim, "other", "False", f"1 of 2 proxies listen on port {other}")
    assert programmed(sim, "secure")["message"].startswith(
        f"no proxy listens on port {a.port} (give lb-proxy --listen tls:")

    # the first proxy gone (lb-discover forgets it): other is served, web has none
    a.proc.stop()
    d.wait_log(r"proxy gone", timeout=15)
    wait_programmed(sim, "other", "True", "every proxy (1) serves routes generation")
    wait_programmed(sim, "web", "False", f"no proxy listens on port {a.port}")
    assert b.proc.p.poll() is None
