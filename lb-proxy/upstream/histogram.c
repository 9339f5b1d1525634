/* histogram: latency histograms with fixed buckets, and their Prometheus series. */
#include "histogram.h"

const double histogram_bounds[HISTOGRAM_BUCKETS] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5,
};

void histogram_observe(struct histogram *h, double seconds)
{
	h->count++;
	h->sum += seconds;
	for (int i = 0; i < HISTOGRAM_BUCKETS; i++) {
		if (seconds <= histogram_bounds[i]) {
			h->buckets[i]++;
			break;
		}
	}
}

void histogram_render(struct buf *out, const char *name, const char *labels,
		      const struct histogram *h)
{
	const char *sep = *labels ? "," : "";
	unsigned long long cumulative = 0;

	for (int i = 0; i < HISTOGRAM_BUCKETS; i++) {
		cumulative += h->buckets[i];
		buf_appendf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep,
			    histogram_bounds[i], cumulative);
	}
	buf_appendf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep, h->count);
	if (*labels) {
		buf_appendf(out, "%s_sum{%s} %.6f\n%s_count{%s} %llu\n", name, labels, h->sum, name,
			    labels, h->count);
	} else {
		buf_appendf(out, "%s_sum %.6f\n%s_count %llu\n", name, h->sum, name, h->count);
	}
}
