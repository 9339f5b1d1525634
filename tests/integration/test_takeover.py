"""lb-proxy --takeover: a new proxy takes the listening sockets of the running
one over a Unix socket in the runtime dir, then makes it drain; no request of
a loaded proxy fails over 20 replacements. Also: the drain of keep-alive
connections, and the start-up warnings (a port already served, a proxy
waiting for lb-discover)."""
import http.client
import re
import socket
import subprocess
import threading
import time

from conftest import SLOW, binary, wait_for
from support.net import free_port, recv_until_close


class Load:
    """Clients that keep a proxy busy: some send one request per connection
    (Connection: close), some keep their connection (keep-alive) and open a
    new one only when an answer says Connection: close. Every error or
    non-200 answer is a failure: a client of a proxy being replaced should
    see nothing."""

    def __init__(self, port, close_clients=4, keepalive_clients=4):
        self.port = port
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.ok = 0
        self.closes_seen = 0	# keep-alive answers that said Connection: close
        self.failures = []
        self.threads = [threading.Thread(target=self.close_client, daemon=True)
                        for _ in range(close_clients)]
        self.threads += [threading.Thread(target=self.keepalive_client, daemon=True)
                         for _ in range(keepalive_clients)]
        for t in self.threads:
            t.start()

    def count(self, status, what):
        with self.lock:
            if status == 200:
                self.ok += 1
            else:
                self.failures.append(f"{what}: status {status}")

    def fail(self, what, e):
        with self.lock:
            self.failures.append(f"{what}: {e!r}")

    def close_client(self):
        while not self.stop.is_set():
            try:
                s = socket.create_connection(("127.0.0.1", self.port), timeout=10 * SLOW)
                try:
                    s.sendall(b"GET /close HTTP/1.1\r\nHost: lb\r\nConnection: close\r\n\r\n")
                    data = recv_until_close(s)
                finally:
                    s.close()
                m = re.match(rb"HTTP/1\.1 (\d+) ", data)
                self.count(int(m.group(1)) if m else 0, "close client")
            except OSError as e:
                self.fail("close client", e)

    def keepalive_client(self):
        c = None
        while not self.stop.is_set():
            try:
                if c is None:
                    c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10 * SLOW)
                c.request("GET", "/keepalive")
                r = c.getresponse()
                r.read()
                self.count(r.status, "keep-alive client")
                if (r.getheader("Connection") or "").lower() == "close":
                    with self.lock:
                        self.closes_seen += 1
                    c.close()
                    c = None
            except (OSError, http.client.HTTPException) as e:
                self.fail("keep-alive client", e)
                if c:
                    c.close()
                c = None
        if c:
            c.close()

    def wait_more(self, n, timeout=10.0):
        start = self.ok
        wait_for(f"{n} more answers", lambda: self.ok >= start + n, timeout=timeout)

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(30 * SLOW)


def start_proxy(procs, port, backends, rundir, *flags, takeover=False):
    argv = [binary("lb-proxy"), "--listen", f"127.0.0.1:{port}", "--admin", "127.0.0.1:0",
            "--backends", ",".join(b.addr for b in backends), "--runtime-dir", rundir,
            "--access-log", "off", *flags]
    if takeover:
        argv.append("--takeover")
    p = procs(argv)
    p.wait_log(r"takeover socket ready path=")
    return p


def test_twenty_takeovers_under_load_fail_no_request(procs, echo, rundir):
    started = time.time()
    backends = [echo("--access-log", "off"), echo("--access-log", "off")]
    port = free_port()
    flags = ()	# the default drain: 30 s, idle connections closed spread over it
    old = start_proxy(procs, port, backends, rundir, *flags)
    load = Load(port)
    olds = []
    try:
        load.wait_more(50)
        for i in range(20):
            new = start_proxy(procs, port, backends, rundir, *flags, takeover=True)
            new.wait_log(r"INFO took over: the old proxy stopped accepting and drains old_pid="
                         + str(old.pid))
            assert "already accepts connections" not in new.text()
            old.wait_log(r"INFO taken over: not accepting any more pid=" + str(new.pid))
            olds.append(old)
            old = new
            load.wait_more(20)	# the new one serves before it is replaced in turn
    finally:
        load.finish()
    assert not load.failures, f"{len(load.failures)} failed of {load.ok + len(load.failures)}: " \
                              f"{load.failures[:10]}"
    # each old proxy drained its keep-alive clients (Connection: close) and left by itself
    for p in olds:
        assert p.p.wait(30 * SLOW) == 0, p.text()
        assert "INFO stopped" in p.text()
    assert load.closes_seen >= 1
    assert load.ok > 20 * 20
    assert time.time() - started < 60 * SLOW


def test_takeover_of_another_address_is_a_clear_error_and_the_old_one_serves(procs, echo,
                                                                             rundir):
    import subprocess
    backend = echo("--access-log", "off")
    port = free_port()
    old = start_proxy(procs, port, [backend], rundir)
    r = subprocess.run([binary("lb-proxy"), "--listen", f"0.0.0.0:{port}", "--admin",
                        "127.0.0.1:0", "--backends", backend.addr, "--runtime-dir", rundir,
                        "--takeover"], capture_output=True, text=True, timeout=30 * SLOW)
    assert r.returncode == 1
    assert re.search(rf"--takeover: the running proxy \(pid {old.pid}\) has --listen "
                     rf"127\.0\.0\.1:{port}, this one was given 0\.0\.0\.0:{port}", r.stderr), \
        r.stderr
    old.wait_log(r"WARN takeover: the new proxy left before saying stop: serving on")
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10 * SLOW)
    c.request("GET", "/")
    assert c.getresponse().status == 200
    c.close()


def test_silent_connections_to_the_takeover_socket_do_not_keep_a_replacement_out(procs, echo,
                                                                                   rundir):
    """Adversarial: connections that say nothing (or half a HELLO) held the
    only slot for the hello's 5 s each, and a replacement meanwhile was
    refused, one WARN per connection. Now a newer connection takes a silent
    one's place, the refusals are logged at most once a second, and a real
    replacement comes through a flood of them."""
    import os
    backend = echo("--access-log", "off")
    port = free_port()
    old = start_proxy(procs, port, [backend], rundir)
    path = os.path.join(rundir, f"lb-proxy-takeover-{port}.sock")
    squatters = []
    try:
        for i in range(50):
            s = socket.socket(socket.AF_UNIX)
            s.connect(path)
            if i % 2:
                s.sendall(b"LBTK")          # half a HELLO, then nothing
            squatters.append(s)
        new = start_proxy(procs, port, [backend], rundir, takeover=True)
        new.wait_log(r"INFO took over: the old proxy stopped accepting and drains old_pid="
                     + str(old.pid))
        old.wait_log(r"INFO taken over: not accepting any more pid=" + str(new.pid))
    finally:
        for s in squatters:
            s.close()
    assert old.text().count("WARN takeover:") <= 10, old.text()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10 * SLOW)
    c.request("GET", "/")
    assert c.getresponse().status == 200
    c.close()


def test_takeover_flag_errors_exit_2(rundir):
    import subprocess
    r = subprocess.run([binary("lb-proxy"), "--listen", "127.0.0.1:0", "--backends",
                        "127.0.0.1:9", "--runtime-dir", rundir, "--takeover"],
                       capture_output=True, text=True, timeout=30 * SLOW)
    assert r.returncode == 2
    assert "--takeover needs --listen HOST:PORT with a port other than 0" in r.stderr, r.stderr
    r = subprocess.run([binary("lb-proxy"), "--listen", "127.0.0.1:8080", "--backends",
                        "127.0.0.1:9", "--takeover", "maybe"],
                       capture_output=True, text=True, timeout=30 * SLOW)
    assert r.returncode == 2 and "unexpected argument \"maybe\"" in r.stderr, r.stderr


def test_takeover_with_nothing_to_take_over_binds_without_warning(procs, echo, rundir):
    backend = echo("--access-log", "off")
    port = free_port()
    p = start_proxy(procs, port, [backend], rundir, takeover=True)
    assert re.search(r"INFO takeover: no lb-proxy to take over: binding path=\S+"
                     rf"lb-proxy-takeover-{port}\.sock", p.text()), p.text()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10 * SLOW)
    c.request("GET", "/")
    assert c.getresponse().status == 200
    c.close()


def test_two_proxies_on_one_runtime_dir_with_different_ports_both_offer(procs, echo, rundir):
    backend = echo("--access-log", "off")
    p1 = start_proxy(procs, free_port(), [backend], rundir)
    p2 = start_proxy(procs, free_port(), [backend], rundir)
    for p in (p1, p2):
        assert "no takeover socket" not in p.text()


def test_sigterm_keeps_idle_keepalive_connections_and_answers_them_with_close(procs, echo,
                                                                             proxy):
    backend = echo("--access-log", "off")
    p = proxy([backend.addr], "--drain-timeout", "300")
    c = http.client.HTTPConnection("127.0.0.1", p.port, timeout=10 * SLOW)
    c.request("GET", "/first")
    r = c.getresponse()
    r.read()
    assert r.status == 200 and r.getheader("Connection") == "keep-alive"
    p.proc.p.send_signal(15)
    p.proc.wait_log(r"INFO draining connections=1")
    # the idle connection was not closed at once: its next request is answered, with close
    c.request("GET", "/second")
    r = c.getresponse()
    r.read()
    assert r.status == 200 and r.getheader("Connection") == "close"
    c.close()
    assert p.proc.p.wait(10 * SLOW) == 0


def test_draining_idle_connection_closes_at_its_keepalive_timeout(procs, echo, proxy):
    backend = echo("--access-log", "off")
    p = proxy([backend.addr], "--drain-timeout", "300", "--keepalive-timeout", "0.5")
    s = socket.create_connection(("127.0.0.1", p.port), timeout=10 * SLOW)
    s.sendall(b"GET / HTTP/1.1\r\nHost: lb\r\n\r\n")
    got = b""
    while b"\r\n\r\n" not in got:
        got += s.recv(65536)
    p.proc.p.send_signal(15)
    p.proc.wait_log(r"INFO draining connections=1")
    t0 = time.time()
    s.settimeout(20 * SLOW)
    while s.recv(65536):
        pass
    s.close()
    assert time.time() - t0 < 10 * SLOW
    assert p.proc.p.wait(10 * SLOW) == 0
    assert "drain timeout" not in p.proc.text()


def test_a_second_server_on_a_served_port_is_refused_naming_the_owner(procs, echo):
    """SO_REUSEPORT is off by default: a server started on a port another
    process serves does not silently share its traffic; it exits naming the
    port and the owner's pid. --reuse-port on both shares it."""
    first = echo("--access-log", "off")
    port = first.addr.rsplit(":", 1)[1]
    for argv in ([binary("lb-echo"), "--listen", first.addr],
                 [binary("lb-proxy"), "--listen", first.addr, "--admin", "127.0.0.1:0",
                  "--backends", first.addr]):
        r = subprocess.run(argv, capture_output=True, text=True, timeout=10 * SLOW)
        assert r.returncode != 0, r.stderr
        assert f"cannot listen on {first.addr}: port {port} is in use by pid " \
            f"{first.proc.pid} (lb-echo): pick another port, or give --reuse-port to every " \
            "server sharing it" in r.stderr, r.stderr
    shared = echo("--access-log", "off", "--reuse-port")
    meant = procs([binary("lb-echo"), "--listen", shared.addr, "--access-log", "off",
                   "--reuse-port"])
    meant.wait_log(r"INFO listening")


def test_bus_proxy_without_lb_discover_says_where_it_waits(proxy, rundir):
    p = proxy(None, "--runtime-dir", rundir, "--initial-set-timeout", "0")
    assert re.search(r"WARN no --backends and no lb-discover on the runtime dir: requests get "
                     rf"503 until lb-discover publishes a set there runtime_dir={re.escape(rundir)}",
                     p.proc.text()), p.proc.text()


def test_takeover_on_the_bus_stops_the_old_proxy_once_the_new_one_has_a_set(procs, echo,
                                                                          discover, rundir):
    backend = echo("--access-log", "off")
    discover("--static", backend.addr)
    port = free_port()
    argv = [binary("lb-proxy"), "--listen", f"127.0.0.1:{port}", "--admin", "127.0.0.1:0",
            "--runtime-dir", rundir, "--access-log", "off"]
    old = procs(argv)
    old.wait_log(r"takeover socket ready path=")
    load = Load(port, 2, 2)
    try:
        load.wait_more(20)
        new = procs(argv + ["--takeover"])
        new.wait_log(r"INFO took over: the old proxy stopped accepting and drains")
        log = new.text()
        assert log.index("INFO set applied") < log.index("INFO listening") < \
            log.index("INFO took over")
        load.wait_more(20)
    finally:
        load.finish()
    assert not load.failures, load.failures[:10]
    assert old.p.wait(30 * SLOW) == 0


def test_takeover_of_a_tls_listener(procs, echo, rundir, tmp_path):
    import ssl
    import subprocess
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-days", "1"], check=True, capture_output=True, timeout=30)
    backend = echo("--access-log", "off")
    port = free_port()
    tls = ("--tls-cert", str(cert), "--tls-key", str(key))
    old = start_proxy(procs, port, [backend], rundir, *tls)
    ctx = ssl.create_default_context(cafile=str(cert))

    def get(c):
        c.request("GET", "/")
        r = c.getresponse()
        r.read()
        return r.status, r.getheader("Connection")

    kept = http.client.HTTPSConnection("127.0.0.1", port, timeout=10 * SLOW, context=ctx)
    assert get(kept) == (200, "keep-alive")
    new = start_proxy(procs, port, [backend], rundir, *tls, takeover=True)
    new.wait_log(r"INFO took over: the old proxy stopped accepting and drains")
    # the TLS connection to the old proxy is answered once more, with close
    assert get(kept) == (200, "close")
    kept.close()
    fresh = http.client.HTTPSConnection("127.0.0.1", port, timeout=10 * SLOW, context=ctx)
    assert get(fresh) == (200, "keep-alive")
    fresh.close()
    assert old.p.wait(10 * SLOW) == 0


def test_draining_keeps_connections_in_use_for_their_next_request(procs, echo, proxy):
    """A random close drawn over the drain timeout would race a client in the
    middle of a keep-alive sequence; a connection idle for under a second is
    in use and gets its next request answered (with close) instead."""
    import pytest
    backend = echo("--access-log", "off")
    p = proxy([backend.addr], "--drain-timeout", "1.5", "--access-log", "off")
    conns = [http.client.HTTPConnection("127.0.0.1", p.port, timeout=10 * SLOW)
             for _ in range(20)]
    for c in conns:
        c.request("GET", "/first")
        c.getresponse().read()
    last_idle = time.time()
    p.proc.p.send_signal(15)
    p.proc.wait_log(r"INFO draining connections=20")
    # well into the drain, still within the second: a random close over
    # 1.5 s would have taken about 40% of the connections by now
    time.sleep(max(0.0, last_idle + 0.6 - time.time()))
    answers = []
    for c in conns:
        try:
            c.request("GET", "/second")
            r = c.getresponse()
            r.read()
            answers.append((r.status, r.getheader("Connection")))
        except (OSError, http.client.HTTPException) as e:
            answers.append(repr(e))
        c.close()
    if time.time() - last_idle > 0.9:
        pytest.skip("the machine was too slow to send within the in-use second")
    assert answers == [(200, "close")] * 20
    assert p.proc.p.wait(10 * SLOW) == 0
