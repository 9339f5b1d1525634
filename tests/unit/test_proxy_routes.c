/* Unit tests for lb-proxy/http/routes.c: which requests --monitor-uri takes, the
 * flag's check, and the answer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "fixture.h"
#include "http/routes.h"

static void test_monitor_match(void **state)
{
	static const struct {
		const char *uri, *request;
		int match;
	} cases[] = {
		{ "/health", "GET /health HTTP/1.1\r\nHost: a\r\n\r\n", 1 },
		{ "/health", "HEAD /health HTTP/1.1\r\nHost: a\r\n\r\n", 1 },
		{ "/health", "POST /health HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", 1 },
		{ "/health", "GET /health?x=1&y HTTP/1.1\r\nHost: a\r\n\r\n", 1 },
		{ "/health", "GET /health? HTTP/1.1\r\nHost: a\r\n\r\n", 1 },
		{ "/health", "GET http://b.example/health?x HTTP/1.1\r\nHost: a\r\n\r\n", 1 },
		{ "/health", "GET /health/ HTTP/1.1\r\nHost: a\r\n\r\n", 0 },
		{ "/health", "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n", 0 },
		{ "/health", "GET /HEALTH HTTP/1.1\r\nHost: a\r\n\r\n", 0 },
		{ "/health", "GET /heal HTTP/1.1\r\nHost: a\r\n\r\n", 0 },
		{ "/health", "GET /%68ealth HTTP/1.1\r\nHost: a\r\n\r\n", 0 },	/* not decoded */
		{ "/health", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 0 },
		{ "/", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 1 },
		{ "/", "GET http://b.example HTTP/1.1\r\nHost: a\r\n\r\n", 1 },
		{ "/", "GET http://b.example?q HTTP/1.1\r\nHost: a\r\n\r\n", 1 },
		{ "/a", "GET http://b.example HTTP/1.1\r\nHost: a\r\n\r\n", 0 },
		{ NULL, "GET /health HTTP/1.1\r\nHost: a\r\n\r\n", 0 },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		static struct http_msg m;
		struct http_route route;
		const char *reason;

		http_msg_init(&m, HTTP_REQUEST, 32768, NULL, NULL);
		http_msg_feed(&m, cases[i].request, 0, strlen(cases[i].request));
		assert_int_equal(http_request_route(&m, &route, &reason), 0);
		if (routes_monitor_match(cases[i].uri, &m, &route) != cases[i].match)
			fail_msg("case %zu: %s against %s: want %d", i, cases[i].uri ? cases[i].uri : "NULL",
				 cases[i].request, cases[i].match);
	}
}

static void test_monitor_check(void **state)
{
	static const struct {
		const char *uri;
		int ok;
	} cases[] = {
		{ NULL, 1 }, { "/", 1 }, { "/health", 1 }, { "/-/ready", 1 }, { "/a/b;v=1", 1 },
		{ "/%7euser", 1 }, { "", 0 }, { "health", 0 }, { "/a?b", 0 }, { "/a#b", 0 },
		{ "/a b", 0 }, { "/a\tb", 0 }, { "/a\r\nX: y", 0 }, { "/\"q\"", 0 },
		{ "http://h/health", 0 },
	};
	char long_uri[ROUTES_MONITOR_URI_MAX + 2], err[512];
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		if ((routes_monitor_check(cases[i].uri, err, sizeof(err)) == 0) != cases[i].ok)
			fail_msg("case %zu \"%s\": want %s", i, cases[i].uri ? cases[i].uri : "NULL",
				 cases[i].ok ? "accepted" : "refused");
		if (!cases[i].ok)
			assert_non_null(strstr(err, "e.g. /health"));
	}
	long_uri[0] = '/';
	memset(long_uri + 1, 'a', ROUTES_MONITOR_URI_MAX);
	long_uri[ROUTES_MONITOR_URI_MAX + 1] = '\0';
	assert_int_equal(routes_monitor_check(long_uri, err, sizeof(err)), -1);
	long_uri[ROUTES_MONITOR_URI_MAX] = '\0';
	assert_int_equal(routes_monitor_check(long_uri, err, sizeof(err)), 0);
}

/* The answer counts the backends a pick could take now. */
static void test_monitor_answer(void **state)
{
	static const struct {
		int failed, down, stopping;	/* backends of 3 skipped / down; stopping */
		int status;
		const char *body;
	} cases[] = {
		{ 0, 0, 0, 200, "{\"status\":\"healthy\",\"backends_available\":3}" },
		{ 1, 1, 0, 200, "{\"status\":\"healthy\",\"backends_available\":1}" },
		{ 2, 1, 0, 503, "{\"status\":\"unhealthy\",\"backends_available\":0}" },
		{ 0, 0, 1, 503, "{\"status\":\"unhealthy\",\"backends_available\":3}" },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct proxy px;
		char body[ROUTES_BODY_MAX];
		size_t len;
		int k = 0;

		memset(&px, 0, sizeof(px));
		px.loop = ev_default_loop(0);
		fixture_set(&px.set, 3, NULL);
		for (int f = 0; f < cases[i].failed; f++)
			px.set.items[k++]->fail_until = ev_now(px.loop) + 10;
		for (int d = 0; d < cases[i].down; d++)
			px.set.items[k++]->state = BACKEND_DOWN;
		px.stopping = cases[i].stopping;
		assert_int_equal(routes_monitor_answer(&px, body, &len), cases[i].status);
		assert_int_equal(len, strlen(cases[i].body));
		assert_string_equal(body, cases[i].body);
		backend_set_release(&px.set);
	}
	{
		/* an empty set (on the bus before any set) */
		struct proxy px;
		char body[ROUTES_BODY_MAX];
		size_t len;

		memset(&px, 0, sizeof(px));
		px.loop = ev_default_loop(0);
		assert_int_equal(routes_monitor_answer(&px, body, &len), 503);
		assert_string_equal(body, "{\"status\":\"unhealthy\",\"backends_available\":0}");
	}
}

static void test_redirect_location(void **state)
{
	static const struct {
		const char *request;
		unsigned tls_port;
		const char *location;	/* NULL: -1 */
	} cases[] = {
		{ "GET / HTTP/1.1\r\nHost: a.example\r\n\r\n", 443,
		  "Location: https://a.example/\r\n" },
		{ "GET /p/q?x=1&y HTTP/1.1\r\nHost: a.example:8080\r\n\r\n", 8443,
		  "Location: https://a.example:8443/p/q?x=1&y\r\n" },
		{ "GET /p HTTP/1.1\r\nHost: a.example:80\r\n\r\n", 443,
		  "Location: https://a.example/p\r\n" },
		{ "GET /v6 HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", 8443,
		  "Location: https://[::1]:8443/v6\r\n" },
		{ "GET /v6 HTTP/1.1\r\nHost: [::1]\r\n\r\n", 443, "Location: https://[::1]/v6\r\n" },
		{ "GET http://b.example:81?q HTTP/1.1\r\nHost: a\r\n\r\n", 8443,
		  "Location: https://b.example:8443/?q\r\n" },
		{ "GET http://b.example HTTP/1.1\r\nHost: a\r\n\r\n", 443,
		  "Location: https://b.example/\r\n" },
		{ "OPTIONS * HTTP/1.1\r\nHost: a:1\r\n\r\n", 443, "Location: https://a/\r\n" },
		{ "GET /x HTTP/1.0\r\n\r\n", 443, NULL },
	};
	char out[64];
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		static struct http_msg m;
		struct http_route route;
		const char *reason;
		int n;

		http_msg_init(&m, HTTP_REQUEST, 32768, NULL, NULL);
		http_msg_feed(&m, cases[i].request, 0, strlen(cases[i].request));
		assert_int_equal(http_request_route(&m, &route, &reason), 0);
		n = routes_redirect_location(out, sizeof(out), &m, &route, cases[i].tls_port);
		if (!cases[i].location) {
			assert_int_equal(n, -1);
			continue;
		}
		assert_int_equal(n, (int)strlen(cases[i].location));
		assert_string_equal(out, cases[i].location);
	}
	/* a target that does not fit */
	{
		static struct http_msg m;
		struct http_route route;
		const char *reason;
		const char *req = "GET /a-long-path-that-does-not-fit-in-the-buffer-given HTTP/1.1\r\n"
				  "Host: a.example\r\n\r\n";

		http_msg_init(&m, HTTP_REQUEST, 32768, NULL, NULL);
		http_msg_feed(&m, req, 0, strlen(req));
		assert_int_equal(http_request_route(&m, &route, &reason), 0);
		assert_int_equal(routes_redirect_location(out, 40, &m, &route, 443), -1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_monitor_match),
		cmocka_unit_test(test_monitor_check),
		cmocka_unit_test(test_monitor_answer),
		cmocka_unit_test(test_redirect_location),
	};
	return cmocka_run_group_tests_name("proxy_routes", tests, NULL, NULL);
}
