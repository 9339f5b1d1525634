"""Routing's costs (docs/benchmarks.md, Routing), in one run:

1. CPU per request of lb-proxy: its own single service (--backends) against
   one HTTPRoute to the same backend (lb-discover --routes), and against a
   table of HOSTS hostnames x RULES rules each (the request hits the last
   hostname's last rule); wrk, keep-alive, the proxy pinned to its own core,
   CPU from /proc/PID/stat (user + system) over the requests wrk counted.
2. The big table's times: lb-discover's compile_ms (the file read, parsed
   and compiled: its "routes file reloaded" line) and lb-proxy's apply_ms
   (the routes message decoded and applied: its "routes applied" line).
3. A route change reaching every proxy: PROXIES proxies on one bus, CHANGES
   edits of the routes file (a weight shifted); each time, from the file's
   rename to the moment every proxy's /info serves the new generation
   (polled every 2 ms); p50, p99 and the worst.

4. Instructions per request (callgrind, user space: a figure a busy
   machine cannot move) of the proxy serving the big table, for the first
   and the last hostname; LB_BASELINE_BIN=/old/bin adds an older build's.

  python3 tests/bench/bench_routes.py
  HOSTS=100 RULES=10 CHANGES=20 DURATION=3 python3 tests/bench/bench_routes.py
  LB_BASELINE_BIN=/old/bin INSTRUCTIONS_ONLY=1 python3 tests/bench/bench_routes.py
"""
import subprocess
import http.client
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from common import BIN, Procs, echo_backends, free_port, table, wait_port, wrk  # noqa: E402
from instructions_proxy import dump_total  # noqa: E402

HOSTS = int(os.environ.get("HOSTS", "1000"))
RULES = int(os.environ.get("RULES", "10"))
CHANGES = int(os.environ.get("CHANGES", "50"))
PROXIES = int(os.environ.get("PROXIES", "3"))
DURATION = int(os.environ.get("DURATION", "5"))
BASELINE = os.environ.get("LB_BASELINE_BIN")
REQUESTS = int(os.environ.get("REQUESTS", "1000"))
HOSTS_PER_ROUTE = 16        # the Gateway API's limit on hostnames per HTTPRoute
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def admin(port, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        c.request("GET", path)
        return json.loads(c.getresponse().read())
    finally:
        c.close()


def documents(ports, backend, hosts, rules, weight=100):
    """A Gateway (one listener per proxy port), the routes and the Backends."""
    docs = [{"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
             "metadata": {"name": "gw", "namespace": "default"},
             "spec": {"gatewayClassName": "lb", "listeners": [
                 {"name": f"p{i}", "port": p, "protocol": "HTTP"}
                 for i, p in enumerate(ports)]}}]
    names = [f"h{i}.example.com" for i in range(hosts)] if hosts else [None]
    for r in range(0, len(names), HOSTS_PER_ROUTE):
        spec = {"parentRefs": [{"name": "gw"}], "rules": [
            {"matches": [{"path": {"type": "PathPrefix", "value": f"/r{k}"}}],
             "backendRefs": [{"name": "app", "port": 80, "weight": weight},
                             {"name": "app2", "port": 80, "weight": 100 - weight}]}
            for k in range(rules)]}
        if names[0]:
            spec["hostnames"] = names[r:r + HOSTS_PER_ROUTE]
        docs.append({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
                     "metadata": {"name": f"route-{r // HOSTS_PER_ROUTE:04d}",
                                  "namespace": "default"}, "spec": spec})
    for name in ("app", "app2"):
        docs.append({"apiVersion": "lb.dev/v1alpha1", "kind": "Backends",
                     "metadata": {"name": name, "namespace": "default"},
                     "spec": {"ports": [{"port": 80, "addresses": [backend]}]}})
    return docs


def write(path, docs):
    with open(path + ".tmp", "w") as f:
        f.write("\n---\n".join(json.dumps(d) for d in docs))
    os.rename(path + ".tmp", path)


def log_value(path, pattern):
    with open(path, errors="replace") as f:
        found = re.findall(pattern, f.read())
    return found[-1] if found else None


def serving(admin_port):
    routes = admin(admin_port, "/info")["routes"]
    if not routes["generation"] or not all(s["generation"] for s in routes["services"]):
        return 0
    return routes["generation"]


def wait(what, check, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = check()
        if v:
            return v
        time.sleep(0.002)
    raise RuntimeError(f"timed out waiting for {what}")


# A proxy's reports (every 0.25 s, ~230k instructions each: the JSON of
# every routed Service's counters) would be counted into the requests under
# callgrind, whose slowness depends on the machine's load (47k-55k "per
# request" on a loaded machine against 23.7k on a quiet one): instruction
# counts run with one report every 600 s. (A report comes at once when a
# set is applied, which readiness needs.)
QUIET_BUS = ("--report-interval", "600")


def start_routed(procs, backend, hosts, rules, nproxies=1, under_test=True, bindir=BIN,
                 wrap=(), quiet_bus=False):
    """lb-discover on a routes file and nproxies bus proxies; returns
    (file, [(port, admin_port, pid, log)], discover log). quiet_bus: the
    proxies report every 600 s (QUIET_BUS)."""
    quiet = QUIET_BUS if quiet_bus else ()
    rundir = os.path.join(procs.dir, f"rt-{len(procs.procs)}")
    os.mkdir(rundir)
    ports = [free_port() for _ in range(nproxies)]
    path = os.path.join(rundir, "routes.json")
    write(path, documents(ports, backend, hosts, rules))
    d = procs.start([os.path.join(bindir, "lb-discover"), "--runtime-dir", rundir, "--routes", path,
                     "--no-health-check"], name="discover")
    dlog = os.path.join(procs.dir, f"discover-{len(procs.procs) - 1}.log")
    proxies = []
    for port in ports:
        aport = free_port()
        p = procs.start([*wrap, os.path.join(bindir, "lb-proxy"), "--runtime-dir", rundir,
                         "--listen",
                         f"127.0.0.1:{port}", "--admin", f"127.0.0.1:{aport}", "--access-log",
                         "off", "--reuse-port", *quiet],
                        name="proxy", under_test=under_test)
        proxies.append((port, aport, p.pid,
                        os.path.join(procs.dir, f"proxy-{len(procs.procs) - 1}.log")))
    for port, aport, _, _ in proxies:
        wait_port(aport, timeout=60)
        wait("routes served", lambda: serving(aport))
    assert d.poll() is None
    return path, ports, proxies, dlog


def cpu_per_request(port, pid, host, path):
    wrk(f"http://127.0.0.1:{port}{path}", duration=1, connections=16,
        headers=[f"Host: {host}"])          # warm-up
    before = cpu_seconds(pid)
    r = wrk(f"http://127.0.0.1:{port}{path}", duration=DURATION, connections=16,
            headers=[f"Host: {host}"])
    used = cpu_seconds(pid) - before
    assert r["non2xx"] == 0, r
    return used / (r["rps"] * DURATION) * 1e6, r["rps"]


def count(pid, out, port, requests, seen):
    """Instructions per request of the proxy pid under callgrind: a warm-up
    of 200, then `requests` measured, less what the proxy does meanwhile
    without requests (lb-discover's heartbeat, timers: counted over a
    window as long as the requests took, right after, and subtracted)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    total = 0
    try:
        for n in (200, REQUESTS):     # a warm-up, then the requests measured
            started = time.monotonic()
            for _ in range(n):
                host, path = requests
                c.request("GET", path, headers={"Host": host})
                r = c.getresponse()
                r.read()
                assert r.status == 200, r.status
            took = time.monotonic() - started
            subprocess.run(["callgrind_control", "-d", str(pid)], capture_output=True)
            total, seen = dump_total(out + "*", seen)
        time.sleep(took)
        subprocess.run(["callgrind_control", "-d", str(pid)], capture_output=True)
        idle, seen = dump_total(out + "*", seen)
    finally:
        c.close()
    return (total - idle) / REQUESTS, seen


def instructions(bindir, backend):
    """Instructions per request under callgrind: (the single service on the
    bus, first host, last host). The single service gets the first host's
    request, the same bytes, so the difference is the routing alone (a longer Host costs
    its parsing and validation too: ~700 instructions between "x" and
    "h0.example.com")."""
    procs = Procs()
    out = os.path.join(procs.dir, "cg.out")
    wrap = ("valgrind", "--tool=callgrind", f"--callgrind-out-file={out}")
    first = ("h0.example.com", "/r0/x")
    last = (f"h{HOSTS - 1}.example.com", f"/r{RULES - 1}/x")
    try:
        # the single service as deployed: lb-discover publishing its set on
        # the bus (the bus's thread makes libc's read/write wrappers cost a
        # little more than --backends' lone thread: both sides pay it)
        rundir = os.path.join(procs.dir, "rt-single")
        os.mkdir(rundir)
        procs.start([os.path.join(bindir, "lb-discover"), "--runtime-dir", rundir, "--static",
                     backend, "--no-health-check"], name="discover")
        port, aport = free_port(), free_port()
        p = procs.start([*wrap, os.path.join(bindir, "lb-proxy"), "--runtime-dir", rundir,
                         "--listen", f"127.0.0.1:{port}", "--admin", f"127.0.0.1:{aport}",
                         "--access-log", "off", *QUIET_BUS], name="proxy")
        wait_port(port, timeout=60)
        single, _ = count(p.pid, out, port, first, set())
        p.terminate()
        p.wait()
        out = os.path.join(procs.dir, "cg-routed.out")
        wrap = ("valgrind", "--tool=callgrind", f"--callgrind-out-file={out}")
        _, _, [(port, aport, pid, _)], _ = start_routed(
            procs, backend, HOSTS, RULES, bindir=bindir, quiet_bus=True, wrap=wrap)
        a, seen = count(pid, out, port, first, set())
        b, _ = count(pid, out, port, last, seen)
        return single, a, b
    finally:
        procs.stop_all()


def main():
    if os.environ.get("INSTRUCTIONS_ONLY"):
        instructions_table()
        return
    procs = Procs()
    rows = []
    try:
        backend = echo_backends(procs, 1)[0]
        # the single service
        port, aport = free_port(), free_port()
        p = procs.start([os.path.join(BIN, "lb-proxy"), "--listen", f"127.0.0.1:{port}",
                         "--admin", f"127.0.0.1:{aport}", "--backends", backend,
                         "--access-log", "off"], name="proxy", under_test=True)
        wait_port(port)
        single, rps = cpu_per_request(port, p.pid, "example.com", "/r0")
        rows.append(["single service (--backends)", f"{single:.2f}", f"{rps:.0f}", "-", "-"])
        # one route
        _, _, [(port, aport, pid, _)], _ = start_routed(procs, backend, 0, 1)
        one, rps = cpu_per_request(port, pid, "example.com", "/r0")
        rows.append(["one HTTPRoute", f"{one:.2f}", f"{rps:.0f}", "-", "-"])
        # HOSTS x RULES, the last rule of the last hostname
        path, ports, [(port, aport, pid, plog)], dlog = start_routed(procs, backend, HOSTS,
                                                                      RULES)
        big, rps = cpu_per_request(port, pid, f"h{HOSTS - 1}.example.com", f"/r{RULES - 1}/x")
        first, _ = cpu_per_request(port, pid, "h0.example.com", "/r0/x")
        gen = serving(aport)
        write(path, documents(ports, backend, HOSTS, RULES, weight=99))
        wait("the edit served", lambda: serving(aport) != gen and serving(aport))
        compile_ms = log_value(dlog, r"routes file reloaded .*compile_ms=([\d.]+)")
        apply_ms = log_value(plog, r"routes applied .*apply_ms=([\d.]+)")
        rows.append([f"{HOSTS} hostnames x {RULES} rules: last host, last rule", f"{big:.2f}",
                     f"{rps:.0f}", compile_ms, apply_ms])
        rows.append([f"{HOSTS} hostnames x {RULES} rules: first host, first rule",
                     f"{first:.2f}", "-", "-", "-"])
        print(f"\nlb-proxy CPU per request (keep-alive, wrk -c16, {DURATION} s a case)\n")
        table(rows, ["case", "CPU us/request", "req/s", "compile ms", "apply ms"])
        print(f"\none route over the single service: {100 * (one / single - 1):+.1f}% CPU; "
              f"{HOSTS}x{RULES} (last) over one route: {big - one:+.2f} us")
        procs.stop_all()
        # propagation
        backend = echo_backends(procs, 1)[0]
        path, ports, proxies, _ = start_routed(procs, backend, 1, 1, PROXIES, under_test=False)
        times = []
        for i in range(CHANGES):
            gens = [serving(a) for _, a, _, _ in proxies]
            t0 = time.monotonic()
            write(path, documents(ports, backend, 1, 1, weight=50 + (i % 2)))
            for (_, a, _, _), g in zip(proxies, gens):
                wait("the change", lambda: serving(a) not in (0, g))
            times.append((time.monotonic() - t0) * 1000)
        times.sort()
        print(f"\na route change reaching {PROXIES} proxies ({CHANGES} changes, polled every "
              f"2 ms): p50 {times[len(times) // 2]:.1f} ms, "
              f"p99 {times[min(len(times) - 1, int(len(times) * 0.99))]:.1f} ms, "
              f"max {times[-1]:.1f} ms")
    finally:
        procs.stop_all()
    instructions_table()


def instructions_table():
    procs = Procs()
    try:
        backend = echo_backends(procs, 1)[0]
        rows = []
        for name, bindir in [("lb-proxy", BIN)] + ([("baseline", BASELINE)] if BASELINE else []):
            single, first, last = instructions(bindir, backend)
            rows.append([name, f"{single:.0f}", f"{first:.0f} ({first / single - 1:+.1%})",
                         f"{last:.0f} ({last / single - 1:+.1%})"])
        print(f"\ninstructions per request (callgrind, {REQUESTS} requests after 200, "
              f"{HOSTS} hostnames x {RULES} rules; the single service gets h0 /r0's "
              "request)\n")
        table(rows, ["build", "single service", "h0 /r0", f"h{HOSTS - 1} /r{RULES - 1}"])
    finally:
        procs.stop_all()


if __name__ == "__main__":
    main()
