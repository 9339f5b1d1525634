"""lb-proxy's OTLP export compressed with gzip (docs/tracing.md#export): the
OTLP/HTTP specification's one compression, `Content-Encoding: gzip`, chosen
by --otlp-compression or OTEL_EXPORTER_OTLP_[TRACES_]COMPRESSION (OpenTelemetry's
SDK configuration: "gzip" or "none"). The strict receiver gunzips the body
and decodes it by the OTLP JSON mapping; a body that is not gzip fails it."""
import os
import subprocess

from conftest import SLOW, binary
# the strict receiver and the traced backend, and the incoming traceparent
from test_tracing import TP, TRACE, backend, receiver  # noqa: F401


def exported_encoding(proxy, backend, receiver, *flags, env=None):
    """One traced request; the Content-Encoding its export came with."""
    from conftest import wait_for
    p = proxy([backend.addr], "--otlp-endpoint", receiver.url, "--otlp-interval", "0.05",
              *flags, env=env)
    assert p.request("GET", "/z?q=1", headers={"traceparent": TP,
                                                "user-agent": "z" * 300})[0] == 200
    spans = wait_for("the request's two spans", lambda: (lambda got: got if len(got) == 2 else None)(
        [s for s in list(receiver.spans) if s["trace_id"] == TRACE]), timeout=10 * SLOW)
    server = next(s for s in spans if s["kind"] == "SERVER")
    # what was compressed is what was sent: the attributes come back whole
    assert server["attributes"]["user_agent.original"] == ("string", "z" * 300)
    assert server["attributes"]["url.query"] == ("string", "q=1")
    h = {k.lower(): v for k, v in receiver.requests[-1][1].items()}
    return h.get("content-encoding")


def test_otlp_compression_gzip(proxy, backend, receiver):
    """--otlp-compression gzip: each body is one gzip member,
    Content-Encoding: gzip (OTLP/HTTP, "Request"), decoded whole."""
    assert exported_encoding(proxy, backend, receiver, "--otlp-compression", "gzip") == "gzip"


def test_no_compression_by_default(proxy, backend, receiver):
    assert exported_encoding(proxy, backend, receiver) is None


def test_compression_from_the_otel_variables(proxy, backend, receiver):
    """OTEL_EXPORTER_OTLP_TRACES_COMPRESSION wins over
    OTEL_EXPORTER_OTLP_COMPRESSION (the SDK configuration's order)."""
    env = {"OTEL_EXPORTER_OTLP_COMPRESSION": "none",
           "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": "gzip"}
    assert exported_encoding(proxy, backend, receiver, env=env) == "gzip"


def test_the_flag_wins_over_the_variable(proxy, backend, receiver):
    env = {"OTEL_EXPORTER_OTLP_COMPRESSION": "gzip"}
    assert exported_encoding(proxy, backend, receiver, "--otlp-compression", "none",
                             env=env) is None


def test_an_unknown_compression_is_refused():
    """A value other than gzip or none stops start-up (exit 2, --check-config
    too), naming where it came from."""
    base = [binary("lb-proxy"), "--backends", "127.0.0.1:1", "--check-config",
            "--otlp-endpoint", "http://c:4318"]
    bad = subprocess.run(base + ["--otlp-compression", "zstd"], capture_output=True, text=True,
                         timeout=30 * SLOW)
    assert bad.returncode == 2 and '--otlp-compression "zstd" must be gzip or none' in bad.stderr
    bad = subprocess.run(base, capture_output=True, text=True, timeout=30 * SLOW,
                         env={**os.environ, "OTEL_EXPORTER_OTLP_COMPRESSION": "deflate"})
    assert bad.returncode == 2 and "OTEL_EXPORTER_OTLP_COMPRESSION" in bad.stderr
