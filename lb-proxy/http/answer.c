/* answer: the proxy's own answers (see answer.h). */
#include "answer.h"

#include <stdio.h>

#include "forward.h"
#include "grpc_call.h"
#include "http_response.h"
#include "net/transport_tls.h"
#include "policy/cors.h"
#include "routes.h"

/* A client told to come back: one second (HAProxy and Envoy send no
 * computed value either; a client with its own backoff keeps it). */
#define OVERLOADED_RETRY_AFTER "1"

/* An answer of the proxy's own: `fields` are more field lines (or NULL);
 * with `own_cors` they hold the CORS fields already (a preflight's). */
static void answer_with(struct session *s, int status, const char *content_type,
			const char *body, size_t n, int keep, const char *fields, int own_cors)
{
	struct headers_ctx ctx;

	keep = keep && s->keep_alive && s->req_done && !s->px->stopping;
	forward_drop(s);
	ctx = session_headers_ctx(s);
	ctx.answer_fields = fields;
	if (own_cors)
		ctx.cors = NULL;
	buf_reset(&s->out);
	headers_answer(&s->out, status, content_type, n, keep, &ctx);
	s->x->bytes_out = 0;
	if (s->method != HTTP_HEAD) {
		buf_append(&s->out, body, n);
		s->x->bytes_out = n;
	}
	s->status = status;
	s->keep_alive = keep;
	/* The rest of an unread body would be taken for the next request. */
	s->x->uparse_off = s->x->usend_off = 0;
	s->resp_done = 1;
	s->req_done = 1;
	s->send_off = s->parse_off;
	s->state = SESSION_EXCHANGE;
	s->again = 1;
}

void answer_json(struct session *s, int status, const char *body, size_t n, int keep,
		 const char *fields)
{
	answer_with(s, status, "application/json", body, n, keep, fields, 0);
}

void answer_preflight(struct session *s)
{
	static struct buf fields;	/* copied into `out` at once; kept for the next one */

	buf_reset(&fields);
	if (cors_append_preflight(&fields, &s->px->cors, &s->x->cors, &s->x->req) == -1 ||
	    buf_append(&fields, "", 1) == -1) {
		answer_error(s, 500, "out of memory");
		return;
	}
	s->req_done = s->x->req.state == HTTP_MSG_DONE;
	/* 200 with no body, as Envoy's CORS filter answers (a 204 could carry
	 * no Content-Length, and the answer's framing is the proxy's one way) */
	answer_with(s, 200, NULL, "", 0, 1, fields.data, 1);
}

void answer_admin_path(struct session *s, size_t skip)
{
	static struct buf body = BUF_INIT;	/* copied into `out` at once */
	const struct http_msg *req = &s->x->req;
	const char *target = http_msg_ptr(req, s->x->route.path) + skip, *ctype = NULL;
	char hdr[96] = "";
	int status;

	s->req_done = req->state == HTTP_MSG_DONE;
	/* no request body is read here, whenever it comes: the writes that
	 * take one (add, weight) go to the admin listener */
	if (http_msg_has_body(req)) {
		answer_error(s, 400, "a request with a body is answered on the admin listener "
				     "(--admin), not under --admin-path");
		s->keep_alive = 0;
		return;
	}
	buf_reset(&body);
	status = s->px->admin_path_answer(s->px, req, target, s->x->route.path.len - skip, NULL, 0,
					  &body, &ctype, hdr, sizeof(hdr));
	answer_with(s, status, ctype, body.data, body.len, 1, hdr[0] ? hdr : NULL, 0);
}

/*
 * The answer to a gRPC request in place of the HTTP error `status`: 200,
 * application/grpc and no body, grpc-status and grpc-message in the head
 * (PROTOCOL-HTTP2.md's Trailers-Only: over HTTP/2 one HEADERS frame that
 * ends the stream). s->status keeps the HTTP status it stands for: the
 * access log, the metrics and the outcome hook count it as that.
 */
static void answer_grpc(struct session *s, int status, int overloaded, const char *message,
			const char *fields, int keep)
{
	char lines[GRPC_CALL_FIELDS_MAX];

	grpc_call_answer_fields(status, overloaded, message, fields, lines, sizeof(lines));
	answer_with(s, 200, "application/grpc", "", 0, keep, lines, 0);
	s->status = status;
}

/* The JSON error body of `status` into body (at least 384 bytes). */
static size_t error_body(const struct session *s, char *body, size_t size, int status,
			 const char *message)
{
	int n = snprintf(body, size, "{\"error\":\"%s\",\"status\":%d,\"requestId\":\"%.*s\"}",
			 message, status, s->x ? (int)s->x->request_id_len : 0,
			 s->x ? s->x->request_id : "");

	return n < 0 ? 0 : (size_t)n >= size ? size - 1 : (size_t)n;
}

void answer_error(struct session *s, int status, const char *message)
{
	char body[384];
	size_t n;
	/* A request the proxy refused leaves the connection's framing in doubt. */
	int keep = !(status == 400 || status == 408 || status == 431 || status == 413 ||
		     status == 501 || status == 505);

	if (grpc_call_is_grpc(s)) {
		answer_grpc(s, status, 0, message, NULL, keep);
		return;
	}
	n = error_body(s, body, sizeof(body), status, message);
	answer_json(s, status, body, n, keep, NULL);
}

void answer_overloaded(struct session *s)
{
	char body[384];
	size_t n;

	if (grpc_call_is_grpc(s)) {
		answer_grpc(s, 503, 1, "overloaded", NULL, 1);
		return;
	}
	n = error_body(s, body, sizeof(body), 503, "overloaded");
	answer_json(s, 503, body, n, 1, "Retry-After: " OVERLOADED_RETRY_AFTER "\r\n");
}

void answer_refuse(struct session *s, int status, const char *reason)
{
	const char *message = "bad request";

	if (status == 431)
		message = "request header fields too large";
	else if (status == 413)
		message = "request body too large";
	else if (status == 501)
		message = "not implemented";
	else if (status == 505)
		message = "HTTP version not supported";
	s->x->refusal = reason;
	s->keep_alive = 0;
	answer_error(s, status, message);
}

void answer_monitor(struct session *s)
{
	char body[ROUTES_BODY_MAX];
	size_t n;
	int status = routes_monitor_answer(s->px, body, &n);

	s->req_done = s->x->req.state == HTTP_MSG_DONE;
	answer_json(s, status, body, n, 1, NULL);
}

void answer_redirect(struct session *s)
{
	static char location[ROUTES_LOCATION_MAX];	/* copied into `out` at once */
	static const char body[] = "{\"status\":308,\"redirect\":\"https\"}";

	if (routes_redirect_location(location, sizeof(location), &s->x->req, &s->x->route,
				     s->px->tls_port) == -1) {
		answer_refuse(s, s->x->route.has_authority ? 414 : 400,
			      s->x->route.has_authority ? "target too long to redirect"
							: "no Host to redirect to");
		return;
	}
	s->req_done = s->x->req.state == HTTP_MSG_DONE;
	answer_json(s, 308, body, sizeof(body) - 1, 1, location);
}

void answer_rate_limited(struct session *s, const struct ratelimit_verdict *v)
{
	char headers[192], body[384];
	size_t n;

	snprintf(headers, sizeof(headers),
		 "Retry-After: %lu\r\nRateLimit-Limit: %lu\r\nRateLimit-Remaining: %lu\r\n"
		 "RateLimit-Reset: %lu\r\n", v->retry_after, v->limit, v->remaining, v->reset);
	if (grpc_call_is_grpc(s)) {
		answer_grpc(s, 429, 0, "rate limited", headers, 1);
		return;
	}
	n = error_body(s, body, sizeof(body), 429, "rate limited");
	answer_json(s, 429, body, n, 1, headers);
}

int answer_plain_http(struct session *s)
{
	static const char answer[] = "HTTP/1.1 400 Bad Request\r\n"
				     "Content-Type: text/plain\r\n"
				     "Content-Length: 41\r\n"
				     "Connection: close\r\n\r\n"
				     "this port speaks TLS: use https:// here\r\n";

	transport_tls_to_plain(&s->tr);
	buf_reset(&s->out);
	if (buf_append(&s->out, answer, sizeof(answer) - 1) == -1)
		return -1;
	s->linger = 1;
	s->state = SESSION_CLOSING;
	session_set_timer(s, s->px->opts->idle_timeout);
	return 0;
}
