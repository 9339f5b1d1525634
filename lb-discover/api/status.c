/* status: lb-discover's state rendered as JSON (see status.h). */
#include "status.h"

#include <stdlib.h>
#include <unistd.h>

#include "cluster/fleet.h"
#include "cluster/replicas.h"
#include "core/proxies.h"
#include "core/served.h"

static const char *const sync_names[] = { "synced", "behind", "ignoring", "stale" };

/* Overrides whose backend the source stopped listing, until they expire. */
static json_t *waiting(struct discover *d, const struct registry *reg)
{
	json_t *list = json_array();
	double now = ev_time();

	for (size_t i = 0; i < reg->n; i++) {
		const struct entry *e = &reg->entries[i];
		double left = now - e->left_at;

		if (!registry_waiting(e))
			continue;
		json_array_append_new(list, json_pack("{s:s,s:b,s:b,s:i,s:f,s:f}", "address",
			e->address, "drained", e->drained, "removed", e->removed, "weight",
			e->weight_override, "left_ago", left,
			"expires_in", d->opts->override_grace - left));
	}
	return list;
}

json_t *status_json(struct discover *d, int busy_only)
{
	struct served sv;

	served_main(d, &sv);
	return status_json_of(d, &sv, busy_only);
}

json_t *status_json_of(struct discover *d, const struct served *sv, int busy_only)
{
	struct registry *reg = sv->reg;
	struct bus_set set;
	json_t *root = json_object(), *backends = json_array();
	struct proxy_totals *totals = calloc(reg->n ? reg->n : 1, sizeof(*totals));

	if (!root || !backends || !totals || registry_snapshot(reg, &set) == -1) {
		free(totals);
		json_decref(backends);
		json_decref(root);
		return NULL;
	}
	proxies_totals_of(sv, totals, 0);	/* what the live proxies report */
	for (size_t i = 0; i < set.n; i++) {
		const struct bus_backend *b = &set.backends[i];
		const struct entry *e = registry_find(reg, b->address);
		const struct proxy_totals *t = &totals[e - reg->entries];

		json_t *o =
			json_pack("{s:s,s:s,s:i,s:s,s:s,s:i,s:I,s:I,s:I,s:i}", "address", b->address,
				  "state", bus_state_name(b->state), "weight", b->weight, "reason",
				  b->reason, "health", e->healthy ? "ok" : "failing", "active",
				  (int)t->active, "requests", (json_int_t)t->requests, "errors",
				  (json_int_t)t->errors, "responses_5xx", (json_int_t)t->responses_5xx,
				  "proxies_skipping", b->state == BUS_STATE_UP ? (int)t->down : 0);

		/* why the proxies skip it: a connect failed or timed out, or their
		 * own ejection (lb-ctl names it; not every skip is a failed connect) */
		if (o && b->state == BUS_STATE_UP && t->down) {
			json_t *why = json_object();

			for (int k = 0; k < 4; k++)
				if (t->skip[k])
					json_object_set_new(why, k ? bus_skip_name((enum bus_skip)k)
								   : "down", json_integer(t->skip[k]));
			json_object_set_new(o, "skipping", why);
		}
		if (o && b->ejected)
			json_object_set_new(o, "ejection", json_pack("{s:s,s:f,s:i}", "reason",
					    b->eject_reason, "left", b->eject_left, "count",
					    (int)b->ejections));
		json_array_append_new(backends, o);
	}
	json_object_set_new(root, "service", json_string(reg->service));
	json_object_set_new(root, "generation", json_integer((json_int_t)reg->generation));
	json_object_set_new(root, "pid", json_integer(getpid()));
	json_object_set_new(root, "backends", backends);
	json_object_set_new(root, "waiting", waiting(d, reg));
	json_object_set_new(root, "proxies", status_proxies_of(d, sv, busy_only));
	if (d->routed.generation && !sv->routed)
		json_object_set_new(root, "routes", status_routes(d));
	json_object_set_new(root, "proxies_trimmed", json_boolean(busy_only));
	/* until then a proxy that has not reported yet may exist */
	json_object_set_new(root, "proxies_settled", json_boolean(proxies_settled(d)));
	json_object_set_new(root, "uptime", json_real(ev_now(d->loop) - d->started));
	/* every proxy of the fleet: the divisor of a fleet-wide rate limit
	 * (each proxy's --rate-limit is its own, at the door: all of them share
	 * it, whichever services they route to) */
	json_object_set_new(root, "fleet_proxies", json_integer(discover_fleet_proxies(d)));
	if (sv->routed) {
		json_object_set_new(root, "routed", json_true());
		goto out;
	}
	if (d->fleet)
		json_object_set_new(root, "shared_state", fleet_json(d->fleet));
	if (d->replicas)
		json_object_set_new(root, "replicas", replicas_json(d->replicas));
out:
	bus_set_release(&set);
	free(totals);
	return root;
}

json_t *status_proxies(const struct discover *d, int busy_only)
{
	struct served sv;

	served_main((struct discover *)d, &sv);
	return status_proxies_of(d, &sv, busy_only);
}

json_t *status_proxies_of(const struct discover *d, const struct served *sv, int busy_only)
{
	json_t *proxies = json_array();
	double now = ev_now(d->loop);
	const struct registry *reg = sv->reg;

	for (size_t p = 0; p < *sv->nproxies; p++) {
		const struct proxy_report *pr = &(*sv->proxies)[p];
		const struct bus_set *r = &pr->report;
		enum proxy_sync sync = proxies_sync_in(reg, pr);
		json_t *per = json_array();

		for (size_t k = 0; k < r->n; k++) {
			const struct bus_backend *b = &r->backends[k];

			if (!busy_only || b->active)
				json_array_append_new(per, json_pack("{s:s,s:s,s:i,s:I,s:I,s:I}",
					"address", b->address, "state", bus_state_name(b->state),
					"active", (int)b->active, "requests", (json_int_t)b->requests,
					"errors", (json_int_t)b->errors, "responses_5xx",
					(json_int_t)b->responses_5xx));
		}
		/* "follows": the proxy runs one of this lb-discover's sets (at or
		 * above the floor, not refusing newer ones): what drain --wait needs */
		json_array_append_new(proxies,
			json_pack("{s:i,s:I,s:I,s:s,s:b,s:b,s:b,s:f,s:f,s:o}", "pid", r->pid,
				  "generation", (json_int_t)r->generation, "ignored",
				  (json_int_t)r->ignored, "state", sync_names[sync], "follows",
				  sync != PROXY_IGNORING && r->generation >= reg->floor &&
					  r->generation <= reg->generation,
				  "stale", r->stale, "panic", r->panic, "age",
				  now - pr->seen, "uptime", r->uptime, "backends", per));
		if (d->routed.generation)
			json_object_set_new(json_array_get(proxies, json_array_size(proxies) - 1),
					    "routes", json_integer((json_int_t)r->routes));
		/* the proxy's admin API ("" none): lb-ctl routes reads its hits there */
		json_object_set_new(json_array_get(proxies, json_array_size(proxies) - 1), "admin",
				    json_string(r->admin));
	}
	return proxies;
}

json_t *status_routes(const struct discover *d)
{
	const struct routed *r = &d->routed;
	json_t *services = json_array(), *root;
	size_t serving = 0;

	if (!r->generation) {
		json_decref(services);
		return NULL;
	}
	for (size_t i = 0; i < d->nproxies; i++)
		serving += d->proxies[i].report.routes == r->generation;
	for (size_t i = 0; i < r->n; i++) {
		const struct registry *reg = &r->list[i]->reg;
		size_t up = 0;

		for (size_t j = 0; j < reg->last_n; j++)
			up += reg->last[j].state == BUS_STATE_UP;
		json_array_append_new(services, json_pack("{s:s,s:I,s:I,s:I}", "name", reg->service,
			"generation", (json_int_t)reg->generation, "backends", (json_int_t)reg->last_n,
			"up", (json_int_t)up));
	}
	root = json_pack("{s:I,s:i,s:i,s:I,s:I,s:o}", "generation", (json_int_t)r->generation,
			 "listeners", (int)r->listeners, "rules", (int)r->rules, "proxies_serving",
			 (json_int_t)serving, "proxies", (json_int_t)d->nproxies, "services", services);
	return root;
}
