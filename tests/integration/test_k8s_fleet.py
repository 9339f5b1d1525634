"""One fleet across pods (issue 17): two lb-discover replicas, each with its
own bus and proxy as in two lb pods, against one API simulator. The
operator's overrides and the fleet's ejections go through the ConfigMap
lb-state-backend (optimistic concurrency on its resourceVersion); each
replica keeps a Lease lb-backend-POD that says what its proxies applied."""
import http.client
import json
import os
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import (SLOW, binary, ctl, ctl_json, request_in_flight, served_by, started_proxy,
                      wait_for)
from support.k8ssim import role_rules
from test_k8s import NS, pods  # noqa: F401 (a fixture)

LEASE = 2           # seconds: a killed replica is gone within this (plus a renewal)
REPORT = "0.05"     # the proxies' report interval


class Replica:
    def __init__(self, name, rundir, discover, proxy):
        self.name, self.rundir, self.discover, self.proxy = name, rundir, discover, proxy

    def status(self):
        return ctl_json(self.rundir, "status")

    def row(self, addr):
        return {b["address"]: b for b in self.status()["backends"]}[addr]

    def replicas(self):
        return {r["pod"] or r["lease"]: r for r in self.status()["replicas"]}

    def proxy_state(self, addr):
        return {b["address"]: b for b in self.proxy.admin("/info")[1]["backends"]}[addr]


@pytest.fixture
def fleet(procs, sim, pods):
    """fleet(n_pods, *discover_flags) -> (replica a, replica b, backend ips, port),
    both replicas serving and each seeing the other's Lease."""
    dirs = []

    def start(n=2, *flags, proxies=True, names=("lb-a", "lb-b"), service="backend",
              proxy_flags=()):
        ips, port = pods(n) if n else ([], 0)
        if n:
            sim.set_service(NS, service, ready=ips, port=port)
        out = []
        for name in names:
            d = tempfile.mkdtemp(prefix="lb-rt-", dir="/tmp")
            dirs.append(d)
            p = procs([binary("lb-discover"), "--runtime-dir", d, "--kubernetes", service,
                       "--namespace", NS, "--api-server", sim.url, "--port", "http",
                       "--no-health-check", "--pod-name", name, "--lease-duration", str(LEASE),
                       "--heartbeat", "0.05", *flags])
            p.wait_log(r"INFO publishing ")
            px = None
            if proxies:
                px = procs([binary("lb-proxy"), "--listen", "127.0.0.1:0", "--admin",
                            "127.0.0.1:0", "--runtime-dir", d, "--access-log", "off",
                            "--report-interval", REPORT, *proxy_flags])
                px = started_proxy(px)
            out.append(Replica(name, d, p, px))
        a, b = out
        for r in out:
            wait_for(f"{r.name} sees both replicas live",
                     lambda: [x["state"] for x in r.status()["replicas"]] == ["live", "live"])
            wait_for(f"{r.name}'s shared state synced",
                     lambda: r.status()["shared_state"]["synced"])
            if proxies:     # the other's Lease counts its proxy
                wait_for(f"{r.name} counts both proxies",
                         lambda: r.status()["fleet_proxies"] == 2)
        return a, b, ips, port
    yield start
    for d in dirs:
        subprocess.run(["rm", "-rf", d])


def shared_doc(sim):
    cm = sim.configmaps.objects[(NS, "lb-state-backend")]
    return json.loads(cm["data"]["state.json"])


def test_drain_on_one_replica_reaches_both_and_wait_waits_for_both(fleet, sim):
    """A drain issued on replica a stops new requests on b's proxy too, and
    `drain --wait` on a returns only once b's in-flight request is done."""
    a, b, ips, port = fleet(2)
    slow = f"{ips[0]}:{port}"
    for r in (a, b):
        wait_for("both backends up on the proxy",
                 lambda: len(r.proxy.admin("/info")[1]["backends"]) == 2)
        wait_for(f"{r.name} settled", lambda: r.status()["proxies_settled"], timeout=10)
    subprocess.run(["curl", "-s", "-X", "POST", f"http://{slow}/fault", "-d",
                    '{"delayMs":2000}'], check=True, capture_output=True)
    while b.proxy.admin("/debug/next-backend")[1]["backend"] != slow:
        b.proxy.request("GET", "/")
    t = request_in_flight(b.proxy, "/slow", backend=slow)
    t0 = time.time()
    waiter = subprocess.Popen([binary("lb-ctl"), "--runtime-dir", a.rundir, "drain", slow,
                               "--wait", "--timeout", str(20 * SLOW)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for("b's proxy drains it", lambda: b.proxy_state(slow)["state"] == "draining",
             interval=0.002)
    print(f"a drain on replica a reached replica b's proxy in {(time.time() - t0) * 1000:.1f} ms"
          " (lb-ctl's start included)")
    wait_for("a's proxy drains it", lambda: a.proxy_state(slow)["state"] == "draining")
    # b's proxy sends nothing new there (the one in flight stays)
    seen = {served_by(b.proxy.request("GET", "/")[1]) for _ in range(8)}
    assert "pod-1" not in seen, seen
    wait_for("a counts b's request in flight",
             lambda: ctl_json(a.rundir, "in-flight", slow)["in_flight"] == 1)
    assert waiter.poll() is None, waiter.communicate()
    t.join()
    assert t.response[0] == 200
    out, err = waiter.communicate(timeout=20 * SLOW)
    assert waiter.returncode == 0, err
    assert f"{slow} drained on 2 proxies" in err, err
    assert next(i for i in shared_doc(sim)["backends"] if i["address"] == slow)["drained"]


def test_racing_weight_changes_on_both_replicas_all_land(fleet, sim):
    """100 weight changes, 50 on each replica from 4 clients each at once:
    every one lands in the ConfigMap and on both replicas (conflicts are
    re-read and re-applied, none lost)."""
    ips = [f"127.0.1.{i}" for i in range(1, 101)]
    sim.set_service(NS, "backend", ready=ips, port=9)
    a, b, _, _ = fleet(0, proxies=False)
    wait_for("100 backends on both", lambda: all(len(r.status()["backends"]) == 100
                                                  for r in (a, b)))
    want = {f"{ip}:9": 2 + i % 7 for i, ip in enumerate(ips)}
    addrs = list(want)
    jobs = [(a if i % 2 == 0 else b, addr) for i, addr in enumerate(addrs)]
    errors = []

    def client(k):
        for n, (r, addr) in enumerate(jobs):
            if n % 8 == k:
                code, _, err = ctl(r.rundir, "weight", addr, str(want[addr]))
                if code != 0:
                    errors.append(err)
    threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors

    def weights(r):
        return {x["address"]: x["weight"] for x in r.status()["backends"]}
    wait_for("every weight on a and b", lambda: weights(a) == want and weights(b) == want,
             timeout=20)
    doc = shared_doc(sim)
    assert {x["address"]: x["weight"] for x in doc["backends"]} == want
    conflicts = sum(r.status()["shared_state"]["conflicts"] for r in (a, b))
    print(f"100 racing weight changes: {conflicts} conflicts re-read and re-applied, "
          f"revision {doc['revision']}")
    assert conflicts > 0, "the two replicas never raced: the test proves nothing"
    for r in (a, b):
        wait_for(f"{r.name} has nothing left to write",
                 lambda: r.status()["shared_state"]["synced"])


def test_an_ejection_found_by_one_replica_is_applied_by_the_other(fleet):
    a, b, ips, port = fleet(2, "--eject-5xx", "3")
    bad = f"{ips[0]}:{port}"
    subprocess.run(["curl", "-s", "-X", "POST", f"http://{bad}/fault", "-d",
                    '{"errorRate":1}'], check=True, capture_output=True)
    for _ in range(50):
        a.proxy.request("GET", "/")
        if a.proxy_state(bad)["breaker"]["state"] == "open":
            break
    wait_for("b ejects it (its replica read the ConfigMap)",
             lambda: b.row(bad).get("ejection") is not None)
    wait_for("b's proxy's breaker opens",
             lambda: b.proxy_state(bad)["breaker"]["state"] == "open")
    assert "outlier" in b.row(bad)["ejection"]["reason"]
    got = [b.proxy.request("GET", "/")[0] for _ in range(10)]
    assert all(s == 200 for s in got), got
    # uneject on b ends it on a as well
    code, _, err = ctl(b.rundir, "uneject", bad)
    assert code == 0, err
    wait_for("a's proxy closes it",
             lambda: a.proxy_state(bad)["breaker"]["state"] == "closed")
    assert "ejection" not in a.row(bad)


def write_routes(routes, tmp_path, ports, addrs, hostnames=None):
    """A routes file (renamed into place): a Gateway with an HTTP listener on
    each of ports, an HTTPRoute (of hostnames, if any) to the Service api:80
    and its Backends at addrs."""
    spec = {"parentRefs": [{"name": "gw"}],
            "rules": [{"backendRefs": [{"name": "api", "port": 80}]}]}
    if hostnames:
        spec["hostnames"] = hostnames
    docs = [{"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
             "metadata": {"name": "gw", "namespace": "default"},
             "spec": {"gatewayClassName": "lb", "listeners": [
                 {"name": "http" if i == 0 else f"http-{i}", "port": p, "protocol": "HTTP"}
                 for i, p in enumerate(ports)]}},
            {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
             "metadata": {"name": "api", "namespace": "default"}, "spec": spec},
            {"apiVersion": "lb.dev/v1alpha1", "kind": "Backends",
             "metadata": {"name": "api", "namespace": "default"},
             "spec": {"ports": [{"port": 80, "addresses": addrs}]}}]
    tmp = tmp_path / "routes.tmp"
    tmp.write_text("\n---\n".join(json.dumps(d) for d in docs))
    os.rename(tmp, routes)


def test_a_routed_services_override_is_shared_by_service_and_address(fleet, tmp_path):
    """Issue 24: the shared state keys a routed Service's overrides by
    Service and address: a drain of default/api:80's backend on replica a
    reaches replica b's default/api:80 (its own section of the ConfigMap),
    while the main service, which lists the same address, stays up on both."""
    api = "default/api:80"
    routes = tmp_path / "routes.yaml"

    def write(addrs):
        write_routes(routes, tmp_path, [8080], addrs)

    def rows(r, *service):
        return {x["address"]: x for x in
                ctl_json(r.rundir, "status", *service)["backends"]}

    write(["127.0.0.1:9"])
    a, b, ips, port = fleet(2, "--routes", str(routes), proxies=False)
    addr = f"{ips[0]}:{port}"
    write([addr, f"{ips[1]}:{port}"])
    for r in (a, b):
        wait_for(f"{r.name} routes to the pods", lambda: addr in rows(r, "--service", api))
    code, _, err = ctl(a.rundir, "drain", addr, "--service", api)
    assert code == 0, err
    wait_for("b drains api's backend (its replica read the ConfigMap)",
             lambda: rows(b, "--service", api)[addr]["state"] == "draining")
    assert rows(a)[addr]["state"] == "up" and rows(b)[addr]["state"] == "up"
    code, _, err = ctl(b.rundir, "undrain", addr, "--service", api)
    assert code == 0, err
    wait_for("a's api backend up again", lambda: rows(a, "--service", api)[addr]["state"] == "up")


def test_a_routed_services_drain_wait_hears_every_replicas_proxies(fleet, sim, tmp_path):
    """Issue 24: each replica's Lease carries the in-flight counts of its
    routed Services' draining backends (as of the main service's), so
    `drain ADDR --service S --wait` on replica a waits for the request in
    flight on replica b's proxy, and in-flight --service on a counts it."""
    api = "default/api:80"
    routes = tmp_path / "routes.yaml"

    def write(ports, addrs):
        write_routes(routes, tmp_path, ports, addrs, hostnames=["api.example"])

    write([8080], ["127.0.0.1:9"])
    a, b, ips, port = fleet(2, "--routes", str(routes))
    slow = f"{ips[0]}:{port}"
    write([a.proxy.port, b.proxy.port], [slow])
    for r in (a, b):
        wait_for(f"{r.name}'s proxy routes to the pod", lambda: r.proxy.request(
            "GET", "/", headers={"Host": "api.example"})[0] == 200, timeout=10)
    subprocess.run(["curl", "-s", "-X", "POST", f"http://{slow}/fault", "-d",
                    '{"delayMs":4000}'], check=True, capture_output=True)
    t = threading.Thread(target=lambda: setattr(t, "response", b.proxy.request(
        "GET", "/slow", headers={"Host": "api.example"}, timeout=30)))
    t.start()
    wait_for("b's proxy has the routed request in flight", lambda: {
        x["address"]: x for x in ctl_json(b.rundir, "status", "--service", api)["backends"]}[
            slow]["active"] == 1, timeout=10)
    waiter = subprocess.Popen([binary("lb-ctl"), "--runtime-dir", a.rundir, "drain", slow,
                               "--service", api, "--wait", "--timeout", str(20 * SLOW)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # a hears b's request through b's Lease (before: a counted its own proxy only)
    doc = wait_for("a counts b's routed request in flight", lambda: (lambda d: d[
        "in_flight"] == 1 and d)(ctl_json(a.rundir, "in-flight", slow, "--service", api)),
        timeout=10)
    assert doc["proxies"] == 2, doc
    assert waiter.poll() is None, waiter.communicate()
    lease = sim.leases.objects[(NS, "lb-backend-lb-b")]
    report = json.loads(lease["metadata"]["annotations"]["lb-discover/state"])
    assert report["services"][api]["draining"][slow] in (0, 1), report
    t.join()
    assert t.response[0] == 200
    out, err = waiter.communicate(timeout=20 * SLOW)
    assert waiter.returncode == 0, err
    assert f"{slow} drained on 2 proxies" in err, err
    subprocess.run(["curl", "-s", "-X", "POST", f"http://{slow}/fault", "-d",
                    '{"delayMs":0}'], check=True, capture_output=True)


def rate_proxies(proxy):
    for line in proxy.admin("/metrics")[1].splitlines():
        if line.startswith("lb_proxy_rate_limit_proxies "):
            return int(line.split()[1])
    raise AssertionError("no lb_proxy_rate_limit_proxies")


def test_a_killed_replica_expires_and_is_not_waited_for(fleet):
    """kill -9 of replica b: its Lease expires, a shows it gone, stops
    waiting for it, and a's proxy's share of a fleet-wide rate limit grows."""
    a, b, ips, port = fleet(2, proxy_flags=("--rate-limit", "100/s"))
    wait_for("the fleet's proxies counted", lambda: a.status()["fleet_proxies"] == 2)
    wait_for("a's proxy shares the limit with b's", lambda: rate_proxies(a.proxy) == 2)
    b.discover.kill()
    t0 = time.time()
    wait_for("a shows b gone", lambda: a.replicas()["lb-b"]["state"] == "gone",
             timeout=LEASE * 3)
    took = time.time() - t0
    assert took <= LEASE + 1.5 * SLOW, took
    assert a.status()["fleet_proxies"] == 1      # the rate limit's divisor follows
    wait_for("a's proxy has the whole limit", lambda: rate_proxies(a.proxy) == 1)
    code, out, _ = ctl(a.rundir, "status")
    assert "lb-b" in out and "gone" in out, out
    wait_for("a settled", lambda: a.status()["proxies_settled"], timeout=10)
    code, _, err = ctl(a.rundir, "drain", f"{ips[1]}:{port}", "--wait", "--timeout",
                       str(5 * SLOW))
    assert code == 0, err
    assert "drained on 1 proxy" in err, err


def test_a_stopped_replica_releases_its_lease(fleet):
    a, b, _, _ = fleet(2, proxies=False)
    b.discover.stop()
    wait_for("a shows b stopped at once",
             lambda: a.replicas().get("lb-b", {}).get("state") == "stopped"
             or any(r["state"] == "stopped" for r in a.status()["replicas"]),
             timeout=LEASE / 2)


def test_api_down_keeps_serving_and_resyncs(fleet, sim):
    a, b, ips, port = fleet(2)
    x = f"{ips[1]}:{port}"
    for r in (a, b):
        wait_for("both up", lambda: len(r.proxy.admin("/info")[1]["backends"]) == 2)
    sim.stop()
    for r in (a, b):
        assert all(r.proxy.request("GET", "/")[0] == 200 for _ in range(4))
    code, _, err = ctl(a.rundir, "drain", x)
    assert code == 0, err
    wait_for("a's proxy drains it at once",
             lambda: a.proxy_state(x)["state"] == "draining")
    st = a.status()["shared_state"]
    assert not st["synced"] and st["pending"] == 1, st
    assert b.proxy_state(x)["state"] == "up"     # b cannot know yet
    assert all(r.proxy.request("GET", "/")[0] == 200 for r in (a, b) for _ in range(4))
    # drain --wait cannot say the fleet drained: b has not heard of it
    assert ctl_json(a.rundir, "in-flight", x)["in_flight"] == -1
    # b's Lease looks expired, but a cannot see the API: b is not taken for gone
    # (a fleet-wide rate limit stays shared by both, drain --wait still waits)
    wait_for("b's Lease older than its duration",
             lambda: a.replicas()["lb-b"]["renewed_ago"] > LEASE + 0.5, timeout=LEASE * 4)
    st = a.status()
    assert [r["state"] for r in st["replicas"]] == ["unrenewed", "live"], st["replicas"]
    assert st["fleet_proxies"] == 2, (st["proxies"], st["replicas"])
    sim.start()
    wait_for("b's proxy drains it after the API is back",
             lambda: b.proxy_state(x)["state"] == "draining", timeout=40)
    wait_for("a's change written", lambda: a.status()["shared_state"]["synced"], timeout=10)
    assert next(i for i in shared_doc(sim)["backends"] if i["address"] == x)["drained"]
    wait_for("drain --wait's answer: drained on both",
             lambda: ctl_json(a.rundir, "in-flight", x)["in_flight"] == 0, timeout=10)


def test_the_configmap_wins_over_a_replica_state_file(sim, pods, discover, rundir):
    """A replica starts from its state file (a drain) while the ConfigMap
    holds another state (a weight): once it reads the ConfigMap, that is its
    state; and the state file follows it."""
    ips, port = pods(2)
    sim.set_service(NS, "backend", ready=ips, port=port)
    x, y = f"{ips[0]}:{port}", f"{ips[1]}:{port}"
    with open(f"{rundir}/discover-backend.json", "w") as f:
        json.dump({"service": "backend", "generation": 3,
                   "backends": [{"address": x, "drained": True}]}, f)
    with sim.lock:
        sim.configmaps.put({"apiVersion": "v1", "kind": "ConfigMap",
                            "metadata": {"name": "lb-state-backend", "namespace": NS},
                            "data": {"state.json": json.dumps({
                                "service": "backend", "revision": 7,
                                "backends": [{"address": y, "weight": 5}]})}})
    discover("--kubernetes", "backend", "--namespace", NS, "--api-server", sim.url, "--port",
             "http", "--no-health-check", "--pod-name", "lb-a")

    def rows():
        return {r["address"]: (r["state"], r["weight"]) for r in ctl_json(rundir, "status")["backends"]}
    wait_for("the ConfigMap's state", lambda: rows() == {x: ("up", 1), y: ("up", 5)})
    wait_for("the state file follows", lambda: json.load(open(
        f"{rundir}/discover-backend.json"))["backends"] == [
            {"address": y, "added": False, "removed": False, "drained": False, "weight": 5}])


def test_a_damaged_shared_state_is_logged_and_the_last_good_one_kept(fleet, sim):
    a, b, ips, port = fleet(2, proxies=False)
    x = f"{ips[0]}:{port}"
    code, _, err = ctl(a.rundir, "weight", x, "4")
    assert code == 0, err
    wait_for("b applies it", lambda: b.row(x)["weight"] == 4)
    cm = json.loads(json.dumps(sim.configmaps.objects[(NS, "lb-state-backend")]))
    cm["data"]["state.json"] = '{"service": "backend", "backends": [{"address": 7}]}'
    del cm["metadata"]["resourceVersion"]
    with sim.lock:
        sim.configmaps.put(cm)
    for r in (a, b):
        r.discover.wait_log(r"shared state damaged.*backends\[0\]\.address must be an "
                            r"IP:PORT string")
        assert r.row(x)["weight"] == 4
        assert "address must be" in r.status()["shared_state"]["damaged"]
    # the next change replaces it
    code, _, err = ctl(b.rundir, "drain", x)
    assert code == 0, err
    wait_for("a applies the repaired one", lambda: a.row(x)["state"] == "draining")
    assert a.row(x)["weight"] == 4


def test_the_admin_api_lists_every_replica_as_documented(fleet):
    """GET /admin/proxies on one replica: every replica with its proxies and
    the shared state, in the shape lb-discover/openapi.yaml documents."""
    from test_openapi import check, load_doc
    a, b, _, _ = fleet(2, "--admin", "127.0.0.1:0", names=("lb-a", "lb-b"))
    port = int(a.discover.wait_log(r"admin listening admin=[^ ]*:(\d+)").group(1))

    def get(path="/admin/proxies"):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("GET", path)
        r = c.getresponse()
        body = r.read()
        return r.status, json.loads(body) if path != "/admin/metrics" else body.decode()
    wait_for("b's proxy listed", lambda: [len(r["proxies"]) for r in get()[1]["replicas"]]
             == [1, 1])
    status, body = get()
    assert status == 200
    doc = load_doc()
    schema = doc["paths"]["/admin/proxies"]["get"]["responses"]["200"]["content"][
        "application/json"]["schema"]
    assert not check(doc, schema, body, "GET /admin/proxies"), check(doc, schema, body)
    assert [(r["pod"], r["self"], r["state"]) for r in body["replicas"]] == [
        ("lb-a", True, "live"), ("lb-b", False, "live")]
    assert body["fleet_proxies"] == 2
    assert body["shared_state"]["configmap"] == "lb-state-backend"
    pids = [p["pid"] for p in body["replicas"][1]["proxies"]]
    assert pids == [b.proxy.proc.pid]
    # and lb-ctl proxies shows b's proxy with its replica
    code, out, err = ctl(a.rundir, "proxies")
    assert code == 0 and f"{b.proxy.proc.pid}" in out and "replica lb-b (live)" in out, out
    listed = json.loads(ctl(a.rundir, "--json", "proxies")[1])
    assert sorted((p["pid"], p["replica"]) for p in listed) == sorted(
        [(a.proxy.proc.pid, "lb-a"), (b.proxy.proc.pid, "lb-b")])
    metrics = get("/admin/metrics")[1]
    for line in ('lb_discover_replicas{service="backend",state="live"} 2',
                 'lb_discover_fleet_proxies{service="backend"} 2',
                 'lb_discover_shared_state_pending{service="backend"} 0'):
        assert line in metrics, metrics


def test_the_role_of_k8s_lb_yaml_is_all_it_needs(fleet, sim):
    """The simulator enforces k8s/lb.yaml's Role as the API server's RBAC
    would: two replicas share a drain through it, and ask nothing it denies."""
    sim.rbac = role_rules("lb-discover")
    a, b, ips, port = fleet(2, proxies=False, service="backend-service")
    x = f"{ips[0]}:{port}"
    code, _, err = ctl(a.rundir, "drain", x)
    assert code == 0, err
    wait_for("b drains it", lambda: b.row(x)["state"] == "draining")
    for r in (a, b):
        assert "HTTP 403" not in r.discover.text() and "forbidden" not in r.discover.text()


def test_a_missing_grant_is_named_and_the_change_kept_on_the_replica(fleet, sim):
    rules = role_rules("lb-discover")
    for rule in rules:
        if "configmaps" in rule.get("resources", []) and rule.get("resourceNames"):
            rule["verbs"] = [v for v in rule["verbs"] if v != "update"]
    sim.rbac = rules
    a, b, ips, port = fleet(2, proxies=False, service="backend-service")
    x = f"{ips[0]}:{port}"
    code, _, err = ctl(a.rundir, "drain", x)
    assert code == 0, err
    a.discover.wait_log(r"cannot update configmaps lb-state-backend-service in namespace demo: "
                        r"grant get, list, watch, create, update on it \(HTTP 403")
    assert a.row(x)["state"] == "draining"          # applied here, kept to retry
    st = a.status()["shared_state"]
    assert st["pending"] == 1 and "HTTP 403" in st["error"], st
    assert b.row(x)["state"] == "up"


def test_no_shared_state_keeps_a_replica_to_itself(sim, pods, discover, rundir):
    ips, port = pods(1)
    sim.set_service(NS, "backend", ready=ips, port=port)
    discover("--kubernetes", "backend", "--namespace", NS, "--api-server", sim.url, "--port",
             "http", "--no-health-check", "--no-shared-state")
    wait_for("the set", lambda: len(ctl_json(rundir, "status")["backends"]) == 1)
    code, _, err = ctl(rundir, "drain", f"{ips[0]}:{port}")
    assert code == 0, err
    st = ctl_json(rundir, "status")
    assert "replicas" not in st and "shared_state" not in st
    assert not sim.configmaps.objects and not sim.leases.objects
    assert not [p for m, p in sim.requests if "configmaps" in p or "leases" in p]


def test_a_pod_name_that_cannot_name_a_lease_is_refused(sim, rundir):
    r = subprocess.run([binary("lb-discover"), "--runtime-dir", rundir, "--kubernetes", "backend",
                        "--api-server", sim.url, "--pod-name", "Bad_Name"],
                       capture_output=True, text=True, timeout=30 * SLOW)
    assert r.returncode == 2, r.stderr
    assert ('--pod-name "Bad_Name": a Lease name needs lower-case letters, digits, '
            "'-' and '.'") in r.stderr


def test_the_readme_kubectl_commands_show_the_fleet(fleet, sim):
    """What the README tells an operator to run: kubectl reads the shared
    document and every replica's Lease with its report."""
    from test_k8s_fidelity import tool
    a, b, ips, port = fleet(2, proxies=False)
    x = f"{ips[0]}:{port}"
    code, _, err = ctl(a.rundir, "weight", x, "3")
    assert code == 0, err
    wait_for("b applies it", lambda: b.row(x)["weight"] == 3)

    def kubectl(*args):
        r = subprocess.run([tool("kubectl"), "--server", sim.url, "-n", NS, *args],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        return r.stdout
    doc = json.loads(kubectl("get", "configmap", "lb-state-backend", "-o",
                             r"jsonpath={.data.state\.json}"))
    assert doc["backends"] == [{"address": x, "added": False, "removed": False,
                                "drained": False, "weight": 3}], doc
    out = kubectl("get", "leases", "-l", "lb-discover/service=backend")
    assert "lb-backend-lb-a" in out and "lb-backend-lb-b" in out, out
    rep = json.loads(kubectl("get", "lease", "lb-backend-lb-b", "-o",
                             r"jsonpath={.metadata.annotations.lb-discover/state}"))
    assert rep["generation"] == b.status()["generation"] and rep["proxy_count"] == 0, rep


def test_two_replicas_with_one_pod_name_are_told(sim, pods, procs):
    """--pod-name hard-coded in a Deployment: both replicas write one Lease
    and would take each other for themselves; they say so."""
    ips, port = pods(1)
    sim.set_service(NS, "backend", ready=ips, port=port)
    started, dirs = [], [tempfile.mkdtemp(prefix="lb-rt-", dir="/tmp") for _ in range(2)]
    try:
        for d in dirs:
            started.append(procs([binary("lb-discover"), "--runtime-dir", d, "--kubernetes",
                                  "backend", "--namespace", NS, "--api-server", sim.url,
                                  "--no-health-check", "--pod-name", "lb-same",
                                  "--lease-duration", "2"]))
        wait_for("one of them says so", lambda: any(
            "another lb-discover writes this replica's Lease: give each replica its own "
            "--pod-name (the pod's name) lease=lb-backend-lb-same" in p.text()
            for p in started), timeout=5)
    finally:
        for p in started:
            p.stop()
        subprocess.run(["rm", "-rf", *dirs])


def test_the_shared_state_watch_resumes_and_relists_as_the_endpointslices_do(fleet, sim):
    """The ConfigMap and Lease watches follow the EndpointSlices' rules: a
    watch cut is resumed, an expired resourceVersion relists; a change made
    meanwhile still reaches the other replica."""
    a, b, ips, port = fleet(2, proxies=False)
    x, y = f"{ips[0]}:{port}", f"{ips[1]}:{port}"
    sim.drop_watches()
    code, _, err = ctl(a.rundir, "weight", x, "6")
    assert code == 0, err
    wait_for("b applies it after the resumed watch", lambda: b.row(x)["weight"] == 6)
    with sim.lock:
        # every watcher's resourceVersion behind the API's, then history gone:
        # both replicas' watches come back to a 410 (a watcher already at the
        # API's own version is not expired, as on a real API server)
        sim.bump()
        sim.expire_history()
        sim.drop_watches()
    code, _, err = ctl(b.rundir, "drain", y)
    assert code == 0, err
    wait_for("a applies it after a relist", lambda: a.row(y)["state"] == "draining", timeout=10)
    for r in (a, b):
        r.discover.wait_log(r"resourceVersion expired, relisting what=configmaps")
    assert [s["state"] for s in a.status()["replicas"]] == ["live", "live"]


def test_failing_lease_writes_are_retried_at_the_renewal_pace(fleet, sim):
    """Lease writes failing (503) while the proxy reports every 50 ms: the
    replica retries at the renewal's pace (every third of the Lease), not at
    every report, and says it once."""
    a, b, ips, port = fleet(2, proxy_flags=())
    x = f"{ips[0]}:{port}"
    sim.failing_writes.add("leases")

    def puts():
        return sum(1 for m, p in sim.requests if m == "PUT" and "/leases/lb-backend-lb-a" in p)
    # a drain with a request in flight makes a's report change at every proxy report
    subprocess.run(["curl", "-s", "-X", "POST", f"http://{x}/fault", "-d", '{"delayMs":1500}'],
                   check=True, capture_output=True)
    while a.proxy.admin("/debug/next-backend")[1]["backend"] != x:
        a.proxy.request("GET", "/")
    t = request_in_flight(a.proxy, "/slow", backend=x)
    before = puts()
    start = time.time()
    code, _, err = ctl(a.rundir, "drain", x)
    assert code == 0, err
    a.discover.wait_log("lease not renewed: the other replicas will take this one for gone")
    t.join()
    took = time.time() - start
    tries = puts() - before
    assert tries <= took / (LEASE / 3) + 2, (tries, took)
    assert a.discover.text().count("lease not renewed") == 1
    sim.failing_writes.clear()
    a.discover.wait_log("lease renewed again")
