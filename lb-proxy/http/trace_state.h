/* trace_state: what one request's trace holds while it runs (in its struct
 * exchange, so it lives as long as the request and costs an idle
 * connection nothing); trace.c fills it. */
#ifndef LB_PROXY_TRACE_STATE_H
#define LB_PROXY_TRACE_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "traceparent.h"

/* "traceparent: " TRACEPARENT_LEN "\r\n" "tracestate: " TRACESTATE_MAX "\r\n" */
#define TRACE_FIELDS_MAX (13 + TRACEPARENT_LEN + 2 + 12 + TRACESTATE_MAX + 2)
/* Where the span id sits in the fields: after "traceparent: 00-" and the trace id. */
#define TRACE_FIELDS_SPAN_AT (13 + 3 + 32 + 1)
#define TRACE_EVENTS_MAX 4

struct trace_exchange {
	unsigned begun : 1;		/* trace_request_begin ran for this request */
	unsigned recording : 1;		/* sampled, and an exporter: its spans are recorded */
	unsigned has_id : 1;		/* trace_id is known (an incoming one, or ours) */
	unsigned has_parent : 1;	/* the client sent a valid traceparent */
	unsigned attempt_open : 1;	/* a CLIENT span runs */
	unsigned was_ejected : 1;	/* the attempt's backend was ejected when it began */
	uint8_t trace_id[16];
	uint8_t parent_id[8];		/* the client's span */
	uint8_t server_id[8];		/* lb's SERVER span */
	uint8_t client_id[8];		/* lb's CLIENT span of the attempt running */
	uint8_t flags;			/* TRACE_FLAG_SAMPLED or 0, as sent on */
	uint64_t start_ns;		/* the SERVER span's start, Unix nanoseconds */
	uint64_t attempt_ns;		/* the CLIENT span's */
	unsigned attempts;		/* CLIENT spans so far */
	unsigned nevents;
	/* The matched route's template (http.route): the path its Gateway
	 * route match wrote (http/routing.c), and the SERVER span is named
	 * "{method} {route}"; NULL without routes. Owned by the route table the
	 * exchange holds, never the raw path (its cardinality). */
	const char *route;
	struct {
		const char *name;	/* static */
		uint64_t time_ns;
	} events[TRACE_EVENTS_MAX];	/* the SERVER span's: queued, retried, rate limited */
	size_t fields_len;		/* 0: the request goes on with no trace fields */
	char fields[TRACE_FIELDS_MAX + 1];	/* what the backend gets: headers_ctx.trace_fields */
};

#endif
