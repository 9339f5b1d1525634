"""A gRPC backend for the tests (python3-grpcio, no generated code: the
messages are raw bytes). Run as a program:

    grpc_backend.py --name NAME [--delay-ms N] [--max-streams N]

listens on 127.0.0.1 (an ephemeral port), logs `listening port=N` on stderr
and serves, in the service lb.Test:

- Echo (unary): answers b"NAME:" + the request; trailing metadata
  x-served-by: NAME (after --delay-ms);
- Count (server streaming): the request is a number n; n messages b"NAME:i";
- Sleep (unary): sleeps the request's milliseconds, then answers b"slept";
- Fail (unary): status NOT_FOUND, message "no such thing";
- Size (unary): answers the request's length as text, then the request.

SIGTERM stops it (exit 0)."""
import argparse
import signal
import sys
import threading
import time
from concurrent import futures

import grpc


def handlers(name, delay):
    def echo(req, ctx):
        if delay:
            time.sleep(delay)
        ctx.set_trailing_metadata((("x-served-by", name),))
        return name.encode() + b":" + req

    def count(req, ctx):
        for i in range(int(req)):
            yield f"{name}:{i}".encode()

    def sleep(req, ctx):
        time.sleep(int(req) / 1000)
        return b"slept"

    def fail(req, ctx):
        ctx.abort(grpc.StatusCode.NOT_FOUND, "no such thing")

    def size(req, ctx):
        return str(len(req)).encode() + b"\n" + req

    return grpc.method_handlers_generic_handler("lb.Test", {
        "Echo": grpc.unary_unary_rpc_method_handler(echo),
        "Count": grpc.unary_stream_rpc_method_handler(count),
        "Sleep": grpc.unary_unary_rpc_method_handler(sleep),
        "Fail": grpc.unary_unary_rpc_method_handler(fail),
        "Size": grpc.unary_unary_rpc_method_handler(size),
    })


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True)
    ap.add_argument("--delay-ms", type=int, default=0)
    ap.add_argument("--max-streams", type=int, default=0)
    args = ap.parse_args()
    options = [("grpc.max_receive_message_length", 8 << 20),
               ("grpc.max_send_message_length", 8 << 20)]
    if args.max_streams:
        options.append(("grpc.max_concurrent_streams", args.max_streams))
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=32), options=options)
    server.add_generic_rpc_handlers((handlers(args.name, args.delay_ms / 1000),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    print(f"listening port={port}", file=sys.stderr, flush=True)
    done.wait()
    server.stop(0).wait()
    sys.exit(0)


if __name__ == "__main__":
    main()
