/* route_view: the published route table for operators (see route_view.h). */
#include "route_view.h"

#include "route_codec_decode.h"
#include "route_json.h"

/* Each backendRef of each rule gains "backends": the routed Service's
 * backend count (-1: unresolved, none published), and of a resolved one
 * "protocol" and "balance" as its sets carry them. */
static void add_backend_counts(const struct discover *d, json_t *routes)
{
	json_t *route, *rule, *ref;
	size_t i, j, k;

	json_array_foreach(routes, i, route)
		json_array_foreach(json_object_get(route, "rules"), j, rule)
			json_array_foreach(json_object_get(rule, "backendRefs"), k, ref) {
				const char *name = json_string_value(json_object_get(ref, "service"));
				struct routed_service *s = name && json_is_true(json_object_get(
					ref, "resolved")) ? routed_find((struct routed *)&d->routed,
									name) : NULL;

				json_object_set_new(ref, "backends",
						    json_integer(s ? (json_int_t)s->reg.last_n : -1));
				/* its own protocol and algorithm ("": the proxies'), and
				 * what of them could not be taken */
				if (!s)
					continue;
				json_object_set_new(ref, "protocol",
						    json_string(s->reg.settings.protocol));
				json_object_set_new(ref, "balance",
						    json_string(s->reg.settings.balance));
				if (s->bad_protocol[0])
					json_object_set_new(ref, "unsupported_protocol",
							    json_string(s->bad_protocol));
				if (s->bad_balance[0])
					json_object_set_new(ref, "unsupported_balance",
							    json_string(s->bad_balance));
			}
}

/* The table last published, as route_json writes it, or an empty one. */
static json_t *table_json(const struct discover *d)
{
	struct route_table *t = NULL;
	struct buf text = BUF_INIT;
	char err[256];
	json_t *doc = NULL;

	if (d->routed.generation &&
	    route_codec_decode(d->routed.table.data, d->routed.table.len, &t, err,
			       sizeof(err)) == 0) {
		buf_append_str(&text, "{");
		if (route_json_table(t, NULL, &text) == 0 && buf_append_str(&text, "}") == 0)
			doc = json_loadb(text.data, text.len, 0, NULL);
		route_table_free(t);
		buf_release(&text);
	}
	return doc ? doc : json_pack("{s:[],s:[]}", "listeners", "routes");
}

static json_t *condition(const struct gateway_condition *c)
{
	return json_pack("{s:b,s:s,s:s}", "status", c->status, "reason", c->reason ? c->reason : "",
			 "message", c->message);
}

json_t *route_view_json(const struct discover *d)
{
	json_t *doc = table_json(d), *statuses = json_array(), *proxies = json_array();
	unsigned serving = 0;

	if (!doc || !statuses || !proxies)
		goto fail;
	add_backend_counts(d, json_object_get(doc, "routes"));
	for (unsigned i = 0; i < d->routed.n_statuses; i++) {
		const struct gateway_parent_status *st = &d->routed.statuses[i];

		json_array_append_new(statuses, json_pack("{s:s,s:i,s:o,s:o}", "route", st->route,
					"parent", (int)st->parent, "accepted",
					condition(&st->accepted), "resolved_refs",
					condition(&st->resolved_refs)));
	}
	for (size_t p = 0; p < d->nproxies; p++) {
		const struct bus_set *r = &d->proxies[p].report;

		if (d->routed.generation && r->routes == d->routed.generation)
			serving++;
		json_array_append_new(proxies, json_pack("{s:i,s:I,s:s}", "pid", r->pid, "routes",
							 (json_int_t)r->routes, "admin", r->admin));
	}
	json_object_set_new(doc, "generation", json_integer((json_int_t)d->routed.generation));
	json_object_set_new(doc, "statuses", statuses);
	json_object_set_new(doc, "proxies", proxies);
	json_object_set_new(doc, "proxies_serving", json_integer(serving));
	return doc;
fail:
	json_decref(doc);
	json_decref(statuses);
	json_decref(proxies);
	return NULL;
}
