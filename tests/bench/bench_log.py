"""What lb-proxy's access log costs, measured so that this busy 2-core machine
cannot blur it (issue 26, goal 3): the proxy's own CPU time (user + system,
/proc/PID/schedstat's nanoseconds on a CPU: the process is single-threaded;
utime + stime counts 10 ms ticks) over a fixed number of requests (h2load
--h1 -n), for lb-proxy with
its access log off ("lb"), the same build with it on ("lb-log", stderr a
pipe read by a cat on the load core, as a container runtime or journald
reads it) and HAProxy without one, all at once in each round (each its own
h2load, all on the load core, the proxies sharing theirs), so that each
round's figures meet the same moment of the machine; medians of ROUNDS. The req/s a core gives is 1 / CPU per request, so lb-log's
against HAProxy's is HAProxy's CPU per request over lb-log's, whatever the
load core's share of the machine; the log's cost is lb-log's over lb's.

  python3 tests/bench/bench_log.py
  LB_BASELINE_BIN=/old/bin python3 tests/bench/bench_log.py   # + lb-base, its log on

Knobs: ROUNDS (5), REQUESTS (100000 per proxy per round), CONNS (64)."""
import os
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from bench_proxy import haproxy, log_reader  # noqa: E402
from common import BIN, Procs, echo_backends, free_port, pinned, table, wait_port  # noqa: E402

ROUNDS = int(os.environ.get("ROUNDS", "5"))
REQUESTS = int(os.environ.get("REQUESTS", "100000"))
CONNS = int(os.environ.get("CONNS", "64"))
BASELINE = os.environ.get("LB_BASELINE_BIN")


def cpu_seconds(pid):
    """Time pid's (single) thread has run on a CPU, user and system, in seconds."""
    with open(f"/proc/{pid}/schedstat") as f:
        return int(f.read().split()[0]) / 1e9


def start_lb(procs, bindir, backends, log, name):
    port = free_port()
    reader = log_reader(procs) if log else None
    procs.start([os.path.join(bindir, "lb-proxy"), "--listen", f"127.0.0.1:{port}",
                 "--admin", f"127.0.0.1:{free_port()}", "--backends", ",".join(backends),
                 "--access-log", "on" if log else "off"],
                name=name, under_test=True, stderr=reader.stdin if reader else None)
    if reader:
        reader.stdin.close()
    return port, procs.procs[-1].pid


def h2load_argv(port, path, body_file):
    argv = ["h2load", "--h1", "-t1", f"-c{CONNS}", f"-n{REQUESTS}"]
    if body_file:
        argv += ["-d", body_file, "-H", "content-type: text/plain"]
    return pinned(argv + [f"http://127.0.0.1:{port}{path}"], False)


def h2load_result(port, out):
    """(req/s, requests done) of h2load's output; every one must be a 2xx."""
    done = succeeded = 0
    rps = 0.0
    for line in out.splitlines():
        if line.startswith("requests:"):
            f = line.split()
            done, succeeded = int(f[5]), int(f[7])  # "N total, N started, N done, N succeeded"
        if line.startswith("finished in"):
            rps = float(line.split(",")[1].split()[0])
        if line.startswith("status codes:"):
            succeeded = int(line.split()[2])  # 2xx
    if succeeded != REQUESTS:
        raise RuntimeError(f"port {port}: {succeeded} of {REQUESTS} requests answered 2xx:\n{out}")
    return rps, done


def round_of(proxies, path, body_file):
    """One round: every proxy driven at once by its own h2load, so all of
    them meet the same moment of the machine's load (one after another,
    the load of other work moved each proxy's CPU per request by +-20%
    between runs a minute apart). Returns {name: (CPU us/req, req/s)}."""
    runs = {}
    for n, (port, pid) in proxies.items():
        runs[n] = (cpu_seconds(pid), subprocess.Popen(h2load_argv(port, path, body_file),
                                                      stdout=subprocess.PIPE, text=True))
    got = {}
    for n, (before, p) in runs.items():
        out, _ = p.communicate(timeout=900)
        rps, done = h2load_result(proxies[n][0], out)
        got[n] = ((cpu_seconds(proxies[n][1]) - before) * 1e6 / done, rps)
    return got


def main():
    procs = Procs()
    body = tempfile.NamedTemporaryFile(prefix="lb-bench-body-", delete=False)
    body.write(b"x" * 4096)
    body.close()
    try:
        backends = echo_backends(procs, 3, "--max-body", "2m")
        proxies = {"lb": start_lb(procs, BIN, backends, False, "lb"),
                   "lb-log": start_lb(procs, BIN, backends, True, "lb-log")}
        if BASELINE:
            proxies["lb-base"] = start_lb(procs, BASELINE, backends, True, "lb-base")
        ha_port = free_port()
        proxies["haproxy"] = (ha_port, haproxy(procs, ha_port, backends).pid)
        for port, _ in proxies.values():
            wait_port(port)
        names = list(proxies)
        rows = []
        print(f"CPU per request of each proxy (/proc/PID/schedstat), {REQUESTS} requests "
              f"over {CONNS} keep-alive connections (h2load --h1), median of {ROUNDS} rounds")
        for case, path, body_file in (("keep-alive GET", "/", None),
                                      ("POST 4 KiB", "/post", body.name)):
            cpu = {n: [] for n in names}
            rps = {n: [] for n in names}
            round_of(proxies, path, body_file)  # warm the backends' pools
            for r in range(ROUNDS):
                got = round_of(proxies, path, body_file)
                for n in names:
                    cpu[n].append(got[n][0])
                    rps[n].append(got[n][1])
                    print(f"{case:15s} round {r + 1} {n:8s} {cpu[n][-1]:6.2f} us/req "
                          f"{got[n][1]:9.0f} req/s", flush=True)
            med = {n: statistics.median(cpu[n]) for n in names}

            def ratio(a, b, of):
                """the median of the rounds' a/b (each round's pair meets one moment)"""
                return statistics.median(x / y for x, y in zip(of[a], of[b]))
            rows.append([case, *(f"{med[n]:.2f}" for n in names),
                         f"{ratio('lb-log', 'lb', cpu):.3f}x",
                         *([f"{ratio('lb-base', 'lb', cpu):.3f}x"] if BASELINE else []),
                         f"{ratio('haproxy', 'lb-log', cpu):.2f}x",
                         f"{ratio('lb-log', 'haproxy', rps):.2f}x"])
        print()
        # ratios: medians of each round's ratio
        table(rows, ["case", *(f"{n} us/req" for n in names), "lb-log/lb CPU",
                     *(["lb-base/lb CPU"] if BASELINE else []),
                     "lb-log/haproxy req/s per core", "lb-log/haproxy req/s (sharing)"])
    finally:
        procs.stop_all()
        os.unlink(body.name)


if __name__ == "__main__":
    main()
