/* otlp_json: spans encoded as an OTLP/HTTP JSON request body
 * (ExportTraceServiceRequest by the OTLP JSON mapping: trace and span ids
 * as lower-case hex, kind and status code as integers, times in Unix
 * nanoseconds as strings, attribute values typed: stringValue, intValue). */
#ifndef LB_OTLP_JSON_H
#define LB_OTLP_JSON_H

#include "buf.h"
#include "otlp_span.h"

/* Appends a resource's JSON, {"attributes":[...]}, from n key/value string
 * pairs (kv[2i] the key, kv[2i + 1] the value). Returns 0 or -1. */
int otlp_json_resource(struct buf *out, const char *const *kv, size_t n);
/* Opens a request body of one resource (its JSON from otlp_json_resource)
 * and one instrumentation scope. Returns 0 or -1. */
int otlp_json_begin(struct buf *out, const struct buf *resource, const char *scope,
		    const char *version);
/* Appends one span; `first` is 1 for the first of the body. Returns 0 or -1. */
int otlp_json_span(struct buf *out, const struct otlp_span *sp, int first);
/* Closes what otlp_json_begin opened. Returns 0 or -1. */
int otlp_json_end(struct buf *out);

#endif
