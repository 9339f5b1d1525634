"""HTTP/2 to clients: lb-proxy against HAProxy (nbthread 1) and nginx (1
worker), h2load -c 10 -m 10 (10 connections, 10 streams in flight on each),
h2c with prior knowledge and h2 over TLS (ALPN, the same ECDSA P-256
certificate), HTTP/1.1 with keep-alive to the same three lb-echo backends,
round robin. Alternating, several rounds; prints req/s and each proxy's CPU
per stream (its CPU seconds over the run / the streams answered), medians.
The goal (issue 25): lb-proxy's CPU per stream at most HAProxy's."""
import os
import re
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from common import (BIN, LOAD_CPUS, PIN, SUT_CPUS, Procs, echo_backends, free_port,  # noqa: E402
                    nginx, pinned, table, wait_port)
from bench_proxy import haproxy, make_cert  # noqa: E402
from support.procfs import cpu_seconds  # noqa: E402

ROUNDS = int(os.environ.get("ROUNDS", "3"))
DURATION = int(os.environ.get("DURATION", "5"))
CONNECTIONS = int(os.environ.get("H2_CONNECTIONS", "10"))
STREAMS = int(os.environ.get("H2_STREAMS", "10"))
PROXIES = ("lb-proxy", "haproxy", "nginx")


def h2load(url):
    """h2load for DURATION seconds on the load cores: (req/s, streams that
    succeeded, streams that failed or errored)."""
    argv = ["h2load", "-c", str(CONNECTIONS), "-m", str(STREAMS), "-t", "1",
            "-D", str(DURATION), url]
    out = subprocess.run(pinned(argv, False), capture_output=True, text=True,
                         timeout=DURATION + 60).stdout
    rps = re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", out)
    done = re.search(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, "
                     r"(\d+) failed, (\d+) errored", out)
    if not rps or not done:
        raise RuntimeError(f"h2load said:\n{out}")
    return float(rps.group(1)), int(done.group(1)), int(done.group(2)) + int(done.group(3))


def start(procs, backends, tls, cert):
    """The three proxies, h2c (tls False) or h2 over TLS: {proxy: (url, pid)}."""
    ports = {p: free_port() for p in PROXIES}
    scheme = "https" if tls else "http"
    lb = [os.path.join(BIN, "lb-proxy"), "--listen",
          f"{'tls:' if tls else ''}127.0.0.1:{ports['lb-proxy']}", "--admin",
          f"127.0.0.1:{free_port()}", "--backends", ",".join(backends), "--access-log", "off"]
    if tls:
        lb += ["--tls-cert", cert[0], "--tls-key", cert[1]]
    pids = {"lb-proxy": procs.start(lb + os.environ.get("LB_PROXY_ARGS", "").split(),
                                    name="lb-proxy", under_test=True).pid}
    # HAProxy: "proto h2" is h2c with prior knowledge; over TLS, ALPN
    bind = f" ssl crt {cert[2]} alpn h2,http/1.1" if tls else " proto h2"
    pids["haproxy"] = haproxy(procs, ports["haproxy"], backends,
                              name=f"haproxy-h2{'-tls' if tls else ''}", bind_extra=bind).pid
    upstream = " ".join(f"server {b};" for b in backends)
    # nginx 1.22: "listen ... http2" is h2c with prior knowledge on a plain port
    listen = (f"{ports['nginx']} ssl http2; ssl_certificate {cert[0]}; "
              f"ssl_certificate_key {cert[1]}" if tls else f"{ports['nginx']} http2")
    pids["nginx"] = nginx(procs, f"""
  http2_max_concurrent_streams 128;
  upstream be {{ {upstream} keepalive 64; }}
  server {{ listen 127.0.0.1:{listen};
    location / {{ proxy_pass http://be; proxy_http_version 1.1;
                 proxy_set_header Connection ""; }} }}""").pid
    for p in ports.values():
        wait_port(p)
    return {p: (f"{scheme}://127.0.0.1:{ports[p]}/", pids[p]) for p in PROXIES}


def main():
    procs = Procs()
    try:
        backends = echo_backends(procs, 3)
        cert = make_cert(procs.dir)
        setups = {"h2c (prior knowledge)": start(procs, backends, False, cert),
                  "h2 over TLS (ALPN)": start(procs, backends, True, cert)}
        results = {}
        for case, proxies in setups.items():
            for r in range(ROUNDS):
                for p in PROXIES:
                    url, pid = proxies[p]
                    cpu = cpu_seconds(pid)
                    rps, ok, failed = h2load(url)
                    us = (cpu_seconds(pid) - cpu) * 1e6 / max(1, ok)
                    results.setdefault((case, p), []).append((rps, us, failed))
                    print(f"{case:22s} round {r + 1} {p:9s} {rps:10.0f} req/s "
                          f"cpu {us:.1f} us/stream failed {failed}", flush=True)
        print(f"\nh2load -c {CONNECTIONS} -m {STREAMS} -t 1 -D {DURATION}, median of {ROUNDS} "
              "rounds, HTTP/1.1 keep-alive to 3 lb-echo backends, all on this machine"
              + (f"; the proxy on CPU {SUT_CPUS[0]}, h2load and backends on CPU "
                 f"{','.join(LOAD_CPUS)}" if PIN else "") + "\n")
        rows = []
        for case in setups:
            med = {p: (statistics.median(x[0] for x in results[(case, p)]),
                       statistics.median(x[1] for x in results[(case, p)]),
                       sum(x[2] for x in results[(case, p)])) for p in PROXIES}
            rows.append([case, *(f"{med[p][0]:.0f}" for p in PROXIES),
                         "/".join(f"{med[p][1]:.1f}" for p in PROXIES),
                         f"{med['lb-proxy'][1] / med['haproxy'][1]:.2f}x",
                         "/".join(str(med[p][2]) for p in PROXIES)])
        table(rows, ["case", *(f"{p} req/s" for p in PROXIES), "CPU us/stream lb/haproxy/nginx",
                     "lb/haproxy CPU", "failed lb/haproxy/nginx"])
    finally:
        procs.stop_all()


if __name__ == "__main__":
    main()
