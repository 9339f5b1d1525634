"""lb-proxy's traces (docs/tracing.md): W3C Trace Context in and out
(https://www.w3.org/TR/trace-context/, sections named per case), its spans by
the stable HTTP semantic conventions exported as OTLP/HTTP JSON to a test
receiver that decodes them strictly (tests/support/otlpreceiver.py), the
sampler, and the exporter under a collector that fails, stalls or is gone."""
import re
import time

import pytest

from conftest import SLOW, wait_for
from support.net import dead_addr
from support.otlpreceiver import Receiver
from support.rawbackend import RawBackend, ok, serve_each

TP = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
TP_RX = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-(0[01])$")


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()
    assert not r.errors, r.errors


@pytest.fixture
def backend():
    b = RawBackend(serve_each(lambda head, headers, body: ok(b"traced")))
    yield b
    b.close()


def traced(proxy, backends, receiver, *flags, env=None):
    return proxy(backends, "--otlp-endpoint", receiver.url, "--otlp-interval", "0.05",
                 *flags, env=env)


def metric(p, name):
    m = re.search(rf"^{name} (\d+)$", p.admin("/metrics")[1], re.M)
    assert m, name
    return int(m.group(1))


def last_headers(backend):
    return backend.requests[-1][1]


def spans_of(receiver, trace_id, n):
    return wait_for(f"{n} spans of {trace_id}", lambda: (
        lambda got: got if len(got) >= n else None)(
            [s for s in list(receiver.spans) if s["trace_id"] == trace_id]), timeout=10 * SLOW)


def test_spans_of_a_request_by_the_http_semantic_conventions(proxy, backend, receiver):
    """3.2: lb continues the caller's trace; the backend's parent is lb's
    CLIENT span, whose parent is lb's SERVER span, whose parent is the
    caller's; tracestate goes on (3.3)."""
    p = traced(proxy, [backend.addr], receiver)
    status, _, body = p.request("GET", "/items/7?color=red",
                                headers={"traceparent": TP, "tracestate": "congo=t61rcWkgMzE",
                                         "User-Agent": "trace-test/1",
                                         "X-Request-Id": "rid-1"})
    assert status == 200 and body == b"traced"
    sent = last_headers(backend)
    assert len(sent["traceparent"]) == 1 and sent["tracestate"] == ["congo=t61rcWkgMzE"]
    m = TP_RX.match(sent["traceparent"][0])
    assert m and m.group(1) == TRACE and m.group(3) == "01"
    spans = spans_of(receiver, TRACE, 2)
    server = [s for s in spans if s["kind"] == "SERVER"][0]
    client = [s for s in spans if s["kind"] == "CLIENT"][0]
    assert server["parent_id"] == "00f067aa0ba902b7"
    assert client["parent_id"] == server["span_id"]
    assert m.group(2) == client["span_id"]
    assert server["name"] == client["name"] == "GET"      # {method}: no route yet
    a = server["attributes"]
    assert a["http.request.method"] == ("string", "GET")
    assert a["url.path"] == ("string", "/items/7") and a["url.query"] == ("string", "color=red")
    assert a["url.scheme"] == ("string", "http")
    assert a["http.response.status_code"] == ("int", 200)
    assert a["server.address"] == ("string", "127.0.0.1")
    assert a["server.port"] == ("int", p.port)
    assert a["client.address"] == ("string", "127.0.0.1")
    assert a["network.peer.address"] == ("string", "127.0.0.1")
    assert a["user_agent.original"] == ("string", "trace-test/1")
    assert "error.type" not in a and server["status"] == "UNSET"
    c = client["attributes"]
    assert c["server.address"] == ("string", "127.0.0.1")
    assert c["server.port"] == ("int", backend.port)
    assert c["url.full"] == ("string", f"http://{backend.addr}/items/7?color=red")
    assert c["http.response.status_code"] == ("int", 200)
    assert "http.request.resend_count" not in c
    assert server["start"] <= client["start"] <= client["end"] <= server["end"]
    res = server["resource"]
    assert res["service.name"] == ("string", "lb-proxy")
    assert re.match(r"^[0-9a-f-]{36}$", res["service.instance.id"][1])
    assert server["forms"]["time"] == "string"              # unixNano as strings
    # the access log names both ids
    p.proc.wait_log(rf'request_id="rid-1" trace_id="{TRACE}"')


@pytest.mark.parametrize("bad", [
    "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01",   # 3.2.2: lower-case hex only
    "00-00000000000000000000000000000000-00f067aa0ba902b7-01",   # 3.2.2.3: all-zero trace-id
    "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",   # 3.2.2.4: all-zero parent-id
    "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",   # 3.2.2.2: version ff
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",  # 3.2.4: 00 is 55 long
])
def test_malformed_traceparent_starts_a_new_trace(proxy, backend, receiver, bad):
    """3.2 / 3.3: an invalid traceparent is ignored with its tracestate: a
    new trace starts and the bad value never reaches the backend."""
    p = traced(proxy, [backend.addr], receiver)
    assert p.request("GET", "/bad", headers={"traceparent": bad, "tracestate": "a=b"})[0] == 200
    sent = last_headers(backend)
    assert len(sent["traceparent"]) == 1 and bad not in sent["traceparent"]
    m = TP_RX.match(sent["traceparent"][0])
    assert m and m.group(1) != TRACE and "tracestate" not in sent
    server = [s for s in spans_of(receiver, m.group(1), 2) if s["kind"] == "SERVER"][0]
    assert server["parent_id"] is None


def test_two_traceparent_fields_start_a_new_trace(proxy, backend, receiver):
    """3.2: more than one traceparent is as invalid as a malformed one."""
    p = traced(proxy, [backend.addr], receiver)
    c = p.conn()
    c.putrequest("GET", "/twice")
    c.putheader("traceparent", TP)
    c.putheader("traceparent", TP)
    c.endheaders()
    assert c.getresponse().status == 200
    c.close()
    sent = last_headers(backend)
    assert len(sent["traceparent"]) == 1
    assert TP_RX.match(sent["traceparent"][0]).group(1) != TRACE


def test_without_an_endpoint_lb_only_passes_the_context_on(proxy, backend):
    """Off by default: a valid context goes on unchanged (3.4: a vendor MAY
    leave parent-id as it is), an invalid one is dropped, none is added."""
    p = proxy([backend.addr])
    assert p.request("GET", "/a", headers={"traceparent": TP, "tracestate": " x=1 , y=2"})[0] == 200
    assert last_headers(backend)["traceparent"] == [TP]
    assert last_headers(backend)["tracestate"] == ["x=1,y=2"]
    p.proc.wait_log(rf'request="GET /a" .* trace_id="{TRACE}"')
    assert p.request("GET", "/b", headers={"traceparent": TP.upper(), "tracestate": "x=1"})[0] == 200
    assert "traceparent" not in last_headers(backend) and "tracestate" not in last_headers(backend)
    assert p.request("GET", "/c")[0] == 200
    assert "traceparent" not in last_headers(backend)
    p.proc.wait_log(r'request="GET /c" .* trace_id="-"( |\n)')
    assert "lb_proxy_trace_spans_exported_total 0" in p.admin("/metrics")[1]


def test_unsampled_parent_is_honoured_and_not_exported(proxy, backend, receiver):
    """Parent-based sampling: sampled=0 from the caller (3.2.2.5.1) means no
    span of lb's is exported, and the flag goes on as 00."""
    p = traced(proxy, [backend.addr], receiver)
    unsampled = "00-11111111111111111111111111111111-2222222222222222-00"
    assert p.request("GET", "/quiet", headers={"traceparent": unsampled})[0] == 200
    m = TP_RX.match(last_headers(backend)["traceparent"][0])
    assert m.group(1) == "1" * 32 and m.group(3) == "00"
    # a sampled request after it is exported: the quiet one never is
    assert p.request("GET", "/loud", headers={"traceparent": TP})[0] == 200
    spans_of(receiver, TRACE, 2)
    assert not [s for s in receiver.spans if s["trace_id"] == "1" * 32]


def test_trace_sample_ratio_for_new_traces(proxy, backend, receiver):
    """--trace-sample 0: no new trace is recorded, but the backend still gets
    a traceparent (not sampled) to continue; an incoming sampled parent is
    still honoured (parent-based)."""
    p = traced(proxy, [backend.addr], receiver, "--trace-sample", "0")
    for _ in range(5):
        assert p.request("GET", "/new")[0] == 200
        m = TP_RX.match(last_headers(backend)["traceparent"][0])
        assert m and m.group(3) == "00"
    assert p.request("GET", "/continued", headers={"traceparent": TP})[0] == 200
    spans = spans_of(receiver, TRACE, 2)
    assert {s["kind"] for s in spans} == {"SERVER", "CLIENT"}
    assert len({s["trace_id"] for s in receiver.spans}) == 1


def test_retries_and_5xx_in_spans(proxy, receiver):
    """A failed attempt is its own CLIENT span with error.type, the next one
    has http.request.resend_count; the SERVER span says "retried"; a 5xx
    answer makes the SERVER span an Error (4xx would not)."""
    failing = RawBackend(serve_each(lambda h, hd, b: b"HTTP/1.1 503 Nope\r\nContent-Length: 0\r\n\r\n"))
    try:
        p = traced(proxy, [dead_addr(), failing.addr], receiver, "--retries", "1",
                   "--balance", "round-robin", "--retry-backoff", "0", "--fail-timeout", "0")
        saw_retry = False
        for i in range(4):
            tp = f"00-{i + 1:032x}-00f067aa0ba902b7-01"
            assert p.request("GET", f"/r{i}", headers={"traceparent": tp})[0] == 503
            spans = spans_of(receiver, f"{i + 1:032x}", 2)
            server = [s for s in spans if s["kind"] == "SERVER"][0]
            assert server["status"] == "ERROR"
            assert server["attributes"]["error.type"] == ("string", "503")
            clients = [s for s in spans if s["kind"] == "CLIENT"]
            if len(clients) == 2 or any(e["name"] == "retried" for e in server["events"]):
                spans = spans_of(receiver, f"{i + 1:032x}", 3)
                clients = sorted([s for s in spans if s["kind"] == "CLIENT"],
                                 key=lambda s: s["start"])
                assert clients[0]["attributes"]["error.type"] == ("string", "connect-refused")
                assert clients[0]["status"] == "ERROR"
                assert clients[1]["attributes"]["http.request.resend_count"] == ("int", 1)
                assert clients[1]["attributes"]["http.response.status_code"] == ("int", 503)
                server = [s for s in spans if s["kind"] == "SERVER"][0]
                assert [e["name"] for e in server["events"]] == ["retried"]
                saw_retry = True
                break
        assert saw_retry
    finally:
        failing.close()


def test_export_is_retried_on_503(proxy, backend, receiver):
    """OTLP/HTTP: 429, 502, 503 and 504 are retried with back-off."""
    receiver.answer = [503, 429]
    p = traced(proxy, [backend.addr], receiver)
    assert p.request("GET", "/x", headers={"traceparent": TP})[0] == 200
    spans_of(receiver, TRACE, 2)
    assert metric(p, "lb_proxy_trace_export_retries_total") == 2
    assert wait_for("exported", lambda: metric(p, "lb_proxy_trace_spans_exported_total") == 2)
    assert metric(p, "lb_proxy_trace_spans_failed_total") == 0


def test_queue_overflow_is_counted(proxy, backend, receiver):
    """Past --otlp-queue-size spans are dropped and counted, never queued."""
    receiver.stall.set()
    p = traced(proxy, [backend.addr], receiver, "--otlp-queue-size", "8",
               "--otlp-batch-size", "4")
    for i in range(20):
        assert p.request("GET", f"/{i}")[0] == 200
    # 40 spans: one batch of 4 stalls in flight, 8 wait, the rest dropped
    wait_for("the first batch in flight", lambda: receiver.requests)
    dropped = metric(p, "lb_proxy_trace_spans_dropped_total")
    assert dropped >= 40 - 4 - 8 - 4, dropped
    assert metric(p, "lb_proxy_trace_spans_queued") <= 8


@pytest.mark.parametrize("collector", ["stalled", "gone"])
def test_collector_down_never_delays_requests(proxy, backend, receiver, collector):
    """A collector that holds every export unanswered (or is not there) costs
    requests nothing: each is answered as fast as without one, and spans
    past the queue are dropped and counted."""
    if collector == "stalled":
        receiver.stall.set()
        p = traced(proxy, [backend.addr], receiver, "--otlp-queue-size", "16",
                   "--otlp-batch-size", "8")
    else:
        p = proxy([backend.addr], "--otlp-endpoint", f"http://{dead_addr()}",
                  "--otlp-interval", "0.05", "--otlp-queue-size", "16", "--otlp-batch-size", "8")
    worst = 0.0
    for i in range(60):
        t = time.monotonic()
        assert p.request("GET", f"/{i}")[0] == 200
        worst = max(worst, time.monotonic() - t)
    # a blocking export would wait its 10 s timeout (or a connect) in the loop
    assert worst < 1.0 * SLOW, worst
    assert metric(p, "lb_proxy_trace_spans_dropped_total") > 0
    assert metric(p, "lb_proxy_trace_spans_exported_total") == 0


def test_otel_environment_variables(proxy, backend, receiver):
    """The standard OTEL_* variables: the endpoint (base URL, /v1/traces
    appended), headers (percent-decoded), the service name and resource
    attributes, the sampler's ratio; the Downward API's pod and namespace;
    --otlp-header wins over the environment's header of the same name."""
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url + "/",
           "OTEL_EXPORTER_OTLP_HEADERS": "x-tenant=a%20b,authorization=from-env",
           "OTEL_SERVICE_NAME": "edge",
           "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=test,service.name=ignored",
           "OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "1",
           "OTEL_BSP_SCHEDULE_DELAY": "50",
           "POD_NAME": "lb-proxy-7d9f", "POD_NAMESPACE": "shop"}
    p = proxy([backend.addr], "--otlp-header", "Authorization=Bearer t0k,en", env=env)
    assert p.request("GET", "/env", headers={"traceparent": TP})[0] == 200
    span = spans_of(receiver, TRACE, 2)[0]
    assert receiver.requests[0][0] == "/v1/traces"
    h = {k.lower(): v for k, v in receiver.requests[0][1].items()}
    assert h["x-tenant"] == "a b" and h["authorization"] == "Bearer t0k,en"
    r = span["resource"]
    assert r["service.name"] == ("string", "edge")
    assert r["deployment.environment"] == ("string", "test")
    assert r["k8s.pod.name"] == ("string", "lb-proxy-7d9f")
    assert r["k8s.namespace.name"] == ("string", "shop")


def mapped(pid):
    """The file names mapped into process pid (/proc/PID/maps)."""
    with open(f"/proc/{pid}/maps") as f:
        return {line.split()[-1] for line in f if len(line.split()) == 6}


def test_libcurl_is_loaded_only_for_an_exporter(proxy, backend, receiver):
    """lb-proxy loads libcurl when its OTLP exporter starts, not before
    (docs/tracing.md#libcurl): without --otlp-endpoint none of libcurl and
    what it needs is mapped (GnuTLS, 1.1 MiB of RSS, starts itself at load);
    with it, libcurl is mapped and the spans are exported."""
    plain = proxy([backend.addr])
    assert plain.request("GET", "/")[0] == 200
    names = mapped(plain.proc.pid)
    assert not [n for n in names if re.search(r"/lib(curl|gnutls|krb5|rtmp)\.so", n)], names
    p = traced(proxy, [backend.addr], receiver)
    assert p.request("GET", "/", headers={"traceparent": TP})[0] == 200
    spans_of(receiver, TRACE, 2)
    assert [n for n in mapped(p.proc.pid) if "/libcurl.so" in n]


def test_a_libcurl_that_cannot_load_stops_start_up(procs, tmp_path):
    """With --otlp-endpoint, a libcurl.so.4 that does not load (here a file
    that is no library, found first through LD_LIBRARY_PATH) stops start-up
    with exit 2 and says what to install."""
    from conftest import binary
    (tmp_path / "libcurl.so.4").write_bytes(b"not a library\n")
    p = procs([binary("lb-proxy"), "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
               "--backends", "127.0.0.1:1", "--otlp-endpoint", "http://127.0.0.1:1"],
              env={"LD_LIBRARY_PATH": str(tmp_path)})
    assert p.p.wait(10 * SLOW) == 2
    p.expect_exit = 2
    text = p.text()
    assert "cannot load libcurl" in text and "install Debian's libcurl4" in text, text
    assert "lb-proxy: libcurl cannot start" in text, text


def test_bad_endpoint_is_refused_at_start(procs):
    from conftest import binary
    p = procs([binary("lb-proxy"), "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
               "--backends", "127.0.0.1:1", "--otlp-endpoint", "collector:4318"])
    assert p.p.wait(10 * SLOW) == 2
    p.expect_exit = 2
    assert "http:// or https:// URL" in p.text()


def test_check_config_reads_the_tracing_settings():
    """--check-config refuses what start-up would (exit 2, the reason), and
    passes a valid endpoint."""
    import subprocess
    from conftest import binary
    base = [binary("lb-proxy"), "--backends", "127.0.0.1:1", "--check-config"]
    bad = subprocess.run(base + ["--otlp-endpoint", "ftp://x"], capture_output=True, text=True,
                         timeout=30 * SLOW)
    assert bad.returncode == 2 and "http:// or https:// URL" in bad.stderr
    env = {"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "lots"}
    bad = subprocess.run(base + ["--otlp-endpoint", "http://c:4318"], capture_output=True,
                         text=True, timeout=30 * SLOW, env={**__import__("os").environ, **env})
    assert bad.returncode == 2 and "OTEL_TRACES_SAMPLER_ARG" in bad.stderr
    ok_ = subprocess.run(base + ["--otlp-endpoint", "http://c:4318"], capture_output=True,
                         text=True, timeout=30 * SLOW)
    assert ok_.returncode == 0, ok_.stderr
