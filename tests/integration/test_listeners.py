"""Two client listeners at once (--listen tls:ADDR --listen ADDR): TLS on one,
plain HTTP on the other, --redirect-https answering 308 on the plain one, the
flag checks, and --takeover of a proxy with both listeners."""
import http.client
import json
import os
import re
import signal
import subprocess

from conftest import SLOW, binary, raw_exchange, split_responses
from support.net import free_port
from support.rawbackend import RawBackend, ok, serve_each
from test_takeover import Load
from test_tls import certs, client_context, curl  # noqa: F401 (certs is a fixture)


def tls_flags(certs):
    return ["--tls-cert", certs.path("ecdsa-chain.pem"), "--tls-key", certs.path("ecdsa.key")]


class Two:
    """A proxy with a TLS and a plain listener on ephemeral ports."""

    def __init__(self, procs, certs, backends, *flags, tls_listen="127.0.0.1:0",
                 plain_listen="127.0.0.1:0"):
        argv = [binary("lb-proxy"), "--listen", "tls:" + tls_listen, "--listen", plain_listen,
                "--admin", "127.0.0.1:0", "--backends", ",".join(backends),
                *tls_flags(certs), *flags]
        self.proc = procs(argv)
        self.admin_port = int(self.proc.wait_log(
            r"admin listening admin=127\.0\.0\.1:(\d+)").group(1))
        self.tls_port = int(self.proc.wait_log(
            r"INFO listening listen=127\.0\.0\.1:(\d+) backends=\d+ tls=on").group(1))
        self.plain_port = int(self.proc.wait_log(
            r"INFO listening listen=127\.0\.0\.1:(\d+) backends=\d+(?: redirect=https)?\n").group(1))


def admin_get(port, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10 * SLOW)
    try:
        c.request("GET", path)
        return c.getresponse().read()
    finally:
        c.close()


def test_info_and_metrics_list_the_listeners(procs, certs):
    be = RawBackend(serve_each(lambda head, headers, body: ok()))
    try:
        two = Two(procs, certs, [be.addr], "--redirect-https")
        info = json.loads(admin_get(two.admin_port, "/info"))
        assert info["listeners"] == [
            {"address": f"127.0.0.1:{two.tls_port}", "tls": True, "redirect_https": False},
            {"address": f"127.0.0.1:{two.plain_port}", "tls": False, "redirect_https": True}]
        metrics = admin_get(two.admin_port, "/metrics").decode()
        assert (f'lb_proxy_listener_info{{address="127.0.0.1:{two.tls_port}",tls="1",'
                f'redirect_https="0"}} 1') in metrics
        assert (f'lb_proxy_listener_info{{address="127.0.0.1:{two.plain_port}",tls="0",'
                f'redirect_https="1"}} 1') in metrics
    finally:
        be.close()


def test_listen_twice_from_the_environment_and_the_file(procs, certs, tmp_path):
    """The environment takes one listener a line; the file an array."""
    be = RawBackend(serve_each(lambda head, headers, body: ok()))
    try:
        for how in ("env", "file"):
            argv = [binary("lb-proxy"), "--admin", "127.0.0.1:0", "--backends", be.addr,
                    *tls_flags(certs)]
            env = dict(os.environ)
            if how == "env":
                env["LB_PROXY_LISTEN"] = "tls:127.0.0.1:0\n127.0.0.1:0"
            else:
                f = tmp_path / "proxy.json"
                f.write_text(json.dumps({"listen": ["tls:127.0.0.1:0", "127.0.0.1:0"]}))
                argv += ["--config", str(f)]
            p = procs(argv, env=env)
            tls_port = int(p.wait_log(r"listening listen=127\.0\.0\.1:(\d+) backends=1 "
                                      r"tls=on").group(1))
            plain_port = int(p.wait_log(r"listening listen=127\.0\.0\.1:(\d+) "
                                        r"backends=1\n").group(1))
            code, out, err = curl(certs, f"https://localhost:{tls_port}/")
            assert code == 0 and out == b"ok", (how, err)
            c = http.client.HTTPConnection("127.0.0.1", plain_port, timeout=10 * SLOW)
            c.request("GET", "/")
            assert c.getresponse().read() == b"ok"
            c.close()
    finally:
        be.close()


def test_both_listeners_serve_and_say_their_proto(procs, certs):
    be = RawBackend(serve_each(lambda head, headers, body: ok()))
    try:
        two = Two(procs, certs, [be.addr])
        code, out, err = curl(certs, f"https://localhost:{two.tls_port}/over-tls")
        assert code == 0 and out == b"ok", err
        r = subprocess.run(["curl", "-sS", f"http://127.0.0.1:{two.plain_port}/plain"],
                           capture_output=True, timeout=30 * SLOW)
        assert r.returncode == 0 and r.stdout == b"ok", r.stderr
        # plain HTTP on the TLS one is refused as on any TLS listener
        data, closed = raw_exchange(two.tls_port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert closed and data.startswith(b"HTTP/1.1 400 "), data
        protos = {head.split(b" ")[1]: headers["x-forwarded-proto"]
                  for head, headers, _ in be.requests}
        assert protos == {b"/over-tls": ["https"], b"/plain": ["http"]}
    finally:
        be.close()


def redirect_of(port, request):
    data, closed = raw_exchange(port, request, until_close=False)
    (status, hdrs, body), = split_responses(data)
    return status, hdrs, body


def test_redirect_https_answers_308_on_the_plain_listener_and_never_forwards(procs, certs):
    be = RawBackend(serve_each(lambda head, headers, body: ok()))
    try:
        two = Two(procs, certs, [be.addr], "--redirect-https", "--monitor-uri", "/health")
        c = http.client.HTTPConnection("127.0.0.1", two.plain_port, timeout=10 * SLOW)
        try:
            c.request("GET", "/a/b?x=1&y=2", headers={"Host": "shop.example:8080"})
            r = c.getresponse()
            body = r.read()
            assert r.status == 308 and r.reason == "Permanent Redirect"
            assert r.getheader("Location") == f"https://shop.example:{two.tls_port}/a/b?x=1&y=2"
            assert r.getheader("Connection") == "keep-alive" and body
            sock = c.sock
            # HEAD: the same answer without a body; the connection stays
            c.request("HEAD", "/", headers={"Host": "shop.example"})
            r = c.getresponse()
            assert r.status == 308 and r.read() == b""
            assert r.getheader("Location") == f"https://shop.example:{two.tls_port}/"
            # --monitor-uri is still answered on the plain listener
            c.request("GET", "/health", headers={"Host": "shop.example"})
            r = c.getresponse()
            assert r.status == 200 and b"healthy" in r.read()
            assert c.sock is sock
        finally:
            c.close()
        # a POST: 308 keeps the method and body (RFC 9110 15.4.9); its body is not
        # forwarded, and as with the proxy's other answers to a request with a
        # body, the connection closes after it: the body is never read as a request
        smuggled = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
        data, closed = raw_exchange(
            two.plain_port,
            b"POST /form HTTP/1.1\r\nHost: shop.example\r\nContent-Length: %d\r\n\r\n%s"
            % (len(smuggled), smuggled))
        answers = split_responses(data)
        assert closed and [(st, h["location"], h["connection"]) for st, h, _ in answers] == [
            (308, f"https://shop.example:{two.tls_port}/form", "close")], data
        # no Host (HTTP/1.0): nothing to redirect to
        data, closed = raw_exchange(two.plain_port, b"GET / HTTP/1.0\r\n\r\n")
        assert data.startswith(b"HTTP/1.1 400 "), data
        # the TLS listener forwards as usual
        code, out, err = curl(certs, f"https://localhost:{two.tls_port}/served")
        assert code == 0 and out == b"ok", err
        assert [head.split(b" ")[1] for head, _, _ in be.requests] == [b"/served"]
        two.proc.wait_log(r'request="GET /a/b\?x=1&y=2" status=308 backend=\S+')
    finally:
        be.close()


def test_redirect_to_443_leaves_the_port_out(procs, certs):
    """The TLS listener on port 443 is not always bindable here: the port
    part is checked with the port the proxy knows (the unit test covers 443)."""
    be = RawBackend(serve_each(lambda head, headers, body: ok()))
    try:
        two = Two(procs, certs, [be.addr], "--redirect-https")
        status, hdrs, _ = redirect_of(two.plain_port,
                                      b"GET /?q HTTP/1.1\r\nHost: [::1]:80\r\n\r\n")
        assert status == 308 and hdrs["location"] == f"https://[::1]:{two.tls_port}/?q"
    finally:
        be.close()


def run_proxy(*args):
    return subprocess.run([binary("lb-proxy"), "--backends", "127.0.0.1:1", "--admin",
                           "127.0.0.1:0", *args, "--check-config"], capture_output=True,
                          text=True, timeout=30 * SLOW)


def test_listen_flag_errors_exit_2(certs):
    tls = tls_flags(certs)
    cases = [
        (["--listen", "127.0.0.1:1", "--listen", "127.0.0.1:2", "--listen", "127.0.0.1:3"],
         r"--listen"),
        (["--listen", "tls:127.0.0.1:1", "--listen", "tls:127.0.0.1:2", *tls],
         r"--listen: at most one listener speaks TLS"),
        (["--listen", "127.0.0.1:1", "--listen", "127.0.0.1:2", *tls],
         r"--listen: with two listeners and TLS files, mark the TLS one tls:ADDR:PORT"),
        (["--listen", "tls:127.0.0.1:1"], r"--listen: a tls:ADDR:PORT listener needs --tls-cert"),
        (["--listen", "127.0.0.1:1", "--listen", "127.0.0.1:2", "--redirect-https"],
         r"--redirect-https needs a TLS listener and a plain one"),
        (["--listen", "127.0.0.1:1", "--redirect-https", *tls],
         r"--redirect-https needs a TLS listener and a plain one"),
        (["--listen", "tls:nonsense", "--listen", "127.0.0.1:2", *tls], r"--listen: "),
    ]
    for args, want in cases:
        r = run_proxy(*args)
        assert r.returncode == 2, (args, r.stderr)
        assert re.search(want, r.stderr), (args, r.stderr)
    ok = run_proxy("--listen", "tls:127.0.0.1:1", "--listen", "127.0.0.1:2", "--redirect-https",
                   *tls)
    assert ok.returncode == 0, ok.stderr


def test_takeover_of_two_listeners_fails_no_request_on_either(procs, echo, rundir, certs):
    backends = [echo("--access-log", "off")]
    tls_port, plain_port = free_port(), free_port()

    def start(takeover=False):
        argv = [binary("lb-proxy"), "--listen", f"tls:127.0.0.1:{tls_port}", "--listen",
                f"127.0.0.1:{plain_port}", "--admin", "127.0.0.1:0", "--backends",
                backends[0].addr, "--runtime-dir", rundir, "--access-log", "off",
                *tls_flags(certs)] + (["--takeover"] if takeover else [])
        p = procs(argv)
        p.wait_log(r"takeover socket ready path=")
        return p

    old = start()
    plain = Load(plain_port, close_clients=2, keepalive_clients=2)
    tls_ok, tls_failures = [0], []
    ctx = client_context(certs)

    def tls_get():
        try:
            c = http.client.HTTPSConnection("localhost", tls_port, timeout=10 * SLOW, context=ctx)
            c.request("GET", "/tls")
            r = c.getresponse()
            r.read()
            c.close()
            if r.status == 200:
                tls_ok[0] += 1
            else:
                tls_failures.append(r.status)
        except (OSError, http.client.HTTPException) as e:
            tls_failures.append(repr(e))

    try:
        plain.wait_more(20)
        for _ in range(5):
            tls_get()
        for i in range(3):
            new = start(takeover=True)
            new.wait_log(r"INFO took over: the old proxy stopped accepting and drains old_pid="
                         + str(old.pid))
            m = new.wait_log(r"takeover: took the listening sockets old_pid=\d+ "
                             r"listen=(\S+) listen2=(\S+)")
            assert m.groups() == (f"127.0.0.1:{tls_port}", f"127.0.0.1:{plain_port}")
            old.wait_log(r"INFO taken over: not accepting any more pid=" + str(new.pid))
            assert old.p.wait(30 * SLOW) == 0, old.text()
            old = new
            for _ in range(5):
                tls_get()
            plain.wait_more(20)
    finally:
        plain.finish()
    assert not plain.failures, plain.failures[:10]
    assert not tls_failures, tls_failures[:10]
    assert tls_ok[0] == 20


def test_takeover_with_other_listeners_is_a_clear_error(procs, echo, rundir, certs):
    backend = echo("--access-log", "off")
    tls_port, plain_port = free_port(), free_port()
    old = procs([binary("lb-proxy"), "--listen", f"tls:127.0.0.1:{tls_port}", "--listen",
                 f"127.0.0.1:{plain_port}", "--admin", "127.0.0.1:0", "--backends", backend.addr,
                 "--runtime-dir", rundir, *tls_flags(certs)])
    old.wait_log(r"takeover socket ready path=")
    # the same first listener, without the second one
    r = subprocess.run([binary("lb-proxy"), "--listen", f"127.0.0.1:{tls_port}", "--admin",
                        "127.0.0.1:0", "--backends", backend.addr, "--runtime-dir", rundir,
                        *tls_flags(certs), "--takeover"], capture_output=True, text=True,
                       timeout=30 * SLOW)
    assert r.returncode == 1
    assert (f"has --listen tls:127.0.0.1:{tls_port} --listen 127.0.0.1:{plain_port}, this one "
            f"was given tls:127.0.0.1:{tls_port}: give the same --listen") in r.stderr, r.stderr
    old.wait_log(r"WARN takeover: the new proxy left before saying stop: serving on")
    code, out, err = curl(certs, "-o", "/dev/null", "-w", "%{http_code}",
                          f"https://localhost:{tls_port}/")
    assert code == 0 and out == b"200", err
    c = http.client.HTTPConnection("127.0.0.1", plain_port, timeout=10 * SLOW)
    c.request("GET", "/")
    assert c.getresponse().status == 200
    c.close()


def test_reload_keeps_the_listeners_and_the_redirect(procs, certs, tmp_path):
    be = RawBackend(serve_each(lambda head, headers, body: ok()))
    try:
        f = tmp_path / "proxy.json"
        f.write_text(json.dumps({"listen": ["tls:127.0.0.1:0", "127.0.0.1:0"],
                                 "redirectHttps": True}))
        p = procs([binary("lb-proxy"), "--admin", "127.0.0.1:0", "--backends", be.addr,
                   "--config", str(f), *tls_flags(certs)])
        tls_port = int(p.wait_log(r"listening listen=127\.0\.0\.1:(\d+) backends=1 "
                                  r"tls=on").group(1))
        plain_port = int(p.wait_log(r"listening listen=127\.0\.0\.1:(\d+) backends=1 "
                                    r"redirect=https").group(1))
        f.write_text(json.dumps({"listen": ["127.0.0.1:0"], "redirectHttps": False}))
        p.p.send_signal(signal.SIGHUP)
        p.wait_log(r"settings that cannot change at run time keep their running values .* "
                   r"settings=listen,redirectHttps")
        p.wait_log(r"INFO reloaded ")
        status, hdrs, _ = redirect_of(plain_port, b"GET /x HTTP/1.1\r\nHost: h\r\n\r\n")
        assert status == 308 and hdrs["location"] == f"https://h:{tls_port}/x"
        assert be.requests == []
    finally:
        be.close()


def test_sticky_cookie_is_secure_only_on_the_tls_listener(procs, certs, echo):
    e = echo()
    two = Two(procs, certs, [e.addr], "--sticky-cookie", "srv", "--sticky-secret", "k")
    c = http.client.HTTPSConnection("localhost", two.tls_port, timeout=10 * SLOW,
                                    context=client_context(certs))
    c.request("GET", "/")
    r = c.getresponse()
    r.read()
    assert r.status == 200 and r.getheader("Set-Cookie").endswith("; Path=/; HttpOnly; Secure")
    c.close()
    c = http.client.HTTPConnection("127.0.0.1", two.plain_port, timeout=10 * SLOW)
    c.request("GET", "/")
    r = c.getresponse()
    r.read()
    assert r.status == 200 and r.getheader("Set-Cookie").endswith("; Path=/; HttpOnly")
    c.close()
