/* gateway_rule: an HTTPRoute's rules (Gateway API v1) into route rules. */
#include "gateway_rule.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PATH_TEXT GATEWAY_MESSAGE_MAX

/* out (PATH_TEXT bytes) = parent followed by the printf-formatted suffix,
 * cut when long: "spec.rules[2]" + ".matches[%u]". */
static void sub_path(char *out, const char *parent, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void sub_path(char *out, const char *parent, const char *fmt, ...)
{
	size_t n = strlen(parent) < PATH_TEXT - 1 ? strlen(parent) : PATH_TEXT - 1;
	va_list ap;

	memcpy(out, parent, n);
	out[n] = '\0';
	va_start(ap, fmt);
	vsnprintf(out + n, PATH_TEXT - n, fmt, ap);
	va_end(ap);
}

int gateway_duration_parse(const char *s, uint32_t *ms)
{
	uint64_t total = 0;
	int groups = 0;

	while (*s) {
		uint64_t v = 0;
		int digits = 0;

		for (; isdigit((unsigned char)*s) && digits < 6; s++, digits++)
			v = v * 10 + (uint64_t)(*s - '0');
		if (digits == 0 || digits > 5 || ++groups > 4)
			return -1;
		if (s[0] == 'm' && s[1] == 's')
			s += 2;
		else if (*s == 'h')
			v *= 3600000, s++;
		else if (*s == 'm')
			v *= 60000, s++;
		else if (*s == 's')
			v *= 1000, s++;
		else
			return -1;
		total += v;
	}
	if (groups == 0 || total > UINT32_MAX)
		return -1;
	*ms = (uint32_t)total;
	return 0;
}

int gateway_hostname_valid(const char *s, int wildcard)
{
	size_t label = 0;

	if (wildcard && s[0] == '*' && s[1] == '.')
		s += 2;
	if (strlen(s) == 0 || strlen(s) > ROUTE_HOSTNAME_MAX)
		return 0;
	for (const char *p = s;; p++) {
		if (*p == '.' || *p == '\0') {
			if (label == 0 || p[-1] == '-')
				return 0;
			if (*p == '\0')
				return 1;
			label = 0;
		} else if (islower((unsigned char)*p) || isdigit((unsigned char)*p) ||
			   (*p == '-' && label > 0)) {
			label++;
		} else {
			return 0;
		}
	}
}

/* One route being compiled. Out of memory is remembered, not returned, so
 * the walk reads straight; the caller checks oom at the end. */
struct compiler {
	struct gateway_route *route;
	const struct gateway_rule_env *env;
	int oom;
};

static void verdict(struct compiler *c, struct gateway_verdict *v, const char *reason,
		    const char *path, const char *fmt, va_list ap)
{
	char text[GATEWAY_MESSAGE_MAX];

	vsnprintf(text, sizeof(text), fmt, ap);
	gateway_notes_add(c->env->notes, c->route->doc->source, path, "%s", text);
	if (!v->reason) {
		v->reason = reason;
		sub_path(v->message, path, ": %s", text);
	}
}

/* The route is not accepted: UnsupportedValue, the field and why. */
static void refuse(struct compiler *c, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void refuse(struct compiler *c, const char *path, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verdict(c, &c->route->accepted, "UnsupportedValue", path, fmt, ap);
	va_end(ap);
}

/* A ref does not resolve: ResolvedRefs is False with reason. */
static void unresolved(struct compiler *c, const char *reason, const char *path,
		       const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void unresolved(struct compiler *c, const char *reason, const char *path,
		       const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verdict(c, &c->route->resolved, reason, path, fmt, ap);
	va_end(ap);
}

static char *dup(struct compiler *c, const char *s)
{
	char *out = s ? strdup(s) : NULL;

	if (s && !out)
		c->oom = 1;
	return out;
}

static void *alloc(struct compiler *c, size_t n, size_t size)
{
	void *p = n ? calloc(n, size) : NULL;

	if (n && !p)
		c->oom = 1;
	return p;
}

/* A string field: absent gives def; not a string, or past max bytes or with
 * control characters, refuses the route and gives NULL. */
static const char *text(struct compiler *c, json_t *o, const char *path, const char *key,
			const char *def, size_t max)
{
	json_t *v = json_object_get(o, key);
	const char *s = json_string_value(v);

	if (!v || json_is_null(v))
		return def;
	if (!s || strlen(s) != json_string_length(v) || !route_text_valid(s, max)) {
		refuse(c, path, "\"%s\" must be a string of at most %zu printable bytes", key, max);
		return NULL;
	}
	return s;
}

/* An integer field in [min, max]: absent gives def; else refused, -1. */
static long long integer(struct compiler *c, json_t *o, const char *path, const char *key,
			 long long def, long long min, long long max)
{
	json_t *v = json_object_get(o, key);

	if (!v || json_is_null(v))
		return def;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
		refuse(c, path, "\"%s\" must be an integer from %lld to %lld", key, min, max);
		return -1;
	}
	return json_integer_value(v);
}

/* An array field of at most max items; absent: an empty one (NULL). */
static json_t *list(struct compiler *c, json_t *o, const char *path, const char *key,
		    size_t max)
{
	json_t *v = json_object_get(o, key);

	if (!v || json_is_null(v))
		return NULL;
	if (!json_is_array(v)) {
		refuse(c, path, "\"%s\" must be a list", key);
		return NULL;
	}
	if (json_array_size(v) > max) {
		refuse(c, path, "\"%s\" has %zu entries, at most %zu are allowed", key,
		       json_array_size(v), max);
		return NULL;
	}
	return v;
}

static void compile_regex(struct compiler *c, const char *path, const char *pattern,
			  struct route_regex **re)
{
	char why[200];

	if (strlen(pattern) > ROUTE_REGEX_MAX)
		refuse(c, path, "a regular expression of more than %d bytes", ROUTE_REGEX_MAX);
	else if (route_regex_compile(pattern, re, why, sizeof(why)) == -1)
		refuse(c, path, "%s", why);
}

/* Header (case-insensitive names) or query param conditions; an entry
 * whose name an earlier one has is ignored, as the spec says. */
static void compile_conditions(struct compiler *c, json_t *a, const char *path, int header,
			       struct route_condition **out, unsigned *n)
{
	*out = alloc(c, json_array_size(a), sizeof(**out));
	for (size_t i = 0; *out && i < json_array_size(a); i++) {
		json_t *o = json_array_get(a, i);
		char at[PATH_TEXT];
		const char *type, *name, *value;
		int seen = 0;

		sub_path(at, path, "[%zu]", i);
		type = text(c, o, at, "type", "Exact", 32);
		name = text(c, o, at, "name", NULL, ROUTE_NAME_MAX);
		value = text(c, o, at, "value", NULL, ROUTE_VALUE_MAX);
		if (!type || !name || !value) {
			refuse(c, at, "\"name\" and \"value\" are required");
			return;
		}
		if (header ? !route_header_name_valid(name) : !name[0]) {
			refuse(c, at, "\"%s\" is not a valid name", name);
			return;
		}
		for (unsigned j = 0; j < *n; j++)
			seen |= header ? !strcasecmp((*out)[j].name, name)
				       : !strcmp((*out)[j].name, name);
		if (seen) {
			gateway_notes_add(c->env->notes, c->route->doc->source, at,
					  "ignored: an earlier entry has the name \"%s\"", name);
			continue;
		}
		if (strcmp(type, "RegularExpression") == 0) {
			(*out)[*n].type = ROUTE_VALUE_REGEX;
			compile_regex(c, at, value, &(*out)[*n].re);
		} else if (strcmp(type, "Exact") != 0) {
			refuse(c, at, "\"type\" %s is not supported", type);
			return;
		}
		(*out)[*n].name = dup(c, name);
		(*out)[*n].value = dup(c, value);
		(*n)++;
	}
}

static const char *const methods[] = { "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT",
				       "OPTIONS", "TRACE", "PATCH", NULL };

static void compile_match(struct compiler *c, json_t *o, const char *path, struct route_match *m)
{
	json_t *p = json_object_get(o, "path");
	char at[PATH_TEXT], sub[PATH_TEXT];
	const char *type = "PathPrefix", *value = "/", *method;

	sub_path(at, path, ".path");
	if ((o && !json_is_object(o)) || (p && !json_is_object(p))) {
		refuse(c, path, "a match and its path must be objects");
		return;
	}
	if (p) {
		type = text(c, p, at, "type", "PathPrefix", 32);
		value = text(c, p, at, "value", "/", ROUTE_PATH_MAX);
	}
	if (!type || !value)
		return;
	sub_path(at, path, ".path.value");
	if (strcmp(type, "RegularExpression") == 0) {
		m->path_type = ROUTE_PATH_REGEX;
		compile_regex(c, at, value, &m->path_re);
	} else if (strcmp(type, "Exact") == 0 || strcmp(type, "PathPrefix") == 0) {
		m->path_type = type[0] == 'E' ? ROUTE_PATH_EXACT : ROUTE_PATH_PREFIX;
		if (value[0] != '/' || strpbrk(value, "?# "))
			refuse(c, at, "a path must start with '/' and hold no '?', '#' or space");
	} else {
		refuse(c, at, "path type %s is not supported", type);
	}
	m->path = dup(c, value);
	if ((method = text(c, o, path, "method", NULL, 16))) {
		const char *const *known = methods;

		while (*known && strcmp(*known, method) != 0)
			known++;
		if (!*known)
			refuse(c, path, "method %s is not supported", method);
		m->method = dup(c, method);
	}
	sub_path(sub, path, ".headers");
	compile_conditions(c, list(c, o, path, "headers", ROUTE_CONDITIONS_MAX), sub, 1,
			   &m->headers, &m->n_headers);
	sub_path(sub, path, ".queryParams");
	compile_conditions(c, list(c, o, path, "queryParams", ROUTE_CONDITIONS_MAX), sub, 0,
			   &m->query, &m->n_query);
}

/* set/add entries of a header modifier: names unique, case-insensitively. */
static void compile_headers(struct compiler *c, json_t *a, const char *path,
			    struct route_header **out, unsigned *n)
{
	*out = alloc(c, json_array_size(a), sizeof(**out));
	for (size_t i = 0; *out && i < json_array_size(a); i++) {
		json_t *o = json_array_get(a, i);
		char at[PATH_TEXT];
		const char *name, *value;

		sub_path(at, path, "[%zu]", i);
		name = text(c, o, at, "name", NULL, ROUTE_NAME_MAX);
		value = text(c, o, at, "value", NULL, ROUTE_VALUE_MAX);
		if (!name || !value || !route_header_name_valid(name)) {
			refuse(c, at, "a header needs a valid \"name\" and a \"value\"");
			return;
		}
		for (unsigned j = 0; j < *n; j++)
			if (strcasecmp((*out)[j].name, name) == 0) {
				refuse(c, at, "header %s is listed twice", name);
				return;
			}
		(*out)[*n].name = dup(c, name);
		(*out)[*n].value = dup(c, value);
		(*n)++;
	}
}

static void compile_modifier(struct compiler *c, json_t *o, const char *path,
			     struct route_header_modifier *m)
{
	char at[PATH_TEXT];
	json_t *remove;

	if (!json_is_object(o)) {
		refuse(c, path, "the filter's settings are missing");
		return;
	}
	sub_path(at, path, ".set");
	compile_headers(c, list(c, o, path, "set", ROUTE_HEADER_OPS_MAX), at, &m->set, &m->n_set);
	sub_path(at, path, ".add");
	compile_headers(c, list(c, o, path, "add", ROUTE_HEADER_OPS_MAX), at, &m->add, &m->n_add);
	remove = list(c, o, path, "remove", ROUTE_HEADER_OPS_MAX);
	m->remove = alloc(c, json_array_size(remove), sizeof(*m->remove));
	for (size_t i = 0; m->remove && i < json_array_size(remove); i++) {
		const char *name = json_string_value(json_array_get(remove, i));

		sub_path(at, path, ".remove[%zu]", i);
		if (!name || !route_header_name_valid(name)) {
			refuse(c, at, "must be a header name");
			return;
		}
		for (unsigned j = 0; j < m->n_remove; j++)
			if (strcasecmp(m->remove[j], name) == 0) {
				refuse(c, at, "header %s is listed twice", name);
				return;
			}
		m->remove[m->n_remove++] = dup(c, name);
	}
}

/* A redirect's or rewrite's "path": ReplaceFullPath or ReplacePrefixMatch. */
static void compile_path_modifier(struct compiler *c, json_t *o, const char *path,
				  enum route_path_modifier *type, char **value)
{
	char at[PATH_TEXT];
	const char *t, *v;

	if (!o)
		return;
	sub_path(at, path, ".path");
	t = text(c, o, at, "type", "", 32);
	if (t && strcmp(t, "ReplaceFullPath") == 0) {
		v = text(c, o, at, "replaceFullPath", NULL, ROUTE_PATH_MAX);
		if (!v || v[0] != '/')
			refuse(c, at, "\"replaceFullPath\" must be a path from '/'");
		*type = ROUTE_MODIFY_FULL;
	} else if (t && strcmp(t, "ReplacePrefixMatch") == 0) {
		v = text(c, o, at, "replacePrefixMatch", "", ROUTE_PATH_MAX);
		if (v && v[0] && v[0] != '/')
			refuse(c, at, "\"replacePrefixMatch\" must be empty or a path from '/'");
		*type = ROUTE_MODIFY_PREFIX;
	} else {
		refuse(c, at, "\"type\" must be ReplaceFullPath or ReplacePrefixMatch");
		return;
	}
	if (v && strpbrk(v, "?# "))
		refuse(c, at, "a path holds no '?', '#' or space");
	*value = dup(c, v ? v : "/");
}

static void compile_redirect(struct compiler *c, json_t *o, const char *path,
			     struct route_redirect *rd)
{
	const char *scheme = text(c, o, path, "scheme", NULL, 16);
	const char *hostname = text(c, o, path, "hostname", NULL, ROUTE_HOSTNAME_MAX);
	long long port = integer(c, o, path, "port", 0, 1, 65535);
	long long status = integer(c, o, path, "statusCode", 302, 301, 308);

	if (scheme && strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)
		refuse(c, path, "scheme %s is not supported", scheme);
	if (hostname && !gateway_hostname_valid(hostname, 0))
		refuse(c, path, "\"hostname\" %s is not a hostname", hostname);
	if (status != 301 && status != 302 && status != 303 && status != 307 && status != 308)
		refuse(c, path, "\"statusCode\" must be 301, 302, 303, 307 or 308");
	rd->scheme = dup(c, scheme);
	rd->hostname = dup(c, hostname);
	rd->port = port > 0 ? (uint16_t)port : 0;
	rd->status = (int)status;
	compile_path_modifier(c, json_object_get(o, "path"), path, &rd->path_type, &rd->path);
}

/* A backendRef (weighted: of a rule; else of a mirror) into b. */
static void compile_backend(struct compiler *c, json_t *o, const char *path, int weighted,
			    struct route_backend *b)
{
	const char *group = text(c, o, path, "group", "", ROUTE_NAME_MAX);
	const char *kind = text(c, o, path, "kind", "Service", ROUTE_NAME_MAX);
	const char *ns = text(c, o, path, "namespace", c->route->namespace, ROUTE_NAME_MAX);
	const char *name = text(c, o, path, "name", NULL, ROUTE_NAME_MAX);
	long long port = integer(c, o, path, "port", 0, 1, 65535);
	long long weight = weighted ? integer(c, o, path, "weight", 1, 0, ROUTE_WEIGHT_MAX) : 1;
	const char *reason;
	char why[GATEWAY_MESSAGE_MAX];
	int flags = 0;

	if (!group || !kind || !ns || !name || !name[0]) {
		refuse(c, path, "a backendRef needs a \"name\"");
		return;
	}
	if (json_array_size(json_object_get(o, "filters")))
		refuse(c, path, "filters on a backendRef are not supported");
	b->namespace = dup(c, ns);
	b->name = dup(c, name);
	b->port = port > 0 ? (uint16_t)port : 0;
	b->weight = weight > 0 ? (uint32_t)weight : 0;
	reason = gateway_ref_resolve(c->env->docs,
				     c->route->kind ? c->route->kind : "HTTPRoute",
				     c->route->namespace, group, kind, ns, name,
				     (int)port, c->env->exists, c->env->exists_ctx, why,
				     sizeof(why), &flags);
	if (reason && reason != GATEWAY_REASON_UNSUPPORTED_PROTOCOL) {
		unresolved(c, reason, path, "%s", why);
		return;
	}
	/* an appProtocol lb does not speak is served all the same (with the
	 * proxies' own protocol) and noted on HTTPRoutes; bytes relayed (TLS,
	 * TCP) have no protocol */
	if (reason && (!c->route->kind || strcmp(c->route->kind, "HTTPRoute") == 0))
		unresolved(c, reason, path, "%s", why);
	b->resolved = 1;
	b->proxy_protocol = flags & GATEWAY_SERVICE_PROXY_V2 ? 2 : 0;
}

int gateway_rule_backend(struct gateway_route *route, json_t *o, const char *path,
			 const struct gateway_rule_env *env, struct route_backend *b)
{
	struct compiler c = { route, env, 0 };

	compile_backend(&c, o, path, 1, b);
	return c.oom ? -1 : 0;
}

static void compile_mirror(struct compiler *c, json_t *o, const char *path,
			   struct route_mirror *m)
{
	json_t *fraction = json_object_get(o, "fraction");
	char at[PATH_TEXT];

	sub_path(at, path, ".backendRef");
	compile_backend(c, json_object_get(o, "backendRef"), at, 0, &m->backend);
	m->numerator = m->denominator = 100;
	if (json_object_get(o, "percent") && fraction) {
		refuse(c, path, "\"percent\" and \"fraction\" are exclusive");
	} else if (fraction) {
		long long den, num;

		sub_path(at, path, ".fraction");
		den = integer(c, fraction, at, "denominator", 100, 1, 1000000);
		num = integer(c, fraction, at, "numerator", -1, 0, 1000000);

		if (num < 0 || den < 1 || num > den)
			refuse(c, at, "\"numerator\" from 0 to \"denominator\" is required");
		m->numerator = num > 0 ? (uint32_t)num : 0;
		m->denominator = den > 0 ? (uint32_t)den : 1;
	} else {
		long long percent = integer(c, o, path, "percent", 100, 0, 100);

		m->numerator = percent > 0 ? (uint32_t)percent : 0;
	}
}

static void compile_filters(struct compiler *c, json_t *a, const char *path, struct route_rule *r)
{
	int seen_request = 0, seen_response = 0;

	r->mirrors = alloc(c, json_array_size(a), sizeof(*r->mirrors));
	for (size_t i = 0; i < json_array_size(a); i++) {
		json_t *f = json_array_get(a, i);
		char at[PATH_TEXT], sub[PATH_TEXT];
		const char *type;

		sub_path(at, path, "[%zu]", i);
		type = text(c, f, at, "type", "", 64);
		if (!type)
			return;
		if (strcmp(type, "RequestHeaderModifier") == 0 && !seen_request++) {
			sub_path(sub, at, ".requestHeaderModifier");
			compile_modifier(c, json_object_get(f, "requestHeaderModifier"), sub,
					 &r->request_headers);
		} else if (strcmp(type, "ResponseHeaderModifier") == 0 && !seen_response++) {
			sub_path(sub, at, ".responseHeaderModifier");
			compile_modifier(c, json_object_get(f, "responseHeaderModifier"), sub,
					 &r->response_headers);
		} else if (strcmp(type, "RequestRedirect") == 0 && !r->redirect) {
			sub_path(sub, at, ".requestRedirect");
			if ((r->redirect = alloc(c, 1, sizeof(*r->redirect))))
				compile_redirect(c, json_object_get(f, "requestRedirect"), sub,
						 r->redirect);
		} else if (strcmp(type, "URLRewrite") == 0 && !r->rewrite) {
			json_t *o = json_object_get(f, "urlRewrite");
			const char *hostname;

			sub_path(sub, at, ".urlRewrite");
			hostname = text(c, o, sub, "hostname", NULL, ROUTE_HOSTNAME_MAX);
			if (hostname && !gateway_hostname_valid(hostname, 0))
				refuse(c, sub, "\"hostname\" %s is not a hostname", hostname);
			if ((r->rewrite = alloc(c, 1, sizeof(*r->rewrite)))) {
				r->rewrite->hostname = dup(c, hostname);
				compile_path_modifier(c, json_object_get(o, "path"), sub,
						      &r->rewrite->path_type, &r->rewrite->path);
			}
		} else if (strcmp(type, "RequestMirror") == 0 && r->mirrors) {
			sub_path(sub, at, ".requestMirror");
			compile_mirror(c, json_object_get(f, "requestMirror"), sub,
				       &r->mirrors[r->n_mirrors++]);
		} else if (strcmp(type, "RequestHeaderModifier") == 0 ||
			   strcmp(type, "ResponseHeaderModifier") == 0 ||
			   strcmp(type, "RequestRedirect") == 0 || strcmp(type, "URLRewrite") == 0) {
			refuse(c, at, "a rule may have one %s filter", type);
		} else {
			refuse(c, at, "filter type \"%s\" is not supported", type);
		}
	}
}

static void compile_rule(struct compiler *c, json_t *o, unsigned index, struct route_rule *r)
{
	json_t *matches, *backends, *timeouts, *v;
	char path[PATH_TEXT], at[PATH_TEXT];
	const char *key;

	snprintf(path, sizeof(path), "spec.rules[%u]", index);
	r->route = dup(c, c->route->id);
	r->index = index;
	if (!json_is_object(o)) {
		refuse(c, path, "a rule must be an object");
		return;
	}
	json_object_foreach(o, key, v)
		if (strcmp(key, "matches") && strcmp(key, "filters") && strcmp(key, "backendRefs") &&
		    strcmp(key, "timeouts") && strcmp(key, "name"))
			gateway_notes_add(c->env->notes, c->route->doc->source, path,
					  "\"%.64s\" is not supported, ignored", key);
	matches = list(c, o, path, "matches", ROUTE_MATCHES_MAX);
	r->n_matches = json_array_size(matches) ? (unsigned)json_array_size(matches) : 1;
	if (!(r->matches = alloc(c, r->n_matches, sizeof(*r->matches)))) {
		r->n_matches = 0;
		return;
	}
	for (unsigned i = 0; i < r->n_matches; i++) {
		sub_path(at, path, ".matches[%u]", i);
		/* no matches: one PathPrefix "/" (the CRD's default) */
		compile_match(c, json_array_get(matches, i), at, &r->matches[i]);
	}
	sub_path(at, path, ".filters");
	compile_filters(c, list(c, o, path, "filters", ROUTE_FILTERS_MAX), at, r);
	backends = list(c, o, path, "backendRefs", ROUTE_BACKENDS_MAX);
	r->backends = alloc(c, json_array_size(backends), sizeof(*r->backends));
	for (size_t i = 0; r->backends && i < json_array_size(backends); i++) {
		sub_path(at, path, ".backendRefs[%zu]", i);
		compile_backend(c, json_array_get(backends, i), at, 1, &r->backends[i]);
		r->n_backends++;
	}
	if (r->redirect && r->rewrite)
		refuse(c, path, "RequestRedirect and URLRewrite cannot be on one rule");
	if (r->redirect && r->n_backends)
		refuse(c, path, "RequestRedirect cannot be on a rule with backendRefs");
	if ((r->redirect && r->redirect->path_type == ROUTE_MODIFY_PREFIX) ||
	    (r->rewrite && r->rewrite->path_type == ROUTE_MODIFY_PREFIX))
		for (unsigned i = 0; i < r->n_matches; i++)
			if (r->matches[i].path_type != ROUTE_PATH_PREFIX)
				refuse(c, path, "ReplacePrefixMatch needs PathPrefix matches");
	if ((timeouts = json_object_get(o, "timeouts"))) {
		const char *request, *backend;

		sub_path(at, path, ".timeouts");
		request = text(c, timeouts, at, "request", NULL, 32);
		backend = text(c, timeouts, at, "backendRequest", NULL, 32);
		if (request && gateway_duration_parse(request, &r->timeout_request_ms) == -1)
			refuse(c, at, "\"request\" %s is not a duration", request);
		if (backend && gateway_duration_parse(backend, &r->timeout_backend_ms) == -1)
			refuse(c, at, "\"backendRequest\" %s is not a duration", backend);
		if (r->timeout_request_ms && r->timeout_backend_ms > r->timeout_request_ms)
			refuse(c, at, "\"backendRequest\" must not be longer than \"request\"");
	}
}

/* The route's lb.dev/split-key annotation, given to each of its rules. */
static void split_key(struct compiler *c, struct gateway_route *route)
{
	json_t *ann = json_object_get(json_object_get(route->doc->json, "metadata"),
				      "annotations");
	const char *path = "metadata.annotations[lb.dev/split-key]";
	json_t *v = json_object_get(ann, GATEWAY_SPLIT_KEY_ANNOTATION);
	const char *key = json_string_value(v);

	if (!v)
		return;
	if (!key || !route_split_key_valid(key)) {
		refuse(c, path, "must be cookie:NAME, header:NAME or client (NAME a token of "
				"at most %d bytes)", ROUTE_SPLIT_NAME_MAX);
		return;
	}
	for (unsigned i = 0; i < route->n_rules; i++)
		route->rules[i].split_key = dup(c, key);
}

int gateway_rule_compile(struct gateway_route *route, json_t *spec,
			 const struct gateway_rule_env *env)
{
	struct compiler c = { route, env, 0 };
	json_t *rules;

	json_t *none = NULL;

	/* no rules: the CRD's default, one rule of one PathPrefix "/" match */
	rules = json_object_get(spec, "rules") ? list(&c, spec, "spec", "rules", ROUTE_RULES_MAX)
					       : (none = json_pack("[{}]"));
	route->rules = alloc(&c, json_array_size(rules), sizeof(*route->rules));
	for (size_t i = 0; route->rules && i < json_array_size(rules); i++) {
		route->n_rules++;
		compile_rule(&c, json_array_get(rules, i), (unsigned)i, &route->rules[i]);
	}
	json_decref(none);
	split_key(&c, route);
	if (route->n_rules == 0 && !route->accepted.reason)
		refuse(&c, "spec.rules", "a route needs at least one rule");
	if (route->accepted.reason || c.oom)
		gateway_route_release(route);
	return c.oom ? -1 : 0;
}

void gateway_route_release(struct gateway_route *route)
{
	for (unsigned i = 0; i < route->n_rules; i++)
		route_rule_release(&route->rules[i]);
	free(route->rules);
	route->rules = NULL;
	route->n_rules = 0;
}
