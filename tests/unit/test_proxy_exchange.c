/* Unit tests for lb-proxy/http/exchange.c and forward.c together: a
 * session's state through forward's verdicts (the proxy's answer, a retry,
 * the queue, a cut), and whole exchanges the proxy answers itself, over a
 * socketpair. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fixture.h"
#include "http/exchange.h"
#include "http/exchange_pool.h"
#include "http/forward.h"

static void assert_contains(const char *haystack, const char *needle)
{
	if (!strstr(haystack, needle))
		fail_msg("\"%s\" not in:\n%s", needle, haystack);
}

/* exchange_act: what each verdict does to the session. */
static void test_act(void **state)
{
	static const struct {
		enum forward_verdict v;
		int rc;			/* -1: the session must close */
		int status;		/* answered, or 0 */
		const char *body;	/* in the answer */
	} cases[] = {
		{ FORWARD_GOING, 0, 0, NULL },
		{ FORWARD_DECLINED, 0, 0, NULL },
		{ FORWARD_CLOSE, -1, 0, NULL },
		{ FORWARD_NO_BACKENDS, 0, 503, "\"error\":\"no backends available\"" },
		{ FORWARD_FAILED, 0, 502, "\"error\":\"backend failed\"" },
		{ FORWARD_TIMED_OUT, 0, 504, "\"error\":\"backend timed out\"" },
		{ FORWARD_NO_RESOURCES, 0, 503, "\"error\":\"proxy out of resources\"" },
		{ FORWARD_OVERLOADED, 0, 503, "\"error\":\"overloaded\"" },
		/* a retry with no backend left: the answer of the next attempt */
		{ FORWARD_RETRY, 0, 503, "\"error\":\"no backends available\"" },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fixture_proxy f;

		fixture_proxy_init(&f, -1);
		f.s.state = SESSION_CONNECT;
		assert_int_equal(exchange_act(&f.s, cases[i].v), cases[i].rc);
		assert_int_equal(f.s.status, cases[i].status);
		if (cases[i].status) {
			assert_int_equal(f.s.state, SESSION_EXCHANGE);
			assert_true(f.s.resp_done);
			assert_contains(fixture_out(&f.s), cases[i].body);
		} else {
			assert_int_equal(f.s.state, SESSION_CONNECT);
			assert_int_equal(f.s.out.len, 0);
		}
		assert_int_equal(f.x.retries, cases[i].v == FORWARD_RETRY);
		assert_int_equal(f.px.retries_in_flight, cases[i].v == FORWARD_RETRY);
		fixture_proxy_release(&f);
	}
}

/* A retry resets the response side, rewinds the request, and waits its
 * backoff (SESSION_BACKOFF) before the next pick. */
static void test_retry_backoff(void **state)
{
	struct fixture_proxy f;
	(void)state;

	fixture_proxy_init(&f, -1);
	http_msg_init(&f.x.resp, HTTP_RESPONSE, 8192, NULL, NULL);
	f.px.retry.backoff_base = 1.0;
	f.px.retry.backoff_max = 1.0;
	f.s.resp_started = f.s.resp_interim = 1;
	f.x.uparse_off = f.x.usend_off = 9;
	f.x.body_start = 40;
	f.s.send_off = 90;
	f.s.req_sent_any = 1;
	f.x.up_head.pos = 33;
	assert_int_equal(exchange_act(&f.s, FORWARD_RETRY), 0);
	assert_int_equal(f.s.state, SESSION_BACKOFF);
	assert_true(f.s.timer_dirty);
	assert_true(f.s.timer.repeat > 0 && f.s.timer.repeat <= 1.0);
	assert_true(f.s.again);
	assert_int_equal(f.x.retries, 1);
	assert_int_equal(f.s.status, 0);
	assert_false(f.s.resp_started);
	assert_false(f.s.resp_interim);
	assert_int_equal(f.x.uparse_off, 0);
	assert_int_equal(f.s.send_off, 40);
	assert_false(f.s.req_sent_any);
	assert_int_equal(f.x.up_head.pos, 0);
	/* the backoff's end: the next pick (no backend: 503) */
	assert_int_equal(exchange_act(&f.s, forward_begin(&f.s)), 0);
	assert_int_equal(f.s.status, 503);
	fixture_proxy_release(&f);
}

/* forward_failed: retried, answered, or cut, by --retry-on, --retries and
 * what of the exchange already happened. */
static void test_failed(void **state)
{
	enum { C = 1u << RETRY_CONNECT_FAILURE, R = 1u << RETRY_RESET, T = 1u << RETRY_TIMEOUT };
	static const struct {
		long retries;		/* --retries */
		unsigned on;		/* --retry-on */
		int status, connect_error, method, req_sent_any, replayable, resp_head_done;
		enum forward_verdict want;
		int reason;		/* counted in retries_by, or -1 */
	} cases[] = {
		{ 2, C | R, 502, 1, HTTP_GET, 0, 1, 0, FORWARD_RETRY, RETRY_CONNECT_FAILURE },
		{ 0, C | R, 502, 1, HTTP_GET, 0, 1, 0, FORWARD_NO_BACKENDS, -1 },
		{ 2, R, 502, 1, HTTP_GET, 0, 1, 0, FORWARD_NO_BACKENDS, -1 },
		{ 2, C | R, 502, 0, HTTP_GET, 0, 1, 0, FORWARD_RETRY, RETRY_RESET },
		{ 0, C | R, 502, 0, HTTP_GET, 0, 1, 0, FORWARD_FAILED, -1 },
		{ 2, C | R, 504, 0, HTTP_GET, 0, 1, 0, FORWARD_TIMED_OUT, -1 },
		{ 2, C | R | T, 504, 0, HTTP_GET, 0, 1, 0, FORWARD_RETRY, RETRY_TIMEOUT },
		/* request bytes went out: only an idempotent request still whole */
		{ 2, C | R, 502, 0, HTTP_GET, 1, 1, 0, FORWARD_RETRY, RETRY_RESET },
		{ 2, C | R, 502, 0, HTTP_POST, 1, 1, 0, FORWARD_FAILED, -1 },
		{ 2, C | R, 502, 0, HTTP_GET, 1, 0, 0, FORWARD_FAILED, -1 },
		{ 2, C | R, 502, 0, HTTP_POST, 0, 1, 0, FORWARD_RETRY, RETRY_RESET },
		/* part of the response went out */
		{ 2, C | R, 502, 0, HTTP_GET, 1, 1, 1, FORWARD_CLOSE, -1 },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fixture_proxy f;
		enum forward_verdict v;

		fixture_proxy_init(&f, -1);
		f.opts.retries = cases[i].retries;
		f.px.retry.on = cases[i].on;
		f.s.method = cases[i].method;
		f.s.req_sent_any = cases[i].req_sent_any;
		f.s.replayable = cases[i].replayable;
		f.s.resp_head_done = cases[i].resp_head_done;
		f.s.resp_started = cases[i].resp_head_done;
		v = forward_failed(&f.s, "reset", "a test", cases[i].status, cases[i].connect_error);
		if (v != cases[i].want)
			fail_msg("case %zu: verdict %d, want %d", i, (int)v, (int)cases[i].want);
		for (int r = 0; r < RETRY_REASONS; r++)
			assert_int_equal(f.px.metrics.retries_by[r], r == cases[i].reason);
		fixture_proxy_release(&f);
	}
}

/* forward_retry_response: a 5xx head --retry-on names goes elsewhere, for
 * an idempotent request read whole; else it is relayed. */
static void test_retry_response(void **state)
{
	enum { G = 1u << RETRY_GATEWAY_ERROR, X = 1u << RETRY_5XX };
	static const struct {
		unsigned on;
		int status, method, req_done, resp_interim, retries;
		enum forward_verdict want;
	} cases[] = {
		{ G, 503, HTTP_GET, 1, 0, 0, FORWARD_RETRY },
		{ G, 500, HTTP_GET, 1, 0, 0, FORWARD_DECLINED },
		{ X, 500, HTTP_GET, 1, 0, 0, FORWARD_RETRY },
		{ 0, 503, HTTP_GET, 1, 0, 0, FORWARD_DECLINED },
		{ G, 503, HTTP_POST, 1, 0, 0, FORWARD_DECLINED },
		{ G, 503, HTTP_GET, 0, 0, 0, FORWARD_DECLINED },
		{ G, 503, HTTP_GET, 1, 1, 0, FORWARD_DECLINED },	/* a 1xx went out */
		{ G, 503, HTTP_GET, 1, 0, 2, FORWARD_DECLINED },	/* --retries spent */
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fixture_proxy f;

		fixture_proxy_init(&f, -1);
		f.px.retry.on = cases[i].on;
		f.s.method = cases[i].method;
		f.s.req_done = cases[i].req_done;
		f.s.resp_interim = cases[i].resp_interim;
		f.x.retries = cases[i].retries;
		assert_int_equal(forward_retry_response(&f.s, cases[i].status), cases[i].want);
		fixture_proxy_release(&f);
	}
}

/* Every backend at --max-per-backend: the request waits, or is refused when
 * the queue is full; one that waited too long is refused too. */
static void test_queue_verdicts(void **state)
{
	static const struct {
		long queue_size;
		int woken;		/* for the dequeue: a slot freed for it */
		enum forward_verdict begin, dequeue;
		const char *refusal;
	} cases[] = {
		{ 4, 0, FORWARD_GOING, FORWARD_OVERLOADED, "queue timeout" },
		{ 0, 0, FORWARD_OVERLOADED, FORWARD_GOING, "queue full" },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fixture_proxy f;

		fixture_proxy_init(&f, -1);
		f.opts.max_per_backend = 1;
		f.opts.queue_size = cases[i].queue_size;
		balance_set_max_active(1);
		balancer_release(&f.px.balancer);
		fixture_set(&f.px.set, 1, NULL);
		fixture_balancer(&f.px.balancer, "round-robin", &f.px.set);
		f.px.set.items[0]->active = 1;
		assert_int_equal(forward_begin(&f.s), cases[i].begin);
		if (cases[i].begin == FORWARD_GOING) {
			assert_int_equal(f.s.state, SESSION_QUEUED);
			assert_int_equal(f.px.metrics.queue_length, 1);
			assert_int_equal(forward_dequeue(&f.s), cases[i].dequeue);
			assert_int_equal(f.px.metrics.queue_timeouts, 1);
		} else {
			assert_int_equal(f.px.metrics.queue_full, 1);
		}
		assert_int_equal(f.px.metrics.queue_length, 0);
		assert_string_equal(f.x.refusal, cases[i].refusal);
		assert_int_equal(exchange_act(&f.s, FORWARD_OVERLOADED), 0);
		assert_int_equal(f.s.status, 503);
		f.px.set.items[0]->active = 0;
		balance_set_max_active(0);
		fixture_proxy_release(&f);
	}
}

/* Whole exchanges the proxy answers itself (no backend in the set), from
 * the request's bytes to what the client reads and the state after. */
static void test_own_answers(void **state)
{
	static const struct {
		const char *request;
		long max_body;
		int status;
		enum session_state after;	/* SESSION_IDLE: kept alive */
		const char *connection;
	} cases[] = {
		{ "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 0, 503, SESSION_IDLE, "keep-alive" },
		{ "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 0, 503, SESSION_CLOSING,
		  "close" },
		{ "GET / HTTP/1.0\r\n\r\n", 0, 503, SESSION_CLOSING, "close" },
		{ "GET / HTTP/9.9\r\nHost: a\r\n\r\n", 0, 505, SESSION_CLOSING, "close" },
		{ "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n", 10, 413,
		  SESSION_CLOSING, "close" },
		{ "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 0, 400, SESSION_CLOSING, "close" },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		static const struct proxy_listener via;
		struct fixture_proxy f;
		char got[2048], line[64];
		ssize_t n;
		int sv[2];

		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
		fixture_proxy_init(&f, sv[0]);
		f.opts.max_body = cases[i].max_body;
		f.s.via = &via;
		f.s.x = NULL;
		f.s.state = SESSION_IDLE;
		f.s.keep_alive = f.s.req_done = 0;
		buf_append(&f.s.in, cases[i].request, strlen(cases[i].request));
		assert_int_equal(exchange_request_step(&f.s), 0);
		assert_int_equal(f.s.state, SESSION_EXCHANGE);
		assert_int_equal(f.s.status, cases[i].status);
		assert_int_equal(f.px.requests_in_flight, cases[i].status == 503);
		assert_int_equal(exchange_step(&f.s), 0);
		assert_int_equal(f.s.state, cases[i].after);
		assert_int_equal(f.px.metrics.requests, 1);
		assert_int_equal(f.px.metrics.responses[cases[i].status / 100], 1);
		assert_int_equal(f.px.requests_in_flight, 0);
		if (cases[i].after == SESSION_IDLE) {
			assert_null(f.s.x);	/* back in the pool */
			assert_int_equal(f.s.in.len, 0);
			assert_true(f.s.served);
		}
		n = read(sv[1], got, sizeof(got) - 1);
		assert_true(n > 0);
		got[n] = '\0';
		snprintf(line, sizeof(line), "HTTP/1.1 %d ", cases[i].status);
		assert_int_equal(strncmp(got, line, strlen(line)), 0);
		snprintf(line, sizeof(line), "\r\nConnection: %s\r\n", cases[i].connection);
		assert_contains(got, line);
		snprintf(line, sizeof(line), "\"status\":%d,\"requestId\":\"", cases[i].status);
		assert_contains(got, line);
		/* the body's bytes are counted (for the access log) in the
		 * exchange, which a kept-alive connection gave back */
		assert_non_null(strstr(got, "\r\n\r\n"));
		if (cases[i].after != SESSION_IDLE)
			assert_int_equal(f.s.x->bytes_out, strlen(strstr(got, "\r\n\r\n") + 4));
		if (f.s.x)
			exchange_pool_give(&f.s);
		close(sv[0]);
		close(sv[1]);
		fixture_proxy_release(&f);
	}
	exchange_pool_release();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_act),
		cmocka_unit_test(test_retry_backoff),
		cmocka_unit_test(test_failed),
		cmocka_unit_test(test_retry_response),
		cmocka_unit_test(test_queue_verdicts),
		cmocka_unit_test(test_own_answers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
