"""lb-proxy against HAProxy (nbthread 1) and nginx (1 worker), configured alike
(round robin over the same three lb-echo backends, upstream keep-alive; and
least-request / consistent hashing by a header for the algorithm cases; TLS
to clients with the same ECDSA P-256 certificate for the TLS cases),
driven by the same wrk runs, alternating, several rounds. Prints req/s, p50,
p99, the proxy's CPU per request per case and the ratios; then the RSS of each proxy holding 10,000 idle
keep-alive client connections (each has had one request answered). First,
lb-proxy --mode tcp against HAProxy's mode tcp (CASES=tcp: that alone)."""
import os
import resource
import socket
import statistics
import subprocess
import sys
import urllib.request
import time

sys.path.insert(0, os.path.dirname(__file__))
from common import (BIN, LOAD_CPUS, PIN, SUT_CPUS, Procs, echo_backends, free_port,  # noqa: E402
                    nginx, pinned, table, wait_port, wrk)
from support.procfs import cpu_seconds, rss_kb  # noqa: E402 (tests/support: common.py's path)

ROUNDS = int(os.environ.get("ROUNDS", "3"))
DURATION = int(os.environ.get("DURATION", "5"))
IDLE_CONNS = int(os.environ.get("IDLE_CONNS", "10000"))
# the idle connections are opened and sent their one request this many at a
# time: the most requests in flight at once while they are made
IDLE_BATCH = int(os.environ.get("IDLE_BATCH", "100"))
# CASES="1 MiB" runs only the cases whose name contains one of the
# comma-separated words (for working on one case; "=keep-alive GET" is
# that name exactly); IDLE_CONNS=0 skips RSS.
CASES = [c.strip() for c in os.environ.get("CASES", "").split(",") if c.strip()]
# LB_BASELINE_BIN=DIR: a fourth proxy, "lb-base", the lb-proxy of DIR (an
# older build) in the same runs, so a change to the data path is quoted
# before and after on the same machine in the same minutes.
BASELINE = os.environ.get("LB_BASELINE_BIN")
# ACCESS_LOG=1 (the default): "lb-log", this lb-proxy with its access log on
# (the default of lb-proxy; the others run with theirs off), its stderr a
# pipe read by a cat on the load cores, as a container runtime or journald
# reads it: the access log's cost, against the same build without it.
ACCESS_LOG = os.environ.get("ACCESS_LOG", "1") != "0"
# HAPROXY_TCP=1 (the default): "haproxy-tcp", HAProxy in `mode tcp` over the
# same backends (a bare relay, no HTTP: the floor issue 26's goal 2 compares
# lb-proxy's HTTP with); in the plain setups, not the TLS one.
HAPROXY_TCP = os.environ.get("HAPROXY_TCP", "1") != "0"
PROXIES = (("lb-proxy", "haproxy", "nginx") + (("lb-base",) if BASELINE else ())
           + (("lb-log",) if ACCESS_LOG else ()) + (("haproxy-tcp",) if HAPROXY_TCP else ()))


# The balancing setups: lb-proxy flags, HAProxy's balance lines, nginx's
# upstream directive; each one the peers' own counterpart.
SETUPS = {
    "round-robin": ([], "  balance roundrobin", ""),
    "least-request": (["--balance", "least-request"], "  balance leastconn", "least_conn;"),
    "maglev": (["--balance", "maglev", "--hash-key", "header:X-User"],
               "  balance hdr(X-User)\n  hash-type consistent", "hash $http_x_user consistent;"),
    # TLS to clients, the same ECDSA P-256 certificate for all three
    # (TLS 1.2 and 1.3, ALPN http/1.1, Mozilla's intermediate ciphers)
    "tls": ([], "  balance roundrobin", ""),
}

INTERMEDIATE = ("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
                "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305")


def make_cert(d):
    """A self-signed ECDSA P-256 certificate for 127.0.0.1: (cert, key, both in one file)."""
    cert, key, both = (os.path.join(d, n) for n in ("bench.crt", "bench.key", "bench.pem"))
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert, "-days", "2",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True)
    with open(both, "w") as out:
        for part in (cert, key):
            with open(part) as f:
                out.write(f.read())
    return cert, key, both


def haproxy(procs, port, backends, balance="  balance roundrobin", name="haproxy", bind_extra="",
            global_extra="", mode="http"):
    d = os.path.join(procs.dir, name)
    os.makedirs(d, exist_ok=True)
    conf = os.path.join(d, "haproxy.cfg")
    servers = "\n".join(f"  server s{i} {b}" for i, b in enumerate(backends))
    with open(conf, "w") as f:
        f.write(f"""global
  nbthread 1
  maxconn 10100
  # HAProxy reserves two descriptors per connection and this machine caps
  # them at 20,000: without this it refuses to start with maxconn 10,100.
  # Idle client connections need only one each.
  no strict-limits
{global_extra}
defaults
  mode {mode}
  timeout connect 5s
  timeout client 60s
  timeout server 60s
{"  option http-keep-alive" + chr(10) + "  http-reuse always" if mode == "http" else ""}
frontend fe
  bind 127.0.0.1:{port}{bind_extra}
  default_backend be
backend be
{balance}
{servers}
""")
    return procs.start(["haproxy", "-db", "-f", conf], name="haproxy", under_test=True)


def log_reader(procs):
    """A cat on the load cores reading a pipe to /dev/null: give a proxy
    reader.stdin as its stderr (then close it here)."""
    reader = subprocess.Popen(pinned(["cat"], False), stdin=subprocess.PIPE,
                              stdout=subprocess.DEVNULL)
    procs.procs.append(reader)
    return reader


def start_setup(procs, backends, setup):
    """The three proxies for one balancing setup: {proxy: (port, pid)}."""
    lb_args, ha_balance, ngx_directive = SETUPS[setup]
    ports = {"lb-proxy": free_port(), "haproxy": free_port(), "nginx": free_port()}
    pids = {}
    ha_bind = ha_global = ngx_listen = ""
    if setup == "tls":
        cert, key, both = make_cert(procs.dir)
        # wrk offers its last session again on reconnecting (SSL_clear keeps
        # it): resumption is off on all three, so each new connection is a
        # full handshake
        lb_args = lb_args + ["--tls-cert", cert, "--tls-key", key, "--tls-resumption", "off"]
        ha_bind = f" ssl crt {both} alpn http/1.1 no-tls-tickets"
        ha_global = (f"  ssl-default-bind-ciphers {INTERMEDIATE}\n"
                     "  ssl-default-bind-options ssl-min-ver TLSv1.2\n"
                     "  tune.ssl.cachesize 0\n"
                     "  tune.ssl.default-dh-param 2048")
        ngx_listen = (f" ssl; ssl_certificate {cert}; ssl_certificate_key {key};"
                      f" ssl_protocols TLSv1.2 TLSv1.3; ssl_ciphers {INTERMEDIATE};"
                      " ssl_session_tickets off; ssl_session_cache off")
    admin_port = free_port()
    pids["lb-proxy"] = procs.start([os.path.join(BIN, "lb-proxy"), "--listen",
                                    f"127.0.0.1:{ports['lb-proxy']}", "--admin",
                                    f"127.0.0.1:{admin_port}", "--backends", ",".join(backends),
                                    "--access-log", "off", *lb_args,
                                    *os.environ.get("LB_PROXY_ARGS", "").split()],
                                   name="lb-proxy", under_test=True).pid
    if BASELINE:
        # LB_BASELINE_ARGS="--access-log on": the older build's access log
        # against lb-log's, both written to a pipe
        ports["lb-base"] = free_port()
        reader = log_reader(procs)
        pids["lb-base"] = procs.start([os.path.join(BASELINE, "lb-proxy"), "--listen",
                                       f"127.0.0.1:{ports['lb-base']}", "--admin",
                                       f"127.0.0.1:{free_port()}", "--backends",
                                       ",".join(backends), "--access-log", "off", *lb_args,
                                       *os.environ.get("LB_PROXY_ARGS", "").split(),
                                       *os.environ.get("LB_BASELINE_ARGS", "").split()],
                                      name="lb-base", under_test=True, stderr=reader.stdin).pid
        reader.stdin.close()
    if ACCESS_LOG:
        ports["lb-log"] = free_port()
        reader = log_reader(procs)
        pids["lb-log"] = procs.start([os.path.join(BIN, "lb-proxy"), "--listen",
                                      f"127.0.0.1:{ports['lb-log']}", "--admin",
                                      f"127.0.0.1:{free_port()}", "--backends",
                                      ",".join(backends), *lb_args,
                                      *os.environ.get("LB_PROXY_ARGS", "").split()],
                                     name="lb-log", under_test=True, stderr=reader.stdin).pid
        reader.stdin.close()
    pids["haproxy"] = haproxy(procs, ports["haproxy"], backends, ha_balance,
                              name=f"haproxy-{setup}", bind_extra=ha_bind,
                              global_extra=ha_global).pid
    if HAPROXY_TCP and setup != "tls":
        ports["haproxy-tcp"] = free_port()
        pids["haproxy-tcp"] = haproxy(procs, ports["haproxy-tcp"], backends, ha_balance,
                                      name=f"haproxy-tcp-{setup}", mode="tcp").pid
    upstream = " ".join(f"server {b};" for b in backends)
    pids["nginx"] = nginx(procs, f"""
  upstream be {{ {ngx_directive} {upstream} keepalive 64; }}
  server {{ listen 127.0.0.1:{ports['nginx']} reuseport{ngx_listen};
    location / {{ proxy_pass http://be; proxy_http_version 1.1;
                 proxy_set_header Connection ""; }} }}""").pid
    for p in ports.values():
        wait_port(p)
    return {p: (ports[p], pids[p], admin_port if p == "lb-proxy" else None) for p in ports}


def idle_rss(pid, port, n):
    """RSS (MiB) of `pid` before and while it holds n idle keep-alive client
    connections, each of which has had one request answered (a client's
    connection between two requests, the costly kind: it has been through
    a whole exchange)."""
    socks = []
    before = rss_kb(pid, default=0) / 1024.0
    try:
        # in batches: connect IDLE_BATCH, one request on each, every answer read
        # whole (no connection waits for its first request long enough to
        # meet a head timeout; queues stay short)
        for i in range(0, n, IDLE_BATCH):
            batch = []
            for _ in range(min(IDLE_BATCH, n - i)):
                s = socket.socket()
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                             b"\x01\x00\x00\x00\x00\x00\x00\x00")
                s.connect(("127.0.0.1", port))
                socks.append(s)
                batch.append(s)
            for s in batch:
                s.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n")
            for k, s in enumerate(batch):
                got = b""
                while b"\r\n\r\n" not in got or len(got) < head_and_body(got):
                    chunk = s.recv(65536)
                    if not chunk:
                        raise RuntimeError(f"port {port}: connection {i + k} of {n} closed: "
                                           f"{got[:200]!r}")
                    got += chunk
        time.sleep(1.0)
        return before, rss_kb(pid, default=0) / 1024.0
    finally:
        for s in socks:
            s.close()
        time.sleep(0.5)


def tcp_bench(procs, backends):
    """lb-proxy --mode tcp against HAProxy's `mode tcp` (round robin over the
    same backends; nginx-light has no stream module): the proxy's CPU per
    relayed connection (HTTP/1.1 Connection: close, a new TCP connection
    through the proxy per request) and per MiB relayed (1 MiB downloads
    over 16 kept-alive connections)."""
    ports = {"lb-proxy": free_port(), "haproxy": free_port()}
    pids = {"lb-proxy": procs.start([os.path.join(BIN, "lb-proxy"), "--mode", "tcp", "--listen",
                                     f"127.0.0.1:{ports['lb-proxy']}", "--admin",
                                     f"127.0.0.1:{free_port()}", "--backends", ",".join(backends),
                                     "--access-log", "off"], name="lb-proxy-tcp",
                                    under_test=True).pid,
            "haproxy": haproxy(procs, ports["haproxy"], backends, name="haproxy-tcp",
                               mode="tcp").pid}
    for p in ports.values():
        wait_port(p)
    cases = [("TCP relay, new connection per request", "/", {"headers": ["Connection: close"]}, 64),
             ("TCP relay, 1 MiB downloads", "/bytes/1048576", {}, 16)]
    results = {}
    for name, path, kw, conns in cases:
        for r in range(ROUNDS):
            for proxy in ("lb-proxy", "haproxy"):
                cpu = cpu_seconds(pids[proxy])
                res = wrk(f"http://127.0.0.1:{ports[proxy]}{path}", duration=DURATION,
                          connections=conns, **kw)
                n = max(1.0, res["rps"] * DURATION)
                used = cpu_seconds(pids[proxy]) - cpu
                # per connection (one request each), or per MiB (1 MiB each)
                res["cpu_us"] = used * 1e6 / n
                results.setdefault((name, proxy), []).append(res)
                print(f"{name:38s} round {r + 1} {proxy:9s} {res['rps']:10.0f} req/s "
                      f"p99 {res['p99']:.3f} ms cpu {res['cpu_us']:.1f} us "
                      f"non-2xx {res['non2xx']} {res['sockerr']}", flush=True)
    print(f"\nTCP mode: wrk -t1 -d{DURATION}s, median of {ROUNDS} rounds; CPU us per connection "
          "(new connections) or per MiB (downloads)\n")
    rows = []
    for name, _, _, _ in cases:
        med = {p: {k: statistics.median(x[k] for x in results[(name, p)])
                   for k in ("rps", "p99", "cpu_us")} for p in ("lb-proxy", "haproxy")}
        rows.append([name, f"{med['lb-proxy']['rps']:.0f}", f"{med['haproxy']['rps']:.0f}",
                     f"{med['lb-proxy']['rps'] / med['haproxy']['rps']:.2f}x",
                     f"{med['lb-proxy']['p99']:.2f}/{med['haproxy']['p99']:.2f}",
                     f"{med['lb-proxy']['cpu_us']:.1f}/{med['haproxy']['cpu_us']:.1f}"])
    table(rows, ["case", "lb req/s", "haproxy req/s", "lb/haproxy", "p99 ms lb/haproxy",
                 "CPU us lb/haproxy"])


def head_and_body(got):
    """The length of a whole response with a Content-Length, from its head."""
    head, _, _ = got.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(head) + 4 + int(value)
    return len(head) + 4


def main():
    from common import raise_fd_limit
    raise_fd_limit()
    procs = Procs()
    try:
        backends = echo_backends(procs, 3, "--max-body", "2m", pod_names=True)
        setups = {}
        ports, pids = {}, {}
        post_lua = os.path.join(procs.dir, "post.lua")
        with open(post_lua, "w") as f:
            f.write('wrk.method = "POST"\nwrk.body = string.rep("x", 4096)\n'
                    'wrk.headers["Content-Type"] = "text/plain"\n')
        # Paced cases: every connection waits 2 ms between requests, so all three
        # proxies carry about the same rate and their tails compare at equal load
        # (closed-loop runs put the faster proxy's whole box under more load).
        pace_lua = os.path.join(procs.dir, "pace.lua")
        with open(pace_lua, "w") as f:
            f.write("function delay() return 2 end\n")
        pace_post_lua = os.path.join(procs.dir, "pace-post.lua")
        with open(pace_post_lua, "w") as f:
            f.write('wrk.method = "POST"\nwrk.body = string.rep("x", 4096)\n'
                    'wrk.headers["Content-Type"] = "text/plain"\n'
                    "function delay() return 2 end\n")
        # 1,000 distinct X-User keys, for the algorithm cases (round-robin
        # runs the same script, so the ratios compare algorithms, not scripts).
        users_lua = os.path.join(procs.dir, "users.lua")
        with open(users_lua, "w") as f:
            f.write('request = function()\n'
                    '  return wrk.format(nil, nil, {["X-User"] = "user-" .. math.random(1000)})\n'
                    'end\n')
        cases = [
            ("keep-alive GET", "/", {}, 64, "round-robin"),
            ("Connection: close GET", "/", {"headers": ["Connection: close"]}, 64, "round-robin"),
            ("POST 4 KiB", "/post", {"script": post_lua}, 64, "round-robin"),
            ("1 MiB download", "/bytes/1048576", {}, 16, "round-robin"),
            # One connection: a lone stream must not wait on the loop's batching.
            ("1 MiB download, 1 connection", "/bytes/1048576", {}, 1, "round-robin"),
            # A lone client, then a few: the latency most users see at low
            # load (p50 and p99 against the peers'), and where batching
            # starts to pay.
            ("keep-alive GET, 1 connection (latency)", "/", {}, 1, "round-robin"),
            ("keep-alive GET, 2 connections", "/", {}, 2, "round-robin"),
            ("keep-alive GET, 4 connections", "/", {}, 4, "round-robin"),
            ("keep-alive GET, 8 connections", "/", {}, 8, "round-robin"),
            ("GET, paced (p99 at equal load)", "/", {"script": pace_lua}, 64, "round-robin"),
            ("POST 4 KiB, paced", "/post", {"script": pace_post_lua}, 64, "round-robin"),
            ("round-robin, 1,000 X-User keys", "/", {"script": users_lua}, 64, "round-robin"),
            ("least-request, 1,000 X-User keys", "/", {"script": users_lua}, 64, "least-request"),
            ("maglev by X-User, 1,000 keys", "/", {"script": users_lua}, 64, "maglev"),
            # wrk does not resume sessions: each Connection: close request is
            # a full handshake (TLS 1.3, X25519, ECDSA P-256)
            ("TLS keep-alive GET", "/", {}, 64, "tls"),
            ("TLS new handshakes (Connection: close)", "/", {"headers": ["Connection: close"]},
             64, "tls"),
        ]
        if CASES:
            cases = [c for c in cases if any(c[0] == w[1:] if w.startswith("=") else w in c[0]
                                             for w in CASES)]
        if not CASES or "tcp" in CASES:
            tcp_bench(procs, backends)
        if not cases:
            return
        for setup in dict.fromkeys(c[4] for c in cases):
            setups[setup] = start_setup(procs, backends, setup)
        first = setups[cases[0][4]] if cases else {}
        ports = {p: v[0] for p, v in setups.get("round-robin", first).items()}
        if "round-robin" not in setups:
            IDLE = 0  # the RSS case runs on the plain setup only
        else:
            IDLE = IDLE_CONNS
        pids = {p: v[1] for p, v in setups.get("round-robin", first).items()}
        results = {}
        for name, path, kw, conns, setup in cases:
            for r in range(ROUNDS):
                for proxy in PROXIES:
                    if proxy not in setups[setup]:
                        continue
                    scheme = "https" if setup == "tls" else "http"
                    port, pid, _ = setups[setup][proxy]
                    cpu = cpu_seconds(pid)
                    res = wrk(f"{scheme}://127.0.0.1:{port}{path}",
                              duration=DURATION, connections=conns, **kw)
                    # the proxy's CPU per request: what a core costs, not how
                    # the machine's cores were shared
                    res["cpu_us"] = ((cpu_seconds(pid) - cpu) * 1e6 /
                                     max(1.0, res["rps"] * DURATION))
                    results.setdefault((name, proxy), []).append(res)
                    print(f"{name:30s} round {r + 1} {proxy:9s} {res['rps']:10.0f} req/s "
                          f"p50 {res['p50']:.3f} ms p99 {res['p99']:.3f} ms "
                          f"cpu {res['cpu_us']:.1f} us/req "
                          f"non-2xx {res['non2xx']} {res['sockerr']}", flush=True)
        print(f"\nwrk -t1 -d{DURATION}s (-c64; -c16 and -c1 for 1 MiB), median of {ROUNDS} rounds, "
              f"3 lb-echo backends, all on this machine"
              + (f"; the proxy on CPU {SUT_CPUS[0]}, wrk and backends on CPU "
                 f"{','.join(LOAD_CPUS)}" if PIN else "") + "\n")
        rows = []
        nan = dict.fromkeys(("rps", "p50", "p99", "cpu_us"), float("nan"))
        for name, _, _, _, _ in cases:
            med = {}
            for proxy in PROXIES:
                rs = results.get((name, proxy))
                med[proxy] = {k: statistics.median(x[k] for x in rs)
                              for k in ("rps", "p50", "p99", "cpu_us")} if rs else nan
            rows.append([name,
                         *(f"{med[p]['rps']:.0f}" for p in PROXIES),
                         "/".join(f"{med[p]['p50']:.3f}" for p in PROXIES),
                         "/".join(f"{med[p]['p99']:.2f}" for p in PROXIES),
                         f"{med['lb-proxy']['rps'] / med['haproxy']['rps']:.2f}x",
                         f"{med['lb-proxy']['rps'] / med['nginx']['rps']:.2f}x",
                         *([f"{med['lb-log']['rps'] / med['haproxy']['rps']:.2f}x",
                            f"{med['lb-log']['rps'] / med['lb-proxy']['rps']:.3f}x"]
                           if ACCESS_LOG else []),
                         "/".join(f"{med[p]['cpu_us']:.1f}" for p in PROXIES),
                         # issue 26's goal 2: CPU per request against HAProxy's
                         # (HTTP) and against its bare relay
                         f"{med['lb-proxy']['cpu_us'] / med['haproxy']['cpu_us']:.2f}x",
                         *([f"{med['lb-proxy']['cpu_us'] / med['haproxy-tcp']['cpu_us']:.2f}x"]
                           if HAPROXY_TCP else [])])
        who = "/".join(p.replace("lb-proxy", "lb") for p in PROXIES)
        table(rows, ["case", *(f"{p} req/s" for p in PROXIES), f"p50 ms {who}",
                     f"p99 ms {who}", "lb/haproxy", "lb/nginx",
                     *(["lb-log/haproxy", "lb-log/lb"] if ACCESS_LOG else []),
                     f"CPU us/req {who}", "CPU lb/haproxy",
                     *(["CPU lb/haproxy-tcp"] if HAPROXY_TCP else [])])
        if "tls" in setups:
            admin_port = setups["tls"]["lb-proxy"][2]
            with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics") as r:
                resumed = [line for line in r.read().decode().splitlines() if line.startswith(
                    'lb_proxy_tls_handshakes_total{side="clients"') and "resumed" in line
                    and not line.endswith(" 0")]
            print(f"\nlb-proxy TLS handshakes resumed during the TLS cases: "
                  f"{resumed or 'none'}")
        if IDLE == 0:
            return
        # lb-proxy keeps two descriptors per connection (a client's and its
        # backend's) and a reserve: under a hard limit of 20,000 (this
        # machine's, not raisable) it holds 9,968, so the case holds what
        # fits (the bytes per connection scale it to 10,000)
        nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        n = min(IDLE_CONNS, (nofile - 64) // 2 - 32)
        print(f"\nRSS holding {n} idle keep-alive client connections"
              + (f" ({IDLE_CONNS} asked; ulimit -n {nofile} fits {n} in lb-proxy)"
                 if n < IDLE_CONNS else "") + ":\n")
        # each proxy's median over ROUNDS holds, one proxy at a time
        held = {p: [] for p in ("lb-proxy", "haproxy", "nginx")}
        for r in range(ROUNDS):
            for p in held:
                held[p].append(idle_rss(pids[p], ports[p], n))
        rss = {p: statistics.median(after for _, after in held[p]) for p in held}
        # over the RSS before the first round (a proxy keeps pools from one
        # round to the next)
        per = {p: (rss[p] - held[p][0][0]) * 1024 * 1024 / n for p in held}
        table([[p, f"{rss[p]:.1f}", f"{per[p]:.0f}",
                " ".join(f"{after:.1f}" for _, after in held[p])] for p in held],
              ["proxy", "RSS MiB (median)", "bytes per connection", "RSS MiB of each round"])
        print(f"\nlb-proxy/haproxy RSS {rss['lb-proxy'] / rss['haproxy']:.2f}x, "
              f"lb-proxy/nginx RSS {rss['lb-proxy'] / rss['nginx']:.2f}x (lower is better)")
    finally:
        procs.stop_all()


if __name__ == "__main__":
    main()
