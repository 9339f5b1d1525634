"""Seeing the routes (issue 24, the tools): lb-proxy counts the requests each
route rule matched (GET /routes, lb_proxy_route_requests_total), lb-discover
shows the table it publishes (GET /admin/routes), and `lb-ctl routes` puts
both together over the fleet. The routes come from a file (lb-discover
--routes), as in test_gateway_routes.py; the rules matched follow the
Gateway API v1 HTTPRoute spec (PathPrefix matching, "no matching route: 404",
"an unresolved backendRef: ResolvedRefs False, BackendNotFound")."""
import http.client
import json
import re

from conftest import SLOW, binary, bus_proxy, ctl, ctl_json, protocol_constant, wait_for
from test_gateway_routes import GATEWAY, backends, gateway, prefix, ref, route  # noqa: F401

VERSION = protocol_constant("BUS_PROTOCOL_VERSION")


def metric(text, route_name, rule):
    m = re.search(r'^lb_proxy_route_requests_total\{route="%s",rule="%d"\} (\d+)$'
                  % (re.escape(route_name), rule), text, re.M)
    return int(m.group(1)) if m else None


def discover_admin(gw):
    port = int(gw.discover.wait_log(r"admin listening admin=[^ ]*:(\d+)").group(1))

    def get(path):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10 * SLOW)
        c.request("GET", path)
        r = c.getresponse()
        body = json.loads(r.read())
        c.close()
        return r.status, body
    return get


def hits(doc):
    """{(route, rule): hits} of a /routes document."""
    return {(r["name"], rule["rule"]): rule["hits"] for r in doc["routes"]
            for rule in r["rules"]}


def test_hits_per_rule_metric_and_table_swap(gateway, echo):
    """Each rule counts the requests it matched, the no-route 404s (HTTPRoute
    spec: no match is 404) are counted apart; the counts of a rule that stays
    (same route, same rule index) carry over a new table, a new rule starts
    at 0, and the metric never goes down."""
    a, b = echo("--pod-name", "a"), echo("--pod-name", "b")
    docs = [GATEWAY, backends("a", [a.addr]), backends("b", [b.addr]),
            route("web", [{"matches": [prefix("/a")], "backendRefs": [ref("a")]},
                          {"matches": [prefix("/b")], "backendRefs": [ref("b")]}],
                  hostnames=["example.com"])]
    gw = gateway(docs)
    for path, n in (("/a/x", 3), ("/b", 2)):
        for _ in range(n):
            assert gw.get(path)[0] == 200
    assert gw.get("/nothing")[0] == 404
    status, doc = gw.proxy.admin("/routes")
    assert status == 200
    assert doc["generation"] == gw.generation()
    assert hits(doc) == {("default/web", 0): 3, ("default/web", 1): 2}, doc
    assert doc["unmatched"] == 1
    assert doc["listeners"][0]["port"] == gw.port
    assert doc["listeners"][0]["hostnames"] == ["example.com"]
    rule0 = doc["routes"][0]["rules"][0]
    assert rule0["matches"][0]["path"] == {"type": "PathPrefix", "value": "/a"}
    assert rule0["backendRefs"] == [{"service": "default/a:80", "weight": 1, "resolved": True}]
    text = gw.proxy.admin("/metrics")[1]
    assert metric(text, "default/web", 0) == 3 and metric(text, "default/web", 1) == 2
    assert re.search(r"^lb_proxy_route_unmatched_total 1$", text, re.M)
    # a new table: a rule added in front of the route's others moves them
    # (rule indexes change: new identities), another route's rule is added
    gw.apply([GATEWAY, backends("a", [a.addr]), backends("b", [b.addr]),
              route("web", [{"matches": [prefix("/a")], "backendRefs": [ref("a")]},
                            {"matches": [prefix("/b")], "backendRefs": [ref("b")]}],
                    hostnames=["example.com"]),
              route("api", [{"matches": [prefix("/api")], "backendRefs": [ref("b")]}],
                    hostnames=["example.com"])])
    assert gw.get("/a")[0] == 200
    assert gw.get("/api/v1")[0] == 200
    got = hits(gw.proxy.admin("/routes")[1])
    assert got == {("default/web", 0): 4, ("default/web", 1): 2, ("default/api", 0): 1}, got
    text = gw.proxy.admin("/metrics")[1]
    assert metric(text, "default/web", 0) == 4 and metric(text, "default/api", 0) == 1


def test_admin_routes_and_lb_ctl_routes(gateway, echo, proxy, procs, rundir):
    """GET /admin/routes shows the table published, each backendRef's
    Service with its backends (an unresolved one: -1, and the route's
    ResolvedRefs False with reason BackendNotFound, as the HTTPRoute spec
    says), and the generation each proxy serves; `lb-ctl routes` sums the
    hits of every proxy and says which proxy it could not count."""
    a = echo("--pod-name", "a")
    docs = [GATEWAY, backends("a", [a.addr]),
            route("web", [{"matches": [prefix("/")],
                           "backendRefs": [ref("a", 9), ref("missing", 1)]}],
                  hostnames=["example.com"])]
    gw = gateway(docs, "--admin", "127.0.0.1:0")
    # a second proxy on the Gateway listener's port (SO_REUSEPORT)
    second = bus_proxy(proxy, rundir, listen=f"127.0.0.1:{gw.port}")
    get = discover_admin(gw)
    gen = gw.generation()
    # a proxy whose reports name no admin API (an lb-proxy from before they
    # did): its hits cannot be read, lb-ctl says so
    old = {"v": VERSION, "type": "report", "pid": 999999, "service": "backend", "generation": 0,
           "ignored": 0, "stale": False, "uptime": 1.0, "panic": False, "routes": gen,
           "backends": []}
    old_proxy = procs(["nanocat", "--push", "--connect", f"ipc://{rundir}/reports.sock", "--interval",
           "0.1", "--data", json.dumps(old)])
    gen = gw.generation()
    wait_for("the second proxy to serve the routes",
             lambda: second.admin("/info")[1]["routes"]["generation"] == gen)
    for p in (gw.proxy, second):
        for _ in range(3):
            p.request("GET", "/x", headers={"Host": "example.com"})
    status, doc = get("/admin/routes")
    assert status == 200
    assert doc["generation"] == gen
    refs = doc["routes"][0]["rules"][0]["backendRefs"]
    # protocol and balance: what the Service's sets carry ("": the proxies' own)
    assert refs == [{"service": "default/a:80", "weight": 9, "resolved": True, "backends": 1,
                     "protocol": "", "balance": ""},
                    {"service": "default/missing:80", "weight": 1, "resolved": False,
                     "backends": -1}], refs
    st = doc["statuses"][0]
    assert st["route"] == "default/web" and st["accepted"]["status"] is True
    assert st["resolved_refs"] == {"status": False, "reason": "BackendNotFound",
                                   "message": st["resolved_refs"]["message"]}
    wait_for("lb-discover to hear both proxies serve the routes",
             lambda: get("/admin/routes")[1]["proxies_serving"] == 3)
    admins = sorted(p["admin"] for p in get("/admin/routes")[1]["proxies"])
    assert admins == sorted(["", *(f"127.0.0.1:{p.admin_port}" for p in (gw.proxy, second))])
    out = ctl_json(rundir, "routes")
    assert out["routes"][0]["rules"][0]["hits"] == 6, out
    unread = [p for p in out["proxies"] if not p.get("read")]
    assert len(unread) == 1 and unread[0]["admin"] == "", out
    assert "its reports name no admin API" in unread[0]["error"]
    code, text, err = ctl(rundir, "routes")
    assert code == 0, err
    assert re.search(r"^default/web\s+0\s+PathPrefix /\s+6\s+default/a:80 w=9 \(1 backend\) "
                     r"default/missing:80 w=1 \(unresolved: 500\)", text, re.M), text
    assert "served by 3 of 3 proxies" in text
    assert "not counted: its reports name no admin API" in text
    assert re.search(r"^default/web\s+0\s+yes\s+BackendNotFound: ", text, re.M), text
    # each routed Service's protocol and algorithm as the proxies use them
    assert re.search(r"^SERVICE\s+PROTOCOL\s+BALANCE\s+NOTES$", text, re.M), text
    assert re.search(r"^default/a:80\s+http1\s+round-robin\s*$", text, re.M), text
    assert out["services"] == {"default/a:80": {"protocol": "http1", "balance": "round-robin"}}
    # a proxy whose admin API is gone: said, the others still counted
    # (and it goes out of lb-discover's list once its reports stop)
    old_proxy.kill()
    second.proc.kill()
    own = gw.proxy.admin("/routes")[1]["routes"][0]["rules"][0]["hits"]
    out = ctl_json(rundir, "routes")
    gone = [p for p in out["proxies"] if p["admin"] == f"127.0.0.1:{second.admin_port}"]
    if gone:    # lb-discover may have dropped it already
        assert "connect" in gone[0]["error"], gone
    assert out["routes"][0]["rules"][0]["hits"] == own, out


def test_lb_ctl_routes_without_routes(discover, rundir, echo):
    """Without --routes or --gateway there is nothing to show: exit 1 and the fix."""
    discover("--static", echo().addr)
    code, out, err = ctl(rundir, "routes")
    assert code == 1
    assert "--routes FILE or --gateway NAMESPACE/NAME" in err
