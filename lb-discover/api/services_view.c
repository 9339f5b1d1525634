/* services_view: one summary row per service served (see services_view.h). */
#include "services_view.h"

#include <string.h>

#include "core/proxies.h"
#include "core/served.h"

static json_t *row(const struct served *sv, int main)
{
	const struct registry *reg = sv->reg;
	unsigned long long requests = 0, errors = 0, r5xx = 0;
	size_t by_state[BUS_STATE_DOWN + 1] = { 0 }, ejected = 0, active = 0, synced = 0;

	for (size_t i = 0; i < reg->last_n; i++) {
		if (reg->last[i].state <= BUS_STATE_DOWN)
			by_state[reg->last[i].state]++;
		ejected += reg->last[i].ejected != 0;
	}
	for (size_t p = 0; p < *sv->nproxies; p++) {
		const struct proxy_report *pr = &(*sv->proxies)[p];

		synced += proxies_sync_in(reg, pr) == PROXY_SYNCED;
		for (size_t k = 0; k < pr->report.n; k++) {
			const struct bus_backend *b = &pr->report.backends[k];

			active += b->active;
			requests += b->requests;
			errors += b->errors;
			r5xx += b->responses_5xx;
		}
	}
	return json_pack("{s:s,s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "name",
			 reg->service, "main", main, "generation", (json_int_t)reg->generation,
			 "backends", (json_int_t)reg->last_n, "up",
			 (json_int_t)by_state[BUS_STATE_UP], "draining",
			 (json_int_t)by_state[BUS_STATE_DRAINING], "down",
			 (json_int_t)by_state[BUS_STATE_DOWN], "ejected", (json_int_t)ejected,
			 "active", (json_int_t)active, "requests", (json_int_t)requests, "errors",
			 (json_int_t)errors, "responses_5xx", (json_int_t)r5xx, "proxies",
			 (json_int_t)*sv->nproxies, "proxies_synced", (json_int_t)synced);
}

int services_view_add(struct discover *d, const char *selected, json_t *doc)
{
	json_t *list = json_array();
	struct served sv;

	if (!list)
		return -1;
	served_main(d, &sv);
	json_array_append_new(list, row(&sv, 1));
	for (size_t i = 0; i < d->routed.n; i++) {
		struct routed_service *rs = d->routed.list[i];

		if (json_array_size(list) >= SERVICES_VIEW_MAX &&
		    (!selected || strcmp(selected, rs->reg.service) != 0))
			continue;
		served_routed(rs, &sv);
		json_array_append_new(list, row(&sv, 0));
	}
	json_object_set_new(doc, "services_total", json_integer((json_int_t)(1 + d->routed.n)));
	return json_object_set_new(doc, "services", list);
}
