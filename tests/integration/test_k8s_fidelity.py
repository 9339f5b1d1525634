"""The API simulator is checked by real Kubernetes clients: kubectl and the
official JavaScript client's informer must see the scale-up, terminating and
delete events it emits. Then lb's manifests: valid against the Kubernetes
schemas, cross-checked, and their ConfigMaps accepted by the programs."""
import json
import os
import re
import select
import shutil
import subprocess
import time

import pytest

from conftest import SLOW, binary, ctl_json, wait_for
from k8ssim import Simulator

HERE = os.path.dirname(__file__)
K8S_TESTS = os.path.join(HERE, "..", "k8s")
MANIFESTS = os.path.join(HERE, "..", "..", "k8s")


def tool(name):
    path = shutil.which(name)
    if not path:
        pytest.fail(f"{name} is missing: run make deps")
    return path


def node_modules():
    if not os.path.isdir(os.path.join(K8S_TESTS, "node_modules", "@kubernetes")):
        pytest.fail("tests/k8s/node_modules is missing: run make deps")


def scale_story(sim):
    """The events both clients must see, with a pause for them to catch up."""
    time.sleep(1.0)
    sim.set_service("demo", "backend", ready=[f"10.0.0.{i}" for i in range(1, 6)])   # 3 -> 5
    time.sleep(0.5)
    sim.set_service("demo", "backend", ready=["10.0.0.1", "10.0.0.2"],
                    terminating=["10.0.0.3"])                                      # terminating
    time.sleep(0.5)
    sim.set_service("demo", "backend", ready=["10.0.0.1", "10.0.0.2"])              # deleted
    time.sleep(1.0)


def read_json_stream(text):
    dec, docs, i = json.JSONDecoder(), [], 0
    while i < len(text):
        while i < len(text) and text[i].isspace():
            i += 1
        if i == len(text):
            break
        doc, i = dec.raw_decode(text, i)
        docs.append(doc)
    return docs


@pytest.fixture
def sim():
    s = Simulator()
    s.set_service("demo", "backend", ready=["10.0.0.1", "10.0.0.2", "10.0.0.3"])
    yield s
    s.stop()


def test_kubectl_watch_sees_the_simulator_events(sim):
    w = subprocess.Popen([tool("kubectl"), "--server", sim.url, "get", "endpointslices", "-n",
                          "demo", "-l", "kubernetes.io/service-name=backend", "-w",
                          "--output-watch-events", "-o", "json"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        scale_story(sim)
    finally:
        w.terminate()
        out, err = w.communicate(timeout=10)
    events = [(e["type"], e["object"]["metadata"]["name"],
               [(x["addresses"][0], x["conditions"]["terminating"])
                for x in e["object"].get("endpoints", [])]) for e in read_json_stream(out)]
    assert events[0][0] == "ADDED"
    assert ("ADDED", "backend-00001", [("10.0.0.4", False), ("10.0.0.5", False)]) in events
    assert any(t == "MODIFIED" and ("10.0.0.3", True) in eps for t, _, eps in events)
    assert any(t == "DELETED" and name == "backend-00001" for t, name, _ in events)


def test_kubectl_get_raw_watch(sim):
    out = subprocess.run([tool("kubectl"), "--server", sim.url, "get", "--raw",
                          "/apis/discovery.k8s.io/v1/namespaces/demo/endpointslices"
                          "?watch=true&timeoutSeconds=1"],
                         capture_output=True, text=True, timeout=20).stdout
    first = json.loads(out.splitlines()[0])
    assert first["type"] == "ADDED" and first["object"]["kind"] == "EndpointSlice"
    out = subprocess.run([tool("kubectl"), "--server", sim.url, "get", "--raw", "/version"],
                         capture_output=True, text=True, timeout=20).stdout
    assert json.loads(out)["gitVersion"].startswith("v1.")


def test_javascript_informer_sees_the_simulator_events(sim):
    node_modules()
    w = subprocess.Popen([tool("node"), os.path.join(K8S_TESTS, "informer.mjs"), sim.url, "demo",
                          "backend"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = b""
    try:
        # the story starts once the informer has listed and watches (node
        # starts slowly on a loaded machine); raw reads, so nothing waits in
        # a buffer select cannot see
        deadline = time.time() + 20 * SLOW
        while b'"started"' not in first and time.time() < deadline:
            if select.select([w.stdout], [], [], 0.5)[0]:
                chunk = os.read(w.stdout.fileno(), 65536)
                if not chunk:
                    break
                first += chunk
        scale_story(sim)
    finally:
        w.terminate()
        out, err = w.communicate(timeout=10)
    events = [json.loads(line) for line in (first.decode() + out).splitlines()
              if line.startswith("{")]
    kinds = [(e["event"], e.get("name")) for e in events]
    assert ("add", "backend-00000") in kinds and ("started", None) in kinds
    assert ("add", "backend-00001") in kinds                         # scale-up
    assert any(e["event"] == "update" and
               {"ip": "10.0.0.3", "ready": False, "serving": True, "terminating": True}
               in e["endpoints"] for e in events)                     # terminating
    assert ("delete", "backend-00001") in kinds                      # scale-down
    assert not [e for e in events if e["event"] == "error"], err


def test_manifests_are_valid_and_consistent():
    node_modules()
    r = subprocess.run([tool("node"), os.path.join(K8S_TESTS, "validate.mjs"), MANIFESTS],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "documents valid" in r.stdout


BREAKAGES = [
    ("backend.yaml", "  replicas: 3", "  replicas: three", "spec/replicas must be integer"),
    ("backend.yaml", "      targetPort: http", "      targetPort: web", "targetPort web"),
    ("lb.yaml", '    verbs: ["get", "list", "watch"]', '    verbs: ["*"]', "RBAC grants more"),
    ("lb.yaml", "      serviceAccountName: lb", "      serviceAccountName: lbx",
     "ServiceAccount lbx is not defined"),
    ("lb.yaml", "            name: lb-proxy-config", "            name: proxy-cfg",
     "ConfigMap proxy-cfg is not defined"),
    ("backend.yaml", "    app: backend\n  ports:", "    app: backnd\n  ports:", "matches no Deployment"),
]


@pytest.mark.parametrize("file,old,new,message", BREAKAGES, ids=[b[3] for b in BREAKAGES])
def test_manifest_validator_catches(tmp_path, file, old, new, message):
    node_modules()
    for f in os.listdir(MANIFESTS):
        shutil.copy(os.path.join(MANIFESTS, f), tmp_path / f)
    text = (tmp_path / file).read_text()
    assert old in text
    (tmp_path / file).write_text(text.replace(old, new, 1))
    r = subprocess.run([tool("node"), os.path.join(K8S_TESTS, "validate.mjs"), str(tmp_path)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and message in r.stderr, r.stderr


def test_the_configmaps_the_pods_mount_work(tmp_path, procs, rundir):
    """The config.json of each ConfigMap, given to the program that mounts it."""
    node_modules()
    out = tmp_path / "cm"
    subprocess.run([tool("node"), os.path.join(K8S_TESTS, "validate.mjs"), MANIFESTS, "--extract",
                    str(out)], check=True, capture_output=True, timeout=60)
    sim = Simulator()
    try:
        sim.set_service("demo", "backend-service", ready=["10.1.0.1", "10.1.0.2"], port=8080)
        d = procs([binary("lb-discover"), "--config", str(out / "lb-discover-config/config.json"),
                   "--runtime-dir", rundir, "--api-server", sim.url, "--no-health-check"],
                  env={"NAMESPACE": "demo"})
        d.wait_log("INFO publishing")
        wait_for("the set from the ConfigMap's service",
                 lambda: sorted(b["address"] for b in ctl_json(rundir, "status")["backends"]) ==
                 ["10.1.0.1:8080", "10.1.0.2:8080"])
    finally:
        sim.stop()
    # lb-proxy and lb-echo take their ConfigMaps (listen moved off 8080 by a flag)
    p = procs([binary("lb-proxy"), "--config", str(out / "lb-proxy-config/config.json"),
               "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--runtime-dir", rundir])
    p.wait_log("INFO listening")
    e = procs([binary("lb-echo"), "--config", str(out / "backend-config/config.json"),
               "--listen", "127.0.0.1:0"])
    e.wait_log("service=backend")


def test_dockerfile_and_scripts():
    """What can be checked without a container engine: the scripts parse, and
    the runtime image installs the package of every library the Makefile links."""
    for script in ("up.sh", "smoke.sh"):
        subprocess.run(["bash", "-n", os.path.join(MANIFESTS, script)], check=True)
    dockerfile = open(os.path.join(MANIFESTS, "Dockerfile")).read()
    runtime = dockerfile.split("FROM debian:bookworm-slim", 1)[1].split()
    makefile = open(os.path.join(MANIFESTS, "..", "Makefile")).read()
    libs_line = next(l for l in makefile.splitlines() if l.startswith("LIBS "))
    libs = [w[2:] for w in libs_line.split() if w.startswith("-l") and w != "-lm"]
    linked = {}
    for prog in ("lb-echo", "lb-proxy", "lb-discover", "lb-ctl"):
        out = subprocess.run(["ldd", binary(prog)], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if "=> /" in line:
                name, path = line.split("=>")[0].strip(), line.split("=>")[1].split()[0]
                linked[name] = os.path.realpath(path)
    for lib in libs:
        so = next((n for n in linked if re.match(rf"lib{lib}(-[\d.]+)?\.so", n)), None)
        assert so, f"-l{lib} is not linked by any program"
        pkg = subprocess.run(["dpkg", "-S", linked[so]], capture_output=True,
                             text=True).stdout.split(":")[0]
        assert pkg and pkg in runtime, f"the runtime image lacks {pkg or '?'} (for -l{lib})"
    for copied in ("common", "lb-echo", "lb-proxy", "lb-discover", "lb-ctl", "Makefile"):
        assert f"COPY {copied}" in dockerfile
