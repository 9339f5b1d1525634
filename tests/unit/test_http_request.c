/* Unit tests for common/http_request.c: the target forms and Host rules of
 * RFC 9112 section 3, and what a request is routed with. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "http_request.h"

static const struct {
	const char *request;
	int status;		/* 0: routed */
	const char *route;	/* "path|authority" when routed; authority "-" when none */
} cases[] = {
	/* RFC 9112 3.2.1: origin-form with exactly one Host */
	{ "GET /a?b=1 HTTP/1.1\r\nHost: a.example\r\n\r\n", 0, "/a?b=1|a.example" },
	{ "GET / HTTP/1.1\r\nHost: a.example:8080\r\n\r\n", 0, "/|a.example:8080" },
	{ "GET / HTTP/1.1\r\nHost: 10.0.0.1\r\n\r\n", 0, "/|10.0.0.1" },
	{ "GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n", 0, "/|[::1]:80" },
	{ "GET / HTTP/1.1\r\nHost: [2001:db8::7]\r\n\r\n", 0, "/|[2001:db8::7]" },
	{ "GET / HTTP/1.1\r\nHost: xn--bcher-kva.example\r\n\r\n", 0, "/|xn--bcher-kva.example" },
	{ "GET / HTTP/1.1\r\nHost: a%2Db.example\r\n\r\n", 0, "/|a%2Db.example" },
	{ "GET / HTTP/1.1\r\nHost:\r\n\r\n", 0, "/|" },		/* 3.2: empty when no authority */
	{ "GET / HTTP/1.0\r\n\r\n", 0, "/|-" },			/* HTTP/1.0 may omit it */
	{ "GET / HTTP/1.0\r\nHost: a\r\n\r\n", 0, "/|a" },
	/* RFC 9112 3.2: missing, repeated or invalid Host is 400 */
	{ "GET / HTTP/1.1\r\n\r\n", 400, NULL },
	{ "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400, NULL },
	{ "GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 400, NULL },
	{ "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400, NULL },
	{ "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, NULL },
	{ "GET / HTTP/1.1\r\nHost: u@a.example\r\n\r\n", 400, NULL },
	{ "GET / HTTP/1.1\r\nHost: a.example/x\r\n\r\n", 400, NULL },
	{ "GET / HTTP/1.1\r\nHost: a.example, b.example\r\n\r\n", 400, NULL },
	{ "GET / HTTP/1.1\r\nHost: a.example:80:80\r\n\r\n", 400, NULL },
	{ "GET / HTTP/1.1\r\nHost: a.example:99999\r\n\r\n", 400, NULL },
	{ "GET / HTTP/1.1\r\nHost: a.example:8x\r\n\r\n", 400, NULL },
	{ "GET / HTTP/1.1\r\nHost: :80\r\n\r\n", 400, NULL },
	{ "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", 400, NULL },
	{ "GET / HTTP/1.1\r\nHost: [zz]\r\n\r\n", 400, NULL },
	{ "GET / HTTP/1.1\r\nHost: a%zz\r\n\r\n", 400, NULL },
	{ "GET / HTTP/1.1\r\nHost: a\"b\r\n\r\n", 400, NULL },
	/* RFC 9112 3.2.2: absolute-form; its authority replaces Host */
	{ "GET http://b.example/x?y HTTP/1.1\r\nHost: a.example\r\n\r\n", 0, "/x?y|b.example" },
	{ "GET HTTPS://b.example:8443/x HTTP/1.1\r\nHost: b.example\r\n\r\n", 0,
	  "/x|b.example:8443" },
	{ "GET http://b.example HTTP/1.1\r\nHost: b.example\r\n\r\n", 0, "/|b.example" },
	{ "GET http://b.example?q HTTP/1.1\r\nHost: b.example\r\n\r\n", 0, "/?q|b.example" },
	{ "GET http://b.example/x HTTP/1.0\r\n\r\n", 0, "/x|b.example" },
	{ "GET http://b.example/x HTTP/1.1\r\n\r\n", 400, NULL },	/* Host still required */
	{ "GET http://:/x HTTP/1.1\r\nHost: a\r\n\r\n", 400, NULL },
	{ "GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", 400, NULL },
	{ "GET http://u@b.example/ HTTP/1.1\r\nHost: b.example\r\n\r\n", 400, NULL },
	{ "GET ftp://b.example/ HTTP/1.1\r\nHost: b.example\r\n\r\n", 400, NULL },
	{ "GET http:/x HTTP/1.1\r\nHost: a\r\n\r\n", 400, NULL },
	{ "GET http://a b/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, NULL },
	/* RFC 9112 3.2.4: asterisk-form only with OPTIONS */
	{ "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", 0, "*|a" },
	{ "GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400, NULL },
	{ "OPTIONS */x HTTP/1.1\r\nHost: a\r\n\r\n", 400, NULL },
	/* RFC 9112 3.2.3: authority-form is CONNECT's, and CONNECT is not
	 * supported (RFC 9110 9.3.6) */
	{ "CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n", 501, NULL },
	{ "GET a.example:443 HTTP/1.1\r\nHost: a.example\r\n\r\n", 400, NULL },
	/* RFC 9112 3.2: no fragment in a request target */
	{ "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", 400, NULL },
};

static void test_routes(void **state)
{
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		static struct http_msg m;
		struct http_route r;
		const char *reason = NULL, *req = cases[i].request;
		char got[256];
		size_t n = strlen(req), used;
		int status;

		http_msg_init(&m, HTTP_REQUEST, 32768, NULL, NULL);
		used = http_msg_feed(&m, req, 0, n);
		(void)used;
		/* llhttp refuses some malformed targets itself */
		if (m.state == HTTP_MSG_ERROR)
			status = m.error_status;
		else
			status = http_request_route(&m, &r, &reason);
		if (status != cases[i].status)
			fail_msg("case %zu: status %d (%s), want %d", i, status, reason ? reason : "",
				 cases[i].status);
		if (status)
			continue;
		snprintf(got, sizeof(got), "%s%.*s|%.*s", r.path_slash ? "/" : "", (int)r.path.len,
			 http_msg_ptr(&m, r.path), r.has_authority ? (int)r.authority.len : 1,
			 r.has_authority ? http_msg_ptr(&m, r.authority) : "-");
		if (strcmp(got, cases[i].route) != 0)
			fail_msg("case %zu: routed %s, want %s", i, got, cases[i].route);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes),
	};
	return cmocka_run_group_tests_name("http_request", tests, NULL, NULL);
}
