/* control: lb-discover's answers to lb-ctl (REP).
 *
 * Requests: {"v":2,"type":"control","command":C, "address":A, "weight":N}
 * with C one of status, drain, undrain, add, remove, weight. Replies:
 * {"v":2,"type":"reply","ok":true,...} or {"v":2,"type":"reply","ok":false,
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

static json_t *status(struct discover *d)
{
	struct bus_set set;
	json_t *root = json_object(), *backends = json_array();

	registry_snapshot(&d->reg, &set);
	for (size_t i = 0; i < set.n; i++) {
		const struct bus_backend *b = &set.backends[i];
		const struct entry *e = registry_find(&d->reg, b->address);
		unsigned long long requests, errors;
		unsigned active;

		proxies_sum(d, b->address, &active, &requests, &errors);
		json_array_append_new(backends,
			json_pack("{s:s,s:s,s:i,s:s,s:s,s:i,s:I,s:I}", "address", b->address, "state",
				  bus_state_name(b->state), "weight", b->weight, "reason", b->reason,
				  "health", e && e->healthy ? "ok" : "failing", "active", (int)active,
				  "requests", (json_int_t)requests, "errors", (json_int_t)errors));
	}
	json_object_set_new(root, "service", json_string(d->reg.service));
	json_object_set_new(root, "generation", json_integer((json_int_t)d->reg.generation));
	json_object_set_new(root, "pid", json_integer(getpid()));
	json_object_set_new(root, "backends", backends);
	json_object_set_new(root, "proxies", proxies_json(d));
	/* until then a proxy that has not reported yet may exist */
	json_object_set_new(root, "proxies_settled", json_boolean(proxies_settled(d)));
	json_object_set_new(root, "uptime", json_real(ev_now(d->loop) - d->started));
	bus_set_release(&set);
	return root;
}

/* Applies one command; returns NULL on success or the error to reply. */
static const char *apply(struct discover *d, const char *cmd, const char *addr, json_t *weight,
			 char *err, size_t errsz)
{
	struct entry *e;
	struct net_addr na;

	if (!addr) {
		snprintf(err, errsz, "\"%s\" needs an \"address\"", cmd);
		return err;
	}
	if (strcmp(cmd, "add") == 0) {
		if (strlen(addr) >= BUS_ADDRESS_MAX || net_parse_numeric(addr, &na, err, errsz) == -1)
			return err;
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

static void reply(struct discover *d, json_t *body)
{
	char *text;

	json_object_set_new(body, "v", json_integer(BUS_PROTOCOL_VERSION));
	json_object_set_new(body, "type", json_string("reply"));
	text = json_dumps(body, JSON_COMPACT);
	if (text) {
		bus_send(&d->rep, text, strlen(text));
		free(text);
	}
	json_decref(body);
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
		json_t *st = status(d);

		json_object_set_new(st, "ok", json_true());
		reply(d, st);
		json_decref(req);
		return;
	}
	addr = json_string_value(json_object_get(req, "address"));
	fail = apply(d, cmd, addr, json_object_get(req, "weight"), err, sizeof(err));
	if (fail) {
		reply(d, json_pack("{s:b,s:s}", "ok", 0, "error", fail));
	} else {
		log_info("operator", "command=%s address=%s", cmd, addr);
		discover_publish(d);
		reply(d, json_pack("{s:b,s:I}", "ok", 1, "generation",
				   (json_int_t)d->reg.generation));
	}
	json_decref(req);
}

void control_start(struct discover *d)
{
	bus_watch(&d->rep, d->loop, on_request, d);
}
