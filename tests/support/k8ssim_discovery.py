"""The documents through which clients learn what the Kubernetes API
simulator (k8ssim.py) serves: discovery (/api, /apis, /apis/GROUP,
/api/v1, /apis/GROUP/VERSION) and OpenAPI v3 (/openapi/v3 and one document
per group-version). kubectl needs the OpenAPI documents to create or apply
with validation on: it looks for the PATCH operation of the object's kind
and, finding its fieldValidation parameter, leaves validation to the server
(it sends fieldValidation=Strict) instead of fetching /openapi/v2. Each
document is the shape the real API server sends, with what lb's clients
read filled in; schemas are open objects (no client-side validation)."""
import hashlib
import json

MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY = "application/apply-patch+yaml"


def group_version(kind):
    return f"{kind.group}/{kind.version}" if kind.group else kind.version


def _group_versions(kinds, group):
    """A group's versions, newest (the preferred) first: v1, v1beta1, v1alpha2."""
    def rank(v):
        stage = 2 if "alpha" in v else 1 if "beta" in v else 0
        return (stage, v)
    return sorted({k.version for k in kinds if k.group == group}, key=rank)


def api_group(kinds, group):
    versions = [{"groupVersion": f"{group}/{v}", "version": v}
                for v in _group_versions(kinds, group)]
    return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": versions,
            "preferredVersion": versions[0]}


def api_group_list(kinds):
    groups = []
    for g in sorted({k.group for k in kinds if k.group}):
        doc = api_group(kinds, g)
        del doc["kind"], doc["apiVersion"]
        groups.append(doc)
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_versions(port):
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                            "serverAddress": f"127.0.0.1:{port}"}]}


def resource_list(kinds, gv):
    """The APIResourceList of a group-version ("v1", "gateway.networking.k8s.io/v1"),
    or None when it serves nothing."""
    served = [k for k in kinds if group_version(k) == gv]
    if not served:
        return None
    resources = []
    for k in served:
        verbs = (["create", "delete", "get", "list", "patch", "update", "watch"]
                 if k.writable else ["get", "list", "watch"])
        r = {"name": k.resource, "singularName": k.kind.lower(), "namespaced": k.namespaced,
             "kind": k.kind, "verbs": verbs}
        if k.short_names:
            r["shortNames"] = k.short_names
        if k.categories:
            r["categories"] = k.categories
        resources.append(r)
        if k.status:
            resources.append({"name": f"{k.resource}/status", "singularName": "",
                              "namespaced": k.namespaced, "kind": k.kind,
                              "verbs": ["get", "patch", "update"]})
    doc = {"kind": "APIResourceList", "groupVersion": gv, "resources": resources}
    if gv != "v1":
        doc["apiVersion"] = "v1"
    return doc


def _openapi_path(gv):
    return f"api/{gv}" if "/" not in gv else f"apis/{gv}"


def openapi_gv(kinds, gv):
    """The OpenAPI v3 document of a group-version, or None: for each kind its
    schema and the paths of its object (get, put, patch with the patch
    types the real server takes, delete) and collection (list, post)."""
    served = [k for k in kinds if group_version(k) == gv]
    if not served:
        return None
    paths, schemas = {}, {}
    for k in served:
        gvk = {"group": k.group, "version": k.version, "kind": k.kind}
        schema_name = f"{k.group or 'io.k8s.api.core'}.{k.version}.{k.kind}"
        schemas[schema_name] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                                "x-kubernetes-group-version-kind": [gvk]}
        ref = {"$ref": f"#/components/schemas/{schema_name}"}
        body = {"content": {"application/json": {"schema": ref}}}
        # a built-in kind's strategic merge is left out: kubectl computes it
        # from its own compiled types, not from these open schemas
        patch_types = [JSON_PATCH, MERGE, APPLY]
        params = [{"name": n, "in": "query", "schema": {"type": "string"}}
                  for n in ("dryRun", "fieldManager", "fieldValidation")]
        ok = {"200": {"description": "OK", "content": {"application/json": {"schema": ref}}}}

        def op(action, **more):
            return dict({"x-kubernetes-action": action, "x-kubernetes-group-version-kind": gvk,
                         "responses": ok}, **more)
        base = f"/{_openapi_path(gv)}" + ("/namespaces/{namespace}" if k.namespaced else "")
        item = {"get": op("get"), "put": op("put", parameters=params, requestBody=body),
                "patch": op("patch", parameters=params, requestBody={
                    "content": {t: {"schema": {"type": "object"}} for t in patch_types}}),
                "delete": op("delete")}
        paths[f"{base}/{k.resource}/{{name}}"] = item
        paths[f"{base}/{k.resource}"] = {"get": op("list"),
                                         "post": op("post", parameters=params, requestBody=body)}
        if k.status:
            paths[f"{base}/{k.resource}/{{name}}/status"] = {
                "get": op("get"), "put": op("put", parameters=params, requestBody=body),
                "patch": op("patch", parameters=params, requestBody={
                    "content": {t: {"schema": {"type": "object"}} for t in patch_types}})}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.30.0-lbsim"},
            "paths": paths, "components": {"schemas": schemas}}


def openapi_root(kinds):
    """/openapi/v3: each group-version's document with a hash of its content
    (clients cache by it)."""
    out = {}
    for gv in sorted({group_version(k) for k in kinds}):
        h = hashlib.sha256(json.dumps(openapi_gv(kinds, gv), sort_keys=True).encode())
        out[_openapi_path(gv)] = {
            "serverRelativeURL": f"/openapi/v3/{_openapi_path(gv)}?hash={h.hexdigest()[:32]}"}
    return {"paths": out}
