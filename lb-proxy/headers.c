/* headers: rewrites request heads for backends and response heads for clients. */
#include "headers.h"

#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "http_response.h"

static int name_is(const char *name, size_t n, const char *lit)
{
	size_t l = strlen(lit);

	return n == l && strncasecmp(name, lit, l) == 0;
}

/* Hop-by-hop (RFC 9110 7.6.1) plus Proxy-*; Upgrade stays when tunnelling. */
static int hop_by_hop(const struct http_msg *m, unsigned i, int tunnel)
{
	const char *name = http_msg_ptr(m, m->headers[i].name);
	size_t n = m->headers[i].name.len;

	if (name_is(name, n, "connection") || name_is(name, n, "keep-alive") ||
	    name_is(name, n, "te") || name_is(name, n, "trailer") ||
	    (n >= 6 && strncasecmp(name, "proxy-", 6) == 0))
		return 1;
	if (name_is(name, n, "upgrade"))
		return !tunnel;
	/* Framing headers travel with the framed body, even if listed. */
	if (name_is(name, n, "content-length") || name_is(name, n, "transfer-encoding"))
		return 0;
	return http_msg_lists(m, "connection", name, n);
}

static void append_header(struct buf *out, const struct http_msg *m, unsigned i)
{
	buf_append(out, http_msg_ptr(m, m->headers[i].name), m->headers[i].name.len);
	buf_append(out, ": ", 2);
	buf_append(out, http_msg_ptr(m, m->headers[i].value), m->headers[i].value.len);
	buf_append(out, "\r\n", 2);
}

/* Appends Cookie header i of m without the pair named `drop` (nothing when
 * no other pair is left). */
static void append_cookie_without(struct buf *out, const struct http_msg *m, unsigned i,
				  const char *drop)
{
	const char *v = http_msg_ptr(m, m->headers[i].value), *end = v + m->headers[i].value.len;
	size_t dlen = strlen(drop);
	int first = 1;

	while (v < end) {
		const char *item, *stop;

		while (v < end && (*v == ' ' || *v == '\t' || *v == ';'))
			v++;
		item = v;
		while (v < end && *v != ';')
			v++;
		stop = v;
		while (stop > item && (stop[-1] == ' ' || stop[-1] == '\t'))
			stop--;
		if (stop == item || ((size_t)(stop - item) > dlen && item[dlen] == '=' &&
				     memcmp(item, drop, dlen) == 0))
			continue;
		buf_append_str(out, first ? "Cookie: " : "; ");
		buf_append(out, item, (size_t)(stop - item));
		first = 0;
	}
	if (!first)
		buf_append(out, "\r\n", 2);
}

static void append_span(struct buf *out, const char *name, const struct http_msg *m,
			struct http_span v)
{
	buf_append_str(out, name);
	buf_append(out, http_msg_ptr(m, v), v.len);
	buf_append(out, "\r\n", 2);
}

int headers_request(struct buf *out, const struct http_msg *req, const struct http_route *route,
		    const struct headers_ctx *ctx)
{
	const char *method = llhttp_method_name(http_msg_method(req));
	int xff = -1;

	if (buf_reserve(out, 512 + req->head_end - req->head_start) == -1)
		return -1;
	buf_append_str(out, method);
	buf_append(out, route->path_slash ? " /" : " ", route->path_slash ? 2 : 1);
	buf_append(out, http_msg_ptr(req, route->path), route->path.len);
	buf_append(out, " HTTP/1.1\r\n", 11);
	if (route->has_authority) {
		append_span(out, "Host: ", req, route->authority);
	} else {
		buf_append_str(out, "Host: ");
		buf_append_str(out, ctx->backend_name);
		buf_append(out, "\r\n", 2);
	}
	for (unsigned i = 0; i < req->nheaders; i++) {
		const char *name = http_msg_ptr(req, req->headers[i].name);
		size_t n = req->headers[i].name.len;

		if (hop_by_hop(req, i, ctx->tunnel))
			continue;
		if (name_is(name, n, "x-forwarded-for")) {
			xff = (int)i;	/* re-added below with the client appended */
			continue;
		}
		if (name_is(name, n, "x-forwarded-proto") || name_is(name, n, "x-forwarded-host") ||
		    name_is(name, n, "x-request-id") || name_is(name, n, "host"))
			continue;
		if (ctx->sticky_cookie && name_is(name, n, "cookie")) {
			append_cookie_without(out, req, i, ctx->sticky_cookie);
			continue;
		}
		append_header(out, req, i);
	}
	buf_append_str(out, "X-Forwarded-For: ");
	if (xff >= 0) {
		buf_append(out, http_msg_ptr(req, req->headers[xff].value), req->headers[xff].value.len);
		buf_append(out, ", ", 2);
	}
	buf_append_str(out, ctx->client_ip);
	buf_append_str(out, ctx->tls ? "\r\nX-Forwarded-Proto: https\r\n"
				     : "\r\nX-Forwarded-Proto: http\r\n");
	if (route->has_authority && route->authority.len)
		append_span(out, "X-Forwarded-Host: ", req, route->authority);
	buf_append_str(out, "X-Request-Id: ");
	buf_append(out, ctx->request_id, ctx->request_id_len);
	if (ctx->tunnel)
		buf_append_str(out, "\r\nConnection: Upgrade");
	return buf_append(out, "\r\n\r\n", 4);
}

int headers_response(struct buf *out, const struct http_msg *resp, const struct headers_ctx *ctx,
		     int keep_alive, int dechunk)
{
	int status = http_msg_status(resp);
	int tunnel = status == 101 && ctx->tunnel;

	if (buf_reserve(out, 256 + resp->head_end - resp->head_start) == -1)
		return -1;
	buf_append(out, "HTTP/1.1 ", 9);
	http_append_uint(out, (unsigned)status);
	buf_append(out, " ", 1);
	buf_append_str(out, http_reason(status));
	buf_append(out, "\r\n", 2);
	for (unsigned i = 0; i < resp->nheaders; i++) {
		const char *name = http_msg_ptr(resp, resp->headers[i].name);
		size_t n = resp->headers[i].name.len;

		if (hop_by_hop(resp, i, tunnel) || name_is(name, n, "x-request-id"))
			continue;
		if (dechunk && name_is(name, n, "transfer-encoding"))
			continue;
		append_header(out, resp, i);
	}
	if (ctx->sticky_insert && status >= 200) {
		buf_append_str(out, "Set-Cookie: ");
		buf_append_str(out, ctx->sticky_cookie);
		buf_append(out, "=", 1);
		buf_append_str(out, ctx->sticky_insert);
		buf_append_str(out, ctx->tls ? "; Path=/; HttpOnly; Secure\r\n" : "; Path=/; HttpOnly\r\n");
		if (http_msg_find(resp, "cache-control") < 0)
			buf_append_str(out, "Cache-Control: private\r\n");
	}
	buf_append_str(out, "X-Request-Id: ");
	buf_append(out, ctx->request_id, ctx->request_id_len);
	if (status >= 100 && status < 200 && !tunnel)
		return buf_append(out, "\r\n\r\n", 4);
	if (tunnel)
		return buf_append_str(out, "\r\nConnection: Upgrade\r\n\r\n");
	if (keep_alive)
		return buf_append_str(out, "\r\nConnection: keep-alive\r\n\r\n");
	return buf_append_str(out, "\r\nConnection: close\r\n\r\n");
}

int headers_request_id_valid(const char *s, size_t n)
{
	if (n == 0 || n > HEADERS_REQUEST_ID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == ':' || c == '-'))
			return 0;
	}
	return 1;
}

size_t headers_request_id_new(char *out)
{
	static const char hex[] = "0123456789abcdef";
	static unsigned long long state[2];
	unsigned long long a, b;

	if (!state[0] && !state[1]) {
		if (getrandom(state, sizeof(state), 0) != (ssize_t)sizeof(state) || !(state[0] | state[1]))
			state[0] = 0x9e3779b97f4a7c15ULL;
	}
	/* xorshift128+: ids must be unique, not secret */
	for (int half = 0; half < 2; half++) {
		unsigned long long v;

		a = state[0];
		b = state[1];
		state[0] = b;
		a ^= a << 23;
		state[1] = a ^ b ^ (a >> 17) ^ (b >> 26);
		v = state[1] + b;
		for (int i = 0; i < 16; i++)
			out[half * 16 + i] = hex[(v >> (i * 4)) & 15];
	}
	out[32] = '\0';
	return 32;
}
