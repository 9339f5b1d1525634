// A client and a backend instrumented with the OpenTelemetry JavaScript SDK
// (manual spans, the W3C propagator, the OTLP/HTTP JSON exporter), for
// tests/integration/test_tracing_otel.py:
//   node sdk.mjs backend OTLP_URL     serves HTTP on an ephemeral port (printed
//                                     on stderr as "listening PORT") with a
//                                     SERVER span per request
//   node sdk.mjs client OTLP_URL URL  one GET in a CLIENT span; prints the
//                                     status and the span's ids as JSON
import http from 'node:http';
import { context, propagation, trace, SpanKind, SpanStatusCode, ROOT_CONTEXT } from '@opentelemetry/api';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';

const [role, otlp, target] = process.argv.slice(2);
const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({ 'service.name': `otel-${role}` }),
  spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({ url: `${otlp}/v1/traces` }))],
});
provider.register();
const tracer = trace.getTracer('lb-otel-test', '1');

if (role === 'backend') {
  const server = http.createServer((req, res) => {
    const parent = propagation.extract(ROOT_CONTEXT, req.headers);
    const url = new URL(req.url, 'http://x');
    const span = tracer.startSpan(req.method, {
      kind: SpanKind.SERVER,
      attributes: {
        'http.request.method': req.method,
        'url.path': url.pathname,
        'url.scheme': 'http',
        'server.address': '127.0.0.1',
        'server.port': server.address().port,
        'network.peer.address': req.socket.remoteAddress,
        'user_agent.original': req.headers['user-agent'] || '',
      },
    }, parent);
    const body = JSON.stringify({
      traceparent: req.headers.traceparent || null,
      tracestate: req.headers.tracestate || null,
    });
    span.setAttribute('http.response.status_code', 200);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body, () => span.end());
  });
  server.listen(0, '127.0.0.1', () => console.error(`listening ${server.address().port}`));
  process.on('SIGTERM', async () => {
    server.close();
    await provider.shutdown();
    process.exit(0);
  });
} else {
  const url = new URL(target);
  const span = tracer.startSpan('GET', {
    kind: SpanKind.CLIENT,
    attributes: {
      'http.request.method': 'GET',
      'url.full': target,
      'server.address': url.hostname,
      'server.port': Number(url.port),
    },
  });
  const headers = { 'user-agent': 'otel-sdk-client' };
  propagation.inject(trace.setSpan(context.active(), span), headers);
  const req = http.get(target, { headers }, (res) => {
    let body = '';
    res.on('data', (c) => { body += c; });
    res.on('end', async () => {
      span.setAttribute('http.response.status_code', res.statusCode);
      if (res.statusCode >= 400) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
      await provider.shutdown();
      const ctx = span.spanContext();
      console.log(JSON.stringify({ status: res.statusCode, traceId: ctx.traceId, spanId: ctx.spanId, body }));
    });
  });
  req.on('error', async (e) => {
    span.end();
    await provider.shutdown();
    console.error(e.message);
    process.exit(1);
  });
}
