"""gRPC through lb-proxy (docs/http2.md, "gRPC"): lb's own answers to a gRPC
request are gRPC statuses (PROTOCOL-HTTP2.md "Trailers-Only", statuscodes.md),
grpc-timeout is the request's deadline and reaches the backend reduced by the
time spent (PROTOCOL-HTTP2.md "Requests": Timeout), and a call that never left
for a backend is retried. A real gRPC client (python3-grpcio) checks the
status codes it sees; hand-made frames (tests/support/h2wire.py) check the
wire."""
import socket
import struct

import pytest

from conftest import SLOW
from support.h2wire import H2Wire, request_fields
from support.rawbackend import RawBackend, serve_each
from hyperframe.frame import DataFrame, HeadersFrame

grpc = pytest.importorskip("grpc", reason="python3-grpcio is needed (make test-deps)")

METHOD = "/lb.test.Echo/Say"


def dead_address():
    """An address nothing listens on (bound, then closed)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"127.0.0.1:{port}"


def frame(message):
    """A gRPC Length-Prefixed-Message (PROTOCOL-HTTP2.md): uncompressed."""
    return b"\x00" + struct.pack(">I", len(message)) + message


def grpc_over_h1(head, headers, body):
    """A gRPC answer as an HTTP/1.1 backend can give it (chunked, grpc-status
    in the trailers): the request's message back, status OK."""
    msg = frame(body[5:])
    return (b"HTTP/1.1 200 OK\r\ncontent-type: application/grpc\r\n"
            b"transfer-encoding: chunked\r\ntrailer: grpc-status\r\n\r\n"
            b"%x\r\n%s\r\n0\r\ngrpc-status: 0\r\n\r\n" % (len(msg), msg))


@pytest.fixture
def grpc_backend():
    backends = []

    def start():
        b = RawBackend(serve_each(grpc_over_h1))
        backends.append(b)
        return b
    yield start
    for b in backends:
        b.close()


def call(px, message=b"hi", timeout=None):
    """One unary call on a fresh channel: (status code, details, answer)."""
    with grpc.insecure_channel(f"127.0.0.1:{px.port}") as ch:
        say = ch.unary_unary(METHOD)
        try:
            return grpc.StatusCode.OK, "", say(message, timeout=timeout or 20 * SLOW)
        except grpc.RpcError as e:
            return e.code(), e.details(), None


GRPC_REQUEST = [("content-type", "application/grpc"), ("te", "trailers")]


def wire_call(px, extra=(), message=b"hi"):
    """A gRPC call by hand: the frames of stream 1 up to its END_STREAM."""
    w = H2Wire(px.port, timeout=20 * SLOW)
    w.headers(1, request_fields(METHOD, "POST", extra=GRPC_REQUEST + list(extra)),
              end_stream=False)
    w.data(1, frame(message), end_stream=True)
    frames = w.until(lambda f: f.stream_id == 1 and "END_STREAM" in f.flags)
    w.close()
    return [f for f in frames if f.stream_id == 1]


def test_no_backend_is_unavailable_as_trailers_only(proxy):
    """PROTOCOL-HTTP2.md Responses, Trailers-Only: lb's 503/502 to a gRPC
    request is HTTP 200 with grpc-status 14 UNAVAILABLE in one HEADERS frame
    that ends the stream; the real client sees UNAVAILABLE."""
    px = proxy([dead_address()], "--retries", "0")
    code, details, _ = call(px)
    assert code == grpc.StatusCode.UNAVAILABLE, (code, details)
    assert details in ("backend failed", "no backends available"), details
    frames = wire_call(px)
    assert len(frames) == 1 and isinstance(frames[0], HeadersFrame), frames
    assert "END_STREAM" in frames[0].flags
    fields = dict(frames[0].fields)
    assert fields[":status"] == "200" and fields["content-type"] == "application/grpc", fields
    assert fields["grpc-status"] == "14", fields
    # the access log tells the failure by the HTTP status it stands for
    px.proc.wait_log(r'request="POST /lb\.test\.Echo/Say" status=50[23]')


def test_http1_answer_is_unchanged(proxy):
    """gRPC needs HTTP/2 (PROTOCOL-HTTP2.md): over HTTP/1.1 the same request
    gets lb's HTTP answer (RFC 9110 15.6), not a gRPC status."""
    px = proxy([dead_address()], "--retries", "0")
    status, headers, body = px.request("POST", METHOD, body=frame(b"hi"),
                                       headers={"Content-Type": "application/grpc"})
    assert status in (502, 503), (status, body)
    assert "grpc-status" not in {k.lower() for k in headers}, headers
    assert b'"error"' in body


def test_rate_limited_is_resource_exhausted(proxy, grpc_backend):
    """statuscodes.md: a rate limit is RESOURCE_EXHAUSTED (8); the call before
    it passes end to end (the backend's trailers carry its grpc-status)."""
    b = grpc_backend()
    px = proxy([b.addr], "--rate-limit", "1/m")
    assert call(px, b"one") == (grpc.StatusCode.OK, "", b"one")
    code, details, _ = call(px, b"two")
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and details == "rate limited", (code,
                                                                                      details)
    assert len(b.requests) == 1


def test_lb_response_timeout_is_deadline_exceeded(proxy, echo):
    """statuscodes.md: lb's own timeout (its 504) is DEADLINE_EXCEEDED (4); the
    client set no deadline, so the status is lb's (its message says so)."""
    e = echo("--access-log", "off", "--delay-ms", "1500")
    px = proxy([e.addr], "--response-timeout", "0.3")
    code, details, _ = call(px)
    assert code == grpc.StatusCode.DEADLINE_EXCEEDED and details == "backend timed out", (
        code, details)


def test_grpc_timeout_is_the_deadline(proxy, echo):
    """PROTOCOL-HTTP2.md Requests, Timeout: grpc-timeout 300m makes lb answer
    DEADLINE_EXCEEDED though its own --response-timeout is a minute; a real
    client's deadline ends its call with the same status."""
    e = echo("--access-log", "off", "--delay-ms", "1500")
    px = proxy([e.addr], "--response-timeout", "60")
    frames = wire_call(px, [("grpc-timeout", "300m")])
    fields = dict(frames[0].fields)
    assert fields.get("grpc-status") == "4", fields
    assert fields.get("grpc-message") == "backend timed out", fields
    code, details, _ = call(px, timeout=0.5)
    assert code == grpc.StatusCode.DEADLINE_EXCEEDED, (code, details)


def test_grpc_timeout_reaches_the_backend_reduced(proxy, grpc_backend):
    """PROTOCOL-HTTP2.md Requests, Timeout: the backend gets a grpc-timeout no
    longer than the client's (what is left of it), in the spec's form; a
    malformed one is ignored (forwarded as it came) and logged."""
    b = grpc_backend()
    px = proxy([b.addr])
    frames = wire_call(px, [("grpc-timeout", "5S")])
    assert dict(frames[-1].fields).get("grpc-status") == "0", frames[-1].fields
    value = b.requests[0][1]["grpc-timeout"][0]
    units = {"H": 3600, "M": 60, "S": 1, "m": 1e-3, "u": 1e-6, "n": 1e-9}
    assert value[:-1].isdigit() and len(value) <= 9 and value[-1] in units, value
    seconds = int(value[:-1]) * units[value[-1]]
    assert 0 < seconds <= 5, value
    assert any(isinstance(f, DataFrame) for f in frames)
    wire_call(px, [("grpc-timeout", "5 S")])
    assert b.requests[1][1]["grpc-timeout"] == ["5 S"]
    px.proc.wait_log(r'WARN malformed grpc-timeout ignored[^\n]*value="5 S"')


def test_call_that_never_left_is_retried(proxy, grpc_backend):
    """gRPC's transparent retry (A6, gRPC retry design): a call no backend
    saw may go to another; lb retries a connect failure, before any byte."""
    b = grpc_backend()
    px = proxy([dead_address(), b.addr], "--retries", "1")
    for i in range(4):
        assert call(px, b"m%d" % i) == (grpc.StatusCode.OK, "", b"m%d" % i)
    assert len(b.requests) == 4


# ---- lb-discover --health-grpc ------------------------------------------------------------------

class HealthServer:
    """A real gRPC server (python3-grpcio) with grpc.health.v1.Health/Check
    written on generic handlers (no generated code): it answers `serving`
    for `service`, NOT_FOUND for any other name, and records the names asked."""

    def __init__(self, service):
        from concurrent import futures
        self.service = service
        self.serving = True
        self.asked = []
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        handler = grpc.method_handlers_generic_handler("grpc.health.v1.Health", {
            "Check": grpc.unary_unary_rpc_method_handler(self.check)})
        self.server.add_generic_rpc_handlers((handler,))
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.addr = f"127.0.0.1:{self.port}"
        self.server.start()

    def check(self, request, context):
        # HealthCheckRequest: field 1 (tag 0x0a), a one-byte length, the name
        name = request[2:2 + request[1]].decode() if request[:1] == b"\x0a" else ""
        self.asked.append(name)
        if name != self.service:
            context.abort(grpc.StatusCode.NOT_FOUND, "unknown service")
        return b"\x08\x01" if self.serving else b"\x08\x02"    # status: SERVING / NOT_SERVING

    def stop(self):
        self.server.stop(0)


def test_health_grpc_marks_a_not_serving_backend_down(discover, rundir):
    """grpc/doc/health-checking.md: lb-discover --health-grpc asks each backend
    grpc.health.v1.Health/Check for --health-grpc-service over h2c; NOT_SERVING
    takes it down with the reason, SERVING brings it back, an unknown service
    (grpc-status 5 NOT_FOUND) keeps it down."""
    from conftest import ctl_json, wait_for
    hs = HealthServer("lb.test.Echo")
    try:
        discover("--static", hs.addr, "--health-grpc", "--health-grpc-service", "lb.test.Echo",
                 "--health-interval", "0.1", "--fall", "2", "--rise", "1",
                 "--health-timeout", "2")

        def state():
            return ctl_json(rundir, "status")["backends"][0]

        wait_for("a check", lambda: hs.asked, timeout=10)
        assert hs.asked[0] == "lb.test.Echo", hs.asked
        assert state()["state"] == "up", state()
        hs.serving = False
        wait_for("down", lambda: state()["state"] == "down", timeout=10)
        assert state()["reason"] == "health check: gRPC NOT_SERVING", state()
        hs.serving = True
        wait_for("up again", lambda: state()["state"] == "up", timeout=10)
        hs.service = "another"
        wait_for("down for NOT_FOUND", lambda: state()["state"] == "down", timeout=10)
        assert state()["reason"] == "health check: gRPC grpc-status 5", state()
    finally:
        hs.stop()
