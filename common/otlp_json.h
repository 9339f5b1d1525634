/* otlp_json: the frame of an OTLP/HTTP JSON request body
 * (ExportTraceServiceRequest by the OTLP JSON mapping): the resource, the
 * instrumentation scope and the spans' array, which otlp_span fills. */
#ifndef LB_OTLP_JSON_H
#define LB_OTLP_JSON_H

#include "buf.h"

/* Appends a resource's JSON, {"attributes":[...]}, from n key/value string
 * pairs (kv[2i] the key, kv[2i + 1] the value). Returns 0 or -1. */
int otlp_json_resource(struct buf *out, const char *const *kv, size_t n);
/* Opens a request body of one resource (its JSON from otlp_json_resource)
 * and one instrumentation scope; its spans follow (otlp_span_open). Returns 0
 * or -1. */
int otlp_json_begin(struct buf *out, const struct buf *resource, const char *scope,
		    const char *version);
/* Closes what otlp_json_begin opened. Returns 0 or -1. */
int otlp_json_end(struct buf *out);

#endif
