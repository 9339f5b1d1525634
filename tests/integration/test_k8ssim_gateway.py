"""The API simulator's Services and Gateway API objects (GatewayClass,
Gateway, HTTPRoute v1; ReferenceGrant v1beta1; TLSRoute, TCPRoute v1alpha2),
what lb-discover's Gateway controller will read and write, checked by kubectl
the way a user drives a cluster (apply with validation on, get, -w, patch,
delete) and against the API server's rules: resourceVersion and 409s,
metadata.generation bumped by spec changes only, the /status subresource,
415 for a strategic merge patch of a custom resource, the CRDs' defaults, 422
for what their schemas refuse, the watch's resume and 410 Gone, RBAC with
k8s/lb-gateway.yaml's ClusterRole. Every object the simulator holds at the
end of each test is validated with @kubernetes-models/gateway-api (the
Gateway API's kinds) or kubernetes-models (the others): tests/k8s/objects.mjs.
Then k8s/'s Gateway manifests and the canary walk-through of
docs/kubernetes.md, run as written, and the simulator as a program."""
import copy
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from conftest import PipeLines, wait_for
from support.k8ssim import Simulator, api
from test_k8s_fidelity import K8S_TESTS, MANIFESTS, node_modules, read_json_stream, tool

# the simulator and the real clients alone: the ASan run (other binaries) skips it
pytestmark = pytest.mark.no_lb_binaries

ROOT = os.path.abspath(os.path.join(MANIFESTS, ".."))
GW = "gateway.networking.k8s.io"
CONTROLLER = "lb.dev/gateway-controller"


def objects_js(*args, stdin=None):
    node_modules()
    return subprocess.run([tool("node"), os.path.join(K8S_TESTS, "objects.mjs"), *args],
                          capture_output=True, text=True, timeout=60, input=stdin)


def validate_objects(objs):
    """{(kind, name): error or None} from objects.mjs validate."""
    r = objects_js("validate", stdin=json.dumps(objs))
    out = {}
    for line in r.stdout.splitlines():
        doc = json.loads(line)
        out[(doc["kind"], doc["name"])] = None if doc["valid"] else doc["error"]
    assert len(out) == len({(o["kind"], o["metadata"]["name"]) for o in objs}), r.stderr
    return out


@pytest.fixture
def gsim():
    """A simulator; at the end, every object it stores must be valid against
    its kind's schema (the Gateway API's from @kubernetes-models/gateway-api)."""
    s = Simulator()
    yield s
    s.stop()
    objs = [o for st in s.stores for o in st.objects.values()]
    if objs:
        bad = {k: e for k, e in validate_objects(objs).items() if e}
        assert not bad, f"the simulator stores objects its kinds' schemas refuse: {bad}"


def kubectl(sim, *args, stdin=None, ns="demo"):
    argv = [tool("kubectl"), "--server", sim.url] + (["-n", ns] if ns else []) + list(args)
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60, input=stdin, cwd=ROOT)
    return r.returncode, r.stdout, r.stderr


def cond(type_, reason, generation, status="True"):
    return {"type": type_, "status": status, "reason": reason, "message": "",
            "lastTransitionTime": "2026-12-07T10:00:00Z", "observedGeneration": generation}


def route_status(generation):
    return {"parents": [{"parentRef": {"group": GW, "kind": "Gateway", "name": "lb"},
                         "controllerName": CONTROLLER,
                         "conditions": [cond("Accepted", "Accepted", generation),
                                        cond("ResolvedRefs", "ResolvedRefs", generation)]}]}


class K:
    """A kind as the tests drive it: its collection path, a valid object,
    a spec change, the status its controller would write (None: no /status)."""

    def __init__(self, resource, api_version, obj, change, status, namespaced=True):
        self.resource = resource
        self.api_version = api_version
        self.kind = obj["kind"]
        self.obj = obj
        self.change = change              # a merge patch of the spec
        self.status = status              # status(generation) or None
        self.namespaced = namespaced
        prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        self.path = prefix + ("/namespaces/demo" if namespaced else "") + f"/{resource}"
        self.crd = api_version.startswith(GW)

    def doc(self, name="web"):
        d = copy.deepcopy(self.obj)
        d["metadata"] = {"name": name}
        return d


KINDS = [
    K("services", "v1",
      {"apiVersion": "v1", "kind": "Service",
       "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80,
                                                        "targetPort": 8080}]}},
      {"spec": {"selector": {"app": "web", "version": "v2"}}},
      lambda g: {"loadBalancer": {"ingress": [{"ip": "192.0.2.10"}]}}),
    K("gatewayclasses", f"{GW}/v1",
      {"apiVersion": f"{GW}/v1", "kind": "GatewayClass", "spec": {"controllerName": CONTROLLER}},
      {"spec": {"description": "lb"}},
      lambda g: {"conditions": [cond("Accepted", "Accepted", g),
                                cond("SupportedVersion", "SupportedVersion", g)]},
      namespaced=False),
    K("gateways", f"{GW}/v1",
      {"apiVersion": f"{GW}/v1", "kind": "Gateway",
       "spec": {"gatewayClassName": "lb",
                "listeners": [{"name": "http", "port": 8080, "protocol": "HTTP"}]}},
      {"spec": {"listeners": [{"name": "http", "port": 8081, "protocol": "HTTP"}]}},
      lambda g: {"addresses": [{"type": "IPAddress", "value": "192.0.2.1"}],
                 "conditions": [cond("Accepted", "Accepted", g),
                                cond("Programmed", "Programmed", g)],
                 "listeners": [{"name": "http", "attachedRoutes": 1,
                                "supportedKinds": [{"group": GW, "kind": "HTTPRoute"}],
                                "conditions": [cond("Accepted", "Accepted", g),
                                               cond("Programmed", "Programmed", g),
                                               cond("ResolvedRefs", "ResolvedRefs", g),
                                               cond("Conflicted", "NoConflicts", g,
                                                    "False")]}]}),
    K("httproutes", f"{GW}/v1",
      {"apiVersion": f"{GW}/v1", "kind": "HTTPRoute",
       "spec": {"parentRefs": [{"name": "lb"}],
                "rules": [{"backendRefs": [{"name": "web", "port": 80}]}]}},
      {"spec": {"hostnames": ["shop.example.com"]}}, route_status),
    K("referencegrants", f"{GW}/v1beta1",
      {"apiVersion": f"{GW}/v1beta1", "kind": "ReferenceGrant",
       "spec": {"from": [{"group": GW, "kind": "HTTPRoute", "namespace": "shop"}],
                "to": [{"group": "", "kind": "Service"}]}},
      {"spec": {"to": [{"group": "", "kind": "Service", "name": "web"}]}}, None),
    K("tlsroutes", f"{GW}/v1alpha2",
      {"apiVersion": f"{GW}/v1alpha2", "kind": "TLSRoute",
       "spec": {"parentRefs": [{"name": "lb", "sectionName": "tls"}],
                "hostnames": ["shop.example.com"],
                "rules": [{"backendRefs": [{"name": "web", "port": 443}]}]}},
      {"spec": {"hostnames": ["api.example.com"]}}, route_status),
    K("tcproutes", f"{GW}/v1alpha2",
      {"apiVersion": f"{GW}/v1alpha2", "kind": "TCPRoute",
       "spec": {"parentRefs": [{"name": "lb", "sectionName": "db"}],
                "rules": [{"backendRefs": [{"name": "db", "port": 5432}]}]}},
      {"spec": {"rules": [{"backendRefs": [{"name": "db", "port": 5433}]}]}}, route_status),
]
IDS = [k.kind for k in KINDS]
BY_KIND = {k.kind: k for k in KINDS}


def get(sim, k, name="web"):
    code, doc = api(sim, "GET", f"{k.path}/{name}")
    assert code == 200, doc
    return doc


@pytest.mark.parametrize("k", KINDS, ids=IDS)
def test_kubectl_lifecycle(gsim, k):
    """kubectl apply (created, configured, unchanged), get (table, -o yaml),
    patch --type=merge, a strategic patch (415 for the Gateway API's custom
    resources, as the real API server answers: kubectl's own message), a
    status write, delete; generation 1, bumped by spec changes only."""
    sim = gsim
    code, out, err = kubectl(sim, "apply", "-f", "-", stdin=json.dumps(k.doc()))
    assert code == 0 and out.startswith(k.kind.lower()) and out.strip().endswith("web created"), \
        (out, err)
    doc = get(sim, k)
    meta = doc["metadata"]
    assert meta["uid"] and re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", meta["creationTimestamp"])
    assert ("namespace" in meta) == k.namespaced
    assert meta.get("generation") == (None if k.kind == "Service" else 1)
    code, out, err = kubectl(sim, "get", k.resource)
    assert code == 0 and "web" in out and "NAME" in out, err
    code, out, err = kubectl(sim, "get", k.resource, "web", "-o", "yaml")
    assert code == 0 and f"kind: {k.kind}" in out and f"apiVersion: {k.api_version}" in out, err
    # the same again: unchanged, no new resourceVersion
    code, out, err = kubectl(sim, "apply", "-f", "-", stdin=json.dumps(k.doc()))
    assert code == 0, err
    assert get(sim, k)["metadata"]["resourceVersion"] == meta["resourceVersion"]
    # a spec change by apply: generation 2
    changed = copy.deepcopy(k.doc())
    changed["spec"] = {**changed["spec"], **k.change["spec"]}
    code, out, err = kubectl(sim, "apply", "-f", "-", stdin=json.dumps(changed))
    assert code == 0 and "configured" in out, err
    gen = 1 if k.kind == "Service" else 2
    assert get(sim, k)["metadata"].get("generation", 1) == gen
    # labels are metadata: no new generation
    code, out, err = kubectl(sim, "label", k.resource, "web", "tier=edge")
    assert code == 0, err
    assert get(sim, k)["metadata"].get("generation", 1) == gen
    # the controller's status write (kubectl has no verb for it: the API, as lb-discover will)
    if k.status:
        doc = get(sim, k)
        doc["status"] = k.status(gen)
        code, written = api(sim, "PUT", f"{k.path}/web/status", doc)
        assert code == 200 and written["status"] == k.status(gen), written
        assert written["metadata"].get("generation", 1) == gen
    else:
        code, _ = api(sim, "PUT", f"{k.path}/web/status", get(sim, k))
        assert code == 404                      # ReferenceGrant has no status subresource
    # patch --type=merge: the spec back; the status stays
    back = {**{f: None for f in k.change["spec"] if f not in k.obj["spec"]}, **k.obj["spec"]}
    code, out, err = kubectl(sim, "patch", k.resource, "web", "--type=merge", "-p",
                             json.dumps({"spec": back}))
    assert code == 0 and "patched" in out, err
    doc = get(sim, k)
    gen += k.kind != "Service"
    assert doc["metadata"].get("generation", 1) == gen
    if k.status:
        assert doc["status"] == k.status(gen - (k.kind != "Service"))
    # kubectl patch's default, a strategic merge patch
    code, out, err = kubectl(sim, "patch", k.resource, "web", "-p",
                             json.dumps({"metadata": {"labels": {"tier": "core"}}}))
    if k.crd:
        # (a kubectl since 1.2x adds "application/strategic-merge-patch+json is not
        # supported by GROUP/VERSION, Kind=KIND" to the server's message)
        assert code == 1 and "the body of the request was in an unknown format - accepted " \
            "media types include: application/json-patch+json, application/merge-patch+json" \
            in err, err
    else:
        assert code == 0 and get(sim, k)["metadata"]["labels"] == {"tier": "core"}, err
    code, out, err = kubectl(sim, "delete", k.resource, "web")
    assert code == 0 and "deleted" in out, err
    code, out, err = kubectl(sim, "get", k.resource, "web")
    assert code == 1 and "NotFound" in err and '"web" not found' in err, err


@pytest.mark.parametrize("k", KINDS, ids=IDS)
def test_kubectl_watch_sees_every_change(gsim, k):
    """kubectl get KIND -w --output-watch-events: ADDED, MODIFIED for a spec
    change and for a status write, DELETED, in order, each with its
    generation."""
    sim = gsim
    w = subprocess.Popen([tool("kubectl"), "--server", sim.url, "-n", "demo", "get", k.resource,
                          "-w", "--output-watch-events", "-o", "json"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = PipeLines(w.stdout), PipeLines(w.stderr)

    def events():
        return [(e["type"], e["object"]["metadata"].get("generation"),
                 "status" in e["object"] and bool(e["object"]["status"]) and
                 e["object"]["status"] == (k.status(2) if k.status else None))
                for e in read_json_stream(out.text())]
    try:
        wait_for("kubectl's watch", lambda: sim.watches_started or w.poll() is not None,
                 timeout=60)
        assert api(sim, "POST", k.path, k.doc())[0] == 201
        code, doc = api(sim, "PATCH", f"{k.path}/web", k.change, "application/merge-patch+json")
        assert code == 200, doc
        if k.status:
            doc["status"] = k.status(2)
            assert api(sim, "PUT", f"{k.path}/web/status", doc)[0] == 200
        assert api(sim, "DELETE", f"{k.path}/web")[0] == 200
        wait_for("kubectl printing the delete", lambda: any(
            e[0] == "DELETED" for e in events()) or w.poll() is not None, timeout=30)
    finally:
        w.terminate()
        w.wait(10)
    gen = (lambda n: None) if k.kind == "Service" else (lambda n: n)
    want = [("ADDED", gen(1), False), ("MODIFIED", gen(2), False)]
    if k.status:
        want.append(("MODIFIED", gen(2), True))
    want.append(("DELETED", gen(2), bool(k.status)))
    assert events() == want, err.text()


def test_kubectl_server_side_apply(gsim):
    """kubectl apply --server-side (a PATCH of application/apply-patch+yaml
    with a fieldManager) creates, then changes, a route (generation 1, then
    2); an apply patch without a fieldManager is 400, as the API server
    answers."""
    sim = gsim
    k = BY_KIND["HTTPRoute"]
    code, out, err = kubectl(sim, "apply", "--server-side", "-f", "-", stdin=json.dumps(k.doc()))
    assert code == 0 and "serverside-applied" in out, err
    assert get(sim, k)["metadata"]["generation"] == 1
    changed = dict(k.doc(), spec=dict(k.obj["spec"], **k.change["spec"]))
    code, out, err = kubectl(sim, "apply", "--server-side", "-f", "-", stdin=json.dumps(changed))
    assert code == 0, err
    doc = get(sim, k)
    assert doc["metadata"]["generation"] == 2 and doc["spec"]["hostnames"] == ["shop.example.com"]
    code, doc = api(sim, "PATCH", f"{k.path}/web", changed, "application/apply-patch+yaml")
    assert code == 400 and "fieldManager: Required value" in doc["message"], doc


def test_kubectl_get_httproute_w_prints_each_change(gsim):
    """kubectl get httproute -w, the human output: a line per route as it is
    created and changed."""
    sim = gsim
    k = BY_KIND["HTTPRoute"]
    w = subprocess.Popen([tool("kubectl"), "--server", sim.url, "-n", "demo", "get",
                          "httproute", "-w"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    out = PipeLines(w.stdout)
    try:
        wait_for("kubectl's watch", lambda: sim.watches_started or w.poll() is not None,
                 timeout=60)
        api(sim, "POST", k.path, k.doc("shop"))
        wait_for("the route's line", lambda: "shop" in out.text() or w.poll() is not None,
                 timeout=30)
        api(sim, "PATCH", f"{k.path}/shop", k.change, "application/merge-patch+json")
        wait_for("the change's line", lambda: out.text().count("shop") == 2 or
                 w.poll() is not None, timeout=30)
    finally:
        w.terminate()
        w.wait(10)
    lines = out.text().splitlines()
    assert lines[0].split()[:2] == ["NAME", "AGE"] and [l.split()[0] for l in lines[1:]] == \
        ["shop", "shop"], lines


def watch_raw(sim, path, rv, timeout=1):
    """The events of a watch from rv that ends after timeout seconds."""
    with urllib.request.urlopen(f"{sim.url}{path}?watch=true&resourceVersion={rv}"
                                f"&timeoutSeconds={timeout}", timeout=30) as r:
        return [json.loads(line) for line in r.read().splitlines() if line.strip()]


def test_watch_resumes_from_a_resource_version_and_410_when_expired(gsim):
    """A watch from a list's resourceVersion gets exactly what changed after
    it (client-go's reflector resumes so); one from a resourceVersion older
    than the kept history gets an ERROR event with the 410 Expired Status.
    Cluster-scoped GatewayClasses alike."""
    sim = gsim
    routes, classes = BY_KIND["HTTPRoute"], BY_KIND["GatewayClass"]
    api(sim, "POST", routes.path, routes.doc("a"))
    api(sim, "POST", classes.path, classes.doc("lb"))
    code, lst = api(sim, "GET", routes.path)
    assert code == 200 and lst["kind"] == "HTTPRouteList" and \
        lst["apiVersion"] == f"{GW}/v1" and [o["metadata"]["name"] for o in lst["items"]] == ["a"]
    rv = lst["metadata"]["resourceVersion"]
    api(sim, "POST", routes.path, routes.doc("b"))
    api(sim, "PATCH", f"{routes.path}/a", routes.change, "application/merge-patch+json")
    api(sim, "PATCH", f"{classes.path}/lb", classes.change, "application/merge-patch+json")
    events = watch_raw(sim, routes.path, rv)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == \
        [("ADDED", "b"), ("MODIFIED", "a")]
    assert int(events[-1]["object"]["metadata"]["resourceVersion"]) > int(rv)
    # across namespaces, and cluster-scoped
    assert [e["object"]["metadata"]["name"] for e in
            watch_raw(sim, f"/apis/{GW}/v1/httproutes", rv)] == ["b", "a"]
    assert [(e["type"], e["object"]["spec"].get("description")) for e in
            watch_raw(sim, classes.path, rv)] == [("MODIFIED", "lb")]
    sim.expire_history()
    events = watch_raw(sim, routes.path, rv)
    assert len(events) == 1 and events[0]["type"] == "ERROR" and \
        events[0]["object"]["code"] == 410 and events[0]["object"]["reason"] == "Expired"


def test_optimistic_concurrency(gsim):
    """PUT with a resourceVersion that is not the current one: 409 Conflict,
    on the object and on its /status (two status writers: the second must
    re-read); without one: unconditional; a create of an existing name: 409
    AlreadyExists; a merge patch carrying a stale resourceVersion: 409."""
    sim = gsim
    k = BY_KIND["HTTPRoute"]
    code, first = api(sim, "POST", k.path, k.doc())
    assert code == 201
    assert api(sim, "POST", k.path, k.doc())[1]["reason"] == "AlreadyExists"
    code, _ = api(sim, "PATCH", f"{k.path}/web", k.change, "application/merge-patch+json")
    assert code == 200
    stale = copy.deepcopy(first)
    stale["status"] = route_status(1)
    for path in (f"{k.path}/web", f"{k.path}/web/status"):
        code, doc = api(sim, "PUT", path, stale)
        assert (code, doc["reason"]) == (409, "Conflict"), doc
        assert f'httproutes.{GW} "web": the object has been modified' in doc["message"]
    fresh = get(sim, k)
    fresh["status"] = route_status(2)
    assert api(sim, "PUT", f"{k.path}/web/status", fresh)[0] == 200
    code, doc = api(sim, "PATCH", f"{k.path}/web",
                    {"metadata": {"resourceVersion": first["metadata"]["resourceVersion"]}},
                    "application/merge-patch+json")
    assert code == 409
    del stale["metadata"]["resourceVersion"]
    code, doc = api(sim, "PUT", f"{k.path}/web", stale)
    assert code == 200 and doc["metadata"]["generation"] == 3 and \
        doc["status"] == route_status(2)        # the object's PUT kept the status


def test_status_subresource_rules(gsim):
    """As the API server serves a CRD with a status subresource: a create's
    status is dropped (a Gateway's and a GatewayClass's start as the CRDs'
    "Waiting for controller"); a status write changes the status only (its
    spec and labels ignored, no new generation); an object write keeps the
    status; a status merge patch; /status of a name that does not exist: 404."""
    sim = gsim
    gw, route = BY_KIND["Gateway"], BY_KIND["HTTPRoute"]
    doc = gw.doc("lb")
    doc["status"] = gw.status(1)
    code, created = api(sim, "POST", gw.path, doc)
    assert code == 201
    assert [(c["type"], c["status"], c["reason"], c["message"])
            for c in created["status"]["conditions"]] == \
        [("Accepted", "Unknown", "Pending", "Waiting for controller"),
         ("Programmed", "Unknown", "Pending", "Waiting for controller")]
    code, created = api(sim, "POST", route.path, dict(route.doc(), status=route_status(1)))
    assert code == 201 and "status" not in created
    tampered = copy.deepcopy(created)
    tampered["spec"]["hostnames"] = ["evil.example.com"]
    tampered["metadata"]["labels"] = {"x": "y"}
    tampered["status"] = route_status(1)
    code, doc = api(sim, "PUT", f"{route.path}/web/status", tampered)
    assert code == 200 and doc["status"] == route_status(1)
    assert "hostnames" not in doc["spec"] and "labels" not in doc["metadata"] and \
        doc["metadata"]["generation"] == 1
    doc["status"] = {"parents": []}
    doc["spec"]["hostnames"] = ["shop.example.com"]
    code, doc = api(sim, "PUT", f"{route.path}/web", doc)
    assert code == 200 and doc["status"] == route_status(1) and doc["metadata"]["generation"] == 2
    code, doc = api(sim, "PATCH", f"{route.path}/web/status",
                    {"status": route_status(2)}, "application/merge-patch+json")
    assert code == 200 and doc["status"] == route_status(2) and doc["metadata"]["generation"] == 2
    assert api(sim, "GET", f"{route.path}/web/status")[1]["status"] == route_status(2)
    assert api(sim, "PUT", f"{route.path}/nope/status",
               dict(route.doc("nope"), status=route_status(1)))[0] == 404
    assert api(sim, "DELETE", f"{route.path}/web/status")[0] == 405


def test_the_crds_defaults(gsim):
    """What the Gateway API's CRDs default, filled in as the API server does:
    a route's parentRef group and kind, a rule's match (PathPrefix /), a
    header match's type, a backendRef's group, kind and weight; a listener's
    allowedRoutes (Same namespace); a Service's type and cluster IP."""
    sim = gsim
    route = BY_KIND["HTTPRoute"]
    doc = route.doc()
    doc["spec"]["rules"].append({"matches": [{"headers": [{"name": "x-canary", "value": "1"}]}],
                                 "backendRefs": [{"name": "web-v2", "port": 80}]})
    code, doc = api(sim, "POST", route.path, doc)
    assert code == 201
    assert doc["spec"]["parentRefs"] == [{"group": GW, "kind": "Gateway", "name": "lb"}]
    prefix = {"type": "PathPrefix", "value": "/"}
    assert doc["spec"]["rules"][0]["matches"] == [{"path": prefix}]
    assert doc["spec"]["rules"][1]["matches"] == [
        {"path": prefix, "headers": [{"name": "x-canary", "value": "1", "type": "Exact"}]}]
    assert doc["spec"]["rules"][1]["backendRefs"] == [
        {"group": "", "kind": "Service", "name": "web-v2", "port": 80, "weight": 1}]
    code, doc = api(sim, "POST", BY_KIND["Gateway"].path, BY_KIND["Gateway"].doc("lb"))
    assert doc["spec"]["listeners"][0]["allowedRoutes"] == {"namespaces": {"from": "Same"}}
    code, doc = api(sim, "POST", BY_KIND["Service"].path, BY_KIND["Service"].doc())
    assert doc["spec"]["type"] == "ClusterIP" and doc["spec"]["clusterIP"].startswith("10.96.")


INVALID = [
    ("GatewayClass", {"controllerName": "no-domain"}, "spec.controllerName"),
    ("Gateway", {"gatewayClassName": "lb", "listeners": []}, "spec.listeners"),
    ("Gateway", {"gatewayClassName": "lb", "listeners": [
        {"name": "https", "port": 443, "protocol": "HTTPS"}]}, "tls must be specified"),
    ("HTTPRoute", {"rules": [{}] * 17}, "spec.rules"),
    ("HTTPRoute", {"rules": [{"backendRefs": [{"name": "a", "port": 80, "weight": -1}]}]},
     "spec.rules[0].backendRefs[0].weight"),
    ("HTTPRoute", {"rules": [{"matches": [{"path": {"type": "Prefix", "value": "/"}}]}]},
     "spec.rules[0].matches[0].path.type: Unsupported value"),
    ("HTTPRoute", {"hostnames": ["Shop.Example.com"]}, "spec.hostnames[0]"),
    ("TCPRoute", {"parentRefs": [{"name": "lb"}]}, "spec.rules: Required value"),
    ("ReferenceGrant", {"to": [{"group": "", "kind": "Service"}]}, "spec.from"),
    ("Service", {"selector": {"app": "web"}}, "spec.ports: Required value"),
]


@pytest.mark.parametrize("kind,spec,field", INVALID, ids=[f"{i[0]}:{i[2]}" for i in INVALID])
def test_what_the_schemas_refuse_is_422(gsim, kind, spec, field):
    """kubectl apply of an object the CRD's schema (or a Service's
    validation) refuses: 422 Invalid naming the field; nothing stored."""
    k = BY_KIND[kind]
    doc = k.doc("bad")
    doc["spec"] = spec
    code, out, err = kubectl(gsim, "apply", "-f", "-", stdin=json.dumps(doc))
    assert code == 1 and "is invalid" in err and field in err, err
    assert api(gsim, "GET", f"{k.path}/bad")[0] == 404


def test_discovery_and_scope(gsim):
    """kubectl api-resources lists the Gateway API's kinds at their versions
    (v1, v1beta1, v1alpha2: the group prefers v1), GatewayClass cluster-scoped;
    short names and the gateway-api category work; a GatewayClass under a
    namespace is 404; -A lists every namespace's routes."""
    sim = gsim
    code, out, err = kubectl(sim, "api-resources", f"--api-group={GW}", ns=None)
    assert code == 0, err
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[1:]}
    assert rows == {"gatewayclasses": ["gc", f"{GW}/v1", "false", "GatewayClass"],
                    "gateways": ["gtw", f"{GW}/v1", "true", "Gateway"],
                    "httproutes": [f"{GW}/v1", "true", "HTTPRoute"],
                    "referencegrants": ["refgrant", f"{GW}/v1beta1", "true", "ReferenceGrant"],
                    "tcproutes": [f"{GW}/v1alpha2", "true", "TCPRoute"],
                    "tlsroutes": [f"{GW}/v1alpha2", "true", "TLSRoute"]}, out
    code, group = api(sim, "GET", f"/apis/{GW}")
    assert group["preferredVersion"]["version"] == "v1" and \
        [v["version"] for v in group["versions"]] == ["v1", "v1beta1", "v1alpha2"]
    code, res = api(sim, "GET", f"/apis/{GW}/v1")
    assert {"name": "httproutes/status", "singularName": "", "namespaced": True,
            "kind": "HTTPRoute", "verbs": ["get", "patch", "update"]} in res["resources"]
    api(sim, "POST", BY_KIND["GatewayClass"].path, BY_KIND["GatewayClass"].doc("lb"))
    for ns in ("demo", "shop"):
        path = BY_KIND["HTTPRoute"].path.replace("/demo/", f"/{ns}/")
        assert api(sim, "POST", path, BY_KIND["HTTPRoute"].doc(f"r-{ns}"))[0] == 201
    code, doc = api(sim, "GET", f"/apis/{GW}/v1/namespaces/demo/gatewayclasses/lb")
    assert code == 404
    assert "namespace" not in get(sim, BY_KIND["GatewayClass"], "lb")["metadata"]
    code, out, err = kubectl(sim, "get", "gc", ns=None)
    assert code == 0 and "lb" in out, err
    code, out, err = kubectl(sim, "get", "httproutes", "-A", "-o",
                             "jsonpath={range .items[*]}{.metadata.namespace}/"
                             "{.metadata.name} {end}", ns=None)
    assert code == 0 and out.split() == ["demo/r-demo", "shop/r-shop"], err
    code, out, err = kubectl(sim, "get", "gateway-api", "-A", ns=None)
    assert code == 0 and "gatewayclass.gateway.networking.k8s.io/lb" in out, err


def cluster_role_rules(name, manifest):
    """The rules of the ClusterRole `name` in a manifest file."""
    r = objects_js("yaml", manifest)
    assert r.returncode == 0, r.stderr
    return next(d["rules"] for d in json.loads(r.stdout)
                if d["kind"] == "ClusterRole" and d["metadata"]["name"] == name)


def test_lb_gateway_cluster_role_enforced():
    """k8s/lb-gateway.yaml's ClusterRole as the API server's RBAC applies it
    to the controller's token: it lists and watches every Gateway API kind,
    Services and EndpointSlices, writes /status, and may not change a route,
    delete a Gateway nor read a ConfigMap (403, in a real cluster's words)."""
    rules = cluster_role_rules("lb-gateway", os.path.join(MANIFESTS, "lb-gateway.yaml"))
    sim = Simulator(rbac={"ctl": rules, "admin": [{"apiGroups": ["*"], "resources": ["*"],
                                                   "verbs": ["*"]}]},
                    user="system:serviceaccount:demo:lb-gateway")
    try:
        def call(token, method, path, doc=None, ctype="application/json"):
            data = json.dumps(doc).encode() if doc is not None else None
            req = urllib.request.Request(sim.url + path, data=data, method=method, headers={
                "Content-Type": ctype, "Authorization": f"Bearer {token}"})
            try:
                with urllib.request.urlopen(req, timeout=10) as r:
                    return r.status, json.loads(r.read())
            except urllib.error.HTTPError as e:
                return e.code, json.loads(e.read())
        for k in KINDS:
            assert call("admin", "POST", k.path, k.doc())[0] == 201
        for k in KINDS:
            assert call("ctl", "GET", k.path)[0] == 200, k.kind
            assert call("ctl", "GET", f"{k.path}/web")[0] == 200, k.kind
            everywhere = k.path.replace("/namespaces/demo", "")
            req = urllib.request.Request(f"{sim.url}{everywhere}?watch=true&timeoutSeconds=1",
                                         headers={"Authorization": "Bearer ctl"})
            with urllib.request.urlopen(req, timeout=10) as r:       # a watch across namespaces
                assert r.status == 200 and b'"ADDED"' in r.read(), k.kind
            if k.status and k.kind != "Service":
                obj = call("ctl", "GET", f"{k.path}/web")[1]
                obj["status"] = k.status(1)
                assert call("ctl", "PUT", f"{k.path}/web/status", obj)[0] == 200, k.kind
        assert call("ctl", "GET", "/apis/discovery.k8s.io/v1/endpointslices")[0] == 200
        code, doc = call("ctl", "PATCH", f"{BY_KIND['HTTPRoute'].path}/web",
                         {"spec": {"hostnames": ["x.example.com"]}},
                         "application/merge-patch+json")
        assert code == 403 and doc["message"] == (
            f'httproutes.{GW} "web" is forbidden: User "system:serviceaccount:demo:lb-gateway" '
            f'cannot patch resource "httproutes" in API group "{GW}" in the namespace "demo"')
        code, doc = call("ctl", "PUT", f"{BY_KIND['Service'].path}/web/status",
                         call("ctl", "GET", f"{BY_KIND['Service'].path}/web")[1])
        assert code == 403 and 'cannot update resource "services/status"' in doc["message"]
        assert call("ctl", "DELETE", f"{BY_KIND['Gateway'].path}/web")[0] == 403
        assert call("ctl", "GET", "/api/v1/namespaces/demo/configmaps")[0] == 403
    finally:
        sim.stop()


def test_stored_objects_are_checked_by_the_gateway_api_models(gsim):
    """The check every test here ends with can fail: objects.mjs refuses an
    HTTPRoute whose weight is a string and a Gateway without listeners (what
    the simulator would refuse too, written straight into its store here),
    and accepts the status lb-discover will write."""
    sim = gsim
    k = BY_KIND["HTTPRoute"]
    code, route = api(sim, "POST", k.path, k.doc())
    route["status"] = route_status(1)
    assert api(sim, "PUT", f"{k.path}/web/status", route)[0] == 200
    bad_route = copy.deepcopy(route)
    bad_route["metadata"]["name"] = "bad"
    bad_route["spec"]["rules"][0]["backendRefs"][0]["weight"] = "ninety"
    bad_gw = BY_KIND["Gateway"].doc("bad-gw")
    del bad_gw["spec"]["listeners"]
    verdicts = validate_objects([get(sim, k), bad_route, bad_gw])
    assert verdicts[("HTTPRoute", "web")] is None
    assert "weight must be integer" in verdicts[("HTTPRoute", "bad")]
    assert "must have required property 'listeners'" in verdicts[("Gateway", "bad-gw")]


def test_the_gateway_manifests_apply(gsim):
    """kubectl apply of k8s/gateway.yaml, k8s/lb-gateway.yaml and the canary
    example against the simulator, as in a cluster: every object created
    (then unchanged, but the route whose defaults kubectl's three-way merge
    sees), a server dry run stores nothing; and validate.mjs finds them
    consistent (schemas, RBAC against lb-discover's --gateway, the Gateway
    API's references: class, parentRefs, backendRefs and ports, listener ports
    that lb-proxy listens on)."""
    sim = gsim
    files = ["-f", "k8s/gateway.yaml", "-f", "k8s/lb-gateway.yaml", "-f", "k8s/examples/canary/"]
    # what kubectl apply --dry-run=server sends (Debian's kubectl 1.20 asks OpenAPI v2
    # first whether a kind takes it; the simulator's v2 document is empty)
    k = BY_KIND["HTTPRoute"]
    code, doc = api(sim, "POST", k.path + "?dryRun=All", k.doc())
    assert code == 201 and doc["metadata"]["generation"] == 1, doc
    assert not sim.by_resource["httproutes"].objects
    code, out, err = kubectl(sim, "apply", *files, ns=None)
    assert code == 0, err
    assert sorted(line.split()[0] for line in out.splitlines()) == sorted([
        "gatewayclass.gateway.networking.k8s.io/lb", "gateway.gateway.networking.k8s.io/lb",
        "serviceaccount/lb-gateway", "clusterrole.rbac.authorization.k8s.io/lb-gateway",
        "clusterrolebinding.rbac.authorization.k8s.io/lb-gateway",
        "role.rbac.authorization.k8s.io/lb-gateway-secrets",
        "rolebinding.rbac.authorization.k8s.io/lb-gateway-secrets",
        "deployment.apps/lb-gateway", "service/lb-gateway", "deployment.apps/echo-v1",
        "service/echo-v1", "deployment.apps/echo-v2", "service/echo-v2",
        "httproute.gateway.networking.k8s.io/canary"]) and \
        all(line.endswith("created") for line in out.splitlines()), out
    code, out, err = kubectl(sim, "apply", *files, ns=None)
    assert code == 0 and [line for line in out.splitlines() if not line.endswith("unchanged")] \
        == ["httproute.gateway.networking.k8s.io/canary configured"], out
    node_modules()
    r = subprocess.run([tool("node"), os.path.join(K8S_TESTS, "validate.mjs"), MANIFESTS,
                        os.path.join(MANIFESTS, "examples", "canary")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "documents valid" in r.stdout, r.stderr


GATEWAY_BREAKAGES = [
    ("lb-gateway.yaml", '"--gateway-controller", "lb.dev/gateway-controller"',
     '"--gateway-controller", "example.com/other"',
     "--gateway-controller example.com/other is not the controllerName of GatewayClass lb"),
    ("lb-gateway.yaml", '"--listen", "0.0.0.0:8080"', '"--listen", "0.0.0.0:9090"',
     "Gateway demo/lb listener http port 8080 is not a port lb-proxy listens on"),
    ("lb-gateway.yaml", '"gatewayclasses/status", ', "",
     "ServiceAccount lb-gateway cannot update gateway.networking.k8s.io gatewayclasses/status "
     "at the cluster scope (Role lb-gateway-secrets in lb-gateway.yaml, ClusterRole "
     "lb-gateway in lb-gateway.yaml)"),
    ("lb-gateway.yaml", '    resources: ["secrets"]\n', '    resources: ["configmaps"]\n',
     "ServiceAccount lb-gateway cannot get/list/watch core secrets"),
    ("lb-gateway.yaml", '    verbs: ["update", "patch"]',
     '    verbs: ["update", "patch", "delete"]',
     "RBAC grants more than lb-discover needs"),
    ("lb-gateway.yaml", "kind: ClusterRoleBinding\nmetadata:\n  name: lb-gateway\n",
     "kind: RoleBinding\nmetadata:\n  name: lb-gateway\n  namespace: demo\n",
     "cannot get/list/watch gateway.networking.k8s.io gatewayclasses at the cluster scope"),
    ("gateway.yaml", "  gatewayClassName: lb", "  gatewayClassName: nginx",
     "GatewayClass nginx is not defined"),
    ("examples/canary/route.yaml", "        - name: echo-v2\n          port: 8080",
     "        - name: echo-v3\n          port: 8080",
     "backendRef Service demo/echo-v3 is not defined"),
    ("examples/canary/route.yaml", "        - name: echo-v2\n          port: 8080",
     "        - name: echo-v2\n          port: 80", "backendRef demo/echo-v2 port 80 is no port"),
    ("examples/canary/route.yaml", "    - name: lb", "    - name: lb2",
     "parentRef Gateway demo/lb2 is not defined"),
    ("examples/canary/route.yaml", "          weight: 10", "          weight: ten",
     "weight must be integer"),
]


@pytest.mark.parametrize("file,old,new,message", GATEWAY_BREAKAGES,
                         ids=[b[3][:60] for b in GATEWAY_BREAKAGES])
def test_the_manifest_validator_catches_gateway_mistakes(tmp_path, file, old, new, message):
    """validate.mjs on a copy of k8s/ and the canary with one mistake: named."""
    node_modules()
    (tmp_path / "examples" / "canary").mkdir(parents=True)
    for sub in ("", "examples/canary"):
        for f in os.listdir(os.path.join(MANIFESTS, sub)):
            if f.endswith(".yaml"):
                (tmp_path / sub / f).write_text(open(os.path.join(MANIFESTS, sub, f)).read())
    text = (tmp_path / file).read_text()
    assert old in text, (file, old)
    (tmp_path / file).write_text(text.replace(old, new, 1))
    r = subprocess.run([tool("node"), os.path.join(K8S_TESTS, "validate.mjs"), str(tmp_path),
                        str(tmp_path / "examples" / "canary")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and message in r.stderr, r.stderr


def doc_text(path):
    with open(path) as f:
        return f.read()


def sh_blocks(path):
    """The ```sh blocks of a Markdown file."""
    return re.findall(r"```sh\n(.*?)```", open(path).read(), re.S)


def run_with_kubectl_on(sim, script, tmp_path):
    """Runs a shell script from the repository's root with `kubectl` reaching
    the simulator (a wrapper first on PATH adding --server)."""
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    (bindir / "kubectl").write_text(f'#!/bin/sh\nexec {tool("kubectl")} --server {sim.url} "$@"\n')
    (bindir / "kubectl").chmod(0o755)
    return subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=ROOT, timeout=120,
                          capture_output=True, text=True,
                          env=dict(os.environ, PATH=f"{bindir}:{os.environ['PATH']}"))


def test_the_canary_walk_through_as_written(gsim, tmp_path):
    """docs/kubernetes.md's canary walk-through and the example's README, run
    as written against the simulator: the route goes 90/10, 50/50, 100/0,
    each a new generation that a watcher sees; what the docs say the last
    command prints, it prints."""
    sim = gsim
    doc = os.path.join(ROOT, "docs", "kubernetes.md")
    blocks = [b for b in sh_blocks(doc) if "patch httproute canary" in b]
    assert len(blocks) == 1, "docs/kubernetes.md has one sh block patching the canary"
    deploy = [b for b in sh_blocks(doc) if "apply -f k8s/gateway.yaml -f k8s/lb-gateway.yaml "
              "-f k8s/examples/canary/" in b]
    assert len(deploy) == 1, "docs/kubernetes.md has one sh block deploying the canary"
    readme = sh_blocks(os.path.join(MANIFESTS, "examples", "canary", "README.md"))[0]
    patches = re.findall(r"kubectl -n demo patch httproute canary --type=\w+ -p '.*?'\n",
                         readme, re.S)
    assert len(patches) == 2, readme
    for patch in patches:
        assert patch in blocks[0], f"the README's command is not the manual's: {patch}"
    # the simulator as the section starts it: --service echo-v1=... --service echo-v2=...
    start = re.search(r"python3 -m tests.support.k8ssim --port .*?\n(?=\S)", doc_text(doc),
                      re.S).group(0)
    services = re.findall(r"--service (\S+)=(\S+)", start)
    assert [name for name, _ in services] == ["echo-v1", "echo-v2"], start
    for name, ips in services:
        sim.set_service("demo", name, ready=ips.split(","))
    r = run_with_kubectl_on(sim, deploy[0], tmp_path)
    assert r.returncode == 0 and r.stdout.strip().endswith("90 10"), r.stdout + r.stderr
    path = f"/apis/{GW}/v1/namespaces/demo/httproutes"
    rv = api(sim, "GET", path)[1]["metadata"]["resourceVersion"]
    r = run_with_kubectl_on(sim, blocks[0], tmp_path)
    assert r.returncode == 0, r.stderr
    weights = [([b["weight"] for b in e["object"]["spec"]["rules"][0]["backendRefs"]],
                e["object"]["metadata"]["generation"]) for e in watch_raw(sim, path, rv)]
    assert weights == [([50, 50], 2), ([100, 0], 3)], weights
    assert r.stdout.strip().splitlines() == [
        "httproute.gateway.networking.k8s.io/canary patched", "2 50 50",
        "httproute.gateway.networking.k8s.io/canary patched", "100 0"], r.stdout


def test_the_simulator_as_a_program(tmp_path):
    """python3 -m tests.support.k8ssim, as docs/kubernetes.md runs it:
    --service at start, then commands on its standard input scale a service
    and terminate a pod (EndpointSlice conditions kubectl sees), `get`
    prints what is stored, a bad command is told; kubectl applies the
    Gateway against it."""
    p = subprocess.Popen([sys.executable, "-m", "tests.support.k8ssim", "--namespace", "demo",
                          "--service", "echo-v1=10.0.0.1,10.0.0.2"], cwd=ROOT,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    out, err = PipeLines(p.stdout), PipeLines(p.stderr)
    try:
        url = wait_for("listening on", lambda: re.search(r"listening on (\S+)", out.text()),
                       timeout=30).group(1)

        def command(line):
            n = len(out.lines)
            p.stdin.write(line + "\n")
            p.stdin.flush()
            wait_for(f"the answer to {line}", lambda: len(out.lines) > n, timeout=30)
            return out.lines[n].strip()

        def slices():
            r = subprocess.run([tool("kubectl"), "--server", url, "-n", "demo", "get",
                                "endpointslices", "-l", "kubernetes.io/service-name=echo-v1",
                                "-o", "json"], capture_output=True, text=True, timeout=60)
            return sorted((e["addresses"][0], e["conditions"]["terminating"])
                          for s in json.loads(r.stdout)["items"] for e in s["endpoints"])
        assert slices() == [("10.0.0.1", False), ("10.0.0.2", False)]
        assert command("service echo-v1 ready=10.0.0.1,10.0.0.2,10.0.0.3 "
                       "terminating=10.0.0.4") == "ok"
        assert slices() == [("10.0.0.1", False), ("10.0.0.2", False), ("10.0.0.3", False),
                            ("10.0.0.4", True)]
        assert command("service demo/echo-v1 ready=10.0.0.1") == "ok"
        assert slices() == [("10.0.0.1", False)]
        r = subprocess.run([tool("kubectl"), "--server", url, "apply", "-f", "k8s/gateway.yaml"],
                           cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        routes = json.loads(command("get gateways demo"))
        assert [g["metadata"]["name"] for g in routes] == ["lb"]
        assert [s["metadata"]["name"] for s in json.loads(command("get services"))] == ["echo-v1"]
        assert command("scale echo-v1") == "error: unknown command scale: try help"
        assert command("service echo-v1 port=http").startswith("error: port=http")
        assert not err.text(), err.text()
    finally:
        p.terminate()
        p.wait(10)
