"""lb-proxy's own answers on the traffic port (--monitor-uri), header rules
(--set-request-header, --set-response-header, --remove-response-header) and
its log lines (JSON types, the bytes of its own answers)."""
import json
import socket

from conftest import Proxy, binary, wait_for


def _dead_addr():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    addr = f"127.0.0.1:{s.getsockname()[1]}"
    s.close()                                  # nothing listens there now
    return addr


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


def test_access_log_bytes_count_the_proxys_own_answers(proxy):
    p = proxy([_dead_addr()])
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
