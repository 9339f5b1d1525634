/* metrics: lb-discover's fleet metrics in Prometheus text format. */
#include "metrics.h"

#include <stdlib.h>
#include <string.h>

#include "cluster/fleet.h"
#include "cluster/replicas.h"
#include "core/ejection.h"
#include "core/proxies.h"
#include "core/served.h"
#include "core/spans.h"
#include "otlp_export.h"

/* A label value with \ " and newlines escaped (Prometheus text format). */
static void label(struct buf *out, const char *s)
{
	for (;;) {
		size_t plain = strcspn(s, "\\\"\n");	/* a run to copy as it is */

		buf_append(out, s, plain);
		s += plain;
		if (!*s)
			return;
		buf_append_str(out, *s == '\n' ? "\\n" : *s == '"' ? "\\\"" : "\\\\");
		s++;
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

/* One service's published set and the proxies' totals of its backends. */
struct svc_snapshot {
	struct served sv;
	struct bus_set set;
	struct proxy_totals *totals;	/* per sv.reg entry */
};

/* One per-backend family: `value(i)` of every published backend of every
 * service (the main one first); e is the backend's entry, t its totals. */
#define PER_BACKEND(name, type, help, fmt, value)                                           \
	do {                                                                                 \
		head(out, name, type, help);                                                 \
		for (size_t k = 0; k < nsnaps; k++) {                                        \
			const struct svc_snapshot *sn = &snaps[k];                           \
			for (size_t i = 0; i < sn->set.n; i++) {                             \
				const struct bus_backend *b = &sn->set.backends[i];         \
				const struct entry *e = registry_find(sn->sv.reg, b->address); \
				const struct proxy_totals *t = &sn->totals[e - sn->sv.reg->entries]; \
				(void)t;                                                     \
				(void)b;                                                     \
				series(out, name, sn->sv.reg->service, b->address);          \
				buf_appendf(out, " " fmt "\n", value);                       \
			}                                                                    \
		}                                                                            \
	} while (0)

/* One per-service family: `value` of every service (sn its snapshot). */
#define PER_SERVICE(name, type, help, fmt, value)                                           \
	do {                                                                                 \
		head(out, name, type, help);                                                 \
		for (size_t k = 0; k < nsnaps; k++) {                                        \
			const struct svc_snapshot *sn = &snaps[k];                           \
			series(out, name, sn->sv.reg->service, NULL);                        \
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

/* Proxies that report sv and applied its current set. */
static unsigned synced_proxies(const struct served *sv)
{
	unsigned n = 0;

	for (size_t p = 0; p < *sv->nproxies; p++)
		n += proxies_sync_in(sv->reg, &(*sv->proxies)[p]) == PROXY_SYNCED;
	return n;
}

/* --routes / --gateway: the route table published, the proxies serving it,
 * each route's conditions per parentRef. Nothing without routes. */
/* One gauge per route and parentRef: its Accepted (resolved 0) or its
 * ResolvedRefs (1) condition, as the last compile wrote it. */
static void route_condition(struct buf *out, const struct routed *r, const char *name,
			    const char *help, int resolved)
{
	head(out, name, "gauge", help);
	for (unsigned i = 0; i < r->n_statuses; i++) {
		buf_append_str(out, name);
		buf_append_str(out, "{route=\"");
		label(out, r->statuses[i].route);
		buf_appendf(out, "\",parent=\"%u\"} %d\n", r->statuses[i].parent,
			    (resolved ? r->statuses[i].resolved_refs.status
				      : r->statuses[i].accepted.status) != 0);
	}
}

static void route_metrics(struct discover *d, struct buf *out)
{
	const struct routed *r = &d->routed;
	unsigned serving = 0;

	if (!r->generation)
		return;
	for (size_t p = 0; p < d->nproxies; p++)
		serving += d->proxies[p].report.routes == r->generation;
	head(out, "lb_discover_routes_generation", "gauge",
	     "The generation of the route table published.");
	buf_appendf(out, "lb_discover_routes_generation %llu\n", r->generation);
	head(out, "lb_discover_routes_rules", "gauge", "Rules in the route table published.");
	buf_appendf(out, "lb_discover_routes_rules %u\n", r->rules);
	head(out, "lb_discover_routes_proxies_serving", "gauge",
	     "Proxies that serve the route table published (its generation).");
	buf_appendf(out, "lb_discover_routes_proxies_serving %u\n", serving);
	head(out, "lb_discover_routed_services", "gauge",
	     "Services the routes send to (each has its own lb_discover_* series by service).");
	buf_appendf(out, "lb_discover_routed_services %zu\n", r->n);
	head(out, "lb_discover_proxy_routes_generation", "gauge",
	     "The route table's generation each proxy serves.");
	for (size_t p = 0; p < d->nproxies; p++)
		buf_appendf(out, "lb_discover_proxy_routes_generation{pid=\"%d\"} %llu\n",
			    d->proxies[p].report.pid, d->proxies[p].report.routes);
	route_condition(out, r, "lb_discover_route_accepted",
			"1 when the route is Accepted by its parentRef (the Gateway), 0 when not.", 0);
	route_condition(out, r, "lb_discover_route_resolved_refs",
			"1 when every backendRef of the route resolves (ResolvedRefs), 0 when not.",
			1);
}

static void snapshots_release(struct svc_snapshot *snaps, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		bus_set_release(&snaps[k].set);
		free(snaps[k].totals);
	}
	free(snaps);
}

/* The main service's and every routed Service's set and totals (the main
 * one first), or NULL when out of memory. */
static struct svc_snapshot *snapshots(struct discover *d, size_t *n)
{
	size_t want = 1 + d->routed.n;
	struct svc_snapshot *snaps = calloc(want, sizeof(*snaps));

	*n = 0;
	if (!snaps)
		return NULL;
	for (size_t k = 0; k < want; k++) {
		struct svc_snapshot *sn = &snaps[k];

		if (k == 0)
			served_main(d, &sn->sv);
		else
			served_routed(d->routed.list[k - 1], &sn->sv);
		sn->totals = calloc(sn->sv.reg->n ? sn->sv.reg->n : 1, sizeof(*sn->totals));
		if (!sn->totals || registry_snapshot(sn->sv.reg, &sn->set) == -1) {
			free(sn->totals);
			snapshots_release(snaps, k);
			return NULL;
		}
		/* counters: never down when a proxy goes */
		proxies_totals_of(&sn->sv, sn->totals, 1);
		*n = k + 1;
	}
	return snaps;
}

int metrics_render(struct discover *d, struct buf *out)
{
	size_t nsnaps;
	struct svc_snapshot *snaps = snapshots(d, &nsnaps);
	const char *svc = d->reg.service;
	double now = ev_now(d->loop);

	if (!snaps)
		return -1;
	PER_SERVICE("lb_discover_generation", "gauge", "The generation of the set published.",
		    "%llu", sn->sv.reg->generation);
	PER_SERVICE("lb_discover_backends", "gauge", "Backends in the set published.", "%zu",
		    sn->set.n);
	head(out, "lb_discover_backend_state", "gauge",
	     "1 for the backend's state (up, draining, down), 0 for the others.");
	for (size_t k = 0; k < nsnaps; k++) {
		const struct bus_set *set = &snaps[k].set;

		for (size_t i = 0; i < set->n; i++) {
			for (int s = BUS_STATE_UP; s <= BUS_STATE_DOWN; s++) {
				series_state(out, "lb_discover_backend_state",
					     snaps[k].sv.reg->service, set->backends[i].address,
					     bus_state_name((enum bus_state)s));
				buf_appendf(out, " %d\n", set->backends[i].state == (enum bus_state)s);
			}
		}
	}
	PER_BACKEND("lb_discover_backend_weight", "gauge", "The weight published.", "%d",
		    b->weight);
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
	for (size_t k = 0; k < nsnaps; k++) {
		const struct svc_snapshot *sn = &snaps[k];

		for (size_t i = 0; i < sn->set.n; i++) {
			const struct entry *e = registry_find(sn->sv.reg, sn->set.backends[i].address);

			for (unsigned r = 0; r < BUS_FAILURE_LABELS; r++) {
				series_label(out, "lb_discover_ejections_total", sn->sv.reg->service,
					     sn->set.backends[i].address, "reason",
					     bus_failure_label(r));
				buf_appendf(out, " %llu\n", e->ejections_by[r]);
			}
		}
	}
	PER_SERVICE("lb_discover_ejected_backends", "gauge",
		    "Backends ejected fleet-wide now (open or half-open).", "%zu",
		    ejection_count_in(sn->sv.reg));
	PER_SERVICE("lb_discover_proxies", "gauge",
		    "Proxies heard from lately that report the service.", "%zu", *sn->sv.nproxies);
	PER_SERVICE("lb_discover_proxies_synced", "gauge",
		    "Of those, the proxies that applied the service's current set.", "%u",
		    synced_proxies(&sn->sv));
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
	route_metrics(d, out);
	trace_metrics(out);
	if (d->fleet)
		fleet_metrics(d, out);
	snapshots_release(snaps, nsnaps);
	return 0;
}
