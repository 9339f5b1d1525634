/* admin_trace: the admin API's writes as spans (see admin_trace.h). */
#include "admin_trace.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "http_parser.h"

/* The one traceparent field, or NULL when there is none or more than one
 * (two are as invalid as a malformed one: W3C Trace Context 3.2). */
static const char *traceparent_of(const struct http_msg *m, size_t *n)
{
	const char *found = NULL;

	for (unsigned i = 0; i < m->nheaders; i++) {
		if (!http_msg_header_is(m, i, "traceparent"))
			continue;
		if (found)
			return NULL;
		found = http_msg_ptr(m, m->headers[i].value);
		*n = m->headers[i].value.len;
	}
	return found;
}

void admin_trace_begin(struct admin_trace *t, const struct http_msg *m, const struct verb *v,
		       uint64_t now)
{
	const char *tp;
	size_t n = 0;

	tp = traceparent_of(m, &n);
	spans_begin(&t->ctx, tp, n, now);
	t->active = t->ctx.recording;
	t->verb = v;
	t->address[0] = '\0';
}

void admin_trace_address(struct admin_trace *t, const char *address)
{
	if (t->active)
		snprintf(t->address, sizeof(t->address), "%s", address);
}

/* The client's address (network.peer.address). */
static void peer_text(const struct sockaddr_storage *ss, char *out, size_t outsz)
{
	out[0] = '\0';
	if (ss->ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, out, (socklen_t)outsz);
	else if (ss->ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, out,
			  (socklen_t)outsz);
}

void admin_trace_end(struct admin_trace *t, uint64_t now, const char *path, size_t path_len,
		     const struct sockaddr_storage *peer, int status, const char *body, size_t n)
{
	const struct verb *v = t->verb;
	struct otlp_span *sp;
	char name[OTLP_SPAN_NAME_MAX * 2], peer_ip[64], code[12];
	json_t *doc = NULL;
	const char *error = NULL;

	if (!t->active)
		return;
	t->active = 0;
	snprintf(name, sizeof(name), "%s %s", v->http_method, v->http_path);
	sp = spans_record(&t->ctx, OTLP_KIND_SERVER, name, now);
	if (!sp)
		return;
	otlp_span_str(sp, "http.request.method", v->http_method, strlen(v->http_method));
	otlp_span_str(sp, "http.route", v->http_path, strlen(v->http_path));
	otlp_span_str(sp, "url.path", path, path_len);
	otlp_span_str(sp, "url.scheme", "http", 4);
	peer_text(peer, peer_ip, sizeof(peer_ip));
	if (peer_ip[0])
		otlp_span_str(sp, "network.peer.address", peer_ip, strlen(peer_ip));
	otlp_span_int(sp, "http.response.status_code", status);
	otlp_span_str(sp, "lb.verb", v->name, strlen(v->name));
	if (t->address[0])
		otlp_span_str(sp, "lb.backend.address", t->address, strlen(t->address));
	/* the result: "ok", or the error the API answered (lb-ctl prints the same) */
	if (status >= 400 && (doc = json_loadb(body, n, 0, NULL)))
		error = json_string_value(json_object_get(doc, "error"));
	if (status >= 400)
		otlp_span_str(sp, "lb.result", error ? error : "failed",
			      strlen(error ? error : "failed"));
	else
		otlp_span_str(sp, "lb.result", status == 202 ? "in flight" : "ok",
			      status == 202 ? 9 : 2);
	/* SERVER spans: 5xx is an error, 4xx the client's (HTTP semantic conventions) */
	if (status >= 500) {
		snprintf(code, sizeof(code), "%d", status);
		otlp_span_str(sp, "error.type", code, strlen(code));
		sp->status = OTLP_STATUS_ERROR;
	}
	json_decref(doc);
	spans_commit();
}
