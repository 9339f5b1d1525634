"""HTTP/2 to backends and gRPC through lb (docs/http2.md#http2-to-backends):
a real gRPC client (python3-grpcio) through lb-proxy --backend-protocol h2c
to real gRPC servers (tests/support/grpc_backend.py, started once for the
module), and a hand-made HTTP/2 backend (python3-h2) for GOAWAY. Each case
names the RFC 9113 section or the gRPC rule it checks."""
import collections
import os
import sys
import threading
from concurrent import futures

import pytest

from conftest import SLOW, Proc, metric, raw_exchange, wait_for
from support.rawbackend import RawBackend
from test_h2 import cert  # noqa: F401 (a fixture)

grpc = pytest.importorskip("grpc", reason="python3-grpcio is needed (make test-deps)")
import h2.config  # noqa: E402
import h2.connection  # noqa: E402
import h2.events  # noqa: E402
import h2.settings  # noqa: E402

BACKEND = os.path.join(os.path.dirname(__file__), "..", "support", "grpc_backend.py")
DEADLINE = 10 * SLOW


def launch_backend(name, *flags):
    return Proc([sys.executable, BACKEND, "--name", name, *flags])


def backend_ready(p):
    m = p.wait_log(r"listening port=(\d+)", timeout=20)
    p.addr = f"127.0.0.1:{m.group(1)}"
    return p


def start_backend(name, *flags):
    return backend_ready(launch_backend(name, *flags))


@pytest.fixture(scope="module")
def backends():
    """Three gRPC servers (g0, g1, g2) and a slow one (slow: 20 ms a call)."""
    started = []
    try:
        for name, flags in (("g0", ()), ("g1", ()), ("g2", ()), ("slow", ("--delay-ms", "20"))):
            started.append(launch_backend(name, *flags))     # they start side by side
        yield {p.argv[3]: backend_ready(p) for p in started}
    finally:
        for p in started:
            assert p.stop() == 0, p.text()[-2000:]
            p.log.close()
            os.unlink(p.log_path)


def channel(px):
    return grpc.insecure_channel(f"127.0.0.1:{px.port}")


def served_by(call):
    return dict(call.trailing_metadata()).get("x-served-by")


def echo_all(ch, n):
    """n unary calls on one channel, one at a time: the backends that served them."""
    echo = ch.unary_unary("/lb.Test/Echo")
    return collections.Counter(served_by(echo.with_call(b"x", timeout=DEADLINE)[1])
                               for _ in range(n))


def grpc_proxy(proxy, backends, names, *flags):
    return proxy([backends[n].addr for n in names], "--backend-protocol", "h2c", *flags)


def test_unary_with_trailers_each_call_balanced(proxy, backends):
    """RFC 9113 8.1: the response's trailers (grpc-status, the server's
    trailing metadata) come back as a trailing HEADERS; one channel's calls
    go round the three backends (a stream is balanced on its own)."""
    px = grpc_proxy(proxy, backends, ("g0", "g1", "g2"))
    with channel(px) as ch:
        reply, call = ch.unary_unary("/lb.Test/Echo").with_call(b"hello", timeout=DEADLINE)
        assert reply.endswith(b":hello") and call.code() == grpc.StatusCode.OK
        assert served_by(call) in ("g0", "g1", "g2")
        assert set(echo_all(ch, 6)) == {"g0", "g1", "g2"}
    line = px.proc.wait_log(r"INFO request [^\n]*request=\"POST /lb.Test/Echo\"[^\n]*proto=h2")
    assert "status=200" in line.group(0)
    assert metric(px, "lb_proxy_upstream_h2_connections_total") == 3


def test_server_streaming(proxy, backends):
    """A server-streaming call: its messages as DATA, then the trailers."""
    px = grpc_proxy(proxy, backends, ("g0",))
    with channel(px) as ch:
        got = list(ch.unary_stream("/lb.Test/Count")(b"5", timeout=DEADLINE))
    assert got == [f"g0:{i}".encode() for i in range(5)]


def test_error_status_and_message_pass(proxy, backends):
    """A trailers-only response (gRPC over HTTP/2: HEADERS with END_STREAM,
    grpc-status and grpc-message in it) reaches the client as the status."""
    px = grpc_proxy(proxy, backends, ("g0",))
    with channel(px) as ch:
        with pytest.raises(grpc.RpcError) as e:
            ch.unary_unary("/lb.Test/Fail")(b"", timeout=DEADLINE)
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    assert e.value.details() == "no such thing"


def test_deadline_cancels_the_backend_stream(proxy, backends):
    """A call past its deadline: the client resets its stream (RFC 9113
    8.1, CANCEL), lb resets the backend's; the connection serves on."""
    px = grpc_proxy(proxy, backends, ("g0",))
    with channel(px) as ch:
        with pytest.raises(grpc.RpcError) as e:
            ch.unary_unary("/lb.Test/Sleep")(b"3000", timeout=0.3 * SLOW)
        assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        wait_for("the stream given back", lambda: px.admin("/info")[1]["backends"][0]
                 .get("active", 0) == 0)
        assert echo_all(ch, 2) == {"g0": 2}
    assert metric(px, "lb_proxy_upstream_h2_connections_total") == 1


def test_one_mib_message_both_ways(proxy, backends):
    """RFC 9113 6.9: a 1 MiB request and response pass the flow-control
    windows (the stream's opens as lb's session reads)."""
    px = grpc_proxy(proxy, backends, ("g1",))
    body = bytes(range(256)) * 4096
    with channel(px) as ch:
        reply = ch.unary_unary("/lb.Test/Size")(body, timeout=DEADLINE)
    assert reply == b"1048576\n" + body


def test_h1_client_gets_the_trailers_chunked(proxy, backends):
    """RFC 9113 8.1 and RFC 9112 7.1.2: an HTTP/1.1 client of an h2c
    backend gets the body chunked and the trailers in the chunked trailer
    section."""
    px = grpc_proxy(proxy, backends, ("g2",))
    msg = b"\x00" + (2).to_bytes(4, "big") + b"hi"
    req = (b"POST /lb.Test/Echo HTTP/1.1\r\nHost: x\r\ncontent-type: application/grpc\r\n"
           b"te: trailers\r\nconnection: close\r\ncontent-length: 7\r\n\r\n" + msg)
    data, closed = raw_exchange(px.port, req)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"transfer-encoding: chunked" in head.lower()
    assert b"g2:hi" in body
    assert body.endswith(b"\r\n0\r\ngrpc-status: 0\r\nx-served-by: g2\r\n\r\n") or \
        (b"0\r\n" in body and b"grpc-status: 0\r\n" in body.split(b"\r\n0\r\n")[-1]), body


def test_thousand_calls_on_one_channel_spread_evenly(proxy, backends):
    """The gRPC balancing problem: 1,000 unary calls on one channel (one
    HTTP/2 connection to lb) are spread over three backends, each 33% +- 3
    points. Round-robin picks per stream: the counts are 334/333/333 unless
    a call fails, so the bound cannot fail by chance (false-failure
    probability 0; the 10,000-call version with --balance random is
    tests/bench/bench_grpc.py, where the bound is 6.4 standard deviations)."""
    px = grpc_proxy(proxy, backends, ("g0", "g1", "g2"))
    with channel(px) as ch:
        counts = echo_all(ch, 1000)
    assert set(counts) == {"g0", "g1", "g2"}, counts
    for name, n in counts.items():
        assert abs(n / 1000 - 1 / 3) <= 0.03, counts


def test_least_request_sends_the_slow_backend_less(proxy, backends):
    """--balance least-request over two fast backends and a slow one (20 ms
    a call), 16 calls in flight on one channel: the slow one, whose calls
    stay in flight longer, is picked less than either fast one."""
    px = grpc_proxy(proxy, backends, ("g0", "g1", "slow"), "--balance", "least-request")
    with channel(px) as ch:
        echo = ch.unary_unary("/lb.Test/Echo")

        def one(_):
            return served_by(echo.with_call(b"x", timeout=DEADLINE)[1])
        with futures.ThreadPoolExecutor(16) as pool:
            counts = collections.Counter(pool.map(one, range(600)))
    assert sum(counts.values()) == 600
    assert counts["slow"] < counts["g0"] and counts["slow"] < counts["g1"], counts
    assert counts["slow"] < 600 * 0.25, counts


def test_max_concurrent_streams_opens_more_connections(proxy, procs):
    """RFC 9113 5.1.2: a backend that allows one stream at a time
    (SETTINGS_MAX_CONCURRENT_STREAMS 1) gets a connection per call in
    flight: three slow calls at once all succeed, on three connections."""
    one = start_backend("one", "--max-streams", "1")
    try:
        px = proxy([one.addr], "--backend-protocol", "h2c")
        with channel(px) as ch:
            sleep = ch.unary_unary("/lb.Test/Sleep")
            assert sleep(b"1", timeout=DEADLINE) == b"slept"     # its SETTINGS are known
            with futures.ThreadPoolExecutor(3) as pool:
                got = list(pool.map(lambda _: sleep(b"300", timeout=DEADLINE), range(3)))
        assert got == [b"slept"] * 3
        assert metric(px, "lb_proxy_upstream_h2_connections_total") >= 3
    finally:
        assert one.stop() == 0
        one.log.close()
        os.unlink(one.log_path)


class GoawayBackend(RawBackend):
    """An h2c backend by hand (python3-h2): on its first connection it
    answers stream 1, then answers the next stream with GOAWAY naming
    stream 1 as the last it processed; later connections answer every
    stream. Counts the requests it answered."""

    def __init__(self):
        self.answered = 0
        RawBackend.__init__(self, lambda conn, _backend: self.serve_one(conn))

    def serve_one(self, c):
        # the second connection opens only after this one's GOAWAY
        goaway_after_one = self.connections == 1
        h = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        h.initiate_connection()
        c.sendall(h.data_to_send())
        try:
            while True:
                data = c.recv(65536)
                if not data:
                    return
                for ev in h.receive_data(data):
                    if isinstance(ev, h2.events.StreamEnded):
                        if goaway_after_one and ev.stream_id > 1:
                            h.close_connection(last_stream_id=1)
                        else:
                            h.send_headers(ev.stream_id, [(":status", "200"),
                                                          ("content-length", "2")])
                            h.send_data(ev.stream_id, b"ok", end_stream=True)
                            self.answered += 1
                c.sendall(h.data_to_send())
        except OSError:
            return
        finally:
            c.close()


def test_goaway_drains_and_refused_streams_are_retried(proxy):
    """RFC 9113 6.8: a GOAWAY drains its connection (new streams go to a
    new one) and the streams above its last stream id were not processed:
    lb retries them, a POST too (RFC 9113 8.7: safe to retry)."""
    be = GoawayBackend()
    try:
        px = proxy([be.addr], "--backend-protocol", "h2c")
        assert px.request("POST", "/a", body=b"1")[0] == 200       # stream 1
        status, _, body = px.request("POST", "/b", body=b"2")      # stream 3: GOAWAY
        assert (status, body) == (200, b"ok")
        assert be.answered == 2 and be.connections == 2
        assert metric(px, "lb_proxy_upstream_h2_goaways_received_total") == 1
        assert metric(px, "lb_proxy_upstream_h2_refused_streams_total") == 1
        assert px.request("GET", "/c")[0] == 200
        assert be.connections == 2
    finally:
        be.close()


def test_h2_over_backend_tls_by_alpn(proxy, echo, cert):
    """RFC 9113 3.2: --backend-protocol h2 is HTTP/2 over --backend-tls, h2
    chosen by ALPN. The backend here is a second lb-proxy on a TLS listener
    (it offers h2 by ALPN) in front of lb-echo; an HTTP/1.1 client's requests
    share one connection to it."""
    e = echo("--access-log", "off")
    tls_backend = proxy([e.addr], "--tls-cert", cert[0], "--tls-key", cert[1])
    px = proxy([tls_backend.addr], "--backend-protocol", "h2", "--backend-tls",
               "--backend-ca", cert[0])
    for path in ("/a", "/b", "/c"):
        status, _, body = px.request("GET", path)
        assert status == 200 and f'"path":"{path}"'.encode() in body
    assert metric(px, "lb_proxy_upstream_h2_connections_total") == 1
    tls_backend.proc.wait_log(r'request="GET /c" status=200[^\n]*tls="1\.[23]" proto=h2 stream=5')


def test_h2_needs_backend_tls_and_h2c_refuses_it(procs):
    """The start-up check names the fix."""
    from conftest import binary
    p = procs([binary("lb-proxy"), "--listen", "127.0.0.1:0", "--backends", "127.0.0.1:1",
               "--backend-protocol", "h2"])
    assert p.p.wait(10 * SLOW) != 0
    p.expect_exit = p.p.returncode
    assert "add --backend-tls" in p.text()


class DyingBackend(RawBackend):
    """An h2c backend by hand that allows one stream per connection
    (SETTINGS_MAX_CONCURRENT_STREAMS 1): /hold is answered once `release`
    is set, the first /die closes its connection without a word, the rest
    get 200 "ok"."""

    def __init__(self):
        self.holding = threading.Event()
        self.release = threading.Event()
        self.died = False
        RawBackend.__init__(self, lambda conn, _backend: self.serve_one(conn))

    def serve_one(self, c):
        h = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        h.initiate_connection()
        h.update_settings({h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 1})
        c.sendall(h.data_to_send())
        paths = {}
        try:
            while True:
                data = c.recv(65536)
                if not data:
                    return
                for ev in h.receive_data(data):
                    if isinstance(ev, h2.events.RequestReceived):
                        paths[ev.stream_id] = dict(ev.headers)[b":path"]
                    if not isinstance(ev, h2.events.StreamEnded):
                        continue
                    path = paths.get(ev.stream_id)
                    if path == b"/die" and not self.died:
                        self.died = True
                        return          # closed: the finally below
                    if path == b"/hold":
                        self.holding.set()
                        self.release.wait(20)
                    h.send_headers(ev.stream_id, [(":status", "200"), ("content-length", "2")])
                    h.send_data(ev.stream_id, b"ok", end_stream=True)
                c.sendall(h.data_to_send())
        except OSError:
            return
        finally:
            c.close()

    def close(self):
        self.release.set()
        RawBackend.close(self)


def test_a_connection_that_fails_fails_only_its_own_streams(proxy):
    """RFC 9113 5.4.1: a connection error ends that connection's streams
    only. A backend allowing one stream per connection: a request held on
    one connection, another whose connection the backend closes: that one
    is retried (an idempotent GET, --retry-on reset) on a new connection;
    the held one is answered on its own, untouched."""
    be = DyingBackend()
    try:
        px = proxy([be.addr], "--backend-protocol", "h2c")
        # its SETTINGS known first (until then a connection takes 100 streams,
        # RFC 9113 6.5.2, and this backend's threads would not answer a second)
        assert px.request("GET", "/warm")[0] == 200
        held = {}
        t = threading.Thread(target=lambda: held.update(r=px.request("GET", "/hold")))
        t.start()
        assert be.holding.wait(10 * SLOW)
        status, _, body = px.request("GET", "/die")
        assert (status, body) == (200, b"ok") and be.died
        be.release.set()
        t.join(10 * SLOW)
        assert held["r"][0] == 200 and held["r"][2] == b"ok"
        assert be.connections == 3          # /hold's, /die's that failed, its retry's
        px.proc.wait_log(r"WARN backend failed [^\n]*retry=yes")
    finally:
        be.close()
