"""HTTPS Gateway listeners: lb-discover --gateway resolves each listener's
tls.certificateRefs to Secrets (the Kubernetes API simulator serves them),
writes them into the runtime dir's gateway-tls folder, and the pod's proxy
(a tls: listener without certificate flags) serves them by SNI; the listener
status says what is wrong. Conformance: HTTPRouteHTTPSListener,
GatewaySecretReferenceGrantAllInNamespace, GatewaySecretMissingReferenceGrant,
GatewayInvalidTLSConfiguration; the rotation is lb's own (no restart)."""
import base64
import http.client
import json
import os
import socket
import ssl
import stat
import subprocess

import pytest

from conftest import SLOW, binary, bus_proxy, wait_for
from support.k8ssim import api

GW = "gateway.networking.k8s.io"
NS = "default"
GATEWAYS = f"/apis/{GW}/v1/namespaces/{NS}/gateways"


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """Self-signed certificates: name -> (cert PEM, key PEM)."""
    d = tmp_path_factory.mktemp("gateway-https")
    out = {}
    for name, host in (("a", "a.example.com"), ("a2", "a.example.com"),
                       ("b", "b.example.com")):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-subj", f"/CN={host}",
                        "-addext", f"subjectAltName=DNS:{host}", "-days", "2",
                        "-keyout", str(d / f"{name}.key"), "-out", str(d / f"{name}.pem")],
                       check=True, capture_output=True, timeout=60)
        out[name] = ((d / f"{name}.pem").read_text(), (d / f"{name}.key").read_text(),
                     str(d / f"{name}.pem"))
    return out


def secret(name, cert, key, namespace=NS, kind="kubernetes.io/tls"):
    b64 = lambda s: base64.b64encode(s.encode()).decode()  # noqa: E731
    return {"apiVersion": "v1", "kind": "Secret", "type": kind,
            "metadata": {"name": name, "namespace": namespace},
            "data": {"tls.crt": b64(cert), "tls.key": b64(key)}}


def create(sim, path, doc):
    status, body = api(sim, "POST", path, doc)
    assert status == 201, body


def listener(name, port, hostname, refs):
    return {"name": name, "port": port, "protocol": "HTTPS", "hostname": hostname,
            "tls": {"certificateRefs": refs}}


def ref(name, namespace=None):
    r = {"kind": "Secret", "group": "", "name": name}
    if namespace:
        r["namespace"] = namespace
    return r


def setup_gateway(sim, listeners):
    create(sim, f"/apis/{GW}/v1/gatewayclasses", {
        "apiVersion": f"{GW}/v1", "kind": "GatewayClass", "metadata": {"name": "lb"},
        "spec": {"controllerName": "lb.dev/gateway-controller"}})
    create(sim, GATEWAYS, {"apiVersion": f"{GW}/v1", "kind": "Gateway",
                           "metadata": {"name": "gw", "namespace": NS},
                           "spec": {"gatewayClassName": "lb", "listeners": listeners}})


def listener_conditions(sim, name):
    gw = api(sim, "GET", GATEWAYS + "/gw")[1]
    for entry in gw.get("status", {}).get("listeners", []):
        if entry["name"] == name:
            return {c["type"]: c for c in entry["conditions"]}
    return {}


def wait_refs(sim, name, status, reason):
    return wait_for(f"listener {name}'s ResolvedRefs {status} {reason}", lambda: (
        lambda c: c.get("ResolvedRefs", {}).get("reason") == reason and
        c["ResolvedRefs"]["status"] == status and c)(listener_conditions(sim, name)),
        timeout=15)


def https_get(port, host, cafile):
    """(the DER certificate the proxy served for SNI host, the answer's status line)."""
    ctx = ssl.create_default_context(cafile=cafile)
    with socket.create_connection(("127.0.0.1", port), timeout=10 * SLOW) as raw:
        with ctx.wrap_socket(raw, server_hostname=host) as s:
            s.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
            answer = b""
            while chunk := s.recv(4096):
                answer += chunk
            return s.getpeercert(binary_form=True), answer.split(b"\r\n")[0].decode()


def serves(port, host, cert):
    """Whether the proxy serves cert (name in certs) for SNI host."""
    try:
        der, status = https_get(port, host, cert[2])
    except (OSError, ssl.SSLError):
        return False
    return der == ssl.PEM_cert_to_DER_cert(cert[0]) and status.endswith("200 OK")


@pytest.fixture
def https_gateway(sim, discover, proxy, rundir, echo):
    """An echo Service, lb-discover --gateway and a bus proxy with a tls: listener."""
    e = echo("--pod-name", "e")
    sim.set_service(NS, "svc", ready=["127.0.0.1"], port=e.port, service_port=80)
    d = discover("--gateway", f"{NS}/gw", "--api-server", sim.url, "--no-health-check")
    p = bus_proxy(proxy, rundir, listen="tls:127.0.0.1:0")
    return d, p


def test_https_listeners_serve_their_secrets_by_sni_and_follow_a_rotation(
        sim, https_gateway, rundir, certs):
    """HTTPRouteHTTPSListener (two hostnames, two certificates, routes over
    TLS), GatewaySecretReferenceGrantAllInNamespace (b's Secret in another
    namespace, granted), then a rotated Secret served without a restart."""
    d, p = https_gateway
    a, a2, b = certs["a"], certs["a2"], certs["b"]
    create(sim, f"/api/v1/namespaces/{NS}/secrets", secret("cert-a", a[0], a[1]))
    create(sim, "/api/v1/namespaces/certs/secrets", secret("cert-b", b[0], b[1], "certs"))
    create(sim, f"/apis/{GW}/v1beta1/namespaces/certs/referencegrants", {
        "apiVersion": f"{GW}/v1beta1", "kind": "ReferenceGrant",
        "metadata": {"name": "gateways", "namespace": "certs"},
        "spec": {"from": [{"group": GW, "kind": "Gateway", "namespace": NS}],
                 "to": [{"group": "", "kind": "Secret"}]}})
    setup_gateway(sim, [listener("https-a", p.port, "a.example.com", [ref("cert-a")]),
                        listener("https-b", p.port, "b.example.com",
                                 [ref("cert-b", "certs")])])
    create(sim, f"/apis/{GW}/v1/namespaces/{NS}/httproutes", {
        "apiVersion": f"{GW}/v1", "kind": "HTTPRoute", "metadata": {"name": "web", "namespace": NS},
        "spec": {"parentRefs": [{"name": "gw"}],
                 "rules": [{"backendRefs": [{"name": "svc", "port": 80}]}]}})
    wait_for("a.example.com served with cert a", lambda: serves(p.port, "a.example.com", a),
             timeout=15)
    assert serves(p.port, "b.example.com", b)
    for name in ("https-a", "https-b"):
        c = wait_for(f"{name} Programmed", lambda: (lambda c: c.get("Programmed", {}).get(
            "status") == "True" and c)(listener_conditions(sim, name)), timeout=15)
        assert c["ResolvedRefs"]["status"] == "True", c
    # the copy is the pod's own: 0700, its files 0600, no Secret on the bus
    folder = os.path.join(rundir, "gateway-tls")
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    for f in ("tls.crt", "tls.key"):
        assert stat.S_IMODE(os.stat(os.path.join(folder, "default_cert-a", f)).st_mode) == 0o600

    # rotation: the Secret's new pair is served, by the same proxy process,
    # and a keep-alive connection made before it goes on (its certificate kept)
    pid = p.proc.pid
    kept = http.client.HTTPConnection("a.example.com", p.port, timeout=10 * SLOW)
    kept.sock = ssl.create_default_context(cafile=a[2]).wrap_socket(
        socket.create_connection(("127.0.0.1", p.port), timeout=10 * SLOW),
        server_hostname="a.example.com")
    kept.request("GET", "/")
    assert kept.getresponse().read() and kept.sock.getpeercert(True) == \
        ssl.PEM_cert_to_DER_cert(a[0])
    status, body = api(sim, "PATCH", f"/api/v1/namespaces/{NS}/secrets/cert-a",
                       {"data": secret("x", a2[0], a2[1])["data"]},
                       ctype="application/merge-patch+json")
    assert status == 200, body
    wait_for("the rotated certificate", lambda: serves(p.port, "a.example.com", a2), timeout=15)
    assert serves(p.port, "b.example.com", b) and p.proc.pid == pid and p.proc.p.poll() is None
    kept.request("GET", "/")
    assert kept.getresponse().status == 200
    assert kept.sock.getpeercert(True) == ssl.PEM_cert_to_DER_cert(a[0])
    kept.close()

    # removal: the Secret gone, a.example.com is no longer served its certificate
    assert api(sim, "DELETE", f"/api/v1/namespaces/{NS}/secrets/cert-a")[0] == 200
    c = wait_refs(sim, "https-a", "False", "InvalidCertificateRef")
    assert c["Programmed"]["status"] == "False" and "does not exist" in c["ResolvedRefs"]["message"]
    wait_for("cert a no longer served", lambda: not serves(p.port, "a.example.com", a2),
             timeout=15)
    assert not os.path.exists(os.path.join(folder, "default_cert-a"))


def test_invalid_certificate_refs_are_reported_on_the_listener(sim, https_gateway, certs):
    """GatewayInvalidTLSConfiguration (a Secret missing, not of type
    kubernetes.io/tls, malformed PEM, an unsupported kind; here also a key that
    does not match) and GatewaySecretMissingReferenceGrant (RefNotPermitted);
    then the missing Secret created resolves its listener."""
    d, p = https_gateway
    a, b = certs["a"], certs["b"]
    create(sim, f"/api/v1/namespaces/{NS}/secrets", secret("opaque", a[0], a[1], kind="Opaque"))
    create(sim, f"/api/v1/namespaces/{NS}/secrets", secret("garbage", "not pem", "not pem"))
    create(sim, f"/api/v1/namespaces/{NS}/secrets", secret("mismatch", a[0], b[1]))
    create(sim, "/api/v1/namespaces/other/secrets", secret("elsewhere", b[0], b[1], "other"))
    kind = dict(ref("x"), kind="ConfigMap")
    cases = {"missing": ([ref("nope")], "InvalidCertificateRef", "does not exist"),
             "opaque": ([ref("opaque")], "InvalidCertificateRef", "kubernetes.io/tls"),
             "garbage": ([ref("garbage")], "InvalidCertificateRef", "not a PEM certificate"),
             "mismatch": ([ref("mismatch")], "InvalidCertificateRef", "does not match"),
             "kind": ([kind], "InvalidCertificateRef", "only core Secrets"),
             "nogrant": ([ref("elsewhere", "other")], "RefNotPermitted", "ReferenceGrant")}
    setup_gateway(sim, [listener(n, 9000 + i, f"{n}.example.com", refs)
                        for i, (n, (refs, _, _)) in enumerate(cases.items())])
    for name, (_, reason, words) in cases.items():
        c = wait_refs(sim, name, "False", reason)
        assert words in c["ResolvedRefs"]["message"], (name, c)
        assert c["Programmed"]["status"] == "False" and c["Programmed"]["reason"] == "Invalid"
    create(sim, f"/api/v1/namespaces/{NS}/secrets", secret("nope", a[0], a[1]))
    wait_refs(sim, "missing", "True", "ResolvedRefs")


def test_routes_file_serves_its_secret_documents(procs, proxy, rundir, echo, certs):
    """--routes FILE: the same Gateway, HTTPRoute and Secret documents (the
    Secret as `kubectl create secret tls --dry-run=client -o yaml` writes it,
    or with stringData), served the same way; a bad edit of the Secret keeps
    the last good routes and certificate (HTTPRouteHTTPSListener)."""
    a, a2 = certs["a"], certs["a2"]
    e = echo("--pod-name", "e")
    path = os.path.join(rundir, "routes.yaml")

    def write(port, cert):
        docs = [{"apiVersion": f"{GW}/v1", "kind": "Gateway",
                 "metadata": {"name": "gw", "namespace": NS},
                 "spec": {"gatewayClassName": "lb", "listeners": [
                     listener("https", port, "a.example.com", [ref("cert-a")])]}},
                {"apiVersion": f"{GW}/v1", "kind": "HTTPRoute",
                 "metadata": {"name": "web", "namespace": NS},
                 "spec": {"parentRefs": [{"name": "gw"}],
                          "rules": [{"backendRefs": [{"name": "svc", "port": 80}]}]}},
                {"apiVersion": "lb.dev/v1alpha1", "kind": "Backends",
                 "metadata": {"name": "svc", "namespace": NS},
                 "spec": {"ports": [{"port": 80, "addresses": [f"127.0.0.1:{e.port}"]}]}},
                cert]
        with open(path + ".tmp", "w") as f:
            f.write("\n---\n".join(json.dumps(d) for d in docs))
        os.chmod(path + ".tmp", 0o600)
        os.rename(path + ".tmp", path)

    write(1, secret("cert-a", a[0], a[1]))
    d = procs([binary("lb-discover"), "--runtime-dir", rundir, "--routes", path,
               "--no-health-check"])
    d.wait_log(r"INFO publishing ")
    p = bus_proxy(proxy, rundir, listen="tls:127.0.0.1:0")
    write(p.port, {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                   "metadata": {"name": "cert-a", "namespace": NS},
                   "stringData": {"tls.crt": a2[0], "tls.key": a2[1]}})
    wait_for("the file's certificate", lambda: serves(p.port, "a.example.com", a2), timeout=15)
    reloads = d.text().count("routes file reloaded")
    write(p.port, secret("cert-a", a[0], certs["b"][1]))      # a key of another certificate
    d.wait_log(r"HTTPS listener certificate not resolved listener=https "
               r"reason=InvalidCertificateRef", timeout=10)
    wait_for("the reload done", lambda: d.text().count("routes file reloaded") > reloads)
    # the Secret's last good pair stays (as lb-proxy keeps a pair whose new files are bad)
    with open(os.path.join(rundir, "gateway-tls", "default_cert-a", "tls.crt")) as f:
        assert f.read() == a2[0]
    assert serves(p.port, "a.example.com", a2)
    assert "others can read it" not in d.text()
