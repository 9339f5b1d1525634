/* otlp_gzip: an export body compressed as gzip (Content-Encoding: gzip,
 * OTLP/HTTP's one compression) with zlib; one deflate stream kept for the
 * exporter's life and reset per body, so a batch allocates nothing once the
 * output buffer has grown to its size. */
#ifndef LB_OTLP_GZIP_H
#define LB_OTLP_GZIP_H

#include <stddef.h>

#include "buf.h"

struct otlp_gzip;

/* A stream at zlib's fastest level (1: the bodies are JSON, which
 * compresses well at any level; CPU is what the exporter saves). NULL when
 * out of memory. */
struct otlp_gzip *otlp_gzip_new(void);
/* Replaces out's content with in[0, n) as one gzip member. Returns 0, or -1
 * (out of memory; out then holds nothing worth sending). */
int otlp_gzip_compress(struct otlp_gzip *g, const char *in, size_t n, struct buf *out);
void otlp_gzip_free(struct otlp_gzip *g);

#endif
