"""lb-proxy --rate-limit: a token bucket per client (--rate-key), 429 with
Retry-After and RateLimit-* over it, keep-alive kept, buckets that refill, a
bounded table, the admin port never limited, flags checked at start-up; and
fleet-wide on the bus: each proxy enforces the limit divided by the proxies
lb-discover hears, so a client spread over two proxies gets N in total."""
import json
import socket
import subprocess
import time

import pytest

from conftest import SLOW, binary, recv_until, split_responses, wait_for
from support.net import recv_until_close


def get(conn, path="/", headers=None, method="GET", body=None):
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()


def forwarded(p):
    return sum(b["requests_forwarded"] for b in p.admin("/info")[1]["backends"])


def test_one_client_over_its_limit_gets_429_and_others_do_not(echo, proxy):
    """5/m: a client's sixth request at once is 429 with Retry-After 12 (one
    request every 12 s), the headers say the limit, nothing reaches the
    backend, the connection stays usable and another client is served."""
    e = echo("--access-log", "off")
    p = proxy([e.addr], "--rate-limit", "5/m", "--rate-key", "header:X-Client")
    c = p.conn()
    try:
        for i in range(5):
            status, _, _ = get(c, headers={"X-Client": "a"})
            assert status == 200, f"request {i} of the burst"
        status, h, body = get(c, headers={"X-Client": "a"})
        assert status == 429
        doc = json.loads(body)
        assert doc["error"] == "rate limited" and doc["status"] == 429 and doc["requestId"]
        assert h["content-type"] == "application/json"
        # one token takes 12 s at 5/m; a little of it may have passed already
        assert 11 <= int(h["retry-after"]) <= 12, h
        assert h["ratelimit-limit"] == "5" and h["ratelimit-remaining"] == "0"
        assert 55 <= int(h["ratelimit-reset"]) <= 60, h
        assert h["connection"] == "keep-alive"
        # the same connection carries the next request: another client's
        status, h, _ = get(c, headers={"X-Client": "b"})
        assert status == 200 and "ratelimit-limit" not in h
    finally:
        c.close()
    assert forwarded(p) == 6
    info = p.admin("/info")[1]["rate_limit"]
    assert info["limit"] == "5/m" and info["key"] == "header:X-Client"
    assert info["limited"] == 1 and info["keys"] == 2 and info["proxies"] == 1
    p.proc.wait_log('refused="rate limited"')
    assert "lb_proxy_rate_limited_total 1\n" in p.admin("/metrics")[1]
    assert 'lb_proxy_requests_total{code_class="4xx"} 1\n' in p.admin("/metrics")[1]


def test_a_burst_from_one_client_is_cut_at_the_limit(echo, proxy):
    """The seed's bug: 300 requests in 80 ms from one client all passed.
    With 10/s only the burst of 10, and what refilled meanwhile, pass."""
    e = echo("--access-log", "off")
    p = proxy([e.addr], "--rate-limit", "10/s", "--access-log", "off")
    c = p.conn()
    codes = []
    started = time.monotonic()
    try:
        for _ in range(300):
            codes.append(get(c)[0])
    finally:
        c.close()
    took = time.monotonic() - started
    assert set(codes) == {200, 429}
    assert 10 <= codes.count(200) <= 10 + 10 * took + 1, (codes.count(200), took)
    assert codes[:10] == [200] * 10


def test_client_ip_behind_trusted_proxies(echo, proxy):
    """--rate-key client-ip is the balancer's client: X-Forwarded-For walked
    past --trusted-proxies, so clients behind one load balancer are apart."""
    e = echo("--access-log", "off")
    p = proxy([e.addr], "--rate-limit", "2/m", "--trusted-proxies", "127.0.0.1/32",
              "--access-log", "off")
    xff = lambda ip: {"X-Forwarded-For": f"198.51.100.9, {ip}"}  # noqa: E731
    c = p.conn()
    try:
        assert [get(c, headers=xff("10.0.0.1"))[0] for _ in range(3)] == [200, 200, 429]
        assert [get(c, headers=xff("10.0.0.2"))[0] for _ in range(3)] == [200, 200, 429]
        # the left entry is the client's own word: changing it changes nothing
        assert get(c, headers={"X-Forwarded-For": "1.2.3.4, 10.0.0.1"})[0] == 429
    finally:
        c.close()


def test_untrusted_peer_is_its_own_client(echo, proxy):
    """Without --trusted-proxies, X-Forwarded-For is not believed."""
    e = echo("--access-log", "off")
    p = proxy([e.addr], "--rate-limit", "1/m", "--access-log", "off")
    assert p.request("GET", "/", headers={"X-Forwarded-For": "10.0.0.1"})[0] == 200
    assert p.request("GET", "/", headers={"X-Forwarded-For": "10.0.0.2"})[0] == 429


def test_requests_without_the_header_share_one_bucket(echo, proxy):
    e = echo("--access-log", "off")
    p = proxy([e.addr], "--rate-limit", "1/m", "--rate-key", "header:X-Client",
              "--access-log", "off")
    assert p.request("GET", "/")[0] == 200
    assert p.request("GET", "/")[0] == 429
    assert p.request("GET", "/", headers={"X-Client": ""})[0] == 429   # empty is no key too
    assert p.request("GET", "/", headers={"X-Client": "a"})[0] == 200


def test_the_bucket_refills(echo, proxy):
    """5/s with a burst of 1: the second request at once is refused with
    Retry-After 1; one comes through again 0.2 s later (refused requests
    take nothing from the bucket)."""
    e = echo("--access-log", "off")
    p = proxy([e.addr], "--rate-limit", "5/s", "--rate-burst", "1", "--access-log", "off")
    c = p.conn()
    try:
        c.connect()
        # the token is taken after this, so the next one cannot come before 0.2 s from now
        sent = time.monotonic()
        assert get(c)[0] == 200
        status, h, _ = get(c)
        if status == 429:
            assert h["retry-after"] == "1" and h["ratelimit-limit"] == "1"
            wait_for("the bucket to refill", lambda: get(c)[0] == 200, timeout=3)
        # else the machine took 0.2 s between two requests: it had refilled already
        assert time.monotonic() - sent >= 0.19
    finally:
        c.close()
    assert p.admin("/info")[1]["rate_limit"]["burst"] == 1


def test_a_post_over_the_limit(echo, proxy):
    """A refused request's body is read as the 503's is: with the whole
    request read the connection goes on; with the body still to come it
    closes after the 429."""
    e = echo("--access-log", "off")
    p = proxy([e.addr], "--rate-limit", "1/m", "--access-log", "off")
    assert p.request("GET", "/")[0] == 200
    s = socket.create_connection(("127.0.0.1", p.port), timeout=10 * SLOW)
    try:
        s.sendall(b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
                  b"GET /y HTTP/1.1\r\nHost: a\r\n\r\n")
        got = recv_until(s, b"}")
        while got.count(b"HTTP/1.1 ") < 2:
            data = s.recv(65536)
            assert data, f"closed after {got!r}"
            got = recv_until(s, b"}", got + data)
        answers = split_responses(got)
        assert [a[0] for a in answers] == [429, 429]
        # a body announced but not sent: answered, then closed
        s.sendall(b"POST /z HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nabc")
        got = recv_until(s, b"}")
        assert got.startswith(b"HTTP/1.1 429 Too Many Requests\r\n")
        assert b"Connection: close\r\n" in got
        s.settimeout(5 * SLOW)
        s.sendall(b"x" * 97)
        assert recv_until_close(s) == b""
    finally:
        s.close()
    assert forwarded(p) == 1


def test_a_head_request_over_the_limit_gets_no_body(echo, proxy):
    """429 to HEAD has no content (RFC 9110 9.3.2), so the kept connection's
    next response is read right."""
    e = echo("--access-log", "off")
    p = proxy([e.addr], "--rate-limit", "1/m", "--rate-key", "header:X-Client",
              "--access-log", "off")
    c = p.conn()
    try:
        assert get(c, method="HEAD", headers={"X-Client": "a"})[0] == 200
        status, h, body = get(c, method="HEAD", headers={"X-Client": "a"})
        assert status == 429 and body == b"" and int(h["content-length"]) > 0
        status, _, body = get(c, headers={"X-Client": "b"})
        assert status == 200 and body
    finally:
        c.close()
    s = socket.create_connection(("127.0.0.1", p.port), timeout=10 * SLOW)
    try:
        s.sendall(b"HEAD / HTTP/1.1\r\nHost: a\r\nX-Client: a\r\n\r\n"
                  b"GET / HTTP/1.1\r\nHost: a\r\nX-Client: a\r\n\r\n")
        got = recv_until(s, b"}")
        assert got.count(b"HTTP/1.1 429") == 2 and got.count(b"{") == 1, got
    finally:
        s.close()


def test_a_small_table_forgets_the_least_recently_seen(echo, proxy):
    """--rate-table-size 2: a third client evicts the one seen longest ago,
    which then starts again with a full bucket."""
    e = echo("--access-log", "off")
    p = proxy([e.addr], "--rate-limit", "1/m", "--rate-key", "header:X-Client",
              "--rate-table-size", "2", "--access-log", "off")
    r = lambda who: p.request("GET", "/", headers={"X-Client": who})[0]  # noqa: E731
    assert [r("a"), r("a"), r("b"), r("a")] == [200, 429, 200, 429]   # a is now the newest
    assert r("c") == 200        # evicts b
    assert r("a") == 429        # a was kept
    assert r("b") == 200        # b came back with a full bucket (evicts c)
    assert r("c") == 200        # c as well (evicts a)
    info = p.admin("/info")[1]["rate_limit"]
    assert info["keys"] == 2 and info["evicted"] == 3 and info["table_size"] == 2
    assert "lb_proxy_rate_limit_evictions_total 3\n" in p.admin("/metrics")[1]


def test_the_admin_port_is_never_limited(echo, proxy):
    e = echo("--access-log", "off")
    p = proxy([e.addr], "--rate-limit", "1/m", "--access-log", "off")
    assert p.request("GET", "/")[0] == 200
    assert p.request("GET", "/")[0] == 429
    for path in ["/health", "/ready", "/info", "/metrics"] * 10:
        assert p.admin(path)[0] == 200
    assert p.request("GET", "/")[0] == 429


def test_no_rate_limit_by_default(echo, proxy):
    e = echo("--access-log", "off")
    p = proxy([e.addr], "--access-log", "off")
    c = p.conn()
    try:
        assert {get(c)[0] for _ in range(200)} == {200}
    finally:
        c.close()
    assert "rate_limit" not in p.admin("/info")[1]
    assert "lb_proxy_rate_limited_total" not in p.admin("/metrics")[1]


@pytest.mark.parametrize("flags,message", [
    (["--rate-limit", "10"], '--rate-limit: "10" is not N/s or N/m'),
    (["--rate-limit", "0/s"], '--rate-limit: "0/s" is not N/s or N/m'),
    (["--rate-limit", "5/h"], '--rate-limit: "5/h" is not N/s or N/m'),
    (["--rate-limit", "1.5/s"], '--rate-limit: "1.5/s" is not N/s or N/m'),
    (["--rate-limit", "5/s", "--rate-burst", "0"], '--rate-burst "0": must be an integer'),
    (["--rate-limit", "5/s", "--rate-key", "cookie:sid"],
     '--rate-key: "cookie:sid" is not client-ip or header:NAME'),
    (["--rate-limit", "5/s", "--rate-key", "header:"], "--rate-key: "),
    # a header name is an RFC 9110 token: with CR LF in it every client went
    # into one bucket, and --check-config passed it
    (["--rate-limit", "5/s", "--rate-key", "header:X\r\n"],
     '--rate-key: "header:X\\r\\n" is not client-ip or header:NAME'),
    (["--rate-limit", "5/s", "--rate-key", "header:X Y"],
     '--rate-key: "header:X Y" is not client-ip or header:NAME'),
    (["--hash-key", "header:X\n", "--balance", "maglev"], '--hash-key: "header:X\\n" is not a hash key'),
    (["--sticky-cookie", "a\r\nb"], '--sticky-cookie: "a\\r\\nb" is not a cookie name'),
    (["--rate-limit", "5/s", "--rate-table-size", "0"], '--rate-table-size "0": must be'),
    (["--rate-burst", "5"], "--rate-burst needs --rate-limit N/s or N/m"),
    (["--rate-key", "client-ip"], "--rate-key needs --rate-limit"),
    (["--rate-table-size", "10"], "--rate-table-size needs --rate-limit"),
])
def test_bad_rate_flags_are_clear_errors(flags, message):
    r = subprocess.run([binary("lb-proxy"), "--backends", "127.0.0.1:9", "--admin", "127.0.0.1:0",
                        "--listen", "127.0.0.1:0", *flags], capture_output=True, text=True,
                       timeout=10 * SLOW)
    assert r.returncode == 2, r.stderr
    assert message in r.stderr, r.stderr


# ---- fleet-wide, on the bus -------------------------------------------------

def rate_info(p):
    return p.admin("/info")[1]["rate_limit"]


def test_a_client_spread_over_two_proxies_gets_the_limit_in_total(echo, discover, proxy,
                                                                  rundir):
    """100/m shared by two proxies: each enforces 50/m with a burst of 50. A
    client alternating between them is admitted about 100 times in total
    (without the share it would be 200). 100/m refills 1.7 a second for the
    whole fleet, so the test's few seconds add a handful at most."""
    e = echo("--access-log", "off")
    discover("--static", e.addr, "--no-health-check")
    flags = ["--runtime-dir", rundir, "--rate-limit", "100/m", "--rate-key", "header:X-Client",
             "--access-log", "off"]
    p1, p2 = proxy(None, *flags), proxy(None, *flags)
    for p in (p1, p2):
        wait_for("two proxies heard", lambda p=p: rate_info(p)["proxies"] == 2, timeout=10)
        info = rate_info(p)
        assert info["effective"] == "50/m" and info["effective_burst"] == 50
        assert "lb_proxy_rate_limit_proxies 2\n" in p.admin("/metrics")[1]
    conns = [p1.conn(), p2.conn()]
    admitted = refused = 0
    started = time.monotonic()
    try:
        for i in range(300):
            status = get(conns[i % 2], headers={"X-Client": "spread"})[0]
            assert status in (200, 429)
            admitted += status == 200
            refused += status == 429
    finally:
        for c in conns:
            c.close()
    took = time.monotonic() - started
    print(f"fleet of 2, 100/m: {admitted} of 300 admitted in {took:.2f} s")
    assert admitted + refused == 300
    assert abs(admitted - 100) <= 15, (admitted, took)
    assert admitted <= 100 + took * 100 / 60 + 2, (admitted, took)
    assert p1.admin("/info")[1]["rate_limit"]["limited"] > 0
    assert p2.admin("/info")[1]["rate_limit"]["limited"] > 0


def test_the_share_follows_the_proxies_and_keeps_the_generation(echo, discover, proxy, rundir):
    """A proxy that joins raises every proxy's count at once (a set is
    published on it), one that stops lowers it once lb-discover forgets it;
    the count changes no generation."""
    e = echo("--access-log", "off")
    # heartbeat 0.05: lb-discover forgets a proxy 5 heartbeats + 2 s after
    # its last report
    discover("--static", e.addr, "--no-health-check", "--heartbeat", "0.05")
    flags = ["--runtime-dir", rundir, "--rate-limit", "60/s", "--heartbeat", "0.2",
             "--access-log", "off"]
    p1 = proxy(None, *flags)
    wait_for("the set", lambda: p1.admin("/info")[1]["generation"] >= 1)
    gen = p1.admin("/info")[1]["generation"]
    wait_for("one proxy", lambda: rate_info(p1)["proxies"] == 1)
    p2 = proxy(None, *flags)
    wait_for("two proxies", lambda: rate_info(p1)["proxies"] == 2, timeout=10)
    assert rate_info(p1)["effective"] == "30/s"
    assert p1.admin("/info")[1]["generation"] == gen
    p1.proc.wait_log(r"rate limit shared by the proxies proxies=2 effective=30/s burst=30")
    assert p2.proc.stop() == 0
    p2.proc.expect_exit = 0
    wait_for("one proxy again", lambda: rate_info(p1)["proxies"] == 1, timeout=15)
    assert rate_info(p1)["effective"] == "60/s"
    assert p1.admin("/info")[1]["generation"] == gen


def test_backends_mode_enforces_its_own_limit(echo, proxy):
    e = echo("--access-log", "off")
    p = proxy([e.addr], "--rate-limit", "3/m", "--access-log", "off")
    assert rate_info(p)["proxies"] == 1 and rate_info(p)["effective"] == "3/m"
