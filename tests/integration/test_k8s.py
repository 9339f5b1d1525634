"""lb-discover --kubernetes against the API simulator (tests/support/k8ssim.py):
scaling, terminating pods, watch resumption, 410 relists, the API down, 403,
and the kubeconfig (TLS + client certificate) and in-cluster ways in."""
import json
import os
import subprocess

import pytest

from conftest import binary, bus_proxy, ctl_json, request_in_flight, served_by, wait_for
from support.k8ssim import Simulator
from support.net import free_port_on

NS = "demo"


@pytest.fixture
def pods(procs):
    """pods(n) -> lb-echo "pods" on 127.0.0.1..n, all on one port, as pods are.
    The port is free on every pod address when the first pods start; a later
    call's new pod takes the same port (another test's server could hold it
    there meanwhile only by a bind the kernel's wildcard pick avoided)."""
    started = {}

    def start(i, port):
        ip = f"127.0.0.{i}"
        p = procs([binary("lb-echo"), "--listen", f"{ip}:{port}", "--access-log", "off"],
                  env={"POD_NAME": f"pod-{i}", "POD_IP": ip})
        try:
            p.wait_log(r"listening listen=[\d.]+:(\d+)")
        except AssertionError:
            if p.p.poll() is None or "in use" not in p.text():
                raise
            p.expect_exit = p.p.returncode
            return None
        return p

    def make(n):
        hosts = [f"127.0.0.{i}" for i in range(1, max(n, 8) + 1)]
        for _ in range(5):
            port = started.get("port") or free_port_on(hosts)
            fresh = []
            for i in range(1, n + 1):
                if hosts[i - 1] in started:
                    continue
                p = start(i, port)
                if p is None:
                    break
                fresh.append((hosts[i - 1], p))
            else:
                started["port"] = port
                started.update(fresh)
                return hosts[:n], port
            # another program took the port on one address in between: the
            # pods of this call go, and they start again on another port
            # (only while no earlier call has fixed the port)
            for _, p in fresh:
                p.expect_exit = p.stop()
            assert "port" not in started, \
                f"a new pod cannot have port {port}, which the earlier pods have"
        raise AssertionError("no port the pods could share")
    return make


def addresses(rundir):
    return sorted((b["address"], b["state"]) for b in ctl_json(rundir, "status")["backends"])


def lists(sim):
    return sum(1 for m, p in sim.requests if "endpointslices" in p and "watch=true" not in p)


def watching(sim, streams=1):
    """Waits until lb-discover's watch is being served (the simulator has
    registered `streams` watch streams in all): every change from then on
    reaches it on that stream."""
    wait_for(f"lb-discover's watch stream {streams}", lambda: sim.watches_started >= streams)


def k8s_discover(discover, sim, *flags):
    return discover("--kubernetes", "backend", "--namespace", NS, "--api-server", sim.url,
                    "--port", "http", "--no-health-check", *flags)


def test_scale_3_5_2_reaches_every_proxy(pods, sim, discover, proxy, rundir):
    ips, port = pods(5)
    sim.set_service(NS, "backend", ready=ips[:3], port=port)
    k8s_discover(discover, sim)
    p1 = bus_proxy(proxy, rundir)
    p2 = bus_proxy(proxy, rundir, listen=f"127.0.0.1:{p1.port}")

    def proxies_see(expected):
        return all(sorted(b["address"] for b in p.admin("/info")[1]["backends"]) == expected
                   for p in (p1, p2))

    for n in (3, 5, 2):
        sim.set_service(NS, "backend", ready=ips[:n], port=port)
        want = sorted(f"{ip}:{port}" for ip in ips[:n])
        wait_for(f"{n} replicas on both proxies", lambda: proxies_see(want))
        seen = {served_by(p1.request("GET", "/")[1]) for _ in range(3 * n)}
        assert seen == {f"pod-{i}" for i in range(1, n + 1)}
        # 5 endpoints span two EndpointSlices, merged into one set
        assert len(sim.slices.objects) == (2 if n > 3 else 1)


def test_terminating_endpoint_drains_then_disappears(pods, sim, discover, proxy, rundir):
    ips, port = pods(3)
    sim.set_service(NS, "backend", ready=ips, port=port)
    k8s_discover(discover, sim)
    p = bus_proxy(proxy, rundir, "--report-interval", "0.05")
    wait_for("3 up", lambda: len(p.admin("/info")[1]["backends"]) == 3)
    # a slow request in flight on pod-3 while it starts terminating
    slow = f"{ips[2]}:{port}"
    subprocess.run(["curl", "-s", "-X", "POST", f"http://{slow}/fault", "-d", '{"delayMs":1500}'],
                   check=True, capture_output=True)
    while True:
        nxt = p.admin("/debug/next-backend")[1]["backend"]
        if nxt == slow:
            break
        p.request("GET", "/")
    t = request_in_flight(p, "/slow", backend=slow)
    sim.set_service(NS, "backend", ready=ips[:2], terminating=ips[2:], port=port)
    wait_for("draining", lambda: (slow, "draining") in addresses(rundir))
    wait_for("proxy drains", lambda: {b["address"]: b["state"] for b in
                                      p.admin("/info")[1]["backends"]}[slow] == "draining")
    seen = {served_by(p.request("GET", "/")[1]) for _ in range(8)}
    assert "pod-3" not in seen                         # no new requests
    t.join()
    assert t.response[0] == 200                        # the in-flight one finished
    sim.set_service(NS, "backend", ready=ips[:2], port=port)   # the pod is gone
    wait_for("gone", lambda: [a for a, _ in addresses(rundir)] ==
             sorted(f"{ip}:{port}" for ip in ips[:2]))


def test_not_ready_is_down_and_missing_conditions_are_ready(pods, sim, discover, rundir):
    ips, port = pods(3)
    sim.set_service(NS, "backend", ready=ips[:2], not_ready=ips[2:], port=port)
    # a slice written by an older controller: no conditions at all
    sim.slices.put({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                    "metadata": {"name": "backend-manual", "namespace": NS,
                                 "labels": {"kubernetes.io/service-name": "backend"}},
                    "addressType": "IPv4", "endpoints": [{"addresses": ["127.0.0.9"]}],
                    "ports": [{"name": "http", "port": port, "protocol": "TCP"}]})
    k8s_discover(discover, sim)
    wait_for("set", lambda: len(addresses(rundir)) == 4)
    states = dict(addresses(rundir))
    assert states[f"{ips[2]}:{port}"] == "down"
    assert states[f"127.0.0.9:{port}"] == "up"
    reasons = {b["address"]: b["reason"] for b in ctl_json(rundir, "status")["backends"]}
    assert reasons[f"{ips[2]}:{port}"] == "not ready"


def test_dropped_watch_resumes_without_relist(pods, sim, discover, rundir):
    ips, port = pods(3)
    sim.set_service(NS, "backend", ready=ips[:1], port=port)
    k8s_discover(discover, sim)
    wait_for("set", lambda: len(addresses(rundir)) == 1)
    watching(sim)
    before = lists(sim)
    sim.drop_watches()
    wait_for("the watch dropped", lambda: sim.watches_ended >= 1)
    sim.set_service(NS, "backend", ready=ips[:2], port=port)   # while it backs off
    wait_for("resumed", lambda: len(addresses(rundir)) == 2, timeout=10)
    assert lists(sim) == before, "a dropped watch must resume from its resourceVersion"
    assert sim.watches_started >= 2
    assert any("watch=true" in p and "resourceVersion=" in p and "resourceVersion=&" not in p
               for _, p in sim.requests)


def test_expired_resource_version_relists(pods, sim, discover, rundir):
    ips, port = pods(3)
    sim.set_service(NS, "backend", ready=ips[:1], port=port)
    d = k8s_discover(discover, sim)
    wait_for("set", lambda: len(addresses(rundir)) == 1)
    watching(sim)
    before = lists(sim)
    with sim.lock:              # at once: the cut watch sees neither the change nor a bookmark
        sim.drop_watches()
        sim.set_service(NS, "backend", ready=ips[:3], port=port)
        sim.expire_history()
    wait_for("relisted", lambda: lists(sim) > before, timeout=10)
    wait_for("set after relist", lambda: len(addresses(rundir)) == 3)
    d.wait_log("resourceVersion expired, relisting")


def test_api_down_keeps_the_last_set_and_recovers(pods, sim, discover, proxy, rundir):
    ips, port = pods(3)
    sim.set_service(NS, "backend", ready=ips[:2], port=port)
    d = k8s_discover(discover, sim)
    p = bus_proxy(proxy, rundir)
    wait_for("set", lambda: len(p.admin("/info")[1]["backends"]) == 2)
    sim.stop()
    d.wait_log(r"watch endpointslices at \S+: Couldn't connect")   # it tried, refused
    assert len(addresses(rundir)) == 2                 # still published
    assert p.request("GET", "/")[0] == 200
    assert not p.admin("/info")[1]["stale"]            # lb-discover itself is alive
    sim.set_service(NS, "backend", ready=ips[:3], port=port)
    sim.start()
    wait_for("recovered", lambda: len(addresses(rundir)) == 3, timeout=15)
    d.wait_log("watch lost|list endpointslices at")


def test_forbidden_names_the_missing_permission(sim, discover, rundir, tmp_path):
    sim.tokens = {"good"}
    sim.forbidden = {"weak"}
    kc = tmp_path / "kubeconfig"
    kc.write_text(f"""apiVersion: v1
kind: Config
current-context: lb
contexts:
- name: lb
  context: {{cluster: sim, user: weak, namespace: {NS}}}
clusters:
- name: sim
  cluster: {{server: "{sim.url}"}}
users:
- name: weak
  user: {{token: weak}}
""")
    d = discover("--kubernetes", "backend", "--kubeconfig", str(kc), "--no-health-check")
    d.wait_log(r"cannot list endpointslices in namespace demo: grant get/list/watch on "
               r"discovery.k8s.io endpointslices \(HTTP 403")


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A test CA, a server certificate for 127.0.0.1 and a client certificate."""
    d = str(tmp_path_factory.mktemp("pki"))
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
            "ca.crt", "-days", "2", "-subj", "/CN=lb-test-ca", cwd=d)
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1"),
                      ("client", "extendedKeyUsage=clientAuth")):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out",
                f"{name}.csr", "-subj", f"/CN=lb-{name}", cwd=d)
        with open(os.path.join(d, f"{name}.ext"), "w") as f:
            f.write(ext + "\n")
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", f"{name}.crt", "-days", "2", "-extfile",
                f"{name}.ext", cwd=d)
    return d


def b64(path):
    import base64
    with open(path, "rb") as f:
        return base64.b64encode(f.read()).decode()


def test_kubeconfig_with_tls_and_client_certificate(pods, discover, rundir, pki, tmp_path):
    ips, port = pods(2)
    s = Simulator(tokens=set(), tls=(f"{pki}/server.crt", f"{pki}/server.key", f"{pki}/ca.crt"))
    try:
        s.set_service(NS, "backend", ready=ips, port=port)
        kc = tmp_path / "kubeconfig"
        kc.write_text(f"""apiVersion: v1
kind: Config
current-context: kind-lb
contexts:
- name: kind-lb
  context:
    cluster: kind-lb
    user: kind-lb
    namespace: {NS}
clusters:
- name: kind-lb
  cluster:
    server: {s.url}
    certificate-authority-data: {b64(f"{pki}/ca.crt")}
users:
- name: kind-lb
  user:
    client-certificate-data: {b64(f"{pki}/client.crt")}
    client-key-data: {b64(f"{pki}/client.key")}
""")
        discover("--kubernetes", "backend", "--kubeconfig", str(kc), "--port", str(port),
                 "--no-health-check")
        wait_for("set over TLS", lambda: len(addresses(rundir)) == 2)
    finally:
        s.stop()


def test_in_cluster_token_and_ca(pods, discover, rundir, pki, tmp_path):
    ips, port = pods(2)
    s = Simulator(tokens={"sa-token-1"}, tls=(f"{pki}/server.crt", f"{pki}/server.key", None))
    try:
        s.set_service(NS, "backend", ready=ips[:1], port=port)
        sa = tmp_path / "serviceaccount"
        sa.mkdir()
        (sa / "token").write_text("sa-token-1\n")
        (sa / "namespace").write_text(NS)
        (sa / "ca.crt").write_text(open(f"{pki}/ca.crt").read())
        from conftest import Proc
        d = discover("--kubernetes", "backend", "--service-account-dir", str(sa),
                     "--no-health-check", env_extra={
                         "KUBERNETES_SERVICE_HOST": "127.0.0.1",
                         "KUBERNETES_SERVICE_PORT": str(s.port)})
        wait_for("set in-cluster", lambda: len(addresses(rundir)) == 1)
        d.wait_log(r"via=\"in-cluster")
        watching(s)
        # the token rotates: the next connection uses the new one
        s.tokens = {"sa-token-2"}
        (sa / "token").write_text("sa-token-2\n")
        s.drop_watches()
        s.set_service(NS, "backend", ready=ips, port=port)
        wait_for("rotated token works", lambda: len(addresses(rundir)) == 2, timeout=10)
    finally:
        s.stop()


def test_core_v1_endpoints_fallback(pods, sim, discover, rundir):
    ips, port = pods(3)
    sim.set_service(NS, "backend", ready=ips[:2], not_ready=ips[2:], port=port)
    discover("--kubernetes", "backend", "--namespace", NS, "--api-server", sim.url,
             "--kubernetes-api", "endpoints", "--port", str(port), "--no-health-check")
    wait_for("set from Endpoints", lambda: len(addresses(rundir)) == 3)
    assert dict(addresses(rundir))[f"{ips[2]}:{port}"] == "down"
    sim.set_service(NS, "backend", ready=ips, port=port)
    wait_for("watch on Endpoints", lambda: all(s == "up" for _, s in addresses(rundir)))
    assert any("/api/v1/namespaces/demo/endpoints?" in p and "watch=true" in p
               for _, p in sim.requests)
