/* http_request: what RFC 9112 section 3 asks of a request head beyond its
 * syntax (the target's form, one valid Host) and where the request goes. */
#ifndef LB_HTTP_REQUEST_H
#define LB_HTTP_REQUEST_H

#include "http_parser.h"

/* Spans into the message's buffer, like the parser's. */
struct http_route {
	struct http_span path;		/* the target to pass on: origin-form or "*" */
	struct http_span authority;	/* the Host to pass on (valid when has_authority) */
	unsigned has_authority : 1;	/* a Host field or an absolute-form target gave one */
	unsigned path_slash : 1;	/* "/" goes before path (absolute-form without a path) */
};

/*
 * Checks the head of request `m` (state >= HTTP_MSG_BODY) and fills `r`.
 * Returns 0, or the status to answer with *reason set (static text):
 * 400 for a target of the wrong form (`*` only with OPTIONS, absolute-form
 * only http/https without userinfo or fragment), a missing, repeated or
 * invalid Host (HTTP/1.1 needs exactly one, HTTP/1.0 at most one); 501 for
 * CONNECT, which lb does not tunnel (RFC 9110 9.3.6). An absolute-form
 * target's authority replaces Host (RFC 9112 3.2.2) and its path is passed
 * on in origin-form.
 */
int http_request_route(const struct http_msg *m, struct http_route *r, const char **reason);

/* 1 when [s, s + n) is a valid Host value: uri-host [":" port] (RFC 9110
 * 7.2, RFC 3986 3.2.2), a reg-name without commas, an IPv4 or a bracketed
 * IPv6 address; empty only when `allow_empty`. */
int http_authority_valid(const char *s, size_t n, int allow_empty);

#endif
