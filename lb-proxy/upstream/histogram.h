/* histogram: latency histograms with fixed buckets (seconds), rendered as
 * Prometheus series; the proxy's and each backend's. */
#ifndef LB_PROXY_HISTOGRAM_H
#define LB_PROXY_HISTOGRAM_H

#include "buf.h"

#define HISTOGRAM_BUCKETS 12

/* A latency histogram with the buckets of histogram_bounds. */
struct histogram {
	unsigned long long buckets[HISTOGRAM_BUCKETS];	/* not cumulative */
	unsigned long long count;
	double sum;
};

/* Counts one observation of `seconds` in h. */
void histogram_observe(struct histogram *h, double seconds);
/* Appends h's series (cumulative buckets, sum, count) named `name` to out;
 * `labels` is "" or `backend="..."`. */
void histogram_render(struct buf *out, const char *name, const char *labels,
		      const struct histogram *h);

/* The buckets' upper bounds, in seconds. */
extern const double histogram_bounds[HISTOGRAM_BUCKETS];

#endif
