/* control: lb-discover's answers to lb-ctl (REP).
 *
 * Requests: {"v":5,"type":"control","command":C, "address":A, "weight":N}
 * with C one of status, drain, undrain, add, remove, weight. Replies:
 * {"v":5,"type":"reply","ok":true,...} or {"v":5,"type":"reply","ok":false,
 * "error":"..."}. Every command is idempotent: nanomsg's REQ may resend. */
#include "control.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "net.h"
#include "proxies.h"

/* Overrides whose backend the source stopped listing, until they expire. */
static json_t *waiting(struct discover *d)
{
	json_t *list = json_array();
	double now = ev_time();

	for (size_t i = 0; i < d->reg.n; i++) {
		const struct entry *e = &d->reg.entries[i];
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

/* The status reply; with busy_only, the per-proxy lists keep only backends
 * with requests in flight (a full one can be over the bus's message limit). */
static json_t *status(struct discover *d, int busy_only)
{
	struct bus_set set;
	json_t *root = json_object(), *backends = json_array();
	struct proxy_totals *totals = calloc(d->reg.n ? d->reg.n : 1, sizeof(*totals));

	if (!totals || registry_snapshot(&d->reg, &set) == -1) {
		free(totals);
		json_decref(backends);
		json_decref(root);
		return NULL;
	}
	proxies_totals(d, totals);
	for (size_t i = 0; i < set.n; i++) {
		const struct bus_backend *b = &set.backends[i];
		const struct entry *e = registry_find(&d->reg, b->address);
		const struct proxy_totals *t = &totals[e - d->reg.entries];

		json_array_append_new(backends,
			json_pack("{s:s,s:s,s:i,s:s,s:s,s:i,s:I,s:I,s:I,s:i}", "address", b->address,
				  "state", bus_state_name(b->state), "weight", b->weight, "reason",
				  b->reason, "health", e->healthy ? "ok" : "failing", "active",
				  (int)t->active, "requests", (json_int_t)t->requests, "errors",
				  (json_int_t)t->errors, "responses_5xx", (json_int_t)t->responses_5xx,
				  "proxies_skipping", b->state == BUS_STATE_UP ? (int)t->down : 0));
	}
	json_object_set_new(root, "service", json_string(d->reg.service));
	json_object_set_new(root, "generation", json_integer((json_int_t)d->reg.generation));
	json_object_set_new(root, "pid", json_integer(getpid()));
	json_object_set_new(root, "backends", backends);
	json_object_set_new(root, "waiting", waiting(d));
	json_object_set_new(root, "proxies", proxies_json(d, busy_only));
	json_object_set_new(root, "proxies_trimmed", json_boolean(busy_only));
	/* until then a proxy that has not reported yet may exist */
	json_object_set_new(root, "proxies_settled", json_boolean(proxies_settled(d)));
	json_object_set_new(root, "uptime", json_real(ev_now(d->loop) - d->started));
	json_object_set_new(root, "ok", json_true());
	bus_set_release(&set);
	free(totals);
	return root;
}

/* Applies one command; returns NULL on success or the error to reply. */
static const char *apply(struct discover *d, const char *cmd, const char *addr, json_t *weight,
			 char *err, size_t errsz)
{
	struct entry *e;
	struct net_addr na;
	char url_addr[BUS_ADDRESS_MAX];

	if (!addr) {
		snprintf(err, errsz, "\"%s\" needs an \"address\"", cmd);
		return err;
	}
	/* "http://10.0.0.9:8080" is 10.0.0.9:8080 (seed 004's spelling) */
	if (net_url_address(addr, url_addr, sizeof(url_addr), err, errsz) == -1)
		return err;
	addr = url_addr;
	if (strcmp(cmd, "add") == 0) {
		if (strlen(addr) >= BUS_ADDRESS_MAX || net_parse_numeric(addr, &na, err, errsz) == -1)
			return err;
		e = registry_find(&d->reg, addr);
		if ((!e || !registry_published(e)) &&
		    registry_published_count(&d->reg) >= BUS_MAX_BACKENDS) {
			snprintf(err, errsz, "the set is full: the bus carries at most %d backends "
				 "(remove one first)", BUS_MAX_BACKENDS);
			return err;
		}
		if (weight && (!json_is_integer(weight) || json_integer_value(weight) < 1 ||
			       json_integer_value(weight) > 1000)) {
			snprintf(err, errsz, "the weight must be 1 to 1000");
			return err;
		}
		e = registry_get(&d->reg, addr);
		if (!e) {
			snprintf(err, errsz, "out of memory");
			return err;
		}
		e->removed = 0;
		e->added = 1;
		if (weight)
			e->weight_override = (int)json_integer_value(weight);
		return NULL;
	}
	e = registry_find(&d->reg, addr);
	if (e && registry_waiting(e) && strcmp(cmd, "undrain") == 0) {
		e->drained = 0;		/* an override waiting for its backend, cancelled */
		return NULL;
	}
	if (!e || !registry_published(e)) {
		snprintf(err, errsz, "unknown backend %s (lb-ctl status lists them)", addr);
		return err;
	}
	if (strcmp(cmd, "drain") == 0) {
		e->drained = 1;
	} else if (strcmp(cmd, "undrain") == 0) {
		e->drained = 0;
	} else if (strcmp(cmd, "remove") == 0) {
		e->removed = 1;
		e->added = 0;
	} else if (strcmp(cmd, "weight") == 0) {
		if (!json_is_integer(weight) || json_integer_value(weight) < 1 ||
		    json_integer_value(weight) > 1000) {
			snprintf(err, errsz, "the weight must be 1 to 1000");
			return err;
		}
		e->weight_override = (int)json_integer_value(weight);
	} else {
		snprintf(err, errsz, "unknown command \"%s\"", cmd);
		return err;
	}
	return NULL;
}

/* The reply's text (malloc'd), or NULL when it is over the bus's limit. */
static char *reply_text(json_t *body)
{
	char *text;

	json_object_set_new(body, "v", json_integer(BUS_PROTOCOL_VERSION));
	json_object_set_new(body, "type", json_string("reply"));
	text = json_dumps(body, JSON_COMPACT);
	if (text && strlen(text) > BUS_MAX_MESSAGE) {
		free(text);
		return NULL;
	}
	return text;
}

static void reply(struct discover *d, json_t *body)
{
	char *text = body ? reply_text(body) : NULL;

	if (!text)
		text = reply_text(json_pack("{s:b,s:s}", "ok", 0, "error", body ? "reply too large"
										 : "out of memory"));
	json_decref(body);
	if (text)
		bus_send(&d->rep, text, strlen(text));
	free(text);
}

/* The full status, or with only busy backends per proxy when that is over
 * the bus's limit (thousands of backends times several proxies). */
static void reply_status(struct discover *d)
{
	json_t *st = status(d, 0);
	char *text = st ? reply_text(st) : NULL;

	json_decref(st);
	if (text) {
		bus_send(&d->rep, text, strlen(text));
		free(text);
		return;
	}
	reply(d, status(d, 1));
}

static void on_request(struct bus *b, const char *data, size_t len)
{
	struct discover *d = b->data;
	json_error_t jerr;
	json_t *req = json_loadb(data, len, 0, &jerr), *v;
	const char *cmd, *addr, *fail = NULL;
	char err[256];

	v = json_object_get(req, "v");
	if (json_is_integer(v) && json_integer_value(v) != BUS_PROTOCOL_VERSION) {
		snprintf(err, sizeof(err), "lb-ctl speaks bus protocol %lld, this lb-discover %d: use "
			 "the lb-ctl of the same lb release", (long long)json_integer_value(v),
			 BUS_PROTOCOL_VERSION);
		log_error("bus: control request of another protocol version refused", "error=\"%s\"",
			  err);
		reply(d, json_pack("{s:b,s:s}", "ok", 0, "error", err));
		json_decref(req);
		return;
	}
	if (!json_is_object(req) || !json_is_integer(v) ||
	    !(cmd = json_string_value(json_object_get(req, "command")))) {
		log_warn("bus: malformed control request dropped", NULL);
		reply(d, json_pack("{s:b,s:s}", "ok", 0, "error", "malformed request"));
		json_decref(req);
		return;
	}
	if (strcmp(cmd, "status") == 0) {
		reply_status(d);
		json_decref(req);
		return;
	}
	addr = json_string_value(json_object_get(req, "address"));
	fail = apply(d, cmd, addr, json_object_get(req, "weight"), err, sizeof(err));
	if (fail) {
		reply(d, json_pack("{s:b,s:s}", "ok", 0, "error", fail));
	} else {
		log_info("operator", "command=%s address=%s", cmd, addr);
		if (!discover_publish(d))
			discover_save(d);	/* e.g. a waiting override cancelled */
		reply(d, json_pack("{s:b,s:I}", "ok", 1, "generation",
				   (json_int_t)d->reg.generation));
	}
	json_decref(req);
}

void control_start(struct discover *d)
{
	bus_watch(&d->rep, d->loop, on_request, d);
}
