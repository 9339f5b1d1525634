/* trace: lb-proxy's part in a distributed trace (W3C Trace Context in,
 * OpenTelemetry spans out): one SERVER span per request and one CLIENT
 * span per attempt on a backend, by the stable HTTP semantic conventions;
 * the request sent to a backend carries lb's CLIENT span as its parent.
 * With no exporter (px->otlp NULL) it only passes a valid traceparent and
 * tracestate on unchanged (docs/tracing.md says why). Nothing allocates:
 * a finished span is written as JSON into the exporter's pending batch. */
#ifndef LB_PROXY_TRACE_H
#define LB_PROXY_TRACE_H

#include <stdint.h>

struct session;
struct proxy;
struct otlp_export;
struct buf;

/* The exporter and the sampler, set by control/trace_setup.c at start-up
 * (NULL: tracing off, propagation only). `sample`: new traces recorded, 0-1. */
void trace_configure(struct otlp_export *e, double sample);

/* A request's exchange was taken: nothing of an earlier trace is left. */
void trace_exchange_reset(struct session *s);
/* The request head is complete: the incoming context read (an invalid one
 * dropped), the sampling decided, the SERVER span started and the fields
 * for the backend prepared. */
void trace_request_begin(struct session *s);
/* An attempt on s->be begins: a CLIENT span starts and becomes the
 * traceparent's parent-id (in the head already written, if any). */
void trace_attempt_begin(struct session *s);
/* The attempt ended without a response used: `why` (forward's reason:
 * "connect-refused", "timeout", "reset", ...) and the backend's `status`
 * when it answered one --retry-on names (else 0). */
void trace_attempt_end(struct session *s, const char *why, int status);
/* lb's own events on the SERVER span: "retried", "queued". */
void trace_event(struct session *s, const char *name);
/* The exchange ended (its last byte written): the open CLIENT span and the
 * SERVER span are finished and queued for export. */
void trace_request_end(struct session *s);
/* The request's trace id as 32 hex digits into out (33 bytes), or "-". */
void trace_log_id(const struct session *s, char *out);
/* Appends the spans' counters (Prometheus text): exported, dropped, failed. */
void trace_render_metrics(struct buf *out);
/* 1 when the trace id is sampled at `ratio` (OpenTelemetry's
 * TraceIdRatioBased: its last 8 bytes against the ratio, deterministic). */
int trace_ratio_sampled(const uint8_t trace_id[16], double ratio);

#endif
