/* echo_routes: lb-echo's answers (identity, JSON echo, health, faults). */
#include "echo_routes.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_response.h"
#include "timefmt.h"

/* Answer documents are built here, reused: no malloc per request. */
static struct buf doc = BUF_INIT;

enum route {
	ROUTE_ORDINARY = 0,	/* identity or echo; faults apply */
	ROUTE_HEALTH,		/* /health */
	ROUTE_READY,		/* /ready */
	ROUTE_FAULT,		/* /fault */
	ROUTE_BYTES,		/* /bytes/N: N bytes of payload, for download tests */
};

static void target_split(const struct echo_conn *c, const char **path, size_t *plen,
			 const char **query, size_t *qlen)
{
	const char *url = http_msg_ptr(&c->msg, c->msg.url);
	const char *q = memchr(url, '?', c->msg.url.len);

	*path = url;
	*plen = q ? (size_t)(q - url) : c->msg.url.len;
	*query = q ? q + 1 : NULL;
	*qlen = q ? c->msg.url.len - *plen - 1 : 0;
}

static enum route route_of(const struct echo_conn *c)
{
	const char *path, *query;
	size_t plen, qlen;

	target_split(c, &path, &plen, &query, &qlen);
	if (plen == 7 && memcmp(path, "/health", 7) == 0)
		return ROUTE_HEALTH;
	if (plen == 6 && memcmp(path, "/ready", 6) == 0)
		return ROUTE_READY;
	if (plen == 6 && memcmp(path, "/fault", 6) == 0)
		return ROUTE_FAULT;
	if (plen > 7 && memcmp(path, "/bytes/", 7) == 0)
		return ROUTE_BYTES;
	return ROUTE_ORDINARY;
}

long echo_routes_delay(struct echo_conn *c)
{
	enum route r = route_of(c);

	return (r == ROUTE_ORDINARY || r == ROUTE_BYTES) ? c->srv->fault.delay_ms : 0;
}

/* Headers every answer carries: who served it and the request id. */
static void common_headers(struct echo_conn *c)
{
	const struct echo_identity *id = &c->srv->id;
	int rid = http_msg_find(&c->msg, "x-request-id");

	http_response_header(&c->out, "X-Served-By", id->pod_name, strlen(id->pod_name));
	if (rid >= 0)
		http_response_header(&c->out, "X-Request-Id",
				     http_msg_ptr(&c->msg, c->msg.headers[rid].value),
				     c->msg.headers[rid].value.len);
}

/* Appends a response whose body is in `body` (NULL: the caller queues its
 * len bytes); HEAD gets the head only. */
static void respond(struct echo_conn *c, int status, const char *ctype, const char *body,
		    size_t len, int keep_alive)
{
	c->status = status;
	http_response_begin(&c->out, status);
	common_headers(c);
	http_response_end(&c->out, ctype, len, keep_alive);
	if (body && http_msg_method(&c->msg) != HTTP_HEAD)
		buf_append(&c->out, body, len);
}

static void respond_doc(struct echo_conn *c, int status, int keep_alive)
{
	respond(c, status, "application/json", doc.data, doc.len, keep_alive);
}

static void append_json_string_or_null(struct buf *b, const char *escaped)
{
	if (!escaped) {
		buf_append(b, "null", 4);
		return;
	}
	buf_append(b, "\"", 1);
	buf_append_str(b, escaped);
	buf_append(b, "\"", 1);
}

/* The identity document for ordinary requests without a body to echo. */
static void identity(struct echo_conn *c, int keep_alive)
{
	const struct echo_identity *id = &c->srv->id;
	const char *path, *query, *method = llhttp_method_name(http_msg_method(&c->msg));
	size_t plen, qlen, tlen;
	const char *ts = timefmt_iso_s(&tlen);
	int rid = http_msg_find(&c->msg, "x-request-id");

	target_split(c, &path, &plen, &query, &qlen);
	buf_reset(&doc);
	buf_append_str(&doc, "{\"podName\":\"");
	buf_append_str(&doc, id->pod_name);
	buf_append_str(&doc, "\",\"podIP\":\"");
	buf_append_str(&doc, id->pod_ip ? id->pod_ip : c->local_ip);
	buf_append_str(&doc, "\",\"serviceName\":\"");
	buf_append_str(&doc, id->service);
	buf_append_str(&doc, "\",\"namespace\":");
	append_json_string_or_null(&doc, id->namespace);
	buf_append_str(&doc, ",\"timestamp\":\"");
	buf_append(&doc, ts, tlen);
	buf_append_str(&doc, "\",\"method\":\"");
	buf_append_str(&doc, method);
	buf_append_str(&doc, "\",\"path\":\"");
	buf_append_json_escaped(&doc, path, plen);
	if (query) {
		buf_append_str(&doc, "\",\"query\":\"");
		buf_append_json_escaped(&doc, query, qlen);
	}
	buf_append_str(&doc, "\",\"requestId\":");
	if (rid >= 0) {
		buf_append(&doc, "\"", 1);
		buf_append_json_escaped(&doc, http_msg_ptr(&c->msg, c->msg.headers[rid].value),
					c->msg.headers[rid].value.len);
		buf_append(&doc, "\"", 1);
	} else {
		buf_append(&doc, "null", 4);
	}
	buf_append(&doc, "}", 1);
	respond_doc(c, 200, keep_alive);
}

/* JSON media types: application/json and any type ending in +json; none counts as JSON. */
static int content_is_json(const struct echo_conn *c, const char **ctype, size_t *clen)
{
	int i = http_msg_find(&c->msg, "content-type");
	const char *v, *semi;
	size_t n;

	*ctype = NULL;
	*clen = 0;
	if (i < 0)
		return 1;
	v = http_msg_ptr(&c->msg, c->msg.headers[i].value);
	n = c->msg.headers[i].value.len;
	*ctype = v;
	*clen = n;
	semi = memchr(v, ';', n);
	if (semi)
		n = (size_t)(semi - v);
	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	return (n == 16 && strncasecmp(v, "application/json", 16) == 0) ||
	       (n > 5 && strncasecmp(v + n - 5, "+json", 5) == 0);
}

static void echo_body(struct echo_conn *c, int keep_alive)
{
	const char *ctype;
	size_t clen;
	json_error_t jerr;
	json_t *value;
	char type[256];

	if (!content_is_json(c, &ctype, &clen)) {
		snprintf(type, sizeof(type), "%.*s", (int)clen, ctype);
		respond(c, 200, type, c->body.data, c->body.len, keep_alive);
		return;
	}
	value = json_loadb(c->body.data ? c->body.data : "", c->body.len,
			   JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	if (!value) {
		buf_reset(&doc);
		buf_appendf(&doc, "{\"error\":\"invalid JSON\",\"line\":%d,\"column\":%d,\"detail\":\"",
			    jerr.line, jerr.column);
		buf_append_json_escaped(&doc, jerr.text, strlen(jerr.text));
		buf_append(&doc, "\"}", 2);
		respond_doc(c, 400, keep_alive);
		return;
	}
	json_decref(value);
	/* Valid: the very bytes sent are the same JSON value. */
	respond(c, 200, "application/json", c->body.data, c->body.len, keep_alive);
}

static void health(struct echo_conn *c, enum route r, int keep_alive)
{
	int bad = c->srv->fault.health_fail || (r == ROUTE_READY && c->srv->stopping);

	buf_reset(&doc);
	if (r == ROUTE_HEALTH)
		buf_append_str(&doc, bad ? "{\"status\":\"unhealthy\"}" : "{\"status\":\"healthy\"}");
	else
		buf_append_str(&doc, bad ? "{\"status\":\"not ready\"}" : "{\"status\":\"ready\"}");
	respond_doc(c, bad ? 503 : 200, keep_alive);
}

static void fault(struct echo_conn *c, int keep_alive)
{
	int method = http_msg_method(&c->msg), status = 200;
	char err[256];

	buf_reset(&doc);
	if (method == HTTP_POST || method == HTTP_PUT) {
		if (fault_update(&c->srv->fault, c->body.data ? c->body.data : "", c->body.len, err,
				 sizeof(err)) == -1) {
			status = 400;
			buf_append_str(&doc, "{\"error\":\"");
			buf_append_json_escaped(&doc, err, strlen(err));
			buf_append_str(&doc, "\"}");
		}
	} else if (method == HTTP_DELETE) {
		fault_clear(&c->srv->fault);
	} else if (method != HTTP_GET && method != HTTP_HEAD) {
		status = 405;
		buf_append_str(&doc, "{\"error\":\"use GET, POST or DELETE on /fault\"}");
	}
	if (status == 200)
		fault_to_json(&c->srv->fault, &doc);
	respond_doc(c, status, keep_alive);
}

/* GET /bytes/N: N bytes (at most --max-body) of the pattern, sent from
 * the server's pattern itself. */
static void bytes(struct echo_conn *c, int keep_alive)
{
	const char *path, *query;
	size_t plen, qlen, n = 0, i;

	target_split(c, &path, &plen, &query, &qlen);
	for (i = 7; i < plen && path[i] >= '0' && path[i] <= '9' && n <= (size_t)c->srv->opts->max_body; i++)
		n = n * 10 + (size_t)(path[i] - '0');
	if (i != plen || n > (size_t)c->srv->opts->max_body) {
		buf_reset(&doc);
		buf_appendf(&doc, "{\"error\":\"use /bytes/N with N from 0 to %ld (--max-body)\"}",
			    c->srv->opts->max_body);
		respond_doc(c, 400, keep_alive);
		return;
	}
	respond(c, 200, "application/octet-stream", NULL, n, keep_alive);
	if (http_msg_method(&c->msg) != HTTP_HEAD) {
		c->pattern_left = n;
		c->pattern_off = 0;
	}
}

/* Upgrade requests become a raw byte echo after a 101, so proxies can be
 * tested with WebSocket-style tunnels. */
static void upgrade(struct echo_conn *c)
{
	int i = http_msg_find(&c->msg, "upgrade");

	c->status = 101;
	http_response_begin(&c->out, 101);
	common_headers(c);
	http_response_header(&c->out, "Upgrade", http_msg_ptr(&c->msg, c->msg.headers[i].value),
			     c->msg.headers[i].value.len);
	buf_append_str(&c->out, "Connection: Upgrade\r\n\r\n");
}

int echo_routes_answer(struct echo_conn *c, int keep_alive)
{
	enum route r = route_of(c);
	int method = http_msg_method(&c->msg);

	if (r == ROUTE_HEALTH || r == ROUTE_READY) {
		health(c, r, keep_alive);
	} else if (r == ROUTE_FAULT) {
		fault(c, keep_alive);
	} else if (r == ROUTE_BYTES && !fault_should_fail(&c->srv->fault)) {
		bytes(c, keep_alive);
	} else if (c->msg.upgrade && http_msg_find(&c->msg, "upgrade") >= 0 && !c->srv->stopping) {
		upgrade(c);
	} else if (fault_should_fail(&c->srv->fault)) {
		buf_reset(&doc);
		buf_appendf(&doc, "{\"error\":\"injected fault\",\"podName\":\"%s\"}",
			    c->srv->id.pod_name);
		respond_doc(c, 500, keep_alive);
	} else if (method == HTTP_POST || method == HTTP_PUT || method == HTTP_PATCH) {
		echo_body(c, keep_alive);
	} else {
		identity(c, keep_alive);
	}
	return c->status;
}

void echo_routes_error(struct echo_conn *c, int status, const char *reason)
{
	c->status = status;
	buf_reset(&doc);
	buf_appendf(&doc, "{\"error\":\"%s\"", http_reason(status));
	if (reason) {
		buf_append_str(&doc, ",\"detail\":\"");
		buf_append_json_escaped(&doc, reason, strlen(reason));
		buf_append(&doc, "\"", 1);
	}
	buf_append(&doc, "}", 1);
	http_response_begin(&c->out, status);
	http_response_end(&c->out, "application/json", doc.len, 0);
	buf_append(&c->out, doc.data, doc.len);
}
