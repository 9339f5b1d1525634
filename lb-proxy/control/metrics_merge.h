/* metrics_merge: the Prometheus text of several lb-proxy workers as one
 * proxy's: counters, histograms and load gauges summed, state gauges taken
 * from the worker that reports the most (see metrics_merge.c's table). */
#ifndef LB_PROXY_METRICS_MERGE_H
#define LB_PROXY_METRICS_MERGE_H

#include <stddef.h>
#include <sys/types.h>

#include "buf.h"

/* The largest /metrics body one worker may send (more: that worker is skipped). */
#define METRICS_MERGE_BODY_MAX (16u << 20)
/* Distinct series kept at most; a worker's series beyond are dropped. */
#define METRICS_MERGE_SERIES_MAX 200000u

/* One worker's /metrics body. */
struct metrics_part {
	const char *text;
	size_t len;
	unsigned worker;	/* its index, for the per-worker series */
	pid_t pid;
};

/*
 * Appends to out the merge of parts[0..n) (Prometheus text exposition 0.0.4):
 * every family once, in the order first seen, with the HELP and TYPE of the
 * first worker that has it; a series' value is the sum over the workers
 * (counters, histogram buckets, _sum and _count, load gauges), or the
 * highest (state gauges: a generation, up, panic, uptime...), or the mean
 * (ratios). Malformed lines are dropped. Then lb_proxy_worker_requests_total
 * per worker (worker, pid labels). Returns 0, or -1 when out of memory.
 */
int metrics_merge(struct buf *out, const struct metrics_part *parts, size_t n);

#endif
