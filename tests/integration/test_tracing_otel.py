"""lb-proxy's traces against real OpenTelemetry code: a client and a backend
instrumented with the OpenTelemetry JavaScript SDK (tests/otel/sdk.mjs:
@opentelemetry/sdk-trace-node, the W3C propagator, the OTLP/HTTP JSON
exporter) with lb-proxy between them; all three export to one receiver that
decodes every body strictly by the OTLP JSON mapping
(tests/support/otlpreceiver.py). One trace of four spans must come out, in
the parent chain client CLIENT -> lb SERVER -> lb CLIENT -> backend SERVER."""
import json
import os
import shutil
import subprocess

import pytest

from conftest import SLOW, wait_for
from support.otlpreceiver import Receiver

HERE = os.path.dirname(os.path.abspath(__file__))
OTEL = os.path.join(HERE, "..", "otel")
SDK = os.path.join(OTEL, "sdk.mjs")


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()
    assert not r.errors, r.errors


def test_one_trace_of_four_spans_through_lb(procs, proxy, receiver):
    node = shutil.which("node")
    assert node and os.path.isdir(os.path.join(OTEL, "node_modules", "@opentelemetry")), \
        "run make test-deps (node and tests/otel's npm packages)"
    backend = procs([node, SDK, "backend", receiver.url])
    port = int(backend.wait_log(r"listening (\d+)", timeout=30).group(1))
    p = proxy([f"127.0.0.1:{port}"], "--otlp-endpoint", receiver.url, "--otlp-interval", "0.05")
    out = subprocess.run([node, SDK, "client", receiver.url, f"http://127.0.0.1:{p.port}/chain"],
                         capture_output=True, text=True, timeout=60 * SLOW)
    assert out.returncode == 0, out.stderr
    client = json.loads(out.stdout)
    assert client["status"] == 200
    trace = client["traceId"]

    def four():
        got = [s for s in list(receiver.spans) if s["trace_id"] == trace]
        return got if len(got) >= 4 else None
    spans = wait_for("four spans of one trace", four, timeout=30 * SLOW)
    assert len(spans) == 4 and len({s["trace_id"] for s in receiver.spans}) == 1

    by_sender = {}
    for s in spans:
        who = "lb" if s["sender"].startswith("lb-proxy") else s["resource"]["service.name"][1]
        by_sender.setdefault(who, []).append(s)
    sdk_client, = by_sender["otel-client"]
    sdk_backend, = by_sender["otel-backend"]
    lb_server, = [s for s in by_sender["lb"] if s["kind"] == "SERVER"]
    lb_client, = [s for s in by_sender["lb"] if s["kind"] == "CLIENT"]

    # the parent chain
    assert sdk_client["kind"] == "CLIENT" and sdk_client["parent_id"] is None
    assert sdk_client["span_id"] == client["spanId"]
    assert lb_server["parent_id"] == sdk_client["span_id"]
    assert lb_client["parent_id"] == lb_server["span_id"]
    assert sdk_backend["kind"] == "SERVER" and sdk_backend["parent_id"] == lb_client["span_id"]
    # what the backend saw is lb's CLIENT span
    seen = json.loads(client["body"])["traceparent"]
    assert seen == f"00-{trace}-{lb_client['span_id']}-01"
    # nested in time, within lb (Node's clock is its own: performance.now
    # from a time origin, off the wall clock by some milliseconds)
    assert lb_server["start"] <= lb_client["start"] <= lb_client["end"] <= lb_server["end"]
    assert sdk_client["start"] <= sdk_client["end"] and sdk_backend["start"] <= sdk_backend["end"]

    # the attributes of the HTTP semantic conventions
    a = lb_server["attributes"]
    assert a["http.request.method"] == ("string", "GET") and a["url.path"] == ("string", "/chain")
    assert a["http.response.status_code"] == ("int", 200)
    assert a["user_agent.original"] == ("string", "otel-sdk-client")
    assert a["server.port"] == ("int", p.port) and a["client.address"] == ("string", "127.0.0.1")
    c = lb_client["attributes"]
    assert c["server.port"] == ("int", port) and c["http.response.status_code"] == ("int", 200)

    # the SDK's JSON and lb's decode the same way: the same keys typed alike
    for key in ("http.request.method", "http.response.status_code", "server.address",
                "server.port"):
        assert sdk_client["attributes"][key][0] == lb_client["attributes"][key][0], key
    for key in ("http.request.method", "url.path", "url.scheme", "user_agent.original",
                "http.response.status_code", "network.peer.address"):
        assert sdk_backend["attributes"][key][0] == lb_server["attributes"][key][0], key
    for s in spans:
        assert set(s) >= {"trace_id", "span_id", "parent_id", "name", "kind", "start", "end",
                          "attributes", "events", "status"}
        assert s["name"] == "GET" and s["status"] == "UNSET"
        assert s["resource"]["service.name"][0] == "string"
