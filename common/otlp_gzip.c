/* otlp_gzip: export bodies as gzip (see otlp_gzip.h). */
#include "otlp_gzip.h"

#include <stdlib.h>

#include <zlib.h>

struct otlp_gzip {
	z_stream z;
};

/* windowBits 15 + 16: a gzip header and trailer, not zlib's */
#define GZIP_WINDOW (15 + 16)

struct otlp_gzip *otlp_gzip_new(void)
{
	struct otlp_gzip *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	if (deflateInit2(&g->z, Z_BEST_SPEED, Z_DEFLATED, GZIP_WINDOW, 8, Z_DEFAULT_STRATEGY) !=
	    Z_OK) {
		free(g);
		return NULL;
	}
	return g;
}

int otlp_gzip_compress(struct otlp_gzip *g, const char *in, size_t n, struct buf *out)
{
	size_t bound = deflateBound(&g->z, (uLong)n);

	buf_reset(out);
	if (deflateReset(&g->z) != Z_OK || buf_reserve(out, bound) == -1)
		return -1;
	g->z.next_in = (Bytef *)in;
	g->z.avail_in = (uInt)n;
	g->z.next_out = (Bytef *)out->data;
	g->z.avail_out = (uInt)bound;
	/* deflateBound's room takes the whole member in one call */
	if (deflate(&g->z, Z_FINISH) != Z_STREAM_END)
		return -1;
	out->len = bound - g->z.avail_out;
	return 0;
}

void otlp_gzip_free(struct otlp_gzip *g)
{
	if (!g)
		return;
	deflateEnd(&g->z);
	free(g);
}
