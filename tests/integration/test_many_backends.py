"""Sets at the protocol's limit (issue 12, item 5): more than BUS_MAX_BACKENDS
backends were accepted by lb-discover and refused by every proxy; health
checks of thousands of backends came all at once, with no bound."""
import json
import selectors
import socket
import threading
import time

from conftest import SLOW, ctl, ctl_json, protocol_constant, wait_for

MAX = protocol_constant("BUS_MAX_BACKENDS")


def bus_proxy(proxy, rundir):
    # a report of 4096 backends is ~400 KB of JSON, which lb-discover parses
    # in tens of ms, several times that under ASan on a loaded machine: every
    # SLOW seconds leaves its loop time for the control socket (at 0.5 s, two
    # proxies' reports kept an ASan build busy enough that lb-ctl waited 30 s)
    return proxy(None, "--runtime-dir", rundir, "--access-log", "off", "--report-interval",
                 str(1.0 * SLOW))


def addresses(n, first=0):
    return [f"10.{i // 65536}.{i // 256 % 256}.{i % 256}:80" for i in range(first, first + n)]


def test_more_backends_than_the_bus_carries(discover, proxy, rundir, tmp_path):
    f = tmp_path / "backends.json"
    f.write_text(json.dumps(addresses(MAX + 104)))
    d = discover("--file", str(f), "--no-health-check")
    d.wait_log(r"WARN the source lists more backends than the bus carries: publishing the "
               rf"first ones listed={MAX + 104} published={MAX}")
    p1 = bus_proxy(proxy, rundir)
    p2 = bus_proxy(proxy, rundir)
    wait_for("both proxies apply the set", lambda: all(
        p.admin("/info")[1].get("generation") == 1 for p in (p1, p2)), timeout=10)
    assert len(p1.admin("/info")[1]["backends"]) == MAX
    wait_for("both synced", lambda: [x["state"] for x in ctl_json(rundir, "proxies")]
             == ["synced", "synced"], timeout=10)
    # a status of MAX backends and two proxies' full counters is over the
    # message limit: lb-ctl still gets one, per-proxy lists trimmed
    status = ctl_json(rundir, "status")
    assert len(status["backends"]) == MAX and status["backends"][0]["address"] == "10.0.0.0:80"
    code, out, err = ctl(rundir, "status", "-v")
    assert code == 0 and out.count("10.0.") >= MAX, err

    # add: refused at the limit, with the limit named; room made, accepted
    code, out, err = ctl(rundir, "add", "10.99.0.1:80")
    assert code == 1 and f"at most {MAX} backends" in err, (code, err)
    assert ctl(rundir, "remove", "10.0.0.7:80")[0] == 0
    code, out, err = ctl(rundir, "add", "10.99.0.1:80")
    assert code == 0, err
    gen = ctl_json(rundir, "status")["generation"]
    wait_for("the proxies follow", lambda: p1.admin("/info")[1]["generation"] == gen, timeout=10)
    got = {b["address"] for b in p1.admin("/info")[1]["backends"]}
    assert len(got) == MAX and "10.99.0.1:80" in got and "10.0.0.7:80" not in got


class CheckCounter:
    """n listening sockets on 127.0.0.1 that count health checks: when each
    arrives, and how many are open at once. hold=True never answers."""

    def __init__(self, n, hold=False):
        self.hold = hold
        self.arrivals, self.open, self.max_open = [], 0, 0
        self.sel = selectors.DefaultSelector()
        self.listeners = []
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            s.listen(64)
            s.setblocking(False)
            self.sel.register(s, selectors.EVENT_READ, "listen")
            self.listeners.append(s)
        self.addrs = [f"127.0.0.1:{s.getsockname()[1]}" for s in self.listeners]
        self.stopping = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stopping:
            for key, _ in self.sel.select(0.05):
                if key.data == "listen":
                    try:
                        c, _ = key.fileobj.accept()
                    except BlockingIOError:
                        continue
                    self.arrivals.append(time.monotonic())
                    self.open += 1
                    self.max_open = max(self.max_open, self.open)
                    c.setblocking(False)
                    self.sel.register(c, selectors.EVENT_READ, "conn")
                    continue
                c = key.fileobj
                try:
                    data = c.recv(4096)
                except (BlockingIOError, ConnectionResetError):
                    data = b""
                if data and not self.hold:
                    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                if not data or not self.hold:
                    self.sel.unregister(c)
                    c.close()
                    self.open -= 1

    def close(self):
        self.stopping = True
        self.thread.join()
        for key in list(self.sel.get_map().values()):
            key.fileobj.close()


def test_health_checks_are_spread_over_the_interval(discover):
    backends = CheckCounter(50)
    try:
        discover("--static", ",".join(backends.addrs), "--health-interval", "1")
        # the first round: the first 50 arrivals (arrivals only grow, so a
        # second round would not change them)
        wait_for("a round of checks", lambda: len(backends.arrivals) >= 50, timeout=10)
        first = sorted(backends.arrivals)[:50]
        busiest = max(sum(1 for t in first if s <= t < s + 0.1) for s in first)
        print(f"50 backends, interval 1 s: at most {busiest} checks in 100 ms")
        assert busiest <= 15, f"{busiest} of 50 checks within 100 ms: not spread"
    finally:
        backends.close()


def test_concurrent_health_checks_are_bounded(discover):
    backends = CheckCounter(50, hold=True)
    try:
        # a dozen arrivals are three waves of 4 checks: 1 s at --health-timeout
        # 0.5 (it was 2 s at 1)
        discover("--static", ",".join(backends.addrs), "--health-interval", "0.2",
                 "--health-timeout", "0.5", "--health-concurrency", "4")
        wait_for("a dozen checks timed out", lambda: len(backends.arrivals) >= 12, timeout=15)
        print(f"--health-concurrency 4: at most {backends.max_open} checks open at once")
        assert 1 <= backends.max_open <= 4
    finally:
        backends.close()
