"""Instructions lb-proxy executes per request (user space, valgrind's
callgrind): a figure this busy 2-core machine cannot move, for a before and
after of a change to the hot path. Each build runs under callgrind; after
WARMUP requests its counters are dumped (callgrind_control -d), then after
REQUESTS more, and the second dump is those requests' alone.

  python3 tests/bench/instructions_proxy.py                  # this tree, log off and on
  LB_BASELINE_BIN=/old/bin python3 tests/bench/instructions_proxy.py

Cases: keep-alive GET (one connection, keep-alive), POST 4 KiB the same;
each with --access-log off and on (stderr a file). Needs valgrind."""
import glob
import http.client
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from common import BIN, Procs, echo_backends, free_port, wait_port  # noqa: E402

WARMUP = int(os.environ.get("WARMUP", "300"))
REQUESTS = int(os.environ.get("REQUESTS", "2000"))
BASELINE = os.environ.get("LB_BASELINE_BIN")


def dump_total(out_glob, before):
    """The Ir total of the newest dump not in `before`."""
    for _ in range(200):
        new = sorted(set(glob.glob(out_glob)) - before, key=os.path.getmtime)
        if new:
            time.sleep(0.2)
            with open(new[-1]) as f:
                for line in f:
                    if line.startswith(("summary:", "totals:")):
                        return int(line.split()[1]), set(glob.glob(out_glob))
        time.sleep(0.1)
    raise RuntimeError("no callgrind dump")


def measure(bindir, backends, access_log, body):
    d = tempfile.mkdtemp(prefix="lb-cg-")
    out = os.path.join(d, "cg.out")
    port = free_port()
    log = open(os.path.join(d, "stderr"), "wb")
    p = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                          os.path.join(bindir, "lb-proxy"), "--listen", f"127.0.0.1:{port}",
                          "--admin", f"127.0.0.1:{free_port()}", "--backends",
                          ",".join(backends), "--access-log", access_log],
                         stdout=subprocess.DEVNULL, stderr=log)
    try:
        wait_port(port, timeout=60)
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        method = "POST" if body else "GET"

        def send(n):
            for _ in range(n):
                c.request(method, "/post" if body else "/", body=body,
                          headers={"Content-Type": "text/plain"} if body else {})
                r = c.getresponse()
                r.read()
                assert r.status == 200, r.status
        send(WARMUP)
        subprocess.run(["callgrind_control", "-d", str(p.pid)], capture_output=True)
        _, seen = dump_total(out + "*", set())
        send(REQUESTS)
        subprocess.run(["callgrind_control", "-d", str(p.pid)], capture_output=True)
        total, _ = dump_total(out + "*", seen)
        c.close()
        return total / REQUESTS
    finally:
        p.terminate()
        p.wait(60)
        log.close()
        subprocess.run(["rm", "-rf", d])


def main():
    procs = Procs()
    try:
        backends = echo_backends(procs, 1, "--max-body", "2m")
        builds = [("lb-proxy", BIN)] + ([("lb-base", BASELINE)] if BASELINE else [])
        print(f"instructions per request (callgrind, {REQUESTS} requests after {WARMUP}, "
              "one keep-alive connection)\n")
        for case, body in (("keep-alive GET", None), ("POST 4 KiB", b"x" * 4096)):
            for name, bindir in builds:
                off = measure(bindir, backends, "off", body)
                on = measure(bindir, backends, "on", body)
                print(f"{case:15s} {name:9s} access log off {off:9.0f}  on {on:9.0f}  "
                      f"the line costs {on - off:7.0f} ({(on - off) / off * 100:.1f}%)",
                      flush=True)
    finally:
        procs.stop_all()


if __name__ == "__main__":
    main()
