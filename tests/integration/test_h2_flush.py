"""HTTP/2 output is flushed once per loop pass (docs/http2.md, "How frames
leave"): the answers of the streams that finished in one pass leave in one
write, and none waits for another event. Here a client that sends nothing
more after its request (no WINDOW_UPDATE, no PING, no second stream) gets
its answer; a stream's answer is not held for a slower stream's; a lone
PING and SETTINGS are acknowledged (RFC 9113 6.5.3, 6.7)."""
import socket
import ssl
import threading

import pytest

from conftest import SLOW
from support.h2wire import H2Wire, request_fields
from support.rawbackend import RawBackend, ok, serve_each
from hyperframe.frame import PingFrame, SettingsFrame
from test_h2 import cert  # noqa: F401 (the fixture)


def settled(w):
    """Reads up to the ACK of the client's SETTINGS: after it the client has
    sent all it will (H2Wire acknowledged the server's SETTINGS on reading
    them, before the ACK)."""
    w.until(lambda f: isinstance(f, SettingsFrame) and "ACK" in f.flags)


def connect(px, tls, cert):  # noqa: F811
    if not tls:
        return H2Wire(px.port, timeout=10 * SLOW)
    ctx = ssl.create_default_context(cafile=cert[0])
    ctx.set_alpn_protocols(["h2"])
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", px.port)),
                        server_hostname="localhost")
    assert s.selected_alpn_protocol() == "h2"
    return H2Wire(px.port, sock=s, timeout=10 * SLOW)


@pytest.mark.parametrize("tls", [False, True], ids=["h2c", "tls"])
def test_a_lone_request_is_answered_without_another_event(echo, proxy, cert, tls):  # noqa: F811
    """RFC 9113 8.1: a response is sent when it is ready. The client sends
    one request and then nothing (its windows stay as they are): the
    answer comes, HEADERS and DATA to END_STREAM; again on the same quiet
    connection."""
    e = echo("--access-log", "off")
    flags = ("--tls-cert", cert[0], "--tls-key", cert[1]) if tls else ()
    px = proxy([e.addr], *flags)
    w = connect(px, tls, cert)
    settled(w)
    for sid in (1, 3):
        w.headers(sid, request_fields(f"/lone{sid}"))
        status, _, body, _ = w.response(sid, window=False)
        assert status == 200 and f'"path":"/lone{sid}"'.encode() in body, body
    w.close()


def test_an_answer_is_not_held_for_a_slower_stream(proxy):
    """RFC 9113 5: streams are independent. Stream 1's backend holds its
    answer; stream 3's, sent after it, is answered meanwhile; stream 1's
    follows once its backend answers."""
    release = threading.Event()

    def respond(head, headers, body):
        if head.startswith(b"GET /slow"):
            release.wait(30 * SLOW)
            return ok(b"slow")
        return ok(b"fast")
    b = RawBackend(serve_each(respond))
    try:
        px = proxy([b.addr])
        w = H2Wire(px.port, timeout=10 * SLOW)
        settled(w)
        w.headers(1, request_fields("/slow"))
        w.headers(3, request_fields("/fast"))
        status, _, body, _ = w.response(3, window=False)
        assert status == 200 and body == b"fast"
        assert not release.is_set()
        release.set()
        status, _, body, _ = w.response(1, window=False)
        assert status == 200 and body == b"slow"
        w.close()
    finally:
        release.set()
        b.close()


def test_a_lone_ping_and_settings_are_acknowledged(echo, proxy):
    """RFC 9113 6.7: a PING is answered with an ACK of the same payload;
    6.5.3: a SETTINGS with an ACK; each alone on a quiet connection."""
    e = echo("--access-log", "off")
    px = proxy([e.addr])
    w = H2Wire(px.port, timeout=10 * SLOW)
    settled(w)
    w.ping(b"lone-pin")
    f = w.until(lambda f: isinstance(f, PingFrame))[-1]
    assert "ACK" in f.flags and f.opaque_data == b"lone-pin"
    w.send(SettingsFrame(0, settings={SettingsFrame.MAX_FRAME_SIZE: 32768}))
    settled(w)
    w.close()
