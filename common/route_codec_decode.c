/* route_codec_decode: a route table from JSON off the bus, strictly: the
 * input is hostile (see route_codec.h for the format). */
#include "route_codec_decode.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

struct decoder {
	char *err;
	size_t errlen;
};

static int fail(struct decoder *d, const char *where, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct decoder *d, const char *where, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(d->err, d->errlen, "%s: ", where);

	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < d->errlen)
		vsnprintf(d->err + n, d->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static int keys_only(struct decoder *d, const char *where, json_t *o, const char *const *keys)
{
	const char *key;
	json_t *v;

	if (!json_is_object(o))
		return fail(d, where, "must be an object");
	json_object_foreach(o, key, v) {
		const char *const *k = keys;

		while (*k && strcmp(*k, key) != 0)
			k++;
		if (!*k)
			return fail(d, where, "unknown field \"%.64s\"", key);
	}
	return 0;
}

/* A string field into *out (a copy); absent: NULL unless required. */
static int get_str(struct decoder *d, const char *where, json_t *o, const char *key,
		   int required, size_t max, char **out)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (!v)
		return required ? fail(d, where, "\"%s\" is missing", key) : 0;
	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v) ||
	    !route_text_valid(json_string_value(v), max))
		return fail(d, where, "\"%s\" must be a string of at most %zu printable bytes",
			    key, max);
	*out = strdup(json_string_value(v));
	return *out ? 0 : fail(d, where, "out of memory");
}

static int get_uint(struct decoder *d, const char *where, json_t *o, const char *key,
		    int required, uint32_t min, uint32_t max, uint32_t *out)
{
	json_t *v = json_object_get(o, key);

	*out = 0;
	if (!v)
		return required ? fail(d, where, "\"%s\" is missing", key) : 0;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return fail(d, where, "\"%s\" must be an integer from %u to %u", key, min, max);
	*out = (uint32_t)json_integer_value(v);
	return 0;
}

/* An array field of at most max elements (absent: NULL, 0 elements). */
static int get_array(struct decoder *d, const char *where, json_t *o, const char *key,
		     int required, size_t max, json_t **out)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (!v)
		return required ? fail(d, where, "\"%s\" is missing", key) : 0;
	if (!json_is_array(v) || json_array_size(v) > max)
		return fail(d, where, "\"%s\" must be an array of at most %zu", key, max);
	*out = v;
	return 0;
}

static int get_enum(struct decoder *d, const char *where, json_t *o, const char *key,
		    const char *const *names, size_t n, int *out)
{
	const char *s = json_string_value(json_object_get(o, key));

	for (size_t i = 0; s && i < n; i++)
		if (strcmp(s, names[i]) == 0) {
			*out = (int)i;
			return 0;
		}
	return fail(d, where, "\"%s\" must be one of %s ... %s", key, names[0], names[n - 1]);
}

/* calloc for n elements, n possibly 0 (then NULL is fine). */
static int alloc_array(struct decoder *d, const char *where, void **p, size_t n, size_t size)
{
	*p = n ? calloc(n, size) : NULL;
	return n && !*p ? fail(d, where, "out of memory") : 0;
}

static int decode_regex(struct decoder *d, const char *where, const char *pattern,
			struct route_regex **re)
{
	char text[200];

	if (strlen(pattern) > ROUTE_REGEX_MAX)
		return fail(d, where, "a regular expression of more than %d bytes", ROUTE_REGEX_MAX);
	if (route_regex_compile(pattern, re, text, sizeof(text)) == -1)
		return fail(d, where, "%s", text);
	return 0;
}

static int decode_conditions(struct decoder *d, const char *where, json_t *a,
			     struct route_condition **out, unsigned *n, int header)
{
	static const char *const keys[] = { "type", "name", "value", NULL };

	if (alloc_array(d, where, (void **)out, json_array_size(a), sizeof(**out)) == -1)
		return -1;
	for (size_t i = 0; i < json_array_size(a); i++) {
		struct route_condition *c = &(*out)[i];
		json_t *o = json_array_get(a, i);
		int type;

		*n = (unsigned)i + 1;
		if (keys_only(d, where, o, keys) == -1 ||
		    get_enum(d, where, o, "type", route_value_type_names,
			     COUNT(route_value_type_names), &type) == -1 ||
		    get_str(d, where, o, "name", 1, ROUTE_NAME_MAX, &c->name) == -1 ||
		    get_str(d, where, o, "value", 1, ROUTE_VALUE_MAX, &c->value) == -1)
			return -1;
		c->type = (enum route_value_type)type;
		if (header && !route_header_name_valid(c->name))
			return fail(d, where, "\"%.64s\" is not a header name", c->name);
		if (!header && !c->name[0])
			return fail(d, where, "an empty query param name");
		if (c->type == ROUTE_VALUE_REGEX && decode_regex(d, where, c->value, &c->re) == -1)
			return -1;
	}
	return 0;
}

static int decode_match(struct decoder *d, const char *where, json_t *o, struct route_match *m)
{
	static const char *const keys[] = { "pathType", "path", "method", "headers", "query",
					    NULL };
	json_t *headers, *query;
	int type;

	if (keys_only(d, where, o, keys) == -1 ||
	    get_enum(d, where, o, "pathType", route_path_type_names,
		     COUNT(route_path_type_names), &type) == -1 ||
	    get_str(d, where, o, "path", 1, ROUTE_PATH_MAX, &m->path) == -1 ||
	    get_str(d, where, o, "method", 0, 32, &m->method) == -1 ||
	    get_array(d, where, o, "headers", 0, ROUTE_CONDITIONS_MAX, &headers) == -1 ||
	    get_array(d, where, o, "query", 0, ROUTE_CONDITIONS_MAX, &query) == -1)
		return -1;
	m->path_type = (enum route_path_type)type;
	if (m->path_type == ROUTE_PATH_REGEX) {
		if (decode_regex(d, where, m->path, &m->path_re) == -1)
			return -1;
	} else if (m->path[0] != '/') {
		return fail(d, where, "a path must start with '/'");
	}
	if (m->method && !route_header_name_valid(m->method))
		return fail(d, where, "\"method\" must be a token");
	if (decode_conditions(d, where, headers, &m->headers, &m->n_headers, 1) == -1)
		return -1;
	return decode_conditions(d, where, query, &m->query, &m->n_query, 0);
}

static int decode_headers(struct decoder *d, const char *where, json_t *a,
			  struct route_header **out, unsigned *n)
{
	static const char *const keys[] = { "name", "value", NULL };

	if (alloc_array(d, where, (void **)out, json_array_size(a), sizeof(**out)) == -1)
		return -1;
	for (size_t i = 0; i < json_array_size(a); i++) {
		json_t *o = json_array_get(a, i);

		*n = (unsigned)i + 1;
		if (keys_only(d, where, o, keys) == -1 ||
		    get_str(d, where, o, "name", 1, ROUTE_NAME_MAX, &(*out)[i].name) == -1 ||
		    get_str(d, where, o, "value", 1, ROUTE_VALUE_MAX, &(*out)[i].value) == -1)
			return -1;
		if (!route_header_name_valid((*out)[i].name))
			return fail(d, where, "\"%.64s\" is not a header name", (*out)[i].name);
	}
	return 0;
}

static int decode_modifier(struct decoder *d, const char *where, json_t *o,
			   struct route_header_modifier *m)
{
	static const char *const keys[] = { "set", "add", "remove", NULL };
	json_t *set, *add, *remove;

	if (!o)
		return 0;
	if (keys_only(d, where, o, keys) == -1 ||
	    get_array(d, where, o, "set", 0, ROUTE_HEADER_OPS_MAX, &set) == -1 ||
	    get_array(d, where, o, "add", 0, ROUTE_HEADER_OPS_MAX, &add) == -1 ||
	    get_array(d, where, o, "remove", 0, ROUTE_HEADER_OPS_MAX, &remove) == -1 ||
	    decode_headers(d, where, set, &m->set, &m->n_set) == -1 ||
	    decode_headers(d, where, add, &m->add, &m->n_add) == -1 ||
	    alloc_array(d, where, (void **)&m->remove, json_array_size(remove),
			sizeof(*m->remove)) == -1)
		return -1;
	for (size_t i = 0; i < json_array_size(remove); i++) {
		const char *s = json_string_value(json_array_get(remove, i));

		if (!s || !route_header_name_valid(s))
			return fail(d, where, "\"remove\" must list header names");
		m->remove[i] = strdup(s);
		m->n_remove = (unsigned)i + 1;
		if (!m->remove[i])
			return fail(d, where, "out of memory");
	}
	return 0;
}

static int decode_backend(struct decoder *d, const char *where, json_t *o,
			  struct route_backend *b)
{
	static const char *const keys[] = { "namespace", "name", "port", "weight", "resolved",
					    "proxyProtocol", NULL };
	uint32_t port, proxy_protocol = 0;

	if (keys_only(d, where, o, keys) == -1 ||
	    get_str(d, where, o, "namespace", 1, ROUTE_NAME_MAX, &b->namespace) == -1 ||
	    get_str(d, where, o, "name", 1, ROUTE_NAME_MAX, &b->name) == -1 ||
	    get_uint(d, where, o, "port", 1, 0, 65535, &port) == -1 ||
	    get_uint(d, where, o, "weight", 1, 0, ROUTE_WEIGHT_MAX, &b->weight) == -1 ||
	    get_uint(d, where, o, "proxyProtocol", 0, 2, 2, &proxy_protocol) == -1)
		return -1;
	b->port = (uint16_t)port;
	b->proxy_protocol = (int)proxy_protocol;
	if (!json_is_boolean(json_object_get(o, "resolved")))
		return fail(d, where, "\"resolved\" must be true or false");
	b->resolved = json_is_true(json_object_get(o, "resolved"));
	return 0;
}

/* pathType and path of a redirect or rewrite. */
static int decode_path_modifier(struct decoder *d, const char *where, json_t *o,
				enum route_path_modifier *type, char **path)
{
	int t = ROUTE_MODIFY_NONE;

	if (json_object_get(o, "pathType") &&
	    get_enum(d, where, o, "pathType", route_modifier_names + 1,
		     COUNT(route_modifier_names) - 1, &t) == -1)
		return -1;
	*type = json_object_get(o, "pathType") ? (enum route_path_modifier)(t + 1)
					       : ROUTE_MODIFY_NONE;
	if (get_str(d, where, o, "path", *type != ROUTE_MODIFY_NONE, ROUTE_PATH_MAX, path) == -1)
		return -1;
	if (*type == ROUTE_MODIFY_NONE && *path)
		return fail(d, where, "\"path\" without \"pathType\"");
	if (*type == ROUTE_MODIFY_FULL && (*path)[0] != '/')
		return fail(d, where, "a full path must start with '/'");
	if (*type == ROUTE_MODIFY_PREFIX && (*path)[0] && (*path)[0] != '/')
		return fail(d, where, "a prefix must be empty or start with '/'");
	return 0;
}

static int decode_redirect(struct decoder *d, const char *where, json_t *o,
			   struct route_redirect *rd)
{
	static const char *const keys[] = { "scheme", "hostname", "port", "pathType", "path",
					    "status", NULL };
	uint32_t port, status;

	if (keys_only(d, where, o, keys) == -1 ||
	    get_str(d, where, o, "scheme", 0, 5, &rd->scheme) == -1 ||
	    get_str(d, where, o, "hostname", 0, ROUTE_HOSTNAME_MAX, &rd->hostname) == -1 ||
	    get_uint(d, where, o, "port", 0, 1, 65535, &port) == -1 ||
	    get_uint(d, where, o, "status", 1, 301, 308, &status) == -1 ||
	    decode_path_modifier(d, where, o, &rd->path_type, &rd->path) == -1)
		return -1;
	rd->port = (uint16_t)port;
	rd->status = (int)status;
	if (status > 303 && status < 307)
		return fail(d, where, "\"status\" must be 301, 302, 303, 307 or 308");
	if (rd->scheme && strcmp(rd->scheme, "http") != 0 && strcmp(rd->scheme, "https") != 0)
		return fail(d, where, "\"scheme\" must be http or https");
	return 0;
}

static int decode_rule(struct decoder *d, const char *where, json_t *o, struct route_rule *r)
{
	static const char *const keys[] = { "route", "index", "matches", "requestHeaders",
					    "responseHeaders", "redirect", "rewrite", "mirrors",
					    "timeoutRequestMs", "timeoutBackendMs", "backends",
					    "splitKey", NULL };
	json_t *matches, *mirrors, *backends, *v;

	if (keys_only(d, where, o, keys) == -1 ||
	    get_str(d, where, o, "route", 1, 2 * ROUTE_NAME_MAX + 1, &r->route) == -1 ||
	    get_uint(d, where, o, "index", 1, 0, ROUTE_RULES_MAX - 1, &r->index) == -1 ||
	    get_array(d, where, o, "matches", 1, ROUTE_MATCHES_MAX, &matches) == -1 ||
	    get_array(d, where, o, "mirrors", 0, ROUTE_FILTERS_MAX, &mirrors) == -1 ||
	    get_array(d, where, o, "backends", 1, ROUTE_BACKENDS_MAX, &backends) == -1 ||
	    get_uint(d, where, o, "timeoutRequestMs", 0, 1, UINT32_MAX,
		     &r->timeout_request_ms) == -1 ||
	    get_uint(d, where, o, "timeoutBackendMs", 0, 1, UINT32_MAX,
		     &r->timeout_backend_ms) == -1 ||
	    get_str(d, where, o, "splitKey", 0, ROUTE_SPLIT_NAME_MAX + 7, &r->split_key) == -1)
		return -1;
	if (r->split_key && !route_split_key_valid(r->split_key))
		return fail(d, where, "\"splitKey\" must be cookie:NAME, header:NAME or client");
	if (json_array_size(matches) == 0)
		return fail(d, where, "a rule needs a match");
	if (alloc_array(d, where, (void **)&r->matches, json_array_size(matches),
			sizeof(*r->matches)) == -1)
		return -1;
	for (size_t i = 0; i < json_array_size(matches); i++) {
		r->n_matches = (unsigned)i + 1;
		if (decode_match(d, where, json_array_get(matches, i), &r->matches[i]) == -1)
			return -1;
	}
	if (decode_modifier(d, where, json_object_get(o, "requestHeaders"),
			    &r->request_headers) == -1 ||
	    decode_modifier(d, where, json_object_get(o, "responseHeaders"),
			    &r->response_headers) == -1)
		return -1;
	if ((v = json_object_get(o, "redirect"))) {
		if (alloc_array(d, where, (void **)&r->redirect, 1, sizeof(*r->redirect)) == -1 ||
		    decode_redirect(d, where, v, r->redirect) == -1)
			return -1;
	}
	if ((v = json_object_get(o, "rewrite"))) {
		static const char *const rkeys[] = { "hostname", "pathType", "path", NULL };

		if (alloc_array(d, where, (void **)&r->rewrite, 1, sizeof(*r->rewrite)) == -1 ||
		    keys_only(d, where, v, rkeys) == -1 ||
		    get_str(d, where, v, "hostname", 0, ROUTE_HOSTNAME_MAX,
			    &r->rewrite->hostname) == -1 ||
		    decode_path_modifier(d, where, v, &r->rewrite->path_type,
					 &r->rewrite->path) == -1)
			return -1;
	}
	if (alloc_array(d, where, (void **)&r->mirrors, json_array_size(mirrors),
			sizeof(*r->mirrors)) == -1)
		return -1;
	for (size_t i = 0; i < json_array_size(mirrors); i++) {
		static const char *const mkeys[] = { "backend", "numerator", "denominator", NULL };
		struct route_mirror *m = &r->mirrors[i];
		json_t *mo = json_array_get(mirrors, i);

		r->n_mirrors = (unsigned)i + 1;
		if (keys_only(d, where, mo, mkeys) == -1 ||
		    decode_backend(d, where, json_object_get(mo, "backend"), &m->backend) == -1 ||
		    get_uint(d, where, mo, "denominator", 1, 1, 1000000, &m->denominator) == -1 ||
		    get_uint(d, where, mo, "numerator", 1, 0, m->denominator, &m->numerator) == -1)
			return -1;
	}
	if (alloc_array(d, where, (void **)&r->backends, json_array_size(backends),
			sizeof(*r->backends)) == -1)
		return -1;
	for (size_t i = 0; i < json_array_size(backends); i++) {
		r->n_backends = (unsigned)i + 1;
		if (decode_backend(d, where, json_array_get(backends, i), &r->backends[i]) == -1)
			return -1;
	}
	return 0;
}

static int hostname_valid(const char *s)
{
	return strcmp(s, "*") == 0 ||
	       (s[0] && !strchr(s + 1, '*') && (s[0] != '*' || (s[1] == '.' && s[2])));
}

static int decode_listener(struct decoder *d, const char *where, json_t *o,
			   const struct route_table *t, struct route_listener *l)
{
	static const char *const keys[] = { "name", "port", "hostname", "protocol", "vhosts",
					    NULL };
	static const char *const vkeys[] = { "hostname", "entries", NULL };
	const char *protocol;
	json_t *vhosts;
	uint32_t port;

	if (keys_only(d, where, o, keys) == -1 ||
	    get_str(d, where, o, "name", 1, ROUTE_NAME_MAX, &l->name) == -1 ||
	    get_uint(d, where, o, "port", 1, 1, 65535, &port) == -1 ||
	    get_str(d, where, o, "hostname", 0, ROUTE_HOSTNAME_MAX, &l->hostname) == -1 ||
	    get_array(d, where, o, "vhosts", 1, ROUTE_TABLE_VHOSTS_MAX, &vhosts) == -1)
		return -1;
	l->port = (uint16_t)port;
	protocol = json_string_value(json_object_get(o, "protocol"));
	if (!protocol || route_protocol_parse(protocol) == -1)
		return fail(d, where, "\"protocol\" must be HTTP, HTTPS, TLS or TCP");
	l->protocol = (enum route_protocol)route_protocol_parse(protocol);
	if (l->hostname && (!hostname_valid(l->hostname) || strcmp(l->hostname, "*") == 0))
		return fail(d, where, "\"hostname\" must be a name or *.suffix");
	if (alloc_array(d, where, (void **)&l->vhosts, json_array_size(vhosts),
			sizeof(*l->vhosts)) == -1)
		return -1;
	for (size_t i = 0; i < json_array_size(vhosts); i++) {
		struct route_vhost *v = &l->vhosts[i];
		json_t *vo = json_array_get(vhosts, i), *entries;

		l->n_vhosts = (unsigned)i + 1;
		if (keys_only(d, where, vo, vkeys) == -1 ||
		    get_str(d, where, vo, "hostname", 1, ROUTE_HOSTNAME_MAX, &v->hostname) == -1 ||
		    get_array(d, where, vo, "entries", 1, ROUTE_TABLE_ENTRIES_MAX, &entries) == -1)
			return -1;
		if (!hostname_valid(v->hostname))
			return fail(d, where, "\"%.64s\" is not a virtual host name", v->hostname);
		if (alloc_array(d, where, (void **)&v->entries, json_array_size(entries),
				sizeof(*v->entries)) == -1)
			return -1;
		for (size_t j = 0; j < json_array_size(entries); j++) {
			json_t *e = json_array_get(entries, j);
			json_t *rule = json_array_get(e, 0), *match = json_array_get(e, 1);

			if (json_array_size(e) != 2 || !json_is_integer(rule) ||
			    !json_is_integer(match) || json_integer_value(rule) < 0 ||
			    json_integer_value(rule) >= t->n_rules || json_integer_value(match) < 0 ||
			    json_integer_value(match) >=
				    t->rules[json_integer_value(rule)].n_matches)
				return fail(d, where, "an entry must be [rule, match] of the table");
			v->entries[j].rule = (uint32_t)json_integer_value(rule);
			v->entries[j].match = (uint32_t)json_integer_value(match);
			v->n_entries = (unsigned)j + 1;
		}
	}
	return 0;
}

int route_codec_decode(const char *data, size_t n, struct route_table **out, char *err,
		       size_t errlen)
{
	static const char *const keys[] = { "v", "listeners", "rules", NULL };
	struct decoder d = { err, errlen };
	struct route_table *t = NULL;
	json_t *root = NULL, *listeners, *rules;
	json_error_t jerr;
	char where[64];
	uint32_t version;

	*out = NULL;
	if (n > ROUTE_CODEC_MAX) {
		fail(&d, "route table", "more than %d bytes", ROUTE_CODEC_MAX);
		goto fail;
	}
	root = json_loadb(data, n, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		fail(&d, "route table", "invalid JSON at %d: %s", jerr.position, jerr.text);
		goto fail;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		fail(&d, "route table", "out of memory");
		goto fail;
	}
	if (keys_only(&d, "route table", root, keys) == -1 ||
	    get_uint(&d, "route table", root, "v", 1, 0, UINT32_MAX, &version) == -1 ||
	    get_array(&d, "route table", root, "listeners", 1, ROUTE_LISTENERS_MAX,
		      &listeners) == -1 ||
	    get_array(&d, "route table", root, "rules", 1, ROUTE_TABLE_RULES_MAX, &rules) == -1)
		goto fail;
	if (version != ROUTE_CODEC_VERSION) {
		fail(&d, "route table", "version %u, this program reads %d", version,
		     ROUTE_CODEC_VERSION);
		goto fail;
	}
	if (alloc_array(&d, "rules", (void **)&t->rules, json_array_size(rules),
			sizeof(*t->rules)) == -1 ||
	    alloc_array(&d, "listeners", (void **)&t->listeners, json_array_size(listeners),
			sizeof(*t->listeners)) == -1)
		goto fail;
	for (size_t i = 0; i < json_array_size(rules); i++) {
		snprintf(where, sizeof(where), "rules[%zu]", i);
		t->n_rules = (unsigned)i + 1;
		if (decode_rule(&d, where, json_array_get(rules, i), &t->rules[i]) == -1)
			goto fail;
	}
	for (size_t i = 0; i < json_array_size(listeners); i++) {
		snprintf(where, sizeof(where), "listeners[%zu]", i);
		t->n_listeners = (unsigned)i + 1;
		if (decode_listener(&d, where, json_array_get(listeners, i), t,
				    &t->listeners[i]) == -1)
			goto fail;
	}
	json_decref(root);
	*out = t;
	return 0;
fail:
	json_decref(root);
	route_table_free(t);
	return -1;
}
