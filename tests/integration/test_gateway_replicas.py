"""lb-discover --gateway with two replicas against the Kubernetes API
simulator: each compiles the routes and publishes them to its own proxies,
exactly one writes the Gateway's and the routes' status (the one holding the
Lease lb-gw.NAMESPACE.NAME), `Programmed` counts every proxy of both
replicas, and when the writer dies the other takes the Lease over once it
expires and writes status (issue 24: "Only one replica writes status (a
Lease, as replicas already hold)"; Gateway API: GatewayObservedGenerationBump
for the status that follows)."""
import shutil
import tempfile
import time

import pytest

from conftest import binary, bus_proxy, wait_for
from support.k8ssim import api
from test_gateway_controller import (CLASSES, GATEWAYS, NS, ROUTES, conditions, create,
                                     gateway, gateway_class, httproute)

LEASE = 2       # seconds: --lease-duration
STATUS_LEASE = f"/apis/coordination.k8s.io/v1/namespaces/{NS}/leases/lb-gw.{NS}.gw"


@pytest.fixture
def rundirs():
    made = []

    def make():
        made.append(tempfile.mkdtemp(prefix="lb-rt-", dir="/tmp"))
        return made[-1]
    yield make
    for d in made:
        shutil.rmtree(d, ignore_errors=True)


def holder(sim):
    status, lease = api(sim, "GET", STATUS_LEASE)
    return lease["spec"].get("holderIdentity") if status == 200 else None


def status_writers(sim, since=0):
    """The Host headers the status writes came with (each replica names the
    simulator its own way)."""
    return {host for method, path, host in sim.writes[since:]
            if method == "PATCH" and path.endswith("/status")}


def programmed(sim):
    return conditions(api(sim, "GET", GATEWAYS + "/gw")[1]).get("Programmed", {})


def test_one_replica_writes_status_and_the_other_takes_over(sim, procs, proxy, rundirs, echo):
    a = echo("--pod-name", "a")
    sim.set_service(NS, "svc-a", ready=["127.0.0.1"], port=a.port, service_port=80)
    # each replica reaches the simulator by another name: its writes tell who wrote
    urls = {"lb-a": sim.url, "lb-b": sim.url.replace("127.0.0.1", "localhost")}
    hosts = {"lb-a": urls["lb-a"].split("//")[1], "lb-b": urls["lb-b"].split("//")[1]}
    replicas, port = {}, None
    for name in ("lb-a", "lb-b"):
        d = rundirs()
        p = procs([binary("lb-discover"), "--runtime-dir", d, "--gateway", f"{NS}/gw",
                   "--api-server", urls[name], "--namespace", NS, "--no-health-check",
                   "--pod-name", name, "--lease-duration", str(LEASE), "--heartbeat", "0.05"])
        p.wait_log(r"INFO publishing ")
        px = bus_proxy(proxy, d, listen=f"127.0.0.1:{port or 0}")
        port = port or px.port
        replicas[name] = (p, px)
    create(sim, CLASSES, gateway_class())
    create(sim, GATEWAYS, gateway(port))
    create(sim, ROUTES, httproute("web", [{"name": "svc-a", "port": 80}]))
    writer = wait_for("a replica to hold the status lease", lambda: holder(sim), timeout=10)
    other = "lb-b" if writer == "lb-a" else "lb-a"
    # Programmed counts both replicas' proxies (the other's from its Lease,
    # once that says it has one: True with one proxy may come first)
    got = wait_for("the Gateway Programmed by both replicas' proxies", lambda: (
        lambda c: "every proxy (2)" in c.get("message", "") and c)(programmed(sim)),
        timeout=15)
    assert got["status"] == "True", got
    for name, (_, px) in replicas.items():
        wait_for(f"{name}'s proxy serves the route", lambda: px.request(
            "GET", "/x", headers={"Host": "h"})[0] == 200)
    assert status_writers(sim) == {hosts[writer]}, sim.writes
    replicas[other][0].wait_log(r"gateway status writer: another replica .*holder=" + writer)

    # the writer dies (no release): the other takes the Lease once it
    # expires, writes status again, and Programmed now counts one proxy
    mark = len(sim.writes)
    replicas[writer][1].proc.kill()
    replicas[writer][0].kill()
    t0 = time.time()
    wait_for("the other replica to take the status lease", lambda: holder(sim) == other,
             timeout=3 * LEASE + 5)
    print(f"the status lease taken over {time.time() - t0:.2f} s after the writer was killed "
          f"(--lease-duration {LEASE})")
    replicas[other][0].wait_log(r"gateway status writer: this replica")
    got = wait_for("the Gateway's status rewritten by the new writer", lambda: (
        lambda c: "every proxy (1)" in c.get("message", "") and c)(programmed(sim)),
        timeout=15)
    assert got["status"] == "True"
    assert status_writers(sim, mark) == {hosts[other]}, sim.writes[mark:]
    # and it keeps writing: a new route's status comes from it
    mark = len(sim.writes)
    create(sim, ROUTES, httproute("api", [{"name": "svc-a", "port": 80}], path="/api"))
    wait_for("the new route's status", lambda: api(sim, "GET", ROUTES + "/api")[1].get(
        "status", {}).get("parents"), timeout=10)
    assert status_writers(sim, mark) == {hosts[other]}


def test_no_shared_state_writes_status_alone(sim, discover, proxy, rundir):
    """--no-shared-state: one replica, no Leases (the single-replica mode)."""
    d = discover("--gateway", f"{NS}/gw", "--api-server", sim.url, "--no-health-check",
                 "--no-shared-state")
    px = bus_proxy(proxy, rundir)
    create(sim, CLASSES, gateway_class())
    create(sim, GATEWAYS, gateway(px.port))
    wait_for("the Gateway's status", lambda: programmed(sim).get("status") == "True",
             timeout=10)
    assert api(sim, "GET", STATUS_LEASE)[0] == 404
    assert "gateway status lease" not in d.text()
