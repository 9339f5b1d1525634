/* cors: a CORS policy compiled once, applied per request (see cors.h). */
#include "cors.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http_request.h"

static int is_host_char(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '.' || c == '_';
}

/*
 * Parses the serialized origin [s, s + n): http(s)://HOST[:PORT], HOST a
 * name, an IPv4 address or [IPv6]; with `patterns`, HOST may also be `*` or
 * start with `*.`. Returns 0, or -1 when it is not one.
 */
static int origin_parse(const char *s, size_t n, int patterns, struct cors_origin *o)
{
	const char *sep = n > 3 ? memmem(s, n, "://", 3) : NULL;
	const char *h, *end = s + n, *colon = NULL;
	size_t slen, hlen;

	/* per request: no memset of the whole struct (its host is 256 bytes) */
	o->wildcard = 0;
	if (!sep)
		return -1;
	slen = (size_t)(sep - s);
	if (slen == 4 && strncasecmp(s, "http", 4) == 0)
		o->port = 80;
	else if (slen == 5 && strncasecmp(s, "https", 5) == 0)
		o->port = 443;
	else
		return -1;
	for (size_t i = 0; i < slen; i++)
		o->scheme[i] = (char)tolower((unsigned char)s[i]);
	o->scheme[slen] = '\0';
	h = sep + 3;
	if (h < end && *h == '[') {		/* an IPv6 literal */
		const char *close = memchr(h, ']', (size_t)(end - h));

		if (!close)
			return -1;
		for (const char *p = h + 1; p < close; p++)
			if (!isxdigit((unsigned char)*p) && *p != ':' && *p != '.')
				return -1;
		colon = close + 1 < end ? close + 1 : NULL;
		if (colon && *colon != ':')
			return -1;
		hlen = (size_t)(close + 1 - h);
	} else {
		colon = memchr(h, ':', (size_t)(end - h));
		hlen = (size_t)((colon ? colon : end) - h);
		if (patterns && hlen >= 1 && h[0] == '*') {
			if (hlen > 1 && h[1] != '.')
				return -1;
			o->wildcard = 1;
			h++;			/* keep ".suffix" ("" for a lone "*") */
			hlen--;
		}
		for (size_t i = 0; i < hlen; i++)
			if (!is_host_char((unsigned char)h[i]))
				return -1;
		if (hlen == 0 && !o->wildcard)
			return -1;
	}
	if (hlen > CORS_ORIGIN_MAX)
		return -1;
	for (size_t i = 0; i < hlen; i++)
		o->host[i] = (char)tolower((unsigned char)h[i]);
	o->host[hlen] = '\0';
	if (colon) {
		unsigned long port = 0;
		const char *p = colon + 1;

		if (p == end || end - p > 5)
			return -1;
		for (; p < end; p++) {
			if (*p < '0' || *p > '9')
				return -1;
			port = port * 10 + (unsigned long)(*p - '0');
		}
		if (port < 1 || port > 65535)
			return -1;
		o->port = (unsigned)port;
	}
	return 0;
}

static int origin_matches(const struct cors_origin *allowed, const struct cors_origin *o)
{
	size_t hl, sl;

	if (strcmp(allowed->scheme, o->scheme) != 0 || allowed->port != o->port)
		return 0;
	if (!allowed->wildcard)
		return strcmp(allowed->host, o->host) == 0;
	hl = strlen(o->host);
	sl = strlen(allowed->host);
	/* "*.example.com" wants at least one label before ".example.com" */
	return hl > sl && strcmp(o->host + hl - sl, allowed->host) == 0 && o->host[0] != '[';
}

/* The items of one flag, each maybe "A,B", into a rendered list of tokens. */
static int names_compile(struct cors_names *out, const char *flag, const char *const *items,
			 size_t nitems, char *err, size_t errsz)
{
	size_t len = 0;

	for (size_t i = 0; i < nitems; i++) {
		const char *p = items[i], *end = p + strlen(p), *tok;
		size_t tlen;

		while (http_list_next(&p, end, &tok, &tlen)) {
			int star = tlen == 1 && tok[0] == '*';

			if (!star && !http_token_valid(tok, tlen)) {
				snprintf(err, errsz, "%s \"%.*s\": must be a token (RFC 9110 5.6.2) or "
					 "*", flag, (int)(tlen > 64 ? 64 : tlen), tok);
				return -1;
			}
			if (star)
				out->any = 1;
			if (out->n == CORS_NAMES_MAX || len + tlen + 3 > sizeof(out->line)) {
				snprintf(err, errsz, "%s: at most %d names of %d bytes in all", flag,
					 CORS_NAMES_MAX, CORS_LINE_MAX - 1);
				return -1;
			}
			len += (size_t)snprintf(out->line + len, sizeof(out->line) - len, "%s%.*s",
						out->n ? ", " : "", (int)tlen, tok);
			out->n++;
		}
	}
	if (out->any && out->n > 1) {
		snprintf(err, errsz, "%s: * means every one: give it alone", flag);
		return -1;
	}
	return 0;
}

static int origins_compile(struct cors_policy *p, const struct cors_settings *s, char *err,
			   size_t errsz)
{
	for (size_t i = 0; i < s->norigins; i++) {
		const char *q = s->origins[i], *end = q + strlen(q), *tok;
		size_t tlen;

		while (http_list_next(&q, end, &tok, &tlen)) {
			if (tlen == 1 && tok[0] == '*') {
				p->any_origin = 1;
				continue;
			}
			if (p->norigins == CORS_ORIGINS_MAX) {
				snprintf(err, errsz, "--cors-origins: at most %d origins", CORS_ORIGINS_MAX);
				return -1;
			}
			if (origin_parse(tok, tlen, 1, &p->origins[p->norigins]) == -1) {
				snprintf(err, errsz, "--cors-origins \"%.*s\": an origin is "
					 "http(s)://HOST[:PORT] (HOST may start with *.), or * alone",
					 (int)(tlen > 100 ? 100 : tlen), tok);
				return -1;
			}
			p->norigins++;
		}
	}
	if (p->any_origin && p->norigins) {
		snprintf(err, errsz, "--cors-origins: * means every origin: give it alone");
		return -1;
	}
	p->on = p->any_origin || p->norigins;
	return 0;
}

int cors_policy_compile(struct cors_policy *p, const struct cors_settings *s, char *err,
			size_t errsz)
{
	memset(p, 0, sizeof(*p));
	if (origins_compile(p, s, err, errsz) == -1 ||
	    names_compile(&p->methods, "--cors-methods", s->methods, s->nmethods, err, errsz) == -1 ||
	    names_compile(&p->headers, "--cors-headers", s->headers, s->nheaders, err, errsz) == -1 ||
	    names_compile(&p->expose, "--cors-expose-headers", s->expose, s->nexpose, err,
			  errsz) == -1)
		return -1;
	if (!p->on && (p->methods.n || p->headers.n || p->expose.n || s->credentials)) {
		snprintf(err, errsz, "--cors-methods, --cors-headers, --cors-expose-headers and "
			 "--cors-credentials need --cors-origins");
		return -1;
	}
	if (p->expose.any && s->credentials) {
		snprintf(err, errsz, "--cors-expose-headers *: not with --cors-credentials (browsers "
			 "then read * as a header's name): list the headers");
		return -1;
	}
	p->max_age = (long)s->max_age;
	p->credentials = s->credentials;
	return 0;
}

void cors_classify(const struct cors_policy *p, const struct http_msg *req,
		   struct cors_request *r)
{
	const char *value = NULL;
	size_t vlen = 0;
	int origins = 0, acrm = 0;
	struct cors_origin o;

	r->kind = CORS_NONE;
	r->allowed = 0;
	r->origin_len = 0;
	if (!p || !p->on)
		return;
	for (unsigned i = 0; i < req->nheaders; i++) {
		const char *name = http_msg_ptr(req, req->headers[i].name);
		size_t n = req->headers[i].name.len;

		/* the length first: most fields are neither */
		if (n == 6 && strncasecmp(name, "origin", 6) == 0) {
			origins++;
			value = http_msg_ptr(req, req->headers[i].value);
			vlen = req->headers[i].value.len;
		} else if (n == 29 && strncasecmp(name, "access-control-request-method", 29) == 0) {
			acrm = 1;
		}
	}
	if (!origins)
		return;
	r->kind = http_msg_method(req) == HTTP_OPTIONS && acrm ? CORS_PREFLIGHT : CORS_ACTUAL;
	if (origins > 1 || vlen > CORS_ORIGIN_MAX)
		return;
	if (vlen == 4 && memcmp(value, "null", 4) == 0) {
		/* an opaque origin (a sandbox, a file): only "every origin" takes it,
		 * and never with credentials (it would be anyone's) */
		r->allowed = p->any_origin && !p->credentials;
	} else if (origin_parse(value, vlen, 0, &o) == 0) {
		r->allowed = p->any_origin;
		for (unsigned i = 0; !r->allowed && i < p->norigins; i++)
			r->allowed = origin_matches(&p->origins[i], &o);
	}
	if (r->allowed) {
		memcpy(r->origin, value, vlen);
		r->origin[vlen] = '\0';
		r->origin_len = vlen;
	}
}

static void field(struct buf *out, const char *name, const char *value, size_t n)
{
	buf_append_str(out, name);
	buf_append(out, ": ", 2);
	buf_append(out, value, n);
	buf_append(out, "\r\n", 2);
}

/* Access-Control-Allow-Origin and -Credentials of an allowed request. */
static void allow_origin(struct buf *out, const struct cors_policy *p,
			 const struct cors_request *r)
{
	if (p->any_origin && !p->credentials)
		field(out, "Access-Control-Allow-Origin", "*", 1);
	else
		field(out, "Access-Control-Allow-Origin", r->origin, r->origin_len);
	if (p->credentials)
		field(out, "Access-Control-Allow-Credentials", "true", 4);
}

/* The answer depends on the Origin unless it is "*" for everyone. */
static int varies(const struct cors_policy *p)
{
	return !(p->any_origin && !p->credentials);
}

/* A request field to echo (a wildcard with credentials): one value, only
 * token characters, commas and spaces; else [*v, *v + *n) is left empty. */
static void request_value(const struct http_msg *req, const char *name, const char **v, size_t *n)
{
	int i = http_msg_find(req, name);

	*v = NULL;
	*n = 0;
	if (i < 0 || req->headers[i].value.len >= CORS_LINE_MAX)
		return;
	*v = http_msg_ptr(req, req->headers[i].value);
	*n = req->headers[i].value.len;
	for (size_t k = 0; k < *n; k++)
		if (!http_is_tchar((unsigned char)(*v)[k]) && (*v)[k] != ',' && (*v)[k] != ' ' &&
		    (*v)[k] != '\t') {
			*n = 0;
			return;
		}
}

/* Access-Control-Allow-Methods or -Headers: the list, "*", or with
 * credentials the request's own ask (Fetch reads "*" literally then). */
static int allow_names(struct buf *out, const struct cors_policy *p, const struct cors_names *l,
		       const char *name, const struct http_msg *req, const char *asked)
{
	const char *v;
	size_t n;

	if (!l->n)
		return 0;
	if (!l->any || !p->credentials) {
		field(out, name, l->line, strlen(l->line));
		return 0;
	}
	request_value(req, asked, &v, &n);
	if (n)
		field(out, name, v, n);
	return 1;
}

int cors_append_preflight(struct buf *out, const struct cors_policy *p,
			  const struct cors_request *r, const struct http_msg *req)
{
	char age[24];
	int echoed = 0;

	if (buf_reserve(out, 512 + 2 * CORS_LINE_MAX) == -1)
		return -1;
	if (r->allowed) {
		allow_origin(out, p, r);
		echoed |= allow_names(out, p, &p->methods, "Access-Control-Allow-Methods", req,
				      "access-control-request-method");
		echoed |= allow_names(out, p, &p->headers, "Access-Control-Allow-Headers", req,
				      "access-control-request-headers");
		field(out, "Access-Control-Max-Age", age,
		      (size_t)snprintf(age, sizeof(age), "%ld", p->max_age));
	}
	if (echoed)
		buf_append_str(out, "Vary: Origin, Access-Control-Request-Method, "
				    "Access-Control-Request-Headers\r\n");
	else if (varies(p))
		buf_append_str(out, "Vary: Origin\r\n");
	return 0;
}

int cors_append_response(struct buf *out, const struct cors_policy *p,
			 const struct cors_request *r)
{
	if (!p || !p->on)
		return 0;
	if (buf_reserve(out, 128 + CORS_ORIGIN_MAX + CORS_LINE_MAX) == -1)
		return -1;
	if (r && r->kind != CORS_NONE && r->allowed) {
		allow_origin(out, p, r);
		if (p->expose.n)
			field(out, "Access-Control-Expose-Headers", p->expose.line,
			      strlen(p->expose.line));
	}
	if (varies(p))
		buf_append_str(out, "Vary: Origin\r\n");
	return 0;
}

int cors_owns_field(const char *name, size_t n)
{
	static const char allow[] = "access-control-allow-";

	return (n > sizeof(allow) - 1 && strncasecmp(name, allow, sizeof(allow) - 1) == 0) ||
	       (n == 29 && strncasecmp(name, "access-control-expose-headers", 29) == 0) ||
	       (n == 22 && strncasecmp(name, "access-control-max-age", 22) == 0);
}
