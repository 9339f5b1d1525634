/* load_stats: what lb-ctl load measured (latencies in a log-linear histogram
 * of fixed size, status codes, the backends that answered, errors by kind),
 * and its rendering: a table for people or one JSON object for scripts. */
#ifndef LB_CTL_LOAD_STATS_H
#define LB_CTL_LOAD_STATS_H

#include <stddef.h>
#include <stdio.h>

/* Latencies are kept in microseconds: exact below LOAD_HIST_SUB, then
 * LOAD_HIST_SUB buckets per power of two (at most 0.4% from the truth at the
 * bucket's middle) up to 2^LOAD_HIST_TOP_BITS us (38 hours), clamped above. */
#define LOAD_HIST_SUB_BITS 7
#define LOAD_HIST_SUB (1 << LOAD_HIST_SUB_BITS)
#define LOAD_HIST_TOP_BITS 37
#define LOAD_HIST_BUCKETS ((LOAD_HIST_TOP_BITS - LOAD_HIST_SUB_BITS + 1) * LOAD_HIST_SUB)

#define LOAD_BACKENDS_MAX 64		/* distinct X-Served-By names; the rest are "other" */
#define LOAD_BACKEND_NAME_MAX 128	/* bytes of a name kept, with its NUL */
#define LOAD_STATUS_MAX 1000		/* status codes are three digits */

enum load_error {
	LOAD_ERR_CONNECT = 0,	/* the connection could not be made (in --timeout) */
	LOAD_ERR_CLOSED,	/* reset or closed before the response was complete */
	LOAD_ERR_TIMEOUT,	/* no complete response within --timeout */
	LOAD_ERR_MALFORMED,	/* not an HTTP/1.x response, or bytes nobody asked for */
	LOAD_ERR_KINDS,
};

struct load_backend {
	char name[LOAD_BACKEND_NAME_MAX];	/* printable ASCII, "-" for no header */
	unsigned long long count;
};

struct load_stats {
	unsigned long long hist[LOAD_HIST_BUCKETS];	/* responses per latency bucket */
	unsigned long long responses;
	unsigned long long latency_sum_us;
	unsigned long long latency_max_us;
	unsigned long long status[LOAD_STATUS_MAX];
	struct load_backend backends[LOAD_BACKENDS_MAX];
	unsigned nbackends;
	unsigned long long other_backends;	/* responses from names past the 64th */
	unsigned long long errors[LOAD_ERR_KINDS];
};

/* What the run was, for the report's header. */
struct load_run {
	const char *url;
	unsigned connections;
	double duration;	/* seconds from the first request to the end */
	double rate;		/* requests/s of an open loop, 0 for a closed loop */
	/* open loop: requests due before the end that no connection was free
	 * to send (they are in no other count) */
	unsigned long long unsent;
};

/* Empties s (about 50 KiB: callers allocate it once). Nothing to release. */
void load_stats_init(struct load_stats *s);
/* Counts one complete response: its status, the backend named by its
 * X-Served-By value (name, len bytes; NULL when absent) and its latency in
 * seconds. Never allocates. */
void load_stats_response(struct load_stats *s, int status, const char *name, size_t len,
			 double latency);
void load_stats_error(struct load_stats *s, enum load_error kind);
/* The kind's key in the JSON report: "connect", "closed", "timeout", "malformed". */
const char *load_stats_error_key(enum load_error kind);
/* The latency (seconds) under which `percent` of the responses came, at the
 * histogram's precision and never above the maximum; 0 without responses. */
double load_stats_percentile(const struct load_stats *s, double percent);
/* The fixed-width report for people. */
void load_stats_print_table(const struct load_stats *s, const struct load_run *run, FILE *out);
/* One JSON object on one line; returns 0, or -1 when out of memory. */
int load_stats_print_json(const struct load_stats *s, const struct load_run *run, FILE *out);

#endif
