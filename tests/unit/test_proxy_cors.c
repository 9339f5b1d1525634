/* Unit tests for lb-proxy/policy/cors.c: what a policy accepts, which origins
 * it allows, and the fields of preflight answers and responses (the Fetch
 * standard's CORS protocol, 3.2; the Gateway API's HTTPCORSFilter). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "policy/cors.h"
#include "policy/headers.h"

#define LIST(...) ((const char *const[]){ __VA_ARGS__ })

static struct cors_policy *compiled(const char *origins, const char *methods,
				    const char *headers, const char *expose, int credentials)
{
	static struct cors_policy p;
	struct cors_settings s = { LIST(origins), LIST(methods), LIST(headers), LIST(expose),
				   origins ? 1 : 0, methods ? 1 : 0, headers ? 1 : 0,
				   expose ? 1 : 0, CORS_MAX_AGE_DEFAULT, credentials };
	char err[256];

	if (cors_policy_compile(&p, &s, err, sizeof(err)) == -1)
		fail_msg("refused: %s", err);
	return &p;
}

static void test_settings_accepted_and_refused(void **state)
{
	static const struct {
		const char *origins, *methods, *headers, *expose;
		int credentials;
		const char *error;	/* NULL: accepted; else part of the message */
	} cases[] = {
		{ "https://app.example", NULL, NULL, NULL, 0, NULL },
		{ "https://app.example, http://localhost:3000", "PUT,DELETE", "X-Token", "X-A", 1, NULL },
		{ "https://*.example.com", "*", "*", "*", 0, NULL },
		{ "*", NULL, NULL, NULL, 1, NULL },
		{ "http://[::1]:8080", NULL, NULL, NULL, 0, NULL },
		{ "https://*", NULL, NULL, NULL, 0, NULL },
		{ "ftp://app.example", NULL, NULL, NULL, 0, "an origin is http(s)://HOST[:PORT]" },
		{ "app.example", NULL, NULL, NULL, 0, "an origin is" },
		{ "https://app.example/path", NULL, NULL, NULL, 0, "an origin is" },
		{ "https://app.example:0", NULL, NULL, NULL, 0, "an origin is" },
		{ "https://app.example:65536", NULL, NULL, NULL, 0, "an origin is" },
		{ "https://a*.example", NULL, NULL, NULL, 0, "an origin is" },
		{ "https://u@app.example", NULL, NULL, NULL, 0, "an origin is" },
		{ "*, https://app.example", NULL, NULL, NULL, 0, "give it alone" },
		{ "https://a.example", "GET,*", NULL, NULL, 0, "--cors-methods: * means every one" },
		{ "https://a.example", "GE T", NULL, NULL, 0, "--cors-methods \"GE T\": must be a token" },
		{ "https://a.example", NULL, "X-(A)", NULL, 0, "--cors-headers \"X-(A)\"" },
		{ "https://a.example", NULL, NULL, "*", 1, "not with --cors-credentials" },
		{ NULL, "PUT", NULL, NULL, 0, "need --cors-origins" },
		{ NULL, NULL, NULL, NULL, 1, "need --cors-origins" },
	};
	char err[256];
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		static struct cors_policy p;
		struct cors_settings s = {
			LIST(cases[i].origins), LIST(cases[i].methods), LIST(cases[i].headers),
			LIST(cases[i].expose), !!cases[i].origins, !!cases[i].methods,
			!!cases[i].headers, !!cases[i].expose, 5, cases[i].credentials,
		};
		int rc;

		err[0] = '\0';
		rc = cors_policy_compile(&p, &s, err, sizeof(err));
		if (!cases[i].error && rc != 0)
			fail_msg("case %zu: refused: %s", i, err);
		if (cases[i].error && (rc != -1 || !strstr(err, cases[i].error)))
			fail_msg("case %zu: wanted \"%s\", got %d \"%s\"", i, cases[i].error, rc, err);
	}
	/* no origin at all: no policy, and that is fine */
	assert_int_equal(compiled(NULL, NULL, NULL, NULL, 0)->on, 0);
}

static struct http_msg *request(const char *text)
{
	static struct http_msg m;

	http_msg_init(&m, HTTP_REQUEST, 32768, NULL, NULL);
	http_msg_feed(&m, text, 0, strlen(text));
	assert_true(m.state >= HTTP_MSG_BODY);
	return &m;
}

/* Origin matching: scheme, host and port (the scheme's default when not
 * given), `*.` for subdomains at any depth (HTTPCORSFilter allowOrigins). */
static void test_origins_allowed(void **state)
{
	static const struct {
		const char *policy, *origin;
		int allowed;
	} cases[] = {
		{ "https://app.example", "https://app.example", 1 },
		{ "https://app.example", "https://APP.example", 1 },
		{ "https://app.example", "https://app.example:443", 1 },
		{ "https://app.example", "http://app.example", 0 },
		{ "https://app.example", "https://app.example:8443", 0 },
		{ "https://app.example", "https://app.example.evil", 0 },
		{ "https://app.example", "https://xapp.example", 0 },
		{ "https://app.example", "https://app.example/", 0 },
		{ "https://app.example", "null", 0 },
		{ "http://localhost:3000", "http://localhost:3000", 1 },
		{ "http://localhost:3000", "http://localhost", 0 },
		{ "https://*.example.com", "https://a.example.com", 1 },
		{ "https://*.example.com", "https://a.b.example.com", 1 },
		{ "https://*.example.com", "https://example.com", 0 },
		{ "https://*.example.com", "https://aexample.com", 0 },
		{ "https://*.example.com", "http://a.example.com", 0 },
		{ "https://*", "https://anything.at.all", 1 },
		{ "https://*", "http://anything.at.all", 0 },
		{ "*", "https://anyone.example", 1 },
		{ "*", "null", 1 },
		{ "*", "not an origin", 0 },
		{ "http://[::1]:8080", "http://[::1]:8080", 1 },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cors_policy *p = compiled(cases[i].policy, NULL, NULL, NULL, 0);
		struct cors_request r;
		char text[512];

		snprintf(text, sizeof(text), "GET / HTTP/1.1\r\nHost: h\r\nOrigin: %s\r\n\r\n",
			 cases[i].origin);
		cors_classify(p, request(text), &r);
		assert_int_equal(r.kind, CORS_ACTUAL);
		if (r.allowed != cases[i].allowed)
			fail_msg("case %zu: %s under %s: allowed %d", i, cases[i].origin,
				 cases[i].policy, r.allowed);
	}
}

static void test_classify(void **state)
{
	struct cors_policy *p = compiled("https://app.example", NULL, NULL, NULL, 1);
	struct cors_request r;
	(void)state;

	/* no Origin: not a CORS request (same-origin, curl) */
	cors_classify(p, request("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), &r);
	assert_int_equal(r.kind, CORS_NONE);
	/* OPTIONS with Origin and Access-Control-Request-Method: a preflight (Fetch #http-requests) */
	cors_classify(p, request("OPTIONS /x HTTP/1.1\r\nHost: h\r\nOrigin: https://app.example\r\n"
				 "Access-Control-Request-Method: PUT\r\n\r\n"), &r);
	assert_int_equal(r.kind, CORS_PREFLIGHT);
	assert_true(r.allowed);
	assert_string_equal(r.origin, "https://app.example");
	/* OPTIONS without Access-Control-Request-Method: an actual request */
	cors_classify(p, request("OPTIONS /x HTTP/1.1\r\nHost: h\r\nOrigin: https://app.example\r\n"
				 "\r\n"), &r);
	assert_int_equal(r.kind, CORS_ACTUAL);
	/* two Origin fields: not allowed, whichever they name */
	cors_classify(p, request("GET / HTTP/1.1\r\nHost: h\r\nOrigin: https://app.example\r\n"
				 "Origin: https://app.example\r\n\r\n"), &r);
	assert_int_equal(r.kind, CORS_ACTUAL);
	assert_false(r.allowed);
	/* "null" is never allowed with credentials, even under * */
	p = compiled("*", NULL, NULL, NULL, 1);
	cors_classify(p, request("GET / HTTP/1.1\r\nHost: h\r\nOrigin: null\r\n\r\n"), &r);
	assert_false(r.allowed);
	/* an origin longer than CORS_ORIGIN_MAX is refused, not cut */
	{
		char text[1024], origin[400];

		memset(origin, 'a', sizeof(origin) - 1);
		origin[sizeof(origin) - 1] = '\0';
		memcpy(origin, "https://", 8);
		snprintf(text, sizeof(text), "GET / HTTP/1.1\r\nHost: h\r\nOrigin: %s\r\n\r\n", origin);
		cors_classify(p, request(text), &r);
		assert_false(r.allowed);
	}
	/* no policy: nothing */
	cors_classify(NULL, request("GET / HTTP/1.1\r\nHost: h\r\nOrigin: https://a\r\n\r\n"), &r);
	assert_int_equal(r.kind, CORS_NONE);
}

static const char *preflight(struct cors_policy *p, const char *extra)
{
	static struct buf out = BUF_INIT;
	struct cors_request r;
	char text[1024];
	struct http_msg *m;

	snprintf(text, sizeof(text), "OPTIONS /x HTTP/1.1\r\nHost: h\r\n%s\r\n", extra);
	m = request(text);
	cors_classify(p, m, &r);
	assert_int_equal(r.kind, CORS_PREFLIGHT);
	buf_reset(&out);
	assert_int_equal(cors_append_preflight(&out, p, &r, m), 0);
	buf_append(&out, "", 1);
	return out.data;
}

static void test_preflight_fields(void **state)
{
	(void)state;
	/* the lists as configured */
	assert_string_equal(
		preflight(compiled("https://app.example", "PUT,DELETE", "X-Token, X-Trace", NULL, 0),
			  "Origin: https://app.example\r\nAccess-Control-Request-Method: PUT\r\n"),
		"Access-Control-Allow-Origin: https://app.example\r\n"
		"Access-Control-Allow-Methods: PUT, DELETE\r\n"
		"Access-Control-Allow-Headers: X-Token, X-Trace\r\n"
		"Access-Control-Max-Age: 5\r\nVary: Origin\r\n");
	/* *, no credentials: * everywhere, nothing varies */
	assert_string_equal(
		preflight(compiled("*", "*", "*", NULL, 0),
			  "Origin: https://x.example\r\nAccess-Control-Request-Method: PATCH\r\n"),
		"Access-Control-Allow-Origin: *\r\nAccess-Control-Allow-Methods: *\r\n"
		"Access-Control-Allow-Headers: *\r\nAccess-Control-Max-Age: 5\r\n");
	/* * with credentials: the origin, method and headers echoed (Fetch reads
	 * * literally for a credentialed request; HTTPCORSFilter says echo) */
	assert_string_equal(
		preflight(compiled("*", "*", "*", NULL, 1),
			  "Origin: https://x.example\r\nAccess-Control-Request-Method: PATCH\r\n"
			  "Access-Control-Request-Headers: x-token,content-type\r\n"),
		"Access-Control-Allow-Origin: https://x.example\r\n"
		"Access-Control-Allow-Credentials: true\r\n"
		"Access-Control-Allow-Methods: PATCH\r\n"
		"Access-Control-Allow-Headers: x-token,content-type\r\n"
		"Access-Control-Max-Age: 5\r\n"
		"Vary: Origin, Access-Control-Request-Method, Access-Control-Request-Headers\r\n");
	/* an echo is only ever a list of tokens */
	assert_null(strstr(preflight(compiled("*", "*", "*", NULL, 1),
				     "Origin: https://x.example\r\nAccess-Control-Request-Method: "
				     "PATCH\r\nAccess-Control-Request-Headers: a;b=\"c\"\r\n"),
			   "Access-Control-Allow-Headers"));
	/* an origin not allowed: no CORS field (the browser fails the request) but Vary */
	assert_string_equal(
		preflight(compiled("https://app.example", "PUT", NULL, NULL, 0),
			  "Origin: https://evil.example\r\nAccess-Control-Request-Method: PUT\r\n"),
		"Vary: Origin\r\n");
}

static void test_response_fields(void **state)
{
	static struct buf out = BUF_INIT;
	struct cors_policy *p = compiled("https://*.example.com", NULL, NULL, "X-Pod-Name", 1);
	struct cors_request r;
	(void)state;

	cors_classify(p, request("GET / HTTP/1.1\r\nHost: h\r\nOrigin: https://a.example.com\r\n\r\n"),
		      &r);
	buf_reset(&out);
	assert_int_equal(cors_append_response(&out, p, &r), 0);
	buf_append(&out, "", 1);
	assert_string_equal(out.data, "Access-Control-Allow-Origin: https://a.example.com\r\n"
				      "Access-Control-Allow-Credentials: true\r\n"
				      "Access-Control-Expose-Headers: X-Pod-Name\r\nVary: Origin\r\n");
	/* not allowed, or no Origin, or no request head: Vary alone (a cache must
	 * not hand this answer to an origin that is allowed) */
	cors_classify(p, request("GET / HTTP/1.1\r\nHost: h\r\nOrigin: https://example.org\r\n\r\n"),
		      &r);
	buf_reset(&out);
	cors_append_response(&out, p, &r);
	cors_append_response(&out, p, NULL);
	buf_append(&out, "", 1);
	assert_string_equal(out.data, "Vary: Origin\r\nVary: Origin\r\n");
	/* * without credentials: the same answer for everyone, no Vary */
	p = compiled("*", NULL, NULL, NULL, 0);
	cors_classify(p, request("GET / HTTP/1.1\r\nHost: h\r\nOrigin: https://a.example\r\n\r\n"), &r);
	buf_reset(&out);
	cors_append_response(&out, p, &r);
	buf_append(&out, "", 1);
	assert_string_equal(out.data, "Access-Control-Allow-Origin: *\r\n");
	buf_release(&out);
}

/* Through headers_response: the backend's own CORS fields give way to the policy's. */
static void test_backend_fields_replaced(void **state)
{
	static struct http_msg m;
	struct buf out = BUF_INIT;
	struct cors_policy *p = compiled("https://app.example", NULL, NULL, NULL, 0);
	struct cors_request r;
	struct headers_ctx ctx = { .request_id = "rid", .request_id_len = 3, .cors = p,
				   .cors_req = &r };
	const char *text = "HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: *\r\n"
			   "access-control-max-age: 99\r\nAccess-Control-Expose-Headers: X\r\n"
			   "Access-Control-Request-Method: kept\r\nContent-Length: 0\r\n\r\n";
	(void)state;

	cors_classify(p, request("GET / HTTP/1.1\r\nHost: h\r\nOrigin: https://app.example\r\n\r\n"),
		      &r);
	http_msg_init(&m, HTTP_RESPONSE, 32768, NULL, NULL);
	http_msg_feed(&m, text, 0, strlen(text));
	assert_int_equal(headers_response(&out, &m, &ctx, 1, 0), 0);
	buf_append(&out, "", 1);
	assert_string_equal(out.data, "HTTP/1.1 200 OK\r\nAccess-Control-Request-Method: kept\r\n"
				      "Content-Length: 0\r\nX-Request-Id: rid\r\n"
				      "Access-Control-Allow-Origin: https://app.example\r\n"
				      "Vary: Origin\r\nConnection: keep-alive\r\n\r\n");
	buf_release(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_settings_accepted_and_refused),
		cmocka_unit_test(test_origins_allowed),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_preflight_fields),
		cmocka_unit_test(test_response_fields),
		cmocka_unit_test(test_backend_fields_replaced),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
