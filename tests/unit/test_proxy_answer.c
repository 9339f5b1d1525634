/* Unit tests for lb-proxy/http/answer.c: the proxy's own answers, their
 * status, head, JSON body and what they do to the connection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "fixture.h"
#include "http/answer.h"

static void assert_contains(const char *haystack, const char *needle)
{
	if (!strstr(haystack, needle))
		fail_msg("\"%s\" not in:\n%s", needle, haystack);
}

static void assert_lacks(const char *haystack, const char *needle)
{
	if (strstr(haystack, needle))
		fail_msg("\"%s\" in:\n%s", needle, haystack);
}

/* The answer's effect on the exchange, whatever the answer. */
static void assert_answered(struct fixture_proxy *f, int status)
{
	char line[32];

	snprintf(line, sizeof(line), "HTTP/1.1 %d ", status);
	assert_int_equal(f->s.status, status);
	assert_int_equal(f->s.state, SESSION_EXCHANGE);
	assert_true(f->s.resp_done);
	assert_true(f->s.req_done);
	assert_true(f->s.again);
	assert_int_equal(f->s.send_off, f->s.parse_off);
	assert_int_equal(strncmp(fixture_out(&f->s), line, strlen(line)), 0);
	assert_contains(fixture_out(&f->s), "\r\nX-Request-Id: req-1\r\n");
	assert_contains(fixture_out(&f->s), "\r\nContent-Type: application/json\r\n");
}

static void test_errors(void **state)
{
	static const struct {
		int status;
		const char *message;
		int method, keep_alive, req_done, stopping;
		int keep;		/* the connection stays open */
	} cases[] = {
		{ 502, "backend failed", HTTP_GET, 1, 1, 0, 1 },
		{ 503, "no backends available", HTTP_GET, 1, 1, 0, 1 },
		{ 504, "backend timed out", HTTP_GET, 1, 1, 0, 1 },
		{ 503, "proxy out of resources", HTTP_POST, 1, 1, 0, 1 },
		/* the connection is already going, or the request is not all read */
		{ 502, "backend failed", HTTP_GET, 0, 1, 0, 0 },
		{ 502, "backend failed", HTTP_GET, 1, 0, 0, 0 },
		{ 502, "backend failed", HTTP_GET, 1, 1, 1, 0 },
		/* a refused request leaves the framing in doubt */
		{ 400, "bad request", HTTP_GET, 1, 1, 0, 0 },
		{ 408, "request body timeout", HTTP_GET, 1, 1, 0, 0 },
		{ 413, "request body too large", HTTP_GET, 1, 1, 0, 0 },
		{ 431, "request header fields too large", HTTP_GET, 1, 1, 0, 0 },
		{ 501, "not implemented", HTTP_GET, 1, 1, 0, 0 },
		{ 505, "HTTP version not supported", HTTP_GET, 1, 1, 0, 0 },
		/* no body to HEAD, the same head */
		{ 504, "backend timed out", HTTP_HEAD, 1, 1, 0, 1 },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fixture_proxy f;
		char body[256];
		int n = snprintf(body, sizeof(body), "{\"error\":\"%s\",\"status\":%d,\"requestId\":\"req-1\"}",
				 cases[i].message, cases[i].status);

		fixture_proxy_init(&f, -1);
		f.s.method = cases[i].method;
		f.s.keep_alive = cases[i].keep_alive;
		f.s.req_done = cases[i].req_done;
		f.px.stopping = cases[i].stopping;
		f.x.uparse_off = f.x.usend_off = 7;	/* a backend's bytes: dropped */
		answer_error(&f.s, cases[i].status, cases[i].message);
		assert_answered(&f, cases[i].status);
		assert_int_equal(f.s.keep_alive, cases[i].keep);
		assert_contains(fixture_out(&f.s), cases[i].keep ? "\r\nConnection: keep-alive\r\n"
								  : "\r\nConnection: close\r\n");
		{
			char length[64];

			snprintf(length, sizeof(length), "\r\nContent-Length: %d\r\n", n);
			assert_contains(fixture_out(&f.s), length);
		}
		if (cases[i].method == HTTP_HEAD) {
			assert_string_equal(fixture_out_body(&f.s), "");
			assert_int_equal(f.x.bytes_out, 0);
		} else {
			assert_string_equal(fixture_out_body(&f.s), body);
			assert_int_equal(f.x.bytes_out, n);
		}
		assert_int_equal(f.x.uparse_off, 0);
		assert_int_equal(f.x.usend_off, 0);
		fixture_proxy_release(&f);
	}
}

static void test_refuse(void **state)
{
	static const struct {
		int status;
		const char *message;
	} cases[] = {
		{ 400, "bad request" },
		{ 413, "request body too large" },
		{ 414, "bad request" },
		{ 431, "request header fields too large" },
		{ 501, "not implemented" },
		{ 505, "HTTP version not supported" },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fixture_proxy f;
		char body[256];

		fixture_proxy_init(&f, -1);
		answer_refuse(&f.s, cases[i].status, "a reason");
		assert_answered(&f, cases[i].status);
		assert_string_equal(f.x.refusal, "a reason");
		assert_int_equal(f.s.keep_alive, 0);
		assert_contains(fixture_out(&f.s), "\r\nConnection: close\r\n");
		snprintf(body, sizeof(body), "{\"error\":\"%s\",\"status\":%d,\"requestId\":\"req-1\"}",
			 cases[i].message, cases[i].status);
		assert_string_equal(fixture_out_body(&f.s), body);
		fixture_proxy_release(&f);
	}
}

static void test_overloaded(void **state)
{
	struct fixture_proxy f;
	(void)state;

	fixture_proxy_init(&f, -1);
	answer_overloaded(&f.s);
	assert_answered(&f, 503);
	assert_int_equal(f.s.keep_alive, 1);
	assert_contains(fixture_out(&f.s), "\r\nRetry-After: 1\r\n");
	assert_string_equal(fixture_out_body(&f.s),
			    "{\"error\":\"overloaded\",\"status\":503,\"requestId\":\"req-1\"}");
	fixture_proxy_release(&f);
}

static void test_rate_limited(void **state)
{
	static const struct {
		struct ratelimit_verdict v;
		const char *fields;
	} cases[] = {
		{ { 0, 10, 0, 3, 1 }, "\r\nRetry-After: 1\r\nRateLimit-Limit: 10\r\n"
				      "RateLimit-Remaining: 0\r\nRateLimit-Reset: 3\r\n" },
		{ { 0, 600, 0, 60, 6 }, "\r\nRetry-After: 6\r\nRateLimit-Limit: 600\r\n"
					"RateLimit-Remaining: 0\r\nRateLimit-Reset: 60\r\n" },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fixture_proxy f;

		fixture_proxy_init(&f, -1);
		answer_rate_limited(&f.s, &cases[i].v);
		assert_answered(&f, 429);
		assert_int_equal(f.s.keep_alive, 1);
		assert_contains(fixture_out(&f.s), cases[i].fields);
		assert_string_equal(fixture_out_body(&f.s),
				    "{\"error\":\"rate limited\",\"status\":429,\"requestId\":\"req-1\"}");
		fixture_proxy_release(&f);
	}
}

static void test_plain_http(void **state)
{
	struct fixture_proxy f;
	(void)state;

	fixture_proxy_init(&f, -1);
	f.s.state = SESSION_HANDSHAKE;
	buf_append(&f.s.out, "stale", 5);
	assert_int_equal(answer_plain_http(&f.s), 0);
	assert_int_equal(f.s.state, SESSION_CLOSING);
	assert_true(f.s.linger);
	assert_true(f.s.timer_dirty);
	assert_true(f.s.timer.repeat == f.opts.idle_timeout);
	assert_string_equal(fixture_out(&f.s), "HTTP/1.1 400 Bad Request\r\n"
					       "Content-Type: text/plain\r\n"
					       "Content-Length: 41\r\n"
					       "Connection: close\r\n\r\n"
					       "this port speaks TLS: use https:// here\r\n");
	assert_lacks(fixture_out(&f.s), "stale");
	fixture_proxy_release(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_refuse),
		cmocka_unit_test(test_overloaded),
		cmocka_unit_test(test_rate_limited),
		cmocka_unit_test(test_plain_http),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
