"""Metrics an operator can trust: a Prometheus counter never goes down. lb-
discover's fleet counters were sums over the live proxies, so they went down
when a proxy was replaced; now what a departed proxy reported is kept."""
import re
import urllib.request

from conftest import SLOW, bus_proxy, wait_for


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/admin/metrics", timeout=5 * SLOW) as r:
        return r.read().decode()


def value(text, name, address):
    m = re.search(rf'^{name}\{{[^}}]*address="{re.escape(address)}"[^}}]*\}} (\d+)', text, re.M)
    return int(m.group(1)) if m else None


def test_fleet_counters_never_go_down_when_a_proxy_is_replaced(echo, discover, proxy, rundir):
    e = echo("--access-log", "off")
    d = discover("--static", e.addr, "--heartbeat", "0.05", "--admin", "127.0.0.1:0",
                 "--no-health-check")
    port = int(d.wait_log(r"admin listening admin=[^ ]*:(\d+)").group(1))
    old = bus_proxy(proxy, rundir, "--report-interval", "0.05")
    wait_for("the set", lambda: old.admin("/info")[1]["generation"] >= 1)
    for _ in range(10):
        assert old.request("GET", "/")[0] == 200
    wait_for("10 requests counted",
             lambda: value(scrape(port), "lb_discover_backend_requests_total", e.addr) == 10)
    new = bus_proxy(proxy, rundir, "--report-interval", "0.05")
    wait_for("the set", lambda: new.admin("/info")[1]["generation"] >= 1)
    assert old.proc.stop() == 0
    seen = []

    def gone():
        n = value(scrape(port), "lb_discover_backend_requests_total", e.addr)
        seen.append(n)
        return "proxy gone pid=%d" % old.proc.pid in d.text()
    wait_for("lb-discover forgets the old proxy", gone, timeout=15)
    assert new.request("GET", "/")[0] == 200
    wait_for("the new proxy's request counted",
             lambda: value(scrape(port), "lb_discover_backend_requests_total", e.addr) == 11)
    seen.append(value(scrape(port), "lb_discover_backend_requests_total", e.addr))
    assert all(b >= a for a, b in zip(seen, seen[1:])), seen
    assert min(seen) >= 10, seen
