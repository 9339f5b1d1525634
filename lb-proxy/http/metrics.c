/* metrics: lb-proxy's counters and latency histogram, in Prometheus text format. */
#include "metrics.h"

#include <stdio.h>
#include <string.h>

#include "log_buffer.h"
#include "policy/retry.h"
#include "upstream/backend.h"
#include "upstream/histogram.h"

void metrics_observe(struct metrics *m, int status, double seconds)
{
	int cls = status / 100;

	m->requests++;
	m->responses[cls >= 1 && cls <= 5 ? cls : 0]++;
	histogram_observe(&m->latency, seconds);
}

/* The labels that name backend b: backend="ADDR", and service="NS/NAME:PORT"
 * for a routed Service's (two Services may list one address). Valid until
 * the next call. */
static const char *backend_labels(const struct backend *b)
{
	static char labels[BUS_SERVICE_MAX + 96];

	if (b->service[0])
		snprintf(labels, sizeof(labels), "backend=\"%s\",service=\"%s\"", b->name,
			 b->service);
	else
		snprintf(labels, sizeof(labels), "backend=\"%s\"", b->name);
	return labels;
}

void metrics_render(const struct metrics *m, struct buf *out, unsigned client_connections,
		    unsigned upstream_connections, unsigned long long generation, int stale,
		    double uptime, double now)
{
	buf_append_str(out, "# HELP lb_proxy_requests_total Requests answered, by status class (code_class: 1xx-5xx).\n"
			    "# TYPE lb_proxy_requests_total counter\n");
	for (int c = 1; c <= 5; c++)
		buf_appendf(out, "lb_proxy_requests_total{code_class=\"%dxx\"} %llu\n", c, m->responses[c]);
	buf_append_str(out, "# HELP lb_proxy_request_duration_seconds Time from request head to "
			    "response end.\n# TYPE lb_proxy_request_duration_seconds histogram\n");
	histogram_render(out, "lb_proxy_request_duration_seconds", "", &m->latency);
	buf_appendf(out,
		    "# HELP lb_proxy_client_connections Open client connections.\n"
		    "# TYPE lb_proxy_client_connections gauge\nlb_proxy_client_connections %u\n"
		    "# HELP lb_proxy_upstream_connections Open backend connections (pooled included).\n"
		    "# TYPE lb_proxy_upstream_connections gauge\nlb_proxy_upstream_connections %u\n"
		    "# HELP lb_proxy_connections_accepted_total Client connections accepted.\n"
		    "# TYPE lb_proxy_connections_accepted_total counter\n"
		    "lb_proxy_connections_accepted_total %llu\n"
		    "# HELP lb_proxy_connect_errors_total Failed connects to backends.\n"
		    "# TYPE lb_proxy_connect_errors_total counter\nlb_proxy_connect_errors_total %llu\n"
		    "# HELP lb_proxy_resource_errors_total Requests failed (503) for want of the "
		    "proxy's own descriptors, memory or ports; never held against a backend.\n"
		    "# TYPE lb_proxy_resource_errors_total counter\nlb_proxy_resource_errors_total %llu\n"
		    "# HELP lb_proxy_client_aborts_total Client connections lost mid-exchange.\n"
		    "# TYPE lb_proxy_client_aborts_total counter\nlb_proxy_client_aborts_total %llu\n"
		    "# HELP lb_proxy_set_generation Generation of the backend set in use.\n"
		    "# TYPE lb_proxy_set_generation gauge\nlb_proxy_set_generation %llu\n"
		    "# HELP lb_proxy_set_stale 1 when no set was heard from lb-discover lately.\n"
		    "# TYPE lb_proxy_set_stale gauge\nlb_proxy_set_stale %d\n"
		    "# HELP lb_proxy_uptime_seconds Seconds since start.\n"
		    "# TYPE lb_proxy_uptime_seconds gauge\nlb_proxy_uptime_seconds %.3f\n",
		    client_connections, upstream_connections, m->accepted, m->connect_errors,
		    m->resource_errors,
		    m->client_aborts, generation, stale, uptime);
	buf_append_str(out, "# HELP lb_proxy_retries_total Requests sent again to another backend, "
			    "by why the attempt failed (--retry-on).\n"
			    "# TYPE lb_proxy_retries_total counter\n");
	for (int r = 0; r < RETRY_REASONS; r++)
		buf_appendf(out, "lb_proxy_retries_total{reason=\"%s\"} %llu\n",
			    retry_reason_name((enum retry_reason)r), m->retries_by[r]);
	buf_appendf(out,
		    "# HELP lb_proxy_retry_budget_exhausted_total Retries not made because retries "
		    "in flight were at --retry-budget.\n"
		    "# TYPE lb_proxy_retry_budget_exhausted_total counter\n"
		    "lb_proxy_retry_budget_exhausted_total %llu\n"
		    "# HELP lb_proxy_queue_length Requests waiting for a backend under "
		    "--max-per-backend.\n# TYPE lb_proxy_queue_length gauge\nlb_proxy_queue_length %u\n"
		    "# HELP lb_proxy_queue_timeouts_total Requests that waited --queue-timeout (503).\n"
		    "# TYPE lb_proxy_queue_timeouts_total counter\nlb_proxy_queue_timeouts_total %llu\n"
		    "# HELP lb_proxy_queue_full_total Requests that found the queue full (503).\n"
		    "# TYPE lb_proxy_queue_full_total counter\nlb_proxy_queue_full_total %llu\n"
		    "# HELP lb_proxy_queue_wait_seconds Time requests spent in the queue.\n"
		    "# TYPE lb_proxy_queue_wait_seconds histogram\n",
		    m->retry_budget_exhausted, m->queue_length, m->queue_timeouts, m->queue_full);
	histogram_render(out, "lb_proxy_queue_wait_seconds", "", &m->queue_wait);
	buf_append_str(out, "# HELP lb_proxy_backend_requests_total Requests forwarded, by backend "
			    "and status class.\n# TYPE lb_proxy_backend_requests_total counter\n");
	for (struct backend *b = backend_all(); b; b = b->all_next)
		for (int c = 1; c <= 5; c++)
			buf_appendf(out,
				    "lb_proxy_backend_requests_total{%s,code_class=\"%dxx\"} %llu\n",
				    backend_labels(b), c, b->responses[c]);
	buf_append_str(out, "# HELP lb_proxy_backend_request_duration_seconds Time from request head "
			    "to response end, by backend.\n"
			    "# TYPE lb_proxy_backend_request_duration_seconds histogram\n");
	for (struct backend *b = backend_all(); b; b = b->all_next) {
		char labels[BUS_SERVICE_MAX + 96];

		snprintf(labels, sizeof(labels), "%s", backend_labels(b));
		histogram_render(out, "lb_proxy_backend_request_duration_seconds", labels, &b->latency);
	}
	buf_append_str(out, "# HELP lb_proxy_backend_errors_total Failed exchanges, by backend.\n"
			    "# TYPE lb_proxy_backend_errors_total counter\n");
	for (struct backend *b = backend_all(); b; b = b->all_next)
		buf_appendf(out, "lb_proxy_backend_errors_total{%s} %llu\n", backend_labels(b),
			    b->errors);
	buf_append_str(out, "# HELP lb_proxy_backend_failures_total Failed attempts, by backend and "
			    "reason (connect, timeout, reset, status: a --retry-on status dropped).\n"
			    "# TYPE lb_proxy_backend_failures_total counter\n");
	for (struct backend *b = backend_all(); b; b = b->all_next)
		for (int f = 0; f < BACKEND_FAILURES; f++)
			buf_appendf(out, "lb_proxy_backend_failures_total{%s,reason=\"%s\"} "
				    "%llu\n", backend_labels(b), backend_failure_name((enum backend_failure)f),
				    b->failures[f]);
	buf_append_str(out, "# HELP lb_proxy_backend_active Requests in flight, by backend.\n"
			    "# TYPE lb_proxy_backend_active gauge\n");
	for (struct backend *b = backend_all(); b; b = b->all_next)
		buf_appendf(out, "lb_proxy_backend_active{%s} %u\n", backend_labels(b), b->active);
	buf_append_str(out, "# HELP lb_proxy_backend_up 1 when the backend gets new requests from this "
			    "proxy (0 while it is skipped after a failed connect).\n"
			    "# TYPE lb_proxy_backend_up gauge\n");
	for (struct backend *b = backend_all(); b; b = b->all_next)
		buf_appendf(out, "lb_proxy_backend_up{%s} %d\n", backend_labels(b),
			    !b->removed && backend_usable(b, now));
	buf_append_str(out, "# HELP lb_proxy_backend_breaker_state The backend's circuit breaker: "
			    "0 closed, 1 open (ejected), 2 half-open (one trial at a time).\n"
			    "# TYPE lb_proxy_backend_breaker_state gauge\n");
	for (struct backend *b = backend_all(); b; b = b->all_next)
		buf_appendf(out, "lb_proxy_backend_breaker_state{%s} %d\n", backend_labels(b),
			    (int)outlier_state_at(&b->outlier, now));
	buf_append_str(out, "# HELP lb_proxy_backend_ejections_total Times the backend was ejected "
			    "(outlier detection, this proxy's or lb-discover's).\n"
			    "# TYPE lb_proxy_backend_ejections_total counter\n");
	for (struct backend *b = backend_all(); b; b = b->all_next)
		buf_appendf(out, "lb_proxy_backend_ejections_total{%s} %llu\n", backend_labels(b),
			    b->outlier.ejections_total);
	buf_appendf(out,
		    "# HELP lb_proxy_access_log_lines_dropped_total Access log lines dropped: the "
		    "log's reader was too slow or gone and the log buffer full.\n"
		    "# TYPE lb_proxy_access_log_lines_dropped_total counter\n"
		    "lb_proxy_access_log_lines_dropped_total %llu\n"
		    "# HELP lb_proxy_log_lines_dropped_total Log lines of any kind dropped so.\n"
		    "# TYPE lb_proxy_log_lines_dropped_total counter\n"
		    "lb_proxy_log_lines_dropped_total %llu\n",
		    m->access_log_dropped, log_buffer_dropped());
}

void metrics_render_rate(struct buf *out, unsigned long long limited, double per_second,
			 double burst, unsigned proxies, unsigned keys, unsigned long long evicted)
{
	buf_appendf(out,
		    "# HELP lb_proxy_rate_limited_total Requests answered 429 by --rate-limit.\n"
		    "# TYPE lb_proxy_rate_limited_total counter\nlb_proxy_rate_limited_total %llu\n"
		    "# HELP lb_proxy_rate_limit_effective Requests a second one key may make through "
		    "this proxy (--rate-limit divided by the proxies sharing it).\n"
		    "# TYPE lb_proxy_rate_limit_effective gauge\nlb_proxy_rate_limit_effective %.6g\n"
		    "# HELP lb_proxy_rate_limit_effective_burst Requests one key may make at once "
		    "through this proxy.\n"
		    "# TYPE lb_proxy_rate_limit_effective_burst gauge\n"
		    "lb_proxy_rate_limit_effective_burst %.6g\n"
		    "# HELP lb_proxy_rate_limit_proxies Proxies the limit is shared by (lb-discover's "
		    "count; 1 with --backends).\n"
		    "# TYPE lb_proxy_rate_limit_proxies gauge\nlb_proxy_rate_limit_proxies %u\n"
		    "# HELP lb_proxy_rate_limit_keys Keys with a bucket in the table.\n"
		    "# TYPE lb_proxy_rate_limit_keys gauge\nlb_proxy_rate_limit_keys %u\n"
		    "# HELP lb_proxy_rate_limit_evictions_total Keys forgotten to make room (the "
		    "least recently seen).\n"
		    "# TYPE lb_proxy_rate_limit_evictions_total counter\n"
		    "lb_proxy_rate_limit_evictions_total %llu\n",
		    limited, per_second, burst, proxies, keys, evicted);
}

void metrics_render_panic(struct buf *out, int active, unsigned long long entered_total)
{
	buf_appendf(out,
		    "# HELP lb_proxy_panic 1 while fewer than --panic-threshold percent of the "
		    "up backends are available: requests go to all of them, ejected or not.\n"
		    "# TYPE lb_proxy_panic gauge\nlb_proxy_panic %d\n"
		    "# HELP lb_proxy_panics_total Times the proxy entered panic.\n"
		    "# TYPE lb_proxy_panics_total counter\nlb_proxy_panics_total %llu\n",
		    active ? 1 : 0, entered_total);
}
