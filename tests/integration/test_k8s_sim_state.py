"""The API simulator's ConfigMaps and Leases (where lb's replicas will share
their state) checked by real clients: kubectl (create, apply, patch, replace
with a stale resourceVersion, watch, delete) and the official JavaScript
client (optimistic concurrency: a stale replace is 409; an informer sees every
change). The simulator serves no OpenAPI document, so kubectl's client-side
schema validation is off (--validate=false); the server still validates
names and fields (422). Then RBAC: the simulator enforcing lb.yaml's Role on
the service account's token, kubectl shown what it may do and told, in a real
cluster's words, what it may not."""
import json
import os
import ssl
import subprocess
import threading
import urllib.error
import urllib.request

import pytest

from conftest import PipeLines, wait_for
from support.k8ssim import Simulator, role_rules, rule_allows, selector_name, api
from test_k8s_fidelity import K8S_TESTS, node_modules, read_json_stream, tool

# the simulator and the real clients alone: the ASan run (other binaries) skips it
pytestmark = pytest.mark.no_lb_binaries


def kubectl(sim, *args, stdin=None):
    r = subprocess.run([tool("kubectl"), "--server", sim.url, "-n", "demo", *args],
                       capture_output=True, text=True, timeout=60, input=stdin)
    return r.returncode, r.stdout, r.stderr


CM = "/api/v1/namespaces/demo/configmaps"
LEASES = "/apis/coordination.k8s.io/v1/namespaces/demo/leases"

CONFIGMAP_YAML = """apiVersion: v1
kind: ConfigMap
metadata:
  name: lb-state-web
data:
  state: '{"overrides":{%s}}'
"""


def test_kubectl_configmap_lifecycle(sim):
    code, out, err = kubectl(sim, "create", "configmap", "lb-state-backend",
                             "--from-literal=state={}")
    assert code == 0, err
    code, out, err = kubectl(sim, "get", "configmap", "lb-state-backend", "-o", "json")
    doc = json.loads(out)
    assert doc["data"] == {"state": "{}"} and doc["metadata"]["resourceVersion"]
    # apply: created, then configured (a strategic merge patch of the change)
    for overrides, said in (("", "created"), ('"x":1', "configured")):
        code, out, err = kubectl(sim, "apply", "--validate=false", "-f", "-",
                                 stdin=CONFIGMAP_YAML % overrides)
        assert code == 0 and said in out, err
    code, out, _ = kubectl(sim, "get", "cm", "lb-state-web", "-o", "jsonpath={.data.state}")
    assert out == '{"overrides":{"x":1}}'
    # a replace from a stale copy is refused (the optimistic concurrency lb relies on)
    _, stale, _ = kubectl(sim, "get", "cm", "lb-state-web", "-o", "json")
    code, out, err = kubectl(sim, "patch", "cm", "lb-state-web", "--type", "merge", "-p",
                             '{"data":{"state":"{}"}}')
    assert code == 0, err
    code, out, err = kubectl(sim, "replace", "--validate=false", "-f", "-", stdin=stale)
    assert code == 1 and "Conflict" in err and "the object has been modified" in err, err
    code, out, err = kubectl(sim, "replace", "--validate=false", "-f", "-",
                             stdin=json.dumps(dict(json.loads(stale), metadata=dict(
                                 json.loads(stale)["metadata"], resourceVersion=None))))
    assert code == 0, err                          # no resourceVersion: unconditional
    code, out, err = kubectl(sim, "delete", "cm", "lb-state-web")
    assert code == 0, err
    code, out, err = kubectl(sim, "get", "cm", "lb-state-web")
    assert code == 1 and 'configmaps "lb-state-web" not found' in err
    code, out, err = kubectl(sim, "create", "configmap", "Bad_Name", "--from-literal=a=b")
    assert code == 1 and "Invalid" in err and "RFC 1123" in err, err


def test_kubectl_watch_sees_configmap_changes(sim):
    w = subprocess.Popen([tool("kubectl"), "--server", sim.url, "-n", "demo", "get", "cm",
                          "-w", "--output-watch-events", "-o", "json"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = PipeLines(w.stdout), PipeLines(w.stderr)
    try:
        wait_for("kubectl's watch", lambda: sim.watches_started or w.poll() is not None,
                 timeout=60)
        code, doc = api(sim, "POST", CM, {"metadata": {"name": "s"}, "data": {"n": "1"}})
        assert code == 201, doc
        code, doc = api(sim, "PUT", CM + "/s", dict(doc, data={"n": "2"}))
        assert code == 200, doc
        assert api(sim, "DELETE", CM + "/s")[0] == 200

        def events():
            return [(e["type"], e["object"]["metadata"]["name"], e["object"].get("data"))
                    for e in read_json_stream(out.text())]
        wait_for("kubectl printing the delete", lambda: ("DELETED", "s", {"n": "2"}) in events()
                 or w.poll() is not None, timeout=30)
    finally:
        w.terminate()
        w.wait(10)
    assert events() == [("ADDED", "s", {"n": "1"}), ("MODIFIED", "s", {"n": "2"}),
                        ("DELETED", "s", {"n": "2"})], err.text()


LEASE = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
         "metadata": {"name": "lb-backend-pod-a"},
         "spec": {"holderIdentity": "pod-a", "leaseDurationSeconds": 10,
                  "renewTime": "2026-12-01T10:00:00.000000Z"}}


def test_kubectl_leases(sim):
    code, out, err = kubectl(sim, "create", "--validate=false", "-f", "-",
                             stdin=json.dumps(LEASE))
    assert code == 0 and "lease" in out, err
    code, out, err = kubectl(sim, "get", "leases", "-o", "json")
    assert [lease["spec"]["holderIdentity"] for lease in json.loads(out)["items"]] == ["pod-a"]
    bad = dict(LEASE, metadata={"name": "lb-backend-pod-b"},
               spec=dict(LEASE["spec"], leaseDurationSeconds=0))
    code, out, err = kubectl(sim, "create", "--validate=false", "-f", "-", stdin=json.dumps(bad))
    assert code == 1 and "leaseDurationSeconds" in err, err


def test_preconditions_and_patches(sim):
    code, doc = api(sim, "POST", LEASES, LEASE)
    assert code == 201
    rv = doc["metadata"]["resourceVersion"]
    assert api(sim, "POST", LEASES, LEASE)[1]["reason"] == "AlreadyExists"
    # a create or an update of something that is not an object: 400, as the API's decoder
    for method, path in (("POST", LEASES), ("PUT", LEASES + "/lb-backend-pod-a")):
        code, err = api(sim, method, path, ["not", "an", "object"])
        assert (code, err["reason"]) == (400, "BadRequest"), (method, err)
    code, renewed = api(sim, "PATCH", LEASES + "/lb-backend-pod-a",
                        {"metadata": {"resourceVersion": rv},
                         "spec": {"renewTime": "2026-12-01T10:00:05.000000Z"}},
                        "application/merge-patch+json")
    assert code == 200 and renewed["spec"]["holderIdentity"] == "pod-a"
    code, doc = api(sim, "PATCH", LEASES + "/lb-backend-pod-a",
                    {"metadata": {"resourceVersion": rv}}, "application/merge-patch+json")
    assert code == 409 and doc["reason"] == "Conflict"
    code, doc = api(sim, "PATCH", LEASES + "/lb-backend-pod-a",
                    [{"op": "test", "path": "/spec/holderIdentity", "value": "pod-a"},
                     {"op": "replace", "path": "/spec/holderIdentity", "value": "pod-b"}],
                    "application/json-patch+json")
    assert code == 200 and doc["spec"]["holderIdentity"] == "pod-b"
    code, doc = api(sim, "DELETE", LEASES + "/lb-backend-pod-a",
                    {"preconditions": {"resourceVersion": rv}})
    assert code == 409
    assert api(sim, "PUT", LEASES + "/nope", dict(LEASE, metadata={"name": "nope"}))[0] == 404
    assert api(sim, "PUT", CM + "/x", {"metadata": {"name": "y"}})[0] == 400
    assert api(sim, "POST", "/apis/discovery.k8s.io/v1/namespaces/demo/endpointslices",
               {"metadata": {"name": "x"}})[0] == 405       # read-only resources stay so


def test_racing_read_modify_writes_lose_nothing(sim):
    """Two writers incrementing one counter with read, modify, PUT with the
    read resourceVersion, and a retry on 409: every increment lands."""
    api(sim, "POST", CM, {"metadata": {"name": "counter"}, "data": {"n": "0"}})
    conflicts = []

    def writer():
        for _ in range(50):
            while True:
                _, doc = api(sim, "GET", CM + "/counter")
                doc["data"]["n"] = str(int(doc["data"]["n"]) + 1)
                code, _ = api(sim, "PUT", CM + "/counter", doc)
                if code == 200:
                    break
                assert code == 409
                conflicts.append(1)

    ts = [threading.Thread(target=writer) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert api(sim, "GET", CM + "/counter")[1]["data"]["n"] == "100"


def test_javascript_client_state(sim):
    node_modules()
    r = subprocess.run([tool("node"), os.path.join(K8S_TESTS, "state.mjs"), sim.url, "demo"],
                       capture_output=True, text=True, timeout=60)
    steps = {}
    for line in r.stdout.splitlines():
        doc = json.loads(line)
        steps.setdefault(doc["step"], doc)
    assert r.returncode == 0, r.stderr + r.stdout
    assert steps["create-again"]["code"] == 409
    assert steps["replace-stale"]["code"] == 409
    assert steps["replaced"]["data"] == {"state": '{"generation":2}'}
    assert steps["patched"]["data"] == {"state": '{"generation":2}', "extra": "1"}
    assert steps["lease-stale"]["code"] == 409
    assert steps["leases"]["names"] == ["lb-backend-pod-a"]
    assert [e["ev"] for e in steps["informer"]["events"]] == ["add", "update", "update", "delete"]


# --- RBAC: lb's Role (k8s/lb.yaml) enforced by the simulator --------------------------
STATE = "lb-state-backend-service"
SA = 'User "system:serviceaccount:demo:lb"'


@pytest.fixture(scope="module")
def server_cert(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1: kubectl sends a bearer token
    only over TLS (over plain HTTP it sends none)."""
    d = tmp_path_factory.mktemp("sim-tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", "/CN=lb-sim",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(d / "key.pem"),
                    "-out", str(d / "cert.pem")], check=True, capture_output=True)
    return str(d / "cert.pem"), str(d / "key.pem")


def kubectl_as(sim, token, *args, stdin=None):
    """kubectl with a bearer token against the simulator under TLS."""
    r = subprocess.run([tool("kubectl"), "--server", sim.url, "--certificate-authority",
                        sim.tls[0], "--token", token, "-n", "demo", *args],
                       capture_output=True, text=True, timeout=60, input=stdin)
    return r.returncode, r.stdout, r.stderr


def api_as(sim, token, method, path):
    """(status, body) of one request with a bearer token under TLS."""
    ctx = ssl.create_default_context(cafile=sim.tls[0])
    req = urllib.request.Request(sim.url + path, method=method,
                                 headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=10, context=ctx) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_rule_matching_is_rbacs():
    """The authorizer's matching (pkg/apis/rbac/v1 helpers) and the name a list
    or watch is authorized with (RequestInfo's fieldSelector metadata.name)."""
    named = {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["s"],
             "verbs": ["get", "list"]}
    assert rule_allows(named, "", "configmaps", "get", "s")
    assert not rule_allows(named, "", "configmaps", "get", "t")
    assert not rule_allows(named, "", "configmaps", "list", "")       # every ConfigMap
    assert not rule_allows(named, "", "configmaps", "update", "s")
    assert not rule_allows(named, "apps", "configmaps", "get", "s")
    assert not rule_allows(named, "", "secrets", "get", "s")
    wild = {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}
    assert rule_allows(wild, "coordination.k8s.io", "leases", "delete", "")
    assert not rule_allows({"apiGroups": [""], "resources": ["configmaps"]}, "", "configmaps",
                           "get", "s")                                  # no verbs: nothing
    assert selector_name("metadata.name=s") == "s"
    assert selector_name("metadata.namespace=demo,metadata.name==s") == "s"
    assert selector_name("metadata.name!=s") == ""
    assert selector_name("metadata.name=a/b") == ""                    # not a path segment
    assert selector_name(None) == ""


def test_role_rules_reads_the_manifest(tmp_path):
    node_modules()
    rules = role_rules("lb-discover")
    assert {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": [STATE],
            "verbs": ["get", "list", "watch", "update", "patch"]} in rules
    assert {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create"]} in rules
    with pytest.raises(RuntimeError, match="no Role nope"):
        role_rules("nope")


def test_lb_role_allows_the_shared_state(server_cert):
    """What lb-discover will do, as the service account under lb.yaml's Role:
    create, get and replace its state ConfigMap, watch it by field selector,
    and create, renew and list the replicas' Leases."""
    node_modules()
    sim = Simulator(tokens={"admin"}, rbac={"lb-token": role_rules("lb-discover")},
                    tls=(*server_cert, None))
    try:
        def k(*args, stdin=None):
            return kubectl_as(sim, "lb-token", *args, stdin=stdin)

        # a create carries no name for RBAC: the rule without resourceNames allows it
        code, out, err = k("create", "configmap", STATE, "--from-literal=state.json={}")
        assert code == 0 and "created" in out, err
        code, out, err = k("get", "configmap", STATE, "-o", "json")
        assert code == 0, err
        doc = json.loads(out)
        doc["data"]["state.json"] = '{"overrides":{"10.0.0.1:8080":"drain"}}'
        code, out, err = k("replace", "--validate=false", "-f", "-", stdin=json.dumps(doc))
        assert code == 0 and "replaced" in out, err
        # allowed by RBAC, still refused by optimistic concurrency: a stale copy is 409
        code, out, err = k("replace", "--validate=false", "-f", "-", stdin=json.dumps(doc))
        assert code == 1 and "Conflict" in err, err
        # the watch lb-discover makes: list, then watch, with fieldSelector=metadata.name
        w = subprocess.Popen([tool("kubectl"), "--server", sim.url, "--certificate-authority",
                              sim.tls[0], "--token", "lb-token", "-n", "demo", "get", "cm",
                              "--field-selector", f"metadata.name={STATE}", "-w",
                              "--output-watch-events", "-o", "json"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out_w, err_w = PipeLines(w.stdout), PipeLines(w.stderr)
        try:
            wait_for("kubectl's watch", lambda: sim.watches_started or w.poll() is not None,
                     timeout=60)
            code, out, err = k("patch", "cm", STATE, "--type", "merge", "-p",
                               '{"data":{"state.json":"{}"}}')
            assert code == 0, err

            def events():
                return [(e["type"], e["object"]["metadata"]["name"],
                         e["object"]["data"]["state.json"]) for e in read_json_stream(out_w.text())]
            wait_for("kubectl printing the change",
                     lambda: ("MODIFIED", STATE, "{}") in events() or w.poll() is not None,
                     timeout=30)
        finally:
            w.terminate()
            w.wait(10)
        assert events()[0][:2] == ("ADDED", STATE) and events()[-1] == ("MODIFIED", STATE, "{}"), \
            err_w.text()
        assert any("watch=true" in p and "fieldSelector=metadata.name%3D" + STATE in p
                   for _, p in sim.requests)
        # the Leases: one per replica, owned by its pod, listed by label
        for pod in ("lb-6d4f-a", "lb-6d4f-b"):
            lease = dict(LEASE, metadata={
                "name": f"lb-backend-service-{pod}",
                "labels": {"app.kubernetes.io/name": "lb",
                           "lb-discover/service": "backend-service"},
                "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": pod,
                                     "uid": f"uid-{pod}"}]},
                spec=dict(LEASE["spec"], holderIdentity=pod))
            code, out, err = k("create", "--validate=false", "-f", "-", stdin=json.dumps(lease))
            assert code == 0, err
        code, out, err = k("get", "lease", "lb-backend-service-lb-6d4f-a", "-o", "json")
        assert code == 0, err
        renewed = json.loads(out)
        renewed["spec"]["renewTime"] = "2026-12-01T10:00:05.000000Z"
        code, out, err = k("replace", "--validate=false", "-f", "-", stdin=json.dumps(renewed))
        assert code == 0, err
        code, out, err = k("get", "leases", "-l", "lb-discover/service=backend-service", "-o",
                           "jsonpath={.items[*].metadata.name}")
        assert code == 0 and out.split() == ["lb-backend-service-lb-6d4f-a",
                                             "lb-backend-service-lb-6d4f-b"], err
        # an unknown token is 401, not 403
        code, out, err = kubectl_as(sim, "nobody", "get", "cm", STATE)
        assert code == 1 and err == "error: You must be logged in to the server (Unauthorized)\n"
    finally:
        sim.stop()


def forbidden(what, verb, resource="configmaps", group=""):
    """kubectl's error line for a real API server's RBAC denial."""
    return (f'Error from server (Forbidden): {what} is forbidden: {SA} cannot {verb} resource '
            f'"{resource}" in API group "{group}" in the namespace "demo"\n')


def test_lb_role_forbids_the_rest(server_cert):
    """Everything else is 403, with the message kubectl prints for a real
    cluster: another ConfigMap, every ConfigMap (a list without the field
    selector, or one naming another), deleting the state or a Lease."""
    node_modules()
    sim = Simulator(tokens={"lb-token"}, rbac=role_rules("lb-discover"), tls=(*server_cert, None))
    try:
        for name in (STATE, "other"):
            sim.configmaps.put({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "b"},
                                "metadata": {"name": name, "namespace": "demo"}})
        for args, message in (
                (("get", "configmap", "other"), forbidden('configmaps "other"', "get")),
                (("get", "configmaps"), forbidden("configmaps", "list")),
                (("get", "configmaps", "-w"), forbidden("configmaps", "list")),
                (("get", "configmaps", "--field-selector", "metadata.name=other"),
                 forbidden('configmaps "other"', "list")),
                (("delete", "configmap", STATE), forbidden(f'configmaps "{STATE}"', "delete")),
                (("delete", "lease", "lb-backend-service-x"),
                 forbidden('leases.coordination.k8s.io "lb-backend-service-x"', "delete",
                           "leases", "coordination.k8s.io"))):
            code, out, err = kubectl_as(sim, "lb-token", *args)
            assert code == 1 and err == message, (args, err)
        assert sim.watches_started == 0
        assert ("demo", STATE) in sim.configmaps.objects             # not deleted
        # the Status of the real API server (apierrors.NewForbidden)
        assert api_as(sim, "lb-token", "GET", CM + "/other") == (403, {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": 'configmaps "other" is forbidden: User "system:serviceaccount:demo:lb" '
                       'cannot get resource "configmaps" in API group "" in the namespace "demo"',
            "reason": "Forbidden", "details": {"name": "other", "kind": "configmaps"},
            "code": 403})
        # the field selector's name is what a resourceNames rule matches a watch by
        code, doc = api_as(sim, "lb-token", "GET", CM + "?watch=true&timeoutSeconds=1&"
                           "fieldSelector=metadata.name%3Dother")
        assert code == 403 and "cannot watch" in doc["message"], doc
        code, doc = api_as(sim, "lb-token", "GET", CM + "?fieldSelector=metadata.name%3D" + STATE)
        assert code == 200 and [o["metadata"]["name"] for o in doc["items"]] == [STATE]
    finally:
        sim.stop()
