"""lb-discover's spans (docs/tracing.md#lb-discover): one SERVER span per write
of its admin API (add, remove, drain, undrain, weight, uneject), named by the
HTTP semantic conventions "{method} {route}" with the route's template, the
backend's address and the result; and, in --kubernetes mode, one span per
write of the shared state another replica got ahead of (409 Conflict, re-read
and re-applied). Exported as OTLP/HTTP JSON to the strict receiver
(tests/support/otlpreceiver.py), as lb-proxy's are."""
import pytest

from conftest import SLOW, wait_for
from support.otlpreceiver import Receiver
from test_admin_api import Admin
from test_k8s import NS, pods  # noqa: F401 (a fixture)

TP = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
FAST = {"OTEL_BSP_SCHEDULE_DELAY": "50"}


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()
    assert not r.errors, r.errors


def start_admin(discover, *flags, env_extra=None):
    p = discover(*flags, "--admin", "127.0.0.1:0", env_extra=env_extra)
    return Admin(p, int(p.wait_log(r"admin listening admin=[^ ]*:(\d+)").group(1)))


def span_named(receiver, name, n=1):
    return wait_for(f"{n} span(s) {name}", lambda: (lambda got: got if len(got) >= n else None)(
        [s for s in list(receiver.spans) if s["name"] == name]), timeout=10 * SLOW)


def test_admin_writes_are_server_spans(echo, discover, receiver):
    """Each write is one SERVER span: "{method} {route}" (never the raw
    path), http.route, the status, lb.backend.address and lb.result; the
    child of the caller's traceparent (W3C Trace Context 3.2); a 4xx is the
    client's (status unset, lb.result the API's error); reads make none."""
    e1, e2, e3 = echo(), echo(), echo()
    a = start_admin(discover, "--static", f"{e1.addr},{e2.addr}", "--otlp-endpoint",
                    receiver.url, env_extra=FAST)
    assert a.call("POST", f"/admin/backends/{e1.addr}/drain",
                  headers={"traceparent": TP})[0] == 200
    drain, = span_named(receiver, "POST /admin/backends/{address}/drain")
    assert drain["kind"] == "SERVER" and drain["trace_id"] == TRACE
    assert drain["parent_id"] == "00f067aa0ba902b7"
    at = drain["attributes"]
    assert at["http.request.method"] == ("string", "POST")
    assert at["http.route"] == ("string", "/admin/backends/{address}/drain")
    assert at["url.path"] == ("string", f"/admin/backends/{e1.addr}/drain")
    assert at["http.response.status_code"] == ("int", 200)
    assert at["lb.backend.address"] == ("string", e1.addr)
    assert at["lb.result"] == ("string", "ok")
    assert at["network.peer.address"] == ("string", "127.0.0.1")
    assert drain["status"] == "UNSET"
    assert drain["resource"]["service.name"] == ("string", "lb-discover")
    assert drain["scope"] == "lb-discover"
    # the other writes, each its span; a new trace without a traceparent
    assert a.call("POST", "/admin/backends", body={"address": e3.addr})[0] == 201
    assert a.call("PUT", f"/admin/backends/{e2.addr}/weight", body={"weight": 5})[0] == 200
    assert a.call("POST", f"/admin/backends/{e1.addr}/undrain")[0] == 200
    assert a.call("POST", f"/admin/backends/{e2.addr}/uneject")[0] in (200, 409)
    assert a.call("DELETE", f"/admin/backends/{e3.addr}")[0] == 200
    add, = span_named(receiver, "POST /admin/backends")
    assert add["attributes"]["http.response.status_code"] == ("int", 201)
    assert add["attributes"]["lb.backend.address"] == ("string", e3.addr)
    assert add["parent_id"] is None and add["trace_id"] != TRACE
    for name in ("PUT /admin/backends/{address}/weight", "POST /admin/backends/{address}/undrain",
                 "POST /admin/backends/{address}/uneject", "DELETE /admin/backends/{address}"):
        span_named(receiver, name)
    # refused: 400 with the API's message as the result, status unset (4xx)
    st, _, doc = a.call("PUT", f"/admin/backends/{e1.addr}/weight", body={"weight": 5000})
    assert st == 400
    bad = wait_for("the refused weight's span", lambda: [
        s for s in list(receiver.spans) if s["name"] == "PUT /admin/backends/{address}/weight"
        and s["attributes"]["http.response.status_code"] == ("int", 400)], timeout=10 * SLOW)[0]
    assert bad["attributes"]["lb.result"] == ("string", doc["error"])
    assert bad["status"] == "UNSET"
    n = len(receiver.spans)
    assert a.call("GET", "/admin/backends")[0] == 200
    assert a.call("GET", "/admin/health")[0] == 200
    # one more write proves the reads' spans would have arrived by now
    assert a.call("POST", f"/admin/backends/{e1.addr}/drain")[0] == 200
    span_named(receiver, "POST /admin/backends/{address}/drain", 2)
    assert len(receiver.spans) == n + 1
    assert not [s for s in receiver.spans if s["name"].startswith("GET")]
    # the exporter's counters on /admin/metrics, as lb-proxy's on its /metrics
    import re

    def exported():
        text = a.call("GET", "/admin/metrics")[2]
        return int(re.search(r"^lb_discover_trace_spans_exported_total (\d+)$", text,
                             re.M).group(1))
    wait_for("every span counted exported", lambda: exported() == len(receiver.spans))


def test_unsampled_caller_is_honoured(echo, discover, receiver):
    """Parent-based: a caller whose traceparent says not sampled (-00) gets
    no span; OTEL_TRACES_SAMPLER=always_off records no new trace."""
    e1 = echo()
    a = start_admin(discover, "--static", e1.addr, "--otlp-endpoint", receiver.url,
                    env_extra={**FAST, "OTEL_TRACES_SAMPLER": "parentbased_always_off"})
    assert a.call("POST", f"/admin/backends/{e1.addr}/drain",
                  headers={"traceparent": TP[:-2] + "00"})[0] == 200
    assert a.call("POST", f"/admin/backends/{e1.addr}/undrain")[0] == 200
    assert a.call("POST", f"/admin/backends/{e1.addr}/drain", headers={"traceparent": TP})[0] == 200
    span = span_named(receiver, "POST /admin/backends/{address}/drain")[0]
    assert span["trace_id"] == TRACE
    assert len(receiver.spans) == 1


def test_a_shared_state_conflict_is_a_span(sim, pods, discover, rundir, receiver):
    """--kubernetes: a write of the shared state another writer got ahead of
    (409 Conflict on its resourceVersion) is a span "shared state conflict",
    from the write to the answer; the change is re-read, re-applied and
    lands (gzip on this exporter, as --otlp-compression sets it)."""
    from conftest import ctl_json
    ips, port = pods(2)
    sim.set_service(NS, "backend", ready=ips, port=port)
    a = start_admin(discover, "--kubernetes", "backend", "--namespace", NS, "--api-server",
                    sim.url, "--port", "http", "--no-health-check", "--pod-name", "lb-a",
                    "--otlp-endpoint", receiver.url, "--otlp-compression", "gzip",
                    env_extra=FAST)
    wait_for("the shared state synced", lambda: ctl_json(rundir, "status")["shared_state"]["synced"])
    # another writer, unseen by the watch: the replica's next write is stale
    with sim.lock:
        cm = sim.configmaps.objects[(NS, "lb-state-backend")]
        cm["metadata"]["resourceVersion"] = "987654321"
    addr = f"{ips[0]}:{port}"
    assert a.call("POST", f"/admin/backends/{addr}/drain")[0] == 200
    span, = span_named(receiver, "shared state conflict")
    assert span["kind"] == "INTERNAL" and span["parent_id"] is None
    at = span["attributes"]
    assert at["http.response.status_code"] == ("int", 409)
    assert at["lb.shared_state.configmap"] == ("string", "lb-state-backend")
    assert at["k8s.namespace.name"] == ("string", NS)
    assert at["lb.shared_state.operations"] == ("int", 1)
    assert [e["name"] for e in span["events"]] == ["re-read and re-applied"]
    wait_for("the drain in the shared state", lambda: [
        b for b in __import__("json").loads(sim.configmaps.objects[(NS, "lb-state-backend")]
                                            ["data"]["state.json"])["backends"]
        if b["address"] == addr and b.get("drained")])
    assert receiver.requests[-1][1].get("Content-Encoding") == "gzip"
    span_named(receiver, "POST /admin/backends/{address}/drain")


def test_check_config_reads_lb_discovers_tracing_settings():
    """--check-config refuses a bad endpoint or compression as start-up
    would (exit 2, the reason named), and passes a valid one."""
    import os
    import subprocess
    from conftest import binary
    base = [binary("lb-discover"), "--static", "127.0.0.1:1", "--check-config"]

    def run(*flags, env=None):
        return subprocess.run(base + list(flags), capture_output=True, text=True,
                              timeout=30 * SLOW, env={**os.environ, **(env or {})})
    bad = run("--otlp-endpoint", "ftp://x")
    assert bad.returncode == 2 and "http:// or https:// URL" in bad.stderr
    bad = run("--otlp-endpoint", "http://c:4318", env={"OTEL_EXPORTER_OTLP_COMPRESSION": "br"})
    assert bad.returncode == 2 and 'OTEL_EXPORTER_OTLP_COMPRESSION "br" must be gzip or none' \
        in bad.stderr
    good = run("--otlp-endpoint", "http://c:4318", "--otlp-compression", "gzip")
    assert good.returncode == 0, good.stderr
