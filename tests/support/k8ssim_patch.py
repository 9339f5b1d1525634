"""The patches the Kubernetes API simulator (k8ssim.py) applies: JSON merge
patch (RFC 7386), JSON patch (RFC 6902) and strategic merge patch (what
kubectl apply and kubectl patch send for built-in kinds: lists merged by
their merge key, and the $patch, $retainKeys, $setElementOrder and
$deleteFromPrimitiveList directives). The real API server refuses strategic
merge for custom resources (415); k8ssim.py does the same for the Gateway
API kinds and uses these for the others."""
import copy

# The lists of the built-in kinds the simulator stores whose patch strategy
# is "merge", by field name: the merge key of a list of objects (the first of
# the candidates an element has), or None for a list of values merged as a
# set (k8s.io/api's patchMergeKey tags).
MERGE_KEYS = {
    "ports": ("port", "containerPort"),     # Service.spec.ports, Container.ports
    "ownerReferences": ("uid",),            # ObjectMeta
    "conditions": ("type",),                # every status' conditions
    "finalizers": None,                     # ObjectMeta
    "containers": ("name",),                # PodSpec
    "initContainers": ("name",),
    "volumes": ("name",),
    "imagePullSecrets": ("name",),
    "env": ("name",),                       # Container
    "volumeMounts": ("mountPath",),
}


def _key_of(field, item):
    return next((k for k in MERGE_KEYS[field] if isinstance(item, dict) and k in item), None)


def merge_patch(target, patch):
    """RFC 7386 JSON merge patch (strategic merge patch reads the same for
    the maps of ConfigMaps and Leases)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def json_patch(target, ops):
    """RFC 6902 JSON patch: add, remove, replace, test (paths into objects)."""
    doc = copy.deepcopy(target)
    for op in ops:
        keys = [k.replace("~1", "/").replace("~0", "~") for k in op["path"].split("/")[1:]]
        parent = doc
        for k in keys[:-1]:
            parent = parent[int(k)] if isinstance(parent, list) else parent[k]
        last = keys[-1]
        if isinstance(parent, list):
            i = len(parent) if last == "-" else int(last)
            if op["op"] == "add":
                parent.insert(i, op["value"])
            elif op["op"] == "replace":
                parent[i] = op["value"]
            elif op["op"] == "remove":
                del parent[i]
            elif op["op"] == "test":
                if parent[i] != op["value"]:
                    raise ValueError(f"test of {op['path']} failed")
            else:
                raise ValueError(f"unknown op {op['op']}")
        elif op["op"] in ("add", "replace"):
            if op["op"] == "replace" and last not in parent:
                raise KeyError(op["path"])
            parent[last] = op["value"]
        elif op["op"] == "remove":
            del parent[last]
        elif op["op"] == "test":
            if parent.get(last) != op["value"]:
                raise ValueError(f"test of {op['path']} failed")
        else:
            raise ValueError(f"unknown op {op['op']}")
    return doc


def _merge_list(field, target, patch):
    out = copy.deepcopy(target) if isinstance(target, list) else []
    if MERGE_KEYS[field] is None:                # a set of values
        for v in patch:
            if v not in out:
                out.append(copy.deepcopy(v))
        return out
    for item in patch:
        key = _key_of(field, item)
        if key is None:
            raise ValueError(f"{field}: an element without its merge key "
                             f"{' or '.join(MERGE_KEYS[field])}")
        at = next((i for i, o in enumerate(out) if isinstance(o, dict) and
                   o.get(key) == item[key]), None)
        if item.get("$patch") == "delete":
            if at is not None:
                del out[at]
        elif at is None:
            out.append(strategic_merge_patch({}, item))
        else:
            out[at] = strategic_merge_patch(out[at], item)
    return out


def _order(field, items, order):
    if MERGE_KEYS.get(field) is None:
        rank = {repr(v): i for i, v in enumerate(order)}
        return sorted(items, key=lambda v: rank.get(repr(v), len(rank)))
    key = _key_of(field, order[0]) if order else None
    rank = {repr(o.get(key)): i for i, o in enumerate(order) if isinstance(o, dict)}
    return sorted(items, key=lambda o: rank.get(repr(o.get(key)), len(rank)))


def strategic_merge_patch(target, patch):
    """A strategic merge patch of target (a copy is returned): maps merge as
    in JSON merge patch; lists named in MERGE_KEYS merge by their key (an
    element {"$patch": "delete", KEY: V} removes one), other lists are
    replaced; $patch: replace/delete on a map, $retainKeys,
    $setElementOrder/FIELD and $deleteFromPrimitiveList/FIELD as
    apimachinery's strategicpatch applies them. Raises ValueError."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if directive == "delete":
        return None
    if directive is not None:
        raise ValueError(f"unknown $patch directive {directive}")
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    orders = {}
    for k, v in patch.items():
        if k == "$retainKeys":
            continue
        if k.startswith("$setElementOrder/"):
            orders[k.split("/", 1)[1]] = v
        elif k.startswith("$deleteFromPrimitiveList/"):
            field = k.split("/", 1)[1]
            out[field] = [x for x in out.get(field) or [] if x not in v]
        elif v is None:
            out.pop(k, None)
        elif k in MERGE_KEYS and isinstance(v, list):
            out[k] = _merge_list(k, out.get(k), v)
        elif isinstance(v, dict):
            merged = strategic_merge_patch(out.get(k), v)
            if merged is None:
                out.pop(k, None)
            else:
                out[k] = merged
        else:
            out[k] = copy.deepcopy(v)
    for field, order in orders.items():
        if isinstance(out.get(field), list) and isinstance(order, list):
            out[field] = _order(field, out[field], order)
    if isinstance(patch.get("$retainKeys"), list):
        out = {k: v for k, v in out.items() if k in patch["$retainKeys"]}
    return out
