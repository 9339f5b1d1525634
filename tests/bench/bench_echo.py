"""lb-echo GET req/s next to nginx serving a static JSON of the same size:
both one process, driven by the same wrk runs, alternating, several rounds."""
import os
import statistics
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from common import BIN, Procs, free_port, nginx, table, wait_port, wrk  # noqa: E402

ROUNDS = int(os.environ.get("ROUNDS", "3"))
DURATION = int(os.environ.get("DURATION", "5"))


def main():
    procs = Procs()
    try:
        echo_port = free_port()
        procs.start([os.path.join(BIN, "lb-echo"), "--listen", f"127.0.0.1:{echo_port}",
                     "--access-log", "off"], env={"POD_NAME": "bench-echo"}, name="echo",
                    under_test=True)
        wait_port(echo_port)
        doc = urllib.request.urlopen(f"http://127.0.0.1:{echo_port}/bench").read()
        www = os.path.join(procs.dir, "www")
        os.makedirs(www)
        with open(os.path.join(www, "bench"), "wb") as f:
            f.write(doc)
        ngx_port = free_port()
        nginx(procs, f"""server {{ listen 127.0.0.1:{ngx_port} reuseport;
            location / {{ root {www}; default_type application/json; }} }}""")
        wait_port(ngx_port)
        results = {"lb-echo": [], "nginx": []}
        for r in range(ROUNDS):
            for name, port in (("lb-echo", echo_port), ("nginx", ngx_port)):
                res = wrk(f"http://127.0.0.1:{port}/bench", duration=DURATION)
                assert res["non2xx"] == 0, (name, res)
                results[name].append(res)
                print(f"round {r + 1} {name:8s} {res['rps']:10.0f} req/s  p50 {res['p50']:.3f} ms"
                      f"  p99 {res['p99']:.3f} ms", flush=True)
        print(f"\nGET of a {len(doc)}-byte JSON, wrk -t1 -c64 -d{DURATION}s, median of {ROUNDS} rounds\n")
        rows = []
        med = {}
        for name, rs in results.items():
            med[name] = statistics.median(x["rps"] for x in rs)
            rows.append([name, f"{med[name]:.0f}", f"{statistics.median(x['p50'] for x in rs):.3f}",
                         f"{statistics.median(x['p99'] for x in rs):.3f}"])
        table(rows, ["server", "req/s", "p50 ms", "p99 ms"])
        ratio = med["lb-echo"] / med["nginx"]
        print(f"\nlb-echo / nginx = {ratio:.2f}x  (target >= 0.90x)")
    finally:
        procs.stop_all()


if __name__ == "__main__":
    main()
