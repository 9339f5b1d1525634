"""The Kubernetes API simulator as a program (python3 -m tests.support.k8ssim,
from the repository's root): it serves the API on 127.0.0.1 until stopped
(Ctrl-C, SIGTERM) and takes commands, one a line, on its standard input:
what a cluster's controllers would do (scale a service, terminate its pods)
and the faults the tests inject. Each command answers one line, `ok`, the
JSON asked for, or `error: ...`. Documented in docs/kubernetes.md."""
import argparse
import json
import signal
import sys
import threading

COMMANDS = """commands (one a line on standard input):
  service [NAMESPACE/]NAME [ready=IP,...] [terminating=IP,...] [not-ready=IP,...] [port=N]
        the service's endpoints become exactly these (scale up or down, terminate a
        pod, fail its readiness); the Service object is created when there is none
  get RESOURCE [NAMESPACE]   the stored objects of a resource (httproutes, ...) as JSON
  drop-watches               ends every watch stream (as an API server restart does)
  expire-history             a watch from an older resourceVersion gets 410 Gone
  down | up                  the API stops answering (connections refused) | is back
  help"""


def service_command(sim, words, namespace):
    """service [NS/]NAME key=value...: set_service's arguments."""
    if not words:
        raise ValueError("service needs a NAME (service [NAMESPACE/]NAME ready=IP,...)")
    ns, _, name = words[0].rpartition("/")
    lists = {"ready": [], "terminating": [], "not-ready": []}
    port = 8080
    for w in words[1:]:
        key, eq, value = w.partition("=")
        if not eq or key not in (*lists, "port"):
            raise ValueError(f"{w}: expected ready=, terminating=, not-ready= or port=")
        if key == "port":
            if not value.isdigit() or not 1 <= int(value) <= 65535:
                raise ValueError(f"port={value}: must be a number between 1 and 65535")
            port = int(value)
        else:
            lists[key] = [ip for ip in value.split(",") if ip]
    sim.set_service(ns or namespace, name, ready=lists["ready"],
                    terminating=lists["terminating"], not_ready=lists["not-ready"], port=port)


def run_command(sim, line, namespace):
    """The answer to one command line."""
    words = line.split()
    if not words:
        return None
    cmd, args = words[0], words[1:]
    if cmd == "service":
        service_command(sim, args, namespace)
    elif cmd == "get":
        store = sim.by_resource.get(args[0] if args else "")
        if store is None:
            raise ValueError(f"get: no resource {args[0] if args else '(none)'}: one of "
                             + ", ".join(sorted(sim.by_resource)))
        with sim.lock:
            items = [o for (ns, _), o in sorted(store.objects.items())
                     if len(args) < 2 or ns == args[1]]
        return json.dumps(items)
    elif cmd == "drop-watches":
        sim.drop_watches()
    elif cmd == "expire-history":
        sim.expire_history()
    elif cmd == "down":
        sim.stop()
    elif cmd == "up":
        if sim.server is None:
            sim.start()
    elif cmd == "help":
        return COMMANDS
    else:
        raise ValueError(f"unknown command {cmd}: try help")
    return "ok"


def main(simulator_class):
    ap = argparse.ArgumentParser(
        prog="python3 -m tests.support.k8ssim",
        description="A Kubernetes API server simulator on 127.0.0.1 for lb's tests and "
        "for trying lb-discover without a cluster.",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=COMMANDS)
    ap.add_argument("--port", type=int, default=0, help="port to listen on (default: any free)")
    ap.add_argument("--namespace", default="default",
                    help="namespace of --service and of commands that name none")
    ap.add_argument("--service", action="append", default=[], metavar="NAME[=IP,...]",
                    help="a service and its ready endpoints at start (repeatable)")
    ap.add_argument("--ready", default="", help="ready IPs of a --service given without =IPs")
    a = ap.parse_args()
    sim = simulator_class()
    if a.port:
        sim.stop()
        sim.port = a.port
        try:
            sim.start()
        except OSError as e:
            sys.exit(f"k8ssim: cannot listen on 127.0.0.1:{a.port}: {e.strerror}; "
                     f"pick another --port or 0")
    for spec in a.service:
        name, eq, ips = spec.partition("=")
        sim.set_service(a.namespace, name, ready=[ip for ip in (ips if eq else a.ready)
                                                  .split(",") if ip])
    print(f"listening on {sim.url}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        for line in sys.stdin:
            try:
                answer = run_command(sim, line, a.namespace)
            except (ValueError, OSError) as e:
                answer = f"error: {e}"
            if answer is not None:
                print(answer, flush=True)
        threading.Event().wait()        # standard input closed: serve on
    except KeyboardInterrupt:
        pass
