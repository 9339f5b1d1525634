"""lb-discover --gateway NAMESPACE/NAME as a Gateway API controller, against
the Kubernetes API simulator (tests/support/k8ssim.py serves GatewayClass,
Gateway, HTTPRoute, ReferenceGrant, Services and EndpointSlices as the API
server does, with the /status subresource): the routes reach the proxies,
changes made through the API are served, and the status lb writes back is
what the Gateway API specifies (conformance: GatewayClassObservedGenerationBump,
GatewayObservedGenerationBump, HTTPRouteSimpleSameNamespace,
HTTPRouteInvalidNonExistentBackendRef, HTTPRouteWeight)."""
from conftest import bus_proxy, served_by, wait_for
from support.k8ssim import api  # noqa: E402 (the simulator's REST helper)

GW = "gateway.networking.k8s.io"
CONTROLLER = "lb.dev/gateway-controller"
NS = "default"


def create(sim, collection, doc):
    status, body = api(sim, "POST", collection, doc)
    assert status == 201, body
    return body


def gateway_class(name="lb", controller=CONTROLLER):
    return {"apiVersion": f"{GW}/v1", "kind": "GatewayClass", "metadata": {"name": name},
            "spec": {"controllerName": controller}}


def gateway(port, cls="lb"):
    return {"apiVersion": f"{GW}/v1", "kind": "Gateway", "metadata": {"name": "gw", "namespace": NS},
            "spec": {"gatewayClassName": cls,
                     "listeners": [{"name": "http", "port": port, "protocol": "HTTP"}]}}


def httproute(name, backend_refs, path="/"):
    return {"apiVersion": f"{GW}/v1", "kind": "HTTPRoute",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"parentRefs": [{"name": "gw"}],
                     "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": path}}],
                                "backendRefs": backend_refs}]}}


ROUTES = f"/apis/{GW}/v1/namespaces/{NS}/httproutes"
GATEWAYS = f"/apis/{GW}/v1/namespaces/{NS}/gateways"
CLASSES = f"/apis/{GW}/v1/gatewayclasses"


def conditions(obj):
    return {c["type"]: c for c in obj.get("status", {}).get("conditions", [])}


def parent_conditions(route):
    parents = [p for p in route.get("status", {}).get("parents", [])
               if p.get("controllerName") == CONTROLLER]
    return {c["type"]: c for c in parents[0]["conditions"]} if parents else {}


def start(sim, discover, proxy, rundir, *flags):
    d = discover("--gateway", f"{NS}/gw", "--api-server", sim.url, "--no-health-check", *flags)
    p = bus_proxy(proxy, rundir)
    return d, p


def served(p):
    return p.admin("/info")[1]["routes"]


def test_routes_from_the_cluster_reach_the_proxy_and_status_is_written(sim, discover, proxy,
                                                                       rundir, echo):
    a, b = echo("--pod-name", "a"), echo("--pod-name", "b")
    sim.set_service(NS, "svc-a", ready=["127.0.0.1"], port=a.port, service_port=80)
    sim.set_service(NS, "svc-b", ready=["127.0.0.1"], port=b.port, service_port=80)
    d, p = start(sim, discover, proxy, rundir)
    create(sim, CLASSES, gateway_class())
    create(sim, GATEWAYS, gateway(p.port))
    create(sim, ROUTES, httproute("web", [{"name": "svc-a", "port": 80}]))
    create(sim, ROUTES, httproute("api", [{"name": "svc-b", "port": 80}], path="/api"))
    wait_for("the proxy to serve both routes' services", lambda: len(
        [s for s in served(p).get("services", []) if s["backends"]]) == 2, timeout=10)
    assert served_by(p.request("GET", "/x", headers={"Host": "h"})[1]) == "a"
    assert served_by(p.request("GET", "/api/x", headers={"Host": "h"})[1]) == "b"

    # HTTPRouteSimpleSameNamespace: Accepted and ResolvedRefs on the route's parent
    route = wait_for("the route's status", lambda: parent_conditions(
        api(sim, "GET", ROUTES + "/web")[1]).get("Accepted"), timeout=10)
    assert route["status"] == "True" and route["reason"] == "Accepted"
    assert route["observedGeneration"] == 1
    # GatewayClass Accepted; the Gateway Programmed once every proxy serves the table
    cls = wait_for("the class's status", lambda: conditions(
        api(sim, "GET", CLASSES + "/lb")[1]).get("Accepted", {}).get("status") == "True" and
        api(sim, "GET", CLASSES + "/lb")[1], timeout=10)
    assert conditions(cls)["SupportedVersion"]["status"] == "True"
    gw = wait_for("the Gateway to be Programmed", lambda: (lambda g: conditions(g).get(
        "Programmed", {}).get("status") == "True" and g)(api(sim, "GET", GATEWAYS + "/gw")[1]),
        timeout=15)
    assert "every proxy (1)" in conditions(gw)["Programmed"]["message"]
    listener = gw["status"]["listeners"][0]
    assert listener["attachedRoutes"] == 2
    assert listener["supportedKinds"] == [{"group": GW, "kind": "HTTPRoute"}]

    # a change through the API (kubectl patch sends a merge patch) is served
    status, _ = api(sim, "PATCH", ROUTES + "/web", {"spec": {"rules": [{
        "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
        "backendRefs": [{"name": "svc-b", "port": 80}]}]}},
        ctype="application/merge-patch+json")
    assert status == 200
    wait_for("the patched route to be served", lambda: served_by(
        p.request("GET", "/x", headers={"Host": "h"})[1]) == "b", timeout=10)
    route = wait_for("the route's status to follow its generation", lambda: (lambda c: c.get(
        "Accepted", {}).get("observedGeneration") == 2 and c)(parent_conditions(
            api(sim, "GET", ROUTES + "/web")[1])), timeout=10)
    assert route["Accepted"]["status"] == "True"


def test_unresolved_backend_ref_is_reported_and_answered_500(sim, discover, proxy, rundir, echo):
    """HTTPRouteInvalidNonExistentBackendRef: ResolvedRefs False with
    BackendNotFound, and 500 for the requests the ref would take."""
    d, p = start(sim, discover, proxy, rundir)
    create(sim, CLASSES, gateway_class())
    create(sim, GATEWAYS, gateway(p.port))
    create(sim, ROUTES, httproute("web", [{"name": "nowhere", "port": 80}]))
    refs = wait_for("the route's ResolvedRefs", lambda: parent_conditions(
        api(sim, "GET", ROUTES + "/web")[1]).get("ResolvedRefs"), timeout=10)
    assert refs["status"] == "False" and refs["reason"] == "BackendNotFound"
    wait_for("the proxy to serve the routes", lambda: served(p)["generation"] != 0)
    assert p.request("GET", "/", headers={"Host": "h"})[0] == 500


def test_a_class_of_another_controller_is_not_served(sim, discover, proxy, rundir):
    """A Gateway whose GatewayClass names another controller is left alone:
    nothing published, no status written."""
    d, p = start(sim, discover, proxy, rundir)
    create(sim, CLASSES, gateway_class("other", "example.com/other"))
    create(sim, GATEWAYS, gateway(p.port, cls="other"))
    d.wait_log(r"gateway: not served .*names another controller", timeout=10)
    assert served(p)["generation"] == 0
    status = api(sim, "GET", CLASSES + "/other")[1].get("status", {})
    assert all(c.get("reason") != "Accepted" or c.get("status") != "True"
               for c in status.get("conditions", []))
