/* trace: a request's spans and the trace fields it carries on (see
 * trace.h; docs/tracing.md). */
#include "trace.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <ev.h>

#include "buf.h"
#include "otlp_export.h"
#include "otlp_span.h"
#include "policy/hashkey.h"
#include "session_state.h"

static struct otlp_export *exporter;
static double sample_ratio;

void trace_configure(struct otlp_export *e, double sample)
{
	exporter = e;
	sample_ratio = sample;
}

/* ---- ids and times ----------------------------------------------------------- */

/* xoshiro-style ids: unique, not secret (the W3C spec asks for randomness,
 * not unpredictability); seeded once from the kernel. */
static uint64_t next_random(void)
{
	static uint64_t s[2];
	uint64_t a, b;

	if (!(s[0] | s[1]) &&
	    (getrandom(s, sizeof(s), 0) != (ssize_t)sizeof(s) || !(s[0] | s[1])))
		s[0] = 0x9e3779b97f4a7c15ULL ^ (uint64_t)time(NULL);
	a = s[0];
	b = s[1];
	s[0] = b;
	a ^= a << 23;
	s[1] = a ^ b ^ (a >> 17) ^ (b >> 26);
	return s[1] + b;
}

/* n random bytes (16 or 8), never all zero (an all-zero id is invalid). */
static void random_id(uint8_t *out, size_t n)
{
	uint64_t r, any = 0;

	do {
		for (size_t i = 0; i < n; i += 8) {
			r = next_random();
			any |= r;
			memcpy(out + i, &r, 8);
		}
	} while (!any);
}

/* The loop's clock (Unix time, read once per loop pass when the poll
 * returns): a span's times are the pass that saw its bytes, and a request
 * reads no clock of its own (four clock_gettime calls were a percent of a
 * traced request's CPU). */
static uint64_t now_ns(const struct session *s)
{
	return (uint64_t)(ev_now(s->px->loop) * 1e9);
}

int trace_ratio_sampled(const uint8_t trace_id[16], double ratio)
{
	uint64_t v = 0;

	if (ratio >= 1.0)
		return 1;
	if (ratio <= 0.0)
		return 0;
	for (int i = 8; i < 16; i++)
		v = v << 8 | trace_id[i];
	/* 63 bits, as Java's and Go's SDKs compare them */
	return (double)(v >> 1) < ratio * 9223372036854775808.0;
}

/* ---- the incoming context and the fields sent on ----------------------------- */

void trace_exchange_reset(struct session *s)
{
	s->x->trace.begun = s->x->trace.has_id = 0;
	s->x->trace.fields_len = 0;
}

/* Writes "traceparent: ...\r\n" and, if any, "tracestate: ...\r\n". */
static void write_fields(struct trace_exchange *t, const uint8_t *span_id,
			 const struct tracestate *ts)
{
	struct trace_context c;
	char state[TRACESTATE_MAX + 1];
	size_t n = 0;

	memcpy(c.trace_id, t->trace_id, 16);
	memcpy(c.span_id, span_id, 8);
	c.flags = t->flags;
	memcpy(t->fields, "traceparent: ", 13);
	n = 13 + traceparent_format(&c, t->fields + 13);
	memcpy(t->fields + n, "\r\n", 2);
	n += 2;
	if (ts && tracestate_format(ts, state) > 0)
		n += (size_t)snprintf(t->fields + n, sizeof(t->fields) - n, "tracestate: %s\r\n", state);
	t->fields_len = n;
}

void trace_request_begin(struct session *s)
{
	struct trace_exchange *t = &s->x->trace;
	const struct http_msg *req = &s->x->req;
	struct trace_context in;
	struct tracestate ts;
	int found = 0, tp = -1;

	t->begun = 1;
	t->route = NULL;
	t->recording = t->has_id = t->has_parent = t->attempt_open = 0;
	t->attempts = t->nevents = 0;
	t->fields_len = 0;
	ts.n = 0;
	ts.invalid = 0;
	for (unsigned i = 0; i < req->nheaders; i++) {
		const char *name = http_msg_ptr(req, req->headers[i].name);
		size_t n = req->headers[i].name.len;

		if (n == 11 && strncasecmp(name, "traceparent", 11) == 0) {
			found++;
			tp = (int)i;
		} else if (n == 10 && strncasecmp(name, "tracestate", 10) == 0) {
			tracestate_add(&ts, http_msg_ptr(req, req->headers[i].value),
				       req->headers[i].value.len);
		}
	}
	/* Two traceparent fields are as invalid as a malformed one (3.2). */
	if (found == 1 && traceparent_parse(http_msg_ptr(req, req->headers[tp].value),
					    req->headers[tp].value.len, &in) == 0) {
		memcpy(t->trace_id, in.trace_id, 16);
		memcpy(t->parent_id, in.span_id, 8);
		t->flags = in.flags;
		t->has_id = t->has_parent = 1;
	}
	if (!exporter) {
		/* Propagation only: a valid context goes on as it came (as
		 * version 00), an invalid one is dropped with its tracestate. */
		if (t->has_parent)
			write_fields(t, t->parent_id, &ts);
		return;
	}
	if (!t->has_parent) {
		random_id(t->trace_id, 16);
		t->flags = trace_ratio_sampled(t->trace_id, sample_ratio) ? TRACE_FLAG_SAMPLED : 0;
		t->has_id = 1;
	}
	t->recording = (t->flags & TRACE_FLAG_SAMPLED) != 0;
	random_id(t->server_id, 8);
	/* Unsampled: no span, so no clock; the id is the backend's parent-id. */
	if (t->recording)
		t->start_ns = now_ns(s);
	/* Until an attempt begins, the SERVER span is the parent. */
	write_fields(t, t->server_id, t->has_parent ? &ts : NULL);
}

/* ---- spans ------------------------------------------------------------------ */

/* "HOST:PORT" (or "[V6]:PORT") as server.address and server.port; returns
 * the port (0: none valid). */
static long add_host_port(struct otlp_span *sp, const char *hp, size_t n, long dflt_port)
{
	const char *colon = NULL;
	long port = dflt_port;

	for (size_t i = n; i-- > 0;) {
		if (hp[i] == ':') {
			colon = hp + i;
			break;
		}
		if (hp[i] < '0' || hp[i] > '9')
			break;
	}
	if (colon) {
		port = 0;
		for (const char *p = colon + 1; p < hp + n && port < 65536; p++)
			port = port * 10 + (*p - '0');
		n = (size_t)(colon - hp);
	}
	if (n >= 2 && hp[0] == '[' && hp[n - 1] == ']')
		hp++, n -= 2;
	otlp_span_str(sp, "server.address", hp, n);
	if (port <= 0 || port >= 65536)
		return 0;
	otlp_span_int(sp, "server.port", port);
	return port;
}

static const char *method_name(const struct session *s)
{
	return s->method >= 0 ? llhttp_method_name((llhttp_method_t)s->method) : "_OTHER";
}

static void span_ids(struct otlp_span *sp, const struct trace_exchange *t, const uint8_t *id,
		     const uint8_t *parent, int has_parent)
{
	memcpy(sp->trace_id, t->trace_id, 16);
	memcpy(sp->span_id, id, 8);
	if (has_parent)
		memcpy(sp->parent_id, parent, 8);
	sp->has_parent = has_parent;
}

/* Finishes the running CLIENT span: `why` a failure's reason or NULL,
 * `status` the backend's answer (0: none). */
static void attempt_finish(struct session *s, const char *why, int status)
{
	struct trace_exchange *t = &s->x->trace;
	const struct http_route *r = &s->x->route;
	const char *method = method_name(s), *name = s->be ? s->be->name : "-";
	const size_t name_len = strlen(name);
	const char *colon = memrchr(name, ':', name_len);
	struct otlp_span *sp;
	char code[12];
	long port;

	t->attempt_open = 0;
	if (!t->recording || !(sp = otlp_export_slot(exporter)))
		return;
	span_ids(sp, t, t->client_id, t->server_id, 1);
	sp->kind = OTLP_KIND_CLIENT;
	otlp_span_name(sp, method, strlen(method));
	sp->start_ns = t->attempt_ns;
	sp->end_ns = now_ns(s);
	otlp_span_str(sp, "http.request.method", method, strlen(method));
	port = add_host_port(sp, name, name_len, 80);
	otlp_span_str(sp, "network.peer.address", name, colon ? (size_t)(colon - name) : name_len);
	if (colon && port)
		otlp_span_int(sp, "network.peer.port", port);
	{
		const int tls = s->px->opts->backend_tls;
		struct iovec url[] = {
			{ (void *)(tls ? "https://" : "http://"), tls ? 8u : 7u },
			{ (void *)name, name_len },
			{ (void *)"/", r->path_slash ? 1u : 0u },
			{ (void *)http_msg_ptr(&s->x->req, r->path), r->path.len },
		};

		otlp_span_strv(sp, "url.full", url, 4);
	}
	if (t->attempts > 1)
		otlp_span_int(sp, "http.request.resend_count", t->attempts - 1);
	if (status)
		otlp_span_int(sp, "http.response.status_code", status);
	/* CLIENT spans: 4xx and 5xx are errors (error.type the status), and
	 * so is no answer at all (error.type why) */
	if (status >= 400) {
		snprintf(code, sizeof(code), "%d", status);
		otlp_span_str(sp, "error.type", code, strlen(code));
		sp->status = OTLP_STATUS_ERROR;
	} else if (why) {
		otlp_span_str(sp, "error.type", why, strlen(why));
		sp->status = OTLP_STATUS_ERROR;
	}
	if (s->be && !t->was_ejected && s->be->outlier.state == OUTLIER_OPEN)
		otlp_span_event(sp, "ejected", sp->end_ns);
	otlp_export_commit(exporter);
}

void trace_attempt_begin(struct session *s)
{
	struct trace_exchange *t = &s->x->trace;

	/* Unsampled: no CLIENT span; the backend's parent stays the SERVER
	 * span's id, already in the fields (nobody records either). */
	if (!exporter || !t->begun || !t->recording)
		return;
	if (t->attempt_open)
		attempt_finish(s, "abandoned", 0);
	random_id(t->client_id, 8);
	t->attempt_ns = now_ns(s);
	t->attempt_open = 1;
	t->attempts++;
	t->was_ejected = s->be && s->be->outlier.state == OUTLIER_OPEN;
	/* The backend's parent is this attempt: in the fields, and in the head
	 * when it is written already (a retry), where the fields end it. */
	trace_hex(t->client_id, 8, t->fields + TRACE_FIELDS_SPAN_AT);
	if (s->x->up_head.len >= t->fields_len + 2)
		trace_hex(t->client_id, 8,
			  s->x->up_head.data + s->x->up_head.len - 2 - t->fields_len + TRACE_FIELDS_SPAN_AT);
}

void trace_attempt_end(struct session *s, const char *why, int status)
{
	if (exporter && s->x->trace.begun && s->x->trace.attempt_open)
		attempt_finish(s, why, status);
}

void trace_event(struct session *s, const char *name)
{
	struct trace_exchange *t = &s->x->trace;

	if (!t->recording || t->nevents == TRACE_EVENTS_MAX)
		return;
	t->events[t->nevents].name = name;
	t->events[t->nevents].time_ns = now_ns(s);
	t->nevents++;
}

/* The SERVER span's attributes of the request (RFC 9110 names, as the
 * HTTP semantic conventions spell them). */
static void server_attributes(struct session *s, struct otlp_span *sp, const char *method)
{
	const struct http_msg *req = &s->x->req;
	const struct http_route *r = &s->x->route;
	const char *path = http_msg_ptr(req, r->path), *q, *client;
	size_t plen = r->path.len, clen = 0;
	int ua = http_msg_find(req, "user-agent");
	char code[12];

	otlp_span_str(sp, "http.request.method", method, strlen(method));
	if (req->state != HTTP_MSG_ERROR && r->path.len) {
		q = memchr(path, '?', plen);
		otlp_span_str(sp, "url.path", path, q ? (size_t)(q - path) : plen);
		if (q)
			otlp_span_str(sp, "url.query", q + 1, plen - (size_t)(q - path) - 1);
	}
	otlp_span_str(sp, "url.scheme", s->tr.ssl ? "https" : "http", s->tr.ssl ? 5 : 4);
	otlp_span_str(sp, "network.protocol.version", http_msg_minor(req) == 0 ? "1.0" : "1.1", 3);
	if (r->has_authority && r->authority.len)
		add_host_port(sp, http_msg_ptr(req, r->authority), r->authority.len,
			      s->tr.ssl ? 443 : 80);
	else
		add_host_port(sp, s->via->l.name, strlen(s->via->l.name), 80);
	client = hashkey_client_ip(&s->px->trusted, s->client_ip, req, &clen);
	otlp_span_str(sp, "client.address", client, clen);
	otlp_span_str(sp, "network.peer.address", s->client_ip, strlen(s->client_ip));
	if (ua >= 0)
		otlp_span_str(sp, "user_agent.original", http_msg_ptr(req, req->headers[ua].value),
			      req->headers[ua].value.len);
	otlp_span_int(sp, "http.response.status_code", s->status);
	/* SERVER spans: 5xx only is an error (4xx is the client's) */
	if (s->status >= 500) {
		snprintf(code, sizeof(code), "%d", s->status);
		otlp_span_str(sp, "error.type", code, strlen(code));
		sp->status = OTLP_STATUS_ERROR;
	}
}

void trace_request_end(struct session *s)
{
	struct trace_exchange *t = &s->x->trace;
	const char *method = method_name(s);
	struct otlp_span *sp;

	if (!exporter)
		return;
	/* By now other connections have run since the head came: the
	 * exchange's request, route and trace, the head's bytes and its
	 * fields' table are out of cache. Asked for at once, their misses
	 * overlap instead of following one another through the spans. */
	__builtin_prefetch(&s->x->req.base);
	__builtin_prefetch(&s->x->route);
	if (!t->begun)
		return;
	if (t->recording) {
		const struct http_msg *req = &s->x->req;

		__builtin_prefetch((const char *)t + 64);
		__builtin_prefetch(req->headers);
		__builtin_prefetch(req->base + req->head_start);
		__builtin_prefetch(req->base + req->head_start + 64);
	}
	if (t->attempt_open)
		attempt_finish(s, s->resp_head_done ? NULL : "no-response",
			       s->resp_head_done ? s->status : 0);
	t->begun = 0;
	if (!t->recording || !(sp = otlp_export_slot(exporter)))
		return;
	span_ids(sp, t, t->server_id, t->parent_id, t->has_parent);
	sp->kind = OTLP_KIND_SERVER;
	sp->start_ns = t->start_ns;
	sp->end_ns = now_ns(s);
	if (t->route) {
		char name[OTLP_SPAN_NAME_MAX];
		int n = snprintf(name, sizeof(name), "%s %s", method, t->route);

		otlp_span_name(sp, name, n < 0 ? 0 : (size_t)n >= sizeof(name) ? sizeof(name) - 1
									: (size_t)n);
		otlp_span_str(sp, "http.route", t->route, strlen(t->route));
	} else {
		otlp_span_name(sp, method, strlen(method));	/* "{method}", never the path */
	}
	server_attributes(s, sp, method);
	for (unsigned i = 0; i < t->nevents; i++)
		otlp_span_event(sp, t->events[i].name, t->events[i].time_ns);
	if (s->x->refusal)
		otlp_span_event(sp, strcmp(s->x->refusal, "rate limited") == 0 ? "rate_limited"
				    : s->x->refusal[0] == 'q' ? "queue_refused" : "refused", sp->end_ns);
	otlp_export_commit(exporter);
}

void trace_log_id(const struct session *s, char *out)
{
	if (!s->x || !s->x->trace.has_id) {
		strcpy(out, "-");
		return;
	}
	trace_hex(s->x->trace.trace_id, 16, out);
	out[32] = '\0';
}

void trace_render_metrics(struct buf *out)
{
	struct otlp_export_stats st = { 0 };

	if (exporter)
		otlp_export_stats(exporter, &st);
	buf_appendf(out,
		    "# HELP lb_proxy_trace_spans_exported_total Spans the OTLP endpoint accepted.\n"
		    "# TYPE lb_proxy_trace_spans_exported_total counter\n"
		    "lb_proxy_trace_spans_exported_total %llu\n"
		    "# HELP lb_proxy_trace_spans_dropped_total Spans dropped: the export queue was full.\n"
		    "# TYPE lb_proxy_trace_spans_dropped_total counter\n"
		    "lb_proxy_trace_spans_dropped_total %llu\n"
		    "# HELP lb_proxy_trace_spans_failed_total Spans of batches the endpoint refused or that ran out of retries.\n"
		    "# TYPE lb_proxy_trace_spans_failed_total counter\n"
		    "lb_proxy_trace_spans_failed_total %llu\n"
		    "# HELP lb_proxy_trace_export_retries_total Batches sent again (429, 502-504, network errors).\n"
		    "# TYPE lb_proxy_trace_export_retries_total counter\n"
		    "lb_proxy_trace_export_retries_total %llu\n"
		    "# HELP lb_proxy_trace_spans_queued Spans waiting to be exported.\n"
		    "# TYPE lb_proxy_trace_spans_queued gauge\n"
		    "lb_proxy_trace_spans_queued %zu\n",
		    st.exported, st.dropped, st.failed, st.retries, st.queued);
}
