"""lb-proxy --mode tcp (docs/tcp.md): bytes relayed to a balanced backend,
without HTTP. Real processes on 127.0.0.1: lb-echo backends (HTTP spoken
through the relay) and small Python backends where a test needs to see the
raw bytes (a PROXY v2 header, a FIN, a TLS handshake)."""
import json
import re
import signal
import socket
import ssl
import subprocess
import time

import pytest

from conftest import (SLOW, binary, bus_proxy, ctl, ctl_json, generation, metric, served_by,
                      started_proxy, wait_for)
from support.net import recv_until_close, refused_addr
from support.rawbackend import RawBackend as ScriptedBackend


def tcp_proxy(proxy, backends, *flags):
    return proxy(backends, "--mode", "tcp", *flags)


class RawBackend(ScriptedBackend):
    """A Python TCP backend on 127.0.0.1: handler(conn) runs on a thread per
    connection (wrapped by wrap first, if given); the connections it saw
    are kept, and what the handler raised."""

    def __init__(self, handler, wrap=None):
        self.on_conn, self.wrap, self.seen = handler, wrap, []
        self.errors = []
        ScriptedBackend.__init__(self, lambda conn, _backend: self.serve_one(conn))

    def serve_one(self, c):
        c.settimeout(10 * SLOW)
        try:
            if self.wrap:
                c = self.wrap(c)
            self.seen.append(c)
            self.on_conn(c)
        except Exception as e:  # noqa: BLE001: reported by the test
            self.errors.append(e)
        finally:
            c.close()


@pytest.fixture
def raw_backend():
    started = []

    def start(handler, wrap=None):
        b = RawBackend(handler, wrap)
        started.append(b)
        return b
    yield start
    for b in started:
        b.close()


def connect(px):
    return socket.create_connection(("127.0.0.1", px.port), timeout=10 * SLOW)


def test_relays_an_http_exchange_and_a_large_download(echo, proxy):
    e = echo("--access-log", "off", env={"POD_NAME": "echo-0"})
    px = tcp_proxy(proxy, [e.addr])
    status, headers, body = px.request("POST", "/echo", body=b'{"a": 1}',
                                       headers={"Content-Type": "application/json"})
    assert status == 200 and served_by(headers) == "echo-0"
    # 1 MiB through 32 KiB buffers: back-pressure, nothing lost or reordered
    status, headers, body = px.request("GET", "/bytes/1048576")
    assert status == 200 and len(body) == 1048576
    pattern = b"abcdefghijklmnopqrstuvwxyz" * (1048576 // 26 + 1)
    assert body == pattern[:1048576]
    text = px.admin("/metrics")[1]
    assert f'lb_proxy_tcp_backend_bytes_total{{backend="{e.addr}",direction="out"}}' in text
    assert metric(px, "lb_proxy_tcp_connections_total") == 2
    assert metric(px, 'lb_proxy_tcp_bytes_total{direction="out"}') > 1048576


def test_round_robin_over_three_backends(three_echos, proxy):
    px = tcp_proxy(proxy, [e.addr for e in three_echos], "--access-log", "off")
    seen = [served_by(px.request("GET", "/")[1]) for _ in range(30)]
    assert sorted(seen.count(f"echo-{i}") for i in range(3)) == [10, 10, 10], seen


def test_ip_hash_keeps_a_client_on_one_backend(three_echos, proxy):
    px = tcp_proxy(proxy, [e.addr for e in three_echos], "--balance", "ip-hash")
    seen = {served_by(px.request("GET", "/")[1]) for _ in range(12)}
    assert len(seen) == 1, seen


def test_least_request_counts_open_connections(three_echos, proxy):
    """least-request counts a backend's open connections: with two held open
    on two backends, the third has none and wins every draw of the power of
    two choices it is in (2 in 3), the busy pair tie."""
    px = tcp_proxy(proxy, [e.addr for e in three_echos], "--balance", "least-request",
                   "--access-log", "off")

    def active():
        return {b["address"]: b["active"] for b in px.admin("/info")[1]["backends"]}

    held = [connect(px) for _ in range(2)]
    for s in held:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        s.recv(65536)
    busy = {a for a, n in active().items() if n}
    assert len(busy) == 2, active()
    idle = [i for i, e in enumerate(three_echos) if e.addr not in busy][0]
    got = []
    for _ in range(20):
        got.append(served_by(px.request("GET", "/")[1]))
        wait_for("the connection closed", lambda: sum(active().values()) == 2)
    assert got.count(f"echo-{idle}") >= 6, got
    for s in held:
        s.close()


def test_a_refused_backend_is_retried_elsewhere_and_marked(echo, proxy):
    sock, dead = refused_addr()
    try:
        e = echo("--access-log", "off", env={"POD_NAME": "alive"})
        px = tcp_proxy(proxy, [dead, e.addr], "--retries", "1", "--fail-timeout", "30")
        for _ in range(6):
            status, headers, _ = px.request("GET", "/")
            assert status == 200 and served_by(headers) == "alive"
        # refused once, then skipped for --fail-timeout
        assert metric(px, "lb_proxy_tcp_connect_failures_total") == 1
        assert f'lb_proxy_backend_errors_total{{backend="{dead}"}} 1' in px.admin("/metrics")[1]
        px.proc.wait_log(r"WARN connect to a backend failed .*backend=" + dead)
    finally:
        sock.close()


def test_failed_connects_eject_a_backend(echo, proxy):
    """The breaker hears connects: --eject-gateway failed connects in a row
    eject the backend (with --fail-timeout 0 it is tried again at once)."""
    sock, dead = refused_addr()
    try:
        e = echo("--access-log", "off")
        px = tcp_proxy(proxy, [dead, e.addr], "--fail-timeout", "0", "--eject-gateway", "2",
                       "--eject-max-percent", "50", "--access-log", "off")
        for _ in range(6):
            assert px.request("GET", "/")[0] == 200

        def breaker():
            return [b["breaker"]["state"] for b in px.admin("/info")[1]["backends"]
                    if b["address"] == dead][0]
        assert breaker() == "open"
        assert metric(px, "lb_proxy_tcp_connect_failures_total") == 2
    finally:
        sock.close()


def test_no_backend_left_closes_the_connection(proxy):
    sock, dead = refused_addr()
    try:
        px = tcp_proxy(proxy, [dead], "--retries", "0")
        s = connect(px)
        assert recv_until_close(s, stop_on=(ConnectionResetError,)) == b""
        s.close()
        px.proc.wait_log(r'INFO tcp client=127\.0\.0\.1:\d+ backend=- .*end="connect failed"')
    finally:
        sock.close()


def test_half_close_passes_the_fin_and_the_answer_comes_back(raw_backend, proxy):
    """The client shuts down its sending side: the backend reads EOF, then
    answers on the other direction, which stays open (RFC 9293 3.6)."""
    def count_then_answer(c):
        got = b""
        while True:
            d = c.recv(65536)
            if not d:
                break
            got += d
        c.sendall(b"got %d bytes" % len(got))

    b = raw_backend(count_then_answer)
    px = tcp_proxy(proxy, [b.addr])
    s = connect(px)
    s.sendall(b"x" * 100000)
    s.shutdown(socket.SHUT_WR)
    assert recv_until_close(s) == b"got 100000 bytes"
    s.close()
    px.proc.wait_log(r'INFO tcp .*bytes_in=100000 bytes_out=16 .*end="done"')
    assert not b.errors


def test_idle_timeout_closes_a_silent_connection(raw_backend, proxy):
    b = raw_backend(recv_until_close)     # holds the connection until the proxy lets go
    px = tcp_proxy(proxy, [b.addr], "--idle-timeout", "0.5")
    s = connect(px)
    s.sendall(b"a")     # one byte moves, then nothing
    start = time.time()
    assert recv_until_close(s, stop_on=(ConnectionResetError,)) == b""
    waited = time.time() - start
    assert waited >= 0.4, waited
    px.proc.wait_log(r'INFO tcp .*end="idle timeout"')


def test_proxy_v2_header_names_the_client(raw_backend, proxy):
    """PROXY protocol v2 (proxy-protocol.txt 2.2): the backend reads the
    signature, PROXY over TCP/IPv4, then the client's and the listener's
    addresses and ports, before the client's first byte."""
    headers = []

    def read_header(c):
        h = b""
        while len(h) < 28 + 5:
            d = c.recv(64)
            if not d:
                break
            h += d
        headers.append(h)
        c.sendall(b"ok")

    b = raw_backend(read_header)
    px = tcp_proxy(proxy, [b.addr], "--send-proxy-v2")
    s = connect(px)
    s.sendall(b"hello")
    assert recv_until_close(s) == b"ok"
    client_port = s.getsockname()[1]
    s.close()
    h = headers[0]
    assert h[:12] == b"\r\n\r\n\x00\r\nQUIT\n"
    assert h[12:16] == b"\x21\x11\x00\x0c"
    assert h[16:20] == socket.inet_aton("127.0.0.1") and h[20:24] == socket.inet_aton("127.0.0.1")
    assert int.from_bytes(h[24:26], "big") == client_port
    assert int.from_bytes(h[26:28], "big") == px.port
    assert h[28:] == b"hello"


@pytest.fixture(scope="module")
def backend_cert(tmp_path_factory):
    d = tmp_path_factory.mktemp("tcp-tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=db.example.test",
                    "-addext", "subjectAltName=DNS:db.example.test", "-days", "2",
                    "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem")],
                   check=True, capture_output=True, timeout=60)
    return str(d / "cert.pem"), str(d / "key.pem")


def tls_backend(raw_backend, backend_cert):
    """A TLS server (Python's ssl) that answers "hello NAME" with the SNI it
    received: the handshake went through the proxy untouched."""
    names = []
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*backend_cert)
    ctx.sni_callback = lambda sock, name, _ctx: names.append(name)

    def answer(c):
        c.recv(100)
        c.sendall(b"hello " + (names[-1] or "-").encode())
    return raw_backend(answer, wrap=lambda c: ctx.wrap_socket(c, server_side=True)), names


def test_sni_is_read_and_the_tls_handshake_passes_through(raw_backend, backend_cert, proxy):
    """RFC 6066 3 (server_name) read from the ClientHello (RFC 8446 4.1.2)
    without terminating TLS: the client verifies the backend's own
    certificate end to end."""
    b, names = tls_backend(raw_backend, backend_cert)
    px = tcp_proxy(proxy, [b.addr], "--tcp-inspect-sni")
    ctx = ssl.create_default_context(cafile=backend_cert[0])
    with ctx.wrap_socket(connect(px), server_hostname="db.example.test") as s:
        s.sendall(b"hi")
        assert s.recv(100) == b"hello db.example.test"
    px.proc.wait_log(r'INFO tcp .*sni=db\.example\.test sni_result=found ')
    assert metric(px, 'lb_proxy_tcp_sni_total{result="found"}') == 1
    # openssl s_client: another TLS stack's hello
    r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{px.port}", "-servername",
                        "DB.Example.Test", "-CAfile", backend_cert[0], "-verify_return_error",
                        "-quiet"], input=b"hi", capture_output=True, timeout=30 * SLOW)
    assert b"hello DB.Example.Test" in r.stdout, r.stderr
    wait_for("two connection lines naming the server",
             lambda: len(re.findall(r"INFO tcp .*sni=db\.example\.test sni_result=found ",
                                    px.proc.text())) == 2)


def test_inspect_sni_waits_at_most_the_header_timeout(raw_backend, proxy):
    """A protocol where the server speaks first (SMTP's banner): the client
    sends nothing, and after --header-timeout it is relayed without a name."""
    b = raw_backend(lambda c: (c.sendall(b"220 ready\r\n"), c.recv(10)))
    px = tcp_proxy(proxy, [b.addr], "--tcp-inspect-sni", "--header-timeout", "0.5")
    s = connect(px)
    start = time.time()
    assert s.recv(100) == b"220 ready\r\n"
    assert time.time() - start >= 0.4
    s.close()
    px.proc.wait_log(r'INFO tcp .*sni=- sni_result=timeout ')
    # plain text is told apart from its first byte: no wait
    start = time.time()
    status, _, _ = proxy_request_plain(px)
    assert status == b"220"
    assert time.time() - start < 0.4 * SLOW
    px.proc.wait_log(r'INFO tcp .*sni_result=not-tls ')


def proxy_request_plain(px):
    s = connect(px)
    s.sendall(b"EHLO x\r\n")
    line = s.recv(100)
    s.close()
    return line[:3], None, None


def test_sigterm_drains_open_connections(echo, proxy):
    e = echo("--access-log", "off", "--delay-ms", "800")
    px = tcp_proxy(proxy, [e.addr], "--drain-timeout", "10")
    s = connect(px)
    s.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    wait_for("the connection on a backend",
             lambda: px.admin("/info")[1]["backends"][0]["active"] == 1)
    px.proc.p.send_signal(signal.SIGTERM)
    px.proc.wait_log(r"INFO draining connections=1")
    # no new connection is taken
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", px.port), timeout=2).recv(1)
    got = recv_until_close(s)
    assert got.startswith(b"HTTP/1.1 200 "), got[:100]
    assert px.proc.p.wait(10 * SLOW) == 0


def test_max_connections_pauses_accepting(raw_backend, proxy):
    b = raw_backend(lambda c: c.sendall(b"hi") or c.recv(10))
    px = tcp_proxy(proxy, [b.addr], "--max-connections", "1")
    first = connect(px)
    assert first.recv(2) == b"hi"
    px.proc.wait_log(r"WARN at --max-connections: accepting paused connections=1")
    second = connect(px)       # in the kernel's backlog meanwhile
    second.settimeout(0.5)
    with pytest.raises(socket.timeout):
        second.recv(2)
    first.close()
    second.settimeout(10 * SLOW)
    assert second.recv(2) == b"hi"
    second.close()


def test_drain_on_the_bus_takes_no_new_connections(three_echos, discover, proxy, rundir):
    """lb-ctl drain (HAProxy's drain): connections already on the backend
    stay, new ones go elsewhere; lb-discover hears the proxy's connections
    as requests and its failed connects as errors."""
    echos = three_echos
    discover("--static", ",".join(e.addr for e in echos[:2]), "--heartbeat", "0.2")
    px = bus_proxy(proxy, rundir, "--mode", "tcp", "--report-interval", "0.05")
    wait_for("set", lambda: generation(px) >= 1)
    held = connect(px)
    held.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    held.recv(65536)
    code, out, err = ctl(rundir, "drain", echos[1].addr)
    assert code == 0, err
    wait_for("drain applied", lambda: generation(px) >= 2)
    seen = [served_by(px.request("GET", "/")[1]) for _ in range(8)]
    assert seen == ["echo-0"] * 8, seen
    held.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # the old connection still works
    assert held.recv(65536).startswith(b"HTTP/1.1 200 ")
    held.close()
    wait_for("reports", lambda: sum(b["requests"] for b in ctl_json(rundir, "status")["backends"])
             >= 9)


def test_refuses_http_only_flags(procs):
    p = procs([binary("lb-proxy"), "--mode", "tcp", "--backends", "127.0.0.1:1",
               "--monitor-uri", "/health", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"])
    assert p.p.wait(10 * SLOW) == 2
    p.expect_exit = 2
    assert "--monitor-uri is for HTTP: --mode tcp relays bytes" in p.text()
    p = procs([binary("lb-proxy"), "--send-proxy-v2", "--backends", "127.0.0.1:1",
               "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"])
    assert p.p.wait(10 * SLOW) == 2
    p.expect_exit = 2
    assert "--send-proxy-v2 works in --mode tcp only" in p.text()


def test_sighup_applies_tcp_settings_to_new_connections(raw_backend, procs, tmp_path):
    """A reload (SIGHUP) reaches TCP mode: --idle-timeout and --send-proxy-v2
    change for new connections; --mode stays what it was."""
    heads = []
    b = raw_backend(lambda c: (heads.append(c.recv(4)), recv_until_close(c)))
    cfg = tmp_path / "proxy.json"
    cfg.write_text(json.dumps({"listen": "127.0.0.1:0", "backends": b.addr, "mode": "tcp",
                               "idleTimeout": 60}))
    px = started_proxy(procs([binary("lb-proxy"), "--config", str(cfg), "--admin", "127.0.0.1:0"]))
    s = connect(px)
    s.sendall(b"abcd")
    wait_for("the first connection relayed", lambda: heads)
    s.settimeout(1.0)
    with pytest.raises(socket.timeout):
        s.recv(1)                       # 60 s: still open after one
    cfg.write_text(json.dumps({"listen": "127.0.0.1:0", "backends": b.addr, "mode": "http",
                               "idleTimeout": 0.3, "sendProxyV2": True}))
    px.proc.p.send_signal(signal.SIGHUP)
    line = px.proc.wait_log(r"INFO reloaded [^\n]*").group(0)
    assert re.search(r"changed=[^ ]*idleTimeout", line), line
    assert "mode" in px.proc.wait_log(r"WARN reload: settings that cannot change[^\n]*").group(0)
    s2 = connect(px)
    s2.sendall(b"abcd")
    assert recv_until_close(s2, stop_on=(ConnectionResetError,)) == b""     # 0.3 s idle
    assert heads[1] == b"\r\n\r\n"      # the PROXY v2 signature's first bytes
    s.close()
    s2.close()
