"""lb-proxy's log lines are written once per loop pass from a bounded buffer
(common/log_buffer.c): a stderr nobody reads never stalls the proxy (lines
past the bound are dropped and counted in
lb_proxy_access_log_lines_dropped_total), and lines logged while it drains
at SIGTERM, up to its last, reach the log before it exits."""
import fcntl
import http.client
import os
import re
import signal
import subprocess
import time

from conftest import SLOW, binary, metric, request_in_flight, started_proxy, Proxy

# A long request target makes long lines, so the buffer (1 MiB) fills in a
# couple of thousand requests.
LONG_PATH = "/" + "a" * 600


def get(conn, path):
    conn.request("GET", path)
    r = conn.getresponse()
    r.read()
    return r.status


def proxy_on_a_small_pipe(e):
    """(Popen, Proxy): lb-proxy in front of e with its stderr on the smallest
    pipe the kernel makes (a page, so it fills at once), read up to the
    listening line; the caller reads it no more, and kills the process."""
    p = subprocess.Popen([binary("lb-proxy"), "--listen", "127.0.0.1:0", "--admin",
                          "127.0.0.1:0", "--backends", e.addr], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    fcntl.fcntl(p.stderr.fileno(), fcntl.F_SETPIPE_SZ, 4096)
    head = b""
    while not re.search(rb"INFO listening listen=127\.0\.0\.1:(\d+)", head):
        chunk = os.read(p.stderr.fileno(), 4096)
        assert chunk, f"lb-proxy exited {p.wait()}:\n{head.decode()}"
        head += chunk
    admin = int(re.search(rb"admin listening admin=127\.0\.0\.1:(\d+)", head).group(1))
    port = int(re.search(rb"INFO listening listen=127\.0\.0\.1:(\d+)", head).group(1))
    return p, Proxy(None, port, admin)


def test_a_stderr_pipe_nobody_reads_never_stalls_the_proxy(echo):
    e = echo("--access-log", "off")
    p, px = proxy_on_a_small_pipe(e)
    port = px.port
    try:
        # from here on nobody reads the pipe: every request must still be
        # answered (each has a timeout), and the lines past the buffer dropped
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5 * SLOW)
        for n in range(1, 20001):
            assert get(c, LONG_PATH) == 200
            if n % 500 == 0 and metric(px, "lb_proxy_access_log_lines_dropped_total") > 0:
                break
        dropped = metric(px, "lb_proxy_access_log_lines_dropped_total")
        assert dropped > 0, f"no line dropped after {n} requests"
        for _ in range(100):
            assert get(c, LONG_PATH) == 200
        # every one of those 100 lines found the buffer full
        assert metric(px, "lb_proxy_access_log_lines_dropped_total") >= dropped + 100
        assert metric(px, "lb_proxy_log_lines_dropped_total") >= dropped + 100
        c.close()
        # SIGTERM: it waits a bounded time for the reader, then exits 0
        started = time.monotonic()
        p.send_signal(signal.SIGTERM)
        assert p.wait(10 * SLOW) == 0
        assert time.monotonic() - started < 5 * SLOW
        # what reached the pipe is whole lines: a write never cut one
        rest = p.stderr.read().decode()
        lines = rest.split("\n")
        assert lines[-1] == "", lines[-1][:200]
        for line in lines[:-1]:
            assert line.startswith("[lb-proxy] "), line[:200]
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        p.stderr.close()


def test_a_second_sigterm_while_exiting_does_not_kill_it(echo):
    """A supervisor that repeats SIGTERM (systemd's stop, a kill loop, the
    tests' teardown) must not cut the exit short: after the loop ends, the
    process releases what it holds and waits up to a second for its log's
    reader. A stderr nobody reads holds it in that wait; SIGTERMs sent all
    through it are ignored, and it exits 0 (before: killed, -15)."""
    e = echo("--access-log", "off")
    p, px = proxy_on_a_small_pipe(e)
    try:
        c = http.client.HTTPConnection("127.0.0.1", px.port, timeout=5 * SLOW)
        for _ in range(200):           # the pipe (4 KiB) fills: lines wait
            assert get(c, LONG_PATH) == 200
        c.close()
        deadline = time.monotonic() + 10 * SLOW
        while p.poll() is None and time.monotonic() < deadline:
            p.send_signal(signal.SIGTERM)
            time.sleep(0.005)
        assert p.wait(10 * SLOW) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        p.stderr.close()


def test_lines_logged_while_draining_reach_the_log_at_sigterm(echo, proxy):
    e = echo("--access-log", "off", "--delay-ms", "400")
    p = proxy([e.addr])
    t = request_in_flight(p, "/slow")
    p.proc.p.send_signal(signal.SIGTERM)
    t.join()
    assert t.response[0] == 200
    # it exits by itself once the request is done (a second SIGTERM while it
    # exits would not be the drain's exit)
    assert p.proc.p.wait(10 * SLOW) == 0
    log = p.proc.text()
    # the request that ended during the drain, then the last line: both
    # logged after the loop's last pass, written by the exit's flush
    assert re.search(r'INFO request client=\S+ request="GET /slow" status=200 ', log), log
    assert re.search(r"INFO stopped requests=\d+\n$", log), log[-2000:]


def test_lines_that_keep_coming_wait_for_the_flush_interval(echo, proxy):
    """--log-flush SECONDS: an access line after a quiet spell is written at
    the end of its loop pass, the ones after it wait until the interval has
    passed since that write (one write per interval while they keep coming,
    as nginx's access_log flush= and Envoy's file flush interval), another
    line writes them with it, and SIGTERM writes what waits."""
    e = echo("--access-log", "off")
    p = proxy([e.addr], "--log-flush", "10")
    c = http.client.HTTPConnection("127.0.0.1", p.port, timeout=5 * SLOW)
    started = time.monotonic()
    assert get(c, "/first") == 200
    # not held for the interval: the last write (at start-up) is long ago
    # (3 x SLOW seconds is under the 10 s interval, also under ASan)
    p.proc.wait_log(r'request="GET /first"', timeout=3)
    assert get(c, "/second") == 200
    assert get(c, "/third") == 200
    c.close()
    if time.monotonic() - started < 9:    # (a machine stalled this long proves nothing)
        assert 'request="GET /second"' not in p.proc.text()
    # a line that is not a request's (here SIGHUP's reload) is not held: it
    # is written at the end of its pass, with the lines waiting before it
    p.proc.p.send_signal(signal.SIGHUP)
    p.proc.wait_log(r"INFO reloaded ", timeout=3)
    log = p.proc.text()
    assert re.search(r'request="GET /second" status=200 .*\n.*request="GET /third" status=200 '
                     r'.*\n(.*\n)*.*INFO reloaded ', log), log[-2000:]
    assert p.request("GET", "/fourth")[0] == 200
    p.proc.p.send_signal(signal.SIGTERM)
    assert p.proc.p.wait(10 * SLOW) == 0
    log = p.proc.text()
    assert re.search(r'request="GET /fourth" status=200 .*\n(.*\n)*.*INFO stopped requests=4\n$',
                     log), log[-2000:]



def test_lines_held_when_the_loop_goes_quiet_are_written_by_a_timer(echo, proxy):
    """The access lines held after a write, with no pass after them to write
    them (no more requests, no other line), are written by a timer: within
    two intervals of that write (without it, by the pass of the proxy's next
    timer of its own, its 2 s memory trim: later than this test waits)."""
    e = echo("--access-log", "off")
    p = proxy([e.addr], "--log-flush", "0.05")
    c = http.client.HTTPConnection("127.0.0.1", p.port, timeout=5 * SLOW)
    assert get(c, "/one") == 200
    assert get(c, "/two") == 200
    c.close()
    p.proc.wait_log(r'request="GET /one"(?s:.*)request="GET /two"', timeout=1)
