"""lb-echo against real clients: identity, JSON echo, limits, keep-alive,
pipelining, chunked bodies, malformed input, faults and graceful stop."""
import json
import os
import re
import socket
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import SLOW, binary, raw_exchange, recv_exactly, recv_until, split_responses
from support.net import free_port


def test_identity_from_env(echo):
    e = echo("--service-name", "shop", env={"POD_NAME": "echo-7f9c-abcde",
                                            "POD_IP": "10.1.2.3", "NAMESPACE": "demo"})
    status, doc = e.get_json("/items/1?x=2", headers={"X-Request-Id": "req-42"})
    assert status == 200
    assert doc["podName"] == "echo-7f9c-abcde"
    assert doc["podIP"] == "10.1.2.3"
    assert doc["serviceName"] == "shop"
    assert doc["namespace"] == "demo"
    assert doc["method"] == "GET"
    assert doc["path"] == "/items/1"
    assert doc["query"] == "x=2"
    assert doc["requestId"] == "req-42"
    assert doc["timestamp"].endswith("Z") and len(doc["timestamp"]) == 20


def test_identity_defaults_to_hostname_and_local_address(echo):
    e = echo(env={"POD_NAME": "", "POD_IP": "", "NAMESPACE": ""})
    status, hdrs, body = e.request("GET", "/")
    doc = json.loads(body)
    assert doc["podName"] == socket.gethostname()
    assert doc["podIP"] == "127.0.0.1"
    assert doc["namespace"] is None
    assert doc["requestId"] is None
    assert hdrs["X-Served-By"] == socket.gethostname()


def test_post_json_round_trip(echo):
    e = echo(env={"POD_NAME": "pod-a"})
    value = {"order": {"id": 7, "items": [{"sku": "ü-ß-€", "qty": 2}, None, True, 1.5e-3]},
             "emoji": "\U0001F680", "nested": [[[[]]]]}
    body = json.dumps(value, ensure_ascii=False).encode()
    status, hdrs, out = e.request("POST", "/orders", body=body,
                                  headers={"Content-Type": "application/json; charset=utf-8"})
    assert status == 200
    assert json.loads(out) == value
    assert hdrs["X-Served-By"] == "pod-a"
    status, _, out = e.request("PUT", "/x", body=b"[1,2,3]")
    assert status == 200 and json.loads(out) == [1, 2, 3]


def test_invalid_json_names_line_and_column(echo):
    e = echo()
    status, _, out = e.request("POST", "/", body=b'{\n  "a": 1,\n  "b": }',
                               headers={"Content-Type": "application/json"})
    assert status == 400
    doc = json.loads(out)
    assert doc["error"] == "invalid JSON"
    assert (doc["line"], doc["column"]) == (3, 8)


def test_non_json_content_is_echoed_as_bytes(echo):
    e = echo()
    status, hdrs, out = e.request("POST", "/", body=b"\x00\x01binary{",
                                  headers={"Content-Type": "application/octet-stream"})
    assert status == 200
    assert out == b"\x00\x01binary{"
    assert hdrs["Content-Type"] == "application/octet-stream"


def test_oversized_body_is_413(echo):
    e = echo("--max-body", "1k")
    status, _, _ = e.request("POST", "/", body=b"[" + b"1," * 600 + b"1]")
    assert status == 413
    # chunked: the limit is found while reading
    data, closed = raw_exchange(e.port, b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                                b"Content-Type: text/plain\r\n\r\n"
                                + b"200\r\n" + b"a" * 512 + b"\r\n" + b"300\r\n" + b"b" * 768
                                + b"\r\n0\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 413 ")
    assert closed
    # at the limit is fine
    status, _, out = e.request("POST", "/", body=b"x" * 1024, headers={"Content-Type": "text/plain"})
    assert status == 200 and len(out) == 1024


def test_thousand_requests_on_one_keepalive_connection(echo):
    e = echo("--access-log", "off")
    c = e.conn()
    c.connect()
    sock = c.sock
    for i in range(1000):
        c.request("GET", f"/n/{i}")
        r = c.getresponse()
        doc = json.loads(r.read())
        assert r.status == 200 and doc["path"] == f"/n/{i}"
        assert c.sock is sock, f"connection replaced at request {i}"
    c.close()


def test_pipelined_requests_answered_in_order(echo):
    e = echo()
    reqs = b"".join(
        b"GET /p/%d HTTP/1.1\r\nHost: x\r\n\r\n" % i if i % 3 else
        b"POST /p/%d HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (i, len(b'{"i":%d}' % i), b'{"i":%d}' % i)
        for i in range(30))
    reqs += b"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    data, closed = raw_exchange(e.port, reqs)
    assert closed
    responses = split_responses(data)
    assert len(responses) == 31
    for i, (status, _, body) in enumerate(responses[:30]):
        doc = json.loads(body)
        assert status == 200
        if i % 3:
            assert doc["path"] == f"/p/{i}"
        else:
            assert doc == {"i": i}
    assert responses[30][1]["connection"] == "close"


def test_chunked_request_body(echo):
    e = echo()
    payload = b'{"parts": ["a", "b", "c"], "n": 3}'
    chunks = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(payload[i:i + 5]), payload[i:i + 5])
                      for i in range(0, len(payload), 5))
    data, _ = raw_exchange(e.port, b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                           b"Content-Type: application/json\r\nConnection: close\r\n\r\n"
                           + chunks + b"0\r\nX-Trailer: t\r\n\r\n")
    (status, _, body), = split_responses(data)
    assert status == 200
    assert json.loads(body) == json.loads(payload)


def test_http10_and_head(echo):
    e = echo()
    data, closed = raw_exchange(e.port, b"GET /old HTTP/1.0\r\n\r\n")
    assert closed and data.startswith(b"HTTP/1.1 200 ")
    assert b"Connection: close" in data
    data, _ = raw_exchange(e.port, b"GET /ka HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
                           until_close=False, timeout=1)
    assert b"Connection: keep-alive" in data
    data, _ = raw_exchange(e.port, b"HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"Content-Length: " in head and body == b""


def test_expect_100_continue(echo):
    e = echo()
    s = socket.create_connection(("127.0.0.1", e.port), timeout=5)
    s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: 8\r\nExpect: 100-continue\r\n\r\n")
    assert s.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
    s.sendall(b'{"a": 1}')
    data = s.recv(4096)
    assert data.startswith(b"HTTP/1.1 200 ") and data.endswith(b'{"a": 1}')
    s.close()
    # a body announced over the limit is refused before it is sent
    e2 = echo("--max-body", "10")
    data, closed = raw_exchange(e2.port, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
                                b"Expect: 100-continue\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 413 ") and b"100 Continue" not in data and closed


def test_malformed_requests_get_400_and_close(echo):
    e = echo()
    for bad in [b"GARBAGE\r\n\r\n",
                b"GET / HTTP/1.1\r\nHost : x\r\n\r\n",
                b"GET / HTTP/1.1\r\nX: a\r\n folded\r\n\r\n",
                b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
                b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n"]:
        data, closed = raw_exchange(e.port, bad)
        assert data.startswith(b"HTTP/1.1 400 "), (bad, data)
        assert b"Connection: close" in data
        assert closed, bad
    # the server is still fine
    assert e.get_json("/")[0] == 200


def test_header_section_too_large_is_431(echo):
    e = echo("--max-header-size", "4k")
    data, closed = raw_exchange(e.port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 5000 + b"\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 431 ") and closed


def test_fault_injection_flags(echo):
    e = echo("--delay-ms", "300", "--error-rate", "0.5", "--access-log", "off")
    # 40 requests at once (the delay is a timer per connection), each timed
    # on its own: every one waited the delay, 500 or not
    took = [None] * 40
    statuses = [None] * 40

    def one(i):
        t = time.time()
        statuses[i] = e.request("GET", f"/{i}")[0]
        took[i] = time.time() - t

    threads = [threading.Thread(target=one, args=(i,)) for i in range(40)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert min(took) >= 0.3, took
    assert set(statuses) <= {200, 500}
    assert 5 <= statuses.count(500) <= 35, statuses
    # health is not delayed nor failed by the error rate
    t = time.time()
    assert e.get_json("/health") == (200, {"status": "healthy"})
    assert time.time() - t < 0.25 * SLOW


def test_fault_injection_at_run_time(echo):
    e = echo()
    status, _, out = e.request("POST", "/fault", body=b'{"delayMs": 250, "health": "fail"}')
    assert status == 200
    assert json.loads(out) == {"delayMs": 250, "errorRate": 0, "health": "fail"}
    assert e.get_json("/health") == (503, {"status": "unhealthy"})
    assert e.get_json("/ready")[0] == 503
    t = time.time()
    assert e.request("GET", "/slow")[0] == 200
    assert time.time() - t >= 0.25
    status, _, out = e.request("POST", "/fault", body=b'{"errorRate": 1}')
    assert e.request("GET", "/x")[0] == 500
    status, _, out = e.request("POST", "/fault", body=b'{"errorRate": 7}')
    assert status == 400 and b"errorRate" in out
    status, _, out = e.request("DELETE", "/fault")
    assert json.loads(out) == {"delayMs": 0, "errorRate": 0, "health": "ok"}
    assert e.get_json("/health") == (200, {"status": "healthy"})
    assert e.request("GET", "/x")[0] == 200


def test_upgrade_becomes_a_byte_echo(echo):
    e = echo()
    s = socket.create_connection(("127.0.0.1", e.port), timeout=5)
    s.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nfirst")
    data = recv_until(s, b"first")
    assert data.startswith(b"HTTP/1.1 101 ")
    for msg in [b"second", b"\x00\xff" * 1000]:
        s.sendall(msg)
        assert recv_exactly(s, len(msg)) == msg
    s.close()


def _without_date(data):
    return re.sub(rb"\r\nDate: [^\r]*\r\n", b"\r\n", data, count=1)


def _still_serving(e):
    assert e.proc.p.poll() is None, f"lb-echo exited {e.proc.p.returncode}:\n{e.proc.text()[-3000:]}"
    assert e.get_json("/after")[1]["path"] == "/after"


def test_connect_is_501_and_closes_the_connection(echo):
    """RFC 9110 9.3.6: CONNECT asks for a tunnel, which an origin server does
    not open; and the bytes after a CONNECT head are tunnel data whatever its
    Content-Length says, so the connection's framing is lost. lb-echo answers
    501 and closes: the request pipelined behind gets no answer, and lb-echo
    serves the next connection (it used to abort on a negative memmove)."""
    e = echo()
    data, closed = raw_exchange(e.port, b"CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n"
                                b"Content-Length: 30\r\n\r\n"
                                b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
    body = b'{"error":"Not Implemented","detail":"CONNECT is not supported by an origin server"}'
    assert _without_date(data) == (b"HTTP/1.1 501 Not Implemented\r\nContent-Type: application/json\r\n"
                                   b"Content-Length: %d\r\nConnection: close\r\n\r\n%s"
                                   % (len(body), body))
    assert closed
    _still_serving(e)


@pytest.mark.parametrize("start, content, status, body", [
    (b"GET /health HTTP/1.1\r\n", b"", 200, b'{"status":"healthy"}'),
    (b"GET /bytes/3 HTTP/1.1\r\n", b"", 200, b"abc"),
    (b"POST /fault HTTP/1.1\r\nContent-Length: 2\r\n", b"{}", 200,
     b'{"delayMs":0,"errorRate":0,"health":"ok"}'),
], ids=["health", "bytes", "fault-with-body"])
def test_declined_upgrade_closes_the_connection(echo, start, content, status, body):
    """RFC 9110 7.8: a server may ignore Upgrade, but llhttp parses nothing
    after a request it counts as an upgrade. Declined (not 101), the answer
    says Connection: close and the connection ends; the request pipelined
    behind is not answered from the stale parse (it used to get a bogus 101)."""
    e = echo()
    req = start + b"Host: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n" + content
    data, closed = raw_exchange(e.port, req + b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
    (got_status, headers, got_body), = split_responses(data)
    assert (got_status, got_body) == (status, body)
    assert headers["connection"] == "close" and closed
    _still_serving(e)


def test_requests_after_a_101_are_tunnel_data(echo):
    """RFC 9110 7.8: after 101 the connection speaks the new protocol, so a
    request pipelined behind the upgrade is echoed, not answered."""
    e = echo()
    s = socket.create_connection(("127.0.0.1", e.port), timeout=5)
    follower = b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n"
    s.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
              + follower)
    head, _, rest = recv_until(s, follower).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 ") and rest == follower
    s.close()
    _still_serving(e)


def test_sigterm_finishes_a_slow_request_and_exits_0(echo):
    e = echo("--delay-ms", "800")
    result = {}

    def slow():
        result["resp"] = e.request("GET", "/slow")

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.3)
    e.proc.p.terminate()
    # new connections are refused while the slow one finishes
    time.sleep(0.1)
    try:
        socket.create_connection(("127.0.0.1", e.port), timeout=1).close()
        refused = False
    except OSError:
        refused = True
    t.join(10 * SLOW)
    assert refused
    status, hdrs, body = result["resp"]
    assert status == 200 and json.loads(body)["path"] == "/slow"
    assert hdrs["Connection"] == "close"
    assert e.proc.p.wait(10 * SLOW) == 0


def test_config_file_in_configmap_shape(procs, tmp_path):
    port = free_port()
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"port": port, "serviceName": "backend-from-file"}))
    p = procs([binary("lb-echo"), "--config", str(cfg)])
    p.wait_log(r"listening listen=0\.0\.0\.0:%d" % port)
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request("GET", "/")
    assert json.loads(c.getresponse().read())["serviceName"] == "backend-from-file"
    c.close()


def test_bad_config_names_file_line_and_field(tmp_path):
    cfg = tmp_path / "config.json"
    cfg.write_text('{\n  "serviceName": "x",\n  "port": "eighty"\n}\n')
    r = subprocess.run([binary("lb-echo"), "--config", str(cfg)], capture_output=True,
                       text=True, timeout=10 * SLOW)
    assert r.returncode == 2
    assert r.stderr.strip() == (f'lb-echo: {cfg}:3:3: "port" must be an integer between 1 and '
                                f'65535 (got "eighty")')
    cfg.write_text('{"servicename": "x"}')
    r = subprocess.run([binary("lb-echo"), "--config", str(cfg)], capture_output=True,
                       text=True, timeout=10 * SLOW)
    assert r.returncode == 2
    assert 'unknown key "servicename" (did you mean "serviceName"?)' in r.stderr
    r = subprocess.run([binary("lb-echo"), "--config", str(tmp_path / "nope.json")],
                       capture_output=True, text=True, timeout=10 * SLOW)
    assert r.returncode == 2 and "cannot read config" in r.stderr


def test_env_overrides_and_json_logs(procs):
    p = procs([binary("lb-echo"), "--listen", "127.0.0.1:0"],
              env={"LB_ECHO_SERVICE_NAME": "from-env", "LB_ECHO_LOG_FORMAT": "json"})
    m = p.wait_log(r'"listen":"127\.0\.0\.1:(\d+)"')
    line = next(l for l in p.text().splitlines() if '"listening"' in l)
    doc = json.loads(line)
    assert doc["level"] == "info" and doc["component"] == "lb-echo"
    assert doc["service"] == "from-env"


def test_bytes_payload(echo):
    e = echo("--max-body", "2m")
    status, hdrs, body = e.request("GET", "/bytes/1048576")
    assert status == 200 and len(body) == 1048576
    assert body[:28] == b"abcdefghijklmnopqrstuvwxyzab"
    assert hdrs["Content-Type"] == "application/octet-stream"
    assert e.request("GET", "/bytes/0")[2] == b""
    assert e.request("GET", "/bytes/3000000")[0] == 400
    assert e.request("GET", "/bytes/12x")[0] == 400


def test_bytes_bodies_are_whole_across_the_pattern_block_and_pipelined(echo):
    """/bytes/N is written from one shared 65,546-byte block, never copied:
    every byte is right across the block's ends and after partial writes
    (a 1 MiB body does not fit a socket buffer), HEAD gets no body, and
    requests pipelined behind a body are answered after it, in order."""
    e = echo("--max-body", "2m")
    sizes = [200003, 65546, 1, 1048576, 65547]
    reqs = b"".join(b"GET /bytes/%d HTTP/1.1\r\nHost: x\r\n\r\n" % n for n in sizes)
    reqs += b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    data, closed = raw_exchange(e.port, reqs, timeout=10)
    assert closed
    responses = split_responses(data)
    assert [r[0] for r in responses] == [200] * (len(sizes) + 1)
    for n, (_, _, body) in zip(sizes, responses):
        assert body == (b"abcdefghijklmnopqrstuvwxyz" * (n // 26 + 1))[:n], f"/bytes/{n}"
    assert json.loads(responses[-1][2])["status"] == "healthy"
    status, hdrs, body = e.request("HEAD", "/bytes/100000")
    assert status == 200 and hdrs["Content-Length"] == "100000" and body == b""


def test_identity_flags_tell_local_backends_apart(echo):
    """--pod-name, --pod-ip and --namespace (else the Downward API's POD_NAME,
    POD_IP, NAMESPACE, else the hostname): three local lb-echo can be told
    apart without environment variables; a flag wins over the variable."""
    names = []
    for i in range(3):
        e = echo("--pod-name", f"echo-{i}", "--namespace", "shop", "--pod-ip", "10.0.0.9",
                 env={"POD_NAME": "from-env"})
        status, headers, body = e.request("GET", "/")
        doc = json.loads(body)
        assert status == 200 and headers["X-Served-By"] == f"echo-{i}"
        assert (doc["podName"], doc["namespace"], doc["podIP"]) == (f"echo-{i}", "shop", "10.0.0.9")
        names.append(doc["podName"])
    assert len(set(names)) == 3
    e = echo(env={"POD_NAME": "from-env"})
    assert e.request("GET", "/")[1]["X-Served-By"] == "from-env"
