"""lb-proxy's CORS policy (docs/lb-proxy.md#cors) against the Fetch standard's
CORS protocol (https://fetch.spec.whatwg.org/#http-cors-protocol) and the
Gateway API's HTTPCORSFilter: preflights answered by the proxy and never
forwarded, the policy's fields on actual responses (the backend's own
replaced), a disallowed origin forwarded without CORS fields, Vary: Origin,
the proxy's own answers, the config file's keys and a reload."""
import http.client
import subprocess

from conftest import SLOW, binary, started_proxy
from support.rawbackend import RawBackend, ok, serve_each

ORIGIN = "https://app.example"


def raw_backend(extra=b""):
    return RawBackend(serve_each(lambda head, headers, body: ok(b"ok", extra)))


def send(p, method, path, headers):
    c = http.client.HTTPConnection("127.0.0.1", p.port, timeout=10 * SLOW)
    try:
        c.request(method, path, headers=headers)
        r = c.getresponse()
        return r.status, r.getheaders(), r.read()
    finally:
        c.close()


def field(headers, name):
    """Every value of field `name` (case-insensitive), in order."""
    return [v for k, v in headers if k.lower() == name.lower()]


def cors_proxy(proxy, be, *flags):
    return proxy([be.addr], "--access-log", "off", "--cors-origins",
                 f"{ORIGIN},https://*.example.com", "--cors-methods", "PUT,DELETE",
                 "--cors-headers", "X-Token", "--cors-expose-headers", "X-Trace",
                 "--cors-max-age", "10m", *flags)


def test_preflight_is_answered_by_the_proxy_and_never_forwarded(proxy):
    """Fetch, CORS protocol: HTTP requests (#http-requests: the CORS-preflight
    request) and HTTP responses (#http-responses: its answer): an OPTIONS
    with Origin and Access-Control-Request-Method gets an ok status and the
    Access-Control-Allow-* fields; the backend never sees it."""
    be = raw_backend()
    p = cors_proxy(proxy, be)
    status, headers, body = send(p, "OPTIONS", "/items/1", {
        "Origin": "https://a.b.example.com", "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "x-token"})
    assert status == 200 and body == b"", (status, headers)
    assert field(headers, "Access-Control-Allow-Origin") == ["https://a.b.example.com"]
    assert field(headers, "Access-Control-Allow-Methods") == ["PUT, DELETE"]
    assert field(headers, "Access-Control-Allow-Headers") == ["X-Token"]
    assert field(headers, "Access-Control-Max-Age") == ["600"]
    assert field(headers, "Access-Control-Allow-Credentials") == []
    assert field(headers, "Vary") == ["Origin"]
    # an origin the policy does not allow: answered too (the policy decided),
    # with no CORS field, so the browser stops before the actual request
    status, headers, _ = send(p, "OPTIONS", "/items/1", {
        "Origin": "https://evil.example", "Access-Control-Request-Method": "PUT"})
    assert status == 200 and field(headers, "Access-Control-Allow-Origin") == []
    # an OPTIONS that is not a preflight (no Access-Control-Request-Method) is forwarded
    status, headers, _ = send(p, "OPTIONS", "/items/1", {"Origin": ORIGIN})
    assert status == 200 and len(be.requests) == 1
    assert be.requests[0][0].startswith(b"OPTIONS /items/1 ")
    be.close()


def test_actual_requests_get_the_policys_fields(proxy):
    """Fetch, CORS protocol, HTTP responses (#http-responses):
    Access-Control-Allow-Origin (the request's origin, never *
    with credentials), -Credentials, -Expose-Headers; the backend's own
    Access-Control-* fields are replaced; Vary: Origin (Fetch,
    #cors-protocol-and-http-caches)."""
    be = raw_backend(b"Access-Control-Allow-Origin: *\r\nVary: Accept-Encoding\r\n")
    p = cors_proxy(proxy, be, "--cors-credentials")
    status, headers, body = send(p, "PUT", "/items/1", {"Origin": ORIGIN, "X-Token": "t"})
    assert status == 200 and body == b"ok"
    assert field(headers, "Access-Control-Allow-Origin") == [ORIGIN]
    assert field(headers, "Access-Control-Allow-Credentials") == ["true"]
    assert field(headers, "Access-Control-Expose-Headers") == ["X-Trace"]
    assert field(headers, "Vary") == ["Accept-Encoding", "Origin"]
    # a disallowed origin: forwarded all the same (a simple request reaches the
    # server; the browser withholds the answer from the script), no CORS field
    status, headers, body = send(p, "GET", "/public", {"Origin": "https://evil.example"})
    assert status == 200 and body == b"ok"
    assert field(headers, "Access-Control-Allow-Origin") == []
    assert "Origin" in field(headers, "Vary")
    assert be.requests[-1][0].startswith(b"GET /public ")
    # no Origin (same-origin, curl): no CORS field, Vary all the same, so a
    # cache never gives this answer to a cross-origin request
    status, headers, _ = send(p, "GET", "/", {})
    assert field(headers, "Access-Control-Allow-Origin") == []
    assert field(headers, "Vary") == ["Accept-Encoding", "Origin"]
    be.close()


def test_the_proxys_own_answers_carry_the_fields(proxy):
    """A 502 from the proxy reaches the script as a 502, not as a CORS error."""
    dead = RawBackend(lambda conn, backend: None)   # closes every connection at once
    p = proxy([dead.addr], "--access-log", "off", "--cors-origins", "*", "--retries", "0",
              "--eject-gateway", "0")
    status, headers, _ = send(p, "GET", "/", {"Origin": "https://anyone.example"})
    assert status == 502
    assert field(headers, "Access-Control-Allow-Origin") == ["*"]
    assert field(headers, "Vary") == []          # the same answer for every origin
    dead.close()


def test_config_file_keys_and_reload(procs, tmp_path):
    """The file's keys (YAML lists) set the policy; a change of the file
    reloads it; a bad one keeps the running policy."""
    be = raw_backend()
    cfg = tmp_path / "proxy.yaml"
    cfg.write_text(f'listen: "127.0.0.1:0"\nbackends: "{be.addr}"\naccessLog: off\n'
                   'corsOrigins:\n  - "https://app.example"\ncorsMethods: [PATCH]\n'
                   "corsCredentials: true\ncorsMaxAge: 30s\n")
    p = started_proxy(procs([binary("lb-proxy"), "--config", str(cfg), "--admin",
                             "127.0.0.1:0"]))
    pre = {"Origin": ORIGIN, "Access-Control-Request-Method": "PATCH"}
    _, headers, _ = send(p, "OPTIONS", "/", pre)
    assert field(headers, "Access-Control-Allow-Methods") == ["PATCH"]
    assert field(headers, "Access-Control-Max-Age") == ["30"]
    assert field(headers, "Access-Control-Allow-Credentials") == ["true"]
    cfg.write_text(f'listen: "127.0.0.1:0"\nbackends: "{be.addr}"\naccessLog: off\n'
                   'corsOrigins: "https://other.example"\n')
    p.proc.wait_log(r"INFO reloaded [^\n]*changed=corsOrigins,corsMethods,corsMaxAge,"
                    r"corsCredentials")
    _, headers, _ = send(p, "OPTIONS", "/", pre)
    assert field(headers, "Access-Control-Allow-Origin") == []
    cfg.write_text(f'listen: "127.0.0.1:0"\nbackends: "{be.addr}"\n'
                   'corsOrigins: "ftp://other.example"\n')
    p.proc.wait_log(r'reload failed[^\n]*--cors-origins \\"ftp://other.example\\"')
    _, headers, _ = send(p, "OPTIONS", "/", {"Origin": "https://other.example",
                                             "Access-Control-Request-Method": "GET"})
    assert field(headers, "Access-Control-Allow-Origin") == ["https://other.example"]
    assert be.requests == []
    be.close()


def test_bad_settings_stop_start_up_naming_the_flag():
    cases = [(["--cors-origins", "app.example"], "--cors-origins \"app.example\": an origin is"),
             (["--cors-origins", "*,https://a.example"], "give it alone"),
             (["--cors-methods", "PUT"], "need --cors-origins"),
             (["--cors-origins", "*", "--cors-expose-headers", "*", "--cors-credentials"],
              "not with --cors-credentials"),
             (["--cors-origins", "*", "--cors-max-age", "0"], "--cors-max-age")]
    for flags, says in cases:
        r = subprocess.run([binary("lb-proxy"), "--backends", "127.0.0.1:1", "--listen",
                            "127.0.0.1:0", *flags], capture_output=True, text=True,
                           timeout=10 * SLOW, stdin=subprocess.DEVNULL)
        assert r.returncode == 2 and says in r.stderr, (flags, r.returncode, r.stderr)
