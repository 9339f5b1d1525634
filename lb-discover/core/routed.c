/* routed: the routed Services' sets and the route table, published (see
 * routed.h). */
#include "routed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus_routes.h"
#include "bus.h"
#include "log.h"
#include "route_codec.h"
#include "state.h"

/* A first generation above anything an earlier run of lb-discover published
 * (one per change, far fewer than one per millisecond). */
static unsigned long long clock_generation(void)
{
	return (unsigned long long)(registry_clock() * 1000.0);
}

struct routed_service *routed_find(struct routed *r, const char *name)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->list[i]->reg.service, name) == 0)
			return r->list[i];
	return NULL;
}

struct routed_service *routed_get(struct routed *r, const char *name)
{
	struct routed_service *s = routed_find(r, name), **grown;

	if (s)
		return s;
	if (strlen(name) >= BUS_SERVICE_MAX)
		return NULL;
	grown = realloc(r->list, (r->n + 1) * sizeof(*grown));
	if (!grown)
		return NULL;
	r->list = grown;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	registry_init(&s->reg, "");
	memcpy(s->reg.service, name, strlen(name) + 1);
	registry_raise_above(&s->reg, clock_generation());
	r->list[r->n++] = s;
	if (json_object_get(r->saved, name)) {
		char err[320];

		if (state_apply(&s->reg, json_object_get(r->saved, name), err, sizeof(err)) == -1)
			log_error("state file: a routed service's overrides not applied",
				  "service=%s error=\"%s\"", name, err);
		else
			log_info("routed service's overrides restored from the state file",
				 "service=%s", name);
		json_object_del(r->saved, name);	/* its registry holds them now */
	}
	return s;
}

void routed_settings(struct routed_service *s, const struct service_settings *settings,
		     const char *bad_protocol, const char *bad_balance)
{
	if (bad_protocol && strcmp(bad_protocol, s->bad_protocol) != 0)
		log_warn("routed service: its appProtocol is not one lb speaks: served with the "
			 "proxies' --backend-protocol (routes say ResolvedRefs False, "
			 "UnsupportedProtocol)", "service=%s app_protocol=\"%s\"", s->reg.service,
			 bad_protocol);
	if (bad_balance && strcmp(bad_balance, s->bad_balance) != 0)
		log_warn("routed service: " SERVICE_SETTINGS_BALANCE_ANNOTATION " is not an "
			 "algorithm lb has: balanced with the proxies' --balance", "service=%s "
			 "balance=\"%s\" choices=\"%s\"", s->reg.service, bad_balance,
			 service_settings_balance_names());
	snprintf(s->bad_protocol, sizeof(s->bad_protocol), "%s", bad_protocol ? bad_protocol : "");
	snprintf(s->bad_balance, sizeof(s->bad_balance), "%s", bad_balance ? bad_balance : "");
	s->reg.settings = *settings;
}

void routed_unmark(struct routed *r)
{
	for (size_t i = 0; i < r->n; i++)
		r->list[i]->mark = 0;
}

static void service_free(struct routed_service *s, void (*release)(struct routed_service *s))
{
	if (release)
		release(s);
	for (size_t i = 0; i < s->nproxies; i++)
		bus_set_release(&s->proxies[i].report);
	free(s->proxies);
	registry_release(&s->reg);
	free(s);
}

void routed_sweep(struct routed *r, void (*release)(struct routed_service *s))
{
	size_t kept = 0;

	for (size_t i = 0; i < r->n; i++) {
		if (r->list[i]->mark) {
			r->list[kept++] = r->list[i];
			continue;
		}
		log_info("routed service dropped: no route sends to it", "service=%s",
			 r->list[i]->reg.service);
		service_free(r->list[i], release);
	}
	r->n = kept;
}

static void send_set(struct bus *pub, unsigned proxies, struct routed_service *s)
{
	struct bus_set set;
	struct buf msg = BUF_INIT;

	if (registry_snapshot(&s->reg, &set) == -1)
		return;
	/* the proxies that report this service; before any does, the fleet's */
	set.proxies = s->nproxies ? (s->nproxies < BUS_MAX_PROXIES ? (unsigned)s->nproxies
								   : BUS_MAX_PROXIES)
				  : proxies;
	if (bus_set_encode(&set, &msg) == 0)
		bus_send(pub, msg.data, msg.len);
	buf_release(&msg);
	bus_set_release(&set);
}

void routed_commit(struct bus *pub, unsigned proxies, struct routed_service *s)
{
	struct buf joined = BUF_INIT, left = BUF_INIT, what = BUF_INIT;

	if (registry_commit_diff(&s->reg, &joined, &left, &what, 16))
		log_info("set changed", "service=%s generation=%llu backends=%zu joined=%.*s "
			 "left=%.*s changed=%.*s protocol=%s balance=%s", s->reg.service,
			 s->reg.generation, s->reg.last_n, (int)joined.len,
			 joined.data ? joined.data : "", (int)left.len, left.data ? left.data : "",
			 (int)what.len, what.data ? what.data : "",
			 s->reg.settings.protocol[0] ? s->reg.settings.protocol : "-",
			 s->reg.settings.balance[0] ? s->reg.settings.balance : "-");
	buf_release(&joined);
	buf_release(&left);
	buf_release(&what);
	send_set(pub, proxies, s);
}

int routed_publish_table(struct routed *r, struct bus *pub, const struct route_table *t)
{
	struct buf table = BUF_INIT, msg = BUF_INIT;
	unsigned long long next;
	unsigned rules = 0;

	if (route_codec_encode(t, &table) == -1)
		goto fail;
	if (r->generation && table.len == r->table.len &&
	    memcmp(table.data, r->table.data, table.len) == 0) {
		buf_release(&table);
		return 0;
	}
	next = r->generation ? r->generation + 1 : clock_generation();
	if (bus_routes_encode(next, t, &msg) == -1)
		goto fail;
	buf_release(&r->table);
	buf_release(&r->msg);
	r->table = table;
	r->msg = msg;
	r->generation = next;
	for (unsigned i = 0; i < t->n_listeners; i++)
		for (unsigned j = 0; j < t->listeners[i].n_vhosts; j++)
			rules += t->listeners[i].vhosts[j].n_entries;
	r->rules = t->n_rules;
	r->listeners = t->n_listeners;
	log_info("routes changed", "generation=%llu listeners=%u rules=%u entries=%u bytes=%zu",
		 next, t->n_listeners, t->n_rules, rules, msg.len);
	bus_send(pub, r->msg.data, r->msg.len);
	return 1;
fail:
	log_error("routes not published: the table does not encode within the bus's message "
		  "size; keeping the last one", "bytes=%zu max=%d", table.len, BUS_MAX_MESSAGE);
	buf_release(&table);
	buf_release(&msg);
	return -1;
}

json_t *routed_overrides(const struct routed *r)
{
	json_t *all = json_object(), *v;
	const char *name;

	for (size_t i = 0; all && i < r->n; i++) {
		json_t *list = state_backends(&r->list[i]->reg);

		if (list && json_array_size(list))
			json_object_set_new(all, r->list[i]->reg.service,
					    json_pack("{s:o}", "backends", list));
		else
			json_decref(list);
	}
	json_object_foreach(r->saved, name, v)
		if (all && !json_object_get(all, name))
			json_object_set(all, name, v);
	if (all && json_object_size(all) == 0) {
		json_decref(all);
		return NULL;
	}
	return all;
}

void routed_heartbeat(struct routed *r, struct bus *pub, unsigned proxies)
{
	if (r->generation)
		bus_send(pub, r->msg.data, r->msg.len);
	for (size_t i = 0; i < r->n; i++)
		send_set(pub, proxies, r->list[i]);
}

void routed_digest(const struct routed *r, char *out, size_t size)
{
	unsigned long long h = 14695981039346656037ULL;	/* FNV-1a, 64 bits */

	if (!r->generation) {
		snprintf(out, size, "%s", "");
		return;
	}
	for (size_t i = 0; i < r->table.len; i++) {
		h ^= (unsigned char)r->table.data[i];
		h *= 1099511628211ULL;
	}
	snprintf(out, size, "%016llx", h);
}

void routed_keep_statuses(struct routed *r, const struct gateway_parent_status *st, unsigned n)
{
	struct gateway_parent_status *copy = malloc((n ? n : 1) * sizeof(*copy));

	if (!copy)
		return;
	if (n)
		memcpy(copy, st, n * sizeof(*copy));
	free(r->statuses);
	r->statuses = copy;
	r->n_statuses = n;
}

void routed_release(struct routed *r, void (*release)(struct routed_service *s))
{
	for (size_t i = 0; i < r->n; i++)
		service_free(r->list[i], release);
	free(r->list);
	json_decref(r->saved);
	buf_release(&r->msg);
	buf_release(&r->table);
	free(r->statuses);
	memset(r, 0, sizeof(*r));
}
