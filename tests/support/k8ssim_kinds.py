"""The kinds the Kubernetes API simulator (k8ssim.py) serves and the rules
the real API server applies to each: where it lives (group, version,
namespaced or cluster-scoped), its verbs, whether it has a /status
subresource and a metadata.generation, what it defaults and what it refuses.

The Gateway API kinds behave as the real API server serves the Gateway API's
CustomResourceDefinitions (standard and experimental channels, v1.2):
generation starts at 1 and is bumped when anything but metadata and status
changes; a write to the object keeps its status and a write to /status
changes its status only; strategic merge patch is refused (415) as for every
custom resource; the schemas' defaults are filled in (a listener's
allowedRoutes, a rule's match, a backendRef's weight, ...) and a Gateway's
and a GatewayClass's status starts as the CRDs' "Waiting for controller".
"""
import base64
import copy
import ipaddress
import re

GATEWAY_GROUP = "gateway.networking.k8s.io"


class Kind:
    """One resource: resource (plural, "httproutes"), group ("" for core),
    version, kind, namespaced, writable (create/update/patch/delete too),
    crd (served like a custom resource: no strategic merge), status (a
    /status subresource), generation (metadata.generation kept),
    short_names, categories."""

    def __init__(self, resource, group, version, kind, namespaced=True, writable=False,
                 crd=False, status=False, generation=False, short_names=(), categories=()):
        self.resource = resource
        self.group = group
        self.version = version
        self.kind = kind
        self.namespaced = namespaced
        self.writable = writable
        self.crd = crd
        self.status = status
        self.generation = generation
        self.short_names = list(short_names)
        self.categories = list(categories)


def gateway_kind(resource, version, kind, namespaced=True, short_names=()):
    return Kind(resource, GATEWAY_GROUP, version, kind, namespaced=namespaced, writable=True,
                crd=True, status=True, generation=True, short_names=short_names,
                categories=["gateway-api"])


# Every kind the simulator serves, in the order discovery lists them.
KINDS = [
    Kind("endpoints", "", "v1", "Endpoints", short_names=["ep"]),
    Kind("endpointslices", "discovery.k8s.io", "v1", "EndpointSlice"),
    Kind("configmaps", "", "v1", "ConfigMap", writable=True, short_names=["cm"]),
    Kind("leases", "coordination.k8s.io", "v1", "Lease", writable=True),
    Kind("secrets", "", "v1", "Secret", writable=True),
    Kind("services", "", "v1", "Service", writable=True, status=True, short_names=["svc"],
         categories=["all"]),
    gateway_kind("gatewayclasses", "v1", "GatewayClass", namespaced=False, short_names=["gc"]),
    gateway_kind("gateways", "v1", "Gateway", short_names=["gtw"]),
    gateway_kind("httproutes", "v1", "HTTPRoute"),
    Kind("referencegrants", GATEWAY_GROUP, "v1beta1", "ReferenceGrant", writable=True, crd=True,
         generation=True, short_names=["refgrant"], categories=["gateway-api"]),
    gateway_kind("tlsroutes", "v1alpha2", "TLSRoute"),
    gateway_kind("tcproutes", "v1alpha2", "TCPRoute"),
    # stored only (no controller acts on them), so that lb's manifests apply whole
    Kind("deployments", "apps", "v1", "Deployment", writable=True, status=True, generation=True,
         short_names=["deploy"], categories=["all"]),
    Kind("serviceaccounts", "", "v1", "ServiceAccount", writable=True, short_names=["sa"]),
    Kind("roles", "rbac.authorization.k8s.io", "v1", "Role", writable=True),
    Kind("rolebindings", "rbac.authorization.k8s.io", "v1", "RoleBinding", writable=True),
    Kind("clusterroles", "rbac.authorization.k8s.io", "v1", "ClusterRole", namespaced=False,
         writable=True),
    Kind("clusterrolebindings", "rbac.authorization.k8s.io", "v1", "ClusterRoleBinding",
         namespaced=False, writable=True),
]

PENDING = {"status": "Unknown", "reason": "Pending", "message": "Waiting for controller",
           "lastTransitionTime": "1970-01-01T00:00:00Z"}
# the CRDs' status defaults: what a Gateway or GatewayClass says before a controller
STATUS_DEFAULTS = {
    "GatewayClass": {"conditions": [dict(PENDING, type="Accepted")]},
    "Gateway": {"conditions": [dict(PENDING, type="Accepted"), dict(PENDING, type="Programmed")]},
    "Service": {"loadBalancer": {}},
    "Deployment": {},
}

ROUTE_PATH_DEFAULT = {"type": "PathPrefix", "value": "/"}


def _items(x):
    """x if it is a list, else none: defaults never trip over a malformed
    field (validate_kind has refused it, or it is beyond what it checks)."""
    return x if isinstance(x, list) else []


def _backend_refs(refs):
    for ref in _items(refs):
        if isinstance(ref, dict):
            ref.setdefault("group", "")
            ref.setdefault("kind", "Service")
            ref.setdefault("weight", 1)


def _parent_refs(spec):
    for ref in _items(spec.get("parentRefs")):
        if isinstance(ref, dict):
            ref.setdefault("group", GATEWAY_GROUP)
            ref.setdefault("kind", "Gateway")


def _default_httproute(spec):
    _parent_refs(spec)
    if "rules" not in spec:
        spec["rules"] = [{"matches": [dict(path=dict(ROUTE_PATH_DEFAULT))]}]
    for rule in _items(spec.get("rules")):
        if not isinstance(rule, dict):
            continue
        if "matches" not in rule:
            rule["matches"] = [{"path": dict(ROUTE_PATH_DEFAULT)}]
        for m in _items(rule.get("matches")):
            if not isinstance(m, dict):
                continue
            if "path" not in m:
                m["path"] = dict(ROUTE_PATH_DEFAULT)
            elif isinstance(m["path"], dict):
                m["path"].setdefault("type", "PathPrefix")
                m["path"].setdefault("value", "/")
            for key in ("headers", "queryParams"):
                for h in _items(m.get(key)):
                    if isinstance(h, dict):
                        h.setdefault("type", "Exact")
        _backend_refs(rule.get("backendRefs"))


def _default_gateway(spec):
    for ln in _items(spec.get("listeners")):
        if not isinstance(ln, dict):
            continue
        ar = ln.setdefault("allowedRoutes", {"namespaces": {"from": "Same"}})
        if isinstance(ar, dict):
            ns = ar.setdefault("namespaces", {"from": "Same"})
            if isinstance(ns, dict):
                ns.setdefault("from", "Same")
        tls = ln.get("tls")
        if isinstance(tls, dict):
            tls.setdefault("mode", "Terminate")
            for ref in _items(tls.get("certificateRefs")):
                if isinstance(ref, dict):
                    ref.setdefault("group", "")
                    ref.setdefault("kind", "Secret")
    for a in _items(spec.get("addresses")):
        if isinstance(a, dict):
            a.setdefault("type", "IPAddress")


def _default_l4route(spec):
    _parent_refs(spec)
    for rule in _items(spec.get("rules")):
        if isinstance(rule, dict):
            _backend_refs(rule.get("backendRefs"))


class ClusterIPs:
    """The service CIDR's allocator: 10.96.0.0/12 from 10.96.0.10 on."""

    def __init__(self):
        self.next = int(ipaddress.IPv4Address("10.96.0.10"))

    def take(self):
        ip = str(ipaddress.IPv4Address(self.next))
        self.next += 1
        return ip


def _default_service(spec, ips):
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if spec["type"] != "ExternalName":
        if not isinstance(spec.get("clusterIP"), str) or not spec["clusterIP"]:
            spec["clusterIP"] = ips.take()
        spec.setdefault("clusterIPs", [spec["clusterIP"]] if spec["clusterIP"] != "None"
                        else ["None"])
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
    for p in _items(spec.get("ports")):
        if isinstance(p, dict):
            p.setdefault("protocol", "TCP")
            if "port" in p:
                p.setdefault("targetPort", p["port"])


def _default_secret(obj):
    """The API server's Secret on write: type Opaque by default, stringData
    merged into data (base64) and dropped."""
    obj.setdefault("type", "Opaque")
    string_data = obj.pop("stringData", None)
    if isinstance(string_data, dict):
        data = obj.setdefault("data", {})
        for k, v in string_data.items():
            if isinstance(v, str) and isinstance(data, dict):
                data[k] = base64.b64encode(v.encode()).decode()


def apply_defaults(kind, obj, ips):
    """Fills in what the API server defaults in obj (in place): the CRDs'
    schema defaults for the Gateway API kinds, a Service's type, clusterIP
    (allocated from ips, a ClusterIPs) and ports' protocol and targetPort."""
    if kind.kind == "Secret":
        _default_secret(obj)
        return
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        if kind.kind == "Service":
            spec = obj["spec"] = {}
        else:
            return
    if kind.kind == "HTTPRoute":
        _default_httproute(spec)
    elif kind.kind == "Gateway":
        _default_gateway(spec)
    elif kind.kind in ("TLSRoute", "TCPRoute"):
        _default_l4route(spec)
    elif kind.kind == "Service":
        _default_service(spec, ips)


def default_status(kind):
    """The status a new object of this kind starts with (a copy), or None."""
    s = STATUS_DEFAULTS.get(kind.kind)
    return copy.deepcopy(s) if s else None


DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
CONTROLLER_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
                             r"/[A-Za-z0-9/\-._~%!$&'()*+,;=:]+$")
HOSTNAME = re.compile(r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def _port_ok(p):
    return isinstance(p, int) and not isinstance(p, bool) and 1 <= p <= 65535


def _check_refs(problems, where, refs, limit):
    if not isinstance(refs, list):
        problems.append(f"{where}: Invalid value: must be a list")
        return
    if len(refs) > limit:
        problems.append(f"{where}: Too many: {len(refs)}: must have at most {limit} items")
    for i, ref in enumerate(refs):
        if not isinstance(ref, dict) or not isinstance(ref.get("name"), str) or not ref["name"]:
            problems.append(f"{where}[{i}].name: Required value")
        elif "port" in ref and not _port_ok(ref["port"]):
            problems.append(f"{where}[{i}].port: Invalid value: {ref['port']!r}: must be "
                            f"between 1 and 65535")
        elif "weight" in ref and not (isinstance(ref["weight"], int) and
                                      0 <= ref["weight"] <= 1000000):
            problems.append(f"{where}[{i}].weight: Invalid value: {ref['weight']!r}: must be "
                            f"between 0 and 1000000")


def _check_hostnames(problems, spec):
    hosts = spec.get("hostnames") or []
    if not isinstance(hosts, list) or len(hosts) > 16:
        problems.append("spec.hostnames: Too many: must have at most 16 items")
        return
    for i, h in enumerate(hosts):
        if not isinstance(h, str) or not HOSTNAME.match(h) or len(h) > 253:
            problems.append(f'spec.hostnames[{i}]: Invalid value: "{h}": spec.hostnames[{i}] '
                            f"in body should match the Gateway API's Hostname pattern")


def _check_route(problems, spec, rules_required):
    _check_refs(problems, "spec.parentRefs", spec.get("parentRefs") or [], 32)
    rules = spec.get("rules")
    if rules is None:
        if rules_required:
            problems.append("spec.rules: Required value")
        return
    if not isinstance(rules, list) or not 1 <= len(rules) <= 16:
        problems.append("spec.rules: Invalid value: must have between 1 and 16 items")
        return
    for i, rule in enumerate(rules):
        if not isinstance(rule, dict):
            problems.append(f"spec.rules[{i}]: Invalid value: must be an object")
            continue
        matches = rule.get("matches") or []
        if isinstance(matches, list) and len(matches) > 64:
            problems.append(f"spec.rules[{i}].matches: Too many: {len(matches)}: must have at "
                            f"most 64 items")
        if isinstance(matches, list):
            for j, m in enumerate(matches):
                path = m.get("path") if isinstance(m, dict) else None
                if isinstance(path, dict) and path.get("type") not in (
                        "Exact", "PathPrefix", "RegularExpression"):
                    problems.append(f'spec.rules[{i}].matches[{j}].path.type: Unsupported value: '
                                    f'"{path.get("type")}": supported values: "Exact", '
                                    f'"PathPrefix", "RegularExpression"')
                elif isinstance(path, dict) and path.get("type") in ("Exact", "PathPrefix") \
                        and not str(path.get("value", "/")).startswith("/"):
                    problems.append(f"spec.rules[{i}].matches[{j}].path: Invalid value: "
                                    f"value must be an absolute path")
        refs = rule.get("backendRefs")
        if refs is None and rules_required:
            problems.append(f"spec.rules[{i}].backendRefs: Required value")
        elif refs is not None:
            _check_refs(problems, f"spec.rules[{i}].backendRefs", refs, 16)


def validate_kind(kind, obj):
    """What the API server refuses in obj's spec (422 Invalid), as
    messages: the required fields, enums and limits of the CRDs' schemas and
    CEL rules that matter most, and a Service's ports."""
    problems = []
    spec = obj.get("spec")
    if kind.kind == "Service":
        spec = spec if isinstance(spec, dict) else {}
        ports = spec.get("ports")
        if spec.get("type", "ClusterIP") not in ("ClusterIP", "NodePort", "LoadBalancer",
                                                  "ExternalName"):
            problems.append(f'spec.type: Unsupported value: "{spec.get("type")}": supported '
                            f'values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"')
        sel = spec.get("selector")
        if sel is not None and (not isinstance(sel, dict) or
                                not all(isinstance(v, str) for v in sel.values())):
            problems.append("spec.selector: Invalid value: must be a map of strings")
        if spec.get("type") != "ExternalName" and spec.get("clusterIP") != "None" and not ports:
            problems.append("spec.ports: Required value")
        if ports is not None and not isinstance(ports, list):
            problems.append("spec.ports: Invalid value: must be a list")
        for i, p in enumerate(_items(ports)):
            if not isinstance(p, dict) or not _port_ok(p.get("port")):
                problems.append(f"spec.ports[{i}].port: Invalid value: must be between 1 and "
                                f"65535, inclusive")
            elif "targetPort" in p and not (isinstance(p["targetPort"], str) or
                                            _port_ok(p["targetPort"])):
                problems.append(f"spec.ports[{i}].targetPort: Invalid value: must be a port "
                                f"number or name")
            elif len(ports) > 1 and not p.get("name"):
                problems.append(f"spec.ports[{i}].name: Required value")
        return problems
    if not kind.crd:
        return problems
    if not isinstance(spec, dict):
        problems.append("spec: Required value")
        return problems
    if kind.kind == "GatewayClass":
        c = spec.get("controllerName")
        if not isinstance(c, str) or not CONTROLLER_NAME.match(c) or len(c) > 253:
            problems.append(f'spec.controllerName: Invalid value: "{c}": must be a domain '
                            f'prefixed path (e.g. example.net/gateway-controller)')
    elif kind.kind == "Gateway":
        if not isinstance(spec.get("gatewayClassName"), str) or not spec["gatewayClassName"]:
            problems.append("spec.gatewayClassName: Required value")
        lns = spec.get("listeners")
        if not isinstance(lns, list) or not 1 <= len(lns) <= 64:
            problems.append("spec.listeners: Invalid value: must have between 1 and 64 items")
            return problems
        names = set()
        for i, ln in enumerate(lns):
            if not isinstance(ln, dict):
                problems.append(f"spec.listeners[{i}]: Invalid value: must be an object")
                continue
            if not isinstance(ln.get("name"), str) or not DNS1123_LABEL.match(ln["name"]):
                problems.append(f"spec.listeners[{i}].name: Invalid value: must be a DNS label")
            elif ln["name"] in names:
                problems.append("spec.listeners: Invalid value: Listener name must be unique "
                                "within the Gateway")
            else:
                names.add(ln["name"])
            if not _port_ok(ln.get("port")):
                problems.append(f"spec.listeners[{i}].port: Invalid value: must be between 1 "
                                f"and 65535")
            if not ln.get("protocol"):
                problems.append(f"spec.listeners[{i}].protocol: Required value")
            if ln.get("protocol") in ("HTTPS", "TLS") and not ln.get("tls"):
                problems.append("spec.listeners: Invalid value: tls must be specified for "
                                "protocols ['HTTPS', 'TLS']")
            if ln.get("protocol") in ("HTTP", "TCP", "UDP") and ln.get("tls"):
                problems.append("spec.listeners: Invalid value: tls must not be specified for "
                                "protocols ['HTTP', 'TCP', 'UDP']")
    elif kind.kind == "HTTPRoute":
        _check_hostnames(problems, spec)
        _check_route(problems, spec, rules_required=False)
    elif kind.kind == "TLSRoute":
        _check_hostnames(problems, spec)
        _check_route(problems, spec, rules_required=True)
    elif kind.kind == "TCPRoute":
        _check_route(problems, spec, rules_required=True)
    elif kind.kind == "ReferenceGrant":
        for side in ("from", "to"):
            items = spec.get(side)
            if not isinstance(items, list) or not 1 <= len(items) <= 16:
                problems.append(f"spec.{side}: Invalid value: must have between 1 and 16 items")
                continue
            for i, it in enumerate(items):
                if not isinstance(it, dict) or "group" not in it or not it.get("kind"):
                    problems.append(f"spec.{side}[{i}]: Required value: group and kind")
                elif side == "from" and not it.get("namespace"):
                    problems.append(f"spec.from[{i}].namespace: Required value")
    return problems


def status(code, reason, message, details=None):
    doc = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": message, "reason": reason, "code": code}
    if details:
        doc["details"] = details
    return doc


NAME_RX = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
CONFIGMAP_KEY_RX = re.compile(r"^[-._a-zA-Z0-9]+$")
CONFIGMAP_MAX = 1024 * 1024
MICROTIME_RX = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$")


def validate(kind, obj):
    """What the API server would refuse in obj, an object of kind (a Kind),
    as messages (422 Invalid): its name, and its fields for the kinds whose
    rules the simulator knows."""
    problems = []
    meta = obj.get("metadata") or {}
    name = meta.get("name") or ""
    for field in ("labels", "annotations"):
        m = meta.get(field)
        if m is not None and (not isinstance(m, dict) or
                              not all(isinstance(v, str) for v in m.values())):
            problems.append(f"metadata.{field}: Invalid value: must be a map of strings")
    if not isinstance(name, str):
        problems.append("metadata.name: Invalid value: must be a string")
    elif not name:
        problems.append("metadata.name: Required value: name or generateName is required")
    elif len(name) > 253 or not NAME_RX.match(name):
        problems.append(f'metadata.name: Invalid value: "{name}": a lowercase RFC 1123 '
                        f"subdomain must consist of lower case alphanumeric characters, '-' "
                        f"or '.'")
    if kind.kind == "ConfigMap":
        data = obj.get("data") or {}
        if not isinstance(data, dict):
            problems.append("data: Invalid value: must be an object of strings")
        else:
            for k, v in data.items():
                if not CONFIGMAP_KEY_RX.match(k) or len(k) > 253:
                    problems.append(f'data[{k}]: Invalid value: "{k}": a valid config key '
                                    f"must consist of alphanumeric characters, '-', '_' or '.'")
                if not isinstance(v, str):
                    problems.append(f"data[{k}]: Invalid value: must be a string")
            if sum(len(k) + len(v) for k, v in data.items() if isinstance(v, str)) \
                    > CONFIGMAP_MAX:
                problems.append(f"[]: Too long: must have at most {CONFIGMAP_MAX} bytes")
    if kind.kind == "Secret":
        data = obj.get("data") or {}
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            problems.append("data: Invalid value: must be an object of base64 strings")
        elif obj.get("type") == "kubernetes.io/tls":
            given = set(data) | set(obj.get("stringData") or {})
            problems += [f"data[{k}]: Required value" for k in ("tls.crt", "tls.key")
                         if k not in given]
    if kind.kind == "Lease":
        spec = obj.get("spec") or {}
        d = spec.get("leaseDurationSeconds")
        if d is not None and (not isinstance(d, int) or d <= 0):
            problems.append("spec.leaseDurationSeconds: Invalid value: must be greater than 0")
        for f in ("acquireTime", "renewTime"):
            if spec.get(f) is not None and not (isinstance(spec[f], str) and
                                                MICROTIME_RX.match(spec[f])):
                problems.append(f"spec.{f}: Invalid value: must be an RFC 3339 time with "
                                f"microseconds")
    return problems + validate_kind(kind, obj)


CONDITION_STATUS = ("True", "False", "Unknown")
# metav1.Condition's patterns, as the CRDs' schemas carry them
CONDITION_TYPE = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                            r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$")
CONDITION_REASON = re.compile(r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$")
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def _check_conditions(problems, where, conds, required=False):
    if conds is None and not required:
        return
    if not isinstance(conds, list) or len(conds) > 8:
        problems.append(f"{where}: Invalid value: must be a list of at most 8 conditions")
        return
    for i, c in enumerate(conds):
        at = f"{where}[{i}]"
        if not isinstance(c, dict):
            problems.append(f"{at}: Invalid value: must be an object")
            continue
        for f in ("type", "status", "reason", "message", "lastTransitionTime"):
            if not isinstance(c.get(f), str):
                problems.append(f"{at}.{f}: Required value")
        if isinstance(c.get("type"), str) and not CONDITION_TYPE.match(c["type"]):
            problems.append(f'{at}.type: Invalid value: "{c["type"]}": must be a '
                            f'(domain-prefixed) CamelCase name')
        if isinstance(c.get("reason"), str) and not CONDITION_REASON.match(c["reason"]):
            problems.append(f'{at}.reason: Invalid value: "{c["reason"]}": must be a '
                            f'CamelCase word (letters, digits, _,:)')
        if isinstance(c.get("message"), str) and len(c["message"]) > 32768:
            problems.append(f"{at}.message: Too long: must have at most 32768 bytes")
        if isinstance(c.get("lastTransitionTime"), str) and \
                not RFC3339.match(c["lastTransitionTime"]):
            problems.append(f'{at}.lastTransitionTime: Invalid value: '
                            f'"{c["lastTransitionTime"]}": must be an RFC 3339 date-time')
        if c.get("status") not in CONDITION_STATUS:
            problems.append(f'{at}.status: Unsupported value: "{c.get("status")}": supported '
                            f'values: "True", "False", "Unknown"')
        if "observedGeneration" in c and not (isinstance(c["observedGeneration"], int) and
                                              c["observedGeneration"] >= 0):
            problems.append(f"{at}.observedGeneration: Invalid value: must be an integer >= 0")


def validate_status(kind, status):
    """What the API server refuses in a status write (422), as messages:
    the shape the Gateway API CRDs' status schemas require (conditions with
    their five fields, a route's parents, a Gateway's listeners), a
    Service's loadBalancer an object."""
    problems = []
    if status is None:
        return problems
    if not isinstance(status, dict):
        return ["status: Invalid value: must be an object"]
    if kind.kind == "Service":
        lb = status.get("loadBalancer", {})
        ingress = lb.get("ingress", []) if isinstance(lb, dict) else None
        if not isinstance(ingress, list) or not all(
                isinstance(i, dict) and all(isinstance(i.get(f, ""), str) for f in ("ip",
                                                                                    "hostname"))
                for i in ingress):
            problems.append("status.loadBalancer: Invalid value: must be an object whose "
                            "ingress is a list of {ip, hostname}")
        return problems
    if kind.kind in ("GatewayClass", "Gateway"):
        _check_conditions(problems, "status.conditions", status.get("conditions"))
    if kind.kind == "Gateway":
        for i, a in enumerate(_items(status.get("addresses"))):
            if not isinstance(a, dict) or not isinstance(a.get("value"), str):
                problems.append(f"status.addresses[{i}].value: Required value")
        lns = status.get("listeners")
        if lns is not None and (not isinstance(lns, list) or len(lns) > 64):
            problems.append("status.listeners: Invalid value: must be a list of at most 64")
        for i, ln in enumerate(_items(lns)):
            if not isinstance(ln, dict) or not isinstance(ln.get("name"), str) or \
                    not DNS1123_LABEL.match(ln["name"]) or \
                    not isinstance(ln.get("attachedRoutes"), int) or \
                    not isinstance(ln.get("supportedKinds"), list):
                problems.append(f"status.listeners[{i}]: Required value: name, supportedKinds, "
                                f"attachedRoutes and conditions")
            else:
                _check_conditions(problems, f"status.listeners[{i}].conditions",
                                  ln.get("conditions"), required=True)
    if kind.kind in ("HTTPRoute", "TLSRoute", "TCPRoute"):
        parents = status.get("parents")
        if not isinstance(parents, list) or len(parents) > 32:
            problems.append("status.parents: Required value: a list of at most 32")
        for i, p in enumerate(_items(parents)):
            if not isinstance(p, dict) or not isinstance(p.get("parentRef"), dict) or \
                    not isinstance(p["parentRef"].get("name"), str) or \
                    not isinstance(p.get("controllerName"), str):
                problems.append(f"status.parents[{i}]: Required value: parentRef (with name), "
                                f"controllerName and conditions")
            else:
                _check_conditions(problems, f"status.parents[{i}].conditions",
                                  p.get("conditions"), required=True)
    return problems


def spec_of(obj):
    """What a generation counts: everything but metadata and status (the
    CRD registry's rule; for a Gateway API kind that is its spec)."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}
