"""lb-discover/openapi.yaml, the document of lb-discover's and lb-proxy's
admin APIs: valid against the OpenAPI 3 schema (an npm validator), and every
documented route, with every documented status, answered by the real
programs with a body that matches its documented schema."""
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import urllib.parse

import pytest
import yaml

from conftest import SLOW, binary, request_in_flight, wait_for
from test_admin_api import Admin

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
DOC_PATH = os.path.join(ROOT, "lb-discover", "openapi.yaml")
OPENAPI_TESTS = os.path.join(ROOT, "tests", "openapi")
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def load_doc():
    with open(DOC_PATH) as f:
        return yaml.safe_load(f)


@pytest.mark.no_lb_binaries
def test_document_is_valid_openapi():
    if not os.path.isdir(os.path.join(OPENAPI_TESTS, "node_modules", "@seriousme")):
        pytest.fail("tests/openapi/node_modules is missing: run make test-deps")
    node = shutil.which("node")
    assert node, "node is missing: run make test-deps"
    r = subprocess.run([node, os.path.join(OPENAPI_TESTS, "validate.mjs"), DOC_PATH],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    # and the validator does refuse a broken document
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        broken = load_doc()
        broken["paths"]["/admin/health"]["get"]["responses"] = "none"
        yaml.safe_dump(broken, f)
    try:
        r = subprocess.run([node, os.path.join(OPENAPI_TESTS, "validate.mjs"), f.name],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode != 0
    finally:
        os.unlink(f.name)


# --- a JSON-schema subset (what the document uses), OpenAPI 3.0 flavour ------

def resolve(doc, node):
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), ref
        node = doc
        for part in ref[2:].split("/"):
            node = node[part]
    return node


def check(doc, schema, value, where="body"):
    """Returns a list of problems of value against schema."""
    schema = resolve(doc, schema)
    if value is None and schema.get("nullable"):
        return []
    if "oneOf" in schema:
        ok = [s for s in schema["oneOf"] if not check(doc, s, value, where)]
        return [] if len(ok) == 1 else [f"{where}: matches {len(ok)} of oneOf, not 1"]
    if "allOf" in schema:
        return [p for sub in schema["allOf"] for p in check(doc, sub, value, where)]
    if "anyOf" in schema:
        ok = [s for s in schema["anyOf"] if not check(doc, s, value, where)]
        return [] if ok else [f"{where}: matches none of anyOf"]
    t = schema.get("type")
    types = {"object": dict, "array": list, "string": str, "boolean": bool}
    if t in types and not isinstance(value, types[t]):
        return [f"{where}: {value!r} is not {t}"]
    if t == "integer" and (isinstance(value, bool) or not isinstance(value, int)):
        return [f"{where}: {value!r} is not an integer"]
    if t == "number" and (isinstance(value, bool) or not isinstance(value, (int, float))):
        return [f"{where}: {value!r} is not a number"]
    problems = []
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{where}: {value!r} not in {schema['enum']}")
    if "minimum" in schema and value < schema["minimum"]:
        problems.append(f"{where}: {value!r} < {schema['minimum']}")
    if "maximum" in schema and value > schema["maximum"]:
        problems.append(f"{where}: {value!r} > {schema['maximum']}")
    if "pattern" in schema and not re.search(schema["pattern"], value):
        problems.append(f"{where}: no /{schema['pattern']}/")
    if t == "object":
        for k in schema.get("required", []):
            if k not in value:
                problems.append(f"{where}: no {k!r}")
        for k, sub in schema.get("properties", {}).items():
            if k in value:
                problems += check(doc, sub, value[k], f"{where}.{k}")
        if isinstance(schema.get("additionalProperties"), dict):
            for k, v in value.items():
                if k not in schema.get("properties", {}):
                    problems += check(doc, schema["additionalProperties"], v, f"{where}.{k}")
    if t == "array":
        for i, item in enumerate(value):
            problems += check(doc, schema.get("items", {}), item, f"{where}[{i}]")
    return problems


@pytest.mark.no_lb_binaries
def test_the_subset_validator_refuses_what_it_should():
    doc = load_doc()
    good = {"generation": 3, "address": "10.0.0.1:80"}
    assert check(doc, {"$ref": "#/components/schemas/Done"}, good) == []
    assert check(doc, {"$ref": "#/components/schemas/Done"}, {"generation": 3})
    assert check(doc, {"$ref": "#/components/schemas/Done"}, {"generation": "3", "address": ""})
    assert check(doc, {"$ref": "#/components/schemas/State"}, "sleeping")
    assert check(doc, {"$ref": "#/components/schemas/Backend"}, {"address": 1})


# --- every documented route against the real programs --------------------------

def documented(doc):
    """{(METHOD, path template): operation} of the document."""
    ops = {}
    for path, item in doc["paths"].items():
        for m in METHODS:
            if m in item:
                ops[(m.upper(), path)] = item[m]
    return ops


def checked_call(doc, ops, seen, on, method, template, status, path=None, body=None,
                 token="default", raw=None):
    """One request to a documented operation; checks the answer against the
    document (status documented, body of the documented schema)."""
    op = ops[(method, template)]
    st, h, got = on.call(method, path or template, body, token=token, raw=raw)
    assert st == status, (method, path or template, st, got)
    resp = resolve(doc, op["responses"].get(str(st)))
    assert resp, f"{method} {template}: {st} is not documented"
    ctype = h.get("content-type", "").split(";")[0]
    assert ctype in resp["content"], (method, template, ctype)
    problems = check(doc, resp["content"][ctype]["schema"], got, f"{method} {template} {st}")
    assert not problems, problems
    seen.add((method, template, st))
    return got


def test_every_documented_route_answers_as_documented(echo, discover, proxy, rundir):
    doc = load_doc()
    ops = documented(doc)
    token_path = tempfile.mktemp(prefix="lb-token-")
    with open(token_path, "w") as f:
        f.write("tok\n")
    # outlasts drain?wait=0.3, and a second wait cancelled meanwhile (409)
    slow = echo("--delay-ms", str(int(3000 * SLOW)), "--access-log", "off")
    e1, e2 = echo("--access-log", "off"), echo("--access-log", "off")
    # heartbeat 0.05: drain?wait= waits for lb-discover to hear every proxy
    # (5 heartbeats + 2 s after it started)
    d = discover("--static", f"{e1.addr},{slow.addr}", "--heartbeat", "0.05", "--admin",
                 "127.0.0.1:0", "--admin-token", token_path)
    os.unlink(token_path)
    api = Admin(d, int(d.wait_log(r"admin listening admin=[^ ]*:(\d+)").group(1)), "tok")
    px = proxy(None, "--runtime-dir", rundir, "--access-log", "off", "--heartbeat", "0.2",
               "--report-interval", "0.05")
    wait_for("the proxy applies the set", lambda: len(px.admin("/info")[1]["backends"]) == 2)
    proxy_api = Admin(px.proc, px.admin_port)
    seen = set()

    def call(method, template, status, path=None, body=None, token="default", on=api, raw=None):
        return checked_call(doc, ops, seen, on, method, template, status, path, body, token, raw)

    enc = lambda a: urllib.parse.quote(a, safe="")
    B = "/admin/backends/{address}"
    # reads
    call("GET", "/admin/health", 200)
    call("GET", "/admin/backends", 200)
    call("GET", "/admin/metrics", 200)
    call("GET", "/admin/proxies", 200)
    wait_for("the proxy's report", lambda: call("GET", "/admin/proxies", 200)["proxies"])
    # without --routes: generation 0, empty lists (test_route_tools.py: with a table)
    assert call("GET", "/admin/routes", 200)["generation"] == 0
    assert call("GET", "/routes", 200, on=proxy_api)["generation"] == 0
    call("GET", "/health", 200, on=proxy_api)
    call("GET", "/ready", 200, on=proxy_api)
    call("GET", "/info", 200, on=proxy_api)
    call("GET", "/debug/next-backend", 200, on=proxy_api)
    call("GET", "/metrics", 200, on=proxy_api)
    # lb-proxy on the bus: its writes go to lb-discover, whose admin API it names
    for method, template, body in (("POST", "/admin/backends", {"address": e2.addr}),
                                   ("DELETE", B, None), ("POST", B + "/drain", None),
                                   ("POST", B + "/undrain", None),
                                   ("POST", B + "/uneject", None),
                                   ("PUT", B + "/weight", {"weight": 2})):
        got = call(method, template, 409, template.replace("{address}", enc(e1.addr)), body,
                   on=proxy_api)
        assert got["discover_admin"] == f"127.0.0.1:{api.port}", got
        assert f"http://127.0.0.1:{api.port}/admin/" in got["error"], got

    def no_host(template, on):
        """GET template in HTTP/1.1 without Host: 400 (RFC 9112 3.2)."""
        s = socket.create_connection(("127.0.0.1", on.port), timeout=10 * SLOW)
        s.sendall(f"GET {template} HTTP/1.1\r\n\r\n".encode())
        got = b""
        while chunk := s.recv(65536):
            got += chunk
        s.close()
        head, _, body = got.partition(b"\r\n\r\n")
        st = int(head.split(b" ")[1])
        assert st == 400, (template, got)
        resp = resolve(doc, ops[("GET", template)]["responses"]["400"])
        problems = check(doc, resp["content"]["application/json"]["schema"], json.loads(body))
        assert not problems, problems
        seen.add(("GET", template, 400))
    for (method, template), op in ops.items():
        if method == "GET":
            no_host(template, proxy_api if "lb-proxy" in op["tags"] else api)
    # the status page and its event stream (endless: its head and first event)
    for page in ("/", "/page.js", "/page.css"):
        call("GET", page, 200)
    s = socket.create_connection(("127.0.0.1", api.port), timeout=10 * SLOW)
    s.sendall(b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    got = b""
    while b"event: status" not in got:
        chunk = s.recv(65536)
        assert chunk, got
        got += chunk
    s.close()
    head, _, body = got.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), head
    resp = resolve(doc, ops[("GET", "/events")]["responses"]["200"])
    ctype = re.search(rb"(?im)^content-type: ([^;\r]+)", head).group(1).decode()
    assert ctype in resp["content"], ctype
    assert not check(doc, resp["content"][ctype]["schema"], body.decode())
    seen.add(("GET", "/events", 200))
    # a stream of a Service lb-discover does not serve
    call("GET", "/events", 404, "/events?service=default%2Fnope%3A80")
    # writes, each refusal the document lists
    call("POST", "/admin/backends", 201, body={"address": e2.addr, "weight": 3})
    call("POST", "/admin/backends", 409, body={"address": e2.addr})
    call("POST", "/admin/backends", 400, body={"weight": 3})
    for method, template, body in (("POST", "/admin/backends", {"address": "10.0.0.5:80"}),
                                   ("DELETE", B, None), ("POST", B + "/drain", None),
                                   ("POST", B + "/undrain", None),
                                   ("POST", B + "/uneject", None),
                                   ("PUT", B + "/weight", {"weight": 2})):
        path = template.replace("{address}", enc(e2.addr))
        call(method, template, 401, path, body, token=None)
        call(method, template, 403, path, body, token="nope")
        if template != "/admin/backends":
            call(method, template, 404, template.replace("{address}", "10.9.9.9:80"), body)
            call(method, template, 400, template.replace("{address}", "no-port"), body)
            call(method, template, 414, template.replace("{address}", "a" * 600), body)
    call("PUT", B + "/weight", 200, B.replace("{address}", enc(e2.addr)) + "/weight",
         {"weight": 5})
    call("POST", B + "/drain", 200, B.replace("{address}", enc(e2.addr)) + "/drain")
    call("POST", B + "/undrain", 200, B.replace("{address}", enc(e2.addr)) + "/undrain")
    call("POST", B + "/uneject", 200, B.replace("{address}", enc(e2.addr)) + "/uneject")
    got = call("POST", B + "/drain", 200, B.replace("{address}", enc(e2.addr)) + "/drain?wait=10")
    assert got["drained"] is True
    call("DELETE", B, 400, B.replace("{address}", enc(f"http://{e2.addr}")))   # no '/'
    call("DELETE", B, 200, B.replace("{address}", enc(e2.addr)))
    # a drain that outlasts its wait: 202 (e1 drained first: the slow
    # backend gets the request)
    call("POST", B + "/drain", 200, B.replace("{address}", enc(e1.addr)) + "/drain")
    wait_for("e1 drained on the proxy", lambda: {
        b["address"]: b["state"] for b in px.admin("/info")[1]["backends"]} == {
        e1.addr: "draining", slow.addr: "up"})
    t = request_in_flight(px, "/slow", backend=slow.addr)
    got = call("POST", B + "/drain", 202, B.replace("{address}", enc(slow.addr)) + "/drain?wait=0.3")
    assert got["drained"] is False
    # the request still runs: a second wait parks, and an undrain cancels it
    box = {}
    w = threading.Thread(target=lambda: box.setdefault("r", call(
        "POST", B + "/drain", 409, B.replace("{address}", enc(slow.addr)) + "/drain?wait=10")))
    w.start()
    w.join(0.3)
    assert w.is_alive(), "the second wait did not park"
    call("POST", B + "/undrain", 200, B.replace("{address}", enc(slow.addr)) + "/undrain")
    w.join(10 * SLOW)
    assert box["r"]["drained"] is False and "cancelled" in box["r"]["error"], box
    call("POST", B + "/drain", 200, B.replace("{address}", enc(slow.addr)) + "/drain")
    t.join()
    # no usable backend: the proxy is not ready and has no next backend
    wait_for("both drained on the proxy", lambda: all(
        b["state"] == "draining" for b in px.admin("/info")[1]["backends"]))
    call("GET", "/ready", 503, on=proxy_api)
    call("GET", "/debug/next-backend", 503, on=proxy_api)
    # SIGTERM during a wait: 503 (another lb-discover: it has heard no proxy yet, its
    # wait cannot end)
    other = tempfile.mkdtemp(prefix="lb-rt-", dir="/tmp")
    d2 = discover("--static", e1.addr, "--admin", "127.0.0.1:0", runtime_dir=other)
    api2 = Admin(d2, int(d2.wait_log(r"admin listening admin=[^ ]*:(\d+)").group(1)))
    box = {}
    w = threading.Thread(target=lambda: box.setdefault("r", call(
        "POST", B + "/drain", 503, B.replace("{address}", enc(e1.addr)) + "/drain?wait=60",
        on=api2)))
    w.start()
    w.join(0.3)
    assert w.is_alive(), box
    assert d2.stop() == 0
    w.join(10 * SLOW)
    assert "r" in box
    shutil.rmtree(other, ignore_errors=True)
    # every documented (route, status) was exercised: a new one needs a case here
    wanted = {(m, p, int(s)) for (m, p), op in ops.items() for s in op["responses"]}
    assert wanted - seen == set(), f"documented but not exercised: {sorted(wanted - seen)}"


def test_every_route_the_programs_answer_is_documented(echo, discover, proxy, rundir):
    """The other way round: lb-discover's 404 lists its routes, and each one
    is in the document; lb-proxy's too."""
    doc = load_doc()
    e1 = echo()
    d = discover("--static", e1.addr, "--admin", "127.0.0.1:0")
    api = Admin(d, int(d.wait_log(r"admin listening admin=[^ ]*:(\d+)").group(1)))
    st, _, r = api.call("GET", "/nothing")
    assert st == 404
    listed = re.findall(r"/admin/[a-z]+", r["error"])
    assert listed and all(p in doc["paths"] for p in listed), listed
    for suffix in ("drain", "undrain", "weight", "uneject"):
        assert f"/admin/backends/{{address}}/{suffix}" in doc["paths"]
    p = proxy([e1.addr])
    st, body = p.admin("/nothing")
    assert st == 404
    listed = re.findall(r"/[a-z/-]+", body["error"].split("try", 1)[1])
    assert listed and all(x in doc["paths"] for x in listed), listed


@pytest.mark.no_lb_binaries
def test_every_verb_route_is_documented():
    """A verb's row in common/verbs.c that names an admin API route (method,
    path) is in the document: a new verb cannot reach the API undocumented."""
    doc = load_doc()
    with open(os.path.join(ROOT, "common", "verbs.c")) as f:
        text = f.read()
    backend = re.search(r'#define BACKEND "([^"]+)"', text).group(1)
    text = text.replace('BACKEND "', f'"{backend}').replace("BACKEND }", f'"{backend}" }}')
    routes = re.findall(r'"(GET|POST|PUT|DELETE|PATCH)", "(/admin/[^"]*)" \}', text)
    assert len(routes) >= 5, routes
    for method, path in routes:
        assert path in doc["paths"] and method.lower() in doc["paths"][path], (method, path)


def test_lb_proxy_answers_the_write_routes_on_its_own_set(echo, proxy):
    """Issue 27: seed 004's add/remove existed only on lb-discover; lb-proxy's
    admin port answered 405. With --backends it owns its set: the same
    routes, bodies, statuses and token rules as lb-discover's (the document's
    schemas), and the set it then balances over changes."""
    doc = load_doc()
    ops = documented(doc)
    seen = set()
    e1, e2 = echo("--access-log", "off"), echo("--access-log", "off")
    token_path = tempfile.mktemp(prefix="lb-token-")
    with open(token_path, "w") as f:
        f.write("tok\n")
    px = proxy([e1.addr], "--admin-token", token_path)
    os.unlink(token_path)
    api = Admin(px.proc, px.admin_port, "tok")
    enc = lambda a: urllib.parse.quote(a, safe="")
    B = "/admin/backends/{address}"

    def call(method, template, status, path=None, body=None, token="default"):
        return checked_call(doc, ops, seen, api, method, template, status, path, body, token)

    def at(addr, suffix=""):
        return B.replace("{address}", enc(addr)) + suffix

    call("GET", "/admin/backends", 200)
    call("GET", "/admin/health", 200)
    # add (RFC 9110 15.3.2: 201 for a created resource)
    got = call("POST", "/admin/backends", 201, body={"address": f"http://{e2.addr}", "weight": 3})
    assert got["address"] == e2.addr
    call("POST", "/admin/backends", 409, body={"address": e2.addr})
    call("POST", "/admin/backends", 400, body={"weight": 3})
    call("POST", "/admin/backends", 400, body={"address": "localhost.example:80"})  # no DNS
    call("POST", "/admin/backends", 401, body={"address": "10.0.0.5:80"}, token=None)
    call("POST", "/admin/backends", 403, body={"address": "10.0.0.5:80"}, token="nope")
    rows = {b["address"]: b for b in call("GET", "/admin/backends", 200)["backends"]}
    assert rows[e2.addr]["weight"] == 3 and rows[e2.addr]["state"] == "up", rows
    assert len(px.admin("/info")[1]["backends"]) == 2
    assert all(px.request("GET", "/")[0] == 200 for _ in range(4))
    for method, template, body in (("DELETE", B, None), ("POST", B + "/drain", None),
                                   ("POST", B + "/undrain", None),
                                   ("POST", B + "/uneject", None),
                                   ("PUT", B + "/weight", {"weight": 2})):
        path = template.replace("{address}", enc(e2.addr))
        call(method, template, 401, path, body, token=None)
        call(method, template, 403, path, body, token="nope")
        call(method, template, 404, template.replace("{address}", "10.9.9.9:80"), body)
        call(method, template, 400, template.replace("{address}", "no-port"), body)
        call(method, template, 414, template.replace("{address}", "a" * 600), body)
    call("PUT", B + "/weight", 400, at(e2.addr, "/weight"), {"weight": 0})
    call("PUT", B + "/weight", 200, at(e2.addr, "/weight"), {"weight": 5})
    assert api.rows()[e2.addr]["weight"] == 5
    call("POST", B + "/drain", 200, at(e2.addr, "/drain"))
    assert api.rows()[e2.addr]["state"] == "draining"
    assert {b["address"]: b["state"] for b in px.admin("/info")[1]["backends"]}[e2.addr] == \
        "draining"
    call("POST", B + "/undrain", 200, at(e2.addr, "/undrain"))
    call("POST", B + "/uneject", 200, at(e2.addr, "/uneject"))
    got = call("POST", B + "/drain", 200, at(e2.addr, "/drain?wait=5"))
    assert got["drained"] is True and got["in_flight"] == 0, got
    call("DELETE", B, 200, at(e2.addr))
    assert list(api.rows()) == [e1.addr]
    assert "operator command=remove address=" + e2.addr in px.proc.text()


def test_lb_proxy_writes_without_a_token_only_on_loopback(echo, procs):
    """docs/admin-api.md's rule, as lb-discover's: no token, writes from a
    loopback --admin only (--admin-insecure opens them)."""
    e1 = echo("--access-log", "off")

    def start(*flags):
        p = procs([binary("lb-proxy"), "--listen", "127.0.0.1:0", "--backends", e1.addr,
                   "--admin", "0.0.0.0:0", *flags])
        return Admin(p, int(p.wait_log(r"admin listening admin=0\.0\.0\.0:(\d+)").group(1)))

    st, _, got = start().call("POST", "/admin/backends", {"address": "10.0.0.5:80"})
    assert st == 403 and "--admin-token" in got["error"], got
    st, _, got = start("--admin-insecure").call("POST", "/admin/backends",
                                                {"address": "10.0.0.5:80"})
    assert st == 201, got
