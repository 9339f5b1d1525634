"""A tiny authoritative DNS server on 127.0.0.1 (UDP) for tests: A, AAAA and
SRV records from a dict the test may change at any time."""
import socket
import struct
import threading

TYPES = {"A": 1, "AAAA": 28, "SRV": 33}


def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def decode_name(data, off):
    labels = []
    while data[off]:
        n = data[off]
        labels.append(data[off + 1:off + 1 + n].decode())
        off += n + 1
    return ".".join(labels).lower(), off + 1


class DnsServer:
    def __init__(self):
        self.records = {}     # ("name", "A") -> ["127.0.0.1", ...]; SRV: [(prio, weight, port, target)]
        self.queries = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _answer(self, qtype, value):
        if qtype == 1:
            return socket.inet_pton(socket.AF_INET, value)
        if qtype == 28:
            return socket.inet_pton(socket.AF_INET6, value)
        prio, weight, port, target = value
        return struct.pack("!HHH", prio, weight, port) + encode_name(target)

    def _serve(self):
        while True:
            try:
                data, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            self.queries += 1
            qid, flags, qd = struct.unpack("!HHH", data[:6])
            name, off = decode_name(data, 12)
            qtype, qclass = struct.unpack("!HH", data[off:off + 4])
            question = data[12:off + 4]
            kind = {v: k for k, v in TYPES.items()}.get(qtype)
            values = self.records.get((name, kind), [])
            known = any(n == name for n, _ in self.records)
            rcode = 0 if known else 3
            header = struct.pack("!HHHHHH", qid, 0x8400 | (flags & 0x0100) | rcode, 1,
                                 len(values), 0, 0)
            answers = b""
            for v in values:
                rdata = self._answer(qtype, v)
                answers += struct.pack("!HHHIH", 0xC00C, qtype, 1, 1, len(rdata)) + rdata
            try:
                self.sock.sendto(header + question + answers, peer)
            except OSError:      # closed by close() while answering
                return

    def close(self):
        self.sock.close()
