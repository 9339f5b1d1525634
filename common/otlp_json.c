/* otlp_json: OTLP/HTTP JSON request bodies (see otlp_json.h). */
#include "otlp_json.h"

#include <string.h>

static int append_string(struct buf *out, const char *s, size_t n)
{
	buf_append(out, "\"", 1);
	buf_append_json_escaped(out, s, n);
	return buf_append(out, "\"", 1);
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

int otlp_json_end(struct buf *out)
{
	return buf_append_str(out, "]}]}]}");
}
