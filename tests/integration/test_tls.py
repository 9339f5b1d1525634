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
from support.net import recv_until_close
from support.rawbackend import RawBackend, ok, serve_each

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
    NAME.key and NAME-chain.pem (leaf then intermediate): ecdsa, rsa, expired
    (localhost and 127.0.0.1), othername (other.test), wild (*.wild.test);
    other.key matches none; garbage.pem is not PEM; root2.pem signed none."""
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
    # leaves for other names (SNI), and a second root that signed nothing here
    for name, san in (("othername", "DNS:other.test"), ("wild", "DNS:*.wild.test")):
        new_key(d, name + ".key", "ec")
        sign(d, name, name + ".key", "/CN=" + san[4:], "inter", LEAF_EXT.replace(
            "DNS:localhost,IP:127.0.0.1", san))
        with open(os.path.join(d, name + "-chain.pem"), "w") as out:
            for part in (name + ".pem", "inter.pem"):
                with open(os.path.join(d, part)) as f:
                    out.write(f.read())
    new_key(d, "root2.key", "ec")
    openssl("req", "-x509", "-new", "-key", "root2.key", "-subj", "/CN=lb other root", "-days",
            "2", "-addext", "basicConstraints=critical,CA:TRUE", "-out", "root2.pem", cwd=d)
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
    # h2 (offered first, selected with --h2 on) is test_h2.py's
    code, out = s_client(px.port, certs, version, "-alpn", "http/1.1", "-ign_eof",
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


# ---- phase 2: SNI, reload, ticket keys, metrics, TLS to backends ---------------------------

def leaf_der(path):
    """The DER of the first certificate in a PEM file."""
    with open(path) as f:
        pem = f.read()
    end = pem.index("-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----")
    return ssl.PEM_cert_to_DER_cert(pem[:end] + "\n")


def unverified_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def served_leaf(port, certs, name="localhost", session=None, ctx=None):
    """(DER of the certificate the proxy served for SNI `name`, None: no SNI;
    whether the session was resumed; the session). A session is offered with
    the context it came from."""
    ctx = ctx or unverified_context()
    with socket.create_connection(("127.0.0.1", port), timeout=10 * SLOW) as raw:
        s = ctx.wrap_socket(raw, server_hostname=name, session=session)
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert recv_until_close(s).startswith(b"HTTP/1.1 200")
        der, reused, sess = s.getpeercert(binary_form=True), s.session_reused, s.session
        s.close()
        return der, reused, sess


def place(certs, leaf, cert_dst, key_dst):
    """Puts leaf's chain and key at the two paths by renaming (as an editor or
    cert-manager does): the key first, then the certificate."""
    for src, dst in ((certs.path(leaf + ".key"), key_dst),
                     (certs.path(leaf + "-chain.pem"), cert_dst)):
        tmp = dst + ".tmp"
        shutil.copyfile(src, tmp)
        os.rename(tmp, dst)


def k8s_secret(folder, certs, leaf, version):
    """A mounted Kubernetes TLS secret: tls.crt/tls.key -> ..data/ -> ..VERSION/;
    a new version swaps ..data by a rename, as the kubelet does."""
    os.makedirs(folder, exist_ok=True)
    real = os.path.join(folder, f"..{version}")
    os.mkdir(real)
    shutil.copyfile(certs.path(leaf + "-chain.pem"), os.path.join(real, "tls.crt"))
    shutil.copyfile(certs.path(leaf + ".key"), os.path.join(real, "tls.key"))
    tmp = os.path.join(folder, "..data_tmp")
    os.symlink(f"..{version}", tmp)
    os.rename(tmp, os.path.join(folder, "..data"))
    for f in ("tls.crt", "tls.key"):
        if not os.path.islink(os.path.join(folder, f)):
            os.symlink(f"..data/{f}", os.path.join(folder, f))


@pytest.fixture
def tls_dir(tmp_path, certs):
    """A --tls-dir: a-localhost.crt/.key (the default), b-other.crt/.key
    (other.test) and a Kubernetes secret folder c-wild/ (*.wild.test)."""
    d = tmp_path / "tls"
    d.mkdir()
    place(certs, "ecdsa", str(d / "a-localhost.crt"), str(d / "a-localhost.key"))
    place(certs, "othername", str(d / "b-other.crt"), str(d / "b-other.key"))
    k8s_secret(str(d / "c-wild"), certs, "wild", "2026_12_01_1")
    return d


def test_tls_dir_chooses_the_certificate_by_sni(echo, proxy, certs, tls_dir):
    e = echo()
    px = proxy([e.addr], "--tls-dir", str(tls_dir))
    for host in ("localhost", "other.test", "api.wild.test"):
        code, out, err = curl(certs, "--resolve", f"{host}:{px.port}:127.0.0.1", "-o",
                              "/dev/null", "-w", "%{http_code}", f"https://{host}:{px.port}/health")
        assert code == 0, (host, err)
        assert out == b"200", host
    assert served_leaf(px.port, certs, "other.test")[0] == leaf_der(certs.path("othername.pem"))
    assert served_leaf(px.port, certs, "x.wild.test")[0] == leaf_der(certs.path("wild.pem"))
    # no SNI, or a name no certificate has: the first pair
    assert served_leaf(px.port, certs, None)[0] == leaf_der(certs.path("ecdsa.pem"))
    assert served_leaf(px.port, certs, "nope.test")[0] == leaf_der(certs.path("ecdsa.pem"))
    # s_client: both versions, ALPN, verified for the name asked
    for version in ("-tls1_2", "-tls1_3"):
        code, out = s_client(px.port, certs, version, "-servername", "other.test",
                             "-verify_hostname", "other.test", "-alpn", "http/1.1", "-ign_eof",
                             data=b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert code == 0, out
        assert "Verify return code: 0 (ok)" in out and "ALPN protocol: http/1.1" in out, out
    status, info = px.admin("/info")
    got = [(c["file"].rsplit("/", 2)[-2:], c["names"], c["default"])
           for c in info["tls"]["certificates"]]
    assert got == [(["tls", "a-localhost.crt"], ["localhost"], True),
                   (["tls", "b-other.crt"], ["other.test"], False),
                   (["c-wild", "tls.crt"], ["*.wild.test"], False)], got
    assert info["tls"]["certificates"][1]["subject"] == "CN=other.test"
    # a pair copied in file by file: its certificate alone is not loaded (and
    # keeps nothing from going on), then the two are
    shutil.copyfile(certs.path("rsa-chain.pem"), tls_dir / "d-rsa.crt")
    px.proc.wait_log(r'TLS certificate not loaded error="' + str(tls_dir) +
                     r'/d-rsa\.key: cannot read it')
    assert served_leaf(px.port, certs, "other.test")[0] == leaf_der(certs.path("othername.pem"))
    shutil.copyfile(certs.path("rsa.key"), tls_dir / "d-rsa.key")
    wait_for("four certificates", lambda: len(px.admin("/info")[1]["tls"]["certificates"]) == 4)
    os.unlink(tls_dir / "d-rsa.crt")
    os.unlink(tls_dir / "d-rsa.key")
    wait_for("three again", lambda: len(px.admin("/info")[1]["tls"]["certificates"]) == 3)
    info = px.admin("/info")[1]
    assert 0 < info["tls"]["certificates"][0]["expires_in_seconds"] <= 2 * 86400
    metrics = px.admin("/metrics")[1]
    expiry = [line for line in metrics.splitlines()
              if line.startswith("lb_proxy_tls_cert_expiry_seconds{")]
    assert len(expiry) == 3, expiry
    assert 'subject="CN=*.wild.test"' in expiry[2], expiry


@pytest.mark.parametrize("layout,problem", [
    ("empty", "no NAME.crt with NAME.key"),
    ("no-key", "no a.key beside it"),
    ("bad-key", "does not match the certificate"),
    ("missing", "cannot read it"),
])
def test_bad_tls_dir_exits_2_naming_the_file(tmp_path, certs, layout, problem):
    d = tmp_path / "tls"
    if layout != "missing":
        d.mkdir()
    if layout == "no-key":
        shutil.copyfile(certs.path("ecdsa-chain.pem"), d / "a.crt")
    if layout == "bad-key":
        shutil.copyfile(certs.path("ecdsa-chain.pem"), d / "a.crt")
        shutil.copyfile(certs.path("other.key"), d / "a.key")
    r = subprocess.run([binary("lb-proxy"), "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
                        "--backends", "127.0.0.1:9", "--tls-dir", str(d)],
                       capture_output=True, text=True, timeout=30 * SLOW)
    assert r.returncode == 2, r.stderr
    assert str(d) in r.stderr and problem in r.stderr, r.stderr


def test_new_handshakes_get_a_changed_certificate_established_ones_keep_theirs(
        echo, proxy, certs, tmp_path):
    e = echo()
    cert, key = str(tmp_path / "tls.crt"), str(tmp_path / "tls.key")
    place(certs, "ecdsa", cert, key)
    px = proxy([e.addr], "--tls-cert", cert, "--tls-key", key)
    old = https(px, certs)
    old.request("GET", "/health")
    assert old.getresponse().read()
    old_der = old.sock.getpeercert(binary_form=True)
    assert old_der == leaf_der(certs.path("ecdsa.pem"))
    place(certs, "rsa", cert, key)
    wait_for("the new certificate served",
             lambda: served_leaf(px.port, certs)[0] == leaf_der(certs.path("rsa.pem")))
    px.proc.wait_log(r"INFO TLS certificates reloaded certificates=1")
    # the connection made before goes on, with the certificate it had
    for _ in range(3):
        old.request("GET", "/health")
        r = old.getresponse()
        r.read()
        assert r.status == 200
    assert old.sock.getpeercert(binary_form=True) == old_der
    old.close()


def test_a_bad_new_pair_keeps_the_old_one(echo, proxy, certs, tmp_path):
    e = echo()
    cert, key = str(tmp_path / "tls.crt"), str(tmp_path / "tls.key")
    place(certs, "ecdsa", cert, key)
    px = proxy([e.addr], "--tls-cert", cert, "--tls-key", key)
    ecdsa = leaf_der(certs.path("ecdsa.pem"))
    # a key that does not match
    shutil.copyfile(certs.path("other.key"), key + ".tmp")
    os.rename(key + ".tmp", key)
    px.proc.wait_log(r"ERROR TLS certificate not reloaded: the one loaded before is kept "
                     r'error="--tls-key ' + key + ": the key does not match")
    assert served_leaf(px.port, certs)[0] == ecdsa
    # an expired certificate (with its own key)
    place(certs, "expired", cert, key)
    px.proc.wait_log(r'error="--tls-cert ' + cert + ': the certificate has expired"')
    assert served_leaf(px.port, certs)[0] == ecdsa
    # an unreadable one
    with open(cert, "w") as f:
        f.write("garbage\n")
    px.proc.wait_log(cert + r": not a PEM certificate")
    assert served_leaf(px.port, certs)[0] == ecdsa
    assert px.admin("/info")[1]["tls"]["reload_failures"] >= 3
    # and a good one is taken
    place(certs, "rsa", cert, key)
    wait_for("the good pair served",
             lambda: served_leaf(px.port, certs)[0] == leaf_der(certs.path("rsa.pem")))


def test_a_kubernetes_secret_swap_is_reloaded(echo, proxy, certs, tmp_path):
    e = echo()
    d = tmp_path / "tls"
    k8s_secret(str(d / "site"), certs, "ecdsa", "v1")
    px = proxy([e.addr], "--tls-dir", str(d))
    assert served_leaf(px.port, certs)[0] == leaf_der(certs.path("ecdsa.pem"))
    k8s_secret(str(d / "site"), certs, "rsa", "v2")
    wait_for("the swapped secret served",
             lambda: served_leaf(px.port, certs)[0] == leaf_der(certs.path("rsa.pem")))
    # a secret mounted after start-up is picked up too
    k8s_secret(str(d / "site2"), certs, "othername", "v1")
    wait_for("the new secret served",
             lambda: served_leaf(px.port, certs, "other.test")[0] ==
             leaf_der(certs.path("othername.pem")))


def test_reload_under_load_fails_no_request(echo, proxy, certs, tmp_path):
    """Clients make new TLS connections without pause while the pair is swapped
    ten times: every request is answered 200, and both certificates were seen."""
    import threading
    e = echo()
    cert, key = str(tmp_path / "tls.crt"), str(tmp_path / "tls.key")
    place(certs, "ecdsa", cert, key)
    px = proxy([e.addr], "--tls-cert", cert, "--tls-key", key, "--access-log", "off")
    stop = threading.Event()
    results, errors, seen = [], [], set()

    def client():
        ctx = client_context(certs)
        while not stop.is_set() and len(results) < 20000:
            try:
                with socket.create_connection(("127.0.0.1", px.port), timeout=10 * SLOW) as raw:
                    s = ctx.wrap_socket(raw, server_hostname="localhost")
                    s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    got = recv_until_close(s)
                    seen.add(s.getpeercert(binary_form=True))
                    results.append(got.startswith(b"HTTP/1.1 200"))
                    s.close()
            except (OSError, ssl.SSLError) as ex:
                errors.append(repr(ex))

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        for i in range(10):
            leaf = "rsa" if i % 2 == 0 else "ecdsa"
            before = px.admin("/info")[1]["tls"]["reloads"]
            place(certs, leaf, cert, key)
            wait_for("the reload", lambda: px.admin("/info")[1]["tls"]["reloads"] > before)
            n = len(results)
            wait_for("requests after the reload", lambda: len(results) >= n + 5)
    finally:
        stop.set()
        for t in threads:
            t.join(30 * SLOW)
    assert not errors, errors[:5]
    assert results and all(results), results.count(False)
    assert seen == {leaf_der(certs.path("rsa.pem")), leaf_der(certs.path("ecdsa.pem"))}
    # (a reload may have caught the new key beside the old certificate and
    # kept the old pair: the next event, the certificate's, loads the new one)
    wait_for("the last pair served",
             lambda: served_leaf(px.port, certs)[0] == leaf_der(certs.path("ecdsa.pem")))


def ticket_keys(path, *keys):
    with open(path + ".tmp", "w") as f:
        f.write("# lb test keys\n" + "".join(k + "\n" for k in keys))
    os.rename(path + ".tmp", path)


def test_ticket_keys_shared_by_a_fleet_resume_across_proxies(echo, tls_proxy, certs, tmp_path):
    import base64
    k1, k2 = (base64.b64encode(os.urandom(80)).decode() for _ in range(2))
    k3 = base64.b64encode(os.urandom(48)).decode()
    keys = str(tmp_path / "tickets")
    ticket_keys(keys, k1)
    # s_client's session files go outside the keys' folder, made before the
    # proxies watch it: a reload they caused would pass for a rotation's below
    sessions = str(tmp_path / "sessions")
    os.mkdir(sessions)
    e = echo()
    a = tls_proxy([e.addr], "--tls-ticket-keys", keys)
    b = tls_proxy([e.addr], "--tls-ticket-keys", keys)
    lone = tls_proxy([e.addr])
    for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        ctx = client_context(certs, maximum_version=version)

        def session_from(px, session=None):
            with socket.create_connection(("127.0.0.1", px.port), timeout=10 * SLOW) as raw:
                s = ctx.wrap_socket(raw, server_hostname="localhost", session=session)
                s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                assert recv_until_close(s).startswith(b"HTTP/1.1 200")
                reused, sess = s.session_reused, s.session
                s.close()
                return reused, sess

        _, sess = session_from(a)
        assert session_from(b, sess)[0], version          # the other proxy resumes it
        assert not session_from(lone, sess)[0], version   # one without the keys does not
    # openssl s_client: a session saved from one proxy is reused by the other
    for version in ("-tls1_2", "-tls1_3"):
        sess = os.path.join(sessions, f"session{version}")
        req = b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        code, out = s_client(a.port, certs, version, "-sess_out", sess, "-ign_eof", data=req)
        assert code == 0 and "HTTP/1.1 200" in out, out
        code, out = s_client(b.port, certs, version, "-sess_in", sess, "-ign_eof", data=req)
        assert code == 0 and "Reused, TLSv1." in out, out
        code, out = s_client(lone.port, certs, version, "-sess_in", sess, "-ign_eof", data=req)
        assert code == 0 and "New, TLSv1." in out, out
    # rotation: a new first key; tickets of the old one still resume
    ctx = unverified_context()
    _, _, sess = served_leaf(a.port, certs, ctx=ctx)

    def reloads():
        return [px.admin("/info")[1]["tls"]["reloads"] for px in (a, b)]

    def rotate(*new_keys):
        """Writes the keys and waits until both proxies reloaded after it."""
        before = reloads()
        ticket_keys(keys, *new_keys)
        wait_for("both proxies reloaded", lambda: all(
            now > was for now, was in zip(reloads(), before)))
    rotate(k2, k1)
    assert served_leaf(b.port, certs, session=sess, ctx=ctx)[1]
    # the old key gone (and an AES-128 key in its place): they do not
    rotate(k3, k2)
    assert not served_leaf(b.port, certs, session=sess, ctx=ctx)[1]
    # a bad keys file keeps the keys in use
    with open(keys, "w") as f:
        f.write("not a key\n")
    a.proc.wait_log(r"TLS ticket keys not reloaded.*" + keys + ": line 1: not a key")
    _, _, sess = served_leaf(b.port, certs, ctx=ctx)
    assert served_leaf(a.port, certs, session=sess, ctx=ctx)[1]


@pytest.mark.parametrize("flags,problem", [
    (["--tls-ticket-keys", "MISSING"], "--tls-ticket-keys MISSING: cannot read it"),
    (["--tls-ticket-keys", "BAD"], "--tls-ticket-keys BAD: line 1: not a key"),
    (["--backend-ca", "CA"], "need --backend-tls"),
    (["--backend-tls", "--backend-ca", "MISSING"], "--backend-ca MISSING: not a readable"),
    (["--backend-tls", "--backend-sni", "a.test:443"], '--backend-sni "a.test:443": not a host'),
    (["--tls-dir", "MISSING"], "--tls-dir MISSING: cannot read it"),
])
def test_bad_ticket_keys_or_backend_flags_exit_2(certs, tmp_path, flags, problem):
    bad = tmp_path / "bad"
    bad.write_text("not a key\n")
    paths = {"MISSING": str(tmp_path / "missing"), "BAD": str(bad),
             "CA": certs.path("root.pem")}
    flags = [paths.get(f, f) for f in flags]
    problem = problem.replace("MISSING", paths["MISSING"]).replace("BAD", paths["BAD"])
    r = subprocess.run([binary("lb-proxy"), "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
                        "--backends", "127.0.0.1:9", "--tls-cert", certs.path("ecdsa-chain.pem"),
                        "--tls-key", certs.path("ecdsa.key"), *flags],
                       capture_output=True, text=True, timeout=30 * SLOW)
    assert r.returncode == 2, r.stderr
    assert problem in r.stderr, r.stderr


def handshakes(px, side="clients"):
    out = {}
    for line in px.admin("/metrics")[1].splitlines():
        if line.startswith(f'lb_proxy_tls_handshakes_total{{side="{side}"'):
            labels, value = line.rsplit(" ", 1)
            version = labels.split('version="')[1].split('"')[0]
            outcome = labels.split('outcome="')[1].split('"')[0]
            out[(version, outcome)] = int(value)
    return out


def metric(px, name):
    for line in px.admin("/metrics")[1].splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"no {name}")


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated")
def test_handshake_metrics_by_version_and_outcome(echo, tls_proxy, certs):
    e = echo()
    px = tls_proxy([e.addr])
    ctx13 = client_context(certs)
    ctx12 = client_context(certs, maximum_version=ssl.TLSVersion.TLSv1_2)
    for ctx in (ctx13, ctx12):
        session = None
        for _ in range(2):
            with socket.create_connection(("127.0.0.1", px.port), timeout=10 * SLOW) as raw:
                s = ctx.wrap_socket(raw, server_hostname="localhost", session=session)
                s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                recv_until_close(s)
                session = s.session
                s.close()
    code, out = s_client(px.port, certs, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0")
    assert code != 0
    h = handshakes(px)
    assert h[("1.3", "full")] == 1 and h[("1.3", "resumed")] == 1, h
    assert h[("1.2", "full")] == 1 and h[("1.2", "resumed")] == 1, h
    assert sum(v for (ver, o), v in h.items() if o == "failed") == 1, h
    assert metric(px, "lb_proxy_tls_resumption_ratio") == 0.5
    info = px.admin("/info")[1]["tls"]["handshakes"]
    assert info["1.3"] == {"full": 1, "resumed": 1, "failed": 0}, info


@pytest.fixture
def tls_backend(echo, tls_proxy):
    """A TLS backend: an lb-proxy with the ecdsa leaf (localhost, 127.0.0.1)
    in front of lb-echo."""
    return tls_proxy([echo().addr])


def test_backend_tls_verified_pooled_and_resumed(proxy, tls_backend, certs):
    be = tls_backend
    px = proxy([be.addr], "--backend-tls", "--backend-ca", certs.path("root.pem"))
    c = px.conn()
    for i in range(5):
        c.request("POST", "/echo", body=b"over tls %d" % i, headers=OCTETS)
        r = c.getresponse()
        assert r.status == 200 and r.read() == b"over tls %d" % i
    c.close()
    # one pooled connection served them: one handshake
    assert metric(be, "lb_proxy_connections_accepted_total") == 1
    assert handshakes(px, "backends")[("1.3", "full")] == 1
    # without a pool every request connects, and resumes the backend's session
    nopool = proxy([be.addr], "--backend-tls", "--backend-ca", certs.path("root.pem"),
                   "--upstream-pool-size", "0")
    for _ in range(4):
        assert nopool.request("GET", "/health")[0] == 200
    h = handshakes(nopool, "backends")
    assert h[("1.3", "full")] + h[("1.3", "resumed")] == 4, h
    assert h[("1.3", "resumed")] >= 2, h
    # a large body both ways, byte exact
    body = os.urandom(1 << 20)
    status, _, got = px.request("POST", "/echo", body=body, headers=OCTETS)
    assert status == 200 and got == body


def test_backend_tls_refuses_a_certificate_it_cannot_verify(proxy, tls_backend, certs):
    be = tls_backend
    wrong_ca = proxy([be.addr], "--backend-tls", "--backend-ca", certs.path("root2.pem"),
                     "--retries", "0")
    # a failed handshake is a failed connect (the backend is skipped for
    # --fail-timeout): with no other backend, 503 as for a refused connect
    assert wrong_ca.request("GET", "/health")[0] == 503
    wrong_ca.proc.wait_log(r'backend failed backend=127\.0\.0\.1:\d+ error="certificate '
                           r'verify failed: unable to get local issuer certificate')
    # the name checked is --backend-sni's
    wrong_name = proxy([be.addr], "--backend-tls", "--backend-ca", certs.path("root.pem"),
                       "--backend-sni", "other.test", "--retries", "0")
    assert wrong_name.request("GET", "/health")[0] == 503
    wrong_name.proc.wait_log(r"certificate verify failed: hostname mismatch")
    right_name = proxy([be.addr], "--backend-tls", "--backend-ca", certs.path("root.pem"),
                       "--backend-sni", "localhost")
    assert right_name.request("GET", "/health")[0] == 200
    # the system store does not know the test CA
    system = proxy([be.addr], "--backend-tls", "--retries", "0")
    assert system.request("GET", "/health")[0] == 503
    # insecure: anything goes, and it says so at start-up
    insecure = proxy([be.addr], "--backend-tls", "--backend-ca", certs.path("root2.pem"),
                     "--backend-tls-insecure")
    insecure.proc.wait_log(r"WARN --backend-tls-insecure: backend certificates are not verified")
    assert insecure.request("GET", "/health")[0] == 200


def test_backend_sni_chooses_the_backends_certificate(proxy, echo, certs, tls_dir):
    be = proxy([echo().addr], "--tls-dir", str(tls_dir))
    px = proxy([be.addr], "--backend-tls", "--backend-ca", certs.path("root.pem"),
               "--backend-sni", "other.test")
    assert px.request("GET", "/health")[0] == 200


def test_health_checks_over_tls(discover, proxy, echo, certs, tls_dir):
    """lb-discover --health-tls: a backend whose certificate verifies stays up;
    a wrong CA, or a name its certificate does not have, takes it down."""
    import tempfile
    from conftest import ctl_json
    be = proxy([echo().addr], "--tls-dir", str(tls_dir))

    def state(rd):
        return ctl_json(rd, "status")["backends"][0]

    cases = [
        (["--health-ca", certs.path("root.pem")], "up"),
        (["--health-ca", certs.path("root.pem"), "--health-sni", "other.test"], "up"),
        (["--health-ca", certs.path("root2.pem")], "down"),
        (["--health-ca", certs.path("root.pem"), "--health-sni", "nope.test"], "down"),
        ([], "down"),  # the system store does not know the test CA
        (["--health-ca", certs.path("root2.pem"), "--health-tls-insecure"], "up"),
    ]
    dirs = []
    try:
        for flags, _ in cases:
            rd = tempfile.mkdtemp(prefix="lb-rt-", dir="/tmp")
            dirs.append(rd)
            discover("--static", be.addr, "--health-tls", "--health-interval", "0.1",
                     "--fall", "2", "--rise", "1", *flags, runtime_dir=rd)
        # every checker has checked a few times: the requests the backend took
        wait_for("health checks made", lambda: be.admin("/info")[1]["tls"]["handshakes"]["1.3"]
                 ["full"] + be.admin("/info")[1]["tls"]["handshakes"]["1.3"]["failed"]
                 >= 4 * len(cases), timeout=10)
        for (flags, want), rd in zip(cases, dirs):
            wait_for(f"{flags}: {want}", lambda: state(rd)["state"] == want, timeout=10)
            if want == "down":
                assert "health check:" in state(rd)["reason"], state(rd)
    finally:
        for rd in dirs:
            subprocess.run(["rm", "-rf", rd])


def test_health_tls_flags_are_checked_at_start(tmp_path):
    for flags, problem in ((["--health-ca", "x.pem"], "need --health-tls"),
                           (["--health-tls", "--health-ca", str(tmp_path / "missing.pem")],
                            "missing.pem: cannot read it"),
                           (["--health-tls", "--health-sni", "a:b"], "not a host name")):
        r = subprocess.run([binary("lb-discover"), "--runtime-dir", str(tmp_path), "--static",
                            "127.0.0.1:9", *flags], capture_output=True, text=True,
                           timeout=30 * SLOW)
        assert r.returncode == 2, (flags, r.stderr)
        assert problem in r.stderr, (flags, r.stderr)


def test_resumption_off_makes_every_handshake_a_full_one(echo, tls_proxy, certs):
    e = echo()
    px = tls_proxy([e.addr], "--tls-resumption", "off")
    for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        ctx = unverified_context()
        ctx.maximum_version = version
        _, _, sess = served_leaf(px.port, certs, ctx=ctx)
        _, reused, _ = served_leaf(px.port, certs, session=sess, ctx=ctx)
        assert not reused, version
    h = handshakes(px)
    assert h[("1.2", "resumed")] == h[("1.3", "resumed")] == 0, h
    assert h[("1.2", "full")] == h[("1.3", "full")] == 2, h
    keys = subprocess.run([binary("lb-proxy"), "--listen", "127.0.0.1:0", "--admin",
                           "127.0.0.1:0", "--backends", "127.0.0.1:9", "--tls-cert",
                           certs.path("ecdsa-chain.pem"), "--tls-key", certs.path("ecdsa.key"),
                           "--tls-resumption", "off", "--tls-ticket-keys", "/dev/null"],
                          capture_output=True, text=True, timeout=30 * SLOW)
    assert keys.returncode == 2 and "not with --tls-resumption off" in keys.stderr, keys.stderr


def projected_volume(root, certs, leaf, version):
    """k8s/lb-tls.yaml's projected volume as the kubelet lays it out: the
    items under ..VERSION/, ..data -> it, default -> ..data/default; a new
    version swaps ..data by a rename."""
    real = os.path.join(root, f"..{version}", "default")
    os.makedirs(real)
    shutil.copyfile(certs.path(leaf + "-chain.pem"), os.path.join(real, "tls.crt"))
    shutil.copyfile(certs.path(leaf + ".key"), os.path.join(real, "tls.key"))
    os.symlink(f"..{version}", os.path.join(root, "..data_tmp"))
    os.rename(os.path.join(root, "..data_tmp"), os.path.join(root, "..data"))
    if not os.path.islink(os.path.join(root, "default")):
        os.symlink("..data/default", os.path.join(root, "default"))


def test_the_k8s_tls_deployment_serves_its_secret_and_follows_a_renewal(procs, echo, certs,
                                                                        tmp_path):
    """lb-proxy run with k8s/lb-tls.yaml's own flags (addresses made local),
    over its Secret's volume: HTTPS with the Secret's certificate, and the
    certificate a renewal brings."""
    import json
    import re
    manifest = os.path.join(os.path.dirname(__file__), "..", "..", "k8s", "lb-tls.yaml")
    with open(manifest) as f:
        text = f.read()
    argv = json.loads(re.search(r'command: (\["lb-proxy".*?\])', text, re.S).group(1))
    mount = re.search(r"- name: tls\n\s+mountPath: (\S+)", text).group(1)
    assert argv[argv.index("--tls-dir") + 1] == mount
    vol = str(tmp_path / "tls")
    os.mkdir(vol)
    projected_volume(vol, certs, "ecdsa", "2026_12_01_1")
    e = echo()
    local = {"/run/lb/bus": None, "0.0.0.0:9901": "127.0.0.1:0", "0.0.0.0:8443": "127.0.0.1:0",
             mount: vol}
    args = []
    skip = False
    for i, a in enumerate(argv[1:]):
        if skip:
            skip = False
            continue
        if a in ("--config", "--runtime-dir"):  # the ConfigMap and the bus: tested elsewhere
            skip = True
            continue
        args.append(local.get(a, a))
    p = procs([binary("lb-proxy"), *args, "--backends", e.addr])
    port = int(p.wait_log(r"INFO listening listen=127\.0\.0\.1:(\d+)").group(1))
    code, out, err = curl(certs, "-o", "/dev/null", "-w", "%{http_code}",
                          f"https://localhost:{port}/health")
    assert code == 0 and out == b"200", err
    assert served_leaf(port, certs)[0] == leaf_der(certs.path("ecdsa.pem"))
    projected_volume(vol, certs, "rsa", "2026_12_02_1")
    wait_for("the renewed certificate",
             lambda: served_leaf(port, certs)[0] == leaf_der(certs.path("rsa.pem")))


def test_a_client_that_said_close_notify_before_its_answer_hangs_nothing(tls_proxy, echo, certs):
    """A client sends a request, then its close_notify before the answer
    comes: the answer's write finds the peer's side ended, and the proxy's
    loop goes on serving (a write that reports nothing written must end the
    connection, never be retried in place: test_proxy_relay.c pins that)."""
    slow = echo("--delay-ms", "300")
    p = tls_proxy([slow.addr])
    s = tls_socket(p, certs)
    s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    s.settimeout(0.2)
    try:
        s.unwrap()                  # sends close_notify; the proxy's own may not come
    except (ssl.SSLError, OSError):
        pass
    slow.proc.wait_log(r"INFO request ")       # the backend answered the proxy
    time.sleep(0.2)                 # the span is the point: the proxy writes the answer
    assert p.admin("/health")[0] == 200, "the proxy's loop is stuck"
    s.close()
