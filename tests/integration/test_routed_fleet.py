"""The fleet-wide features per routed Service (issue 24, the fleet part):
lb-discover --routes with two routed Services and a main one, two lb-proxies
on the bus, lb-echo backends. Each proxy reports every routed Service it
serves, so drain --wait --service is acknowledged by both proxies, an
ejection one proxy makes of a routed backend is applied by the other, and
the operator's commands (drain, undrain, weight, status, in-flight) address
one Service's registry and leave the others alone. Reports name a Service
lb-discover serves, or are dropped with a log line (docs/bus-protocol.md)."""
import json
import os
import re
import subprocess
import threading
import time
import urllib.parse

import pytest

from conftest import (PipeLines, binary, bus_proxy, ctl, ctl_json, protocol_constant, served_by,
                      wait_for)

API = "default/api:80"
WEB = "default/web:80"
VERSION = protocol_constant("BUS_PROTOCOL_VERSION")


def documents(ports, api, web):
    gateway = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
               "metadata": {"name": "gw", "namespace": "default"},
               "spec": {"gatewayClassName": "lb", "listeners": [
                   {"name": f"http-{i}", "port": p, "protocol": "HTTP"}
                   for i, p in enumerate(ports)]}}

    def route(name, host):
        return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
                "metadata": {"name": name, "namespace": "default"},
                "spec": {"parentRefs": [{"name": "gw"}], "hostnames": [host],
                         "rules": [{"backendRefs": [{"name": name, "port": 80}]}]}}

    def backends(name, addrs):
        return {"apiVersion": "lb.dev/v1alpha1", "kind": "Backends",
                "metadata": {"name": name, "namespace": "default"},
                "spec": {"ports": [{"port": 80, "addresses": addrs}]}}

    return [gateway, route("api", "api.example"), route("web", "web.example"),
            backends("api", [e.addr for e in api]), backends("web", [e.addr for e in web])]


class Fleet:
    """main (the main service's backend), api1/api2 and web1/web2 (the routed
    Services'), lb-discover with --routes and --admin, proxies a and b."""

    def __init__(self, procs, proxy, echo, rundir, proxy_flags):
        self.rundir = rundir
        self.main = echo("--pod-name", "main", "--access-log", "off")
        self.api = [echo("--pod-name", f"api{i}", "--access-log", "off") for i in (1, 2)]
        self.web = [echo("--pod-name", f"web{i}", "--access-log", "off") for i in (1, 2)]
        self.path = f"{rundir}/routes.yaml"
        self.procs = procs
        self.write([1, 2])     # the proxies' ports once they listen (they wait for a set)
        self.start_discover()
        self.a = bus_proxy(proxy, rundir, *proxy_flags)
        self.b = bus_proxy(proxy, rundir, *proxy_flags)
        self.write([self.a.port, self.b.port])
        gen = int(wait_for("lb-discover to publish the proxies' listeners", lambda: re.findall(
            r"routes changed generation=(\d+)", self.d.text())[1:])[-1])
        wait_for("both proxies to serve them", lambda: all(
            px.admin("/info")[1]["routes"]["generation"] == gen for px in (self.a, self.b)))
        # both proxies serve both Services, and lb-discover heard each report them
        for svc in (API, WEB):
            wait_for(f"both proxies to report {svc}",
                     lambda: len(self.status(svc)["proxies"]) == 2 and all(
                         p["state"] == "synced" for p in self.status(svc)["proxies"]))

    def start_discover(self):
        self.d = self.procs([binary("lb-discover"), "--runtime-dir", self.rundir, "--routes",
                             self.path, "--static", self.main.addr, "--no-health-check",
                             "--admin", "127.0.0.1:0"])
        self.d.wait_log(r"INFO publishing ")
        self.admin = int(self.d.wait_log(r"admin listening admin=127\.0\.0\.1:(\d+)").group(1))

    def write(self, ports):
        with open(self.path + ".tmp", "w") as f:
            f.write("\n---\n".join(json.dumps(d) for d in documents(ports, self.api, self.web)))
        os.rename(self.path + ".tmp", self.path)   # as editors replace files

    def status(self, service=None):
        return ctl_json(self.rundir, "status", *(["--service", service] if service else []))

    def row(self, service, addr):
        return {b["address"]: b for b in self.status(service)["backends"]}[addr]

    def get(self, px, host, path="/"):
        status, headers, _ = px.request("GET", path, headers={"Host": host})
        return status, served_by(headers)

    def http(self, method, path):
        import http.client
        c = http.client.HTTPConnection("127.0.0.1", self.admin, timeout=10)
        c.request(method, path, headers={"Content-Length": "0"} if method != "GET" else {})
        r = c.getresponse()
        body = r.read()
        c.close()
        return r.status, json.loads(body)


@pytest.fixture
def fleet(procs, proxy, echo, rundir):
    def start(*proxy_flags):
        return Fleet(procs, proxy, echo, rundir, proxy_flags)
    return start


def fault(e, body):
    status, _, _ = e.request("POST", "/fault", body=json.dumps(body),
                             headers={"Content-Type": "application/json"})
    assert status == 200


def test_drain_wait_per_service_is_acknowledged_by_both_proxies(fleet):
    """lb-ctl drain ADDR --service S --wait returns once both proxies applied
    the drain of that Service's backend and its request in flight ended
    (RFC 9110 9.2.2's idempotent drain, HAProxy's meaning); afterwards
    neither proxy sends it a request, and the other Service and the main one
    keep their generations and states."""
    f = fleet()
    api1, api2 = f.api
    web_gen, main_gen = f.status(WEB)["generation"], f.status()["generation"]
    fault(api1, {"delayMs": 1500})
    # a slow request in flight on api1 through proxy b (round robin: within two)
    for _ in range(4):
        t = threading.Thread(target=lambda: setattr(t, "response", f.get(f.b, "api.example")))
        t.start()
        busy = wait_for("the request on a backend", lambda: (not t.is_alive()) or
                        f.row(API, api1.addr)["active"] > 0)
        if t.is_alive():
            break
        t.join()
    else:
        pytest.fail("no request reached api1")
    code, out, err = ctl(f.rundir, "drain", api1.addr, "--service", API, "--wait")
    assert code == 0, err
    assert not t.is_alive(), "drain --wait returned with the request still in flight"
    t.join()
    assert t.response == (200, "api1")
    assert f"drain {api1.addr} of {API}: done" in out
    assert f"{api1.addr} drained on 2 proxies" in err, err
    fault(api1, {"delayMs": 0})
    for px in (f.a, f.b):
        assert {f.get(px, "api.example")[1] for _ in range(6)} == {"api2"}
    assert f.row(API, api1.addr)["state"] == "draining"
    assert f.status(WEB)["generation"] == web_gen
    assert all(b["state"] == "up" for b in f.status(WEB)["backends"])
    main = f.status()
    assert main["generation"] == main_gen and main["backends"][0]["state"] == "up"
    # the main service has no such backend: the old form is untouched
    code, _, err = ctl(f.rundir, "drain", api1.addr)
    assert code == 1 and "unknown backend" in err, err
    code, _, err = ctl(f.rundir, "undrain", api1.addr, "--service", API)
    assert code == 0, err
    wait_for("both proxies send to api1 again",
             lambda: all("api1" in {f.get(px, "api.example")[1] for _ in range(4)}
                         for px in (f.a, f.b)))
    # the admin API's drain?wait= waits for the same Service's proxies
    q = "service=" + urllib.parse.quote(API, safe="")
    status, doc = f.http("POST", f"/admin/backends/{api1.addr}/drain?{q}&wait=20")
    assert status == 200 and doc["drained"] and doc["proxies"] == 2, doc
    assert doc["service"] == API and doc["in_flight"] == 0, doc
    status, doc = f.http("POST", f"/admin/backends/{api1.addr}/undrain?{q}")
    assert status == 200 and doc["service"] == API, doc


def test_an_ejection_by_one_proxy_is_applied_by_the_other(fleet):
    """Outlier ejection per routed Service: proxy a's --eject-5xx run on
    web2 ejects it fleet-wide in web's registry; proxy b applies it (its
    report of web says web2 down, skipped as ejected) and sends web2 nothing;
    api and the main service eject nothing. uneject --service ends it."""
    f = fleet("--eject-5xx", "3")
    web1, web2 = f.web
    fault(web2, {"errorRate": 1})
    for _ in range(20):
        f.get(f.a, "web.example")
        if "ejection" in f.row(WEB, web2.addr):
            break
    ejection = f.row(WEB, web2.addr)["ejection"]
    assert ejection["reason"] == f"outlier: 3 consecutive 5xx on proxy {f.a.proc.pid}", ejection

    def b_skips_web2():
        for p in f.status(WEB)["proxies"]:
            if p["pid"] == f.b.proc.pid:
                return any(x["address"] == web2.addr and x["state"] == "down"
                           for x in p["backends"])
    wait_for("proxy b to apply the ejection", b_skips_web2)
    assert [f.get(f.b, "web.example") for _ in range(10)] == [(200, "web1")] * 10
    assert all("ejection" not in b for b in f.status(API)["backends"])
    assert all("ejection" not in b for b in f.status()["backends"])
    code, _, err = ctl(f.rundir, "uneject", web2.addr, "--service", WEB)
    assert code == 0, err
    assert "ejection" not in f.row(WEB, web2.addr)
    f.d.wait_log(rf"operator command=uneject service={re.escape(WEB)} address={web2.addr}")


def test_weight_per_service_unknown_services_and_reports(fleet, rundir):
    """weight --service changes one Service's backend, through lb-ctl and the
    admin API's ?service=; an unknown service is refused naming the known
    ones (lb-ctl exit 1, HTTP 404); a report of a Service lb-discover does
    not serve, or a malformed one, is dropped with a log line."""
    f = fleet()
    api1 = f.api[0]
    main_gen = f.status()["generation"]
    code, out, err = ctl(f.rundir, "weight", api1.addr, "7", "--service", API)
    assert code == 0, err
    assert f.row(API, api1.addr)["weight"] == 7
    assert all(b["weight"] == 1 for b in f.status(WEB)["backends"])
    assert f.status()["generation"] == main_gen
    code, out, err = ctl(f.rundir, "status", "--service", API)
    assert code == 0 and out.startswith(f"service {API}  generation "), err
    line = next(x for x in out.splitlines() if x.startswith(api1.addr))
    assert line.split()[1:3] == ["up", "7"], out
    q = "?service=" + urllib.parse.quote(WEB, safe="")
    status, doc = f.http("PUT", f"/admin/backends/{f.web[0].addr}/weight{q}")
    assert status == 400     # a weight needs its body: the route took the service
    status, doc = f.http("GET", "/admin/backends" + q)
    assert status == 200 and doc["service"] == WEB and len(doc["backends"]) == 2, doc
    status, doc = f.http("GET", "/admin/backends?service=" + urllib.parse.quote(API))
    assert {b["address"]: b["weight"] for b in doc["backends"]}[api1.addr] == 7, doc
    status, doc = f.http("POST", f"/admin/backends/{api1.addr}/drain?service=default%2Fnope%3A80")
    known = f"backend, {API}, {WEB}"
    assert status == 404 and doc["error"] == (
        f"unknown service default/nope:80: lb-discover serves {known}"), doc
    code, _, err = ctl(f.rundir, "drain", api1.addr, "--service", "default/nope:80")
    assert code == 1 and f"unknown service default/nope:80: lb-discover serves {known}" in err
    code, _, err = ctl(f.rundir, "status", "--service", "default/nope:80")
    assert code == 1 and "unknown service" in err, err
    # hostile reports on the bus (nanocat repeats: nanomsg has no NN_LINGER)
    for data, log in [
            ('{"v":%d,"type":"report","pid":4242,"service":"default/nope:80","generation":1,'
             '"backends":[]}' % VERSION,
             r'WARN bus: report of an unknown service dropped pid=4242 '
             r'service="default/nope:80" known="backend, default/api:80, default/web:80"'),
            ('{"v":%d,"type":"report","pid":4243,"service":"%s","generation":1,'
             '"backends":[{"address":"%s","state":"sideways","active":0,"requests":0,'
             '"errors":0,"responses_5xx":0}]}' % (VERSION, API, api1.addr),
             r"malformed report dropped error=.*state must be up, draining or down")]:
        junk = subprocess.Popen(["nanocat", "--push", "--connect", f"ipc://{rundir}/reports.sock",
                                 "--data", data, "--interval", "0.05"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            f.d.wait_log(log)
        finally:
            junk.kill()
            junk.wait()
    assert {p["pid"] for p in f.status(API)["proxies"]} == {f.a.proc.pid, f.b.proc.pid}
    # the overrides persist per service: a restarted lb-discover has api1's weight
    code, _, err = ctl(f.rundir, "drain", f.web[1].addr, "--service", WEB)
    assert code == 0, err
    with open(f"{rundir}/discover-backend.json") as state:
        saved = json.load(state)["services"]
    assert {b["address"]: b.get("weight") for b in saved[API]["backends"]} == {api1.addr: 7}
    assert f.d.stop() == 0
    f.start_discover()
    f.d.wait_log(rf"overrides restored from the state file service={re.escape(WEB)}")
    assert f.row(API, api1.addr)["weight"] == 7
    assert f.row(WEB, f.web[1].addr)["state"] == "draining"
    assert f.row(WEB, f.web[0].addr)["state"] == "up"


def test_watch_prints_each_services_changes_once(fleet):
    """lb-ctl watch with routed Services: a line per new generation of each
    service, each naming its service, never the same set twice (the
    heartbeat repeats every service's set: watch compared a set's generation
    with the last message's, whichever service that was, so it printed the
    heartbeat's sets again and again, and never a Service whose generation
    was the one before it: two Services created in one millisecond share
    one); --service NAME prints that Service's
    only. A drain of a routed backend is one line of it."""
    f = fleet()
    watchers = [subprocess.Popen([binary("lb-ctl"), "--runtime-dir", f.rundir, "watch", *extra],
                                 stdout=subprocess.PIPE, text=True)
                for extra in ((), ("--service", WEB))]
    every, web = (PipeLines(w.stdout) for w in watchers)

    def printed(lines):
        return [(d["service"], d["generation"]) for d in map(json.loads, lines)]
    try:
        wait_for("a line of every service", lambda: {s for s, _ in printed(every.lines)} ==
                 {"backend", API, WEB})
        wait_for("web's line", lambda: web.lines)
        time.sleep(2.5)     # two heartbeats (1 s): their repeated sets must print nothing
        for out in (every, web):
            assert len(set(printed(out.lines))) == len(out.lines), out.text()
        assert {s for s, _ in printed(web.lines)} == {WEB}
        n_every, n_web = len(every.lines), len(web.lines)
        code, _, err = ctl(f.rundir, "drain", f.web[0].addr, "--service", WEB)
        assert code == 0, err

        def drained(out, n):
            return [d for d in map(json.loads, out.lines[n:]) if d["service"] == WEB and any(
                b["address"] == f.web[0].addr and b["state"] == "draining"
                for b in d["backends"])]
        wait_for("the drain's line", lambda: drained(every, n_every) and drained(web, n_web))
        assert {s for s, _ in printed(web.lines)} == {WEB}
    finally:
        for w in watchers:
            w.terminate()
            assert w.wait(10) == 0
