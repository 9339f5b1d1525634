"""A test OTLP/HTTP receiver: POST /v1/traces with a JSON body, decoded
strictly by the OTLP JSON mapping (opentelemetry-proto's trace.proto through
the proto3 JSON mapping, with OTLP's exceptions: trace and span ids as hex,
enums as integers). Every body is decoded into plain Python values, the same
way whichever SDK sent it; a body off the mapping is answered 400 and kept in
`errors` (a test asserts it is empty)."""
import gzip
import json
import re
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX16 = re.compile(r"^[0-9a-f]{16}$")
DIGITS = re.compile(r"^[0-9]+$")

SPAN_KINDS = {0: "UNSPECIFIED", 1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER",
              5: "CONSUMER"}
STATUS_CODES = {0: "UNSET", 1: "OK", 2: "ERROR"}


class Invalid(Exception):
    pass


def _keys(obj, allowed, where):
    if not isinstance(obj, dict):
        raise Invalid(f"{where}: not an object")
    extra = set(obj) - set(allowed)
    if extra:
        raise Invalid(f"{where}: unknown fields {sorted(extra)}")


def _uint64(v, where):
    """A fixed64/int64: a JSON string of digits, or a number (proto3 JSON
    allows both); returns (int, "string" | "number")."""
    if isinstance(v, str) and DIGITS.match(v):
        return int(v), "string"
    if isinstance(v, int) and not isinstance(v, bool) and v >= 0:
        return v, "number"
    raise Invalid(f"{where}: {v!r} is not a uint64")


def _int(v, where):
    if isinstance(v, str) and re.match(r"^-?[0-9]+$", v):
        return int(v)
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    raise Invalid(f"{where}: {v!r} is not an int64")


def _enum(v, table, where):
    if not isinstance(v, int) or isinstance(v, bool) or v not in table:
        raise Invalid(f"{where}: {v!r} is not one of the integer values {sorted(table)}")
    return table[v]


def _value(v, where):
    """AnyValue -> (type, value)."""
    _keys(v, ["stringValue", "boolValue", "intValue", "doubleValue", "arrayValue",
              "kvlistValue", "bytesValue"], where)
    if len(v) != 1:
        raise Invalid(f"{where}: an AnyValue has exactly one field, not {sorted(v)}")
    (k, x), = v.items()
    if k == "stringValue":
        if not isinstance(x, str):
            raise Invalid(f"{where}: stringValue {x!r}")
        return ("string", x)
    if k == "intValue":
        return ("int", _int(x, where))
    if k == "boolValue":
        if not isinstance(x, bool):
            raise Invalid(f"{where}: boolValue {x!r}")
        return ("bool", x)
    if k == "doubleValue":
        if not isinstance(x, (int, float)) or isinstance(x, bool):
            raise Invalid(f"{where}: doubleValue {x!r}")
        return ("double", float(x))
    if k == "arrayValue":
        _keys(x, ["values"], where)
        return ("array", tuple(_value(i, where) for i in x.get("values", [])))
    if k == "kvlistValue":
        _keys(x, ["values"], where)
        return ("kvlist", _attributes(x.get("values", []), where))
    return ("bytes", x)


def _attributes(lst, where):
    if not isinstance(lst, list):
        raise Invalid(f"{where}: attributes is not a list")
    out = {}
    for i, kv in enumerate(lst):
        _keys(kv, ["key", "value"], f"{where}[{i}]")
        if not isinstance(kv.get("key"), str):
            raise Invalid(f"{where}[{i}]: no key")
        if kv["key"] in out:
            raise Invalid(f"{where}: key {kv['key']} twice")
        out[kv["key"]] = _value(kv.get("value", {}), f"{where}[{i}].value")
    return out


def _id(v, rx, where, optional=False):
    if optional and (v is None or v == ""):
        return None
    if not isinstance(v, str) or not rx.match(v) or set(v) == {"0"}:
        raise Invalid(f"{where}: {v!r} is not a lower-case hex id")
    return v


def _span(s, where, forms):
    _keys(s, ["traceId", "spanId", "traceState", "parentSpanId", "flags", "name", "kind",
              "startTimeUnixNano", "endTimeUnixNano", "attributes", "droppedAttributesCount",
              "events", "droppedEventsCount", "links", "droppedLinksCount", "status"], where)
    start, forms["time"] = _uint64(s.get("startTimeUnixNano"), f"{where}.startTimeUnixNano")
    end, _ = _uint64(s.get("endTimeUnixNano"), f"{where}.endTimeUnixNano")
    if end < start:
        raise Invalid(f"{where}: ends before it starts")
    if not isinstance(s.get("name"), str) or not s["name"]:
        raise Invalid(f"{where}: no name")
    events = []
    for i, e in enumerate(s.get("events", [])):
        _keys(e, ["timeUnixNano", "name", "attributes", "droppedAttributesCount"],
              f"{where}.events[{i}]")
        events.append({"name": e["name"],
                       "time": _uint64(e.get("timeUnixNano"), f"{where}.events[{i}]")[0],
                       "attributes": _attributes(e.get("attributes", []), where)})
    status = s.get("status", {})
    _keys(status, ["code", "message"], f"{where}.status")
    return {
        "trace_id": _id(s.get("traceId"), HEX32, f"{where}.traceId"),
        "span_id": _id(s.get("spanId"), HEX16, f"{where}.spanId"),
        "parent_id": _id(s.get("parentSpanId"), HEX16, f"{where}.parentSpanId", True),
        "name": s["name"],
        "kind": _enum(s.get("kind", 0), SPAN_KINDS, f"{where}.kind"),
        "start": start, "end": end,
        "attributes": _attributes(s.get("attributes", []), f"{where}.attributes"),
        "events": events,
        "status": _enum(status.get("code", 0), STATUS_CODES, f"{where}.status.code"),
    }


def decode(body):
    """An ExportTraceServiceRequest's JSON -> a list of span dicts (each with
    its resource's attributes and scope name) and the forms seen."""
    doc = json.loads(body)
    _keys(doc, ["resourceSpans"], "request")
    spans, forms = [], {}
    for r, rs in enumerate(doc.get("resourceSpans", [])):
        _keys(rs, ["resource", "scopeSpans", "schemaUrl"], f"resourceSpans[{r}]")
        res = rs.get("resource", {})
        _keys(res, ["attributes", "droppedAttributesCount", "entityRefs"], "resource")
        rattrs = _attributes(res.get("attributes", []), f"resourceSpans[{r}].resource")
        for c, ss in enumerate(rs.get("scopeSpans", [])):
            where = f"resourceSpans[{r}].scopeSpans[{c}]"
            _keys(ss, ["scope", "spans", "schemaUrl"], where)
            scope = ss.get("scope", {})
            _keys(scope, ["name", "version", "attributes", "droppedAttributesCount"],
                  f"{where}.scope")
            for i, s in enumerate(ss.get("spans", [])):
                span = _span(s, f"{where}.spans[{i}]", forms)
                span["resource"] = rattrs
                span["scope"] = scope.get("name", "")
                spans.append(span)
    return spans, forms


class Receiver:
    """Listens on 127.0.0.1:<ephemeral>; `spans` are every span received
    (each with "sender": the User-Agent), `errors` the bodies refused;
    `answer` the statuses to give the next requests (then 200); `stall`: hold
    every request unanswered until close()."""

    def __init__(self):
        self.spans, self.errors, self.requests = [], [], []
        self.answer = []
        self.stall = threading.Event()
        self.closing = threading.Event()
        self.lock = threading.Lock()
        recv = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _body(self):
                """The request body: Content-Length, or chunked (RFC 9112 7.1;
                the JavaScript exporter streams its bodies)."""
                if "chunked" not in self.headers.get("Transfer-Encoding", "").lower():
                    return self.rfile.read(int(self.headers.get("Content-Length", "0")))
                out = b""
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return out
                    out += self.rfile.read(size)
                    self.rfile.readline()

            def do_POST(self):
                body = self._body()
                with recv.lock:
                    recv.requests.append((self.path, dict(self.headers)))
                if recv.stall.is_set():
                    recv.closing.wait(60)
                    return
                with recv.lock:
                    status = recv.answer.pop(0) if recv.answer else 200
                if self.path != "/v1/traces" or not self.headers.get(
                        "Content-Type", "").startswith("application/json"):
                    status = 404 if self.path != "/v1/traces" else 415
                elif status == 200:
                    try:
                        # OTLP/HTTP: gzip is the one compression a body may have
                        enc = self.headers.get("Content-Encoding", "identity").strip().lower()
                        if enc == "gzip":
                            body = gzip.decompress(body)
                        elif enc != "identity":
                            raise Invalid(f"Content-Encoding {enc!r} is not gzip")
                        spans, forms = decode(body)
                        for s in spans:
                            s["sender"] = self.headers.get("User-Agent", "")
                            s["forms"] = forms
                        with recv.lock:
                            recv.spans.extend(spans)
                    except (Invalid, ValueError, KeyError, TypeError, OSError, EOFError, zlib.error) as e:
                        with recv.lock:
                            recv.errors.append(f"{e}: {body[:2000]!r}")
                        status = 400
                out = b"{}"
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_spans(self, pred, what, timeout=10.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                got = [s for s in self.spans if pred(s)]
            if got:
                return got
            time.sleep(0.02)
        raise AssertionError(f"no span {what} in {len(self.spans)} received; errors {self.errors}")

    def close(self):
        self.closing.set()
        self.server.shutdown()
        self.server.server_close()
