/* admin_route: the admin API's routing table and request-target parsing. */
#include "admin_route.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* The fixed paths. */
static const struct {
	const char *path;
	enum admin_action get;		/* what GET (and HEAD) does */
	int post;			/* POST adds a backend */
	const char *allow;
} fixed[] = {
	{ "/admin/health", ADMIN_LIST, 0, "GET, HEAD" },
	{ "/admin/backends", ADMIN_LIST, 1, "GET, HEAD, POST" },
	{ "/admin/proxies", ADMIN_PROXIES, 0, "GET, HEAD" },
	{ "/admin/metrics", ADMIN_METRICS, 0, "GET, HEAD" },
};

/* The paths under /admin/backends/{address}, by last segment. */
static const struct {
	const char *suffix;		/* "" for the backend itself */
	enum admin_action action;
	int method;
	const char *allow;
} per_backend[] = {
	{ "/drain", ADMIN_DRAIN, HTTP_POST, "POST" },
	{ "/undrain", ADMIN_UNDRAIN, HTTP_POST, "POST" },
	{ "/weight", ADMIN_WEIGHT, HTTP_PUT, "PUT" },
	{ "/uneject", ADMIN_UNEJECT, HTTP_POST, "POST" },
	{ "", ADMIN_REMOVE, HTTP_DELETE, "DELETE" },
};

static enum admin_route_status bad(struct admin_route *r, const char *why)
{
	r->error = why;
	return ADMIN_ROUTE_BAD;
}

enum admin_route_status admin_route_parse(int method, const char *target, size_t len,
					  struct admin_route *r)
{
	static const char prefix[] = "/admin/backends/";
	const char *q = memchr(target, '?', len), *end = target + len;
	int get = method == HTTP_GET || method == HTTP_HEAD;
	size_t plen = q ? (size_t)(q - target) : len;

	memset(r, 0, sizeof(*r));
	if (q)
		q++;
	if (percent_decode(target, plen, r->path, sizeof(r->path)) == -1)
		return bad(r, "bad percent-encoding in the path");
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		if (strcmp(r->path, fixed[i].path) != 0)
			continue;
		r->allow = fixed[i].allow;
		if (!get && !(fixed[i].post && method == HTTP_POST))
			return ADMIN_ROUTE_NOT_ALLOWED;
		r->action = get ? fixed[i].get : ADMIN_ADD;
		r->known_action = 1;
		return ADMIN_ROUTE_OK;
	}
	if (strncmp(r->path, prefix, sizeof(prefix) - 1) != 0 || !r->path[sizeof(prefix) - 1])
		return ADMIN_ROUTE_NOT_FOUND;
	for (size_t i = 0; i < sizeof(per_backend) / sizeof(per_backend[0]); i++) {
		const char *rest = r->path + sizeof(prefix) - 1;
		size_t n = strlen(rest), sl = strlen(per_backend[i].suffix);

		if (n <= sl || strcmp(rest + n - sl, per_backend[i].suffix) != 0)
			continue;
		r->allow = per_backend[i].allow;
		if (method != per_backend[i].method)
			return ADMIN_ROUTE_NOT_ALLOWED;
		snprintf(r->address, sizeof(r->address), "%.*s", (int)(n - sl), rest);
		r->action = per_backend[i].action;
		r->known_action = 1;
		break;
	}
	if (r->action == ADMIN_DRAIN && q) {
		size_t vlen;
		const char *v = query_param(q, end, "wait", &vlen);
		char num[32], *stop;

		if (v) {
			snprintf(num, sizeof(num), "%.*s", (int)(vlen < 31 ? vlen : 31), v);
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
