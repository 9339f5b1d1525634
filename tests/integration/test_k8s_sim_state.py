"""The API simulator's ConfigMaps and Leases (where lb's replicas will share
their state) checked by real clients: kubectl (create, apply, patch, replace
with a stale resourceVersion, watch, delete) and the official JavaScript
client (optimistic concurrency: a stale replace is 409; an informer sees every
change). The simulator serves no OpenAPI document, so kubectl's client-side
schema validation is off (--validate=false); the server still validates
names and fields (422)."""
import json
import os
import subprocess
import threading
import urllib.error
import urllib.request

import pytest

from conftest import PipeLines, wait_for
from k8ssim import Simulator
from test_k8s_fidelity import K8S_TESTS, node_modules, read_json_stream, tool


@pytest.fixture
def sim():
    s = Simulator()
    yield s
    s.stop()


def kubectl(sim, *args, stdin=None):
    r = subprocess.run([tool("kubectl"), "--server", sim.url, "-n", "demo", *args],
                       capture_output=True, text=True, timeout=60, input=stdin)
    return r.returncode, r.stdout, r.stderr


def api(sim, method, path, doc=None, ctype="application/json"):
    """(status, body) of one request to the simulator."""
    data = json.dumps(doc).encode() if doc is not None else None
    req = urllib.request.Request(sim.url + path, data=data, method=method,
                                 headers={"Content-Type": ctype})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


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
