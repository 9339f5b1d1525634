"""lb-proxy's balancing algorithms against real backends: least-request away
from a slow backend, consistent hashing by a key (and the same answer on every
proxy of a fleet), ip-hash behind trusted proxies, sticky cookies, draining
backends as a last resort, and what the access log says about retries."""
import collections
import hashlib
import hmac
import re
import threading

import pytest

from conftest import binary, ctl, raw_exchange, served_by, wait_for
from support.net import refused_addr
from support.rawbackend import RawBackend, ok, serve_each


def named_backends(n):
    """n raw backends answering 200 with X-Served-By: b<i>; each records the
    requests it got."""
    out = []
    for i in range(n):
        out.append(RawBackend(serve_each(
            lambda h, hd, b, i=i: ok(extra=b"X-Served-By: b%d\r\n" % i))))
    return out


def test_least_request_keeps_traffic_off_a_slow_backend(echo, proxy):
    """One backend 60 times slower than the others under concurrent load gets
    far less than its round-robin third (seed 002's "least connections")."""
    fast = [echo("--access-log", "off", "--delay-ms", "5", env={"POD_NAME": f"fast-{i}"})
            for i in range(2)]
    # 60 times slower: the difference holds on a loaded machine, where the fast
    # ones' few ms grow (at 100 ms it got 12.5% once, the ASan suite beside it)
    slow = echo("--access-log", "off", "--delay-ms", "300", env={"POD_NAME": "slow"})
    p = proxy([fast[0].addr, fast[1].addr, slow.addr], "--balance", "least-request",
              "--access-log", "off")
    counts = collections.Counter()
    lock = threading.Lock()

    def client():
        for i in range(40):
            who = served_by(p.request("GET", f"/{i}")[1])
            with lock:
                counts[who] += 1

    threads = [threading.Thread(target=client) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = sum(counts.values())
    assert total == 240
    print(f"least-request shares: {dict(counts)}")
    assert counts["slow"] < total * 0.12, counts


@pytest.mark.parametrize("algorithm", ["maglev", "ring-hash"])
def test_hashing_keeps_a_key_on_one_backend(three_echos, proxy, algorithm):
    """GET /user/42 six times lands on one backend (it landed on three with
    round-robin); distinct keys use every backend."""
    p = proxy([e.addr for e in three_echos], "--balance", algorithm, "--hash-key", "header:X-User")
    for user in ("42", "7", "alice"):
        seen = {served_by(p.request("GET", f"/user/{user}", headers={"X-User": user})[1])
                for _ in range(6)}
        assert len(seen) == 1, seen
    spread = {served_by(p.request("GET", "/", headers={"X-User": f"u{i}"})[1]) for i in range(60)}
    assert spread == {"echo-0", "echo-1", "echo-2"}
    status, info = p.admin("/info")
    assert info["balance"] == algorithm and info["hash_key"] == "header:X-User"


@pytest.mark.parametrize("key,request_kwargs", [
    ("path", {"path": "/a/b?x=1"}),
    ("query:user", {"path": "/q?user=42&z=1"}),
    ("cookie:uid", {"path": "/", "headers": {"Cookie": "a=1; uid=42"}}),
])
def test_hash_keys_from_path_query_and_cookie(three_echos, proxy, key, request_kwargs):
    p = proxy([e.addr for e in three_echos], "--balance", "maglev", "--hash-key", key)
    path = request_kwargs["path"]
    headers = request_kwargs.get("headers", {})
    seen = {served_by(p.request("GET", path, headers=headers)[1]) for _ in range(6)}
    assert len(seen) == 1


def test_every_proxy_of_a_fleet_maps_a_key_to_the_same_backend(three_echos, discover, proxy,
                                                               rundir):
    """Tables are built from the set sorted by address, so two proxies that got
    the same set from lb-discover agree on every key."""
    discover("--static", ",".join(e.addr for e in reversed(three_echos)))
    flags = ["--runtime-dir", rundir, "--balance", "maglev", "--hash-key", "header:X-User",
             "--access-log", "off"]
    p1 = proxy(None, *flags)
    p2 = proxy(None, *flags)
    for i in range(50):
        h = {"X-User": f"user-{i}"}
        assert served_by(p1.request("GET", "/", headers=h)[1]) == \
            served_by(p2.request("GET", "/", headers=h)[1])


def test_a_key_whose_backend_drains_moves_and_no_other_key_does(three_echos, discover, proxy,
                                                                 rundir):
    discover("--static", ",".join(e.addr for e in three_echos), "--heartbeat", "0.2")
    p = proxy(None, "--runtime-dir", rundir, "--balance", "maglev", "--hash-key", "header:X-User",
              "--access-log", "off")
    wait_for("the set", lambda: p.admin("/info")[1]["generation"] >= 1)
    keys = [f"k{i}" for i in range(60)]
    before = {k: served_by(p.request("GET", "/", headers={"X-User": k})[1]) for k in keys}
    gen = p.admin("/info")[1]["generation"]
    code, _, err = ctl(rundir, "drain", three_echos[0].addr)
    assert code == 0, err
    wait_for("the drained set", lambda: p.admin("/info")[1]["generation"] > gen)
    after = {k: served_by(p.request("GET", "/", headers={"X-User": k})[1]) for k in keys}
    for k in keys:
        if before[k] == "echo-0":
            assert after[k] != "echo-0"
        else:
            assert after[k] == before[k], k


def test_ip_hash_behind_trusted_proxies_uses_x_forwarded_for(three_echos, proxy):
    """The client behind a trusted proxy is the X-Forwarded-For entry found
    walking from the right past trusted hops; what a client prepends does not
    move it."""
    p = proxy([e.addr for e in three_echos], "--balance", "ip-hash",
              "--trusted-proxies", "127.0.0.0/8,10.9.0.0/16")
    by_client = {}
    for i in range(30):
        ip = f"192.0.2.{i}"
        by_client[ip] = served_by(p.request("GET", "/", headers={"X-Forwarded-For": ip})[1])
        assert served_by(p.request("GET", "/", headers={
            "X-Forwarded-For": f"6.6.6.6, {ip}, 10.9.1.1"})[1]) == by_client[ip]
    assert len(set(by_client.values())) == 3


def test_sticky_cookie_keeps_a_client_on_its_backend(proxy):
    """HAProxy's `cookie NAME insert indirect nocache`: the first answer sets
    the cookie; later requests carrying it go to that backend and do not carry
    it to the backend; a forged cookie is balanced and stuck again; another
    proxy with the same secret makes the same cookie."""
    bes = named_backends(3)
    flags = ["--sticky-cookie", "lbsrv", "--sticky-secret", "s3cret"]
    p = proxy([b.addr for b in bes], *flags)
    status, headers, _ = p.request("GET", "/")
    assert status == 200
    cookie = headers["Set-Cookie"]
    m = re.fullmatch(r"lbsrv=([0-9a-f]{16}); Path=/; HttpOnly", cookie)
    assert m, cookie
    assert headers.get("Cache-Control") == "private"
    home = headers["X-Served-By"]
    for _ in range(9):
        status, h, _ = p.request("GET", "/", headers={"Cookie": f"a=1; lbsrv={m.group(1)}; b=2"})
        assert h["X-Served-By"] == home and "Set-Cookie" not in h
    # the backend never sees the sticky cookie, only the others
    sent = [hd.get("cookie", [""])[0] for b in bes for _, hd, _ in b.requests]
    assert "a=1; b=2" in sent and not any("lbsrv" in c for c in sent)
    # forged or stale: balanced normally, and a new cookie is set
    status, h, _ = p.request("GET", "/", headers={"Cookie": "lbsrv=0123456789abcdef"})
    assert status == 200 and h["Set-Cookie"].startswith("lbsrv=")
    # the cookie is the keyed hash of the address (it does not spell it), so a
    # second proxy with the same secret agrees on it
    home_addr = bes[int(home[1:])].addr
    assert m.group(1) == hmac.new(b"s3cret", home_addr.encode(), hashlib.sha256).hexdigest()[:16]
    p2 = proxy([b.addr for b in bes], *flags)
    status, h, _ = p2.request("GET", "/", headers={"Cookie": f"lbsrv={m.group(1)}"})
    assert h["X-Served-By"] == home
    for b in bes:
        b.close()


def test_without_a_sticky_secret_the_cookie_is_signed_with_a_random_one(proxy):
    """Without --sticky-secret the cookie was an HMAC with an empty key: an
    address could be recovered by trying a /16 in 0.1 s. Now each process
    makes a random secret (and says what that costs a fleet)."""
    bes = named_backends(1)
    addr = bes[0].addr
    empty_key = hmac.new(b"", addr.encode(), hashlib.sha256).hexdigest()[:16]
    cookies = []
    for _ in range(2):
        p = proxy([addr], "--sticky-cookie", "lbsrv")
        p.proc.wait_log(r"WARN --sticky-cookie without --sticky-secret: this proxy signs its "
                        r"cookies with a random secret")
        status, headers, _ = p.request("GET", "/")
        assert status == 200
        cookie = re.fullmatch(r"lbsrv=([0-9a-f]{16}); Path=/; HttpOnly",
                              headers["Set-Cookie"]).group(1)
        assert cookie != empty_key
        # the same process knows its own cookie again
        status, h, _ = p.request("GET", "/", headers={"Cookie": f"lbsrv={cookie}"})
        assert status == 200 and "Set-Cookie" not in h
        cookies.append(cookie)
    assert cookies[0] != cookies[1], "two processes made the same secret"
    for b in bes:
        b.close()


@pytest.mark.parametrize("backend_cc,want", [
    # shared-cacheable: public and s-maxage go, private comes, max-age stays
    # for the client's own cache (HAProxy's `insert nocache`)
    ("public, max-age=600", ["max-age=600", "private"]),
    ("max-age=60, s-maxage=600, must-revalidate", ["max-age=60, must-revalidate", "private"]),
    ("public", ["private"]),
    # already kept from shared caches: as it was, nothing added
    ("private, max-age=5", ["private, max-age=5"]),
    ("no-store", ["no-store"]),
    (None, ["private"]),
])
@pytest.mark.parametrize("status", [200, 304])
def test_a_response_carrying_an_inserted_cookie_is_never_shared_cacheable(proxy, backend_cc,
                                                                          want, status):
    """A CDN must not store one client's sticky cookie and hand it to everyone:
    a response the proxy inserts the cookie into is made private, on 304s too."""
    cc = b"" if backend_cc is None else b"Cache-Control: " + backend_cc.encode() + b"\r\n"
    head = b"HTTP/1.1 %d %s\r\n" % (status, b"OK" if status == 200 else b"Not Modified")
    be = RawBackend(serve_each(lambda *req: head + cc + (
        b"Content-Length: 2\r\n\r\nok" if status == 200 else b"\r\n")))
    def exchange(p, cookie=None):
        """(status line, every header (name, value) in order), raw off the wire:
        a response may carry Cache-Control twice."""
        raw, closed = raw_exchange(p.port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: "
                                   b"close\r\n" + (b"Cookie: " + cookie.encode() + b"\r\n"
                                                    if cookie else b"") + b"\r\n")
        assert closed, raw
        lines = raw.split(b"\r\n\r\n")[0].decode().split("\r\n")
        return lines[0], [tuple(x.strip() for x in ln.split(":", 1)) for ln in lines[1:]]

    def values(fields, name):
        return [v for k, v in fields if k.lower() == name] or None
    try:
        p = proxy([be.addr], "--sticky-cookie", "lbsrv", "--sticky-secret", "s3cret")
        line, fields = exchange(p)
        assert line.startswith(f"HTTP/1.1 {status} "), line
        cookie = values(fields, "set-cookie")[0].split(";")[0]
        assert cookie.startswith("lbsrv=")
        assert values(fields, "cache-control") == want, fields
        # a client that has its cookie gets none: the backend's header as it was
        line, fields = exchange(p, cookie)
        assert values(fields, "set-cookie") is None, fields
        assert values(fields, "cache-control") == ([backend_cc] if backend_cc else None)
    finally:
        be.close()


def test_draining_backends_serve_when_nothing_is_up(echo, discover, proxy, rundir):
    """A single replica being replaced (serving but terminating): requests go
    to the draining backend rather than 503, as Kubernetes does with
    serving+terminating endpoints."""
    e = echo(env={"POD_NAME": "only"})
    discover("--static", e.addr, "--heartbeat", "0.2")
    p = proxy(None, "--runtime-dir", rundir)
    wait_for("the set", lambda: p.admin("/info")[1]["generation"] >= 1)
    gen = p.admin("/info")[1]["generation"]
    code, _, err = ctl(rundir, "drain", e.addr)
    assert code == 0, err
    wait_for("the drained set", lambda: p.admin("/info")[1]["generation"] > gen)
    status, headers, _ = p.request("GET", "/")
    assert status == 200 and served_by(headers) == "only"


def test_access_log_names_every_backend_tried(echo, proxy):
    """A retry never goes back to a backend already tried while another usable
    one exists, and the access log lists each one tried and why it failed."""
    dead, dead_addr = refused_addr()      # bound, never listening: connects are refused
    e = echo(env={"POD_NAME": "alive"})
    p = proxy([dead_addr, e.addr], "--retries", "2")
    for _ in range(2):
        status, headers, _ = p.request("GET", "/x")
        assert status == 200 and served_by(headers) == "alive"
    m = p.proc.wait_log(r"request=\"GET /x\" status=200 .* tried=(\S+)")
    assert m.group(1) == f"{dead_addr}:connect-refused,{e.addr}"
    dead.close()


def test_per_backend_latency_histogram(three_echos, proxy):
    p = proxy([e.addr for e in three_echos])
    for i in range(6):
        p.request("GET", f"/{i}")
    _, text = p.admin("/metrics")
    for e in three_echos:
        assert f'lb_proxy_backend_request_duration_seconds_count{{backend="{e.addr}"}} 2' in text


@pytest.mark.parametrize("flags,message", [
    (["--balance", "fastest"], "--balance"),
    (["--balance", "maglev", "--hash-key", "header:"], "--hash-key"),
    (["--balance", "maglev", "--hash-key", "body"], "--hash-key"),
    (["--trusted-proxies", "10.0.0.0/40"], "--trusted-proxies"),
    (["--trusted-proxies", "ten"], "--trusted-proxies"),
])
def test_bad_balancing_flags_are_clear_errors(flags, message):
    import subprocess
    r = subprocess.run([binary("lb-proxy"), "--backends", "127.0.0.1:9", *flags],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 2, r
    assert message in r.stderr, r.stderr


def test_slow_start_ramps_a_joining_backend(echo, discover, proxy, rundir):
    """--slow-start S: a backend that joins the set takes S seconds to reach its
    weight (HAProxy's slowstart), so right after it joins it gets well under
    its half; the first set is not ramped."""
    a = echo("--access-log", "off", env={"POD_NAME": "a"})
    b = echo("--access-log", "off", env={"POD_NAME": "b"})
    discover("--static", a.addr, "--heartbeat", "0.2")
    p = proxy(None, "--runtime-dir", rundir, "--slow-start", "4", "--access-log", "off")
    wait_for("the set", lambda: p.admin("/info")[1]["generation"] >= 1)
    assert {served_by(p.request("GET", "/")[1]) for _ in range(4)} == {"a"}
    gen = p.admin("/info")[1]["generation"]
    code, _, err = ctl(rundir, "add", b.addr)
    assert code == 0, err
    wait_for("b in the set", lambda: p.admin("/info")[1]["generation"] > gen)
    early = collections.Counter(served_by(p.request("GET", "/")[1]) for _ in range(40))
    print(f"right after joining: {dict(early)}")
    assert early["b"] < 14, early

    def at_full_weight():
        window = collections.Counter(served_by(p.request("GET", "/")[1]) for _ in range(20))
        return window["b"] == 10

    wait_for("b at its full weight", at_full_weight, timeout=10)


def test_random_spreads_by_weight(three_echos, proxy):
    """--balance random: weighted random (weights 1,1,2 here)."""
    addrs = [three_echos[0].addr, three_echos[1].addr, three_echos[2].addr + "@2"]
    p = proxy(addrs, "--balance", "random", "--access-log", "off")
    counts = collections.Counter(served_by(p.request("GET", "/")[1]) for _ in range(400))
    print(f"random shares: {dict(counts)}")
    assert set(counts) == {"echo-0", "echo-1", "echo-2"}
    assert 140 <= counts["echo-2"] <= 260 and counts["echo-0"] >= 50 and counts["echo-1"] >= 50
