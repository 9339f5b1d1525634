/* bus_protocol: encode and validate the bus's "set" and "report" messages. */
#include "bus_protocol.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const state_names[] = { "up", "draining", "down" };

const char *bus_state_name(enum bus_state s)
{
	return (unsigned)s < 3 ? state_names[s] : "unknown";
}

static const char *const breaker_names[] = { "closed", "open", "half-open" };

const char *bus_breaker_name(enum bus_breaker b)
{
	return (unsigned)b < 3 ? breaker_names[b] : "unknown";
}

static int breaker_parse(const char *s)
{
	for (int i = 0; s && i < 3; i++)
		if (strcmp(s, breaker_names[i]) == 0)
			return i;
	return -1;
}

static const char *const failure_names[BUS_FAILURE_KINDS] = { "5xx", "connect", "reset",
								 "timeout" };

const char *bus_failure_name(unsigned bit)
{
	for (unsigned k = 0; k < BUS_FAILURE_KINDS; k++)
		if (bit == 1u << k)
			return failure_names[k];
	return "unknown";
}

char *bus_failure_words(unsigned bits, int gateway, char *out, size_t size)
{
	static const char *const words[BUS_FAILURE_KINDS] = { "5xx", "connect errors", "resets",
							      "timeouts" };
	size_t len = 0;

	if (size == 0)
		return out;
	out[0] = '\0';
	for (unsigned k = 0; k < BUS_FAILURE_KINDS; k++) {
		const char *w = k == 0 && gateway ? "502-504s" : words[k];
		int n;

		if (!(bits & (1u << k)))
			continue;
		n = snprintf(out + len, size - len, "%s%s", len ? "+" : "", w);
		if (n < 0 || (size_t)n >= size - len)
			break;
		len += (size_t)n;
	}
	if (!len)
		snprintf(out, size, "%s", bits ? "mixed failures" : "failures");
	return out;
}

unsigned bus_failure_label_index(unsigned bits)
{
	bits &= (1u << BUS_FAILURE_KINDS) - 1;
	if (!bits)
		return BUS_FAILURE_KINDS + 1;
	if (bits & (bits - 1))
		return BUS_FAILURE_KINDS;
	for (unsigned k = 0; k < BUS_FAILURE_KINDS; k++)
		if (bits == 1u << k)
			return k;
	return BUS_FAILURE_KINDS + 1;
}

const char *bus_failure_label(unsigned index)
{
	if (index < BUS_FAILURE_KINDS)
		return failure_names[index];
	return index == BUS_FAILURE_KINDS ? "mixed" : "unknown";
}

static const char *const skip_names[] = { "", "connect", "connect-timeout", "ejected" };

const char *bus_skip_name(enum bus_skip s)
{
	return (unsigned)s < 4 ? skip_names[s] : "unknown";
}

/* A list of the names of `bits` (enum bus_failure). */
static json_t *failures_json(unsigned bits)
{
	json_t *a = json_array();

	for (unsigned k = 0; a && k < BUS_FAILURE_KINDS; k++)
		if (bits & (1u << k))
			json_array_append_new(a, json_string(failure_names[k]));
	return a;
}

/* The bits of an optional list of failure names; returns 0 or -1. */
static int failures_parse(json_t *a, unsigned *bits)
{
	json_t *v;
	size_t i;

	*bits = 0;
	if (!a)
		return 0;
	if (!json_is_array(a) || json_array_size(a) > BUS_FAILURE_KINDS)
		return -1;
	json_array_foreach(a, i, v) {
		unsigned k;

		for (k = 0; k < BUS_FAILURE_KINDS; k++)
			if (json_is_string(v) && strcmp(json_string_value(v), failure_names[k]) == 0)
				break;
		if (k == BUS_FAILURE_KINDS)
			return -1;
		*bits |= 1u << k;
	}
	return 0;
}

int bus_state_parse(const char *s)
{
	for (int i = 0; i < 3; i++)
		if (strcmp(s, state_names[i]) == 0)
			return i;
	return -1;
}

int bus_set_encode(const struct bus_set *set, struct buf *out)
{
	int report = strcmp(set->type, "report") == 0;
	json_t *root = json_object(), *list = json_array();
	char *text;
	int rc = -1;

	if (!root || !list)
		goto out;
	json_object_set_new(root, "v", json_integer(BUS_PROTOCOL_VERSION));
	json_object_set_new(root, "type", json_string(report ? "report" : "set"));
	json_object_set_new(root, "service", json_string(set->service));
	json_object_set_new(root, "generation", json_integer((json_int_t)set->generation));
	if (report) {
		json_object_set_new(root, "pid", json_integer(set->pid));
		json_object_set_new(root, "ignored", json_integer((json_int_t)set->ignored));
		json_object_set_new(root, "stale", json_boolean(set->stale));
		json_object_set_new(root, "uptime", json_real(set->uptime));
		json_object_set_new(root, "panic", json_boolean(set->panic));
		if (set->routes)
			json_object_set_new(root, "routes", json_integer((json_int_t)set->routes));
		if (set->fresh)
			json_object_set_new(root, "new", json_true());
		if (set->admin[0])
			json_object_set_new(root, "admin", json_string(set->admin));
		if (bus_listens_encode(set->listens, set->nlistens, root) == -1)
			goto out;
	} else {
		json_object_set_new(root, "proxies", json_integer(set->proxies ? set->proxies : 1));
		if (set->admin[0])
			json_object_set_new(root, "admin", json_string(set->admin));
		if (set->settings.protocol[0])
			json_object_set_new(root, "protocol", json_string(set->settings.protocol));
		if (set->settings.balance[0])
			json_object_set_new(root, "balance", json_string(set->settings.balance));
	}
	for (size_t i = 0; i < set->n; i++) {
		const struct bus_backend *b = &set->backends[i];
		json_t *o = report ? json_pack("{s:s,s:s,s:I,s:I,s:I,s:I}", "address", b->address,
					       "state", bus_state_name(b->state), "active",
					       (json_int_t)b->active, "requests", (json_int_t)b->requests,
					       "errors", (json_int_t)b->errors, "responses_5xx",
					       (json_int_t)b->responses_5xx)
				   : json_pack("{s:s,s:i,s:s,s:s}", "address", b->address, "weight",
					       b->weight, "state", bus_state_name(b->state), "reason",
					       b->reason);
		/* only what differs from closed and 0: a report of thousands of
		 * healthy backends stays the size it was */
		if (report && b->breaker != BUS_BREAKER_CLOSED)
			json_object_set_new(o, "breaker", json_string(bus_breaker_name(b->breaker)));
		if (report && b->consecutive_5xx)
			json_object_set_new(o, "consecutive_5xx", json_integer(b->consecutive_5xx));
		if (report && b->consecutive_gateway)
			json_object_set_new(o, "consecutive_gateway",
					    json_integer(b->consecutive_gateway));
		if (report && b->failures_5xx)
			json_object_set_new(o, "failures_5xx", failures_json(b->failures_5xx));
		if (report && b->failures_gateway)
			json_object_set_new(o, "failures_gateway", failures_json(b->failures_gateway));
		if (report && b->skip != BUS_SKIP_NONE)
			json_object_set_new(o, "skip", json_string(bus_skip_name(b->skip)));
		if (b->ejected) {
			json_t *ej = json_pack("{s:s,s:f,s:i}", "reason", b->eject_reason, "left",
					       b->eject_left, "count", (int)b->ejections);

			if (ej && b->eject_failures)
				json_object_set_new(ej, "failures", failures_json(b->eject_failures));
			json_object_set_new(o, "ejection", ej);
		}
		json_array_append_new(list, o);
	}
	json_object_set(root, "backends", list);
	text = json_dumps(root, JSON_COMPACT);
	if (text) {
		rc = buf_append_str(out, text);
		free(text);
	}
out:
	json_decref(list);
	json_decref(root);
	return rc;
}

static int fail(char *err, size_t errsz, const char *what)
{
	snprintf(err, errsz, "%s", what);
	return -1;
}

static int copy_string(json_t *o, const char *key, char *dst, size_t dstsz, int required)
{
	json_t *v = json_object_get(o, key);
	const char *s = json_string_value(v);

	if (!v)
		return required ? -1 : 0;
	if (!s || strlen(s) >= dstsz)
		return -1;
	strcpy(dst, s);
	return 0;
}

/* The optional "ejection" of a set's or report's backend. Returns 0 or -1. */
static int decode_ejection(json_t *o, struct bus_backend *b)
{
	json_t *e = json_object_get(o, "ejection"), *left, *count, *kinds;

	if (!e)
		return 0;
	left = json_object_get(e, "left");
	count = json_object_get(e, "count");
	kinds = json_object_get(e, "failures");
	if (!json_is_object(e) || json_object_size(e) != 3u + (kinds != NULL) ||
	    failures_parse(kinds, &b->eject_failures) == -1 || !json_is_number(left) ||
	    json_number_value(left) < 0 || json_number_value(left) > BUS_EJECT_LEFT_MAX ||
	    !json_is_integer(count) || json_integer_value(count) < 1 ||
	    json_integer_value(count) > BUS_EJECTIONS_MAX ||
	    copy_string(e, "reason", b->eject_reason, sizeof(b->eject_reason), 1) == -1 ||
	    !b->eject_reason[0])
		return -1;
	b->ejected = 1;
	b->eject_left = json_number_value(left);
	b->ejections = (unsigned)json_integer_value(count);
	return 0;
}

int bus_set_decode(const char *data, size_t len, struct bus_set *set, char *err, size_t errsz)
{
	json_error_t jerr;
	json_t *root, *v, *list;
	int report, rc = -1;

	memset(set, 0, sizeof(*set));
	if (len > BUS_MAX_MESSAGE)
		return fail(err, errsz, "message too large");
	root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		snprintf(err, errsz, "not JSON (line %d column %d: %s)", jerr.line, jerr.column, jerr.text);
		return -1;
	}
	if (!json_is_object(root)) {
		fail(err, errsz, "not a JSON object");
		goto out;
	}
	v = json_object_get(root, "v");
	if (!json_is_integer(v)) {
		snprintf(err, errsz, "protocol version missing, this program speaks %d",
			 BUS_PROTOCOL_VERSION);
		goto out;
	}
	if (json_integer_value(v) != BUS_PROTOCOL_VERSION) {
		set->version = json_integer_value(v) > 0 && json_integer_value(v) < INT_MAX
				       ? (int)json_integer_value(v) : -1;
		snprintf(err, errsz, "bus protocol version %lld, this program speaks %d: run the same "
			 "lb release on the whole runtime dir", (long long)json_integer_value(v),
			 BUS_PROTOCOL_VERSION);
		goto out;
	}
	set->version = BUS_PROTOCOL_VERSION;
	if (copy_string(root, "type", set->type, sizeof(set->type), 1) == -1 ||
	    (strcmp(set->type, "set") != 0 && strcmp(set->type, "report") != 0)) {
		fail(err, errsz, "type must be set or report");
		goto out;
	}
	report = strcmp(set->type, "report") == 0;
	if (copy_string(root, "service", set->service, sizeof(set->service), 1) == -1) {
		fail(err, errsz, "service must be a string of under 324 bytes");
		goto out;
	}
	v = json_object_get(root, "generation");
	if (!json_is_integer(v) || json_integer_value(v) < 0) {
		fail(err, errsz, "generation must be a non-negative integer");
		goto out;
	}
	set->generation = (unsigned long long)json_integer_value(v);
	if (report) {
		v = json_object_get(root, "pid");
		if (!json_is_integer(v) || json_integer_value(v) <= 0) {
			fail(err, errsz, "pid must be a positive integer");
			goto out;
		}
		set->pid = (int)json_integer_value(v);
		v = json_object_get(root, "ignored");
		if (v && (!json_is_integer(v) || json_integer_value(v) < 0)) {
			fail(err, errsz, "ignored must be a non-negative integer");
			goto out;
		}
		set->ignored = v ? (unsigned long long)json_integer_value(v) : 0;
		set->stale = json_is_true(json_object_get(root, "stale"));
		set->uptime = json_number_value(json_object_get(root, "uptime"));
		v = json_object_get(root, "panic");
		if (v && !json_is_boolean(v)) {
			fail(err, errsz, "panic must be true or false");
			goto out;
		}
		set->panic = json_is_true(v);
		v = json_object_get(root, "routes");
		if (v && (!json_is_integer(v) || json_integer_value(v) < 0)) {
			fail(err, errsz, "routes must be a non-negative integer");
			goto out;
		}
		set->routes = v ? (unsigned long long)json_integer_value(v) : 0;
		v = json_object_get(root, "new");
		if (v && !json_is_boolean(v)) {
			fail(err, errsz, "new must be true or false");
			goto out;
		}
		set->fresh = json_is_true(v);
		if (copy_string(root, "admin", set->admin, sizeof(set->admin), 0) == -1) {
			fail(err, errsz, "admin must be a string of under 64 bytes");
			goto out;
		}
		if (bus_listens_decode(root, set->listens, &set->nlistens, err, errsz) == -1)
			goto out;
	} else {
		v = json_object_get(root, "proxies");
		if (v && (!json_is_integer(v) || json_integer_value(v) < 1 ||
			  json_integer_value(v) > BUS_MAX_PROXIES)) {
			snprintf(err, errsz, "proxies must be an integer from 1 to %d (BUS_MAX_PROXIES)",
				 BUS_MAX_PROXIES);
			goto out;
		}
		set->proxies = v ? (unsigned)json_integer_value(v) : 1;
		if (copy_string(root, "admin", set->admin, sizeof(set->admin), 0) == -1) {
			fail(err, errsz, "admin must be a string of under 64 bytes");
			goto out;
		}
		if (copy_string(root, "protocol", set->settings.protocol,
				sizeof(set->settings.protocol), 0) == -1 ||
		    (set->settings.protocol[0] &&
		     !service_settings_protocol_valid(set->settings.protocol))) {
			fail(err, errsz, "protocol must be http1, h2c or h2");
			goto out;
		}
		if (copy_string(root, "balance", set->settings.balance,
				sizeof(set->settings.balance), 0) == -1 ||
		    (set->settings.balance[0] &&
		     !service_settings_balance_valid(set->settings.balance))) {
			snprintf(err, errsz, "balance must be one of %s",
				 service_settings_balance_names());
			goto out;
		}
	}
	list = json_object_get(root, "backends");
	if (!json_is_array(list) || json_array_size(list) > BUS_MAX_BACKENDS) {
		snprintf(err, errsz, "backends must be an array of at most %d (BUS_MAX_BACKENDS)",
			 BUS_MAX_BACKENDS);
		goto out;
	}
	set->n = json_array_size(list);
	set->backends = calloc(set->n ? set->n : 1, sizeof(*set->backends));
	if (!set->backends) {
		fail(err, errsz, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < set->n; i++) {
		json_t *o = json_array_get(list, i);
		struct bus_backend *b = &set->backends[i];

		if (!json_is_object(o) ||
		    copy_string(o, "address", b->address, sizeof(b->address), 1) == -1) {
			snprintf(err, errsz, "backends[%zu]: address must be a string", i);
			goto out;
		}
		if (report) {
			json_t *a = json_object_get(o, "active"), *r = json_object_get(o, "requests"),
			       *e = json_object_get(o, "errors"), *x = json_object_get(o, "responses_5xx"),
			       *c5, *cg, *sk;
			const char *st = json_string_value(json_object_get(o, "state"));
			int state = st ? bus_state_parse(st) : -1;

			if (!json_is_integer(a) || !json_is_integer(r) || !json_is_integer(e) ||
			    !json_is_integer(x) || json_integer_value(a) < 0 ||
			    json_integer_value(a) > INT_MAX || json_integer_value(r) < 0 ||
			    json_integer_value(e) < 0 || json_integer_value(x) < 0) {
				snprintf(err, errsz, "backends[%zu]: counters must be integers >= 0", i);
				goto out;
			}
			if (state < 0) {
				snprintf(err, errsz, "backends[%zu]: state must be up, draining or down", i);
				goto out;
			}
			b->state = (enum bus_state)state;
			c5 = json_object_get(o, "breaker");
			state = c5 ? breaker_parse(json_string_value(c5)) : BUS_BREAKER_CLOSED;
			if (state < 0) {
				snprintf(err, errsz, "backends[%zu]: breaker must be closed, open or "
					 "half-open", i);
				goto out;
			}
			b->breaker = (enum bus_breaker)state;
			c5 = json_object_get(o, "consecutive_5xx");
			cg = json_object_get(o, "consecutive_gateway");
			if ((c5 && (!json_is_integer(c5) || json_integer_value(c5) < 0 ||
				    json_integer_value(c5) > BUS_EJECTIONS_MAX)) ||
			    (cg && (!json_is_integer(cg) || json_integer_value(cg) < 0 ||
				    json_integer_value(cg) > BUS_EJECTIONS_MAX))) {
				snprintf(err, errsz, "backends[%zu]: consecutive_5xx and "
					 "consecutive_gateway must be integers from 0 to %d", i,
					 BUS_EJECTIONS_MAX);
				goto out;
			}
			if (failures_parse(json_object_get(o, "failures_5xx"), &b->failures_5xx) == -1 ||
			    failures_parse(json_object_get(o, "failures_gateway"),
					   &b->failures_gateway) == -1) {
				snprintf(err, errsz, "backends[%zu]: failures_5xx and failures_gateway "
					 "must be lists of 5xx, connect, reset, timeout", i);
				goto out;
			}
			sk = json_object_get(o, "skip");
			b->skip = BUS_SKIP_NONE;
			for (int k = 1; sk && k < 4 && !b->skip; k++)
				if (json_is_string(sk) && strcmp(json_string_value(sk), skip_names[k]) == 0)
					b->skip = (enum bus_skip)k;
			if (sk && !b->skip) {
				snprintf(err, errsz, "backends[%zu]: skip must be connect, "
					 "connect-timeout or ejected", i);
				goto out;
			}
			b->consecutive_5xx = c5 ? (unsigned)json_integer_value(c5) : 0;
			b->consecutive_gateway = cg ? (unsigned)json_integer_value(cg) : 0;
			b->active = (unsigned)json_integer_value(a);
			b->requests = (unsigned long long)json_integer_value(r);
			b->errors = (unsigned long long)json_integer_value(e);
			b->responses_5xx = (unsigned long long)json_integer_value(x);
		} else {
			json_t *w = json_object_get(o, "weight");
			const char *st = json_string_value(json_object_get(o, "state"));
			int state = st ? bus_state_parse(st) : -1;

			if (!json_is_integer(w) || json_integer_value(w) < 1 ||
			    json_integer_value(w) > 1000) {
				snprintf(err, errsz, "backends[%zu]: weight must be 1 to 1000", i);
				goto out;
			}
			if (state < 0) {
				snprintf(err, errsz, "backends[%zu]: state must be up, draining or down", i);
				goto out;
			}
			if (copy_string(o, "reason", b->reason, sizeof(b->reason), 0) == -1) {
				snprintf(err, errsz, "backends[%zu]: reason must be a short string", i);
				goto out;
			}
			b->weight = (int)json_integer_value(w);
			b->state = (enum bus_state)state;
		}
		if (decode_ejection(o, b) == -1) {
			snprintf(err, errsz, "backends[%zu]: ejection must be {\"reason\": a non-empty "
				 "string of under %d bytes, \"left\": 0 to %d seconds, \"count\": 1 to %d}",
				 i, BUS_NAME_MAX, BUS_EJECT_LEFT_MAX, BUS_EJECTIONS_MAX);
			goto out;
		}
	}
	rc = 0;
out:
	json_decref(root);
	return rc;
}

int bus_version_mismatch(const struct bus_set *set)
{
	return set->version != 0 && set->version != BUS_PROTOCOL_VERSION;
}

void bus_set_release(struct bus_set *set)
{
	free(set->backends);
	set->backends = NULL;
	set->n = 0;
}

/* --- control and reply ------------------------------------------------------- */

/* Parses the version and type every message starts with; returns 0 or -1
 * with err (and *version the "v" seen, -1 for one out of range). */
static int check_header(json_t *root, const char *type, int *version, char *err, size_t errsz)
{
	json_t *v = json_object_get(root, "v");
	const char *t = json_string_value(json_object_get(root, "type"));

	*version = 0;
	if (!json_is_object(root))
		return fail(err, errsz, "not a JSON object");
	if (!json_is_integer(v)) {
		snprintf(err, errsz, "protocol version missing, this program speaks %d",
			 BUS_PROTOCOL_VERSION);
		return -1;
	}
	if (json_integer_value(v) != BUS_PROTOCOL_VERSION) {
		*version = json_integer_value(v) > 0 && json_integer_value(v) < INT_MAX
				   ? (int)json_integer_value(v) : -1;
		snprintf(err, errsz, "bus protocol version %lld, this program speaks %d",
			 (long long)json_integer_value(v), BUS_PROTOCOL_VERSION);
		return -1;
	}
	*version = BUS_PROTOCOL_VERSION;
	if (!t || strcmp(t, type) != 0) {
		snprintf(err, errsz, "type must be %s", type);
		return -1;
	}
	return 0;
}

static json_t *load(const char *data, size_t len, char *err, size_t errsz)
{
	json_error_t jerr;
	json_t *root;

	if (len > BUS_MAX_MESSAGE) {
		fail(err, errsz, "message too large");
		return NULL;
	}
	root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		snprintf(err, errsz, "not JSON (line %d column %d: %s)", jerr.line, jerr.column, jerr.text);
	return root;
}

/* Appends root's compact JSON if it fits the bus; returns 0 or -1. */
static int dump(json_t *root, struct buf *out)
{
	char *text = root ? json_dumps(root, JSON_COMPACT) : NULL;
	int rc = -1;

	if (text && strlen(text) <= BUS_MAX_MESSAGE)
		rc = buf_append_str(out, text);
	free(text);
	return rc;
}

int bus_control_encode(const struct bus_control *c, struct buf *out)
{
	json_t *root = json_pack("{s:i,s:s,s:s}", "v", BUS_PROTOCOL_VERSION, "type", "control",
				 "command", c->command);
	int rc;

	if (root && c->address[0])
		json_object_set_new(root, "address", json_string(c->address));
	if (root && c->service[0])
		json_object_set_new(root, "service", json_string(c->service));
	if (root && c->has_weight)
		json_object_set_new(root, "weight", json_integer((json_int_t)c->weight));
	if (root && c->has_generation)
		json_object_set_new(root, "generation", json_integer((json_int_t)c->generation));
	rc = dump(root, out);
	json_decref(root);
	return rc;
}

int bus_control_decode(const char *data, size_t len, struct bus_control *c, char *err,
		       size_t errsz)
{
	json_t *root, *w;
	int rc = -1;

	memset(c, 0, sizeof(*c));
	root = load(data, len, err, errsz);
	if (!root)
		return -1;
	if (check_header(root, "control", &c->version, err, errsz) == -1)
		goto out;
	if (copy_string(root, "command", c->command, sizeof(c->command), 1) == -1 ||
	    !c->command[0]) {
		snprintf(err, errsz, "command must be a string of under %d bytes", BUS_COMMAND_MAX);
		goto out;
	}
	if (copy_string(root, "address", c->address, sizeof(c->address), 0) == -1) {
		snprintf(err, errsz, "address must be a string of under %d bytes",
			 BUS_CONTROL_ADDRESS_MAX);
		goto out;
	}
	if (copy_string(root, "service", c->service, sizeof(c->service), 0) == -1) {
		snprintf(err, errsz, "service must be a string of under %d bytes", BUS_SERVICE_MAX);
		goto out;
	}
	w = json_object_get(root, "weight");
	if (w && !json_is_null(w)) {
		if (!json_is_integer(w)) {
			fail(err, errsz, "the weight must be an integer from 1 to 1000");
			goto out;
		}
		c->has_weight = 1;
		c->weight = json_integer_value(w);
	}
	w = json_object_get(root, "generation");
	if (w) {
		if (!json_is_integer(w) || json_integer_value(w) < 0) {
			fail(err, errsz, "generation must be a non-negative integer");
			goto out;
		}
		c->has_generation = 1;
		c->generation = (unsigned long long)json_integer_value(w);
	}
	rc = 0;
out:
	json_decref(root);
	return rc;
}

int bus_reply_encode(json_t *body, int ok, const char *error, struct buf *out)
{
	/* a shallow copy: only the top level gains keys, the values are shared
	 * (a status of 4,096 backends was copied whole, then dumped) */
	json_t *root = body ? json_copy(body) : json_object();
	int rc;

	if (!root || !json_is_object(root)) {
		json_decref(root);
		return -1;
	}
	json_object_set_new(root, "v", json_integer(BUS_PROTOCOL_VERSION));
	json_object_set_new(root, "type", json_string("reply"));
	json_object_set_new(root, "ok", json_boolean(ok));
	if (!ok)
		json_object_set_new(root, "error", json_string(error ? error : "refused"));
	rc = dump(root, out);
	json_decref(root);
	return rc;
}

int bus_reply_decode(const char *data, size_t len, struct bus_reply *r, char *err, size_t errsz)
{
	json_t *root, *ok;
	const char *e;
	int version;

	memset(r, 0, sizeof(*r));
	root = load(data, len, err, errsz);
	if (!root)
		return -1;
	if (check_header(root, "reply", &version, err, errsz) == -1)
		goto fail;
	ok = json_object_get(root, "ok");
	if (!json_is_boolean(ok)) {
		fail(err, errsz, "ok must be true or false");
		goto fail;
	}
	r->ok = json_is_true(ok);
	e = json_string_value(json_object_get(root, "error"));
	if (!r->ok && !e) {
		fail(err, errsz, "a refusal must say why (error)");
		goto fail;
	}
	if (!r->ok)
		snprintf(r->error, sizeof(r->error), "%s", e);
	r->body = root;
	return 0;
fail:
	json_decref(root);
	return -1;
}

void bus_reply_release(struct bus_reply *r)
{
	json_decref(r->body);
	r->body = NULL;
}
