"""lb-proxy --workers N: a supervisor binds the listeners once and runs N
worker processes that share them (docs/lb-proxy.md, "Workers"). Both workers
serve; the admin port answers for all (/metrics summed: Prometheus text
exposition format 0.0.4); each worker is a proxy on the bus (drain --wait,
the fleet-wide rate limit); a killed worker is restarted; SIGHUP and
--takeover under load fail no request; SIGTERM leaves no process behind."""
import http.client
import os
import re
import signal
import socket
import subprocess
import time

import pytest

from conftest import SLOW, Proxy, binary, ctl, ctl_json, wait_for
from support.net import free_port
from test_takeover import Load


def start_workers(procs, *flags, backends=None, rundir=None, listen="127.0.0.1:0", n=2,
                  takeover=False, wait_listening=True):
    """An lb-proxy --workers n; returns (Proxy on its public ports, Proc)."""
    argv = [binary("lb-proxy"), "--listen", listen, "--admin", "127.0.0.1:0", "--workers",
            str(n), *flags]
    if backends:
        argv += ["--backends", ",".join(b.addr for b in backends)]
    if rundir:
        argv += ["--runtime-dir", rundir]
    if takeover:
        argv.append("--takeover")
    p = procs(argv)
    m = p.wait_log(r"INFO supervisor started pid=\d+ workers=\d+ "
                   r"listen=127\.0\.0\.1:(\d+) admin=127\.0\.0\.1:(\d+)")
    if wait_listening:
        p.wait_log(r"\[lb-proxy\] \S+ INFO listening listen=", timeout=15)
    return Proxy(p, int(m.group(1)), int(m.group(2))), p


def worker_pids(p, index=None):
    """The pids of the workers the supervisor's log says it started, in order."""
    return [int(pid) for i, pid in re.findall(r"INFO worker started worker=(\d+) pid=(\d+)",
                                              p.text()) if index is None or int(i) == index]


def series(px, name):
    """{labels: value} of one family in the proxy's /metrics."""
    text = px.admin("/metrics")[1]
    return {labels: float(v) for labels, v in
            re.findall(r"^" + re.escape(name) + r"(\{[^}]*\})? (\S+)$", text, re.M)}


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


def get_new_connection(px):
    c = px.conn()
    try:
        c.request("GET", "/", headers={"Connection": "close"})
        r = c.getresponse()
        r.read()
        return r.status
    finally:
        c.close()


def test_two_workers_serve_and_the_admin_port_sums_them(procs, echo):
    backend = echo("--access-log", "off")
    px, p = start_workers(procs, backends=[backend])
    pids = worker_pids(p)
    assert len(pids) == 2 and p.pid not in pids
    # new connections land on either worker (one accept queue, both waiting on it)
    made = {"n": 0}

    def both_served():
        assert get_new_connection(px) == 200
        made["n"] += 1
        per = series(px, "lb_proxy_worker_requests_total")
        return len(per) == 2 and all(v > 0 for v in per.values())

    wait_for("requests on both workers", both_served, timeout=20)
    per = series(px, "lb_proxy_worker_requests_total")
    assert {re.search(r'pid="(\d+)"', k).group(1) for k in per} == {str(x) for x in pids}
    # the counters are the sum over the workers (Prometheus text format 0.0.4)
    total = series(px, "lb_proxy_requests_total")['{code_class="2xx"}']
    assert total == made["n"] == sum(per.values())
    assert series(px, "lb_proxy_workers")[""] == 2
    assert series(px, "lb_proxy_workers_scraped")[""] == 2
    hist = series(px, "lb_proxy_request_duration_seconds_count")
    assert sum(hist.values()) == made["n"]
    # both workers logged requests under their own name
    assert "[lb-proxy/w0]" in p.text() and "[lb-proxy/w1]" in p.text()
    # /info sums the workers' counts and lists them; the other routes are a worker's
    status, info = px.admin("/info")
    assert status == 200 and info["backends"][0]["address"] == backend.addr
    assert info["total_requests"] == made["n"]
    assert info["backends"][0]["requests_forwarded"] == made["n"]
    assert sorted(w["pid"] for w in info["workers"]) == sorted(pids)
    assert sum(w["total_requests"] for w in info["workers"]) == made["n"]
    status, _ = px.admin("/health")
    assert status == 200


def test_a_killed_worker_is_restarted_and_logged_and_traffic_goes_on(procs, echo):
    backend = echo("--access-log", "off")
    px, p = start_workers(procs, "--access-log", "off", backends=[backend])
    victim = worker_pids(p, 0)[0]
    os.kill(victim, signal.SIGKILL)
    p.wait_log(rf"WARN worker exited: restarting it worker=0 pid={victim} signal=9 \(Killed\) "
               r"lived_s=\S+ restart_in_s=")
    wait_for("a new worker 0", lambda: len(worker_pids(p, 0)) == 2)
    assert worker_pids(p, 0)[1] != victim
    wait_for("both listening", lambda: series(px, "lb_proxy_workers_listening")[""] == 2,
             timeout=10)
    assert series(px, "lb_proxy_worker_restarts_total")[""] == 1
    for _ in range(20):
        assert get_new_connection(px) == 200
    assert not alive(victim)


def test_a_bad_configuration_stops_the_supervisor_with_the_workers_code(procs):
    # a worker that cannot start (here: a TLS file missing) ends the start-up: no crash loop
    r = subprocess.run([binary("lb-proxy"), "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
                        "--backends", "127.0.0.1:9", "--workers", "2", "--tls-cert",
                        "/nonexistent.crt", "--tls-key", "/nonexistent.key"],
                       capture_output=True, text=True, timeout=30 * SLOW)
    assert r.returncode == 2, r.stderr
    assert "a worker could not start: the others are stopped" in r.stderr
    assert "restarting" not in r.stderr


@pytest.mark.parametrize("value, message", [
    ("0", "--workers must be a number between 1 and 256, or auto"),
    ("many", "--workers must be a number between 1 and 256, or auto"),
])
def test_bad_workers_value_is_a_clear_error(value, message):
    r = subprocess.run([binary("lb-proxy"), "--backends", "127.0.0.1:9", "--workers", value,
                        "--check-config"], capture_output=True, text=True, timeout=30 * SLOW)
    assert r.returncode == 2 and message in r.stderr, r.stderr


def test_sigterm_stops_every_worker_and_a_killed_supervisor_takes_them_along(procs, echo):
    backend = echo("--access-log", "off")
    px, p = start_workers(procs, "--access-log", "off", backends=[backend])
    pids = worker_pids(p)
    assert get_new_connection(px) == 200
    assert p.stop() == 0
    for pid in pids:
        wait_for(f"worker {pid} gone", lambda: not alive(pid))
    assert len(re.findall(r"INFO worker stopped worker=\d pid=\d+ status=0", p.text())) == 2
    # a supervisor killed outright: its workers get SIGTERM from the kernel (no orphan)
    px, p = start_workers(procs, "--access-log", "off", backends=[backend])
    pids = worker_pids(p)
    p.kill()
    for pid in pids:
        wait_for(f"worker {pid} gone", lambda: not alive(pid), timeout=10)


def test_each_worker_is_a_proxy_on_the_bus(procs, echo, discover, rundir):
    echos = [echo("--access-log", "off"), echo("--access-log", "off")]
    discover("--static", ",".join(e.addr for e in echos), "--heartbeat", "0.05")
    px, p = start_workers(procs, "--access-log", "off", "--heartbeat", "0.2",
                          "--report-interval", "0.05", "--rate-limit", "100/s",
                          rundir=rundir)
    pids = worker_pids(p)
    # lb-discover counts proxies by pid: two
    wait_for("two proxies heard",
             lambda: sorted(x["pid"] for x in ctl_json(rundir, "proxies")) ==
             sorted(pids), timeout=10)
    # the fleet-wide limit is divided by the proxies heard: 50/s each, 100/s in the sum
    wait_for("the limit shared by both workers",
             lambda: series(px, "lb_proxy_rate_limit_effective")[""] == pytest.approx(100) and
             series(px, "lb_proxy_rate_limit_proxies")[""] == 2, timeout=10)
    code, out, err = ctl(rundir, "drain", echos[1].addr, "--wait", "--timeout", "10")
    assert code == 0, err
    assert "drained" in err
    for _ in range(10):
        assert get_new_connection(px) == 200


def test_sighup_and_takeover_with_workers_under_load_fail_no_request(procs, echo, rundir):
    backends = [echo("--access-log", "off"), echo("--access-log", "off")]
    port = free_port()
    listen = f"127.0.0.1:{port}"
    px, old = start_workers(procs, "--access-log", "off", backends=backends, rundir=rundir,
                            listen=listen)
    old.wait_log(r"INFO takeover socket ready path=")
    load = Load(port, close_clients=3, keepalive_clients=3)
    try:
        load.wait_more(50)
        # SIGHUP: passed on, every worker reloads
        old.p.send_signal(signal.SIGHUP)
        old.wait_log(r"INFO reloading: passed to the workers signal=HUP workers=2")
        wait_for("both workers reloaded",
                 lambda: len(re.findall(r"\[lb-proxy/w\d\] \S+ INFO reloaded", old.text())) == 2)
        load.wait_more(50)
        # --takeover twice: a supervisor replaces a supervisor, the old workers drain
        for _ in range(2):
            _, new = start_workers(procs, "--access-log", "off", backends=backends,
                                   rundir=rundir, listen=listen, takeover=True)
            new.wait_log(r"INFO took over: the old proxy stopped accepting and drains old_pid="
                         + str(old.pid))
            old.wait_log(r"INFO taken over: not accepting any more")
            old_workers = worker_pids(old)
            assert old.p.wait(40 * SLOW) == 0, old.text()
            assert all(not alive(pid) for pid in old_workers)
            new.wait_log(r"INFO takeover socket ready path=")
            old = new
            load.wait_more(50)
    finally:
        load.finish()
    assert not load.failures, f"{len(load.failures)} failed of {load.ok + len(load.failures)}: " \
                              f"{load.failures[:10]}"
    assert load.ok > 200


def worker_admin_ports(p):
    return [int(x) for x in re.findall(r"\[lb-proxy/w\d\] \S+ INFO admin listening "
                                       r"admin=127\.0\.0\.1:(\d+)", p.text())]


def test_an_admin_write_with_backends_reaches_every_worker(procs, echo):
    """--backends: each worker holds the set, so POST /admin/backends (Admin API)
    adds the backend in both; a chunked write is refused (RFC 9112 section 6.3,
    the supervisor forwards only a Content-Length body: 411)."""
    first, second = echo("--access-log", "off"), echo("--access-log", "off")
    px, p = start_workers(procs, "--access-log", "off", backends=[first])
    c = http.client.HTTPConnection("127.0.0.1", px.admin_port, timeout=10 * SLOW)
    c.request("POST", "/admin/backends", body=f'{{"address":"{second.addr}"}}',
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    assert r.status == 201, r.read()
    r.read()
    c.close()
    ports = worker_admin_ports(p)
    assert len(ports) == 2
    for port in ports:
        w = Proxy(p, px.port, port)
        assert sorted(b["address"] for b in w.admin("/info")[1]["backends"]) == \
            sorted([first.addr, second.addr])
    c = http.client.HTTPConnection("127.0.0.1", px.admin_port, timeout=10 * SLOW)
    c.putrequest("POST", "/admin/backends")
    c.putheader("Transfer-Encoding", "chunked")
    c.endheaders()
    c.send(b"0\r\n\r\n")
    r = c.getresponse()
    assert r.status == 411
    c.close()


def test_idle_connections_do_not_keep_the_admin_port_away(procs, echo):
    """The supervisor's admin port gives way as the workers' does (conn_guard):
    100 connections that send nothing, then /metrics and /info still answer."""
    backend = echo("--access-log", "off")
    px, p = start_workers(procs, "--access-log", "off", backends=[backend])
    idle = [socket.create_connection(("127.0.0.1", px.admin_port)) for _ in range(100)]
    try:
        assert px.admin("/metrics")[0] == 200
        assert px.admin("/info")[0] == 200
    finally:
        for s in idle:
            s.close()
    assert "admin listener full: the oldest connections evicted for new ones" in p.text()
