"""The access logs are parseable whatever a client sends: a quote or a
backslash in a request target is escaped as logfmt does in the text line and
kept exact in the JSON one (a request `GET /a"x=1` used to forge a field);
lb-echo's line quotes its path too and carries the request id."""
import json
import re

from conftest import binary, raw_exchange

TARGET = b'/a"x=1\\b'


def test_lb_proxy_text_line_escapes_a_quoted_target(echo, proxy):
    e = echo("--access-log", "off")
    p = proxy([e.addr])
    raw, _ = raw_exchange(p.port, b"GET " + TARGET + b" HTTP/1.1\r\nHost: x\r\n"
                          b"X-Request-Id: rid-7\r\nConnection: close\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 200"), raw
    m = p.proc.wait_log(r'INFO request client=\S+ request="(.*?)" status=200 ')
    assert m.group(1) == r'GET /a\"x=1\\b', m.group(0)


def test_lb_proxy_json_line_keeps_the_target_exact(echo, procs):
    e = echo("--access-log", "off")
    p = procs([binary("lb-proxy"), "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
               "--backends", e.addr, "--log-format", "json"])
    port = int(p.wait_log(r'"msg":"listening","listen":"127\.0\.0\.1:(\d+)"').group(1))
    raw_exchange(port, b"GET " + TARGET + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    m = p.wait_log(r'(\{[^\n]*"msg":"request"[^\n]*\})\n')
    line = json.loads(m.group(1))
    assert line["request"] == 'GET /a"x=1\\b' and line["status"] == 200, line


def test_lb_echo_line_quotes_the_path_and_names_the_request_id(echo):
    e = echo()
    raw_exchange(e.port, b"GET " + TARGET + b" HTTP/1.1\r\nHost: x\r\nX-Request-Id: rid-7\r\n"
                 b"Connection: close\r\n\r\n")
    m = e.proc.wait_log(r'INFO request method=GET path="(.*?)" status=200 .* '
                        r'request_id="(.*?)"\n')
    assert m.group(1) == r'/a\"x=1\\b' and m.group(2) == "rid-7", m.group(0)
    assert re.search(r'path="(.*?)"', m.group(0))
