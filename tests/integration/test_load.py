"""lb-ctl load, the HTTP load test: against lb-echo behind lb-proxy (round
robin shows in the backend counts), an open loop at --rate, a port where
nothing listens, https:// refused, 500s counted, the people's table, and each
kind of error from a scripted server. Bounds are loose: the machine is shared."""
import json
import socket
import socketserver
import subprocess
import threading

import pytest

from conftest import SLOW, binary


def load(*args, timeout=60):
    """Runs lb-ctl with args; returns (exit code, stdout, stderr)."""
    r = subprocess.run([binary("lb-ctl"), *args], capture_output=True, text=True,
                       timeout=timeout * SLOW, stdin=subprocess.DEVNULL)
    assert "Sanitizer" not in r.stderr and "runtime error" not in r.stderr, r.stderr
    return r.returncode, r.stdout, r.stderr


def load_json(*args, expect=0):
    code, out, err = load("--json", "load", *args)
    assert code == expect, (code, out, err)
    return json.loads(out)


def free_port():
    """A port nothing listens on (bound once, then released)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def check_latency(doc):
    lat = doc["latency_ms"]
    assert 0 <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p99.9"] <= lat["max"], lat
    assert 0 < lat["mean"] <= lat["max"], lat


class Scripted:
    """A TCP server answering each request head on a connection with
    reply(n) for its n-th request (0-based): bytes to send, then "close",
    "keep" or "hang" (say nothing more until the client goes)."""

    def __init__(self, reply):
        outer = self
        self.connections = 0

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                outer.connections += 1
                buf, n = b"", 0
                while True:
                    while b"\r\n\r\n" not in buf:
                        data = self.request.recv(65536)
                        if not data:
                            return
                        buf += data
                    buf = buf.partition(b"\r\n\r\n")[2]
                    data, then = reply(n)
                    n += 1
                    self.request.sendall(data)
                    if then == "close":
                        return
                    while then == "hang" and self.request.recv(65536):
                        pass
                    if then == "hang":
                        return

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def scripted():
    started = []

    def start(reply):
        s = Scripted(reply)
        started.append(s)
        return s
    yield start
    for s in started:
        s.close()


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Served-By: raw\r\n\r\nok"


def test_round_robin_shows_in_the_backend_counts(echo, proxy):
    """300 requests over 4 connections through lb-proxy's round robin: every
    one a 200, each of three lb-echo answered 100 (X-Served-By)."""
    echos = [echo("--access-log", "off", env={"POD_NAME": f"echo-{i}"}) for i in range(3)]
    p = proxy([e.addr for e in echos], "--access-log", "off")
    url = f"http://127.0.0.1:{p.port}/hello"
    doc = load_json(url, "-c", "4", "-n", "300")
    assert doc["url"] == url and doc["connections"] == 4 and doc["rate"] is None
    assert doc["requests"] == 300
    assert doc["status"] == {"200": 300}
    assert doc["backends"] == {"echo-0": 100, "echo-1": 100, "echo-2": 100}
    assert doc["errors"] == {"connect": 0, "closed": 0, "timeout": 0, "malformed": 0}
    assert doc["duration_s"] > 0 and doc["rps"] > 0
    check_latency(doc)


def test_open_loop_at_a_rate(echo):
    """-d 1 --rate 50: about 50 requests in about a second."""
    e = echo("--access-log", "off", env={"POD_NAME": "paced"})
    doc = load_json(f"http://{e.addr}/", "-d", "1", "--rate", "50")
    assert 40 <= doc["requests"] <= 60, doc
    assert 0.9 <= doc["duration_s"] <= 2.5, doc
    assert doc["rate"] == 50 and doc["backends"] == {"paced": doc["requests"]}
    check_latency(doc)


def test_duration_spellings(echo):
    """-d takes 500ms, 1s and plain seconds (common/config's durations)."""
    e = echo("--access-log", "off")
    for spelling in ("500ms", "0.5", "1s"):
        doc = load_json(f"http://{e.addr}/", "-d", spelling, "-c", "2")
        assert doc["requests"] > 0
        assert 0.4 <= doc["duration_s"] <= 3, (spelling, doc)


def test_nothing_listening_counts_connect_errors():
    port = free_port()
    doc = load_json(f"http://127.0.0.1:{port}/", "-n", "8", "-c", "2", expect=1)
    assert doc["requests"] == 0 and doc["errors"]["connect"] == 8, doc
    assert doc["status"] == {} and doc["latency_ms"]["p50"] is None
    code, out, err = load("load", f"http://127.0.0.1:{port}/", "-d", "300ms")
    assert code == 1 and "no response" in err and "Connection refused" in err, err
    assert "connect failed" in out


def test_https_is_refused():
    code, out, err = load("load", "https://127.0.0.1:8443/")
    assert code == 2 and out == ""
    assert "https:// is not supported" in err, err


@pytest.mark.parametrize("args,message", [
    ([], "which URL"),
    (["ftp://x/"], "http://"),
    (["http://127.0.0.1:80/", "-c", "0"], "connections from 1"),
    (["http://127.0.0.1:80/", "-d", "2x"], "a duration"),
    (["http://127.0.0.1:80/", "--rate", "-1"], "--rate"),
    (["http://127.0.0.1:80/", "-H", "no colon"], "Name: value"),
    (["http://127.0.0.1:80/", "--frobnicate", "1"], "unknown option"),
    (["http://127.0.0.1:99999/"], "port"),
])
def test_usage_errors_exit_2(args, message):
    code, out, err = load("load", *args)
    assert code == 2 and message in err, (code, err)


def test_server_errors_are_counted_by_status(echo):
    e = echo("--access-log", "off", "--error-rate", "1")
    doc = load_json(f"http://{e.addr}/", "-n", "20", "-c", "2")
    assert doc["requests"] == 20 and doc["status"] == {"500": 20}, doc


def test_table_for_people(echo):
    e = echo("--access-log", "off", env={"POD_NAME": "tabled"})
    code, out, err = load("load", f"http://{e.addr}/", "-n", "50", "-c", "2")
    assert code == 0, err
    for heading in ("REQUESTS", "DURATION", "REQ/S", "LATENCY", "p50", "p99.9", "max", "mean",
                    "ERROR", "connect failed", "reset/closed early", "timeout",
                    "malformed response", "STATUS", "BACKEND"):
        assert heading in out, (heading, out)
    lines = out.splitlines()
    assert any(line.split()[:3] == ["200", "50", "100.0%"] for line in lines if line), out
    assert any(line.split()[:3] == ["tabled", "50", "100.0%"] for line in lines if line), out
    code, out, err = load("load", "--help")
    assert code == 0 and "--rate" in out
    code, out, err = load("--help")
    assert code == 0 and "  load URL" in out


def test_connection_close_gets_a_new_connection(scripted):
    s = scripted(lambda n: (OK.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"), "close"))
    doc = load_json(f"http://127.0.0.1:{s.port}/", "-n", "10", "-c", "1")
    assert doc["requests"] == 10 and doc["backends"] == {"raw": 10}, doc
    assert sum(doc["errors"].values()) == 0
    assert s.connections == 10


def test_keep_alive_reuses_the_connection(scripted):
    s = scripted(lambda n: (OK, "keep"))
    doc = load_json(f"http://127.0.0.1:{s.port}/", "-n", "20", "-c", "2")
    assert doc["requests"] == 20 and sum(doc["errors"].values()) == 0, doc
    assert s.connections == 2


@pytest.mark.parametrize("reply,kind", [
    (lambda n: (b"", "close"), "closed"),
    (lambda n: (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "close"), "closed"),
    (lambda n: (b"SSH-2.0-OpenSSH\r\n\r\n", "hang"), "malformed"),
    (lambda n: (b"", "hang"), "timeout"),
])
def test_errors_by_kind(scripted, reply, kind):
    s = scripted(reply)
    # the timeout case needs a short one; the others end when the scripted
    # server answers or closes, which a loaded machine may take long to do
    wait = "300ms" if kind == "timeout" else f"{int(3000 * SLOW)}ms"
    doc = load_json(f"http://127.0.0.1:{s.port}/", "-n", "4", "-c", "2", "--timeout", wait,
                    expect=1)
    assert doc["errors"][kind] == 4 and doc["requests"] == 0, doc


def test_no_served_by_header_is_a_dash(scripted):
    s = scripted(lambda n: (b"HTTP/1.1 204 No Content\r\n\r\n", "keep"))
    doc = load_json(f"http://127.0.0.1:{s.port}/", "-n", "5", "-c", "1")
    assert doc["backends"] == {"-": 5} and doc["status"] == {"204": 5}, doc


def test_past_64_backends_the_rest_are_other(scripted):
    s = scripted(lambda n: (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Served-By: b%d\r\n\r\n"
                            % n, "keep"))
    doc = load_json(f"http://127.0.0.1:{s.port}/", "-n", "70", "-c", "1")
    assert len(doc["backends"]) == 65 and doc["backends"]["other"] == 6, doc
