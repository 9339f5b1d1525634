/* admin_route: the admin API's routing table and request-target parsing. */
#include "admin_route.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verbs.h"

static int hex(char ch)
{
	return isdigit((unsigned char)ch) ? ch - '0' : tolower((unsigned char)ch) - 'a' + 10;
}

/* Percent-decodes [s, s + n) into out (NUL-terminated); returns 0, or -1
 * for a bad escape, a NUL or one too long. */
static int percent_decode(const char *s, size_t n, char *out, size_t outsz)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		int ch = (unsigned char)s[i];

		if (ch == '%') {
			if (i + 2 >= n || !isxdigit((unsigned char)s[i + 1]) ||
			    !isxdigit((unsigned char)s[i + 2]))
				return -1;
			ch = hex(s[i + 1]) * 16 + hex(s[i + 2]);
			i += 2;
		}
		if (ch == '\0' || o + 1 >= outsz)
			return -1;
		out[o++] = (char)ch;
	}
	out[o] = '\0';
	return 0;
}

/* The value of query parameter `name` in [q, end), or NULL. */
static const char *query_param(const char *q, const char *end, const char *name, size_t *len)
{
	size_t nlen = strlen(name);

	for (const char *p = q; p && p < end;) {
		const char *amp = memchr(p, '&', (size_t)(end - p)), *stop = amp ? amp : end;

		if ((size_t)(stop - p) > nlen && memcmp(p, name, nlen) == 0 && p[nlen] == '=') {
			*len = (size_t)(stop - p) - nlen - 1;
			return p + nlen + 1;
		}
		p = amp ? amp + 1 : NULL;
	}
	return NULL;
}

/* The reads: projections of the status and the metrics. */
static const struct {
	const char *path;
	enum admin_action get;
} reads[] = {
	{ "/admin/health", ADMIN_LIST },
	{ "/admin/backends", ADMIN_LIST },
	{ "/admin/proxies", ADMIN_PROXIES },
	{ "/admin/metrics", ADMIN_METRICS },
};

static const char address_slot[] = "{address}";

static enum admin_route_status bad(struct admin_route *r, const char *why)
{
	r->error = why;
	return ADMIN_ROUTE_BAD;
}

static void allow_add(struct admin_route *r, const char *method)
{
	size_t n = strlen(r->allow);

	snprintf(r->allow + n, sizeof(r->allow) - n, "%s%s", n ? ", " : "", method);
}

int admin_route_writes(const struct admin_route *r)
{
	return r->action == ADMIN_VERB && r->verb->writes;
}

/* The verb of a path with no {address} ("/admin/backends"): allow gets
 * every method such a row takes. */
static const struct verb *match_plain(struct admin_route *r, const char *method)
{
	const struct verb *found = NULL;

	for (unsigned i = 0; i < verbs_count; i++) {
		const struct verb *v = &verbs[i];

		if (!v->http_path || strstr(v->http_path, address_slot) ||
		    strcmp(v->http_path, r->path) != 0)
			continue;
		allow_add(r, v->http_method);
		if (strcmp(v->http_method, method) == 0)
			found = v;
	}
	return found;
}

/* The verb of "PREFIX{address}SUFFIX" paths: the longest suffix that ends
 * the path (after a non-empty address) wins; allow gets its methods. */
static const struct verb *match_backend(struct admin_route *r, const char *method, int *matched)
{
	const struct verb *found = NULL;
	size_t n = strlen(r->path), best = 0;
	const char *best_suffix = NULL;

	*matched = 0;
	for (unsigned i = 0; i < verbs_count; i++) {
		const char *slot = verbs[i].http_path ? strstr(verbs[i].http_path, address_slot) : NULL;
		size_t plen, slen;
		const char *suffix;

		if (!slot)
			continue;
		plen = (size_t)(slot - verbs[i].http_path);
		suffix = slot + sizeof(address_slot) - 1;
		slen = strlen(suffix);
		if (n <= plen + slen || strncmp(r->path, verbs[i].http_path, plen) != 0 ||
		    strcmp(r->path + n - slen, suffix) != 0)
			continue;
		if (!best_suffix || slen > best) {
			best = slen;
			best_suffix = suffix;
		}
	}
	if (!best_suffix)
		return NULL;
	*matched = 1;
	for (unsigned i = 0; i < verbs_count; i++) {
		const char *slot = verbs[i].http_path ? strstr(verbs[i].http_path, address_slot) : NULL;
		size_t plen;

		if (!slot || strcmp(slot + sizeof(address_slot) - 1, best_suffix) != 0)
			continue;
		plen = (size_t)(slot - verbs[i].http_path);
		if (strncmp(r->path, verbs[i].http_path, plen) != 0)
			continue;
		allow_add(r, verbs[i].http_method);
		if (strcmp(verbs[i].http_method, method) == 0 && !found) {
			found = &verbs[i];
			snprintf(r->address, sizeof(r->address), "%.*s", (int)(n - plen - best),
				 r->path + plen);
		}
	}
	return found;
}

enum admin_route_status admin_route_parse(int method, const char *target, size_t len,
					  struct admin_route *r)
{
	const char *q = memchr(target, '?', len), *end = target + len;
	const char *name = llhttp_method_name((llhttp_method_t)method);
	int get = method == HTTP_GET || method == HTTP_HEAD, is_read = 0, matched;
	size_t plen = q ? (size_t)(q - target) : len;
	const struct verb *v;

	memset(r, 0, sizeof(*r));
	if (q)
		q++;
	if (percent_decode(target, plen, r->path, sizeof(r->path)) == -1)
		return bad(r, "bad percent-encoding in the path");
	for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++) {
		if (strcmp(r->path, reads[i].path) != 0)
			continue;
		allow_add(r, "GET, HEAD");
		is_read = 1;
		if (get) {
			r->action = reads[i].get;
			r->known_action = 1;
		}
	}
	v = match_plain(r, name);
	if (!v && !r->known_action)
		v = match_backend(r, name, &matched);
	else
		matched = 0;
	if (!v && !r->known_action)
		return is_read || matched || r->allow[0] ? ADMIN_ROUTE_NOT_ALLOWED
							: ADMIN_ROUTE_NOT_FOUND;
	if (r->known_action)
		return ADMIN_ROUTE_OK;
	r->action = ADMIN_VERB;
	r->verb = v;
	r->known_action = 1;
	r->address_in_path = r->address[0] != '\0';
	if ((v->args & VERB_OPT_WAIT) && q) {
		size_t vlen;
		const char *w = query_param(q, end, "wait", &vlen);
		char num[32], *stop;

		if (w) {
			snprintf(num, sizeof(num), "%.*s", (int)(vlen < 31 ? vlen : 31), w);
			r->wait = strtod(num, &stop);
			if (vlen == 0 || vlen > 31 || *stop || !isfinite(r->wait) || r->wait <= 0 ||
			    r->wait > ADMIN_WAIT_MAX) {
				r->wait = 0;
				return bad(r, "wait must be seconds, more than 0 and at most 3600");
			}
		}
	}
	return ADMIN_ROUTE_OK;
}
