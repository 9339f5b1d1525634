"""lb-proxy's own answers on the traffic port (--monitor-uri), header rules
(--set-request-header, --set-response-header, --remove-response-header) and
its log lines (JSON types, the bytes of its own answers)."""
import json
import signal
import socket
import subprocess

from conftest import (SLOW, Proxy, binary, recv_until, served_by, split_responses,
                      wait_for)
from support.net import dead_addr, recv_until_close
from support.rawbackend import RawBackend, ok, serve_each


def _json_lines(proc):
    out = []
    for line in proc.text().splitlines():
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def _json_proxy(procs, backends, *flags):
    """An lb-proxy logging JSON (the proxy fixture reads text lines)."""
    p = procs([binary("lb-proxy"), "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
               "--backends", ",".join(backends), "--log-format", "json", *flags])
    admin = p.wait_log(r'"msg":"admin listening","admin":"127\.0\.0\.1:(\d+)"')
    m = p.wait_log(r'"msg":"listening","listen":"127\.0\.0\.1:(\d+)"')
    return Proxy(p, int(m.group(1)), int(admin.group(1)))


# ---- logs -------------------------------------------------------------------------


def test_json_access_log_numbers_are_numbers(echo, procs):
    e = echo("--access-log", "off")
    p = _json_proxy(procs, [e.addr])
    status, hdrs, body = p.request("GET", "/typed", headers={"X-Request-Id": "12345"})
    assert status == 200
    line = wait_for("the access log line", lambda: [
        d for d in _json_lines(p.proc) if d.get("msg") == "request"])[0]
    assert line["request"] == "GET /typed"
    for key in ("status", "bytes", "retries"):
        assert type(line[key]) is int, (key, line)
    assert line["status"] == 200 and line["bytes"] == len(body) and line["retries"] == 0
    assert type(line["duration_ms"]) in (int, float) and line["duration_ms"] >= 0
    # a client's id that spells a number stays a string: the field's type never changes
    assert line["request_id"] == "12345"
    assert line["backend"] == e.addr and line["client"] == "127.0.0.1"
    # other lines too: the listening line's numbers
    listening = [d for d in _json_lines(p.proc) if d.get("msg") == "listening"][0]
    assert listening["backends"] == 1


def test_json_backend_failed_line_keeps_request_id_a_string(procs):
    """The "backend failed" warning names the request id as the access log
    does: a client id that spells a number is still a string in JSON."""
    p = _json_proxy(procs, [dead_addr()], "--retries", "0")
    assert p.request("GET", "/x", headers={"X-Request-Id": "777"})[0] in (502, 503)
    line = wait_for("the backend failed line", lambda: [
        d for d in _json_lines(p.proc) if d.get("msg") == "backend failed"])[0]
    assert line["request_id"] == "777", line


def test_access_log_bytes_count_the_proxys_own_answers(proxy):
    p = proxy([dead_addr()])
    status, hdrs, body = p.request("GET", "/nobody")
    assert status == 503 and json.loads(body)["error"] == "no backends available"
    m = p.proc.wait_log(r'request="GET /nobody" status=503 backend=\S+ duration_ms=\S+ '
                        r'bytes=(\d+) ')
    assert int(m.group(1)) == len(body) > 0
    # HEAD: the same head, no body, and the log says 0
    c = p.conn()
    c.request("HEAD", "/nobody-head")
    r = c.getresponse()
    assert r.status == 503 and r.read() == b""
    assert int(r.getheader("Content-Length")) > 0
    c.close()
    m = p.proc.wait_log(r'request="HEAD /nobody-head" status=503 .* bytes=(\d+) ')
    assert int(m.group(1)) == 0


# ---- --monitor-uri ------------------------------------------------------------------


def test_monitor_uri_answers_healthy_and_is_never_forwarded(proxy):
    """Seed 000: /health on the traffic port, answered by the proxy itself."""
    bes = [RawBackend(serve_each(lambda h, hd, b: ok())) for _ in range(3)]
    p = proxy([b.addr for b in bes], "--monitor-uri", "/health")
    status, hdrs, body = p.request("GET", "/health")
    assert status == 200, body
    assert json.loads(body) == {"status": "healthy", "backends_available": 3}
    assert hdrs["Content-Type"] == "application/json"
    assert hdrs["X-Request-Id"]
    # the query is not part of the path (HAProxy 2.2+ compares the path), HEAD has no body,
    # any method is answered, as HAProxy's monitor-uri does
    assert p.request("GET", "/health?probe=1")[0] == 200
    status, hdrs, body = p.request("HEAD", "/health")
    assert status == 200 and body == b"" and int(hdrs["Content-Length"]) > 0
    assert p.request("OPTIONS", "/health")[0] == 200
    # other paths, and near misses, go to the backends
    for path in ("/health/", "/healthz", "/Health", "/"):
        assert p.request("GET", path)[0] == 200
    seen = [req[0].split(b"\r\n")[0] for b in bes for req in b.requests]
    assert sorted(seen) == sorted([b"GET /health/ HTTP/1.1", b"GET /healthz HTTP/1.1",
                                   b"GET /Health HTTP/1.1", b"GET / HTTP/1.1"])
    m = p.proc.wait_log(r'request="GET /health" status=200 backend=- .* bytes=(\d+) ')
    assert int(m.group(1)) == len(b'{"status":"healthy","backends_available":3}')
    metrics = p.admin("/metrics")[1]
    assert 'lb_proxy_requests_total{code_class="2xx"} 8' in metrics         # 4 answered, 4 forwarded
    assert sum(int(line.split()[-1]) for line in metrics.splitlines()
               if line.startswith("lb_proxy_backend_requests_total{")) == 4
    for b in bes:
        b.close()


def test_monitor_uri_keeps_the_connection_alive(proxy):
    be = RawBackend(serve_each(lambda h, hd, b: ok(b"from-backend")))
    p = proxy([be.addr], "--monitor-uri", "/lb-health")
    s = socket.create_connection(("127.0.0.1", p.port), timeout=10 * SLOW)
    # pipelined: the monitor answer, then a forwarded request, on one connection
    s.sendall(b"GET /lb-health HTTP/1.1\r\nHost: a\r\n\r\n"
              b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
    got = recv_until(s, b"from-backend")
    (st1, h1, b1), (st2, h2, b2) = split_responses(got)
    assert st1 == 200 and json.loads(b1)["status"] == "healthy"
    assert h1["connection"] == "keep-alive"
    assert st2 == 200 and b2 == b"from-backend"
    s.sendall(b"GET /lb-health HTTP/1.1\r\nHost: a\r\n\r\n")
    got = recv_until(s, b"}")
    assert split_responses(got)[0][0] == 200
    s.close()
    assert [r[0].split(b"\r\n")[0] for r in be.requests] == [b"GET /x HTTP/1.1"]
    be.close()


def test_monitor_uri_with_an_unread_body_closes_after_the_answer(proxy):
    be = RawBackend(serve_each(lambda h, hd, b: ok()))
    p = proxy([be.addr], "--monitor-uri", "/health")
    s = socket.create_connection(("127.0.0.1", p.port), timeout=10 * SLOW)
    # the rest of this body must never be read as a request: "GET /smuggled ..."
    s.sendall(b"POST /health HTTP/1.1\r\nHost: a\r\nContent-Length: 40\r\n\r\n"
              b"GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n")
    got = recv_until_close(s)
    s.close()
    (status, hdrs, body), = split_responses(got)
    assert status == 200 and hdrs["connection"] == "close"
    assert json.loads(body)["status"] == "healthy"
    assert be.requests == [] and be.connections == 0
    be.close()


def test_monitor_uri_is_unhealthy_without_a_usable_backend(proxy, rundir):
    # no set at all (on the bus, listening at once)
    p = proxy(None, "--runtime-dir", rundir, "--initial-set-timeout", "0",
              "--monitor-uri", "/health")
    status, hdrs, body = p.request("GET", "/health")
    assert status == 503
    assert json.loads(body) == {"status": "unhealthy", "backends_available": 0}
    assert hdrs["Connection"] == "keep-alive"
    # a backend that refused its connect is skipped (--fail-timeout): what a pick could
    # return now, not what the set lists
    q = proxy([dead_addr()], "--monitor-uri", "/health")
    assert json.loads(q.request("GET", "/health")[2])["backends_available"] == 1
    assert q.request("GET", "/")[0] == 503
    status, _, body = q.request("GET", "/health")
    assert status == 503 and json.loads(body)["backends_available"] == 0


def test_monitor_uri_is_unhealthy_while_stopping(echo, proxy):
    e = echo("--access-log", "off")
    p = proxy([e.addr], "--monitor-uri", "/health")
    s = socket.create_connection(("127.0.0.1", p.port), timeout=10 * SLOW)
    s.sendall(b"GET /health HTTP/1.1\r\nHost: a\r\n")     # a head not yet complete
    # an admin round trip: the proxy's loop has read those bytes by the time it answers
    # (they were queued before the admin connection was made)
    assert p.admin("/health")[0] == 200
    p.proc.p.send_signal(signal.SIGTERM)
    p.proc.wait_log(r"draining connections=1 ")
    s.sendall(b"\r\n")
    got, closed = b"", False
    while not closed:
        data = s.recv(65536)
        got += data
        closed = not data
    s.close()
    (status, hdrs, body), = split_responses(got)
    assert status == 503 and hdrs["connection"] == "close"
    assert json.loads(body) == {"status": "unhealthy", "backends_available": 1}
    # its last connection gone, the proxy exits 0 (waited for here: a second SIGTERM
    # from the fixture while it exits would kill it)
    assert p.proc.p.wait(10 * SLOW) == 0


def test_monitor_uri_is_checked_at_start_up():
    for bad in ("health", "/health?x=1", "/a b", "/a#b", ""):
        r = subprocess.run([binary("lb-proxy"), "--backends", "127.0.0.1:1",
                            "--monitor-uri", bad], capture_output=True, text=True,
                           timeout=10 * SLOW)
        assert r.returncode == 2, (bad, r.stderr)
        assert "--monitor-uri" in r.stderr, r.stderr
        assert "starting with /" in r.stderr or "without a query" in r.stderr, r.stderr


def test_next_backend_peeks_without_advancing_the_rotation(echo, proxy):
    es = [echo("--access-log", "off", env={"POD_NAME": f"echo-{i}"}) for i in range(3)]
    p = proxy([e.addr for e in es])
    peeks = {p.admin("/debug/next-backend")[1]["backend"] for _ in range(5)}
    assert len(peeks) == 1
    (addr,) = peeks
    got = served_by(p.request("GET", "/")[1])
    assert got == f"echo-{[e.addr for e in es].index(addr)}"


# ---- header rules ---------------------------------------------------------------------


def test_set_request_header_replaces_the_clients_fields(proxy):
    be = RawBackend(serve_each(lambda h, hd, b: ok()))
    p = proxy([be.addr], "--set-request-header", "X-Env: prod",
              "--set-request-header", "X-Forwarded-Proto: https",
              "--set-request-header", "X-Multi: one",
              "--set-request-header", "X-Multi:   two, three  ")
    s = socket.create_connection(("127.0.0.1", p.port), timeout=10 * SLOW)
    s.sendall(b"GET /r HTTP/1.1\r\nHost: a\r\nX-Env: dev\r\nx-env: staging\r\n"
              b"X-Keep: k\r\nX-Multi: client\r\n\r\n")
    got = recv_until(s, b"ok")
    s.close()
    assert split_responses(got)[0][0] == 200
    head, headers, _ = be.requests[0]
    assert headers["x-env"] == ["prod"]                 # both of the client's are gone
    assert headers["x-forwarded-proto"] == ["https"]    # the proxy's own one is replaced too
    assert headers["x-multi"] == ["one", "two, three"]  # a name set twice: both, in order
    assert headers["x-keep"] == ["k"]
    assert headers["x-forwarded-for"] == ["127.0.0.1"]
    assert head.count(b"\r\nX-Env: prod") == 1
    be.close()


def test_response_rules_set_replace_and_remove(proxy):
    be = RawBackend(serve_each(lambda h, hd, b: ok(extra=b"Server: backend/1.0\r\n"
                                                    b"X-Frame-Options: ALLOWALL\r\n"
                                                    b"x-frame-options: SAMEORIGIN\r\n"
                                                    b"X-Powered-By: php\r\nX-Kept: yes\r\n")))
    p = proxy([be.addr], "--set-response-header", "X-Frame-Options: DENY",
              "--set-response-header", "Strict-Transport-Security: max-age=63072000",
              "--remove-response-header", "Server",
              "--remove-response-header", "x-powered-by")
    s = socket.create_connection(("127.0.0.1", p.port), timeout=10 * SLOW)
    s.sendall(b"GET /a HTTP/1.1\r\nHost: a\r\n\r\n")
    got = recv_until(s, b"ok")
    s.close()
    head = got.split(b"\r\n\r\n")[0].decode().lower()
    assert head.count("x-frame-options:") == 1 and "x-frame-options: deny" in head
    assert "strict-transport-security: max-age=63072000" in head
    assert "server:" not in head and "x-powered-by:" not in head
    assert "x-kept: yes" in head and "x-request-id:" in head
    be.close()


def test_cors_header_on_backend_answers_and_the_proxys_own(proxy, rundir):
    """Seed 003: CORS added at the proxy, on the backend's answers and on the
    proxy's own (its 503s, the monitor), as HAProxy's http-after-response does."""
    be = RawBackend(serve_each(lambda h, hd, b: ok(extra=b"Access-Control-Allow-Origin: x\r\n")))
    cors = ["--set-response-header", "Access-Control-Allow-Origin: *",
            "--monitor-uri", "/health"]
    p = proxy([be.addr], *cors)
    status, hdrs, _ = p.request("GET", "/api", headers={"Origin": "https://app.example"})
    assert status == 200 and hdrs["Access-Control-Allow-Origin"] == "*"
    assert p.request("GET", "/health")[1]["Access-Control-Allow-Origin"] == "*"
    q = proxy(None, "--runtime-dir", rundir, "--initial-set-timeout", "0", *cors)
    status, hdrs, body = q.request("GET", "/api")
    assert status == 503 and hdrs["Access-Control-Allow-Origin"] == "*"
    assert hdrs["Content-Type"] == "application/json"
    assert json.loads(body)["error"] == "no backends available"
    be.close()


def test_header_rules_from_the_config_file_and_environment(proxy, tmp_path):
    be = RawBackend(serve_each(lambda h, hd, b: ok(extra=b"Server: b\r\n")))
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"setResponseHeader": ["X-A: 1", "X-B: 2"],
                               "removeResponseHeader": "Server"}))
    p = proxy([be.addr], "--config", str(cfg),
              env={"LB_PROXY_SET_REQUEST_HEADER": "X-From-Env: e\nX-Second: f"})
    status, hdrs, _ = p.request("GET", "/")
    assert status == 200 and hdrs["X-A"] == "1" and hdrs["X-B"] == "2"
    assert "Server" not in hdrs
    assert be.requests[0][1]["x-from-env"] == ["e"] and be.requests[0][1]["x-second"] == ["f"]
    # a flag replaces the file's list (flags > environment > file)
    q = proxy([be.addr], "--config", str(cfg), "--set-response-header", "X-C: 3")
    status, hdrs, _ = q.request("GET", "/")
    assert hdrs["X-C"] == "3" and "X-A" not in hdrs and "Server" not in hdrs
    be.close()


def test_invalid_header_rules_exit_2():
    cases = [
        (["--set-response-header", "Content-Length: 5"], "Content-Length is the proxy's own"),
        (["--set-request-header", "Transfer-Encoding: chunked"], "the proxy's own"),
        (["--set-request-header", "Host: other"], "Host is the proxy's own"),
        (["--set-response-header", "Connection: close"], "the proxy's own"),
        (["--remove-response-header", "Transfer-Encoding"], "the proxy's own"),
        (["--set-response-header", "Bad Name: x"], "must be a token"),
        (["--set-response-header", "X-A : x"], "no space before the colon"),
        (["--set-response-header", "X-A: a\rb"], "CR, LF"),
        (["--set-request-header", "X-A: a\nX-Injected: b"], "CR, LF"),
        (["--set-response-header", "X-A"], "must be 'Name: value'"),
        (["--remove-response-header", "Server: x"], "a field name only"),
        (["--set-response-header", "Server: x", "--remove-response-header", "server"],
         "both set and removed"),
        (["--set-response-header", "X-A: " + "v" * 1025], "longer than 1024"),
        ([a for i in range(33) for a in ("--set-response-header", f"X-{i}: v")], "at most 32"),
    ]
    for flags, message in cases:
        r = subprocess.run([binary("lb-proxy"), "--backends", "127.0.0.1:1", *flags],
                           capture_output=True, text=True, timeout=10 * SLOW)
        assert r.returncode == 2, (flags, r.stderr)
        assert message in r.stderr, (flags, r.stderr)
        assert "-header" in r.stderr, r.stderr      # the message names the flag
