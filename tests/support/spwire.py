"""nanomsg's IPC wire format by hand, for tests that play a broken or hostile
bus peer: the SP header (b"\\0SP\\0", a 16-bit protocol id, two zero bytes)
each side sends first, then messages of a 1-byte type (0x1) and an 8-byte
big-endian length."""
import os
import socket
import struct
import threading

from .net import recv_until_close

# SP protocol ids (nanomsg's NN_PROTO_* * 16 + n)
PAIR, PUB, SUB, REQ, REP, PUSH, PULL = 16, 32, 33, 48, 49, 80, 81
# what a peer of each socket file speaks, seen from the side that connects
PEER_OF = {"sets": SUB, "reports": PUSH, "control": REQ}
# what the bound side speaks, seen from the side that binds
BOUND_AS = {"sets": PUB, "reports": PULL, "control": REP}

HUGE = 100 * 2 ** 30          # 100 GB: what a 9-byte frame can announce


def header(proto):
    return b"\0SP\0" + struct.pack(">H", proto) + b"\0\0"


def frame(body=b"", size=None, kind=1):
    """One message frame; size announces another length than the body's."""
    return bytes([kind]) + struct.pack(">Q", len(body) if size is None else size) + body


def bad_inputs(proto, limit):
    """(name, bytes) a peer speaking `proto` may send that the other side must
    survive: broken SP headers, other protocols, announced sizes over the
    limit. (Messages the transport would deliver are not here: nanomsg 1.1.5
    asserts on a message a PUB or PUSH socket receives, and on a frame type
    other than 0x1, whatever the size; see the README's Faults.)"""
    return [
        ("a 100 GB message announced", header(proto) + frame(size=HUGE)),
        ("nothing", b""),
        ("truncated SP header", header(proto)[:5]),
        ("not SP at all", b"GET / HTTP/1.1\r\n\r\n"),
        ("SP header with a wrong protocol id (PAIR)", header(PAIR)),
        ("SP header with an unknown protocol id", header(0x7777)),
        ("SP header with reserved bytes set", header(proto)[:6] + b"\xff\xff"),
        ("a truncated frame header", header(proto) + frame(size=HUGE)[:4]),
        ("a 100 GB message announced, again", header(proto) + frame(size=HUGE)),
        ("the largest size announced", header(proto) + frame(size=2 ** 64 - 1)),
        ("one byte over the protocol's limit", header(proto) + frame(size=limit + 1)),
    ]


def send_raw(path, data, timeout=2.0):
    """Connects to a Unix socket, sends data, reads until the peer closes or
    the timeout; returns what came back."""
    ends = (socket.timeout, ConnectionResetError, BrokenPipeError)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    got = b""
    try:
        s.connect(path)
        if data:
            s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        got = recv_until_close(s, stop_on=ends)
    except ends:
        pass
    finally:
        s.close()
    return got


def recv_for(c, n, timeout):
    """Receives up to n bytes until the peer closes or timeout seconds pass."""
    got = b""
    c.settimeout(timeout)
    try:
        while len(got) < n:
            b = c.recv(min(65536, n - len(got)))
            if not b:
                break
            got += b
    except socket.timeout:
        pass
    return got


class FakeBound:
    """Binds DIR/NAME.sock in place of lb-discover: each connection that
    sends its SP header gets the next script entry (bytes: an SP header and
    what follows) and is closed; with read_first, the rest of the entry waits
    for the peer's first frame (a REQ's request).
    A connection closed before sending a header (lb-ctl's liveness probe)
    takes no entry."""

    def __init__(self, rundir, name, script, read_first=False):
        self.path = os.path.join(rundir, f"{name}.sock")
        self.script = list(script)
        self.served = 0
        self.read_first = read_first        # wait for the peer's first frame (a REQ's)
        self.peer_headers = []
        self.done = threading.Event()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.stopping = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stopping and self.script:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            with c:
                try:
                    hdr = recv_for(c, 8, 2.0)
                    if len(hdr) < 8:
                        continue
                    self.peer_headers.append(hdr)
                    entry = self.script[0]      # a peer that hung up meanwhile gets it again
                    if self.read_first:         # our SP header, then the peer's frame
                        c.sendall(entry[:8])
                        entry = entry[8:]
                        recv_for(c, 9, 2.0)
                    c.sendall(entry)
                    self.script.pop(0)
                    self.served += 1
                    # The peer hangs up on what it refuses (nanomsg: at once,
                    # or after its 1 s handshake timeout); what it accepts it
                    # reads while we wait, then we hang up.
                    recv_for(c, 1 << 30, 1.5)
                except OSError:
                    pass
        self.done.set()

    def close(self):
        self.stopping = True
        self.thread.join()
        self.sock.close()
        os.unlink(self.path)
