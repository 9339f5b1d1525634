/* spans: lb-discover's own spans (the admin API's writes, the shared
 * state's conflicts) written into the OTLP exporter api/tracing.c starts,
 * common/otlp_export.c's fixed queue; nothing at all while tracing is off.
 * Rare events, not a hot path: the record is filled once, at the span's end. */
#ifndef LB_DISCOVER_SPANS_H
#define LB_DISCOVER_SPANS_H

#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "otlp_span.h"

struct otlp_export;

/* What a span needs from its start to its end. */
struct spans_ctx {
	unsigned recording : 1;		/* spans_begin decided to record it */
	unsigned has_parent : 1;	/* the child of a caller's span (its traceparent) */
	uint8_t trace_id[16];
	uint8_t span_id[8];
	uint8_t parent_id[8];		/* the caller's span */
	uint64_t start_ns;		/* Unix nanoseconds */
};

/* The exporter (NULL: tracing off) and the ratio of new traces recorded. */
void spans_configure(struct otlp_export *e, double sample);
/* The loop's time in Unix nanoseconds. */
uint64_t spans_now(struct ev_loop *loop);
/* Starts a span at `now`: the child of `traceparent` (the field's value, n
 * bytes, NULL: none; recorded when its sampled flag is set, W3C Trace
 * Context 3.2: an invalid one starts a new trace) or the root of a new
 * trace, recorded by the ratio. c->recording says whether it is. */
void spans_begin(struct spans_ctx *c, const char *traceparent, size_t n, uint64_t now);
/* The record of a span begun with c, ended at `end`: ids, kind, name and
 * times set, for the caller's attributes, then spans_commit(); NULL when
 * it is not recorded or the queue is full (dropped and counted). */
struct otlp_span *spans_record(const struct spans_ctx *c, enum otlp_span_kind kind,
			       const char *name, uint64_t end);
/* Queues the record spans_record gave. */
void spans_commit(void);
/* The exporter's counters (all 0 while tracing is off). */
struct otlp_export_stats;
void spans_stats(struct otlp_export_stats *out);

#endif
