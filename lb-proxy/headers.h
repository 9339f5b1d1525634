/* headers: rewrites request heads for backends and response heads for clients. */
#ifndef LB_PROXY_HEADERS_H
#define LB_PROXY_HEADERS_H

#include <stddef.h>

#include "buf.h"
#include "http_parser.h"
#include "http_request.h"

#define HEADERS_REQUEST_ID_MAX 128

struct headers_ctx {
	const char *client_ip;
	const char *request_id;		/* kept or generated, valid */
	size_t request_id_len;
	const char *backend_name;	/* Host for requests that have none (HTTP/1.0) */
	int tunnel;			/* an Upgrade is being passed on */
	int tls;			/* the client spoke TLS: X-Forwarded-Proto https */
	const char *sticky_cookie;	/* removed from requests, inserted into responses */
	const char *sticky_insert;	/* the value to insert (response), or NULL */
};

/*
 * Appends the head to send to a backend: "METHOD PATH HTTP/1.1" and Host as
 * `route` says (http_request_route; the backend's name when the request has
 * no authority: HTTP/1.0), the end-to-end headers (hop-by-hop ones dropped:
 * Connection and what it lists, Keep-Alive, TE, Trailer, Proxy-*, Upgrade
 * unless tunnelling), X-Forwarded-For appended, X-Forwarded-Proto and
 * X-Forwarded-Host set, X-Request-Id; the sticky cookie, if any, is taken out
 * of Cookie (HAProxy's `indirect`). Content-Length and Transfer-Encoding are
 * kept: the body is forwarded as framed.
 */
int headers_request(struct buf *out, const struct http_msg *req, const struct http_route *route,
		    const struct headers_ctx *ctx);
/*
 * Appends the head to send to the client for `resp`: the status line,
 * end-to-end headers, X-Request-Id, and Connection: keep-alive or close
 * (Upgrade for a 101). With `dechunk`, Transfer-Encoding is dropped (the
 * body goes out decoded and close-delimited, for HTTP/1.0 clients). With
 * ctx->sticky_insert, `Set-Cookie: NAME=VALUE; Path=/; HttpOnly` is added
 * (`; Secure` for a TLS client),
 * and `Cache-Control: private` when the response has none (HAProxy's
 * `nocache`: a shared cache must not hand the cookie to others).
 */
int headers_response(struct buf *out, const struct http_msg *resp, const struct headers_ctx *ctx,
		     int keep_alive, int dechunk);
/* 1 when the client's X-Request-Id may be kept: 1-128 of [A-Za-z0-9._:-]. */
int headers_request_id_valid(const char *s, size_t n);
/* Writes a new random request id (32 hex digits) into out (at least 33 bytes). */
size_t headers_request_id_new(char *out);

#endif
