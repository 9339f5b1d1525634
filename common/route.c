/* route: the compiled route table's lifecycle, the request matcher, the
 * weighted backend pick and the redirect/rewrite answers (Gateway API v1). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "route.h"
#include "host_index.h"

#include <ctype.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_parser.h"

struct route_regex {
	pcre2_code *code;
	pcre2_match_data *data;
	pcre2_match_context *context;
};

int route_regex_compile(const char *pattern, struct route_regex **out, char *err, size_t errlen)
{
	struct route_regex *re = calloc(1, sizeof(*re));
	int code;
	PCRE2_SIZE offset;

	*out = NULL;
	if (!re) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* anchored at both ends: Envoy's RE2 full match, what users expect of
	 * a path or header regex; never UTF, so request bytes need no check */
	re->code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
				 PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_NEVER_UTF |
					 PCRE2_NEVER_UCP | PCRE2_NEVER_BACKSLASH_C,
				 &code, &offset, NULL);
	if (!re->code) {
		PCRE2_UCHAR text[160];

		pcre2_get_error_message(code, text, sizeof(text));
		snprintf(err, errlen, "invalid regular expression at offset %zu: %s",
			 (size_t)offset, (const char *)text);
		free(re);
		return -1;
	}
	re->data = pcre2_match_data_create_from_pattern(re->code, NULL);
	re->context = pcre2_match_context_create(NULL);
	if (!re->data || !re->context) {
		snprintf(err, errlen, "out of memory");
		route_regex_free(re);
		return -1;
	}
	pcre2_set_match_limit(re->context, ROUTE_REGEX_MATCH_LIMIT);
	pcre2_set_depth_limit(re->context, ROUTE_REGEX_MATCH_LIMIT);
	pcre2_set_heap_limit(re->context, ROUTE_REGEX_HEAP_KB);
	/* PCRE2 keeps its backtracking frames in the match data: one match now
	 * allocates them, so requests reuse them (a deeper one may grow them,
	 * up to the heap limit, once) */
	pcre2_match(re->code, (PCRE2_SPTR) "", 0, 0, 0, re->data, re->context);
	*out = re;
	return 0;
}

void route_regex_free(struct route_regex *re)
{
	if (!re)
		return;
	pcre2_match_data_free(re->data);
	pcre2_match_context_free(re->context);
	pcre2_code_free(re->code);
	free(re);
}

int route_regex_match(struct route_regex *re, const char *s, size_t n)
{
	return pcre2_match(re->code, (PCRE2_SPTR)(s ? s : ""), n, 0, 0, re->data,
			   re->context) >= 0;
}

static void condition_release(struct route_condition *c)
{
	free(c->name);
	free(c->value);
	route_regex_free(c->re);
}

static void modifier_release(struct route_header_modifier *m)
{
	for (unsigned i = 0; i < m->n_set; i++) {
		free(m->set[i].name);
		free(m->set[i].value);
	}
	for (unsigned i = 0; i < m->n_add; i++) {
		free(m->add[i].name);
		free(m->add[i].value);
	}
	for (unsigned i = 0; i < m->n_remove; i++)
		free(m->remove[i]);
	free(m->set);
	free(m->add);
	free(m->remove);
}

static void backend_release(struct route_backend *b)
{
	free(b->namespace);
	free(b->name);
}

void route_rule_release(struct route_rule *r)
{
	for (unsigned i = 0; i < r->n_matches; i++) {
		struct route_match *m = &r->matches[i];

		free(m->path);
		route_regex_free(m->path_re);
		free(m->method);
		for (unsigned j = 0; j < m->n_headers; j++)
			condition_release(&m->headers[j]);
		for (unsigned j = 0; j < m->n_query; j++)
			condition_release(&m->query[j]);
		free(m->headers);
		free(m->query);
	}
	free(r->matches);
	modifier_release(&r->request_headers);
	modifier_release(&r->response_headers);
	if (r->redirect) {
		free(r->redirect->scheme);
		free(r->redirect->hostname);
		free(r->redirect->path);
		free(r->redirect);
	}
	if (r->rewrite) {
		free(r->rewrite->hostname);
		free(r->rewrite->path);
		free(r->rewrite);
	}
	for (unsigned i = 0; i < r->n_mirrors; i++)
		backend_release(&r->mirrors[i].backend);
	free(r->mirrors);
	for (unsigned i = 0; i < r->n_backends; i++)
		backend_release(&r->backends[i]);
	free(r->backends);
	free(r->split_key);
	free(r->route);
	memset(r, 0, sizeof(*r));
}

int route_table_index(struct route_table *t, unsigned min_vhosts)
{
	const char *names[ROUTE_TABLE_VHOSTS_MAX];
	int rc = 0;

	for (unsigned i = 0; i < t->n_listeners; i++) {
		struct route_listener *l = &t->listeners[i];

		if (l->index || l->n_vhosts <= min_vhosts || l->n_vhosts > ROUTE_TABLE_VHOSTS_MAX)
			continue;
		for (unsigned v = 0; v < l->n_vhosts; v++)
			names[v] = l->vhosts[v].hostname;
		if (!(l->index = host_index_new(names, l->n_vhosts)))
			rc = -1;
	}
	return rc;
}

void route_listener_release(struct route_listener *l)
{
	for (unsigned i = 0; i < l->n_vhosts; i++) {
		free(l->vhosts[i].hostname);
		free(l->vhosts[i].entries);
	}
	free(l->vhosts);
	host_index_free(l->index);
	free(l->name);
	free(l->hostname);
	memset(l, 0, sizeof(*l));
}

void route_table_free(struct route_table *t)
{
	if (!t)
		return;
	for (unsigned i = 0; i < t->n_listeners; i++)
		route_listener_release(&t->listeners[i]);
	for (unsigned i = 0; i < t->n_rules; i++)
		route_rule_release(&t->rules[i]);
	free(t->listeners);
	free(t->rules);
	free(t);
}

int route_hostname_matches(const char *pattern, const char *host, size_t host_len)
{
	size_t n = strlen(pattern);

	if (strcmp(pattern, "*") == 0)
		return 1;
	if (pattern[0] == '*' && pattern[1] == '.') {
		/* the suffix with its dot, after at least one label */
		n--;
		return host_len > n && strncasecmp(host + host_len - n, pattern + 1, n) == 0;
	}
	return host_len == n && strncasecmp(host, pattern, n) == 0;
}

/* How well pattern fits host: exact beats any wildcard, a longer wildcard a
 * shorter, any wildcard beats none (NULL or "*"); -1 when it does not. */
static long hostname_score(const char *pattern, const char *host, size_t host_len)
{
	if (!pattern || strcmp(pattern, "*") == 0)
		return 0;
	if (!host || !route_hostname_matches(pattern, host, host_len))
		return -1;
	return (pattern[0] == '*' ? 1 : 100000) + (long)strlen(pattern);
}

/* The Host header's length without its port ("[::1]:80" keeps "[::1]"). */
static size_t host_length(const char *host)
{
	const char *colon;
	size_t n = strlen(host);

	if (host[0] == '[') {
		const char *end = strchr(host, ']');

		return end ? (size_t)(end - host) + 1 : n;
	}
	colon = strrchr(host, ':');
	return colon ? (size_t)(colon - host) : n;
}

static int path_prefix_holds(const char *prefix, const char *path, size_t path_len)
{
	size_t n = strlen(prefix);

	/* the spec ignores a trailing '/': "/foo/" is "/foo", "/" takes all */
	while (n > 0 && prefix[n - 1] == '/')
		n--;
	if (path_len < n || memcmp(path, prefix, n) != 0)
		return 0;
	return path_len == n || path[n] == '/';
}

static int value_holds(const struct route_condition *c, const char *v, size_t n)
{
	if (c->type == ROUTE_VALUE_REGEX)
		return route_regex_match(c->re, v, n);
	return n == strlen(c->value) && memcmp(v, c->value, n) == 0;
}

/* The first value of query param name (case-sensitive), raw as sent. */
static const char *query_lookup(const char *q, size_t qn, const char *name, size_t *len)
{
	size_t name_len = strlen(name);
	const char *end;

	if (!q)
		return NULL;
	end = q + qn;
	while (q < end) {
		const char *amp = memchr(q, '&', (size_t)(end - q));
		const char *stop = amp ? amp : end;
		const char *eq = memchr(q, '=', (size_t)(stop - q));
		const char *key_end = eq ? eq : stop;

		if ((size_t)(key_end - q) == name_len && memcmp(q, name, name_len) == 0) {
			*len = eq ? (size_t)(stop - eq - 1) : 0;
			return eq ? eq + 1 : stop;
		}
		q = amp ? amp + 1 : end;
	}
	return NULL;
}

int route_match_holds(const struct route_match *m, const struct route_request *req)
{
	switch (m->path_type) {
	case ROUTE_PATH_PREFIX:
		if (!path_prefix_holds(m->path, req->path, req->path_len))
			return 0;
		break;
	case ROUTE_PATH_EXACT:
		if (req->path_len != strlen(m->path) || memcmp(req->path, m->path, req->path_len))
			return 0;
		break;
	case ROUTE_PATH_REGEX:
		if (!route_regex_match(m->path_re, req->path, req->path_len))
			return 0;
		break;
	}
	if (m->method && (!req->method || strcmp(m->method, req->method) != 0))
		return 0;
	for (unsigned i = 0; i < m->n_headers; i++) {
		size_t n = 0;
		const char *v = req->header ? req->header(req->header_ctx, m->headers[i].name, &n)
					    : NULL;

		if (!v || !value_holds(&m->headers[i], v, n))
			return 0;
	}
	for (unsigned i = 0; i < m->n_query; i++) {
		size_t n = 0;
		const char *v = query_lookup(req->query, req->query ? req->query_len : 0,
					     m->query[i].name, &n);

		if (!v || !value_holds(&m->query[i], v, n))
			return 0;
	}
	return 1;
}

int route_match(const struct route_table *t, uint16_t port, const struct route_request *req,
		struct route_result *out)
{
	const struct route_listener *listener = NULL;
	const struct route_vhost *vhost = NULL;
	size_t host_len = req->host ? host_length(req->host) : 0;
	long best = -1;

	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; i < t->n_listeners; i++) {
		const struct route_listener *l = &t->listeners[i];
		long score;

		if (l->port != port || (l->protocol != ROUTE_PROTOCOL_HTTP &&
					l->protocol != ROUTE_PROTOCOL_HTTPS))
			continue;
		score = hostname_score(l->hostname, req->host, host_len);
		if (score > best) {
			best = score;
			listener = l;
		}
	}
	if (!listener)
		return -1;
	best = -1;
	if (listener->index) {
		int v = host_index_find(listener->index, req->host, host_len);

		vhost = v >= 0 ? &listener->vhosts[v] : NULL;
	}
	for (unsigned i = 0; !listener->index && i < listener->n_vhosts; i++) {
		long score = hostname_score(listener->vhosts[i].hostname, req->host, host_len);

		if (score > best) {
			best = score;
			vhost = &listener->vhosts[i];
		}
	}
	if (!vhost)
		return -1;
	for (unsigned i = 0; i < vhost->n_entries; i++) {
		const struct route_entry *e = &vhost->entries[i];
		const struct route_rule *rule = &t->rules[e->rule];

		if (route_match_holds(&rule->matches[e->match], req)) {
			out->listener = listener;
			out->vhost = vhost;
			out->rule = rule;
			out->match = &rule->matches[e->match];
			return 0;
		}
	}
	return -1;
}

const struct route_backend *route_pick_backend(const struct route_rule *rule, uint32_t r)
{
	uint64_t total = 0, target, at = 0;

	for (unsigned i = 0; i < rule->n_backends; i++)
		total += rule->backends[i].weight;
	if (total == 0)
		return NULL;
	/* scaled rather than r % total: a hash's high bits count too */
	target = ((uint64_t)r * total) >> 32;
	for (unsigned i = 0; i < rule->n_backends; i++) {
		at += rule->backends[i].weight;
		if (target < at)
			return &rule->backends[i];
	}
	return NULL;
}

/* Appends n bytes at *at in out (size); -1 when they do not fit with a NUL. */
static int put(char *out, size_t size, size_t *at, const char *s, size_t n)
{
	if (*at + n >= size)
		return -1;
	memcpy(out + *at, s, n);
	*at += n;
	out[*at] = '\0';
	return 0;
}

int route_rewrite_path(enum route_path_modifier type, const char *value, const char *prefix,
		       const char *path, size_t path_len, char *out, size_t size)
{
	size_t at = 0, prefix_len, value_len;

	if (size == 0)
		return -1;
	out[0] = '\0';
	switch (type) {
	case ROUTE_MODIFY_NONE:
		return put(out, size, &at, path, path_len) == -1 ? -1 : (int)at;
	case ROUTE_MODIFY_FULL:
		return put(out, size, &at, value, strlen(value)) == -1 ? -1 : (int)at;
	case ROUTE_MODIFY_PREFIX:
		break;
	}
	if (!prefix || !path_prefix_holds(prefix, path, path_len))
		return -1;
	/* element-wise: both without their trailing '/', the rest of the path
	 * (empty or from a '/') after the replacement */
	prefix_len = strlen(prefix);
	while (prefix_len > 0 && prefix[prefix_len - 1] == '/')
		prefix_len--;
	value_len = strlen(value);
	while (value_len > 0 && value[value_len - 1] == '/')
		value_len--;
	if (put(out, size, &at, value, value_len) == -1 ||
	    put(out, size, &at, path + prefix_len, path_len - prefix_len) == -1)
		return -1;
	if (at == 0 && put(out, size, &at, "/", 1) == -1)
		return -1;
	return (int)at;
}

int route_redirect_location(const struct route_redirect *rd, const struct route_match *m,
			    uint16_t listener_port, const char *req_scheme, const char *host,
			    const char *path, size_t path_len, const char *query,
			    size_t query_len, char *out, size_t size)
{
	const char *scheme = rd->scheme ? rd->scheme : req_scheme;
	const char *hostname = rd->hostname ? rd->hostname : (host ? host : "");
	size_t hostname_len = rd->hostname ? strlen(hostname) : host_length(hostname);
	unsigned port = rd->port;
	size_t at = 0;
	int n;

	if (size == 0)
		return -1;
	out[0] = '\0';
	/* the request's Host goes into a header: a name, an address, nothing else */
	for (size_t i = 0; i < hostname_len; i++)
		if (!isalnum((unsigned char)hostname[i]) && !strchr(".-_:[]", hostname[i]))
			return -1;
	if (port == 0) {
		/* a redirect scheme brings its own well-known port */
		if (rd->scheme && strcmp(rd->scheme, "https") == 0)
			port = 443;
		else if (rd->scheme && strcmp(rd->scheme, "http") == 0)
			port = 80;
		else
			port = listener_port;
	}
	if (put(out, size, &at, scheme, strlen(scheme)) == -1 ||
	    put(out, size, &at, "://", 3) == -1 ||
	    put(out, size, &at, hostname, hostname_len) == -1)
		return -1;
	if (!((strcmp(scheme, "http") == 0 && port == 80) ||
	      (strcmp(scheme, "https") == 0 && port == 443))) {
		char text[8];

		snprintf(text, sizeof(text), ":%u", port);
		if (put(out, size, &at, text, strlen(text)) == -1)
			return -1;
	}
	n = route_rewrite_path(rd->path_type, rd->path, m ? m->path : NULL, path, path_len,
			       out + at, size - at);
	if (n == -1)
		return -1;
	at += (size_t)n;
	if (query && query_len > 0 &&
	    (put(out, size, &at, "?", 1) == -1 || put(out, size, &at, query, query_len) == -1))
		return -1;
	return (int)at;
}

static const char *const protocol_names[] = { "HTTP", "HTTPS", "TLS", "TCP" };
const char *const route_path_type_names[3] = { "PathPrefix", "Exact", "RegularExpression" };
const char *const route_value_type_names[2] = { "Exact", "RegularExpression" };
const char *const route_modifier_names[3] = { "None", "ReplaceFullPath", "ReplacePrefixMatch" };

const char *route_protocol_name(enum route_protocol p)
{
	return (unsigned)p < sizeof(protocol_names) / sizeof(protocol_names[0])
		       ? protocol_names[p]
		       : "?";
}

int route_protocol_parse(const char *s)
{
	for (unsigned i = 0; i < sizeof(protocol_names) / sizeof(protocol_names[0]); i++)
		if (strcmp(s, protocol_names[i]) == 0)
			return (int)i;
	return -1;
}

int route_header_name_valid(const char *s)
{
	size_t n = strlen(s);

	return n <= ROUTE_NAME_MAX && http_token_valid(s, n);
}

int route_split_key_valid(const char *s)
{
	const char *name = NULL;
	size_t n;

	if (strcmp(s, "client") == 0)
		return 1;
	if (strncmp(s, "cookie:", 7) == 0)
		name = s + 7;
	else if (strncmp(s, "header:", 7) == 0)
		name = s + 7;
	if (!name)
		return 0;
	n = strlen(name);
	return n >= 1 && n <= ROUTE_SPLIT_NAME_MAX && http_token_valid(name, n);
}

int route_text_valid(const char *s, size_t max)
{
	size_t n = 0;

	for (; *s; s++, n++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return n <= max;
}
