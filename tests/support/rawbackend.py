"""A scripted backend for proxy tests: each connection runs `handler(conn,
backend)` in a thread; it records connections and the requests it saw."""
import socket
import threading


class RawBackend:
    def __init__(self, handler):
        self.handler = handler
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.addr = f"127.0.0.1:{self.port}"
        self.connections = 0
        self.requests = []          # (head bytes, body bytes)
        self.lock = threading.Lock()
        self.stopped = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stopped:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn):
        try:
            conn.settimeout(20)
            self.handler(conn, self)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        self.stopped = True
        self.sock.close()


class Reader:
    """Reads HTTP/1.1 requests off a socket."""

    def __init__(self, conn):
        self.conn = conn
        self.buf = b""

    def _fill(self):
        b = self.conn.recv(65536)
        if not b:
            raise EOFError
        self.buf += b

    def line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def exact(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def request(self):
        """Returns (head, headers dict lower-case, body) or None at EOF."""
        try:
            while b"\r\n\r\n" not in self.buf:
                self._fill()
        except EOFError:
            return None
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        headers = {}
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.decode("latin-1").partition(":")
            headers.setdefault(k.strip().lower(), []).append(v.strip())
        body = b""
        if "chunked" in ",".join(headers.get("transfer-encoding", [])):
            while True:
                size = int(self.line().split(b";")[0], 16)
                if size == 0:
                    while self.line():
                        pass
                    break
                body += self.exact(size)
                self.exact(2)
        elif "content-length" in headers:
            body = self.exact(int(headers["content-length"][0]))
        return head, headers, body


def serve_each(respond):
    """A handler answering every request on the connection with respond(head,
    headers, body) -> bytes (or None to close)."""
    def handler(conn, backend):
        r = Reader(conn)
        while True:
            req = r.request()
            if req is None:
                return
            with backend.lock:
                backend.requests.append(req)
            out = respond(*req)
            if out is None:
                return
            conn.sendall(out)
    return handler


def ok(body=b"ok", extra=b""):
    return (b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body))
