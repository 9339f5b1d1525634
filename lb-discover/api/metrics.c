/* metrics: lb-discover's fleet metrics in Prometheus text format. */
#include "metrics.h"

#include <stdlib.h>
#include <string.h>

#include "cluster/fleet.h"
#include "cluster/replicas.h"
#include "core/ejection.h"
#include "core/proxies.h"
#include "core/spans.h"
#include "otlp_export.h"

/* A label value with \ " and newlines escaped (Prometheus text format). */
static void label(struct buf *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			buf_appendf(out, "\\%c", *s);
		else if (*s == '\n')
			buf_append_str(out, "\\n");
		else
			buf_append(out, s, 1);
	}
}

static void head(struct buf *out, const char *name, const char *type, const char *help)
{
	buf_appendf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{service="S",backend="A",state="X"} (backend and state optional); a
 * backend is `backend` in every program's metrics (lb-proxy's too) */
static void series_label(struct buf *out, const char *name, const char *service,
			 const char *address, const char *key, const char *value)
{
	buf_appendf(out, "%s{service=\"", name);
	label(out, service);
	if (address) {
		buf_append_str(out, "\",backend=\"");
		label(out, address);
	}
	if (value)
		buf_appendf(out, "\",%s=\"%s", key, value);
	buf_append_str(out, "\"}");
}

static void series_state(struct buf *out, const char *name, const char *service,
			 const char *address, const char *state)
{
	series_label(out, name, service, address, "state", state);
}

static void series(struct buf *out, const char *name, const char *service, const char *address)
{
	series_state(out, name, service, address, NULL);
}

/* The OTLP exporter's counters (docs/tracing.md#lb-discover), as lb-proxy's. */
static void trace_metrics(struct buf *out)
{
	struct otlp_export_stats st;

	spans_stats(&st);
	head(out, "lb_discover_trace_spans_exported_total", "counter",
	     "Spans the OTLP endpoint accepted.");
	buf_appendf(out, "lb_discover_trace_spans_exported_total %llu\n", st.exported);
	head(out, "lb_discover_trace_spans_dropped_total", "counter",
	     "Spans dropped: the export queue was full.");
	buf_appendf(out, "lb_discover_trace_spans_dropped_total %llu\n", st.dropped);
	head(out, "lb_discover_trace_spans_failed_total", "counter",
	     "Spans of batches the endpoint refused or that ran out of retries.");
	buf_appendf(out, "lb_discover_trace_spans_failed_total %llu\n", st.failed);
	head(out, "lb_discover_trace_export_retries_total", "counter",
	     "Batches sent again (429, 502-504, network errors).");
	buf_appendf(out, "lb_discover_trace_export_retries_total %llu\n", st.retries);
	head(out, "lb_discover_trace_spans_queued", "gauge", "Spans waiting to be exported.");
	buf_appendf(out, "lb_discover_trace_spans_queued %zu\n", st.queued);
}

/* One per-backend family: `value(i)` of every published backend. */
#define PER_BACKEND(name, type, help, fmt, value)                                           \
	do {                                                                                 \
		head(out, name, type, help);                                                 \
		for (size_t i = 0; i < set.n; i++) {                                         \
			const struct entry *e = registry_find(&d->reg, set.backends[i].address); \
			const struct proxy_totals *t = &totals[e - d->reg.entries];          \
			(void)t;                                                             \
			series(out, name, svc, set.backends[i].address);                    \
			buf_appendf(out, " " fmt "\n", value);                               \
		}                                                                            \
	} while (0)

/* --kubernetes: the shared state's writes and the replicas' Leases. */
static void fleet_metrics(struct discover *d, struct buf *out)
{
	static const char *const states[] = { "live", "gone", "stopped", "unrenewed" };
	json_t *st = fleet_json(d->fleet), *reps = replicas_json(d->replicas), *r;
	const char *svc = d->reg.service;
	size_t i;

	head(out, "lb_discover_shared_state_writes_total", "counter",
	     "Writes of the shared-state ConfigMap by result (ok; conflict: re-read and "
	     "re-applied; failed: retried).");
	series_state(out, "lb_discover_shared_state_writes_total", svc, NULL, "ok");
	buf_appendf(out, " %lld\n", (long long)json_integer_value(json_object_get(st, "writes")));
	series_state(out, "lb_discover_shared_state_writes_total", svc, NULL, "conflict");
	buf_appendf(out, " %lld\n", (long long)json_integer_value(json_object_get(st, "conflicts")));
	series_state(out, "lb_discover_shared_state_writes_total", svc, NULL, "failed");
	buf_appendf(out, " %lld\n", (long long)json_integer_value(json_object_get(st, "failures")));
	head(out, "lb_discover_shared_state_pending", "gauge",
	     "Changes of this replica not written to the ConfigMap yet.");
	series(out, "lb_discover_shared_state_pending", svc, NULL);
	buf_appendf(out, " %lld\n", (long long)json_integer_value(json_object_get(st, "pending")));
	head(out, "lb_discover_shared_state_revision", "gauge",
	     "The revision of the shared state applied.");
	series(out, "lb_discover_shared_state_revision", svc, NULL);
	buf_appendf(out, " %lld\n", (long long)json_integer_value(json_object_get(st, "revision")));
	head(out, "lb_discover_replicas", "gauge",
	     "lb-discover replicas of the service by their Lease's state.");
	for (size_t s = 0; s < sizeof(states) / sizeof(states[0]); s++) {
		unsigned n = 0;

		json_array_foreach(reps, i, r)
			n += strcmp(json_string_value(json_object_get(r, "state")) ?: "", states[s]) == 0;
		series_state(out, "lb_discover_replicas", svc, NULL, states[s]);
		buf_appendf(out, " %u\n", n);
	}
	json_decref(st);
	json_decref(reps);
}

int metrics_render(struct discover *d, struct buf *out)
{
	struct bus_set set;
	struct proxy_totals *totals = calloc(d->reg.n ? d->reg.n : 1, sizeof(*totals));
	const char *svc = d->reg.service;
	double now = ev_now(d->loop);

	if (!totals || registry_snapshot(&d->reg, &set) == -1) {
		free(totals);
		return -1;
	}
	proxies_totals(d, totals, 1);	/* counters: never down when a proxy goes */
	head(out, "lb_discover_generation", "gauge", "The generation of the set published.");
	series(out, "lb_discover_generation", svc, NULL);
	buf_appendf(out, " %llu\n", d->reg.generation);
	head(out, "lb_discover_backends", "gauge", "Backends in the set published.");
	series(out, "lb_discover_backends", svc, NULL);
	buf_appendf(out, " %zu\n", set.n);
	head(out, "lb_discover_backend_state", "gauge",
	     "1 for the backend's state (up, draining, down), 0 for the others.");
	for (size_t i = 0; i < set.n; i++) {
		for (int s = BUS_STATE_UP; s <= BUS_STATE_DOWN; s++) {
			series_state(out, "lb_discover_backend_state", svc, set.backends[i].address,
				     bus_state_name((enum bus_state)s));
			buf_appendf(out, " %d\n", set.backends[i].state == (enum bus_state)s);
		}
	}
	PER_BACKEND("lb_discover_backend_weight", "gauge", "The weight published.", "%d",
		    set.backends[i].weight);
	PER_BACKEND("lb_discover_backend_healthy", "gauge",
		    "1 while health checks pass (or are off), 0 while failing.", "%d", e->healthy);
	PER_BACKEND("lb_discover_backend_health_check_seconds", "gauge",
		    "How long the last health check took.", "%.6f", e->check_seconds);
	PER_BACKEND("lb_discover_backend_health_checks_total", "counter", "Health checks done.",
		    "%llu", e->checks);
	PER_BACKEND("lb_discover_backend_health_check_failures_total", "counter",
		    "Health checks that failed (refused, timed out, not 2xx/3xx).", "%llu",
		    e->check_failures);
	PER_BACKEND("lb_discover_backend_active", "gauge",
		    "Requests in flight, summed over the proxies' last reports.", "%u", t->active);
	PER_BACKEND("lb_discover_backend_requests_total", "counter",
		    "Requests forwarded, summed over the proxies' reports.", "%llu", t->requests);
	PER_BACKEND("lb_discover_backend_errors_total", "counter",
		    "Connects and exchanges that failed, summed over the proxies' reports.", "%llu",
		    t->errors);
	PER_BACKEND("lb_discover_backend_responses_5xx_total", "counter",
		    "5xx answers of the backend, summed over the proxies' reports.", "%llu",
		    t->responses_5xx);
	head(out, "lb_discover_ejections_total", "counter",
	     "Fleet-wide ejections this lb-discover made, by backend and what made them "
	     "(5xx, connect, reset, timeout; mixed: more than one; unknown: not said).");
	for (size_t i = 0; i < set.n; i++) {
		const struct entry *e = registry_find(&d->reg, set.backends[i].address);

		for (unsigned k = 0; k < BUS_FAILURE_LABELS; k++) {
			series_label(out, "lb_discover_ejections_total", svc,
				     set.backends[i].address, "reason", bus_failure_label(k));
			buf_appendf(out, " %llu\n", e->ejections_by[k]);
		}
	}
	head(out, "lb_discover_ejected_backends", "gauge",
	     "Backends ejected fleet-wide now (open or half-open).");
	series(out, "lb_discover_ejected_backends", svc, NULL);
	buf_appendf(out, " %zu\n", ejection_count(d));
	head(out, "lb_discover_proxies", "gauge", "Proxies heard from lately.");
	series(out, "lb_discover_proxies", svc, NULL);
	buf_appendf(out, " %zu\n", d->nproxies);
	head(out, "lb_discover_proxy_report_age_seconds", "gauge",
	     "Seconds since each proxy's last report (its staleness).");
	for (size_t p = 0; p < d->nproxies; p++)
		buf_appendf(out, "lb_discover_proxy_report_age_seconds{pid=\"%d\"} %.3f\n",
			    d->proxies[p].report.pid, now - d->proxies[p].seen);
	head(out, "lb_discover_proxy_generation", "gauge", "The generation each proxy applied.");
	for (size_t p = 0; p < d->nproxies; p++)
		buf_appendf(out, "lb_discover_proxy_generation{pid=\"%d\"} %llu\n",
			    d->proxies[p].report.pid, d->proxies[p].report.generation);
	head(out, "lb_discover_proxy_stale", "gauge", "1 when the proxy says it hears no sets.");
	for (size_t p = 0; p < d->nproxies; p++)
		buf_appendf(out, "lb_discover_proxy_stale{pid=\"%d\"} %d\n",
			    d->proxies[p].report.pid, d->proxies[p].report.stale);
	head(out, "lb_discover_fleet_proxies", "gauge",
	     "Every proxy of the fleet: a fleet-wide rate limit's divisor.");
	series(out, "lb_discover_fleet_proxies", svc, NULL);
	buf_appendf(out, " %u\n", discover_fleet_proxies(d));
	trace_metrics(out);
	if (d->fleet)
		fleet_metrics(d, out);
	bus_set_release(&set);
	free(totals);
	return 0;
}
