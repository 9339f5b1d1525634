/* headers: rewrites request heads for backends and response heads for clients. */
#ifndef LB_PROXY_HEADERS_H
#define LB_PROXY_HEADERS_H

#include <stddef.h>

#include "buf.h"
#include "cors.h"
#include "http_parser.h"
#include "http_request.h"
#include "route.h"

#define HEADERS_REQUEST_ID_MAX 128

/* Header rules (--set-request-header, --set-response-header,
 * --remove-response-header): parsed at start-up and on reload, applied to every head
 * without allocating. */
#define HEADERS_RULES_MAX 32		/* rules of one kind */
#define HEADERS_RULE_NAME_MAX 64	/* bytes of a field name */
#define HEADERS_RULE_VALUE_MAX 1024	/* bytes of a field value */

enum headers_rule_kind {
	HEADERS_SET_REQUEST = 0,	/* the request to a backend carries exactly this field */
	HEADERS_SET_RESPONSE,		/* every response to a client carries exactly this field */
	HEADERS_REMOVE_RESPONSE,	/* no response to a client carries this field */
	HEADERS_RULE_KINDS,
};

struct headers_rule {
	const char *name;		/* a token, not NUL-terminated here */
	size_t name_len;
	const char *value;		/* trimmed; none for a removal */
	size_t value_len;
};

struct headers_rules {
	struct headers_rule rules[HEADERS_RULE_KINDS][HEADERS_RULES_MAX];
	unsigned n[HEADERS_RULE_KINDS];
};

/*
 * Adds one rule of `kind` from `spec`: "Name: value" for a set, "Name" for a
 * removal. The name is an RFC 9110 token (at most HEADERS_RULE_NAME_MAX
 * bytes) and not a field the proxy owns for framing or the connection
 * (Content-Length, Transfer-Encoding, Host, Connection, Keep-Alive, TE,
 * Trailer, Upgrade, Date, Proxy-*); the value has no CR, LF, NUL or other control
 * byte but tab, at most HEADERS_RULE_VALUE_MAX bytes after trimming its
 * spaces. A name both set and removed on responses is refused. `spec` is not
 * copied: it must outlive the rules. Returns 0, or -1 with the reason in err.
 */
int headers_rules_add(struct headers_rules *r, enum headers_rule_kind kind, const char *spec,
		      char *err, size_t errsz);
/* 1 when a rule of `kind` names the field [name, name + n) (case-insensitive). */
int headers_rules_names(const struct headers_rules *r, enum headers_rule_kind kind,
			const char *name, size_t n);
/* Appends "Name: value\r\n" for every set rule of `kind`; returns 0 or -1. */
int headers_rules_append(struct buf *out, const struct headers_rules *r,
			 enum headers_rule_kind kind);

struct headers_ctx {
	const char *client_ip;
	const char *request_id;		/* kept or generated, valid */
	size_t request_id_len;
	const char *backend_name;	/* Host for requests that have none (HTTP/1.0) */
	int tunnel;			/* an Upgrade is being passed on */
	int tls;			/* the client spoke TLS: X-Forwarded-Proto https */
	const char *sticky_cookie;	/* removed from requests, inserted into responses */
	const char *sticky_insert;	/* the value to insert (response), or NULL */
	const struct headers_rules *rules;	/* the header rules, or NULL */
	const char *answer_fields;	/* headers_answer(): more field lines, "Name: v\r\n"..., or NULL */
	/* a route's filters (Gateway API): RequestHeaderModifier for
	 * headers_request, ResponseHeaderModifier for headers_response, or
	 * NULL; the names the proxy owns (framing, Host, the connection) are
	 * never touched */
	const struct route_header_modifier *modify;
	/* URLRewrite: the target (path and query) and the Host to send, or NULL */
	const char *rewrite_target;
	size_t rewrite_target_len;
	const char *rewrite_host;
	const struct cors_policy *cors;	/* the CORS policy of final responses, or NULL */
	const struct cors_request *cors_req;	/* the request as it classified it, or NULL */
	const char *trace_fields;	/* headers_request(): traceparent and tracestate lines */
	size_t trace_fields_len;
};

/*
 * Appends the head to send to a backend: "METHOD PATH HTTP/1.1" and Host as
 * `route` says (http_request_route; the backend's name when the request has
 * no authority: HTTP/1.0), the end-to-end headers (hop-by-hop ones dropped:
 * Connection and what it lists, Keep-Alive, TE, Trailer, Proxy-*, Upgrade
 * unless tunnelling), X-Forwarded-For appended, X-Forwarded-Proto and
 * X-Forwarded-Host set, X-Request-Id; the sticky cookie, if any, is taken out
 * of Cookie (HAProxy's `indirect`). Content-Length and Transfer-Encoding are
 * kept: the body is forwarded as framed. Every field named by a
 * HEADERS_SET_REQUEST rule (the client's, or one the proxy adds) is replaced
 * by the rules' fields. The client's traceparent and tracestate never go
 * on as they came: ctx->trace_fields (trace_fields_len bytes, "Name:
 * value\r\n" lines) are the last fields of the head, right before its
 * final CRLF (trace.c rewrites the span id there on a retry).
 */
int headers_request(struct buf *out, const struct http_msg *req, const struct http_route *route,
		    const struct headers_ctx *ctx);
/* The reason phrase of a response's status line ([*len] bytes into its
 * buffer), or NULL when it has none or holds a byte RFC 9112 does not
 * allow there (the caller writes the standard phrase). */
const char *headers_reason_phrase(const struct http_msg *resp, size_t *len);

/*
 * Appends the head to send to the client for `resp`: the status line,
 * end-to-end headers, X-Request-Id, and Connection: keep-alive or close
 * (Upgrade for a 101). With `dechunk`, Transfer-Encoding is dropped (the
 * body goes out decoded and close-delimited, for HTTP/1.0 clients). With
 * ctx->sticky_insert, `Set-Cookie: NAME=VALUE; Path=/; HttpOnly` is added
 * (`; Secure` for a TLS client),
 * and `Cache-Control: private` when the response has none (HAProxy's
 * `nocache`: a shared cache must not hand the cookie to others). A final
 * response (not 1xx) loses every field named by a response rule (the
 * backend's and X-Request-Id; not the sticky Set-Cookie) and gets the
 * HEADERS_SET_RESPONSE fields; with a CORS policy on, it loses the
 * backend's Access-Control-Allow-*, -Expose-Headers and -Max-Age and gets
 * the policy's (cors_append_response).
 */
int headers_response(struct buf *out, const struct http_msg *resp, const struct headers_ctx *ctx,
		     int keep_alive, int dechunk);
/*
 * Appends the head of one of the proxy's own answers (an error, the
 * monitor): status line, Date, X-Request-Id (ctx->request_id, when set),
 * Content-Type (unless NULL), Content-Length and Connection, shaped by the
 * response rules as a backend's response is (HAProxy's http-after-response:
 * CORS and security headers reach error answers too), and the CORS
 * policy's fields (ctx->cors). Returns 0 or -1.
 */
int headers_answer(struct buf *out, int status, const char *content_type, size_t content_length,
		   int keep_alive, const struct headers_ctx *ctx);
/* 1 when the client's X-Request-Id may be kept: 1-128 of [A-Za-z0-9._:-]. */
int headers_request_id_valid(const char *s, size_t n);
/* Writes a new random request id (32 hex digits) into out (at least 33 bytes). */
size_t headers_request_id_new(char *out);

#endif
