"""HTTP/2 frames by hand for the proxy's tests (python3-h2's hyperframe and
hpack, not its state machine): a client that may send what a correct one
never does (the attacks, the RFC 9113 violations) and reads every frame the
server sends back."""
import socket
import time

import hpack
from hyperframe.frame import (ContinuationFrame, DataFrame, Frame, GoAwayFrame, HeadersFrame,
                              PingFrame, RstStreamFrame, SettingsFrame, WindowUpdateFrame)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# RFC 9113 7: error codes
NO_ERROR = 0x0
PROTOCOL_ERROR = 0x1
INTERNAL_ERROR = 0x2
FLOW_CONTROL_ERROR = 0x3
FRAME_SIZE_ERROR = 0x6
REFUSED_STREAM = 0x7
CANCEL = 0x8
COMPRESSION_ERROR = 0x9
ENHANCE_YOUR_CALM = 0xb


def request_fields(path="/", method="GET", authority="x", extra=()):
    return [(":method", method), (":scheme", "http"), (":path", path),
            (":authority", authority), *extra]


class H2Wire:
    """One connection: the preface and an empty SETTINGS are sent at once
    (unless preface=False); frames are read as they come."""

    def __init__(self, port, preface=True, settings=None, timeout=10.0, sock=None):
        self.s = sock or socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.s.settimeout(timeout)
        self.timeout = timeout
        self.enc = hpack.Encoder()
        self.dec = hpack.Decoder()
        self.buf = b""
        self.closed = False
        self.backlog = []       # frames response() read past: other streams'

        if preface:
            self.send_raw(PREFACE)
            self.send(SettingsFrame(0, settings=settings or {}))

    def send_raw(self, data):
        self.s.sendall(data)

    def send(self, frame):
        self.s.sendall(frame.serialize())

    def headers(self, stream_id, fields, end_stream=True, end_headers=True):
        f = HeadersFrame(stream_id)
        f.data = self.enc.encode(fields)
        if end_headers:
            f.flags.add("END_HEADERS")
        if end_stream:
            f.flags.add("END_STREAM")
        self.send(f)

    def data(self, stream_id, payload, end_stream=False):
        f = DataFrame(stream_id)
        f.data = payload
        if end_stream:
            f.flags.add("END_STREAM")
        self.send(f)

    def rst(self, stream_id, code=CANCEL):
        self.send(RstStreamFrame(stream_id, error_code=code))

    def window_update(self, stream_id, n):
        self.send(WindowUpdateFrame(stream_id, window_increment=n))

    def _fill(self, deadline):
        self.s.settimeout(max(0.01, deadline - time.time()))
        try:
            b = self.s.recv(65536)
        except socket.timeout:
            return False
        except ConnectionResetError:
            b = b""
        if not b:
            self.closed = True
            return False
        self.buf += b
        return True

    def frame(self, timeout=None):
        """The next frame (HEADERS decoded into .fields), or None at the
        connection's end or the timeout."""
        if self.backlog:
            return self.backlog.pop(0)
        deadline = time.time() + (timeout if timeout is not None else self.timeout)
        while True:
            if len(self.buf) >= 9:
                f, length = Frame.parse_frame_header(memoryview(self.buf[:9]))
                if len(self.buf) >= 9 + length:
                    f.parse_body(memoryview(self.buf[9:9 + length]))
                    self.buf = self.buf[9 + length:]
                    if isinstance(f, (HeadersFrame, ContinuationFrame)):
                        f.fields = [(k.decode() if isinstance(k, bytes) else k,
                                     v.decode() if isinstance(v, bytes) else v)
                                    for k, v in self.dec.decode(bytes(f.data))]
                    if isinstance(f, SettingsFrame) and "ACK" not in f.flags:
                        try:
                            self.send(SettingsFrame(0, flags=["ACK"]))
                        except OSError:
                            pass    # the server closed already: its frames are still read
                    return f
            if self.closed or time.time() >= deadline or not self._fill(deadline):
                return None

    def until(self, pred, timeout=None):
        """Frames up to and including the first for which pred(frame) holds;
        fails when the connection ends or time runs out first."""
        got = []
        deadline = time.time() + (timeout if timeout is not None else self.timeout)
        while True:
            f = self.frame(max(0.01, deadline - time.time()))
            assert f is not None, f"no such frame; got {[repr(g) for g in got][-8:]}"
            got.append(f)
            if pred(f):
                return got

    def goaway(self, timeout=None):
        """The GOAWAY the server sends (frames before it are read past)."""
        return self.until(lambda f: isinstance(f, GoAwayFrame), timeout)[-1]

    def wait_closed(self, timeout=None):
        """True once the server closed the connection (frames read past)."""
        deadline = time.time() + (timeout if timeout is not None else self.timeout)
        while time.time() < deadline:
            if self.frame(max(0.01, deadline - time.time())) is None and self.closed:
                return True
        return self.closed

    def response(self, stream_id, timeout=None, window=True):
        """(status, fields, body, trailers) of stream_id, read to its END_STREAM;
        the windows are reopened as DATA comes (window=True). A RST_STREAM on
        it fails the test."""
        fields, body, trailers = None, b"", []
        deadline = time.time() + (timeout if timeout is not None else self.timeout)
        others = []
        while True:
            f = self.frame(max(0.01, deadline - time.time()))
            assert f is not None, f"stream {stream_id}: no END_STREAM (closed={self.closed})"
            if f.stream_id != stream_id:
                if f.stream_id:
                    others.append(f)    # read by the next response()
                continue
            assert not isinstance(f, RstStreamFrame), \
                f"stream {stream_id} reset with code {f.error_code}"
            if isinstance(f, HeadersFrame):
                if fields is None or dict(fields).get(":status", "200").startswith("1"):
                    fields = f.fields
                else:
                    trailers = f.fields
            elif isinstance(f, DataFrame):
                body += bytes(f.data)
                if window and f.flow_controlled_length:
                    self.window_update(0, f.flow_controlled_length)
                    if "END_STREAM" not in f.flags:
                        self.window_update(stream_id, f.flow_controlled_length)
            if "END_STREAM" in f.flags:
                self.backlog = others + self.backlog
                return int(dict(fields)[":status"]), fields, body, trailers

    def ping(self, payload=b"12345678"):
        self.send(PingFrame(0, opaque_data=payload))

    def continuation(self, stream_id, block, end_headers=False):
        f = ContinuationFrame(stream_id)
        f.data = block
        if end_headers:
            f.flags.add("END_HEADERS")
        self.send(f)

    def close(self):
        self.s.close()
