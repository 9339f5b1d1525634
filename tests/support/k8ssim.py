"""A Kubernetes API server simulator for tests: the wire protocol of the real
one for what lb needs, checked by real clients (kubectl, @kubernetes/client-node).

- discovery: /version, /api, /apis, /apis/GROUP, /api/v1, /apis/GROUP/VERSION
- EndpointSlices (discovery.k8s.io/v1) and Endpoints (core/v1): get, list and
  watch, per namespace or across all, with labelSelector and fieldSelector
- ConfigMaps (core/v1), Leases (coordination.k8s.io/v1), Secrets (core/v1:
  stringData merged into data; a kubernetes.io/tls one needs tls.crt and
  tls.key), Services (core/v1)
  and the Gateway API (gateway.networking.k8s.io: GatewayClass, cluster-scoped,
  Gateway and HTTPRoute v1, ReferenceGrant v1beta1, TLSRoute and TCPRoute
  v1alpha2) also create (POST, 409 AlreadyExists), update (PUT; a
  resourceVersion that is not the current one: 409 Conflict, as optimistic
  concurrency wants), patch (merge, JSON patch, strategic merge for built-in
  kinds and 415 for the Gateway API's, as for every custom resource; a
  resourceVersion in the patch is a precondition too) and delete (with
  DeleteOptions preconditions); names and fields validated (422 Invalid);
  the kinds' rules (generation, the /status subresource, defaults) are in
  k8ssim_kinds.py, the patches in k8ssim_patch.py
- discovery and OpenAPI v3 documents (k8ssim_discovery.py): what kubectl
  needs to get, apply (validation on), patch and watch every kind
- watch: a chunked stream of {"type","object"} lines from a resourceVersion;
  BOOKMARK events only with allowWatchBookmarks; an ERROR event with a 410
  Status when the resourceVersion is older than the kept history;
  timeoutSeconds ends the stream
- auth: bearer tokens (401 unknown, 403 forbidden), or client certificates
  under TLS
- RBAC (rbac=): the rules of a Role, matched as the API server's RBAC
  authorizer matches them (apiGroup, resource, verb, and resourceNames
  against the object's name: none for a create, the fieldSelector's
  metadata.name for a list or watch); a denial is the real 403 Status.
  role_rules() reads a Role's rules from lb's manifests.
- controls (methods): set_service (scale, terminating, not ready),
  drop_watches, expire_history, stop/start (the API down for a while); run
  as a program (python3 -m tests.support.k8ssim --help) the same controls
  are commands on its standard input
- what clients did, for tests to wait on: requests, watches_started (watch
  streams registered: every change from then on reaches them; a 410 is none)
  and watches_ended
"""
import json
import os
import queue
import re
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

try:
    from . import k8ssim_discovery as discovery_docs
    from .k8ssim_kinds import KINDS, ClusterIPs, apply_defaults, status
    from .k8ssim_writes import Writes
    from .k8ssim_patch import json_patch, merge_patch, strategic_merge_patch  # noqa: F401
except ImportError:                     # run as a script: python3 tests/support/k8ssim.py
    import k8ssim_discovery as discovery_docs
    from k8ssim_kinds import KINDS, ClusterIPs, apply_defaults, status
    from k8ssim_writes import Writes
    from k8ssim_patch import json_patch, merge_patch, strategic_merge_patch  # noqa: F401

SLICE_SIZE = 3          # endpoints per EndpointSlice: larger services span several
SERVICE_LABEL = "kubernetes.io/service-name"
HERE = os.path.dirname(os.path.abspath(__file__))
K8S_TESTS = os.path.join(HERE, "..", "k8s")         # node_modules with js-yaml
LB_YAML = os.path.join(HERE, "..", "..", "k8s", "lb.yaml")
SA_USER = "system:serviceaccount:demo:lb"


def selector_matches(selector, labels):
    for term in filter(None, (selector or "").split(",")):
        if "!=" in term:
            k, v = term.split("!=", 1)
            if labels.get(k) == v:
                return False
        elif "=" in term:
            k, v = term.replace("==", "=").split("=", 1)
            if labels.get(k) != v:
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def fields_match(selector, obj):
    for term in filter(None, (selector or "").split(",")):
        k, _, v = term.replace("==", "=").partition("=")
        neg = k.endswith("!")
        k = k.rstrip("!")
        actual = {"metadata.name": obj["metadata"]["name"],
                  "metadata.namespace": obj["metadata"].get("namespace", "")}.get(k)
        if (actual == v) == neg:
            return False
    return True


def role_rules(name, manifest=LB_YAML):
    """The `rules` of the Role `name` in a manifest file (default k8s/lb.yaml),
    as the list of dicts Simulator(rbac=...) takes. PyYAML is no test
    dependency: node reads the YAML with js-yaml from tests/k8s/node_modules
    (make test-deps), as validate.mjs does. Raises RuntimeError when there is
    no such Role."""
    script = ("const yaml = require('js-yaml'), fs = require('fs');"
              "const [file, name] = process.argv.slice(1);"
              "const role = yaml.loadAll(fs.readFileSync(file, 'utf8')).find((d) =>"
              "  d && d.kind === 'Role' && d.metadata.name === name);"
              "if (!role) { console.error(`no Role ${name} in ${file}`); process.exit(1); }"
              "console.log(JSON.stringify(role.rules ?? []));")
    r = subprocess.run(["node", "-e", script, os.path.abspath(manifest), name], cwd=K8S_TESTS,
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"role_rules({name!r}, {manifest!r}): {r.stderr.strip()}")
    return json.loads(r.stdout)


def rule_allows(rule, group, resource, verb, name):
    """Whether one Role rule allows the request, as Kubernetes' RBAC authorizer
    decides (pkg/apis/rbac/v1 helpers): apiGroups, resources and verbs each hold
    the value or "*"; resourceNames, when the rule has any, hold the name (a
    request without a name, "", matches none of them)."""
    return (any(g in ("*", group) for g in rule.get("apiGroups") or []) and
            any(r in ("*", resource) for r in rule.get("resources") or []) and
            any(v in ("*", verb) for v in rule.get("verbs") or []) and
            (not rule.get("resourceNames") or name in rule["resourceNames"]))


def selector_name(selector):
    """The object name a list or watch asks for with its fieldSelector
    (metadata.name=NAME or ==NAME among its terms), else "": the name the real
    API server authorizes such a request with (RequestInfo from
    fields.Selector.RequiresExactMatch), so that a resourceNames rule can allow
    a list or watch of one object."""
    for term in filter(None, (selector or "").split(",")):
        if "!=" in term:
            continue
        k, _, v = term.replace("==", "=").partition("=")
        if k.strip() == "metadata.name" and v and v not in (".", "..") and \
                "/" not in v and "%" not in v:
            return v
    return ""


class Store:
    """Objects of one resource (a k8ssim_kinds.Kind) with a shared
    resourceVersion clock. Keys are (namespace, name); a cluster-scoped
    object's namespace is ""."""

    def __init__(self, sim, kind_def):
        self.sim = sim
        self.def_ = kind_def
        self.objects = {}                     # (ns, name) -> obj
        self.resource = kind_def.resource     # "configmaps"
        self.group = kind_def.group           # "" (core) or "coordination.k8s.io"
        self.version = kind_def.version       # "v1"
        self.kind = kind_def.kind             # "ConfigMap"
        self.writable = kind_def.writable     # create, update, patch, delete too

    @property
    def api_version(self):
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def verbs(self):
        return (["create", "delete", "get", "list", "patch", "update", "watch"]
                if self.writable else ["get", "list", "watch"])

    def put(self, obj):
        key = (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
        kind = "MODIFIED" if key in self.objects else "ADDED"
        old = self.objects.get(key)
        if old is not None:
            for k in ("uid", "creationTimestamp"):       # server-set: kept
                obj["metadata"][k] = old["metadata"].get(k)
            same = dict(old, metadata=dict(old["metadata"], resourceVersion=None))
            new = dict(obj, metadata=dict(obj["metadata"], resourceVersion=None))
            if json.dumps(same, sort_keys=True) == json.dumps(new, sort_keys=True):
                return
        obj["metadata"]["resourceVersion"] = str(self.sim.bump())
        obj["metadata"].setdefault("uid", str(uuid.uuid4()))
        if not obj["metadata"].get("creationTimestamp"):
            obj["metadata"]["creationTimestamp"] = time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                 time.gmtime())
        self.objects[key] = obj
        self.sim.emit(self, kind, obj)

    def delete(self, ns, name):
        obj = self.objects.pop((ns, name), None)
        if obj is not None:
            obj = json.loads(json.dumps(obj))
            obj["metadata"]["resourceVersion"] = str(self.sim.bump())
            self.sim.emit(self, "DELETED", obj)


class Simulator:
    def __init__(self, tokens=None, forbidden_tokens=(), tls=None, rbac=None, user=SA_USER):
        """tokens: accepted bearer tokens (None: no auth); forbidden_tokens:
        authenticated but not allowed (403); tls: (certfile, keyfile, client CA
        file or None); rbac: the rules (a Role's `rules`, e.g. role_rules(...))
        that authorize requests: a list applies to every request with an
        accepted token (with tokens None: to every request), a dict
        {token: rules} to each token's (those tokens are accepted; tokens
        None then means no other). Requests rbac does not cover (other
        accepted tokens, client certificates) are allowed everything. user: the
        name 403 messages give the requester."""
        self.lock = threading.RLock()
        self.rv = 100
        self.history = []             # (rv, store, type, obj)
        self.oldest = 100             # watches from an rv below this get 410
        self.stores = [Store(self, k) for k in KINDS]
        self.by_resource = {s.resource: s for s in self.stores}
        self.slices = self.by_resource["endpointslices"]
        self.endpoints = self.by_resource["endpoints"]
        self.configmaps = self.by_resource["configmaps"]
        self.leases = self.by_resource["leases"]
        self.services = self.by_resource["services"]
        self.cluster_ips = ClusterIPs()
        self.watchers = []            # (store, queue)
        self.tokens = set() if tokens is None and isinstance(rbac, dict) else tokens
        self.forbidden = set(forbidden_tokens)
        self.rbac = rbac
        self.user = user
        self.tls = tls
        self.requests = []            # (method, path) seen, for tests
        self.writes = []              # (method, path, Host header) of each write, for tests
        self.watches_started = 0      # watch streams registered (not a 410), for tests
        self.watches_ended = 0        # and those of them that ended
        self.server = None
        self.port = 0
        self.connections = set()      # open client connections, cut by stop()
        self.failing_writes = set()   # resources ("leases") whose writes answer 503, for tests
        self.start()

    # --- the clock and events ---------------------------------------------------
    def bump(self):
        self.rv += 1
        return self.rv

    def emit(self, store, kind, obj):
        rv = int(obj["metadata"]["resourceVersion"])
        self.history.append((rv, store, kind, json.loads(json.dumps(obj))))
        for s, q in list(self.watchers):
            if s is store:
                q.put((kind, obj))

    # --- controls ---------------------------------------------------------------
    def set_service(self, namespace, service, ready=(), terminating=(), not_ready=(),
                    port=8080, port_name="http", service_port=None):
        """Makes the service's endpoints exactly these pod IPs: `ready` (ready,
        serving), `terminating` (serving, terminating), `not_ready` (neither),
        listening on `port` (the EndpointSlices' port, named port_name). The
        Service object itself is created when there is none (its port
        service_port, default `port`, targetPort port_name); one that exists
        is left as it is."""
        with self.lock:
            if (namespace, service) not in self.services.objects:
                svc = {"apiVersion": "v1", "kind": "Service",
                       "metadata": {"name": service, "namespace": namespace},
                       "spec": {"selector": {"app": service}, "ports": [{
                           "name": port_name or "port", "port": service_port or port,
                           "targetPort": port_name or port, "protocol": "TCP"}]}}
                apply_defaults(self.services.def_, svc, self.cluster_ips)
                svc["status"] = {"loadBalancer": {}}
                self.services.put(svc)
            eps = ([(ip, True, True, False) for ip in ready] +
                   [(ip, False, True, True) for ip in terminating] +
                   [(ip, False, False, False) for ip in not_ready])
            chunks = [eps[i:i + SLICE_SIZE] for i in range(0, len(eps), SLICE_SIZE)] or [[]]
            names = set()
            for n, chunk in enumerate(chunks):
                name = f"{service}-{n:05d}"
                names.add(name)
                self.slices.put({
                    "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                    "metadata": {"name": name, "namespace": namespace, "generateName": f"{service}-",
                                 "labels": {SERVICE_LABEL: service,
                                            "endpointslice.kubernetes.io/managed-by":
                                                "endpointslice-controller.k8s.io"}},
                    "addressType": "IPv4",
                    "endpoints": [{"addresses": [ip],
                                   "conditions": {"ready": r, "serving": s, "terminating": t},
                                   "targetRef": {"kind": "Pod", "namespace": namespace,
                                                 "name": f"{service}-pod-{ip.replace('.', '-')}"}}
                                  for ip, r, s, t in chunk],
                    "ports": [{"name": port_name, "port": port, "protocol": "TCP"}]})
            for (ns, name) in list(self.slices.objects):
                if ns == namespace and name.startswith(f"{service}-") and name not in names:
                    self.slices.delete(ns, name)
            self.endpoints.put({
                "apiVersion": "v1", "kind": "Endpoints",
                "metadata": {"name": service, "namespace": namespace},
                "subsets": [{"addresses": [{"ip": ip} for ip in ready],
                             "notReadyAddresses": [{"ip": ip} for ip in list(terminating) +
                                                   list(not_ready)],
                             "ports": [{"name": port_name, "port": port, "protocol": "TCP"}]}]})

    def drop_watches(self):
        """Ends every watch stream (as an API server restart or a load
        balancer timeout would)."""
        with self.lock:
            for _, q in self.watchers:
                q.put(None)

    def expire_history(self):
        """Forgets history: a watch from any older resourceVersion gets 410."""
        with self.lock:
            self.oldest = self.rv + 1
            self.history = []

    def stop(self):
        """The API goes down: connections refused, watches and kept-alive
        connections cut (as a restarting API server's are)."""
        if self.server:
            self.drop_watches()
            self.server.shutdown()
            self.server.server_close()
            self.server = None
            for c in list(self.connections):
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.connections.clear()

    def start(self):
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self.server.daemon_threads = True
        if self.tls:
            cert, key, client_ca = self.tls
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(cert, key)
            if client_ca:
                ctx.load_verify_locations(client_ca)
                ctx.verify_mode = ssl.CERT_OPTIONAL
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    @property
    def url(self):
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    # --- HTTP -------------------------------------------------------------------
    def _handler(self):
        sim = outer = self

        class Handler(Writes, BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            sim = outer

            def setup(self):
                super().setup()
                sim.connections.add(self.connection)

            def finish(self):
                sim.connections.discard(self.connection)
                try:
                    super().finish()
                except OSError:
                    pass            # cut by stop()

            def log_message(self, *args):
                pass

            def send_json(self, code, doc):
                body = json.dumps(doc).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def rules(self):
                """The RBAC rules of this request: None (allowed everything),
                a list, or False after answering 401."""
                if sim.tls and hasattr(self.connection, "getpeercert") and \
                        self.connection.getpeercert():
                    return None
                auth = self.headers.get("Authorization", "")
                token = auth[7:] if auth.startswith("Bearer ") else None
                if token in sim.forbidden:
                    return []
                if isinstance(sim.rbac, dict) and token in sim.rbac:
                    return sim.rbac[token]
                if sim.tokens is not None and token not in sim.tokens:
                    self.send_json(401, status(401, "Unauthorized", "Unauthorized"))
                    return False
                return sim.rbac if isinstance(sim.rbac, list) else None

            def authorized(self, store, ns, verb, name, sub=None):
                """Whether the request may `verb` the store's objects (name:
                the object's, "" for a create, a list or a watch; sub: a
                subresource, "status", which RBAC names RESOURCE/status), after
                answering 401 or 403 when not: the Status and message of the
                real API server (responsewriters.forbiddenMessage)."""
                rules = self.rules()
                if rules is None:
                    return True
                if rules is False:
                    return False
                resource, group = store.resource + (f"/{sub}" if sub else ""), store.group
                if any(rule_allows(r, group, resource, verb, name) for r in rules):
                    return True
                where = f'in the namespace "{ns}"' if ns else "at the cluster scope"
                what = f'{store.resource}{"." + group if group else ""}' + \
                    (f' "{name}"' if name else "")
                self.send_json(403, status(
                    403, "Forbidden",
                    f'{what} is forbidden: User "{sim.user}" cannot {verb} resource '
                    f'"{resource}" in API group "{group}" {where}',
                    {k: v for k, v in (("name", name), ("group", group), ("kind", resource))
                     if v}))
                return False

            def object_not_found(self, store, name):
                what = store.resource + (f".{store.group}" if store.group else "")
                self.send_json(404, status(404, "NotFound", f'{what} "{name}" not found',
                                           {"name": name, "group": store.group,
                                            "kind": store.resource}))

            def not_found(self):
                self.send_json(404, status(404, "NotFound", "the server could not find the "
                                           "requested resource"))

            def discovery(self, path):
                """The discovery and OpenAPI documents; False when path is
                none of them."""
                kinds = [st.def_ for st in sim.stores]
                parts = [p for p in path.split("/") if p]
                doc = None
                if path == "/version":
                    doc = {"major": "1", "minor": "30", "gitVersion": "v1.30.0-lbsim",
                           "platform": "linux/amd64"}
                elif path == "/api":
                    doc = discovery_docs.api_versions(sim.port)
                elif path == "/apis":
                    doc = discovery_docs.api_group_list(kinds)
                elif parts == ["api", "v1"]:
                    doc = discovery_docs.resource_list(kinds, "v1")
                elif len(parts) == 2 and parts[0] == "apis" and \
                        any(k.group == parts[1] for k in kinds):
                    doc = discovery_docs.api_group(kinds, parts[1])
                elif len(parts) == 3 and parts[0] == "apis":
                    doc = discovery_docs.resource_list(kinds, f"{parts[1]}/{parts[2]}")
                elif parts == ["openapi", "v3"]:
                    doc = discovery_docs.openapi_root(kinds)
                elif parts[:2] == ["openapi", "v3"] and parts[2:3] == ["api"]:
                    doc = discovery_docs.openapi_gv(kinds, "/".join(parts[3:]))
                elif parts[:3] == ["openapi", "v3", "apis"]:
                    doc = discovery_docs.openapi_gv(kinds, "/".join(parts[3:]))
                elif parts == ["openapi", "v2"]:
                    # an empty OpenAPI v2 document (protobuf: zero bytes): a kubectl
                    # before v3 (Debian's 1.20) finds no schema and leaves
                    # validation to the server; today's asks for v3 first
                    self.send_response(200)
                    self.send_header("Content-Type", "application/octet-stream")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return True
                elif parts[:1] == ["openapi"]:
                    return self.not_found() or True
                if doc is None:
                    return False
                self.send_json(200, doc)
                return True

            def route(self, verb_of):
                """(store, ns, name, subresource, query) of a resource path, or
                None after answering 404 (or 401/403/405). ns: the namespace,
                None for a namespaced resource across all namespaces, "" for a
                cluster-scoped one; subresource: None or "status".
                verb_of(name, query): the RBAC verb the request needs."""
                url = urllib.parse.urlsplit(self.path)
                q = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}
                parts = [p for p in url.path.split("/") if p]
                # /api/v1[/namespaces/NS]/RESOURCE[/NAME[/status]], /apis/GROUP/VERSION/... alike
                if parts[:2] == ["api", "v1"]:
                    group, version, rest = "", "v1", parts[2:]
                elif len(parts) >= 3 and parts[0] == "apis":
                    group, version, rest = parts[1], parts[2], parts[3:]
                else:
                    return self.not_found()
                ns = None
                if len(rest) >= 2 and rest[0] == "namespaces":
                    ns, rest = rest[1], rest[2:]
                store = next((st for st in sim.stores if st.group == group and
                              st.version == version and rest and st.resource == rest[0]), None)
                if store is None or len(rest) > 3 or \
                        (ns is not None and not store.def_.namespaced):
                    return self.not_found()
                sub = rest[2] if len(rest) == 3 else None
                if sub is not None and (sub != "status" or not store.def_.status):
                    return self.not_found()
                if not store.def_.namespaced:
                    ns = ""
                name = rest[1] if len(rest) >= 2 else None
                verb = verb_of(name, q)
                if verb not in (store.verbs if sub is None else ("get", "patch", "update")):
                    self.send_json(405, status(405, "MethodNotAllowed",
                                               f"the server does not allow this method on "
                                               f"the requested resource"))
                    return None
                # RBAC sees no name in a create (it is in the body); a list or
                # a watch is authorized with its fieldSelector's metadata.name
                rbac_name = name or ("" if verb == "create" else
                                     selector_name(q.get("fieldSelector")))
                if not self.authorized(store, ns, verb, rbac_name or "", sub):
                    return None
                return store, ns, name, sub, q

            def do_GET(self):
                with sim.lock:
                    sim.requests.append(("GET", self.path))
                path = urllib.parse.urlsplit(self.path).path
                if self.discovery(path):
                    return
                ns_path = [p for p in path.split("/") if p]
                if len(ns_path) == 4 and ns_path[:3] == ["api", "v1", "namespaces"]:
                    # every namespace exists (kubectl asks after a 404)
                    return self.send_json(200, {"kind": "Namespace", "apiVersion": "v1",
                                                "metadata": {"name": ns_path[3]},
                                                "status": {"phase": "Active"}})
                r = self.route(lambda name, q: "watch" if q.get("watch") in ("1", "true")
                               else "get" if name else "list")
                if r is None:
                    return
                store, ns, name, _, q = r
                watch = q.get("watch") in ("1", "true")
                if name and not watch:
                    with sim.lock:
                        obj = store.objects.get((ns, name))
                    if obj is None:
                        return self.object_not_found(store, name)
                    return self.send_json(200, obj)

                def wanted(obj):
                    return ((ns is None or obj["metadata"].get("namespace", "") == ns) and
                            (name is None or obj["metadata"]["name"] == name) and
                            selector_matches(q.get("labelSelector"),
                                             obj["metadata"].get("labels", {})) and
                            fields_match(q.get("fieldSelector"), obj))

                if not watch:
                    with sim.lock:
                        items = [o for o in store.objects.values() if wanted(o)]
                        rv = sim.rv
                    return self.send_json(200, {"kind": f"{store.kind}List",
                                                "apiVersion": store.api_version,
                                                "metadata": {"resourceVersion": str(rv)},
                                                "items": items})
                self.watch(store, wanted, q)

            def chunk(self, doc):
                data = json.dumps(doc).encode() + b"\n"
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()

            def watch(self, store, wanted, q):
                rv = q.get("resourceVersion") or "0"
                timeout = float(q.get("timeoutSeconds") or 1800)
                bookmarks = q.get("allowWatchBookmarks") in ("1", "true")
                events = queue.Queue()
                with sim.lock:
                    start = int(rv) if rv.isdigit() else 0
                    backlog = []
                    expired = start != 0 and start < sim.oldest - 1
                    if not expired:
                        if start == 0:
                            backlog = [("ADDED", o) for o in store.objects.values()]
                        else:
                            backlog = [(k, o) for r, s, k, o in sim.history
                                       if s is store and r > start]
                    sim.watchers.append((store, events))
                    if not expired:
                        sim.watches_started += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    if expired:
                        self.chunk({"type": "ERROR", "object": status(
                            410, "Expired", f"too old resource version: {rv} ({sim.oldest})")})
                        self.wfile.write(b"0\r\n\r\n")      # the stream ends cleanly
                        return
                    for kind, obj in backlog:
                        if wanted(obj):
                            self.chunk({"type": kind, "object": obj})
                    deadline = time.time() + timeout
                    next_bookmark = time.time() + 1.0
                    while time.time() < deadline:
                        try:
                            item = events.get(timeout=0.1)
                        except queue.Empty:
                            if bookmarks and time.time() >= next_bookmark:
                                # a bookmark's rv promises every event up to it was
                                # sent: none may wait in the queue (nor a drop)
                                with sim.lock:
                                    rv_now = None if not events.empty() else str(sim.rv)
                                if rv_now is None:
                                    continue
                                next_bookmark = time.time() + 1.0
                                self.chunk({"type": "BOOKMARK", "object": {
                                    "kind": store.kind, "apiVersion": store.api_version,
                                    "metadata": {"resourceVersion": rv_now}}})
                            continue
                        if item is None:
                            return        # dropped: the connection ends without a last chunk
                        kind, obj = item
                        if wanted(obj):
                            self.chunk({"type": kind, "object": obj})
                    self.wfile.write(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError, OSError):
                    pass
                finally:
                    with sim.lock:
                        sim.watchers = [w for w in sim.watchers if w[1] is not events]
                        if not expired:
                            sim.watches_ended += 1
                    self.close_connection = True

        return Handler


if __name__ == "__main__":
    try:
        from .k8ssim_cli import main
    except ImportError:
        from k8ssim_cli import main
    main(Simulator)


def api(sim, method, path, doc=None, ctype="application/json"):
    """(status, body) of one request to the simulator, as a test sends it."""
    data = json.dumps(doc).encode() if doc is not None else None
    req = urllib.request.Request(sim.url + path, data=data, method=method,
                                 headers={"Content-Type": ctype})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())
