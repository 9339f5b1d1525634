/* http_request: the target and Host rules of RFC 9112 section 3 (see http_request.h). */
#include "http_request.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/* reg-name characters (RFC 3986 3.2.2) but the comma: "a, b" is a list of
 * hosts, which a recipient must not guess between. */
static int reg_name_char(unsigned char c)
{
	return isalnum(c) || (c && strchr("-._~!$&'()*+;=", c));
}

static int port_valid(const char *s, size_t n)
{
	unsigned long v = 0;

	if (n > 5)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return 0;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	return v <= 65535;
}

int http_authority_valid(const char *s, size_t n, int allow_empty)
{
	size_t i = 0;

	if (n == 0)
		return allow_empty;
	if (s[0] == '[') {
		for (i = 1; i < n && s[i] != ']'; i++)
			if (!isxdigit((unsigned char)s[i]) && s[i] != ':' && s[i] != '.')
				return 0;
		if (i == n || i < 3)
			return 0;
		i++;
	} else {
		for (; i < n && s[i] != ':'; i++) {
			unsigned char c = (unsigned char)s[i];

			if (c == '%') {
				if (i + 2 >= n || !isxdigit((unsigned char)s[i + 1]) ||
				    !isxdigit((unsigned char)s[i + 2]))
					return 0;
				i += 2;
			} else if (!reg_name_char(c)) {
				return 0;
			}
		}
		if (i == 0)
			return 0;
	}
	if (i == n)
		return 1;
	return s[i] == ':' && port_valid(s + i + 1, n - i - 1);
}

static int fail(const char **reason, int status, const char *why)
{
	*reason = why;
	return status;
}

/* An absolute-form target: "http(s)://authority[/path][?query]". */
static int absolute_form(const struct http_msg *m, const char *url, size_t n, struct http_route *r,
			 const char **reason)
{
	const char *sep = memchr(url, ':', n);
	size_t scheme, a, end;

	if (!sep || (size_t)(sep - url) + 3 > n || memcmp(sep, "://", 3) != 0)
		return fail(reason, 400, "invalid request target");
	scheme = (size_t)(sep - url);
	if (!((scheme == 4 && strncasecmp(url, "http", 4) == 0) ||
	      (scheme == 5 && strncasecmp(url, "https", 5) == 0)))
		return fail(reason, 400, "request target scheme is not http or https");
	a = scheme + 3;
	for (end = a; end < n && url[end] != '/' && url[end] != '?'; end++)
		if (url[end] == '@')
			return fail(reason, 400, "userinfo in the request target");
	if (!http_authority_valid(url + a, end - a, 0))
		return fail(reason, 400, "invalid authority in the request target");
	r->authority.off = m->url.off + (uint32_t)a;
	r->authority.len = (uint32_t)(end - a);
	r->has_authority = 1;
	r->path.off = m->url.off + (uint32_t)end;
	r->path.len = (uint32_t)(n - end);
	r->path_slash = end == n || url[end] == '?';
	return 0;
}

int http_request_route(const struct http_msg *m, struct http_route *r, const char **reason)
{
	const char *url = http_msg_ptr(m, m->url);
	size_t n = m->url.len;
	int method = http_msg_method(m), hosts = 0, host = -1;

	memset(r, 0, sizeof(*r));
	if (method == HTTP_CONNECT)
		return fail(reason, 501, "CONNECT is not supported");
	if (n == 0 || memchr(url, '#', n))
		return fail(reason, 400, n ? "fragment in the request target" : "empty request target");
	for (unsigned i = 0; i < m->nheaders; i++) {
		if (!http_msg_header_is(m, i, "host"))
			continue;
		hosts++;
		host = (int)i;
	}
	if (hosts > 1)
		return fail(reason, 400, "more than one Host");
	if (hosts == 0 && http_msg_minor(m) >= 1)
		return fail(reason, 400, "HTTP/1.1 request without Host");
	if (host >= 0) {
		if (!http_authority_valid(http_msg_ptr(m, m->headers[host].value),
					  m->headers[host].value.len, 1))
			return fail(reason, 400, "invalid Host");
		r->authority = m->headers[host].value;
		r->has_authority = 1;
	}
	if (url[0] == '/') {
		r->path = m->url;
		return 0;
	}
	if (n == 1 && url[0] == '*') {
		if (method != HTTP_OPTIONS)
			return fail(reason, 400, "asterisk-form target with a method other than OPTIONS");
		r->path = m->url;
		return 0;
	}
	return absolute_form(m, url, n, r, reason);
}
