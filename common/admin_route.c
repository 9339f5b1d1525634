/* admin_route: the admin API's routing table and request-target parsing. */
#include "admin_route.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
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

/* The reads: projections of the status and the metrics, and the status
 * page (its files, its event stream). */
static const struct {
	const char *path;
	enum admin_action get;
} reads[] = {
	{ "/admin/health", ADMIN_LIST },
	{ "/admin/backends", ADMIN_LIST },
	{ "/admin/proxies", ADMIN_PROXIES },
	{ "/admin/metrics", ADMIN_METRICS },
	{ "/admin/routes", ADMIN_ROUTES },
	{ "/", ADMIN_PAGE },
	{ "/page.js", ADMIN_PAGE },
	{ "/page.css", ADMIN_PAGE },
	{ "/events", ADMIN_EVENTS },
};

static const char address_slot[] = "{address}";
static const char address_slash[] =
	"an address in the path is one segment, IP:PORT or [IPv6]:PORT, with no '/' (nor "
	"%2F): give the http:// spelling in a JSON body or to lb-ctl";

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

/* The decoded segments of a path: [off, off + len) of r->path. */
struct segments {
	size_t n;
	struct {
		size_t off, len;
	} seg[ADMIN_PATH_SEGMENTS];
};

/* 1 when the decoded segments match the route `tmpl` ("/admin/backends/
 * {address}/drain"): as many segments, each literal equal, {address} one
 * non-empty segment (its index in *address, else -1). */
static int match(const struct admin_route *r, const struct segments *sg, const char *tmpl,
		 int *address)
{
	const char *t = tmpl;
	size_t i = 0;

	*address = -1;
	while (*t == '/') {
		const char *stop = strchr(t + 1, '/');
		size_t tlen = stop ? (size_t)(stop - t - 1) : strlen(t + 1);

		if (i >= sg->n)
			return 0;
		if (tlen == sizeof(address_slot) - 1 && memcmp(t + 1, address_slot, tlen) == 0) {
			if (sg->seg[i].len == 0)
				return 0;
			*address = (int)i;
		} else if (tlen != sg->seg[i].len ||
			   memcmp(t + 1, r->path + sg->seg[i].off, tlen) != 0) {
			return 0;
		}
		i++;
		t += 1 + tlen;
	}
	return i == sg->n;
}

/* The verb whose route the path is; allow gets every method of that route. */
static const struct verb *match_verb(struct admin_route *r, const struct segments *sg,
				     const char *method)
{
	const struct verb *found = NULL;
	int address;

	for (unsigned i = 0; i < verbs_count; i++) {
		const struct verb *v = &verbs[i];

		if (!v->http_path || !match(r, sg, v->http_path, &address))
			continue;
		allow_add(r, v->http_method);
		if (strcmp(v->http_method, method) != 0 || found)
			continue;
		found = v;
		if (address >= 0)
			snprintf(r->address, sizeof(r->address), "%.*s", (int)sg->seg[address].len,
				 r->path + sg->seg[address].off);
	}
	return found;
}

/* Splits the raw path [p, p + n) at its slashes and percent-decodes each
 * segment into r->path ("/" joined) and sg. Returns 0, or -1 for a bad
 * escape or a NUL; too many segments leave sg->n past the table (no route). */
static int split(struct admin_route *r, const char *p, size_t n, struct segments *sg)
{
	size_t o = 0, i = 0;

	sg->n = 0;
	while (i < n && p[i] == '/') {
		const char *slash = memchr(p + i + 1, '/', n - i - 1);
		size_t len = slash ? (size_t)(slash - p - i - 1) : n - i - 1;

		r->path[o++] = '/';
		if (percent_decode(p + i + 1, len, r->path + o, sizeof(r->path) - o) == -1)
			return -1;
		if (sg->n < ADMIN_PATH_SEGMENTS) {
			sg->seg[sg->n].off = o;
			sg->seg[sg->n].len = strlen(r->path + o);
		}
		sg->n++;
		o += strlen(r->path + o);
		i += 1 + len;
	}
	r->path[o] = '\0';
	if (i < n)
		sg->n = ADMIN_PATH_SEGMENTS + 1;	/* not origin-form: no route */
	return 0;
}

/* ?service=: the routed Service a read or a verb is about, percent-decoded
 * ("default%2Fapi%3A80" or "default/api:80"). Returns 0 (r->service ""
 * when absent) or -1. */
static int parse_service(const char *q, const char *end, struct admin_route *r)
{
	size_t vlen;
	const char *v = q ? query_param(q, end, "service", &vlen) : NULL;

	if (!v)
		return 0;
	return percent_decode(v, vlen, r->service, sizeof(r->service)) == -1 || !r->service[0]
		       ? -1 : 0;
}

static const char service_bad[] =
	"service must be a Service's name, namespace/name:port, percent-encoded, of under 324 bytes";

/* ?wait=: decimal seconds, more than 0 and at most ADMIN_WAIT_MAX (no hex,
 * inf or nan, as strtod alone would take). Returns 0 or -1. */
static int parse_wait(const char *w, size_t vlen, double *out)
{
	char num[32], *stop;

	if (vlen == 0 || vlen >= sizeof(num))
		return -1;
	memcpy(num, w, vlen);
	num[vlen] = '\0';
	if (config_parse_decimal(num, out, &stop) == -1 || *stop || !(*out > 0) ||
	    *out > ADMIN_WAIT_MAX)
		return -1;
	return 0;
}

enum admin_route_status admin_route_parse(int method, const char *target, size_t len,
					  struct admin_route *r)
{
	const char *q = memchr(target, '?', len), *end = target + len;
	const char *name = llhttp_method_name((llhttp_method_t)method);
	int get = method == HTTP_GET || method == HTTP_HEAD, is_read = 0;
	size_t plen = q ? (size_t)(q - target) : len;
	struct segments sg;
	const struct verb *v;

	memset(r, 0, sizeof(*r));
	if (q)
		q++;
	if (plen > ADMIN_PATH_MAX) {
		r->error = "the path is too long";
		return ADMIN_ROUTE_TOO_LONG;
	}
	if (split(r, target, plen, &sg) == -1)
		return bad(r, "bad percent-encoding in the path");
	for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++) {
		int address;

		if (!match(r, &sg, reads[i].path, &address))
			continue;
		allow_add(r, "GET, HEAD");
		is_read = 1;
		if (get) {
			r->action = reads[i].get;
			r->known_action = 1;
			if ((r->action == ADMIN_LIST || r->action == ADMIN_PROXIES ||
			     r->action == ADMIN_EVENTS) &&
			    parse_service(q, end, r) == -1)
				return bad(r, service_bad);
			return ADMIN_ROUTE_OK;
		}
	}
	v = match_verb(r, &sg, name);
	if (!v && (is_read || r->allow[0]))
		return ADMIN_ROUTE_NOT_ALLOWED;
	if (!v) {
		/* the old spelling /admin/backends/http://10.0.0.9:8080/drain */
		if (sg.n > 4 && strncmp(r->path, "/admin/backends/", 16) == 0)
			return bad(r, address_slash);
		return ADMIN_ROUTE_NOT_FOUND;
	}
	r->action = ADMIN_VERB;
	r->verb = v;
	r->known_action = 1;
	r->address_in_path = r->address[0] != '\0';
	if (strchr(r->address, '/'))
		return bad(r, address_slash);
	if (parse_service(q, end, r) == -1)
		return bad(r, service_bad);
	if ((v->args & VERB_OPT_WAIT) && q) {
		size_t vlen;
		const char *w = query_param(q, end, "wait", &vlen);

		if (w && parse_wait(w, vlen, &r->wait) == -1) {
			r->wait = 0;
			return bad(r, "wait must be decimal seconds, more than 0 and at most 3600");
		}
	}
	return ADMIN_ROUTE_OK;
}
