#!/usr/bin/env python3
"""gRPC through lb-proxy --backend-protocol h2c (docs/http2.md#http2-to-backends):

1. The balancing proof, full size: one gRPC channel (python3-grpcio), CALLS
   (10,000) unary calls one after another through lb with --balance random
   to three gRPC servers (tests/support/grpc_backend.py): each backend's
   share must be 33% +- 3 points. A share of n draws at p = 1/3 has a
   standard deviation of sqrt(p(1-p)/n) = 0.47 points at n = 10,000: 3
   points is 6.4 of them, and a false failure (any of three backends, either
   tail) has a probability under 6e-10. (test_grpc_backends.py keeps a 1,000-call
   round-robin version in make test.)
2. Instructions lb-proxy executes per call (valgrind's callgrind, user space
   only: a figure a busy machine cannot move): a unary gRPC call on one
   channel through lb to one h2c gRPC server, WARMUP calls then REQUESTS
   measured between two dumps; and, beside it, an HTTP/1.1 keep-alive GET
   through lb to an h2c backend against the same to an HTTP/1.1 lb-echo (the
   translation's cost: the h2c backend is a second lb-proxy in front of
   lb-echo). Needs valgrind; CALLGRIND=0 skips it.

  python3 tests/bench/bench_grpc.py          (CALLS=10000 WARMUP=300 REQUESTS=2000)
"""
import collections
import http.client
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from common import BIN, ROOT, Procs, echo_backends, free_port, wait_port  # noqa: E402
from instructions_proxy import dump_total  # noqa: E402

import grpc  # noqa: E402

CALLS = int(os.environ.get("CALLS", "10000"))
WARMUP = int(os.environ.get("WARMUP", "300"))
REQUESTS = int(os.environ.get("REQUESTS", "2000"))
BACKEND = os.path.join(ROOT, "tests", "support", "grpc_backend.py")


def grpc_backends(procs, n):
    addrs = []
    for i in range(n):
        log = os.path.join(procs.dir, f"grpc-{i}.err")
        procs.start([sys.executable, BACKEND, "--name", f"g{i}"], name=f"grpc{i}",
                    stderr=open(log, "wb"))
        for _ in range(300):
            m = re.search(r"listening port=(\d+)", open(log).read())
            if m:
                addrs.append(f"127.0.0.1:{m.group(1)}")
                break
            time.sleep(0.05)
        else:
            raise RuntimeError(f"grpc backend {i} did not start")
    return addrs


def balance(procs, backends):
    port = free_port()
    procs.start([os.path.join(BIN, "lb-proxy"), "--listen", f"127.0.0.1:{port}", "--admin",
                 f"127.0.0.1:{free_port()}", "--backends", ",".join(backends),
                 "--backend-protocol", "h2c", "--balance", "random", "--access-log", "off"],
                name="lb-proxy", under_test=True)
    wait_port(port)
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        echo = ch.unary_unary("/lb.Test/Echo")
        start = time.time()
        counts = collections.Counter(
            dict(echo.with_call(b"x", timeout=30)[1].trailing_metadata())["x-served-by"]
            for _ in range(CALLS))
        took = time.time() - start
    print(f"{CALLS} unary calls on one channel, --balance random, {took:.1f} s "
          f"({CALLS / took:.0f} calls/s, one at a time):")
    ok = True
    for name in sorted(counts):
        share = counts[name] / CALLS * 100
        ok &= abs(share - 100 / 3) <= 3
        print(f"  {name}: {counts[name]:6d} calls, {share:5.2f}%")
    print("  each within 33% +- 3 points:", "yes" if ok else "NO")
    return ok


def callgrind(backends, body_of_call):
    """Instructions per request of an lb-proxy (flags `backends`) under callgrind."""
    d = tempfile.mkdtemp(prefix="lb-cg-grpc-")
    out = os.path.join(d, "cg.out")
    port = free_port()
    argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
            os.path.join(BIN, "lb-proxy"), "--listen", f"127.0.0.1:{port}", "--admin",
            f"127.0.0.1:{free_port()}", "--access-log", "off", *backends]
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, timeout=60)
        send = body_of_call(port)
        send(WARMUP)
        subprocess.run(["callgrind_control", "-d", str(p.pid)], capture_output=True)
        _, seen = dump_total(out + "*", set())
        send(REQUESTS)
        subprocess.run(["callgrind_control", "-d", str(p.pid)], capture_output=True)
        total, _ = dump_total(out + "*", seen)
        return total / REQUESTS
    finally:
        p.terminate()
        p.wait(60)
        shutil.rmtree(d, ignore_errors=True)


def h2c_front(procs, echo):
    """An lb-proxy in front of lb-echo: an h2c backend (it takes the h2c
    preface on its plain listener) that answers any GET, in C."""
    port = free_port()
    procs.start([os.path.join(BIN, "lb-proxy"), "--listen", f"127.0.0.1:{port}", "--admin",
                 f"127.0.0.1:{free_port()}", "--backends", echo, "--access-log", "off"],
                name="h2c-front")
    wait_port(port)
    return f"127.0.0.1:{port}"


def grpc_calls(port):
    ch = grpc.insecure_channel(f"127.0.0.1:{port}")
    echo = ch.unary_unary("/lb.Test/Echo")

    def send(n):
        for _ in range(n):
            echo(b"x", timeout=30)
    return send


def h1_gets(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def send(n):
        for _ in range(n):
            c.request("GET", "/")
            r = c.getresponse()
            r.read()
            assert r.status < 500, r.status
    return send


def main():
    procs = Procs()
    ok = True
    try:
        backends = grpc_backends(procs, 3)
        ok = balance(procs, backends)
        if os.environ.get("CALLGRIND", "1") != "0":
            echo = echo_backends(procs, 1)[0]
            front = h2c_front(procs, echo)
            print(f"\ninstructions per request in lb-proxy (callgrind, {REQUESTS} after "
                  f"{WARMUP}, one client connection):")
            cases = (
                ("gRPC unary, h2 client -> h2c gRPC server",
                 ["--backends", backends[0], "--backend-protocol", "h2c"], grpc_calls),
                ("HTTP/1.1 GET -> h2c backend (lb-proxy -> lb-echo)",
                 ["--backends", front, "--backend-protocol", "h2c"], h1_gets),
                ("HTTP/1.1 GET -> HTTP/1.1 backend (lb-echo)", ["--backends", echo], h1_gets),
            )
            for name, flags, client in cases:
                print(f"  {name:52s} {callgrind(flags, client):9.0f}", flush=True)
    finally:
        procs.stop_all()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
