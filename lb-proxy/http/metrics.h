/* metrics: lb-proxy's counters and latency histogram, in Prometheus text format. */
#ifndef LB_PROXY_METRICS_H
#define LB_PROXY_METRICS_H

#include "buf.h"
#include "h2_metrics.h"
#include "policy/retry.h"
#include "upstream/histogram.h"

struct metrics {
	unsigned long long requests;		/* answered, any status */
	unsigned long long responses[6];	/* by status class, including the proxy's own */
	unsigned long long connect_errors;
	unsigned long long resource_errors;	/* the proxy's own lack of descriptors, memory, ports */
	unsigned long long retries_by[RETRY_REASONS];	/* requests sent again, by why the attempt failed */
	unsigned long long retry_budget_exhausted;	/* retries the budget refused */
	unsigned queue_length;			/* gauge: requests waiting for a backend */
	unsigned long long queue_timeouts;	/* waited --queue-timeout: 503 */
	unsigned long long queue_full;		/* found --queue-size waiting: 503 at once */
	struct histogram queue_wait;		/* seconds each spent in the queue */
	unsigned long long client_aborts;	/* client connections ended mid-exchange */
	struct histogram latency;
	unsigned long long accepted;
	unsigned long long access_log_dropped;	/* access lines the log buffer had no room for */
	struct h2_metrics h2;			/* HTTP/2 connections and streams (h2_conn.c) */
};

void metrics_observe(struct metrics *m, int status, double seconds);
/* Appends the Prometheus exposition: counters, histogram, per-backend series
 * (from the backend list; "up" is this proxy's view at `now`: a backend it
 * skips after a failed connect is not up) and the gauges given. */
void metrics_render(const struct metrics *m, struct buf *out, unsigned client_connections,
		    unsigned upstream_connections, unsigned long long generation, int stale,
		    double uptime, double now);

/* Appends --rate-limit's series: requests refused, this proxy's share of
 * the limit (requests a second per key, and the burst), the proxies it is
 * shared by, keys tracked and keys evicted. */
void metrics_render_rate(struct buf *out, unsigned long long limited, double per_second,
			 double burst, unsigned proxies, unsigned keys, unsigned long long evicted);

/* Appends the panic threshold's series: whether the set is in panic now
 * (upstream/panic.h) and how many times it entered it. */
void metrics_render_panic(struct buf *out, int active, unsigned long long entered_total);

#endif
