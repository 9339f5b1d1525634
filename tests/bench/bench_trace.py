#!/usr/bin/env python3
"""The cost of tracing: lb-proxy's CPU per request with tracing off (no
--otlp-endpoint: propagation only), and on with --trace-sample 0, 0.1 and 1.0,
exporting to a local OTLP/HTTP sink (nginx on the load cores: it reads each
body and answers 200 without decoding it, so it keeps up). wrk drives new requests (no traceparent: the
ratio decides) through lb-proxy to two lb-echo backends; the proxy's CPU time
(utime + stime from /proc) over the run divided by the requests answered.
Modes alternate, ROUNDS rounds of DURATION seconds, medians printed; spans
exported and dropped are printed too, so a figure that dropped spans shows it.

  python3 tests/bench/bench_trace.py      (ROUNDS=3 DURATION=5 by default)

CALLGRIND=N counts instructions instead (valgrind's callgrind, user space
only, no kernel: noise-free on a busy machine): each mode's proxy runs under
callgrind, N keep-alive GETs one after another, the counters zeroed after a
warm-up and dumped after the last export; instructions per request printed.
Needs valgrind (apt-get install valgrind).

PERF=N samples a traced proxy (--trace-sample 1) with perf for N seconds under
wrk and prints the share of its CPU, user and kernel, that tracing's code and
the export's socket calls take (a busy machine slows both alike).
"""
import os
import re
import statistics
import sys
import glob
import http.client
import subprocess
import time
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from common import (BIN, Procs, echo_backends, free_port, nginx, pinned, table,  # noqa: E402
                    wait_port, wrk)

ROUNDS = int(os.environ.get("ROUNDS", "3"))
DURATION = int(os.environ.get("DURATION", "5"))
MODES = [("off", None), ("sample 0", "0"), ("sample 0.1", "0.1"), ("sample 1.0", "1")]
# TRACE_ARGS="--otlp-batch-size 2048": more flags for the traced proxies
TRACE_ARGS = os.environ.get("TRACE_ARGS", "").split()
# TRACE_MODES=off,1: only these modes (by their --trace-sample, "off" for none)
if os.environ.get("TRACE_MODES"):
    MODES = [m for m in MODES if (m[1] or "off") in os.environ["TRACE_MODES"].split(",")]


def sink(procs):
    """nginx answering every POST with 200 {} once it has read the whole body, as a
    collector does (it proxies to a second server block that answers, without the
    body): an answer before the body's end makes libcurl stop sending and close the
    connection, and the export would look cheaper than it is. On the load cores (not
    the proxy's). Returns its base URL."""
    port, inner = free_port(), free_port()
    nginx(procs, f"server {{ listen 127.0.0.1:{inner}; location / {{ default_type application/json; "
                 f"return 200 \"{{}}\"; }} }} "
                 f"server {{ listen 127.0.0.1:{port}; client_max_body_size 64m; "
                 f"client_body_buffer_size 4m; location / {{ proxy_pass http://127.0.0.1:{inner}; "
                 f"proxy_pass_request_body off; proxy_set_header Content-Length \"\"; }} }}",
          under_test=False, name="sink")
    wait_port(port)
    return f"http://127.0.0.1:{port}"


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def metric(admin, name):
    body = urllib.request.urlopen(f"http://127.0.0.1:{admin}/metrics", timeout=5).read().decode()
    m = re.search(rf"^{name} (\d+)", body, re.M)
    return int(m.group(1)) if m else 0


def run(procs, backends, sink_url, sample):
    port, admin = free_port(), free_port()
    argv = [os.path.join(BIN, "lb-proxy"), "--listen", f"127.0.0.1:{port}", "--admin",
            f"127.0.0.1:{admin}", "--backends", ",".join(backends), "--access-log", "off"]
    if sample is not None:
        argv += ["--otlp-endpoint", sink_url, "--trace-sample", sample] + TRACE_ARGS
    p = procs.start(argv, name="lb-proxy", under_test=True)
    wait_port(port)
    wait_port(admin)
    before = cpu_seconds(p.pid)
    r = wrk(f"http://127.0.0.1:{port}/bench", duration=DURATION)
    cpu = cpu_seconds(p.pid) - before
    requests = r["rps"] * DURATION
    # the last batch goes at the next interval (5 s): wait for it, out of the CPU figure
    exported = dropped = 0
    if sample is not None:
        deadline = time.time() + 10
        while time.time() < deadline and metric(admin, "lb_proxy_trace_spans_queued"):
            time.sleep(0.2)
        exported = metric(admin, "lb_proxy_trace_spans_exported_total")
        dropped = metric(admin, "lb_proxy_trace_spans_dropped_total")
    p.terminate()
    p.wait(10)
    procs.procs.remove(p)
    return {"rps": r["rps"], "us": cpu / requests * 1e6, "exported": exported,
            "dropped": dropped, "requests": requests}


def callgrind(procs, backends, sink_url, sample, n):
    """Instructions per request of lb-proxy in user space, under callgrind."""
    port, admin = free_port(), free_port()
    out = os.path.join(procs.dir, f"callgrind-{sample}.out")
    argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
            os.path.join(BIN, "lb-proxy"), "--listen", f"127.0.0.1:{port}", "--admin",
            f"127.0.0.1:{admin}", "--backends", ",".join(backends), "--access-log", "off",
            "--otlp-interval", "0.5"]
    if sample is not None:
        argv += ["--otlp-endpoint", sink_url, "--trace-sample", sample] + TRACE_ARGS
    p = procs.start(argv, name="callgrind")
    wait_port(port, 120)
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for _ in range(200):
        c.request("GET", "/warm")
        c.getresponse().read()
    time.sleep(1.5)
    subprocess.run(["callgrind_control", "-z", str(p.pid)], capture_output=True, check=True)
    for _ in range(n):
        c.request("GET", "/bench")
        c.getresponse().read()
    time.sleep(1.5)     # the last export (--otlp-interval 0.5) is counted too
    subprocess.run(["callgrind_control", "-d", str(p.pid)], capture_output=True, check=True)
    c.close()
    p.terminate()
    p.wait(300)
    procs.procs.remove(p)
    dump = sorted((f for f in glob.glob(out + ".*")), key=os.path.getmtime)[-1]
    with open(dump) as f:
        total = int(re.search(r"^(?:summary|totals): (\d+)", f.read(), re.M).group(1))
    print(f"{sample or 'off'}: callgrind_annotate --inclusive=yes {dump}")
    return total / n


def main_callgrind(n):
    procs = Procs()
    try:
        sink_url = sink(procs)
        backends = echo_backends(procs, 2)
        rows, base = [], None
        for name, sample in MODES:
            ins = callgrind(procs, backends, sink_url, sample, n)
            base = base or ins
            rows.append([name, f"{ins:.0f}", f"{(ins / base - 1) * 100:+.1f}%"])
        print(f"\nlb-proxy instructions per request in user space (callgrind, {n} keep-alive GETs)")
        table(rows, ["tracing", "instructions/req", "vs off"])
    finally:
        procs.stop_all()


# What perf counts as tracing's in a traced proxy: the span records, their
# JSON, the ids, the exporter, libcurl and zlib; and in the kernel the
# export's own socket calls (libcurl sends with send(), recv(): the proxy's
# sockets use writev and read).
TRACE_SYMBOLS = re.compile(r"^(otlp_|trace_|put_|random_id|next_random|add_host_port|"
                           r"attempt_finish|server_attributes|span_ids|write_fields|text_plain|"
                           r"take_batch|send_body|on_kick|on_tick|on_sock|on_timer|"
                           r"finish_done|socket_cb|timer_cb)")


def main_perf(seconds):
    """The share of a traced proxy's CPU (user + kernel) that tracing takes,
    from perf's samples while wrk drives it at --trace-sample 1: robust to
    a busy machine, as a ratio of two wall-clock runs is not."""
    procs = Procs()
    try:
        sink_url = sink(procs)
        backends = echo_backends(procs, 2)
        port, admin = free_port(), free_port()
        p = procs.start([os.path.join(BIN, "lb-proxy"), "--listen", f"127.0.0.1:{port}",
                         "--admin", f"127.0.0.1:{admin}", "--backends", ",".join(backends),
                         "--access-log", "off", "--otlp-endpoint", sink_url, "--trace-sample",
                         "1"] + TRACE_ARGS, name="lb-proxy", under_test=True)
        wait_port(port)
        data = os.path.join(procs.dir, "perf.data")
        load = subprocess.Popen(pinned(["wrk", "-t1", "-c64", f"-d{seconds + 2}s",
                                        f"http://127.0.0.1:{port}/bench"], False),
                                stdout=subprocess.DEVNULL)
        time.sleep(1)
        subprocess.run(["perf", "record", "-g", "-o", data, "-p", str(p.pid), "--", "sleep",
                        str(seconds)], capture_output=True, check=True)
        load.wait()
        flat = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort",
                               "dso,symbol", "-g", "none"], capture_output=True, text=True).stdout
        tree = subprocess.run(["perf", "report", "-i", data, "--children", "--sort", "symbol",
                               "-g", "none"], capture_output=True, text=True).stdout
        user, libs, parts = 0.0, 0.0, {}
        for line in flat.splitlines():
            m = re.match(r"\s*([\d.]+)%\s+(\S+)\s+\[\.\]\s+(\S+)", line)
            if m and (m.group(2).startswith(("libcurl", "libz")) or
                      TRACE_SYMBOLS.match(m.group(3))):
                user += float(m.group(1))
                if m.group(2).startswith(("libcurl", "libz")):
                    libs += float(m.group(1))
                parts[m.group(3)] = parts.get(m.group(3), 0) + float(m.group(1))
        kernel = sum(float(m.group(1)) for m in re.finditer(
            r"^\s*([\d.]+)%\s+[\d.]+%\s+\[k\] (?:__sys_sendto|__sys_recvfrom)\s", tree, re.M))
        share = user + kernel
        print(f"\nlb-proxy at --trace-sample 1 under wrk, perf record {seconds} s: tracing takes "
              f"{share:.1f}% of its CPU ({user:.1f}% user space, of it {libs:.1f}% libcurl and "
              f"zlib; {kernel:.1f}% the export's send/recv in the kernel): "
              f"+{share / (100 - share) * 100:.1f}% over the rest")
        for sym, pct in sorted(parts.items(), key=lambda x: -x[1])[:8]:
            print(f"  {pct:5.2f}%  {sym}")
    finally:
        procs.stop_all()


def main():
    if os.environ.get("PERF"):
        main_perf(int(os.environ["PERF"]))
        return
    if os.environ.get("CALLGRIND"):
        main_callgrind(int(os.environ["CALLGRIND"]))
        return
    procs = Procs()
    try:
        sink_url = sink(procs)
        backends = echo_backends(procs, 2)
        results = {name: [] for name, _ in MODES}
        for _ in range(ROUNDS):
            for name, sample in MODES:
                results[name].append(run(procs, backends, sink_url, sample))
        base = statistics.median(r["us"] for r in results["off"])
        rows = []
        for name, _ in MODES:
            rs = results[name]
            us = statistics.median(r["us"] for r in rs)
            req = sum(r["requests"] for r in rs)
            rows.append([name, f"{statistics.median(r['rps'] for r in rs):.0f}", f"{us:.2f}",
                         f"{(us / base - 1) * 100:+.1f}%",
                         f"{sum(r['exported'] for r in rs) / req:.2f}",
                         f"{sum(r['dropped'] for r in rs)}"])
        print(f"\nlb-proxy CPU per request, tracing off and on (wrk -t1 -c64 -d{DURATION}s, "
              f"median of {ROUNDS} rounds, two lb-echo backends, a local OTLP sink)")
        table(rows, ["tracing", "req/s", "CPU us/req", "vs off", "spans/req", "dropped"])
    finally:
        procs.stop_all()


if __name__ == "__main__":
    main()
