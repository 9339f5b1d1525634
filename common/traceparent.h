/* traceparent: W3C Trace Context (https://www.w3.org/TR/trace-context/):
 * the `traceparent` and `tracestate` fields read from a request and written
 * to the next hop. Pure functions over bytes; nothing allocates. */
#ifndef LB_TRACEPARENT_H
#define LB_TRACEPARENT_H

#include <stddef.h>
#include <stdint.h>

/* "00-" 32 hex "-" 16 hex "-" 2 hex: version 00's only length (3.2). */
#define TRACEPARENT_LEN 55
/* 3.3.1.5: at most 32 list-members, and a combined value of 512
 * characters is what every vendor propagates. */
#define TRACESTATE_MEMBERS_MAX 32
#define TRACESTATE_MAX 512
/* 3.3.1.5: truncating, members longer than this go first. */
#define TRACESTATE_LONG_MEMBER 128
#define TRACE_FLAG_SAMPLED 0x01

struct trace_context {
	uint8_t trace_id[16];
	uint8_t span_id[8];		/* the parent-id of whoever receives it */
	uint8_t flags;			/* TRACE_FLAG_SAMPLED, or 0 */
};

/*
 * Parses one traceparent value [s, s + n) (3.2.2, and 3.2.4's rules for a
 * version above 00: at least 55 characters, the fields read at their
 * version-00 places, then the end or a dash). Lower-case hex only; version
 * ff, an all-zero trace-id or parent-id, or anything else off the grammar
 * is invalid. Only the sampled flag is kept (the others are reserved, 3.2.2.5).
 * Returns 0, or -1 (invalid: the caller starts a new trace).
 */
int traceparent_parse(const char *s, size_t n, struct trace_context *out);
/* Writes the version-00 form of c into out (at least TRACEPARENT_LEN + 1
 * bytes, NUL-terminated); returns TRACEPARENT_LEN. */
size_t traceparent_format(const struct trace_context *c, char *out);
/* Writes n bytes as 2n lower-case hex digits (no NUL). */
void trace_hex(const uint8_t *bytes, size_t n, char *out);

/* The list-members of one request's tracestate fields (all of them, in
 * order: 3.3.1 "combined"), pointing into the request; `invalid` once a
 * member is off the grammar, a key repeats or there are more than
 * TRACESTATE_MEMBERS_MAX: the whole value is then dropped (3.3.1.3). */
struct tracestate {
	struct { const char *p; uint16_t len; } members[TRACESTATE_MEMBERS_MAX];
	unsigned n;
	int invalid;
};

/* Adds one field value's members (comma-separated, optional spaces and
 * tabs around each; empty members skipped, 3.3.1.1). */
void tracestate_add(struct tracestate *ts, const char *s, size_t n);
/* Writes the members joined by "," into out (at least TRACESTATE_MAX + 1
 * bytes, NUL-terminated), at most TRACESTATE_MAX characters: past it,
 * members over TRACESTATE_LONG_MEMBER go first, then from the right
 * (3.3.1.5). Returns the length: 0 for none or an invalid list. */
size_t tracestate_format(const struct tracestate *ts, char *out);

#endif
