/* Unit tests for lb-proxy/http/h2_stream.c and h2_response.c: an HTTP/2 stream as a session's
 * transport. A client and a server nghttp2 session talk in memory; the
 * server's stream is read as an HTTP/1.1 request, and HTTP/1.1 responses
 * written to it, split at every byte, reach the client as the same frames. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "http/h2_stream.h"

struct seen {
	char head[1024];	/* ":status 200\n", "name value\n" ... of the final head */
	char interim[256];	/* the same of 1xx heads */
	char trailers[256];
	char body[4096];
	size_t body_len;
	int ended, reset;
	int mode;		/* the HEADERS being read: 0 final head, 1 a 1xx, 2 trailers */
};

struct pair {
	nghttp2_session *client, *server;
	struct proxy px;
	struct proxy_options opts;
	struct h2_peer peer;
	ev_io kick;
	struct h2_stream *st;
	struct seen seen;
};

static int srv_begin(nghttp2_session *ng, const nghttp2_frame *f, void *user)
{
	struct pair *p = user;

	if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST) {
		p->st = h2_stream_new(&p->peer, f->hd.stream_id);
		nghttp2_session_set_stream_user_data(ng, f->hd.stream_id, p->st);
	}
	return 0;
}

static int srv_header(nghttp2_session *ng, const nghttp2_frame *f, const uint8_t *n, size_t nl,
		      const uint8_t *v, size_t vl, uint8_t flags, void *user)
{
	struct h2_stream *st = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
	(void)flags;
	(void)user;

	return st ? h2_stream_field(st, n, nl, v, vl) : 0;
}

static int srv_frame(nghttp2_session *ng, const nghttp2_frame *f, void *user)
{
	struct h2_stream *st = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
	(void)user;

	if (st && f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST)
		h2_stream_head_done(st, (f->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0);
	return 0;
}

static int srv_data(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *d, size_t len,
		    void *user)
{
	struct h2_stream *st = nghttp2_session_get_stream_user_data(ng, id);
	(void)flags;
	(void)user;

	if (st)
		h2_stream_data(st, d, len);
	return 0;
}

static void append(char *dst, size_t cap, const uint8_t *n, size_t nl, const uint8_t *v, size_t vl)
{
	size_t len = strlen(dst);

	snprintf(dst + len, cap - len, "%.*s %.*s\n", (int)nl, n, (int)vl, v);
}

/* Each HEADERS frame starts as trailers until a :status names it a head. */
static int cli_begin(nghttp2_session *ng, const nghttp2_frame *f, void *user)
{
	struct pair *p = user;
	(void)ng;
	(void)f;

	p->seen.mode = 2;
	return 0;
}

static int cli_header(nghttp2_session *ng, const nghttp2_frame *f, const uint8_t *n, size_t nl,
		      const uint8_t *v, size_t vl, uint8_t flags, void *user)
{
	struct pair *p = user;
	(void)ng;
	(void)f;
	(void)flags;

	if (nl == 7 && memcmp(n, ":status", 7) == 0)	/* first in each head */
		p->seen.mode = v[0] == '1';
	if (p->seen.mode == 2)
		append(p->seen.trailers, sizeof(p->seen.trailers), n, nl, v, vl);
	else if (p->seen.mode == 1)
		append(p->seen.interim, sizeof(p->seen.interim), n, nl, v, vl);
	else
		append(p->seen.head, sizeof(p->seen.head), n, nl, v, vl);
	return 0;
}

static int cli_data(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *d, size_t len,
		    void *user)
{
	struct pair *p = user;
	(void)ng;
	(void)flags;
	(void)id;

	assert_true(p->seen.body_len + len <= sizeof(p->seen.body));
	memcpy(p->seen.body + p->seen.body_len, d, len);
	p->seen.body_len += len;
	return 0;
}

static int cli_close(nghttp2_session *ng, int32_t id, uint32_t code, void *user)
{
	struct pair *p = user;
	(void)ng;
	(void)id;

	if (code == NGHTTP2_NO_ERROR)
		p->seen.ended = 1;
	else
		p->seen.reset = 1;
	return 0;
}

/* Moves frames both ways until neither side has more to send. */
static void pump(struct pair *p)
{
	for (int i = 0; i < 100; i++) {
		const uint8_t *d;
		ssize_t a = nghttp2_session_mem_send(p->client, &d), b;

		assert_true(a >= 0);
		if (a)
			assert_int_equal(nghttp2_session_mem_recv(p->server, d, (size_t)a), a);
		b = nghttp2_session_mem_send(p->server, &d);
		assert_true(b >= 0);
		if (b)
			assert_int_equal(nghttp2_session_mem_recv(p->client, d, (size_t)b), b);
		if (a == 0 && b == 0)
			return;
	}
}

static void pair_open(struct pair *p, const nghttp2_nv *req, size_t n, int end_stream)
{
	nghttp2_session_callbacks *cb;
	nghttp2_option *opt;

	memset(p, 0, sizeof(*p));
	p->opts.max_header_size = 8192;
	p->px.loop = ev_default_loop(0);
	p->px.opts = &p->opts;
	ev_init(&p->kick, NULL);
	p->peer.px = &p->px;
	p->peer.kick = &p->kick;
	LIST_INIT(&p->peer.streams);
	assert_int_equal(nghttp2_option_new(&opt), 0);
	nghttp2_option_set_no_auto_window_update(opt, 1);
	assert_int_equal(nghttp2_session_callbacks_new(&cb), 0);
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb, srv_begin);
	nghttp2_session_callbacks_set_on_header_callback(cb, srv_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, srv_frame);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, srv_data);
	assert_int_equal(nghttp2_session_server_new2(&p->server, cb, p, opt), 0);
	nghttp2_session_callbacks_del(cb);
	nghttp2_option_del(opt);
	p->peer.ng = p->server;
	assert_int_equal(nghttp2_session_callbacks_new(&cb), 0);
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb, cli_begin);
	nghttp2_session_callbacks_set_on_header_callback(cb, cli_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, cli_data);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, cli_close);
	assert_int_equal(nghttp2_session_client_new(&p->client, cb, p), 0);
	nghttp2_session_callbacks_del(cb);
	nghttp2_submit_settings(p->client, NGHTTP2_FLAG_NONE, NULL, 0);
	nghttp2_submit_settings(p->server, NGHTTP2_FLAG_NONE, NULL, 0);
	assert_int_equal(nghttp2_submit_request(p->client, NULL, req, n, NULL, NULL), 1);
	(void)end_stream;
	pump(p);
	assert_non_null(p->st);
}

static void pair_close(struct pair *p)
{
	if (p->st) {
		p->st->closed = 1;
		while (!LIST_EMPTY(&p->peer.streams))
			h2_stream_close(LIST_FIRST(&p->peer.streams));
	}
	nghttp2_session_del(p->client);
	nghttp2_session_del(p->server);
	ev_clear_pending(p->px.loop, &p->kick);
	h2_stream_pool_release();
}

static struct transport stream_transport(struct h2_stream *st)
{
	struct transport t;

	transport_plain_init(&t, -1);
	t.ops = &h2_stream_ops;
	t.stream = st;
	return t;
}

#define NV(n, v) { (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, sizeof(v) - 1, NGHTTP2_NV_FLAG_NONE }

static const nghttp2_nv get_req[] = {
	NV(":method", "GET"), NV(":scheme", "https"), NV(":path", "/a?b=1"),
	NV(":authority", "example.test"), NV("cookie", "a=1"), NV("accept", "*/*"),
	NV("cookie", "b=2"),
};

/* RFC 9113 8.3.1, 8.2.3: the request line from :method and :path, Host from
 * :authority, the cookies joined; no body, no framing field. */
static void test_request_is_read_as_http11(void **state)
{
	struct pair p;
	struct transport t;
	char buf[1024];
	ssize_t n;
	(void)state;

	pair_open(&p, get_req, sizeof(get_req) / sizeof(get_req[0]), 1);
	t = stream_transport(p.st);
	n = t.ops->read(&t, buf, sizeof(buf) - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, "GET /a?b=1 HTTP/1.1\r\nhost: example.test\r\naccept: */*\r\n"
				 "cookie: a=1; b=2\r\n\r\n");
	assert_int_equal(t.ops->read(&t, buf, sizeof(buf)), -1);	/* EAGAIN: not answered */
	pair_close(&p);
}

static const struct {
	const char *name;
	const char *method;
	const char *response;		/* what the session writes */
	const char *head, *interim, *body, *trailers;
} responses[] = {
	{ "content-length", "GET",
	  "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive\r\nX-A: 1\r\n\r\nhello",
	  ":status 200\ncontent-length 5\nx-a 1\n", "", "hello", "" },
	{ "chunked with trailers", "GET",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nKeep-Alive: timeout=5\r\n\r\n"
	  "5;x=y\r\nhello\r\nA\r\n, world!!!\r\n0\r\nGrpc-Status: 0\r\n\r\n",
	  ":status 200\n", "", "hello, world!!!", "grpc-status 0\n" },
	{ "chunked, no trailers", "GET",
	  "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
	  ":status 201\n", "", "abc", "" },
	{ "1xx first", "GET",
	  "HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n"
	  "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
	  ":status 200\ncontent-length 2\n", ":status 103\nlink </s.css>\n", "ok", "" },
	{ "chunked, empty", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	  ":status 200\n", "", "", "" },
	{ "HEAD", "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n",
	  ":status 200\ncontent-length 99\n", "", "", "" },
	{ "204", "GET", "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n", ":status 204\n", "",
	  "", "" },
};

/* Every response, written in two pieces split at every byte, reaches the
 * client as the same HEADERS, DATA and trailers (RFC 9113 8.1, 8.2.2). */
static void test_responses_split_anywhere(void **state)
{
	(void)state;

	for (size_t i = 0; i < sizeof(responses) / sizeof(responses[0]); i++) {
		size_t len = strlen(responses[i].response);

		for (size_t cut = 0; cut <= len; cut++) {
			nghttp2_nv req[] = {
				NV(":method", "GET"), NV(":scheme", "http"), NV(":path", "/"),
				NV(":authority", "x"),
			};
			struct pair p;
			struct transport t;
			struct iovec iov[2] = {
				{ (void *)responses[i].response, cut },
				{ (void *)(responses[i].response + cut), len - cut },
			};

			req[0].value = (uint8_t *)responses[i].method;
			req[0].valuelen = strlen(responses[i].method);
			pair_open(&p, req, 4, 1);
			t = stream_transport(p.st);
			assert_int_equal(t.ops->writev(&t, &iov[0], 1), (ssize_t)cut);
			pump(&p);
			assert_int_equal(t.ops->writev(&t, &iov[1], 1), (ssize_t)(len - cut));
			pump(&p);
			if (!p.seen.ended) {	/* a body to its close: the session closes */
				t.ops->close(&t);
				pump(&p);
			}
			if (strcmp(p.seen.head, responses[i].head) != 0 ||
			    strcmp(p.seen.interim, responses[i].interim) != 0 ||
			    p.seen.body_len != strlen(responses[i].body) ||
			    memcmp(p.seen.body, responses[i].body, p.seen.body_len) != 0 ||
			    strcmp(p.seen.trailers, responses[i].trailers) != 0 || !p.seen.ended)
				fail_msg("%s, cut at %zu: head [%s] interim [%s] body [%.*s] trailers [%s] "
					 "ended %d reset %d", responses[i].name, cut, p.seen.head,
					 p.seen.interim, (int)p.seen.body_len, p.seen.body,
					 p.seen.trailers, p.seen.ended, p.seen.reset);
			pair_close(&p);
		}
	}
}

/* A response cut short (the session closes mid-body) resets the stream. */
static void test_response_cut_short_is_reset(void **state)
{
	static const char part[] = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhel";
	nghttp2_nv req[] = {
		NV(":method", "GET"), NV(":scheme", "http"), NV(":path", "/"), NV(":authority", "x"),
	};
	struct iovec iov = { (void *)part, sizeof(part) - 1 };
	struct pair p;
	struct transport t;
	(void)state;

	pair_open(&p, req, 4, 1);
	t = stream_transport(p.st);
	assert_int_equal(t.ops->writev(&t, &iov, 1), (ssize_t)iov.iov_len);
	t.ops->close(&t);
	pump(&p);
	assert_true(p.seen.reset);
	assert_false(p.seen.ended);
	pair_close(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_is_read_as_http11),
		cmocka_unit_test(test_responses_split_anywhere),
		cmocka_unit_test(test_response_cut_short_is_reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
