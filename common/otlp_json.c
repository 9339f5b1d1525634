/* otlp_json: OTLP/HTTP JSON request bodies (see otlp_json.h). */
#include "otlp_json.h"

#include <inttypes.h>
#include <string.h>

#include "traceparent.h"

static int append_hex(struct buf *out, const uint8_t *b, size_t n)
{
	char hex[32];

	trace_hex(b, n, hex);
	return buf_append(out, hex, 2 * n);
}

static int append_string(struct buf *out, const char *s, size_t n)
{
	buf_append(out, "\"", 1);
	buf_append_json_escaped(out, s, n);
	return buf_append(out, "\"", 1);
}

static int append_key(struct buf *out, const char *key)
{
	buf_append_str(out, "{\"key\":\"");
	buf_append_str(out, key);	/* static, plain ASCII */
	return buf_append_str(out, "\",\"value\":");
}

int otlp_json_resource(struct buf *out, const char *const *kv, size_t n)
{
	buf_append_str(out, "{\"attributes\":[");
	for (size_t i = 0; i < n; i++) {
		buf_append_str(out, i ? ",{\"key\":" : "{\"key\":");
		append_string(out, kv[2 * i], strlen(kv[2 * i]));
		buf_append_str(out, ",\"value\":{\"stringValue\":");
		append_string(out, kv[2 * i + 1], strlen(kv[2 * i + 1]));
		buf_append_str(out, "}}");
	}
	return buf_append_str(out, "]}");
}

int otlp_json_begin(struct buf *out, const struct buf *resource, const char *scope,
		    const char *version)
{
	buf_append_str(out, "{\"resourceSpans\":[{\"resource\":");
	buf_append(out, resource->data, resource->len);
	buf_append_str(out, ",\"scopeSpans\":[{\"scope\":{\"name\":");
	append_string(out, scope, strlen(scope));
	buf_append_str(out, ",\"version\":");
	append_string(out, version, strlen(version));
	return buf_append_str(out, "},\"spans\":[");
}

int otlp_json_span(struct buf *out, const struct otlp_span *sp, int first)
{
	buf_append_str(out, first ? "{\"traceId\":\"" : ",{\"traceId\":\"");
	append_hex(out, sp->trace_id, 16);
	buf_append_str(out, "\",\"spanId\":\"");
	append_hex(out, sp->span_id, 8);
	buf_append_str(out, "\"");
	if (sp->has_parent) {
		buf_append_str(out, ",\"parentSpanId\":\"");
		append_hex(out, sp->parent_id, 8);
		buf_append_str(out, "\"");
	}
	buf_append_str(out, ",\"name\":");
	append_string(out, sp->name, strlen(sp->name));
	buf_appendf(out, ",\"kind\":%d,\"startTimeUnixNano\":\"%" PRIu64
		    "\",\"endTimeUnixNano\":\"%" PRIu64 "\",\"attributes\":[",
		    (int)sp->kind, sp->start_ns, sp->end_ns);
	for (unsigned i = 0; i < sp->nattrs; i++) {
		const struct otlp_attr *a = &sp->attrs[i];

		if (i)
			buf_append(out, ",", 1);
		append_key(out, a->key);
		if (a->type == OTLP_VALUE_INT) {
			/* int64 is a string in the proto3 JSON mapping */
			buf_appendf(out, "{\"intValue\":\"%lld\"}}", a->i);
		} else {
			buf_append_str(out, "{\"stringValue\":");
			append_string(out, sp->text + a->off, a->len);
			buf_append_str(out, "}}");
		}
	}
	buf_append_str(out, "],\"events\":[");
	for (unsigned i = 0; i < sp->nevents; i++)
		buf_appendf(out, "%s{\"timeUnixNano\":\"%" PRIu64 "\",\"name\":\"%s\"}",
			    i ? "," : "", sp->events[i].time_ns, sp->events[i].name);
	return buf_appendf(out, "],\"status\":{\"code\":%d}}", (int)sp->status);
}

int otlp_json_end(struct buf *out)
{
	return buf_append_str(out, "]}]}]}");
}
