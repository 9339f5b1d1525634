"""TLS termination on lb-proxy's client listener (--tls-cert/--tls-key):
real clients (curl, openssl s_client, Python's ssl) against certificates the
test makes with the openssl CLI: a root CA, an intermediate, and leaves for
localhost/127.0.0.1 (ECDSA P-256 and RSA) sent with their chain."""
import hashlib
import http.client
import os
import shutil
import socket
import ssl
import subprocess
import time

import pytest

from conftest import SLOW, PipeLines, binary, raw_exchange, recv_exactly, recv_until, wait_for
from rawbackend import RawBackend, ok, serve_each

LEAF_EXT = ("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
            "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
# lb-echo echoes bytes of a non-JSON type as they are
OCTETS = {"Content-Type": "application/octet-stream"}
CA_EXT = "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n"


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def new_key(cwd, name, kind):
    if kind == "rsa":
        openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out",
                name, cwd=cwd)
    else:
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out",
                name, cwd=cwd)


def sign(cwd, name, key, subject, ca, ext, days="2"):
    """name.pem: a certificate for key signed by ca (a name: ca.pem/ca.key)."""
    with open(os.path.join(cwd, name + ".ext"), "w") as f:
        f.write(ext)
    openssl("req", "-new", "-key", key, "-subj", subject, "-out", name + ".csr", cwd=cwd)
    openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key",
            "-CAcreateserial", "-days", days, "-extfile", name + ".ext", "-out", name + ".pem",
            cwd=cwd)


class Certs:
    def __init__(self, d):
        self.dir = d

    def path(self, name):
        return os.path.join(self.dir, name)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """root.pem (the CA clients trust), an intermediate, and for each leaf
    NAME.key and NAME-chain.pem (leaf then intermediate): ecdsa, rsa, expired;
    other.key matches none; garbage.pem is not PEM."""
    if not shutil.which("openssl"):
        pytest.skip("the openssl command is needed (make test-deps)")
    d = str(tmp_path_factory.mktemp("tls"))
    new_key(d, "root.key", "ec")
    openssl("req", "-x509", "-new", "-key", "root.key", "-subj", "/CN=lb test root", "-days",
            "2", "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
            "keyUsage=critical,keyCertSign,cRLSign", "-out", "root.pem", cwd=d)
    new_key(d, "inter.key", "ec")
    sign(d, "inter", "inter.key", "/CN=lb test intermediate", "root", CA_EXT)
    for name, kind, days in (("ecdsa", "ec", "2"), ("rsa", "rsa", "2"), ("expired", "ec", "-1")):
        new_key(d, name + ".key", kind)
        sign(d, name, name + ".key", "/CN=localhost", "inter", LEAF_EXT, days)
        with open(os.path.join(d, name + "-chain.pem"), "w") as out:
            for part in (name + ".pem", "inter.pem"):
                with open(os.path.join(d, part)) as f:
                    out.write(f.read())
    new_key(d, "other.key", "ec")
    with open(os.path.join(d, "garbage.pem"), "w") as f:
        f.write("this is not a certificate\n")
    return Certs(d)


@pytest.fixture
def tls_proxy(proxy, certs):
    """start(backends, *flags, leaf="ecdsa") -> a Proxy whose client port speaks TLS."""
    def start(backends, *flags, leaf="ecdsa"):
        return proxy(backends, "--tls-cert", certs.path(leaf + "-chain.pem"), "--tls-key",
                     certs.path(leaf + ".key"), *flags)
    return start


def client_context(certs, **versions):
    ctx = ssl.create_default_context(cafile=certs.path("root.pem"))
    for k, v in versions.items():
        setattr(ctx, k, v)
    return ctx


def https(px, certs, timeout=10):
    return http.client.HTTPSConnection("localhost", px.port, timeout=timeout * SLOW,
                                       context=client_context(certs))


def curl(certs, *args):
    r = subprocess.run(["curl", "-sS", "--cacert", certs.path("root.pem"), *args],
                       capture_output=True, timeout=30 * SLOW)
    return r.returncode, r.stdout, r.stderr.decode()


@pytest.mark.parametrize("leaf", ["ecdsa", "rsa"])
def test_curl_get_and_post_over_tls(echo, tls_proxy, certs, leaf):
    e = echo()
    px = tls_proxy([e.addr], leaf=leaf)
    url = f"https://localhost:{px.port}"
    code, out, err = curl(certs, "-o", "/dev/null", "-w", "%{http_code} %{ssl_verify_result}",
                          url + "/health")
    assert code == 0, err
    assert out == b"200 0"
    code, out, err = curl(certs, "--data-binary", "hello over tls", url + "/echo")
    assert code == 0, err
    assert out == b"hello over tls"
    # the access log says the request came over TLS
    px.proc.wait_log(r'request="POST /echo" status=200 .* tls="1\.3"')


def test_keep_alive_several_requests_on_one_connection(echo, tls_proxy, certs):
    e = echo()
    px = tls_proxy([e.addr])
    c = https(px, certs)
    try:
        socks = set()
        for i in range(5):
            c.request("POST", "/echo", body=b"request %d" % i, headers=OCTETS)
            r = c.getresponse()
            assert r.status == 200
            assert r.read() == b"request %d" % i
            socks.add(id(c.sock))
        assert len(socks) == 1
    finally:
        c.close()
    # pipelined: three requests in one TLS write, three answers in order
    raw = socket.create_connection(("127.0.0.1", px.port), timeout=10 * SLOW)
    s = client_context(certs).wrap_socket(raw, server_hostname="localhost")
    try:
        s.sendall(b"".join(b"POST /echo HTTP/1.1\r\nHost: x\r\n"
                           b"Content-Type: application/octet-stream\r\n"
                           b"Content-Length: 2\r\n\r\np%d" % i for i in range(3)))
        got = b""
        while got.count(b"HTTP/1.1 200") < 3 or not got.endswith(b"p2"):
            data = s.recv(65536)
            assert data, got
            got += data
        assert got.index(b"p0") < got.index(b"p1") < got.index(b"p2")
    finally:
        s.close()


def recv_until_close(s):
    got = b""
    while True:
        data = s.recv(65536)
        if not data:
            return got
        got += data


def tls_socket(px, certs):
    raw = socket.create_connection(("127.0.0.1", px.port), timeout=10 * SLOW)
    return client_context(certs).wrap_socket(raw, server_hostname="localhost")


def test_upgrade_is_tunnelled_over_tls(echo, tls_proxy, certs):
    e = echo()
    px = tls_proxy([e.addr])
    s = tls_socket(px, certs)
    try:
        s.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                  b"Connection: Upgrade\r\n\r\nhello")
        assert recv_until(s, b"hello").startswith(b"HTTP/1.1 101 ")
        for msg in [b"frame-1", b"\x81\x05bytes" * 30000]:
            s.sendall(msg)
            assert recv_exactly(s, len(msg)) == msg
    finally:
        s.close()


def s_client(port, certs, *args, data=b""):
    r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername",
                        "localhost", "-CAfile", certs.path("root.pem"), "-verify_return_error",
                        *args], input=data, capture_output=True, timeout=30 * SLOW)
    return r.returncode, r.stdout.decode("utf-8", "replace") + r.stderr.decode("utf-8", "replace")


@pytest.mark.parametrize("version,name", [("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")])
def test_s_client_tls12_and_tls13_with_alpn(echo, tls_proxy, certs, version, name):
    e = echo()
    px = tls_proxy([e.addr])
    code, out = s_client(px.port, certs, version, "-alpn", "h2,http/1.1", "-ign_eof",
                         data=b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert code == 0, out
    assert f"Protocol  : {name}" in out or f"New, {name}" in out, out
    assert "ALPN protocol: http/1.1" in out, out
    assert "Verify return code: 0 (ok)" in out, out
    assert "HTTP/1.1 200" in out, out


def test_key_update_mid_connection(echo, tls_proxy, certs):
    """TLS 1.3 KeyUpdate asking the proxy to update too (s_client's K): the
    proxy sends its own (a record written for a read) and the connection goes on."""
    e = echo()
    px = tls_proxy([e.addr])
    p = subprocess.Popen(["openssl", "s_client", "-connect", f"127.0.0.1:{px.port}", "-crlf",
                          "-tls1_3", "-servername", "localhost", "-CAfile", certs.path("root.pem")],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True)
    out = PipeLines(p.stdout)
    try:
        def send(text):
            p.stdin.write(text)
            p.stdin.flush()

        send("GET /health HTTP/1.1\nHost: x\n\n")
        wait_for("the first answer", lambda: out.text().count("HTTP/1.1 200") == 1)
        send("K\n")
        wait_for("the key update", lambda: "KEYUPDATE" in out.text())
        send("GET /health HTTP/1.1\nHost: x\n\n")
        wait_for("the answer after the key update",
                 lambda: out.text().count("HTTP/1.1 200") == 2)
    finally:
        p.stdin.close()
        p.wait(10 * SLOW)
    assert "bad request" not in out.text()


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated")
def test_tls11_is_refused(echo, tls_proxy, certs):
    e = echo()
    px = tls_proxy([e.addr])
    code, out = s_client(px.port, certs, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0")
    assert code != 0, out
    assert "alert protocol version" in out or "no protocols available" in out, out
    ctx = client_context(certs)
    ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    ctx.set_ciphers("DEFAULT@SECLEVEL=0")
    with pytest.raises(ssl.SSLError):
        with socket.create_connection(("127.0.0.1", px.port), timeout=10 * SLOW) as raw:
            ctx.wrap_socket(raw, server_hostname="localhost")
    # the proxy still serves
    code, out, err = curl(certs, f"https://localhost:{px.port}/health")
    assert code == 0, err


def test_backend_sees_x_forwarded_proto_https(proxy, tls_proxy, certs):
    be = RawBackend(serve_each(lambda head, headers, body: ok()))
    try:
        px = tls_proxy([be.addr])
        c = https(px, certs)
        c.request("GET", "/", headers={"X-Forwarded-Proto": "gopher"})
        assert c.getresponse().read() == b"ok"
        c.close()
        plain = proxy([be.addr])
        assert plain.request("GET", "/")[0] == 200
        protos = [headers["x-forwarded-proto"] for _, headers, _ in be.requests]
        assert protos == [["https"], ["http"]]
    finally:
        be.close()


def test_plain_http_on_the_tls_port_gets_400_and_a_clean_close(echo, tls_proxy, certs):
    e = echo()
    px = tls_proxy([e.addr])
    t0 = time.time()
    data, closed = raw_exchange(px.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", timeout=5)
    assert closed, data
    assert data.startswith(b"HTTP/1.1 400 "), data
    assert b"TLS" in data
    assert time.time() - t0 < 4 * SLOW


def test_handshake_timeout_closes_a_silent_client(echo, tls_proxy, certs):
    e = echo()
    px = tls_proxy([e.addr], "--tls-handshake-timeout", "0.5", "--keepalive-timeout", "30")
    s = socket.create_connection(("127.0.0.1", px.port), timeout=10 * SLOW)
    try:
        t0 = time.time()
        assert s.recv(100) == b""
        elapsed = time.time() - t0
        assert 0.4 <= elapsed < 3 * SLOW, elapsed
    finally:
        s.close()
    # half a ClientHello is no better
    hello = socket.create_connection(("127.0.0.1", px.port), timeout=10 * SLOW)
    try:
        hello.sendall(b"\x16\x03\x01\x02\x00\x01")
        t0 = time.time()
        try:
            got = hello.recv(100)
        except ConnectionResetError:
            got = b""
        assert got == b""
        assert time.time() - t0 < 3 * SLOW
    finally:
        hello.close()
    code, out, err = curl(certs, f"https://localhost:{px.port}/health")
    assert code == 0, err


def start_bad(cert, key):
    argv = [binary("lb-proxy"), "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
            "--backends", "127.0.0.1:9"]
    if cert:
        argv += ["--tls-cert", cert]
    if key:
        argv += ["--tls-key", key]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30 * SLOW)


@pytest.mark.parametrize("cert,key,names,problem", [
    ("missing.pem", "ecdsa.key", "missing.pem", "cannot read it"),
    ("garbage.pem", "ecdsa.key", "garbage.pem", "not a PEM certificate"),
    ("ecdsa-chain.pem", "garbage.pem", "garbage.pem", "not a PEM private key"),
    ("ecdsa-chain.pem", "missing.key", "missing.key", "cannot read it"),
    ("ecdsa-chain.pem", "other.key", "other.key", "does not match the certificate"),
    ("ecdsa-chain.pem", "rsa.key", "rsa.key", "does not match the certificate"),
    ("ecdsa-chain.pem", None, "--tls-key", "together"),
])
def test_bad_certificate_or_key_exits_2_naming_the_file(certs, cert, key, names, problem):
    r = start_bad(cert and certs.path(cert), key and certs.path(key))
    assert r.returncode == 2, r.stderr
    assert names in r.stderr and problem in r.stderr, r.stderr
    assert "AddressSanitizer" not in r.stderr and "runtime error" not in r.stderr, r.stderr


def test_expired_certificate_is_served_with_a_warning_and_refused_by_clients(echo, tls_proxy,
                                                                             certs):
    e = echo()
    px = tls_proxy([e.addr], leaf="expired")
    px.proc.wait_log(r"WARN the TLS certificate has expired.*expired-chain\.pem")
    with pytest.raises(ssl.SSLCertVerificationError, match="expired"):
        with socket.create_connection(("127.0.0.1", px.port), timeout=10 * SLOW) as raw:
            client_context(certs).wrap_socket(raw, server_hostname="localhost")


def test_session_resumption(echo, tls_proxy, certs):
    e = echo()
    px = tls_proxy([e.addr])
    for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        ctx = client_context(certs, maximum_version=version)
        session = None
        for _ in range(2):
            raw = socket.create_connection(("127.0.0.1", px.port), timeout=10 * SLOW)
            s = ctx.wrap_socket(raw, server_hostname="localhost", session=session)
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert recv_until_close(s).startswith(b"HTTP/1.1 200")
            reused = s.session_reused
            session = s.session
            s.close()
        assert reused, version


def test_large_download_and_upload_byte_exact(echo, tls_proxy, certs):
    e = echo()
    px = tls_proxy([e.addr])
    size = 1 << 20
    expected = e.request("GET", f"/bytes/{size}")[2]
    assert len(expected) == size
    # a slow reader: the proxy's TLS writes block and resume (WANT_WRITE)
    c = https(px, certs)
    try:
        c.request("GET", f"/bytes/{size}")
        r = c.getresponse()
        assert r.status == 200
        got = bytearray()
        while True:
            chunk = r.read(65536)
            if not chunk:
                break
            got += chunk
            if len(got) < size // 4:
                time.sleep(0.005)
        assert len(got) == size
        assert hashlib.sha256(got).digest() == hashlib.sha256(expected).digest()
        # and the upload, on the same connection
        body = os.urandom(size)
        c.request("POST", "/echo", body=body, headers=OCTETS)
        r = c.getresponse()
        assert r.status == 200
        echoed = r.read()
        assert len(echoed) == size
        assert echoed == body
    finally:
        c.close()
    code, out, err = curl(certs, f"https://localhost:{px.port}/bytes/{size}")
    assert code == 0, err
    assert out == expected


def test_sticky_cookie_is_secure_for_tls_clients(echo, tls_proxy, certs):
    """A TLS client's sticky cookie carries Secure (so it never travels in
    clear); the plain port's does not."""
    e = echo(env={"POD_NAME": "one"})
    px = tls_proxy([e.addr], "--sticky-cookie", "srv", "--sticky-secret", "k")
    c = https(px, certs)
    c.request("GET", "/")
    r = c.getresponse()
    r.read()
    assert r.status == 200
    assert r.getheader("Set-Cookie").endswith("; Path=/; HttpOnly; Secure")
    c.close()
