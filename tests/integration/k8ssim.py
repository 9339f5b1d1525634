"""A Kubernetes API server simulator for tests: the wire protocol of the real
one for what lb needs, checked by real clients (kubectl, @kubernetes/client-node).

- discovery: /version, /api, /apis, /api/v1, /apis/discovery.k8s.io/v1
- EndpointSlices (discovery.k8s.io/v1) and Endpoints (core/v1): get, list and
  watch, per namespace or across all, with labelSelector and fieldSelector
- watch: a chunked stream of {"type","object"} lines from a resourceVersion;
  BOOKMARK events only with allowWatchBookmarks; an ERROR event with a 410
  Status when the resourceVersion is older than the kept history;
  timeoutSeconds ends the stream
- auth: bearer tokens (401 unknown, 403 forbidden), or client certificates
  under TLS
- controls (methods): set_service (scale, terminating, not ready),
  drop_watches, expire_history, stop/start (the API down for a while)
- what clients did, for tests to wait on: requests, watches_started (watch
  streams registered: every change from then on reaches them; a 410 is none)
  and watches_ended
"""
import json
import queue
import socket
import ssl
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SLICE_SIZE = 3          # endpoints per EndpointSlice: larger services span several
SERVICE_LABEL = "kubernetes.io/service-name"


def status(code, reason, message, details=None):
    doc = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": message, "reason": reason, "code": code}
    if details:
        doc["details"] = details
    return doc


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
                  "metadata.namespace": obj["metadata"]["namespace"]}.get(k)
        if (actual == v) == neg:
            return False
    return True


class Store:
    """Objects of one resource with a shared resourceVersion clock."""

    def __init__(self, sim):
        self.sim = sim
        self.objects = {}             # (ns, name) -> obj

    def put(self, obj):
        key = (obj["metadata"]["namespace"], obj["metadata"]["name"])
        kind = "MODIFIED" if key in self.objects else "ADDED"
        old = self.objects.get(key)
        if old is not None:
            for k in ("uid", "creationTimestamp"):       # server-set: kept
                obj["metadata"].setdefault(k, old["metadata"].get(k))
            same = dict(old, metadata=dict(old["metadata"], resourceVersion=None))
            new = dict(obj, metadata=dict(obj["metadata"], resourceVersion=None))
            if json.dumps(same, sort_keys=True) == json.dumps(new, sort_keys=True):
                return
        obj["metadata"]["resourceVersion"] = str(self.sim.bump())
        obj["metadata"].setdefault("uid", f"uid-{key[0]}-{key[1]}")
        obj["metadata"].setdefault("creationTimestamp", "2026-11-21T10:00:00Z")
        self.objects[key] = obj
        self.sim.emit(self, kind, obj)

    def delete(self, ns, name):
        obj = self.objects.pop((ns, name), None)
        if obj is not None:
            obj = json.loads(json.dumps(obj))
            obj["metadata"]["resourceVersion"] = str(self.sim.bump())
            self.sim.emit(self, "DELETED", obj)


class Simulator:
    def __init__(self, tokens=None, forbidden_tokens=(), tls=None):
        """tokens: accepted bearer tokens (None: no auth); forbidden_tokens:
        authenticated but not allowed (403); tls: (certfile, keyfile, client CA
        file or None)."""
        self.lock = threading.RLock()
        self.rv = 100
        self.history = []             # (rv, store, type, obj)
        self.oldest = 100             # watches from an rv below this get 410
        self.slices = Store(self)
        self.endpoints = Store(self)
        self.watchers = []            # (store, queue)
        self.tokens = tokens
        self.forbidden = set(forbidden_tokens)
        self.tls = tls
        self.requests = []            # (method, path) seen, for tests
        self.watches_started = 0      # watch streams registered (not a 410), for tests
        self.watches_ended = 0        # and those of them that ended
        self.server = None
        self.port = 0
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
                    port=8080, port_name="http"):
        """Makes the service's endpoints exactly these pod IPs: `ready` (ready,
        serving), `terminating` (serving, terminating), `not_ready` (neither)."""
        with self.lock:
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
        """The API goes down: connections refused, watches cut."""
        if self.server:
            self.drop_watches()
            self.server.shutdown()
            self.server.server_close()
            self.server = None

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
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self):
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    # --- HTTP -------------------------------------------------------------------
    def _handler(self):
        sim = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def send_json(self, code, doc):
                body = json.dumps(doc).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def authorized(self, resource, ns, verb):
                cert = None
                if sim.tls and hasattr(self.connection, "getpeercert"):
                    cert = self.connection.getpeercert()
                if cert:
                    return True
                if sim.tokens is None:
                    return True
                auth = self.headers.get("Authorization", "")
                token = auth[7:] if auth.startswith("Bearer ") else None
                if token in sim.forbidden:
                    group = "" if resource == "endpoints" else "discovery.k8s.io"
                    where = f'in the namespace "{ns}"' if ns else "at the cluster scope"
                    self.send_json(403, status(
                        403, "Forbidden",
                        f'{resource}{"." + group if group else ""} is forbidden: User '
                        f'"system:serviceaccount:demo:lb" cannot {verb} resource "{resource}" '
                        f'in API group "{group}" {where}',
                        {"group": group, "kind": resource}))
                    return False
                if token not in sim.tokens:
                    self.send_json(401, status(401, "Unauthorized", "Unauthorized"))
                    return False
                return True

            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                q = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}
                parts = [p for p in url.path.split("/") if p]
                with sim.lock:
                    sim.requests.append(("GET", self.path))
                if url.path == "/version":
                    return self.send_json(200, {"major": "1", "minor": "30",
                                                "gitVersion": "v1.30.0-lbsim",
                                                "platform": "linux/amd64"})
                if url.path == "/api":
                    return self.send_json(200, {"kind": "APIVersions", "versions": ["v1"],
                                                "serverAddressByClientCIDRs": [{
                                                    "clientCIDR": "0.0.0.0/0",
                                                    "serverAddress": f"127.0.0.1:{sim.port}"}]})
                if url.path == "/apis":
                    gv = {"groupVersion": "discovery.k8s.io/v1", "version": "v1"}
                    return self.send_json(200, {"kind": "APIGroupList", "apiVersion": "v1",
                                                "groups": [{"name": "discovery.k8s.io",
                                                            "versions": [gv],
                                                            "preferredVersion": gv}]})
                if url.path == "/api/v1":
                    return self.send_json(200, {"kind": "APIResourceList", "groupVersion": "v1",
                                                "resources": [{"name": "endpoints",
                                                               "singularName": "endpoints",
                                                               "namespaced": True,
                                                               "kind": "Endpoints",
                                                               "verbs": ["get", "list", "watch"],
                                                               "shortNames": ["ep"]}]})
                if url.path == "/apis/discovery.k8s.io/v1":
                    return self.send_json(200, {"kind": "APIResourceList", "apiVersion": "v1",
                                                "groupVersion": "discovery.k8s.io/v1",
                                                "resources": [{"name": "endpointslices",
                                                               "singularName": "endpointslice",
                                                               "namespaced": True,
                                                               "kind": "EndpointSlice",
                                                               "verbs": ["get", "list", "watch"]}]})
                # /api/v1[/namespaces/NS]/endpoints[/NAME] and the same for slices
                if parts[:2] == ["api", "v1"]:
                    rest, store, kind = parts[2:], sim.endpoints, "EndpointsList"
                    resource, api_version = "endpoints", "v1"
                elif parts[:3] == ["apis", "discovery.k8s.io", "v1"]:
                    rest, store, kind = parts[3:], sim.slices, "EndpointSliceList"
                    resource, api_version = "endpointslices", "discovery.k8s.io/v1"
                else:
                    return self.send_json(404, status(404, "NotFound", "the server could not "
                                                      "find the requested resource"))
                ns = None
                if len(rest) >= 2 and rest[0] == "namespaces":
                    ns, rest = rest[1], rest[2:]
                if not rest or rest[0] != resource or len(rest) > 2:
                    return self.send_json(404, status(404, "NotFound", "the server could not "
                                                      "find the requested resource"))
                name = rest[1] if len(rest) == 2 else None
                watch = q.get("watch") in ("1", "true")
                if not self.authorized(resource, ns, "watch" if watch else
                                       "get" if name else "list"):
                    return
                if name and not watch:
                    with sim.lock:
                        obj = store.objects.get((ns, name))
                    if obj is None:
                        return self.send_json(404, status(404, "NotFound",
                                                          f'{resource} "{name}" not found'))
                    return self.send_json(200, obj)

                def wanted(obj):
                    return ((ns is None or obj["metadata"]["namespace"] == ns) and
                            (name is None or obj["metadata"]["name"] == name) and
                            selector_matches(q.get("labelSelector"),
                                             obj["metadata"].get("labels", {})) and
                            fields_match(q.get("fieldSelector"), obj))

                if not watch:
                    with sim.lock:
                        items = [o for o in store.objects.values() if wanted(o)]
                        rv = sim.rv
                    return self.send_json(200, {"kind": kind, "apiVersion": api_version,
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
                                    "kind": store is sim.slices and "EndpointSlice" or "Endpoints",
                                    "apiVersion": store is sim.slices and "discovery.k8s.io/v1"
                                    or "v1", "metadata": {"resourceVersion": rv_now}}})
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
    import argparse
    ap = argparse.ArgumentParser(description="Kubernetes API simulator")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--service", default="backend")
    ap.add_argument("--namespace", default="default")
    ap.add_argument("--ready", default="", help="comma-separated pod IPs")
    a = ap.parse_args()
    s = Simulator()
    if a.port:
        s.stop()
        s.port = a.port
        s.start()
    s.set_service(a.namespace, a.service, ready=[ip for ip in a.ready.split(",") if ip])
    print(f"listening on {s.url}", flush=True)
    threading.Event().wait()
