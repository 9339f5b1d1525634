"""Where lb-proxy's CPU goes, beside HAProxy's: for keep-alive GET,
Connection: close GET and POST 4 KiB (wrk -c64, the proxy alone on its core
as in bench_proxy.py), the system calls each proxy makes per request and the
top of lb-proxy's CPU profile.

- System calls: `perf stat -e 'syscalls:sys_enter_*' -p PID` over the wrk
  run (kernel tracepoints: exact counts, little overhead); SYSCALLS=strace
  uses `strace -c -f -p PID` instead (it slows the proxy several times, so
  the passes, and the epoll_waits per request, are not those of full speed).
- Profile: `perf record -g -p PID` (the CPU clock: this VM has no hardware
  counters), `perf report --no-children --sort sym`, the entries over 1%.

Needs perf (linux-perf) and, for SYSCALLS=strace, strace; run as root (the
tracepoints). CASES= picks cases by words as bench_proxy.py does,
DURATION= the seconds per run, PROXIES="lb-proxy haproxy", TOP= the
profile's lines. LB_BIN_DIR= another build's binaries.
"""
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from common import BIN, Procs, echo_backends, free_port, wait_port, wrk  # noqa: E402
from bench_proxy import haproxy  # noqa: E402

DURATION = int(os.environ.get("DURATION", "5"))
CASES_WANTED = [c.strip() for c in os.environ.get("CASES", "").split(",") if c.strip()]
PROXIES = os.environ.get("PROXIES", "lb-proxy haproxy").split()
SYSCALLS = os.environ.get("SYSCALLS", "perf")
TOP = int(os.environ.get("TOP", "15"))


def count_syscalls(pid, run):
    """{syscall: count} over run() (which returns wrk's result)."""
    out = tempfile.mktemp(prefix="lb-profile-", suffix=".txt")
    if SYSCALLS == "strace":
        tracer = subprocess.Popen(["strace", "-c", "-f", "-q", "-o", out, "-p", str(pid)])
    else:
        tracer = subprocess.Popen(["perf", "stat", "-x", ",", "-o", out,
                                   "-e", "syscalls:sys_enter_*", "-p", str(pid)])
    time.sleep(0.5)          # attached (strace stops the process to attach)
    res = run()
    tracer.send_signal(signal.SIGINT)
    tracer.wait()
    counts = {}
    with open(out) as f:
        for line in f:
            if SYSCALLS == "strace":
                m = re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)\s*$", line)
                if m and m.group(2) != "total":
                    counts[m.group(2)] = int(m.group(1))
            else:
                parts = line.strip().split(",")
                if len(parts) > 2 and parts[0].isdigit() and "sys_enter_" in parts[2]:
                    counts[parts[2].split("sys_enter_")[1]] = int(parts[0])
    os.unlink(out)
    return counts, res


def profile(pid, run):
    """perf report's top lines of pid over run()."""
    data = tempfile.mktemp(prefix="lb-profile-", suffix=".data")
    rec = subprocess.Popen(["perf", "record", "-g", "-q", "-o", data, "-p", str(pid)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.3)
    res = run()
    rec.send_signal(signal.SIGINT)
    rec.wait()
    rep = subprocess.run(["perf", "report", "-i", data, "--no-children", "--stdio", "--sort",
                          "sym", "-g", "none", "-q"],
                         capture_output=True, text=True).stdout
    os.unlink(data)
    lines = [line.strip() for line in rep.splitlines() if re.match(r"\s*[\d.]+%", line)]
    kernel = sum(float(line.split("%")[0]) for line in lines if "[k]" in line)
    user = [line for line in lines if "[.]" in line]
    return (lines[:TOP] + [f"kernel {kernel:.1f}%, user space {100 - kernel:.1f}%; "
                           "user space's top:"] + ["  " + line for line in user[:TOP // 2]]), res


def main():
    procs = Procs()
    try:
        backends = echo_backends(procs, 3, "--max-body", "2m", pod_names=True)
        post_lua = os.path.join(procs.dir, "post.lua")
        with open(post_lua, "w") as f:
            f.write('wrk.method = "POST"\nwrk.body = string.rep("x", 4096)\n'
                    'wrk.headers["Content-Type"] = "text/plain"\n')
        cases = [("keep-alive GET", "/", {}),
                 ("Connection: close GET", "/", {"headers": ["Connection: close"]}),
                 ("POST 4 KiB", "/post", {"script": post_lua})]
        if CASES_WANTED:
            cases = [c for c in cases if any(w in c[0] for w in CASES_WANTED)]
        ports, pids = {}, {}
        ports["lb-proxy"] = free_port()
        pids["lb-proxy"] = procs.start([os.path.join(BIN, "lb-proxy"), "--listen",
                                        f"127.0.0.1:{ports['lb-proxy']}", "--admin",
                                        f"127.0.0.1:{free_port()}", "--backends",
                                        ",".join(backends), "--access-log", "off",
                                        *os.environ.get("LB_PROXY_ARGS", "").split()],
                                       name="lb-proxy", under_test=True).pid
        if "haproxy" in PROXIES:
            ports["haproxy"] = free_port()
            pids["haproxy"] = haproxy(procs, ports["haproxy"], backends).pid
        for p in ports.values():
            wait_port(p)
        for name, path, kw in cases:
            print(f"\n== {name} (wrk -t1 -c64 -d{DURATION}s)")
            for proxy in [p for p in PROXIES if p in ports]:
                def run():
                    return wrk(f"http://127.0.0.1:{ports[proxy]}{path}", duration=DURATION,
                               connections=64, **kw)
                counts, res = count_syscalls(pids[proxy], run)
                n = max(1.0, res["rps"] * DURATION)
                per = sorted(((c / n, s) for s, c in counts.items() if c / n >= 0.01),
                             reverse=True)
                print(f"{proxy}: {res['rps']:.0f} req/s under {SYSCALLS}; system calls per "
                      f"request {sum(counts.values()) / n:.2f}: "
                      + ", ".join(f"{s} {v:.2f}" for v, s in per))
            lines, res = profile(pids["lb-proxy"], lambda: wrk(
                f"http://127.0.0.1:{ports['lb-proxy']}{path}", duration=DURATION,
                connections=64, **kw))
            print(f"lb-proxy profile ({res['rps']:.0f} req/s; perf record -g, self time):")
            for line in lines:
                print("   ", line)
    finally:
        procs.stop_all()


if __name__ == "__main__":
    sys.exit(main())
