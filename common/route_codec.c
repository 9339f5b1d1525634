/* route_codec: a route table to JSON, canonically (see route_codec.h). */
#include "route_codec.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* Sets key to a string when s is not NULL; the object's jansson errors are
 * caught at the end by json_dumps failing on a NULL tree. */
static void set_str(json_t *o, const char *key, const char *s)
{
	if (s)
		json_object_set_new(o, key, json_string(s));
}

static json_t *conditions_json(const struct route_condition *c, unsigned n)
{
	json_t *a = json_array();

	for (unsigned i = 0; i < n; i++)
		json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "type",
						   route_value_type_names[c[i].type], "name", c[i].name,
						   "value", c[i].value));
	return a;
}

static json_t *headers_json(const struct route_header *h, unsigned n)
{
	json_t *a = json_array();

	for (unsigned i = 0; i < n; i++)
		json_array_append_new(a, json_pack("{s:s, s:s}", "name", h[i].name, "value",
						   h[i].value));
	return a;
}

static void modifier_json(json_t *rule, const char *key, const struct route_header_modifier *m)
{
	json_t *o;

	if (!m->n_set && !m->n_add && !m->n_remove)
		return;
	o = json_object();
	if (m->n_set)
		json_object_set_new(o, "set", headers_json(m->set, m->n_set));
	if (m->n_add)
		json_object_set_new(o, "add", headers_json(m->add, m->n_add));
	if (m->n_remove) {
		json_t *a = json_array();

		for (unsigned i = 0; i < m->n_remove; i++)
			json_array_append_new(a, json_string(m->remove[i]));
		json_object_set_new(o, "remove", a);
	}
	json_object_set_new(rule, key, o);
}

static json_t *backend_json(const struct route_backend *b)
{
	json_t *o = json_pack("{s:s, s:s, s:i, s:I, s:b}", "namespace", b->namespace, "name",
			      b->name, "port", (int)b->port, "weight", (json_int_t)b->weight,
			      "resolved", b->resolved);

	if (o && b->proxy_protocol)
		json_object_set_new(o, "proxyProtocol", json_integer(b->proxy_protocol));
	return o;
}

static void path_modifier_json(json_t *o, enum route_path_modifier type, const char *path)
{
	if (type == ROUTE_MODIFY_NONE)
		return;
	json_object_set_new(o, "pathType", json_string(route_modifier_names[type]));
	set_str(o, "path", path);
}

static json_t *rule_json(const struct route_rule *r)
{
	json_t *o = json_pack("{s:s, s:i}", "route", r->route, "index", (int)r->index);
	json_t *matches = json_array(), *backends = json_array();

	if (!o)
		return NULL;
	for (unsigned i = 0; i < r->n_matches; i++) {
		const struct route_match *m = &r->matches[i];
		json_t *mo = json_pack("{s:s, s:s}", "pathType", route_path_type_names[m->path_type], "path",
				       m->path);

		if (mo) {
			set_str(mo, "method", m->method);
			if (m->n_headers)
				json_object_set_new(mo, "headers",
						    conditions_json(m->headers, m->n_headers));
			if (m->n_query)
				json_object_set_new(mo, "query",
						    conditions_json(m->query, m->n_query));
		}
		json_array_append_new(matches, mo);
	}
	json_object_set_new(o, "matches", matches);
	modifier_json(o, "requestHeaders", &r->request_headers);
	modifier_json(o, "responseHeaders", &r->response_headers);
	if (r->redirect) {
		json_t *rd = json_pack("{s:i}", "status", r->redirect->status);

		set_str(rd, "scheme", r->redirect->scheme);
		set_str(rd, "hostname", r->redirect->hostname);
		if (r->redirect->port)
			json_object_set_new(rd, "port", json_integer(r->redirect->port));
		path_modifier_json(rd, r->redirect->path_type, r->redirect->path);
		json_object_set_new(o, "redirect", rd);
	}
	if (r->rewrite) {
		json_t *rw = json_object();

		set_str(rw, "hostname", r->rewrite->hostname);
		path_modifier_json(rw, r->rewrite->path_type, r->rewrite->path);
		json_object_set_new(o, "rewrite", rw);
	}
	if (r->n_mirrors) {
		json_t *a = json_array();

		for (unsigned i = 0; i < r->n_mirrors; i++)
			json_array_append_new(a, json_pack("{s:o, s:I, s:I}", "backend",
							   backend_json(&r->mirrors[i].backend),
							   "numerator",
							   (json_int_t)r->mirrors[i].numerator,
							   "denominator",
							   (json_int_t)r->mirrors[i].denominator));
		json_object_set_new(o, "mirrors", a);
	}
	if (r->timeout_request_ms)
		json_object_set_new(o, "timeoutRequestMs", json_integer(r->timeout_request_ms));
	if (r->timeout_backend_ms)
		json_object_set_new(o, "timeoutBackendMs", json_integer(r->timeout_backend_ms));
	set_str(o, "splitKey", r->split_key);
	for (unsigned i = 0; i < r->n_backends; i++)
		json_array_append_new(backends, backend_json(&r->backends[i]));
	json_object_set_new(o, "backends", backends);
	return o;
}

static json_t *listener_json(const struct route_listener *l)
{
	json_t *o = json_pack("{s:s, s:i, s:s}", "name", l->name, "port", (int)l->port,
			      "protocol", route_protocol_name(l->protocol));
	json_t *vhosts = json_array();

	if (!o)
		return NULL;
	set_str(o, "hostname", l->hostname);
	for (unsigned i = 0; i < l->n_vhosts; i++) {
		const struct route_vhost *v = &l->vhosts[i];
		json_t *entries = json_array();

		for (unsigned j = 0; j < v->n_entries; j++)
			json_array_append_new(entries, json_pack("[I, I]",
								 (json_int_t)v->entries[j].rule,
								 (json_int_t)v->entries[j].match));
		json_array_append_new(vhosts, json_pack("{s:s, s:o}", "hostname", v->hostname,
							"entries", entries));
	}
	json_object_set_new(o, "vhosts", vhosts);
	return o;
}

int route_codec_encode(const struct route_table *t, struct buf *out)
{
	json_t *root = json_pack("{s:i}", "v", ROUTE_CODEC_VERSION);
	json_t *listeners = json_array(), *rules = json_array();
	char *text = NULL;
	int rc = -1;

	if (!root || !listeners || !rules)
		goto out;
	for (unsigned i = 0; i < t->n_listeners; i++)
		json_array_append_new(listeners, listener_json(&t->listeners[i]));
	for (unsigned i = 0; i < t->n_rules; i++)
		json_array_append_new(rules, rule_json(&t->rules[i]));
	json_object_set(root, "listeners", listeners);
	json_object_set(root, "rules", rules);
	/* an element that failed to build is missing: the counts tell */
	if (json_array_size(listeners) != t->n_listeners || json_array_size(rules) != t->n_rules)
		goto out;
	text = json_dumps(root, JSON_COMPACT);
	if (text && buf_append_str(out, text) == 0)
		rc = 0;
out:
	free(text);
	json_decref(listeners);
	json_decref(rules);
	json_decref(root);
	return rc;
}
