/* libFuzzer target for common/traceparent.c and the span text of
 * common/otlp_span.c / otlp_json.c: any bytes as a traceparent value, as
 * tracestate fields, and as an attribute's text. Invariants: no crash; a
 * traceparent that parses formats to 55 characters that parse to the same
 * context; a tracestate written is at most 512 characters and reads back to
 * itself; a span's JSON is valid JSON whatever its text held. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "otlp_json.h"
#include "otlp_span.h"
#include "traceparent.h"

static void check_traceparent(const char *s, size_t n)
{
	struct trace_context c, again;
	char out[TRACEPARENT_LEN + 1];

	if (traceparent_parse(s, n, &c) == -1)
		return;
	assert(traceparent_format(&c, out) == TRACEPARENT_LEN);
	assert(traceparent_parse(out, TRACEPARENT_LEN, &again) == 0);
	assert(memcmp(&c, &again, sizeof(c)) == 0);
}

static void check_tracestate(const char *s, size_t n)
{
	struct tracestate ts = { 0 }, back = { 0 };
	char out[TRACESTATE_MAX + 1], out2[TRACESTATE_MAX + 1];
	const char *comma = memchr(s, '\n', n);

	/* a newline splits the input into two fields */
	if (comma) {
		tracestate_add(&ts, s, (size_t)(comma - s));
		tracestate_add(&ts, comma + 1, n - (size_t)(comma - s) - 1);
	} else {
		tracestate_add(&ts, s, n);
	}
	size_t len = tracestate_format(&ts, out);

	assert(len <= TRACESTATE_MAX && strlen(out) == len);
	tracestate_add(&back, out, len);
	assert(!back.invalid);
	tracestate_format(&back, out2);
	assert(strcmp(out, out2) == 0);
}

static void check_span_json(const char *s, size_t n)
{
	static struct otlp_span sp;
	struct buf res = BUF_INIT, body = BUF_INIT;
	const char *kv[] = { "service.name", "fuzz" };
	json_error_t e;
	json_t *doc;

	otlp_json_resource(&res, kv, 1);
	otlp_json_begin(&body, &res, "fuzz", "1");
	if (otlp_span_open(&sp, &body, 1) == -1)
		abort();
	memset(sp.trace_id, 1, 16);
	memset(sp.span_id, 2, 8);
	otlp_span_name(&sp, s, n);
	otlp_span_str(&sp, "url.path", s, n);
	otlp_span_str(&sp, "user_agent.original", s, n);
	otlp_span_close(&sp);
	otlp_json_end(&body);
	doc = json_loadb(body.data, body.len, JSON_ALLOW_NUL, &e);	/* \u0000 is JSON */
	assert(doc);
	json_decref(doc);
	buf_release(&res);
	buf_release(&body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;

	check_traceparent(s, size);
	check_tracestate(s, size);
	check_span_json(s, size);
	return 0;
}
