"""Conflicted listeners (Gateway API v1, GatewaySpec.Listeners: "Handling
indistinct Listeners"): lb-discover --gateway, against the API simulator,
leaves out every listener of a conflict (none picked as the winner) and
writes its status: Conflicted True with ProtocolConflict (two protocols on
one port that lb-proxy cannot serve side by side) or HostnameConflict (one
protocol, one port, the same hostname), Accepted and Programmed False; the
Gateway's Accepted says ListenersNotValid naming them. Follows the
conformance test GatewayListenerProtocolAndRouteKindConflicts (its
manifests, with lb's ports), and adds two HTTP listeners of one hostname
(HostnameConflict: a real API server's CEL rule refuses such a Gateway,
the simulator and a routes file take it)."""
from conftest import bus_proxy, wait_for
from support.k8ssim import api
from test_gateway_tcp import (CONTROLLER, GW, cert, create, gateway,  # noqa: F401
                              parent_conditions, ref, stream_route, tls_backends, tls_get,
                              tls_listener)

GATEWAY_PATH = f"/apis/{GW}/v1/namespaces/default/gateways/gw"


def listener_status(sim):
    status = api(sim, "GET", GATEWAY_PATH)[1].get("status", {})
    return {l_["name"]: dict(l_, conditions={c["type"]: c for c in l_["conditions"]})
            for l_ in status.get("listeners", [])}


def gateway_condition(sim, kind):
    status = api(sim, "GET", GATEWAY_PATH)[1].get("status", {})
    return {c["type"]: c for c in status.get("conditions", [])}.get(kind)


def condition(listener, kind):
    c = listener["conditions"][kind]
    return c["status"], c["reason"]


def test_conflicted_listeners_are_left_out_with_the_reason(sim, discover, proxy, rundir,
                                                           tls_backends, cert):  # noqa: F811
    (a,) = tls_backends("tcp-backend")
    host, port = a.addr.split(":")
    sim.set_service("default", "tcp-backend", ready=[host], port=int(port), service_port=8443)
    discover("--gateway", "default/gw", "--api-server", sim.url, "--no-health-check")
    p = bus_proxy(proxy, rundir)
    create(sim, f"/apis/{GW}/v1/gatewayclasses", {
        "apiVersion": f"{GW}/v1", "kind": "GatewayClass", "metadata": {"name": "lb"},
        "spec": {"controllerName": CONTROLLER}})
    tls = dict(tls_listener(p.port, hostname="abc.example.com", name="tls"),
               allowedRoutes={"namespaces": {"from": "Same"}, "kinds": [{"kind": "TLSRoute"}]})
    listeners = [tls,
                 {"name": "conflicted-https", "port": 8443, "protocol": "HTTPS",
                  "allowedRoutes": {"kinds": [{"kind": "HTTPRoute"}]},
                  "tls": {"certificateRefs": [{"name": "tls-validity-checks-certificate"}]}},
                 dict(tls_listener(8443, name="conflicted-tls"),
                      allowedRoutes={"kinds": [{"kind": "TLSRoute"}]}),
                 {"name": "web", "port": 8080, "protocol": "HTTP", "hostname": "w.example.com"},
                 {"name": "web-again", "port": 8080, "protocol": "HTTP",
                  "hostname": "w.example.com"}]
    create(sim, f"/apis/{GW}/v1/namespaces/default/gateways", gateway(listeners))
    create(sim, f"/apis/{GW}/v1/namespaces/default/httproutes", {
        "apiVersion": f"{GW}/v1", "kind": "HTTPRoute",
        "metadata": {"name": "disallowed-kind", "namespace": "default"},
        "spec": {"parentRefs": [{"name": "gw", "sectionName": "tls"}],
                 "rules": [{"backendRefs": [ref("tcp-backend", port=8443)]}]}})
    tls_routes = f"/apis/{GW}/v1alpha2/namespaces/default/tlsroutes"
    create(sim, tls_routes, stream_route("TLSRoute", "mixed-protocol-conflict-control",
                                         [ref("tcp-backend", port=8443)],
                                         hostnames=["abc.example.com"], section="tls"))

    # the route kind the listener does not allow
    web = wait_for("the HTTPRoute's Accepted", lambda: parent_conditions(
        sim, f"/apis/{GW}/v1/namespaces/default/httproutes/disallowed-kind").get("Accepted"),
        timeout=10)
    assert (web["status"], web["reason"]) == ("False", "NotAllowedByListeners")

    # the conflicted listeners, each with its reason; none attached
    # the routes were created after the Gateway: the status the test reads
    # is the one written once the last of them (the TLSRoute) is attached
    st = wait_for("every listener's status, the TLSRoute attached", lambda: (
        lambda s: len(s) == 5 and s["tls"]["attachedRoutes"] == 1 and s)(
        listener_status(sim)), timeout=10)
    for name, reason in [("conflicted-https", "ProtocolConflict"),
                         ("conflicted-tls", "ProtocolConflict"),
                         ("web", "HostnameConflict"), ("web-again", "HostnameConflict")]:
        assert condition(st[name], "Conflicted") == ("True", reason), st[name]
        assert condition(st[name], "Accepted") == ("False", "Invalid"), st[name]
        assert condition(st[name], "Programmed")[0] == "False", st[name]
        assert st[name]["attachedRoutes"] == 0
    assert "conflicted-tls" in st["conflicted-https"]["conditions"]["Conflicted"]["message"]
    assert condition(st["tls"], "Conflicted") == ("False", "NoConflicts")
    assert condition(st["tls"], "Accepted") == ("True", "Accepted")
    assert st["tls"]["attachedRoutes"] == 1
    accepted = gateway_condition(sim, "Accepted")
    assert (accepted["status"], accepted["reason"]) == ("True", "ListenersNotValid")
    assert "4 listeners are conflicted and not accepted; accepted: tls" in accepted["message"]

    # the distinct listener serves traffic; the proxy has no other listener
    wait_for("the proxy to serve the table", lambda: p.admin("/info")[1]["routes"].get(
        "listeners") == 1 and p.admin("/info")[1]["routes"].get("rules") == 1, timeout=10)
    assert wait_for("the TLSRoute to serve", lambda: tls_get(p.port, "abc.example.com", cert),
                    timeout=10) == "tcp-backend abc.example.com"

    # one of a conflict removed: the other is served again, and the Gateway accepted
    gw = api(sim, "GET", GATEWAY_PATH)[1]
    gw["spec"]["listeners"] = [lst for lst in gw["spec"]["listeners"]
                               if lst["name"] != "web-again"]
    status, body = api(sim, "PUT", GATEWAY_PATH, gw)
    assert status == 200, body
    st = wait_for("web to be accepted", lambda: (lambda s: len(s) == 4 and s)(
        listener_status(sim)), timeout=10)
    assert condition(st["web"], "Conflicted") == ("False", "NoConflicts")
    assert condition(st["web"], "Accepted") == ("True", "Accepted")
    assert condition(st["conflicted-tls"], "Conflicted") == ("True", "ProtocolConflict")
    accepted = gateway_condition(sim, "Accepted")
    assert "2 listeners are conflicted and not accepted; accepted: tls, web" in \
        accepted["message"]
