"""The API simulator is checked by real Kubernetes clients: kubectl and the
official JavaScript client's informer must see the scale-up, terminating and
delete events it emits. Then lb's manifests: valid against the Kubernetes
schemas, cross-checked, and their ConfigMaps accepted by the programs."""
import json
import os
import re
import shutil
import subprocess

import pytest

from conftest import PipeLines, binary, ctl_json, wait_for
from support.k8ssim import Simulator

HERE = os.path.dirname(__file__)
K8S_TESTS = os.path.join(HERE, "..", "k8s")
MANIFESTS = os.path.join(HERE, "..", "..", "k8s")


def tool(name):
    path = shutil.which(name)
    if not path:
        pytest.fail(f"{name} is missing: run make test-deps")
    return path


def node_modules():
    if not os.path.isdir(os.path.join(K8S_TESTS, "node_modules", "@kubernetes")):
        pytest.fail("tests/k8s/node_modules is missing: run make test-deps")


def scale_story(sim):
    """The events both clients must see, each change a watch event of its own."""
    sim.set_service("demo", "backend", ready=[f"10.0.0.{i}" for i in range(1, 6)])   # 3 -> 5
    sim.set_service("demo", "backend", ready=["10.0.0.1", "10.0.0.2"],
                    terminating=["10.0.0.3"])                  # terminating, -00001 deleted
    sim.set_service("demo", "backend", ready=["10.0.0.1", "10.0.0.2"])  # the last: .3 gone


def watch_the_story(sim, argv, told_it_all):
    """Runs a watching client; once its watch is being served (the simulator
    has registered it: every change from then on reaches it), tells the
    story; once told_it_all(its output so far) it is stopped. Returns its
    (stdout, stderr)."""
    w = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = PipeLines(w.stdout), PipeLines(w.stderr)
    try:
        # (kubectl's first start on a fresh machine takes seconds)
        wait_for(f"{argv[0]}'s watch", lambda: sim.watches_started or w.poll() is not None,
                 timeout=60)
        scale_story(sim)
        wait_for(f"{argv[0]} printing the story's last event",
                 lambda: told_it_all(out.text()) or w.poll() is not None, timeout=30)
    except AssertionError as e:
        raise AssertionError(f"{e}; it printed:\n{out.text()[-3000:]}\n{err.text()[-3000:]}")
    finally:
        w.terminate()
        w.wait(10)
    return out.rest(), err.rest()


def read_json_stream(text):
    """The complete JSON documents of a stream (a document still being
    written at its end is left out)."""
    dec, docs, i = json.JSONDecoder(), [], 0
    while i < len(text):
        while i < len(text) and text[i].isspace():
            i += 1
        if i == len(text):
            break
        try:
            doc, i = dec.raw_decode(text, i)
        except json.JSONDecodeError:
            break
        docs.append(doc)
    return docs


@pytest.fixture
def sim():
    s = Simulator()
    s.set_service("demo", "backend", ready=["10.0.0.1", "10.0.0.2", "10.0.0.3"])
    yield s
    s.stop()


def kubectl_events(out):
    return [(e["type"], e["object"]["metadata"]["name"],
             [(x["addresses"][0], x["conditions"]["terminating"])
              for x in e["object"].get("endpoints", [])]) for e in read_json_stream(out)]


@pytest.mark.no_lb_binaries
def test_kubectl_watch_sees_the_simulator_events(sim):
    last = ("MODIFIED", "backend-00000", [("10.0.0.1", False), ("10.0.0.2", False)])
    out, err = watch_the_story(
        sim, [tool("kubectl"), "--server", sim.url, "get", "endpointslices", "-n", "demo", "-l",
              "kubernetes.io/service-name=backend", "-w", "--output-watch-events", "-o", "json"],
        lambda out: last in kubectl_events(out))
    events = kubectl_events(out)
    assert events and events[0][0] == "ADDED", err
    assert ("ADDED", "backend-00001", [("10.0.0.4", False), ("10.0.0.5", False)]) in events
    assert any(t == "MODIFIED" and ("10.0.0.3", True) in eps for t, _, eps in events)
    assert any(t == "DELETED" and name == "backend-00001" for t, name, _ in events)
    assert events[-1] == last


@pytest.mark.no_lb_binaries
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


def informer_events(out):
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


@pytest.mark.no_lb_binaries
def test_javascript_informer_sees_the_simulator_events(sim):
    node_modules()

    def told_it_all(out):
        return any(e["event"] == "update" and e["name"] == "backend-00000" and
                   [x["ip"] for x in e["endpoints"]] == ["10.0.0.1", "10.0.0.2"]
                   for e in informer_events(out))

    out, err = watch_the_story(sim, [tool("node"), os.path.join(K8S_TESTS, "informer.mjs"),
                                     sim.url, "demo", "backend"], told_it_all)
    events = informer_events(out)
    kinds = [(e["event"], e.get("name")) for e in events]
    assert ("add", "backend-00000") in kinds and ("started", None) in kinds, err
    assert ("add", "backend-00001") in kinds                         # scale-up
    assert any(e["event"] == "update" and
               {"ip": "10.0.0.3", "ready": False, "serving": True, "terminating": True}
               in e["endpoints"] for e in events)                     # terminating
    assert ("delete", "backend-00001") in kinds                      # scale-down
    assert told_it_all(out)                                          # .3 gone
    assert not [e for e in events if e["event"] == "error"], err


@pytest.mark.no_lb_binaries
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
    # the shared state: lb-discover PUTs lb-state-backend-service, creates it, and needs
    # POD_NAME for its Lease's name
    ("lb.yaml", '    verbs: ["get", "list", "watch", "update", "patch"]',
     '    verbs: ["get", "list", "watch", "patch"]',
     'lb.yaml: Deployment lb/lb-discover: ServiceAccount lb cannot update core configmaps '
     '"lb-state-backend-service" (Role lb-discover in lb.yaml)'),
    ("lb.yaml", '    resourceNames: ["lb-state-backend-service"]',
     '    resourceNames: ["lb-state-web"]',
     'cannot get/list/watch/update core configmaps "lb-state-backend-service"'),
    ("lb.yaml", '    resourceNames: ["lb-state-backend-service"]',
     '    resourceNames: ["lb-state-web"]', 'RBAC grants more than lb-discover needs '
     '({"apiGroups":[""],"resources":["configmaps"],"resourceNames":["lb-state-web"]'),
    # a create carries no name: a rule with resourceNames never authorizes it
    ("lb.yaml", '    verbs: ["create"]', '    resourceNames: ["lb-state-backend-service"]\n'
     '    verbs: ["create"]', 'lb.yaml: Deployment lb/lb-discover: ServiceAccount lb cannot create '
     'core configmaps (Role lb-discover in lb.yaml)'),
    ("lb.yaml", '    verbs: ["create", "get", "list", "watch", "update", "patch"]',
     '    verbs: ["create", "get", "list", "update", "patch"]',
     "ServiceAccount lb cannot watch coordination.k8s.io leases"),
    ("lb.yaml", '    verbs: ["create"]', '    verbs: ["create", "delete"]', "RBAC grants more"),
    ("lb.yaml", "            - name: POD_NAME\n              valueFrom:\n"
     "                fieldRef:\n                  fieldPath: metadata.name\n", "",
     "lb.yaml: Deployment lb/lb-discover: env POD_NAME must come from fieldRef metadata.name"),
    ("lb-tls.yaml", "                  fieldPath: metadata.uid",
     "                  fieldPath: metadata.name",
     "lb-tls.yaml: Deployment lb-tls/lb-discover: env POD_UID must come from fieldRef "
     "metadata.uid"),
]


@pytest.mark.no_lb_binaries
@pytest.mark.parametrize("file,old,new,message", BREAKAGES, ids=[b[3] for b in BREAKAGES])
def test_manifest_validator_catches(tmp_path, file, old, new, message):
    node_modules()
    for f in os.listdir(MANIFESTS):
        if os.path.isfile(os.path.join(MANIFESTS, f)):      # k8s/examples/: not copied
            shutil.copy(os.path.join(MANIFESTS, f), tmp_path / f)
    text = (tmp_path / file).read_text()
    assert old in text
    (tmp_path / file).write_text(text.replace(old, new, 1))
    r = subprocess.run([tool("node"), os.path.join(K8S_TESTS, "validate.mjs"), str(tmp_path)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and message in r.stderr, r.stderr


def validate_copy(tmp_path, edits):
    """The validator's verdict on a copy of the manifests with edits: [(file, old, new)]."""
    for f in os.listdir(MANIFESTS):
        if os.path.isfile(os.path.join(MANIFESTS, f)):      # k8s/examples/: not copied
            shutil.copy(os.path.join(MANIFESTS, f), tmp_path / f)
    for file, old, new in edits:
        text = (tmp_path / file).read_text()
        assert old in text, (file, old)
        (tmp_path / file).write_text(text.replace(old, new, 1))
    return subprocess.run([tool("node"), os.path.join(K8S_TESTS, "validate.mjs"), str(tmp_path)],
                          capture_output=True, text=True, timeout=60)


STATE_RULES = """  - apiGroups: [""]
    resources: ["configmaps"]
    resourceNames: ["lb-state-backend-service"]
    verbs: ["get", "list", "watch", "update", "patch"]
"""


@pytest.mark.no_lb_binaries
def test_manifest_validator_reads_no_shared_state(tmp_path):
    """Without the shared state (noSharedState in the config, or --no-shared-state)
    the ConfigMap rules are more than lb-discover needs; with a flag naming
    another service, the grants must name that service's ConfigMap."""
    node_modules()
    cfg = '{"backendServiceName": "backend-service", "backendPort": 8080}'
    r = validate_copy(tmp_path, [("lb.yaml", cfg, cfg[:-1] + ', "noSharedState": true}')])
    assert r.returncode == 1 and "RBAC grants more" in r.stderr and \
        '"resourceNames":["lb-state-backend-service"]' in r.stderr, r.stderr
    assert "cannot" not in r.stderr and "POD_NAME" not in r.stderr, r.stderr
    # the flag on one Deployment: the other, run by the same ServiceAccount, still
    # needs the grants; on both, they are more than needed
    cmd = '"--runtime-dir", "/run/lb/bus"]'
    off = '"--runtime-dir", "/run/lb/bus", "--no-shared-state"]'
    shutil.rmtree(tmp_path)
    tmp_path.mkdir()
    assert validate_copy(tmp_path, [("lb.yaml", cmd, off)]).returncode == 0
    shutil.rmtree(tmp_path)
    tmp_path.mkdir()
    r = validate_copy(tmp_path, [("lb.yaml", cmd, off), ("lb-tls.yaml", cmd, off)])
    assert r.returncode == 1 and "Deployment lb-tls: RBAC grants more" in r.stderr, r.stderr
    # every shared-state rule gone and the flag on both Deployments: valid
    shutil.rmtree(tmp_path)
    tmp_path.mkdir()
    role = open(os.path.join(MANIFESTS, "lb.yaml")).read()
    rules = role[role.index("  - apiGroups: [\"\"]\n    resources: [\"configmaps\"]"):
                 role.index("---", role.index("kind: Role"))]
    r = validate_copy(tmp_path, [("lb.yaml", rules, ""),
                                 ("lb.yaml", cmd, off),
                                 ("lb-tls.yaml", cmd, cmd[:-1] + ', "--no-shared-state", "true"]')])
    assert r.returncode == 0, r.stderr
    # --kubernetes web on the command line wins over the file: lb-state-web it must be
    shutil.rmtree(tmp_path)
    tmp_path.mkdir()
    r = validate_copy(tmp_path, [("lb.yaml", cmd, cmd[:-1] + ', "--kubernetes=web"]')])
    assert r.returncode == 1 and 'lb.yaml: Deployment lb/lb-discover: ServiceAccount lb cannot ' \
        'get/list/watch/update core configmaps "lb-state-web"' in r.stderr, r.stderr
    assert STATE_RULES in role


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


@pytest.mark.no_lb_binaries
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
                # the file itself, in the folder ldd named: dpkg knows zlib's
                # /lib/... (usrmerge), not the /usr/lib/... realpath gives
                linked[name] = os.path.join(os.path.dirname(path),
                                            os.path.basename(os.path.realpath(path)))
    for lib in libs:
        so = next((n for n in linked if re.match(rf"lib{lib}(-[\d.]+)?\.so", n)), None)
        assert so, f"-l{lib} is not linked by any program"
        pkg = next((out.split(":")[0] for out in (
            subprocess.run(["dpkg", "-S", f], capture_output=True, text=True).stdout
            for f in (linked[so], os.path.realpath(linked[so]))) if out), "")
        assert pkg and pkg in runtime, f"the runtime image lacks {pkg or '?'} (for -l{lib})"
    for copied in ("common", "lb-echo", "lb-proxy", "lb-discover", "lb-ctl", "Makefile"):
        assert f"COPY {copied}" in dockerfile
    # the build stage installs every -dev package `make deps` does (it
    # lacked libpcre2-dev once: the image's `make` failed at link time)
    build = dockerfile.split("FROM debian:bookworm-slim", 1)[0].split()
    deps = re.search(r"^DEPS := (.*?)(?<!\\)\n", makefile, re.M | re.S).group(1)
    for pkg in deps.replace("\\\n", " ").split():
        if pkg.endswith("-dev"):
            assert pkg in build, f"the Dockerfile's build stage lacks {pkg} (make deps has it)"
