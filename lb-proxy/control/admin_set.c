/* admin_set: lb-proxy's admin API on its own set (see admin_set.h). */
#include "admin_set.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus_protocol.h"
#include "log.h"
#include "net.h"
#include "upstream/outlier.h"
#include "verbs.h"

/* {"error": why} and its status. */
static enum admin_set_verdict refuse(int *status, struct buf *out, int code, const char *why)
{
	*status = code;
	buf_reset(out);
	buf_append_str(out, "{\"error\":\"");
	buf_append_json_escaped(out, why, strlen(why));
	buf_append_str(out, "\"}");
	return ADMIN_SET_ANSWERED;
}

static struct backend *find(struct proxy *px, const char *address)
{
	for (size_t i = 0; i < px->set.n; i++)
		if (strcmp(px->set.items[i]->name, address) == 0)
			return px->set.items[i];
	return NULL;
}

/* What a write asks of the set, parsed from the route and the body. */
struct edit {
	const char *verb;		/* the verb's command: "add", "drain", ... */
	char address[BUS_ADDRESS_MAX];	/* as the set names it */
	struct net_addr addr;
	long weight;			/* 0: not given */
};

/* Fills e from the route and the body (lb-discover's rules: the address in
 * the path or the body, seed 004's http:// spelling, IP literals only, a
 * weight 1-1000). Returns 0, or -1 with the refusal in status and out. */
static int parse_edit(const struct admin_route *route, const char *body, size_t len,
		      struct edit *e, int *status, struct buf *out)
{
	const struct verb *v = route->verb;
	const char *spelled = route->address;
	json_t *doc = NULL, *w;
	json_error_t jerr;
	char why[256];
	int rc = -1;

	memset(e, 0, sizeof(*e));
	e->verb = v->command;
	if (route->error) {
		refuse(status, out, 400, route->error);
		return -1;
	}
	if (!route->address_in_path || (v->args & (VERB_WEIGHT | VERB_OPT_WEIGHT))) {
		doc = len ? json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
		if (!json_is_object(doc)) {
			refuse(status, out, 400, "the body must be a JSON object");
			goto out;
		}
	}
	if (!route->address_in_path) {
		spelled = json_string_value(json_object_get(doc, "address"));
		if (!spelled) {
			snprintf(why, sizeof(why), "\"%s\" needs an \"address\" (a string: "
				 "\"10.0.0.9:8080\")", v->name);
			refuse(status, out, 400, why);
			goto out;
		}
	}
	w = json_object_get(doc, "weight");
	if ((v->args & VERB_WEIGHT) || ((v->args & VERB_OPT_WEIGHT) && w)) {
		if (!json_is_integer(w) || json_integer_value(w) < 1 ||
		    json_integer_value(w) > 1000) {
			refuse(status, out, 400, "the weight must be 1 to 1000");
			goto out;
		}
		e->weight = (long)json_integer_value(w);
	}
	/* "http://10.0.0.9:8080" is 10.0.0.9:8080; a name is never resolved
	 * in the loop: literals only, localhost is 127.0.0.1 */
	if (net_url_address(spelled, e->address, sizeof(e->address), why, sizeof(why)) == -1 ||
	    net_parse_numeric(e->address, &e->addr, why, sizeof(why)) == -1) {
		refuse(status, out, 400, why);
		goto out;
	}
	if (net_is_localhost(e->address))
		net_addr_format((struct sockaddr *)&e->addr.ss, e->address, sizeof(e->address));
	rc = 0;
out:
	json_decref(doc);
	return rc;
}

/* The set with e applied, as the next generation (new backend objects:
 * backend_set_apply keeps the running ones by name, with their counters
 * and pools). Returns 0 or -1 (out of memory). */
static int next_set(struct proxy *px, const struct edit *e, struct backend_set *next)
{
	int add = strcmp(e->verb, "add") == 0, remove = strcmp(e->verb, "remove") == 0;

	memset(next, 0, sizeof(*next));
	next->items = calloc(px->set.n + 1, sizeof(*next->items));
	if (!next->items)
		return -1;
	for (size_t i = 0; i < px->set.n; i++) {
		const struct backend *old = px->set.items[i];
		struct backend *b;

		if (remove && strcmp(old->name, e->address) == 0)
			continue;
		b = backend_new(old->name, &old->addr, old->weight);
		if (!b)
			goto fail;
		b->state = old->state;
		if (strcmp(old->name, e->address) == 0) {
			if (strcmp(e->verb, "drain") == 0)
				b->state = BACKEND_DRAINING;
			else if (strcmp(e->verb, "undrain") == 0)
				b->state = BACKEND_UP;
			else if (strcmp(e->verb, "weight") == 0)
				b->weight = (int)e->weight;
		}
		next->items[next->n++] = b;
	}
	if (add) {
		struct backend *b = backend_new(e->address, &e->addr, e->weight ? (int)e->weight : 1);

		if (!b)
			goto fail;
		next->items[next->n++] = b;
	}
	next->generation = px->set.generation + 1;
	return 0;
fail:
	backend_set_release(next);
	return -1;
}

/* {"generation","address"} of the set now. */
static void done(struct proxy *px, const char *address, struct buf *out)
{
	buf_reset(out);
	buf_appendf(out, "{\"generation\":%llu,\"address\":\"%s\"}", px->set.generation, address);
}

enum admin_set_verdict admin_set_run(struct proxy *px, const struct admin_route *route,
				     const char *body, size_t len, const char *runtime_dir,
				     int *status, struct buf *out, struct admin_set_wait *w)
{
	struct backend_set next;
	struct backend *b;
	struct edit e;
	char why[1024];

	if (px->on_bus) {
		/* the set is lb-discover's: a change here would be undone by its
		 * next set, so it goes there */
		if (px->discover_admin[0])
			snprintf(why, sizeof(why), "lb-proxy follows lb-discover's sets: send this to "
				 "lb-discover's admin API at http://%s%s (or lb-ctl --runtime-dir %s)",
				 px->discover_admin, route->path, runtime_dir);
		else
			snprintf(why, sizeof(why), "lb-proxy follows lb-discover's sets: send this to "
				 "lb-discover (lb-ctl --runtime-dir %s %s ADDR, or its --admin API)",
				 runtime_dir, route->verb->name);
		*status = 409;
		buf_reset(out);
		buf_append_str(out, "{\"error\":\"");
		buf_append_json_escaped(out, why, strlen(why));
		buf_append_str(out, "\",\"discover_admin\":");
		if (px->discover_admin[0]) {
			/* the bus's bytes: escaped like any */
			buf_append_str(out, "\"");
			buf_append_json_escaped(out, px->discover_admin, strlen(px->discover_admin));
			buf_append_str(out, "\"");
		} else
			buf_append_str(out, "null");
		buf_append_str(out, ",\"runtime_dir\":\"");
		buf_append_json_escaped(out, runtime_dir, strlen(runtime_dir));
		buf_append_str(out, "\"}");
		return ADMIN_SET_ANSWERED;
	}
	if (parse_edit(route, body, len, &e, status, out) == -1)
		return ADMIN_SET_ANSWERED;
	b = find(px, e.address);
	if (strcmp(e.verb, "add") == 0) {
		if (b) {
			snprintf(why, sizeof(why), "backend %s is already in the set (PUT "
				 "/admin/backends/%s/weight changes its weight)", e.address, e.address);
			return refuse(status, out, 409, why);
		}
		if (px->set.n >= BUS_MAX_BACKENDS) {
			snprintf(why, sizeof(why), "the set is full: at most %d backends (remove one "
				 "first)", BUS_MAX_BACKENDS);
			return refuse(status, out, 409, why);
		}
	} else if (!b) {
		snprintf(why, sizeof(why), "unknown backend %s (GET /admin/backends lists them)",
			 e.address);
		return refuse(status, out, 404, why);
	}
	log_info("operator", "command=%s address=%s", e.verb, e.address);
	if (strcmp(e.verb, "uneject") == 0) {
		outlier_close(b, ev_now(px->loop));
	} else {
		if (next_set(px, &e, &next) == -1)
			return refuse(status, out, 500, "out of memory");
		backend_set_apply(&px->set, &next, ev_now(px->loop));
		if (px->set_applied)
			px->set_applied(px);	/* the balancer rebuilt, the queue woken */
	}
	*status = strcmp(e.verb, "add") == 0 ? 201 : 200;
	done(px, e.address, out);
	if (strcmp(e.verb, "drain") == 0 && route->wait > 0) {
		snprintf(w->address, sizeof(w->address), "%s", e.address);
		w->generation = px->set.generation;
		w->deadline = ev_now(px->loop) + route->wait;
		if (!admin_set_wait_check(px, w, 0, out))
			return ADMIN_SET_PARKED;
		*status = 200;
	}
	return ADMIN_SET_ANSWERED;
}

int admin_set_wait_check(struct proxy *px, const struct admin_set_wait *w, int last,
			 struct buf *out)
{
	const struct backend *b = find(px, w->address);
	const char *cancelled = !b ? "it was removed from the set"
				: b->state != BACKEND_DRAINING ? "an undrain cancelled the drain" : NULL;
	long n = b ? (long)b->active : 0;
	int status;

	if (!cancelled && n > 0 && !last && ev_now(px->loop) < w->deadline)
		return 0;
	status = cancelled ? 409 : n == 0 ? 200 : 202;
	buf_reset(out);
	buf_appendf(out, "{\"generation\":%llu,\"address\":\"%s\",\"drained\":%s,\"proxies\":1,"
		    "\"in_flight\":%ld", w->generation, w->address, status == 200 ? "true" : "false",
		    n);
	if (cancelled) {
		log_info("drain wait ended: the drain was cancelled", "address=%s generation=%llu "
			 "reason=\"%s\"", w->address, w->generation, cancelled);
		buf_appendf(out, ",\"error\":\"not drained: the drain was cancelled: %s %s\"",
			    w->address, cancelled);
	}
	buf_append_str(out, "}");
	return status;
}

void admin_set_list(struct proxy *px, struct buf *out)
{
	double now = ev_now(px->loop);

	buf_appendf(out, "{\"service\":\"static\",\"generation\":%llu,\"backends\":[",
		    px->set.generation);
	for (size_t i = 0; i < px->set.n; i++) {
		const struct backend *b = px->set.items[i];
		const struct outlier *o = &b->outlier;
		enum outlier_state st = outlier_state_at(o, now);

		buf_appendf(out, "%s{\"address\":\"%s\",\"state\":\"%s\",\"weight\":%d,\"reason\":\"%s\","
			    "\"health\":\"ok\",\"active\":%u,\"requests\":%llu,\"errors\":%llu,"
			    "\"responses_5xx\":%llu", i ? "," : "", b->name,
			    backend_state_name(b->state), b->weight,
			    b->state == BACKEND_DRAINING ? "operator" : "", b->active, b->requests,
			    b->errors, b->answered_5xx);
		if (st != OUTLIER_CLOSED) {
			buf_append_str(out, ",\"ejection\":{\"reason\":\"");
			buf_append_json_escaped(out, o->reason, strlen(o->reason));
			buf_appendf(out, "\",\"left\":%.3f,\"count\":%u}",
				    st == OUTLIER_OPEN ? o->until - now : 0.0,
				    o->ejections ? o->ejections : 1);
		}
		buf_append_str(out, "}");
	}
	buf_append_str(out, "],\"waiting\":[]}");
}
