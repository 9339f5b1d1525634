"""Bus bytes a proxy's reports cost with routed Services: lb-discover --routes
with SERVICES (100) routed Services of two backends each, one lb-proxy on its
bus, idle (no request) and then busy (each Service's counters change every
report interval, the worst case: every report says something new). The
proxy's sendmsg calls are counted with strace over SECONDS (10) in each case;
an idle proxy sends nothing but its reports. The same with no route table:
the single-service mode's cost, which the routed mode must not change."""
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

from common import BIN, free_port

SERVICES = int(os.environ.get("SERVICES", "100"))
SECONDS = float(os.environ.get("SECONDS", "10"))


def documents(n, port):
    docs = [{"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
             "metadata": {"name": "gw", "namespace": "default"},
             "spec": {"gatewayClassName": "lb",
                      "listeners": [{"name": "http", "port": port, "protocol": "HTTP"}]}}]
    for i in range(n):
        docs.append({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
                     "metadata": {"name": f"r{i}", "namespace": "default"},
                     "spec": {"parentRefs": [{"name": "gw"}], "hostnames": [f"s{i}.example"],
                              "rules": [{"backendRefs": [{"name": f"s{i}", "port": 80}]}]}})
        docs.append({"apiVersion": "lb.dev/v1alpha1", "kind": "Backends",
                     "metadata": {"name": f"s{i}", "namespace": "default"},
                     "spec": {"ports": [{"port": 80, "addresses": [
                         f"127.0.0.1:{20000 + 2 * i}", f"127.0.0.1:{20001 + 2 * i}"]}]}})
    return docs


def start(argv, log):
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=open(log, "wb"),
                            stdin=subprocess.DEVNULL)


def wait_log(path, pattern, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        with open(path, errors="replace") as f:
            m = re.search(pattern, f.read())
        if m:
            return m
        time.sleep(0.05)
    raise RuntimeError(f"no /{pattern}/ in {path}")


def sent_bytes(pid, seconds):
    """Messages and bytes the process (every thread) sent with sendmsg/sendto."""
    out = tempfile.mktemp(prefix="lb-bench-strace-")
    tids = os.listdir(f"/proc/{pid}/task")
    argv = ["strace", "-q", "-f", "-e", "trace=sendmsg,sendto", "-o", out]
    for t in tids:
        argv += ["-p", t]
    st = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(seconds)
    st.terminate()
    st.wait()
    calls = total = 0
    with open(out) as f:
        for line in f:
            m = re.search(r"= (\d+)$", line.strip())
            if m:
                calls += 1
                total += int(m.group(1))
    os.unlink(out)
    return calls, total


def measure(services, busy):
    d = tempfile.mkdtemp(prefix="lb-bench-rt-", dir="/tmp")
    port = free_port()
    procs = []
    try:
        argv = [f"{BIN}/lb-discover", "--runtime-dir", d, "--no-health-check",
                "--static", "127.0.0.1:19999"]
        if services:
            with open(f"{d}/routes.yaml", "w") as f:
                f.write("\n---\n".join(json.dumps(x) for x in documents(services, port)))
            argv += ["--routes", f"{d}/routes.yaml"]
        procs.append(start(argv, f"{d}/discover.log"))
        wait_log(f"{d}/discover.log", r"INFO publishing ")
        px = start([f"{BIN}/lb-proxy", "--runtime-dir", d, "--listen", f"127.0.0.1:{port}",
                    "--admin", "127.0.0.1:0", "--access-log", "off"],
                   f"{d}/proxy.log")
        procs.append(px)
        wait_log(f"{d}/proxy.log", r"INFO listening listen=")
        time.sleep(3)   # the table, every Service's set, the first reports
        stop = threading.Event()
        if busy:
            # every Service's counters change every interval: requests to
            # each in turn (its backends refuse: a connect error counted)
            def load():
                i = 0
                while not stop.is_set():
                    try:
                        urllib.request.urlopen(urllib.request.Request(
                            f"http://127.0.0.1:{port}/", headers={"Host": f"s{i}.example"}),
                            timeout=2).read()
                    except Exception:
                        pass
                    i = (i + 1) % max(services, 1)
            threading.Thread(target=load, daemon=True).start()
            time.sleep(1)
        calls, total = sent_bytes(px.pid, SECONDS)
        stop.set()
        return calls / SECONDS, total / SECONDS
    finally:
        for p in reversed(procs):
            p.terminate()
            p.wait()
        subprocess.run(["rm", "-rf", d])


def main():
    if subprocess.run(["which", "strace"], capture_output=True).returncode:
        sys.exit("bench_routed_reports: needs strace (make bench-deps)")
    for services, busy in ((0, False), (SERVICES, False), (SERVICES, True)):
        msgs, bps = measure(services, busy)
        print(f"routed services {services:4d}, {'busy' if busy else 'idle'}: {msgs:7.1f} "
              f"messages/s {bps / 1024:8.1f} KiB/s sent on the bus")


if __name__ == "__main__":
    main()
