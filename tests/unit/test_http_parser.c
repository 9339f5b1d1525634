/* Unit tests for common/http_parser.c: every split of the input parses alike,
 * and malformed or smuggling-shaped requests get the right status. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "http_parser.h"

static int collect_body(void *ctx, const char *at, size_t len)
{
	return buf_append(ctx, at, len) == -1 ? 500 : 0;
}

static void trace_message(struct buf *t, const struct http_msg *m, const struct buf *body)
{
	buf_appendf(t, "[%s %.*s 1.%d",
		    m->parser.type == HTTP_RESPONSE ? "RESPONSE" : llhttp_method_name(http_msg_method(m)),
		    (int)m->url.len,
		    http_msg_ptr(m, m->url), http_msg_minor(m));
	for (unsigned i = 0; i < m->nheaders; i++)
		buf_appendf(t, " %.*s=%.*s", (int)m->headers[i].name.len,
			    http_msg_ptr(m, m->headers[i].name), (int)m->headers[i].value.len,
			    http_msg_ptr(m, m->headers[i].value));
	buf_appendf(t, " body=%.*s ka=%d up=%d]", (int)body->len, body->data ? body->data : "",
		    http_msg_keep_alive(m), m->upgrade);
	if (m->parser.type == HTTP_RESPONSE)
		buf_appendf(t, "[status %d 1.%d]", http_msg_status(m), http_msg_minor(m));
}

/* Parses `data` arriving in two reads split at `split`, the way a connection
 * does: one growing buffer, compacted between messages. Returns the trace. */
static void parse_split_type(struct buf *t, llhttp_type_t type, const char *data, size_t n,
			     size_t split, size_t limit)
{
	struct buf in = BUF_INIT, body = BUF_INIT;
	struct http_msg m;
	size_t parse_off = 0;
	const size_t cuts[2] = { split, n };
	size_t from = 0;

	http_msg_init(&m, type, limit, collect_body, &body);
	for (int r = 0; r < 2; r++) {
		buf_append(&in, data + from, cuts[r] - from);
		from = cuts[r];
		for (;;) {
			size_t used = http_msg_feed(&m, in.data, parse_off, in.len - parse_off);

			parse_off += used;
			if (m.state == HTTP_MSG_ERROR) {
				buf_appendf(t, "[error %d]", m.error_status);
				goto out;
			}
			if (m.state == HTTP_MSG_DONE) {
				trace_message(t, &m, &body);
				if (m.upgrade) {
					/* the rest, read or not yet, is the tunnel's */
					buf_appendf(t, "[tunnel %.*s%.*s]", (int)(in.len - parse_off),
						    in.data + parse_off, (int)(n - from), data + from);
					goto out;
				}
				memmove(in.data, in.data + parse_off, in.len - parse_off);
				in.len -= parse_off;
				parse_off = 0;
				buf_reset(&body);
				http_msg_next(&m, 0);
				continue;
			}
			if (m.state == HTTP_MSG_BODY && used > 0)
				continue;	/* the head ended: feed what follows */
			if (parse_off == in.len)
				break;
		}
	}
out:
	buf_release(&in);
	buf_release(&body);
}

static void parse_split(struct buf *t, const char *data, size_t n, size_t split, size_t limit)
{
	parse_split_type(t, HTTP_REQUEST, data, n, split, limit);
}

static const char *const streams[] = {
	"GET /a?x=1 HTTP/1.1\r\nHost: example\r\nX-Request-Id: r1\r\n\r\n",
	"POST /p HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n"
	"{\"a\":[1,2]}",
	"POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
	"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer-X: y\r\n\r\n",
	"GET /1 HTTP/1.1\r\nHost: h\r\n\r\nPOST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
	"GET /3 HTTP/1.0\r\n\r\n",
	"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nraw-bytes",
	"HEAD / HTTP/1.1\r\nHost: h\r\nEmpty:\r\nSpaces:   v   \r\n\r\n",
	/* RFC 9110 6.2: a higher minor version is read as HTTP/1.1 */
	"GET /v HTTP/1.2\r\nHost: h\r\n\r\nGET /w HTTP/1.9\r\nHost: h\r\n\r\n",
	/* RFC 9110 7.6.1: Connection is a list; OWS (tabs too) around tokens */
	"GET /c HTTP/1.1\r\nHost: h\r\nConnection: close\t\r\n\r\n",
	"GET /k HTTP/1.0\r\nConnection:\tfoo ,\tKeep-Alive\r\n\r\n",
	/* RFC 9112 7.1.2: trailers, split anywhere */
	"POST /t HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
	"1\r\na\r\n0\r\nX-Long-Trailer: some value\r\nY:\r\nZ: 1\r\n\r\n",
};

static void test_every_split_parses_alike(void **state)
{
	(void)state;

	for (size_t s = 0; s < sizeof(streams) / sizeof(streams[0]); s++) {
		const char *data = streams[s];
		size_t n = strlen(data);
		struct buf whole = BUF_INIT;

		parse_split(&whole, data, n, n, 32768);
		buf_append(&whole, "", 1);
		assert_null(strstr(whole.data, "[error"));
		for (size_t k = 0; k <= n; k++) {
			struct buf t = BUF_INIT;

			parse_split(&t, data, n, k, 32768);
			buf_append(&t, "", 1);
			if (strcmp(t.data, whole.data) != 0)
				fail_msg("stream %zu split at %zu:\n  %s\nwhole:\n  %s", s, k, t.data,
					 whole.data);
			buf_release(&t);
		}
		buf_release(&whole);
	}
}

static void test_known_traces(void **state)
{
	struct buf t = BUF_INIT;
	(void)state;

	parse_split(&t, streams[2], strlen(streams[2]), 7, 32768);
	buf_append(&t, "", 1);
	assert_string_equal(t.data, "[POST /c 1.1 Host=h Transfer-Encoding=chunked body=hello world "
				    "ka=1 up=0]");
	buf_reset(&t);
	parse_split(&t, streams[5], strlen(streams[5]), 3, 32768);
	buf_append(&t, "", 1);
	assert_string_equal(t.data, "[HEAD / 1.1 Host=h Empty= Spaces=v body= ka=1 up=0]");
	buf_reset(&t);
	parse_split(&t, streams[6], strlen(streams[6]), 10, 32768);
	buf_append(&t, "", 1);
	assert_string_equal(t.data, "[GET /v 1.1 Host=h body= ka=1 up=0][GET /w 1.1 Host=h body= ka=1 up=0]");
	buf_reset(&t);
	parse_split(&t, streams[7], strlen(streams[7]), 0, 32768);
	buf_append(&t, "", 1);
	assert_string_equal(t.data, "[GET /c 1.1 Host=h Connection=close body= ka=0 up=0]");
	buf_reset(&t);
	parse_split(&t, streams[8], strlen(streams[8]), 0, 32768);
	buf_append(&t, "", 1);
	assert_string_equal(t.data, "[GET /k 1.0 Connection=foo ,\tKeep-Alive body= ka=1 up=0]");
	buf_release(&t);
}

static void test_malformed_requests(void **state)
{
	static const struct {
		const char *request;
		int status;
	} cases[] = {
		/* request smuggling shapes (RFC 9112 6.1, 6.3) */
		{ "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
		  "0\r\n\r\n", 400 },
		{ "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
		  "0\r\n\r\n", 400 },
		{ "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400 },
		{ "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 4\r\n\r\nabcd", 400 },
		{ "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400 },
		{ "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\n", 400 },
		{ "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\nabc", 400 },
		{ "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\nabc", 400 },
		{ "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
		  400 },
		{ "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
		  "3\r\nabcdef\r\n0\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n", 400 },		/* obs-fold */
		{ "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400 },			/* space before colon */
		{ "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nHost: a\x01z\r\n\r\n", 400 },			/* control byte */
		{ "GET / HTTP/1.1\r\nHost: a\x7fz\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\n: empty\r\n\r\n", 400 },
		{ "GARBAGE\r\n\r\n", 400 },
		/* RFC 9110 6.2: another major version is 505; a malformed one 400 */
		{ "GET / HTTP/9.9\r\n\r\n", 505 },
		{ "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505 },
		{ "GET / HTTP/3.0\r\nHost: a\r\n\r\n", 505 },
		{ "GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505 },
		{ "GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400 },
		{ "GET / HTTP/1.\r\nHost: a\r\n\r\n", 400 },
		/* no digits at all: malformed, not another version (fuzz_http_parser
		 * found it answered 505) */
		{ "GET / HTTP/\t1.1\r\nHost: a\r\n\r\n", 400 },
		{ "GET / HTTP/x.1\r\nHost: a\r\n\r\n", 400 },
		{ "GET /a b HTTP/1.1\r\n\r\n", 400 },
		/* RFC 9112 6.1: Transfer-Encoding must be a list ending in chunked */
		{ "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\nContent-Length: 5\r\n\r\nhello",
		  400 },
		{ "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \t \r\nContent-Length: 5\r\n\r\n"
		  "hello", 400 },
		{ "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ,\r\nContent-Length: 5\r\n\r\n"
		  "hello", 400 },
		{ "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
		  400 },
		{ "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
		  "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400 },
		{ "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding:\r\n\r\n"
		  "0\r\n\r\n", 400 },
		{ "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400 },
		{ "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\nhello",
		  400 },
		/* RFC 9110 9.1: a method token llhttp does not know is 501 */
		{ "QUERY / HTTP/1.1\r\nHost: a\r\n\r\n", 501 },
		{ "get / HTTP/1.1\r\nHost: a\r\n\r\n", 501 },
		{ "PROPFIX / HTTP/1.1\r\nHost: a\r\n\r\n", 501 },
		{ "GETS / HTTP/1.1\r\nHost: a\r\n\r\n", 501 },
		{ "\r\nQUERY / HTTP/1.1\r\nHost: a\r\n\r\n", 501 },
		{ "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400 },
		{ "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400 },
		{ "QUERY\r\n\r\n", 400 },
		{ " GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400 },
		/* RFC 9112 7.1.2: a trailer section is checked like a head; fields
		 * that frame or route the message are refused (RFC 9110 6.5.1) */
		{ "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: a\r\n b\r\n\r\n",
		  400 },
		{ "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX:\r\n b\r\n\r\n",
		  400 },
		{ "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: a\r\n\tb\r\n\r\n",
		  400 },
		{ "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX y: a\r\n\r\n",
		  400 },
		{ "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: a\x01\r\n\r\n",
		  400 },
		{ "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"
		  "Content-Length: 5\r\n\r\n", 400 },
		{ "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"
		  "transfer-encoding: chunked\r\n\r\n", 400 },
		{ "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nHost: b\r\n\r\n",
		  400 },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf t = BUF_INIT;
		char want[32];
		size_t n = strlen(cases[i].request);

		snprintf(want, sizeof(want), "[error %d]", cases[i].status);
		for (size_t k = 0; k <= n; k++) {
			buf_reset(&t);
			parse_split(&t, cases[i].request, n, k, 32768);
			buf_append(&t, "", 1);
			if (!strstr(t.data, want))
				fail_msg("case %zu (split %zu): got %s, want %s", i, k, t.data, want);
		}
		buf_release(&t);
	}
}

/* RFC 9110 5.5: a field value is VCHAR, SP, HTAB and obs-text; any other
 * control byte (and DEL) is refused and every other byte passes, wherever it
 * sits in the value (the check reads eight bytes at a time: first word,
 * second, the tail; llhttp's strict mode refuses most of the bad ones too). */
static void test_value_bytes_at_every_offset(void **state)
{
	(void)state;

	for (size_t pos = 0; pos < 18; pos++) {
		for (unsigned c = 0; c < 256; c++) {
			char req[128], value[19];
			struct buf t = BUF_INIT;
			int bad = (c < 0x20 && c != '\t') || c == 0x7f;
			size_t n;

			if (c == '\r' || c == '\n')
				continue;	/* the line's own structure, tested above */
			memset(value, 'v', 18);
			value[pos] = (char)c;
			value[18] = '\0';
			n = (size_t)snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: a\r\nX: ");
			memcpy(req + n, value, 18);
			n += 18;
			memcpy(req + n, "\r\n\r\n", 4);
			n += 4;
			parse_split(&t, req, n, n, 32768);
			buf_append(&t, "", 1);
			if ((strstr(t.data, "[error 400]") != NULL) != bad)
				fail_msg("byte 0x%02x at %zu: %s", c, pos, t.data);
			buf_release(&t);
		}
	}
}

static void test_header_limits(void **state)
{
	struct buf req = BUF_INIT, t = BUF_INIT;
	(void)state;

	/* a head over the limit, whether or not it has ended */
	buf_append_str(&req, "GET / HTTP/1.1\r\nX-Big: ");
	for (int i = 0; i < 2000; i++)
		buf_append_str(&req, "0123456789");
	parse_split(&t, req.data, req.len, req.len / 2, 8192);
	buf_append(&t, "", 1);
	assert_string_equal(t.data, "[error 431]");

	/* too many header lines */
	buf_reset(&req);
	buf_reset(&t);
	buf_append_str(&req, "GET / HTTP/1.1\r\n");
	for (int i = 0; i < HTTP_MAX_HEADERS + 1; i++)
		buf_appendf(&req, "X-%d: v\r\n", i);
	buf_append_str(&req, "\r\n");
	parse_split(&t, req.data, req.len, 10, 32768);
	buf_append(&t, "", 1);
	assert_string_equal(t.data, "[error 431]");
	buf_release(&req);
	buf_release(&t);
}

/* Responses: the framing rules of RFC 9112 6.1 and 7 on the backend side. */
static void test_responses(void **state)
{
	static const struct {
		const char *response;
		const char *trace;	/* of the whole stream, every split alike */
	} cases[] = {
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
		  "[error 400]" },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip, chunked\r\n\r\n0\r\n\r\n",
		  "[error 400]" },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\nabc", "[error 400]" },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding:\r\nContent-Length: 3\r\n\r\nabc", "[error 400]" },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nContent-Length: 1\r\n\r\n",
		  "[error 400]" },
		{ "HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n", "[error 502]" },
		/* HTTP/1.0 with Transfer-Encoding: read as framed, then close */
		{ "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		  "[RESPONSE  1.0 Transfer-Encoding=chunked body=abc ka=0 up=0][status 200 1.0]" },
		{ "HTTP/1.2 200 OK\r\nContent-Length: 2\r\n\r\nok",
		  "[RESPONSE  1.1 Content-Length=2 body=ok ka=1 up=0][status 200 1.1]" },
		{ "HTTP/1.1 200 OK\r\nConnection: close\t\r\nContent-Length: 2\r\n\r\nok",
		  "[RESPONSE  1.1 Connection=close Content-Length=2 body=ok ka=0 up=0][status 200 1.1]" },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = strlen(cases[i].response);

		for (size_t k = 0; k <= n; k++) {
			struct buf t = BUF_INIT;

			parse_split_type(&t, HTTP_RESPONSE, cases[i].response, n, k, 32768);
			buf_append(&t, "", 1);
			if (strcmp(t.data, cases[i].trace) != 0)
				fail_msg("response %zu split at %zu:\n  %s\nwant\n  %s", i, k, t.data,
					 cases[i].trace);
			buf_release(&t);
		}
	}
}

/* Bytes fed after an upgrade are refused, not parsed with llhttp's stale
 * state (lb-echo read past its buffer that way after a CONNECT). */
static void test_no_message_after_an_upgrade(void **state)
{
	static const char *const first[] = {
		"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
		"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\nContent-Length: 30\r\n\r\n",
	};
	static const char next[] = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
	(void)state;

	for (size_t i = 0; i < sizeof(first) / sizeof(first[0]); i++) {
		static struct http_msg m;
		size_t n = strlen(first[i]), used;

		http_msg_init(&m, HTTP_REQUEST, 32768, NULL, NULL);
		used = http_msg_feed(&m, first[i], 0, n);
		if (m.state == HTTP_MSG_BODY)
			used += http_msg_feed(&m, first[i], used, n - used);
		assert_int_equal(m.state, HTTP_MSG_DONE);
		assert_true(m.upgrade);
		assert_int_equal(used, n);
		http_msg_next(&m, 0);
		assert_int_equal(http_msg_feed(&m, next, 0, strlen(next)), 0);
		assert_int_equal(m.state, HTTP_MSG_ERROR);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_split_parses_alike),
		cmocka_unit_test(test_known_traces),
		cmocka_unit_test(test_malformed_requests),
		cmocka_unit_test(test_value_bytes_at_every_offset),
		cmocka_unit_test(test_header_limits),
		cmocka_unit_test(test_responses),
		cmocka_unit_test(test_no_message_after_an_upgrade),
	};
	return cmocka_run_group_tests_name("http_parser", tests, NULL, NULL);
}
