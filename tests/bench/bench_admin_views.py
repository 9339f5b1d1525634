"""What lb-discover's views cost with routed Services: lb-discover --routes
with SERVICES (100, then 1000) routed Services of two backends each and one
lb-proxy on its bus (so every Service has a proxy's report), idle. Printed:
the size of a GET /admin/metrics, the CPU time lb-discover spends per scrape
(its utime + stime over SCRAPES, 20, sequential scrapes: a loaded machine
stretches the wall time, not this) and the client's median time, and the size of one
"status" event of /events (the main Service's, and a routed Service's
through ?service=, each with the list of Services, at most
SERVICES_VIEW_MAX rows)."""
import json
import os
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request

from bench_routed_reports import documents, start, wait_log
from common import BIN, free_port

SCRAPES = int(os.environ.get("SCRAPES", "20"))
SIZES = [int(x) for x in os.environ.get("SERVICES", "100,1000").split(",")]


def status_event(port, query=""):
    """The bytes of the first "status" event of GET /events{query}."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(f"GET /events{query} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    buf = b""
    while b"event: status\ndata: " not in buf or not buf.endswith(b"\n\n"):
        data = s.recv(1 << 20)
        if not data:
            break
        buf += data
    s.close()
    block = buf[buf.index(b"event: status\n"):]
    return len(block[:block.index(b"\n\n") + 2])


def cpu_seconds(pid):
    """User + system CPU seconds of the process so far (/proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(services):
    d = tempfile.mkdtemp(prefix="lb-bench-av-", dir="/tmp")
    port, admin = free_port(), free_port()
    procs = []
    try:
        with open(f"{d}/routes.yaml", "w") as f:
            f.write("\n---\n".join(json.dumps(x) for x in documents(services, port)))
        procs.append(start([f"{BIN}/lb-discover", "--runtime-dir", d, "--no-health-check",
                            "--static", "127.0.0.1:19999", "--routes", f"{d}/routes.yaml",
                            "--admin", f"127.0.0.1:{admin}"], f"{d}/discover.log"))
        wait_log(f"{d}/discover.log", r"INFO admin listening ")
        procs.append(start([f"{BIN}/lb-proxy", "--runtime-dir", d, "--listen",
                            f"127.0.0.1:{port}", "--admin", "127.0.0.1:0", "--access-log",
                            "off"], f"{d}/proxy.log"))
        wait_log(f"{d}/proxy.log", r"INFO listening listen=")
        time.sleep(3)   # the table, every Service's set, the first reports
        times, size = [], 0
        cpu0 = cpu_seconds(procs[0].pid)
        for _ in range(SCRAPES):
            t0 = time.perf_counter()
            with urllib.request.urlopen(f"http://127.0.0.1:{admin}/admin/metrics",
                                        timeout=30) as r:
                size = len(r.read())
            times.append(time.perf_counter() - t0)
        cpu = (cpu_seconds(procs[0].pid) - cpu0) / SCRAPES
        one = urllib.parse.quote("default/s0:80", safe="")
        return (size, cpu, statistics.median(times), status_event(admin),
                status_event(admin, f"?service={one}"))
    finally:
        for p in reversed(procs):
            p.terminate()
            p.wait()
        subprocess.run(["rm", "-rf", d])


def main():
    for services in SIZES:
        size, cpu, p50, main_event, routed_event = measure(services)
        print(f"routed services {services:5d}: /admin/metrics {size / 1024:8.1f} KiB, "
              f"{cpu * 1000:6.1f} ms CPU a scrape ({p50 * 1000:6.1f} ms median); /events status "
              f"{main_event / 1024:6.1f} KiB (main), {routed_event / 1024:6.1f} KiB "
              f"(?service=)")


if __name__ == "__main__":
    main()
