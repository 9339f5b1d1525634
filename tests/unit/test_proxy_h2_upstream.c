/* Unit tests for lb-proxy/upstream/h2_upstream.c and h2_request.c: a stream
 * to an HTTP/2 backend as a session's transport. The response a backend
 * sends (as h2_pool.c's callbacks hand it over) is read as HTTP/1.1 (RFC
 * 9113 8.1), table-driven; the HTTP/1.1 request the session writes reaches
 * an nghttp2 server session as the fields RFC 9113 8.2 and 8.3 ask. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "upstream/h2_upstream.h"

struct world {
	struct backend *be;
	struct h2_uconn c;
	nghttp2_session *server;	/* decodes what c->ng sends */
	char fields[1024];		/* the request's fields, "name: value\n" each */
	char body[256];
	size_t body_len;
};

static void gone(struct h2_uconn *c)
{
	(void)c;
}

static int srv_header(nghttp2_session *ng, const nghttp2_frame *f, const uint8_t *n, size_t nl,
		      const uint8_t *v, size_t vl, uint8_t flags, void *user)
{
	struct world *w = user;
	size_t len = strlen(w->fields);
	(void)ng;
	(void)f;
	(void)flags;

	snprintf(w->fields + len, sizeof(w->fields) - len, "%.*s: %.*s\n", (int)nl, n, (int)vl, v);
	return 0;
}

static int srv_data(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data,
		    size_t len, void *user)
{
	struct world *w = user;
	(void)ng;
	(void)flags;
	(void)id;

	memcpy(w->body + w->body_len, data, len);
	w->body_len += len;
	return 0;
}

static void world_init(struct world *w)
{
	nghttp2_session_callbacks *cb;
	struct net_addr addr;
	char err[64];

	memset(w, 0, sizeof(*w));
	assert_int_equal(net_parse_numeric("127.0.0.1:1", &addr, err, sizeof(err)), 0);
	w->be = backend_new("127.0.0.1:1", &addr, 1);
	w->c.be = w->be;
	w->c.loop = EV_DEFAULT;
	w->c.state = H2_UCONN_READY;
	w->c.stream_gone = gone;
	LIST_INIT(&w->c.streams);
	ev_io_init(&w->c.wio, NULL, 0, EV_WRITE);
	assert_int_equal(nghttp2_session_callbacks_new(&cb), 0);
	assert_int_equal(nghttp2_session_client_new(&w->c.ng, cb, w), 0);
	assert_int_equal(nghttp2_submit_settings(w->c.ng, NGHTTP2_FLAG_NONE, NULL, 0), 0);
	nghttp2_session_callbacks_set_on_header_callback(cb, srv_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, srv_data);
	assert_int_equal(nghttp2_session_server_new(&w->server, cb, w), 0);
	nghttp2_session_callbacks_del(cb);
}

static void world_release(struct world *w)
{
	ev_io_stop(w->c.loop, &w->c.wio);
	nghttp2_session_del(w->c.ng);
	nghttp2_session_del(w->server);
	backend_unref(w->be);
}

/* What the session reads from st, until EAGAIN or the end. */
static size_t read_all(struct h2_ustream *st, char *out, size_t cap, int *err)
{
	size_t got = 0;

	for (;;) {
		ssize_t n = h2_upstream_ops.read(&st->u.tr, out + got, cap - 1 - got);

		if (n <= 0) {
			*err = n == 0 ? 0 : errno;
			break;
		}
		got += (size_t)n;
	}
	out[got] = '\0';
	return got;
}

/* ---- the response ---------------------------------------------------------- */

/* One thing the backend sends: a HEADERS block ("name: value\n" lines,
 * :status first when it has one), a DATA frame, or the stream's reset. */
struct event {
	enum { HEADERS, DATA, RESET } kind;
	const char *text;
	int end_stream;
};

struct response_case {
	const char *name;
	int head_request;
	struct event ev[4];
	const char *want;		/* what the session reads */
	int want_err;			/* then: 0 (the end) or an errno */
};

static const struct response_case response_cases[] = {
	{ "RFC 9113 8.1: content-length framed body passes as it is", 0,
	  { { HEADERS, ":status: 200\ncontent-length: 5\n", 0 }, { DATA, "hello", 1 } },
	  "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello", 0 },
	{ "RFC 9113 8.1: no length: chunked, the trailers as chunked trailers (gRPC)", 0,
	  { { HEADERS, ":status: 200\ncontent-type: application/grpc\n", 0 }, { DATA, "abc", 0 },
	    { HEADERS, "grpc-status: 0\ngrpc-message: ok\n", 1 } },
	  "HTTP/1.1 200 OK\r\ncontent-type: application/grpc\r\ntransfer-encoding: chunked\r\n\r\n"
	  "3\r\nabc\r\n0\r\ngrpc-status: 0\r\ngrpc-message: ok\r\n\r\n", 0 },
	{ "gRPC trailers-only: HEADERS with END_STREAM get content-length: 0", 0,
	  { { HEADERS, ":status: 200\ngrpc-status: 14\n", 1 } },
	  "HTTP/1.1 200 OK\r\ngrpc-status: 14\r\ncontent-length: 0\r\n\r\n", 0 },
	{ "RFC 9110 15.2: a 1xx head, then the final one (204: no body, no framing)", 0,
	  { { HEADERS, ":status: 103\nlink: </a>\n", 0 }, { HEADERS, ":status: 204\n", 1 } },
	  "HTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", 0 },
	{ "HEAD: no body framing added", 1,
	  { { HEADERS, ":status: 200\n", 0 }, { DATA, "", 1 } }, "HTTP/1.1 200 OK\r\n\r\n", 0 },
	{ "RFC 9113 8.7: REFUSED_STREAM: the session's read says ECONNREFUSED", 0,
	  { { RESET, "7", 0 } }, "", ECONNREFUSED },
	{ "a reset mid-body: what came is read, then ECONNRESET", 0,
	  { { HEADERS, ":status: 200\n", 0 }, { DATA, "ab", 0 }, { RESET, "2", 0 } },
	  "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nab\r\n", ECONNRESET },
};

static int send_headers(struct h2_ustream *st, const char *text, int end_stream)
{
	char copy[512], *line, *save;

	h2_upstream_begin_headers(st);
	snprintf(copy, sizeof(copy), "%s", text);
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *sep = strstr(line + 1, ": ");

		assert_non_null(sep);
		assert_int_equal(h2_upstream_header(st, (uint8_t *)line, (size_t)(sep - line),
						    (uint8_t *)sep + 2, strlen(sep + 2)), 0);
	}
	return h2_upstream_headers_end(st, end_stream);
}

static void test_responses_read_as_http11(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(response_cases) / sizeof(response_cases[0]); i++) {
		const struct response_case *tc = &response_cases[i];
		struct world w;
		struct h2_ustream *st;
		char got[1024];
		int err = -1;

		world_init(&w);
		st = h2_upstream_new(&w.c);
		assert_non_null(st);
		st->is_head = tc->head_request;
		for (unsigned e = 0; e < 4 && tc->ev[e].text; e++) {
			const struct event *ev = &tc->ev[e];

			if (ev->kind == HEADERS)
				assert_int_equal(send_headers(st, ev->text, ev->end_stream), 0);
			else if (ev->kind == DATA)
				h2_upstream_data(st, (const uint8_t *)ev->text, strlen(ev->text));
			else
				h2_upstream_closed(st, (uint32_t)(ev->text[0] - '0'));
			if (ev->kind == DATA && ev->end_stream)
				h2_upstream_end(st);
		}
		read_all(st, got, sizeof(got), &err);
		if (strcmp(got, tc->want) != 0 || err != tc->want_err)
			fail_msg("%s:\n got %s (err %d)\nwant %s (err %d)", tc->name, got, err,
				 tc->want, tc->want_err);
		st->u.detach(&st->u, 0);
		world_release(&w);
	}
}

static void test_101_has_no_place_in_h2(void **state)
{
	struct world w;
	struct h2_ustream *st;
	(void)state;

	world_init(&w);
	st = h2_upstream_new(&w.c);
	/* RFC 9113 8.6: the stream is reset (h2_pool.c), nothing is rendered */
	assert_int_not_equal(send_headers(st, ":status: 101\nupgrade: websocket\n", 0), 0);
	st->u.detach(&st->u, 0);
	world_release(&w);
}

/* ---- the request ----------------------------------------------------------- */

/* The session writes `req` (in two pieces, split at `split`) on a new
 * stream; the frames c->ng sends are decoded by the server session. */
static void write_request(struct world *w, const char *req, size_t split)
{
	struct h2_ustream *st = h2_upstream_new(&w->c);
	struct iovec iov[2] = { { (void *)req, split }, { (void *)(req + split), strlen(req) - split } };
	const uint8_t *out;
	ssize_t n;

	assert_int_equal(h2_upstream_ops.writev(&st->u.tr, iov, 2), (ssize_t)strlen(req));
	assert_true(st->id > 0);
	while ((n = nghttp2_session_mem_send(w->c.ng, &out)) > 0)
		assert_int_equal(nghttp2_session_mem_recv(w->server, out, (size_t)n), n);
	st->u.detach(&st->u, 1);
}

static void test_request_fields_per_rfc_9113_8(void **state)
{
	struct world w;
	(void)state;

	world_init(&w);
	/* 8.3.1: Host becomes :authority; 8.2.2: the connection's own fields
	 * go, te: trailers is sent; 8.2.1: names lower-case */
	write_request(&w, "POST /lb.Test/Echo?x=1 HTTP/1.1\r\nHost: svc:50051\r\n"
			  "Connection: keep-alive, X-Hop\r\nKeep-Alive: 5\r\nTE: gzip\r\n"
			  "Content-Type: application/grpc\r\nUpgrade: h2c\r\ncontent-length: 4\r\n\r\nbody",
		      20);
	assert_string_equal(w.fields, ":method: POST\n:scheme: http\n:path: /lb.Test/Echo?x=1\n"
				      ":authority: svc:50051\ncontent-type: application/grpc\n"
				      "content-length: 4\nte: trailers\n");
	assert_int_equal(w.body_len, 4);
	assert_memory_equal(w.body, "body", 4);
	world_release(&w);
}

static void test_chunked_request_body_is_decoded(void **state)
{
	struct world w;
	(void)state;

	world_init(&w);
	/* RFC 9113 8.2.2: no transfer-encoding; the chunks' data as DATA */
	write_request(&w, "PUT /a HTTP/1.1\r\nhost: h\r\ntransfer-encoding: chunked\r\n\r\n"
			  "3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\n\r\n", 60);
	assert_string_equal(w.fields, ":method: PUT\n:scheme: http\n:path: /a\n:authority: h\n"
				      "te: trailers\n");
	assert_int_equal(w.body_len, 5);
	assert_memory_equal(w.body, "abcde", 5);
	world_release(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_responses_read_as_http11),
		cmocka_unit_test(test_101_has_no_place_in_h2),
		cmocka_unit_test(test_request_fields_per_rfc_9113_8),
		cmocka_unit_test(test_chunked_request_body_is_decoded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
