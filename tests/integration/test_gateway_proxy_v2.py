"""PROXY protocol v2 (HAProxy's proxy-protocol.txt, section 2.2) towards the
backends of a Gateway's TLS and TCP listeners: a Service annotated
`lb.dev/proxy-protocol: v2` (a Backends document in a routes file, a Service
in the cluster) gets the header first on every relayed connection, naming
the client; a Service without it gets the client's bytes only. The backends
here parse the header as HAProxy's reader does, then speak TLS (the
TLSRoute's, the SNI read by the proxy) or answer (the TCPRoute's)."""
import socket
import ssl

from conftest import SLOW, bus_proxy, wait_for
from support.k8ssim import api
from support.rawbackend import RawBackend
from test_gateway_tcp import (CONTROLLER, GW, backends, cert, create, file_gateway,  # noqa: F401
                              gateway, ref, stream_route, tls_get, tls_listener)

SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def read_exactly(c, n):
    data = b""
    while len(data) < n:
        chunk = c.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def read_proxy_v2(c):
    """The PROXY v2 header at the start of c (2.2: signature, version and
    command, family and transport, length, addresses), read off it, as
    (client ip, client port, destination port); None, nothing read, when
    the stream does not start with one (peeked at: the bytes stay)."""
    peek = b""
    while len(peek) < len(SIGNATURE) and SIGNATURE.startswith(peek):
        got = c.recv(len(SIGNATURE), socket.MSG_PEEK)
        if len(got) == len(peek):
            return None      # closed before 12 bytes
        peek = got
    if peek != SIGNATURE:
        return None
    head = read_exactly(c, 16)
    assert head[12] == 0x21, head       # version 2, PROXY
    assert head[13] == 0x11, head       # TCP over IPv4
    body = read_exactly(c, int.from_bytes(head[14:16], "big"))
    return (socket.inet_ntoa(body[0:4]), int.from_bytes(body[8:10], "big"),
            int.from_bytes(body[10:12], "big"))


class Backend(RawBackend):
    """A backend that records the PROXY header of each connection (None:
    none came) and then speaks TLS (answering "NAME SNI CLIENT_PORT") or,
    without cert, answers "NAME CLIENT_PORT" to the first bytes."""

    def __init__(self, name, cert=None):
        self.name, self.headers = name, []
        self.ctx = None
        if cert:
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.load_cert_chain(*cert)
            self.ctx.sni_callback = lambda sock, sni, _ctx: setattr(sock, "lb_sni", sni)
        RawBackend.__init__(self, lambda conn, _backend: self.serve_one(conn))

    def serve_one(self, c):
        c.settimeout(10 * SLOW)
        try:
            header = read_proxy_v2(c)
            self.headers.append(header)
            port = header[1] if header else "-"
            if self.ctx:
                with self.ctx.wrap_socket(c, server_side=True) as s:
                    s.recv(100)
                    s.sendall(("%s %s %s" % (self.name, getattr(s, "lb_sni", None) or "-",
                                             port)).encode())
            else:
                c.recv(100)
                c.sendall(("%s %s" % (self.name, port)).encode())
                c.close()
        except (OSError, ssl.SSLError):
            pass


def annotated(doc):
    doc["metadata"]["annotations"] = {"lb.dev/proxy-protocol": "v2"}
    return doc


def tls_client(port, sni, cert):
    """(the backend's answer, the client's own port) through the proxy."""
    ctx = ssl.create_default_context(cafile=cert[0])
    with socket.create_connection(("127.0.0.1", port), timeout=10 * SLOW) as raw:
        with ctx.wrap_socket(raw, server_hostname=sni) as s:
            s.sendall(b"hi")
            return s.recv(100).decode(), s.getsockname()[1]


def test_tlsroute_backend_gets_proxy_v2_header_per_service(file_gateway, cert):  # noqa: F811
    """TLS Passthrough: the proxy reads the ClientHello's SNI (RFC 6066 3),
    routes by it, and the annotated Service's backend reads a PROXY v2
    header naming the client (its address and port; the listener's port as
    the destination) before the client's handshake, which then completes
    end to end with the backend's certificate; a Service without the
    annotation on the same listener gets no header."""
    a, b = Backend("a", cert), Backend("b", cert)
    g = file_gateway([gateway([tls_listener(1)]),
                      stream_route("TLSRoute", "with-pp2", [ref("svc-a")],
                                   hostnames=["abc.example.com"]),
                      stream_route("TLSRoute", "without", [ref("svc-b")],
                                   hostnames=["xyz.example.com"]),
                      annotated(backends("svc-a", [a.addr])), backends("svc-b", [b.addr])])
    answer, client_port = tls_client(g.port, "abc.example.com", cert)
    assert answer == "a abc.example.com %d" % client_port
    assert a.headers == [("127.0.0.1", client_port, g.port)]
    assert tls_get(g.port, "xyz.example.com", cert) == "b xyz.example.com -"
    assert b.headers == [None]


def test_tcproute_backend_gets_proxy_v2_header(file_gateway):  # noqa: F811
    """TCP listener: the TCPRoute's annotated Service gets the header first,
    then the client's bytes; a value other than "v2" is refused with the
    file's line and the field, and the last good routes stay served."""
    a = Backend("a")
    docs = [gateway([{"name": "tcp", "port": 1, "protocol": "TCP"}]),
            stream_route("TCPRoute", "db", [ref("svc-a", port=5432)]),
            annotated(backends("svc-a", [a.addr], 5432))]
    g = file_gateway(docs)
    with socket.create_connection(("127.0.0.1", g.port), timeout=10 * SLOW) as s:
        s.sendall(b"hello")
        answer = read_exactly(s, 100).decode()
        client_port = s.getsockname()[1]
    assert answer == "a %d" % client_port
    assert a.headers == [("127.0.0.1", client_port, g.port)]
    docs[-1]["metadata"]["annotations"]["lb.dev/proxy-protocol"] = "v1"
    g.write(docs)
    g.discover.wait_log(r"routes file: bad edit ignored.*"
                        r"metadata\.annotations\[lb\.dev/proxy-protocol\]: the one value is "
                        r"\\?\"v2")
    with socket.create_connection(("127.0.0.1", g.port), timeout=10 * SLOW) as s:
        s.sendall(b"hello")
        assert read_exactly(s, 100).decode().startswith("a %d" % s.getsockname()[1])


def test_cluster_service_annotation(sim, discover, proxy, rundir):
    """From the cluster (--gateway, against the API simulator): the
    annotation on the Service (kubectl annotate) turns the header on for a
    TCPRoute's backends, for new connections; another value is warned about
    and sends none."""
    b = Backend("a")
    host, port = b.addr.split(":")
    sim.set_service("default", "db", ready=[host], port=int(port), service_port=5432)
    d = discover("--gateway", "default/gw", "--api-server", sim.url, "--no-health-check")
    p = bus_proxy(proxy, rundir)
    create(sim, f"/apis/{GW}/v1/gatewayclasses", {
        "apiVersion": f"{GW}/v1", "kind": "GatewayClass", "metadata": {"name": "lb"},
        "spec": {"controllerName": CONTROLLER}})
    create(sim, f"/apis/{GW}/v1/namespaces/default/gateways",
           gateway([{"name": "tcp", "port": p.port, "protocol": "TCP"}]))
    create(sim, f"/apis/{GW}/v1alpha2/namespaces/default/tcproutes",
           stream_route("TCPRoute", "db", [ref("db", port=5432)]))
    path = "/api/v1/namespaces/default/services/db"

    def annotate(value):
        svc = api(sim, "GET", path)[1]
        annotations = svc["metadata"].setdefault("annotations", {})
        if value:
            annotations["lb.dev/proxy-protocol"] = value
        else:
            annotations.pop("lb.dev/proxy-protocol", None)
        status, body = api(sim, "PUT", path, svc)
        assert status == 200, body

    def one():
        with socket.create_connection(("127.0.0.1", p.port), timeout=10 * SLOW) as s:
            s.sendall(b"hello")
            return read_exactly(s, 100).decode(), s.getsockname()[1]

    routes = lambda: p.admin("/info")[1]["routes"]  # noqa: E731
    wait_for("the proxy to relay the TCP listener's port", lambda: routes().get("rules") == 1,
             timeout=10)
    # the route table and the routed Service's set travel apart: a connection
    # before the set is applied finds no backend (reset)
    wait_for("the routed service's set", lambda: routes()["services"] and all(
        s["generation"] for s in routes()["services"]), timeout=10)
    assert one()[0] == "a -"
    annotate("v2")
    answer, client_port = wait_for("the header to reach the backend", lambda: (
        lambda r: r[0] != "a -" and r)(one()), timeout=10)
    assert answer == "a %d" % client_port
    assert b.headers[-1] == ("127.0.0.1", client_port, p.port)
    annotate("v1")      # not a value lb knows: warned, and no header
    d.wait_log(r'WARN service annotation ignored: lb\.dev/proxy-protocol takes "v2" only .*'
               r'service=default/db ')
    assert wait_for("no header with a value lb does not know", lambda: (
        lambda r: r[0] == "a -" and r)(one()), timeout=10)
    assert b.headers[-1] is None
    annotate(None)
    d.wait_log(r"routes changed generation=\d+(?s:.*)routes changed generation=\d+"
               r"(?s:.*)routes changed generation=\d+")
    assert one()[0] == "a -"
