/* headers: rewrites request heads for backends and response heads for clients. */
#include "headers.h"

#include <stdio.h>
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
	/* the common Connection (close, keep-alive) names no other field */
	if (!m->conn_other)
		return m->conn_close && name_is(name, n, "close");
	return http_msg_lists(m, "connection", name, n);
}

/* ---- header rules -------------------------------------------------------------- */

static const char *const kind_flag[HEADERS_RULE_KINDS] = {
	"--set-request-header", "--set-response-header", "--remove-response-header",
};

/* Fields the proxy owns: the message's framing, the connection, the target. */
static int rule_forbidden(const char *name, size_t n)
{
	static const char *const owned[] = {
		"content-length", "transfer-encoding", "host", "connection", "keep-alive", "te",
		"trailer", "upgrade", "date",
	};

	for (size_t i = 0; i < sizeof(owned) / sizeof(owned[0]); i++)
		if (name_is(name, n, owned[i]))
			return 1;
	return n >= 6 && strncasecmp(name, "proxy-", 6) == 0;
}

int headers_rules_names(const struct headers_rules *r, enum headers_rule_kind kind,
			const char *name, size_t n)
{
	if (!r)
		return 0;
	for (unsigned i = 0; i < r->n[kind]; i++) {
		const struct headers_rule *rule = &r->rules[kind][i];

		if (rule->name_len == n && strncasecmp(rule->name, name, n) == 0)
			return 1;
	}
	return 0;
}

int headers_rules_add(struct headers_rules *r, enum headers_rule_kind kind, const char *spec,
		      char *err, size_t errsz)
{
	const char *flag = kind_flag[kind], *colon = strchr(spec, ':'), *v, *end;
	size_t n = colon ? (size_t)(colon - spec) : strlen(spec);
	struct headers_rule *rule;

	if (r->n[kind] >= HEADERS_RULES_MAX) {
		snprintf(err, errsz, "%s: at most %d", flag, HEADERS_RULES_MAX);
		return -1;
	}
	if (kind == HEADERS_REMOVE_RESPONSE && colon) {
		snprintf(err, errsz, "%s \"%s\": give a field name only, e.g. 'Server'", flag, spec);
		return -1;
	}
	if (kind != HEADERS_REMOVE_RESPONSE && !colon) {
		snprintf(err, errsz, "%s \"%s\": must be 'Name: value', e.g. "
			 "'X-Frame-Options: DENY'", flag, spec);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (!http_is_tchar((unsigned char)spec[i])) {
			snprintf(err, errsz, "%s \"%s\": the field name must be a token (letters, "
				 "digits, !#$%%&'*+-.^_`|~; no space before the colon)", flag, spec);
			return -1;
		}
	}
	if (n == 0 || n > HEADERS_RULE_NAME_MAX) {
		snprintf(err, errsz, "%s \"%s\": the field name must be 1 to %d bytes", flag, spec,
			 HEADERS_RULE_NAME_MAX);
		return -1;
	}
	if (rule_forbidden(spec, n)) {
		snprintf(err, errsz, "%s \"%s\": %.*s is the proxy's own (framing and connection "
			 "fields, Host, Date, Proxy-*: no rule may change them)", flag, spec, (int)n, spec);
		return -1;
	}
	if ((kind == HEADERS_SET_RESPONSE &&
	     headers_rules_names(r, HEADERS_REMOVE_RESPONSE, spec, n)) ||
	    (kind == HEADERS_REMOVE_RESPONSE &&
	     headers_rules_names(r, HEADERS_SET_RESPONSE, spec, n))) {
		snprintf(err, errsz, "%s \"%s\": %.*s is both set and removed on responses", flag,
			 spec, (int)n, spec);
		return -1;
	}
	v = colon ? colon + 1 : spec + n;
	end = v + strlen(v);
	for (const char *p = v; p < end; p++) {
		unsigned char c = (unsigned char)*p;

		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			snprintf(err, errsz, "%s: the value of %.*s must not hold CR, LF or other control "
				 "bytes (RFC 9110 5.5)", flag, (int)n, spec);
			return -1;
		}
	}
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if ((size_t)(end - v) > HEADERS_RULE_VALUE_MAX) {
		snprintf(err, errsz, "%s: the value of %.*s is longer than %d bytes", flag, (int)n, spec,
			 HEADERS_RULE_VALUE_MAX);
		return -1;
	}
	rule = &r->rules[kind][r->n[kind]++];
	rule->name = spec;
	rule->name_len = n;
	rule->value = v;
	rule->value_len = (size_t)(end - v);
	return 0;
}

int headers_rules_append(struct buf *out, const struct headers_rules *r,
			 enum headers_rule_kind kind)
{
	int rc = 0;

	if (!r || kind == HEADERS_REMOVE_RESPONSE)
		return 0;
	for (unsigned i = 0; i < r->n[kind]; i++) {
		const struct headers_rule *rule = &r->rules[kind][i];

		buf_append(out, rule->name, rule->name_len);
		buf_append(out, ": ", 2);
		buf_append(out, rule->value, rule->value_len);
		rc = buf_append(out, "\r\n", 2);
	}
	return rc;
}

/* 1 when a route's header modifier sets or removes the field: the
 * message's own is not passed on. */
static int modifier_drops(const struct route_header_modifier *m, const char *name, size_t n)
{
	if (!m)
		return 0;
	for (unsigned i = 0; i < m->n_set; i++)
		if (name_is(name, n, m->set[i].name))
			return 1;
	for (unsigned i = 0; i < m->n_remove; i++)
		if (name_is(name, n, m->remove[i]))
			return 1;
	return 0;
}

/* Appends a route modifier's set and add fields (the Gateway API's add
 * appends a field line beside the message's own, as Envoy does). */
static void modifier_append(struct buf *out, const struct route_header_modifier *m)
{
	for (unsigned k = 0; m && k < 2; k++) {
		const struct route_header *h = k ? m->add : m->set;
		unsigned n = k ? m->n_add : m->n_set;

		for (unsigned i = 0; i < n; i++) {
			if (rule_forbidden(h[i].name, strlen(h[i].name)))
				continue;
			buf_append_str(out, h[i].name);
			buf_append(out, ": ", 2);
			buf_append_str(out, h[i].value);
			buf_append(out, "\r\n", 2);
		}
	}
}

/* 1 when a response rule names the field: it is replaced or dropped. */
static int response_ruled(const struct headers_rules *r, const char *name, size_t n)
{
	return r && (headers_rules_names(r, HEADERS_SET_RESPONSE, name, n) ||
		     headers_rules_names(r, HEADERS_REMOVE_RESPONSE, name, n));
}

/* ---- rewriting heads ------------------------------------------------------------ */

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
	if (ctx->rewrite_target) {
		buf_append(out, " ", 1);
		buf_append(out, ctx->rewrite_target, ctx->rewrite_target_len);
	} else {
		buf_append(out, route->path_slash ? " /" : " ", route->path_slash ? 2 : 1);
		buf_append(out, http_msg_ptr(req, route->path), route->path.len);
	}
	buf_append(out, " HTTP/1.1\r\n", 11);
	if (ctx->rewrite_host) {
		buf_append_str(out, "Host: ");
		buf_append_str(out, ctx->rewrite_host);
		buf_append(out, "\r\n", 2);
	} else if (route->has_authority) {
		append_span(out, "Host: ", req, route->authority);
	} else {
		buf_append_str(out, "Host: ");
		buf_append_str(out, ctx->backend_name);
		buf_append(out, "\r\n", 2);
	}
	for (unsigned i = 0; i < req->nheaders; i++) {
		const char *name = http_msg_ptr(req, req->headers[i].name);
		size_t n = req->headers[i].name.len;

		if (hop_by_hop(req, i, ctx->tunnel) ||
		    headers_rules_names(ctx->rules, HEADERS_SET_REQUEST, name, n) ||
		    (modifier_drops(ctx->modify, name, n) && !rule_forbidden(name, n)))
			continue;
		if (name_is(name, n, "x-forwarded-for")) {
			xff = (int)i;	/* re-added below with the client appended */
			continue;
		}
		if (name_is(name, n, "x-forwarded-proto") || name_is(name, n, "x-forwarded-host") ||
		    name_is(name, n, "x-request-id") || name_is(name, n, "host") ||
		    name_is(name, n, "traceparent") || name_is(name, n, "tracestate"))
			continue;
		if (ctx->sticky_cookie && name_is(name, n, "cookie")) {
			append_cookie_without(out, req, i, ctx->sticky_cookie);
			continue;
		}
		append_header(out, req, i);
	}
	/* The fields the proxy adds, unless a rule sets them. */
#define RULED(lit) headers_rules_names(ctx->rules, HEADERS_SET_REQUEST, lit, sizeof(lit) - 1)
	if (!RULED("x-forwarded-for")) {
		buf_append_str(out, "X-Forwarded-For: ");
		if (xff >= 0) {
			buf_append(out, http_msg_ptr(req, req->headers[xff].value),
				   req->headers[xff].value.len);
			buf_append(out, ", ", 2);
		}
		buf_append_str(out, ctx->client_ip);
		buf_append(out, "\r\n", 2);
	}
	if (!RULED("x-forwarded-proto"))
		buf_append_str(out, ctx->tls ? "X-Forwarded-Proto: https\r\n"
					     : "X-Forwarded-Proto: http\r\n");
	if (route->has_authority && route->authority.len && !RULED("x-forwarded-host"))
		append_span(out, "X-Forwarded-Host: ", req, route->authority);
	if (!RULED("x-request-id")) {
		buf_append_str(out, "X-Request-Id: ");
		buf_append(out, ctx->request_id, ctx->request_id_len);
		buf_append(out, "\r\n", 2);
	}
#undef RULED
	modifier_append(out, ctx->modify);
	headers_rules_append(out, ctx->rules, HEADERS_SET_REQUEST);
	if (ctx->tunnel)
		buf_append_str(out, "Connection: Upgrade\r\n");
	if (ctx->trace_fields_len)
		buf_append(out, ctx->trace_fields, ctx->trace_fields_len);
	return buf_append(out, "\r\n", 2);
}

/* Appends Cache-Control header i of m without the directives that let a
 * shared cache store the response (public, s-maxage): the response carries
 * a cookie for one client. max-age and the others stay for the client's own
 * cache. Nothing when no directive is left. Returns 1 when the header keeps
 * shared caches out already (private or no-store), else 0. */
static int append_cache_control_private(struct buf *out, const struct http_msg *m, unsigned i)
{
	const char *p = http_msg_ptr(m, m->headers[i].value);
	const char *end = p + m->headers[i].value.len, *tok;
	size_t tlen, kept = 0;
	int private = 0;

	while (http_list_next(&p, end, &tok, &tlen)) {
		size_t name = 0;

		while (name < tlen && tok[name] != '=' && tok[name] != ' ' && tok[name] != '\t')
			name++;
		if (name_is(tok, name, "public") || name_is(tok, name, "s-maxage"))
			continue;
		if (name_is(tok, name, "private") || name_is(tok, name, "no-store"))
			private = 1;
		buf_append_str(out, kept++ ? ", " : "Cache-Control: ");
		buf_append(out, tok, tlen);
	}
	if (kept)
		buf_append(out, "\r\n", 2);
	return private;
}

const char *headers_reason_phrase(const struct http_msg *resp, size_t *len)
{
	/* The status line as llhttp accepted it: "HTTP/1.x NNN phrase\r\n". */
	const char *line = resp->base + resp->head_start;
	const char *eol = memchr(line, '\n', resp->head_end - resp->head_start);
	size_t n;

	if (!eol)
		return NULL;
	n = (size_t)(eol - line);
	if (n && line[n - 1] == '\r')
		n--;
	if (n < 13 || line[12] != ' ')
		return NULL;
	for (size_t i = 13; i < n; i++) {
		unsigned char c = (unsigned char)line[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return NULL;	/* RFC 9112 4: HTAB, SP, VCHAR, obs-text only */
	}
	*len = n - 13;
	return n > 13 ? line + 13 : NULL;
}

int headers_response(struct buf *out, const struct http_msg *resp, const struct headers_ctx *ctx,
		     int keep_alive, int dechunk)
{
	int status = http_msg_status(resp);
	int tunnel = status == 101 && ctx->tunnel;
	/* Rules shape final responses only: a 1xx is the protocol's (Continue,
	 * the 101 handshake). */
	const struct headers_rules *rules = status >= 200 ? ctx->rules : NULL;
	const struct cors_policy *cors = status >= 200 && !tunnel && ctx->cors && ctx->cors->on
						 ? ctx->cors : NULL;
	const int sticky = ctx->sticky_insert && status >= 200;
	/* with a cookie inserted: whether a Cache-Control already keeps the
	 * response from shared caches (private, no-store) */
	int kept_private = 0;
	const char *phrase;
	size_t phrase_len;

	if (buf_reserve(out, 256 + resp->head_end - resp->head_start) == -1)
		return -1;
	buf_append(out, "HTTP/1.1 ", 9);
	http_append_uint(out, (unsigned)status);
	buf_append(out, " ", 1);
	/* the backend's own phrase, as nginx and HAProxy relay it */
	phrase = headers_reason_phrase(resp, &phrase_len);
	if (phrase)
		buf_append(out, phrase, phrase_len);
	else
		buf_append_str(out, http_reason(status));
	buf_append(out, "\r\n", 2);
	for (unsigned i = 0; i < resp->nheaders; i++) {
		const char *name = http_msg_ptr(resp, resp->headers[i].name);
		size_t n = resp->headers[i].name.len;

		if (hop_by_hop(resp, i, tunnel) || name_is(name, n, "x-request-id") ||
		    response_ruled(rules, name, n) || (cors && cors_owns_field(name, n)) ||
		    (status >= 200 && modifier_drops(ctx->modify, name, n) &&
		     !rule_forbidden(name, n)))
			continue;
		if (dechunk && name_is(name, n, "transfer-encoding"))
			continue;
		if (sticky && name_is(name, n, "cache-control")) {
			kept_private |= append_cache_control_private(out, resp, i);
			continue;
		}
		append_header(out, resp, i);
	}
	if (sticky) {
		/* HAProxy's `insert nocache`: a response that carries one client's
		 * cookie is never stored by a shared cache (an operator's own
		 * Cache-Control rule stands as written) */
		int ruled = headers_rules_names(rules, HEADERS_SET_RESPONSE, "cache-control", 13);

		buf_append_str(out, "Set-Cookie: ");
		buf_append_str(out, ctx->sticky_cookie);
		buf_append(out, "=", 1);
		buf_append_str(out, ctx->sticky_insert);
		buf_append_str(out, ctx->tls ? "; Path=/; HttpOnly; Secure\r\n" : "; Path=/; HttpOnly\r\n");
		if (!ruled && !kept_private)
			buf_append_str(out, "Cache-Control: private\r\n");
	}
	if (!response_ruled(rules, "x-request-id", 12)) {
		buf_append_str(out, "X-Request-Id: ");
		buf_append(out, ctx->request_id, ctx->request_id_len);
		buf_append(out, "\r\n", 2);
	}
	if (status >= 200)
		modifier_append(out, ctx->modify);
	headers_rules_append(out, rules, HEADERS_SET_RESPONSE);
	if (cors && cors_append_response(out, cors, ctx->cors_req) == -1)
		return -1;
	if (status >= 100 && status < 200 && !tunnel)
		return buf_append(out, "\r\n", 2);
	if (tunnel)
		return buf_append_str(out, "Connection: Upgrade\r\n\r\n");
	if (keep_alive)
		return buf_append_str(out, "Connection: keep-alive\r\n\r\n");
	return buf_append_str(out, "Connection: close\r\n\r\n");
}

int headers_answer(struct buf *out, int status, const char *content_type, size_t content_length,
		   int keep_alive, const struct headers_ctx *ctx)
{
	const struct headers_rules *rules = ctx->rules;

	if (http_response_begin(out, status) == -1)
		return -1;
	if (ctx->request_id_len && !response_ruled(rules, "x-request-id", 12))
		http_response_header(out, "X-Request-Id", ctx->request_id, ctx->request_id_len);
	if (response_ruled(rules, "content-type", 12))
		content_type = NULL;
	if (ctx->answer_fields)
		buf_append(out, ctx->answer_fields, strlen(ctx->answer_fields));
	if (cors_append_response(out, ctx->cors, ctx->cors_req) == -1)
		return -1;
	headers_rules_append(out, rules, HEADERS_SET_RESPONSE);
	return http_response_end(out, content_type, content_length, keep_alive);
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
