"""The writes of the Kubernetes API simulator (k8ssim.py): create (POST),
update (PUT), patch (PATCH) and delete (DELETE) of an object or of its
/status, with the real API server's answers (201/200, 400, 404, 409
AlreadyExists and Conflict, 415, 422 Invalid). A mixin of k8ssim's request
handler: it needs self.sim (the Simulator) and the handler's send_json,
route and object_not_found."""
import copy
import json

try:
    from .k8ssim_kinds import apply_defaults, default_status, spec_of, status, validate, \
        validate_status
    from .k8ssim_patch import json_patch, merge_patch, strategic_merge_patch
except ImportError:                     # run as a script
    from k8ssim_kinds import apply_defaults, default_status, spec_of, status, validate, \
        validate_status
    from k8ssim_patch import json_patch, merge_patch, strategic_merge_patch

JSON = "application/json"
MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY = "application/apply-patch+yaml"
PATCH_TYPES = (JSON_PATCH, MERGE, STRATEGIC, APPLY)
CRD_PATCH_TYPES = (JSON_PATCH, MERGE, APPLY)


class Writes:
    def body(self):
        """(content type, the request's JSON body), or None after answering
        400/415. A server-side apply's YAML is read as JSON, the form kubectl
        sends it in."""
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        ctype = (self.headers.get("Content-Type") or JSON).split(";")[0].strip()
        if ctype not in (JSON,) + PATCH_TYPES:
            self.send_json(415, status(415, "UnsupportedMediaType",
                                       "the body of the request was in an unknown format - "
                                       "accepted media types include: application/json"))
            return None
        try:
            return ctype, json.loads(raw or b"null")
        except ValueError as e:
            self.send_json(400, status(400, "BadRequest", f"invalid JSON: {e}"))
            return None

    def write_route(self, verb, want_object=False):
        """(store, ns, name, subresource, query, content type, body) of a
        write, or None once answered; want_object: the body must be an object
        with metadata (a create's or an update's)."""
        sim = self.sim
        with sim.lock:
            sim.requests.append((self.command, self.path))
            sim.writes.append((self.command, self.path, self.headers.get("Host", "")))
        b = self.body()         # read first: an early answer keeps the connection sane
        if b is None:
            return None
        r = self.route(lambda name, q: verb if (name is None) == (verb == "create") else None)
        if r is None:
            return None
        store, ns, name, sub, q = r
        if ns is None:
            self.not_found()
            return None
        if store.resource in sim.failing_writes:
            self.send_json(503, status(503, "ServiceUnavailable",
                                       "the server is currently unable to handle the request"))
            return None
        obj = b[1]
        # dryRun=All (kubectl --dry-run=server): answered as done, nothing stored
        self.dry_run = q.get("dryRun") == "All"
        if want_object and (not isinstance(obj, dict) or
                            not isinstance(obj.get("metadata"), dict)):
            self.send_json(400, status(400, "BadRequest", "the body must be an object"))
            return None
        if want_object and store.def_.namespaced and \
                obj["metadata"].get("namespace") not in (None, "", ns):
            self.send_json(400, status(400, "BadRequest", "the namespace of the provided object "
                                       "does not match the namespace sent on the request"))
            return None
        return store, ns, name, sub, q, b[0], obj

    def conflict(self, store, name):
        self.send_json(409, status(
            409, "Conflict",
            f'Operation cannot be fulfilled on {store.resource}'
            f'{"." + store.group if store.group else ""} "{name}": the object has '
            f'been modified; please apply your changes to the latest version and '
            f'try again', {"name": name, "group": store.group, "kind": store.resource}))

    def invalid(self, store, name, problems):
        self.send_json(422, status(
            422, "Invalid",
            f'{store.kind}{"." + store.group if store.group else ""} "{name}" is invalid: ' +
            ", ".join(problems),
            {"name": name, "group": store.group, "kind": store.kind,
             "causes": [{"reason": "FieldValueInvalid", "message": p} for p in problems]}))

    def store_write(self, store, ns, name, obj, old, code, sub=None):
        """Stores obj as (ns, name) by the kind's rules and answers code with
        the stored object. A write of /status (sub) takes the status of obj
        and keeps the rest of old; a write of the object keeps old's status
        (a new one starts with the kind's default status), is validated and
        defaulted, and bumps metadata.generation when what is neither
        metadata nor status changed."""
        kd = store.def_
        if sub == "status":
            problems = validate_status(kd, obj.get("status"))
            if problems:
                return self.invalid(store, name, problems)
            new = copy.deepcopy(old)
            if "status" in obj:
                new["status"] = obj["status"]
            else:
                new.pop("status", None)
            obj = new
        else:
            if kd.namespaced:
                obj["metadata"]["namespace"] = ns
            else:
                obj["metadata"].pop("namespace", None)
            obj["apiVersion"] = store.api_version
            obj["kind"] = store.kind
            if kd.kind == "Service" and old is not None and isinstance(obj.get("spec"), dict) \
                    and not obj["spec"].get("clusterIP"):
                for f in ("clusterIP", "clusterIPs"):       # allocated: kept
                    if f in old.get("spec", {}):
                        obj["spec"][f] = old["spec"][f]
            problems = validate(kd, obj)
            if problems:
                return self.invalid(store, name, problems)
            apply_defaults(kd, obj, self.sim.cluster_ips)
            if kd.status:
                st = old.get("status") if old is not None else default_status(kd)
                if st is None:
                    obj.pop("status", None)
                else:
                    obj["status"] = st
            if kd.generation:
                gen = 1 if old is None else old["metadata"].get("generation", 1) + \
                    (spec_of(obj) != spec_of(old))
                obj["metadata"]["generation"] = gen
            else:
                obj["metadata"].pop("generation", None)
        if old is not None:
            obj["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        if self.dry_run:
            if old is not None:
                for k in ("uid", "creationTimestamp"):
                    obj["metadata"][k] = old["metadata"].get(k)
            return self.send_json(code, obj)
        store.put(obj)
        self.send_json(code, store.objects[(ns, name)])

    def already_exists(self, store, name):
        self.send_json(409, status(
            409, "AlreadyExists",
            f'{store.resource}{"." + store.group if store.group else ""} "{name}" already exists',
            {"name": name, "group": store.group, "kind": store.resource}))

    def do_POST(self):
        r = self.write_route("create", want_object=True)
        if r is None:
            return
        store, ns, _, _, _, _, obj = r
        name = obj["metadata"].get("name") or ""
        if not isinstance(name, str):
            return self.invalid(store, "", validate(store.def_, obj))
        with self.sim.lock:
            if (ns, name) in store.objects:
                return self.already_exists(store, name)
            obj["metadata"].pop("resourceVersion", None)
            self.store_write(store, ns, name, obj, None, 201)

    def do_PUT(self):
        r = self.write_route("update", want_object=True)
        if r is None:
            return
        store, ns, name, sub, _, _, obj = r
        if obj["metadata"].get("name") != name:
            return self.send_json(400, status(
                400, "BadRequest", "the name of the object "
                f'({obj["metadata"].get("name")}) does not match the name on the URL ({name})'))
        with self.sim.lock:
            old = store.objects.get((ns, name))
            if old is None:
                return self.object_not_found(store, name)
            rv = obj["metadata"].get("resourceVersion")
            if rv and rv != old["metadata"]["resourceVersion"]:
                return self.conflict(store, name)
            self.store_write(store, ns, name, obj, old, 200, sub)

    def do_PATCH(self):
        r = self.write_route("patch")
        if r is None:
            return
        store, ns, name, sub, q, ctype, patch = r
        if store.def_.crd and ctype not in CRD_PATCH_TYPES:
            # as the API server answers for every custom resource
            return self.send_json(415, status(
                415, "UnsupportedMediaType", "the body of the request was in an unknown format - "
                "accepted media types include: " + ", ".join(CRD_PATCH_TYPES)))
        if ctype == APPLY and not q.get("fieldManager"):
            return self.send_json(400, status(
                400, "BadRequest", "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: "
                "Required value: is required for apply patch"))
        with self.sim.lock:
            old = store.objects.get((ns, name))
            if old is None:
                if ctype == APPLY and sub is None and isinstance(patch, dict):
                    # server-side apply creates what does not exist
                    patch.setdefault("metadata", {})
                    if patch["metadata"].get("name", name) != name:
                        return self.send_json(400, status(400, "BadRequest",
                                                          "metadata.name does not match the URL"))
                    patch["metadata"]["name"] = name
                    return self.store_write(store, ns, name, patch, None, 201)
                return self.object_not_found(store, name)
            try:
                if ctype == JSON_PATCH:
                    obj = json_patch(old, patch)
                elif ctype == STRATEGIC:
                    obj = strategic_merge_patch(old, patch)
                else:       # merge; server-side apply as a merge of the applied fields
                    obj = merge_patch(old, patch)
            except (ValueError, KeyError, IndexError, TypeError, AttributeError) as e:
                return self.send_json(422, status(422, "Invalid",
                                                  f"the patch could not be applied: {e}"))
            meta = patch.get("metadata") if isinstance(patch, dict) else None
            rv = meta.get("resourceVersion") if isinstance(meta, dict) else None
            if rv and rv != old["metadata"]["resourceVersion"]:
                return self.conflict(store, name)
            if not isinstance(obj, dict) or not isinstance(obj.get("metadata"), dict) or \
                    obj["metadata"].get("name") != name:
                return self.send_json(422, status(422, "Invalid", "metadata.name may not change"))
            self.store_write(store, ns, name, obj, old, 200, sub)

    def do_DELETE(self):
        r = self.write_route("delete")
        if r is None:
            return
        store, ns, name, _, _, _, opts = r
        pre = (opts or {}).get("preconditions") or {} if isinstance(opts, dict) else {}
        with self.sim.lock:
            old = store.objects.get((ns, name))
            if old is None:
                return self.object_not_found(store, name)
            if pre.get("resourceVersion") and \
                    pre["resourceVersion"] != old["metadata"]["resourceVersion"]:
                return self.conflict(store, name)
            if not self.dry_run:
                store.delete(ns, name)
        self.send_json(200, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                             "status": "Success",
                             "details": {"name": name, "group": store.group,
                                         "kind": store.resource,
                                         "uid": old["metadata"].get("uid")}})
