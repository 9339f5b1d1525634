/* Unit tests for lb-proxy/policy/headers.c's header rules: what is accepted at
 * start-up, and the heads they shape. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "policy/headers.h"

static void test_rules_accepted_and_refused(void **state)
{
	static const struct {
		enum headers_rule_kind kind;
		const char *spec;
		const char *error;	/* NULL: accepted; else part of the message */
	} cases[] = {
		{ HEADERS_SET_RESPONSE, "X-Frame-Options: DENY", NULL },
		{ HEADERS_SET_RESPONSE, "Access-Control-Allow-Origin: *", NULL },
		{ HEADERS_SET_RESPONSE, "X-Empty:", NULL },
		{ HEADERS_SET_REQUEST, "X-Env:prod", NULL },
		{ HEADERS_SET_REQUEST, "x-a!#$%&'*+-.^_`|~9: v\tw", NULL },
		{ HEADERS_REMOVE_RESPONSE, "Server", NULL },
		{ HEADERS_SET_RESPONSE, "X-A", "must be 'Name: value'" },
		{ HEADERS_SET_RESPONSE, ": v", "1 to 64 bytes" },
		{ HEADERS_SET_RESPONSE, "X A: v", "must be a token" },
		{ HEADERS_SET_RESPONSE, "X-A : v", "no space before the colon" },
		{ HEADERS_SET_RESPONSE, "X(A): v", "must be a token" },
		{ HEADERS_SET_RESPONSE, "X-A: a\rb", "CR, LF" },
		{ HEADERS_SET_RESPONSE, "X-A: a\nb", "CR, LF" },
		{ HEADERS_SET_RESPONSE, "X-A: a\x01" "b", "control bytes" },
		{ HEADERS_SET_RESPONSE, "X-A: a\x7f", "control bytes" },
		{ HEADERS_REMOVE_RESPONSE, "Server: x", "a field name only" },
		{ HEADERS_REMOVE_RESPONSE, "", "1 to 64 bytes" },
		{ HEADERS_SET_RESPONSE, "Content-Length: 1", "the proxy's own" },
		{ HEADERS_SET_REQUEST, "transfer-encoding: chunked", "the proxy's own" },
		{ HEADERS_SET_REQUEST, "HOST: h", "the proxy's own" },
		{ HEADERS_SET_RESPONSE, "Connection: close", "the proxy's own" },
		{ HEADERS_SET_RESPONSE, "Keep-Alive: 5", "the proxy's own" },
		{ HEADERS_SET_REQUEST, "TE: trailers", "the proxy's own" },
		{ HEADERS_SET_RESPONSE, "Trailer: x", "the proxy's own" },
		{ HEADERS_SET_RESPONSE, "Upgrade: h2c", "the proxy's own" },
		{ HEADERS_SET_RESPONSE, "Date: x", "the proxy's own" },
		{ HEADERS_SET_REQUEST, "Proxy-Authorization: x", "the proxy's own" },
		{ HEADERS_REMOVE_RESPONSE, "Transfer-Encoding", "the proxy's own" },
	};
	char err[512];
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		static struct headers_rules r;
		int rc;

		memset(&r, 0, sizeof(r));
		err[0] = '\0';
		rc = headers_rules_add(&r, cases[i].kind, cases[i].spec, err, sizeof(err));
		if (!cases[i].error && rc != 0)
			fail_msg("case %zu \"%s\": refused: %s", i, cases[i].spec, err);
		if (cases[i].error && (rc != -1 || !strstr(err, cases[i].error)))
			fail_msg("case %zu \"%s\": want \"%s\", got %d \"%s\"", i, cases[i].spec,
				 cases[i].error, rc, err);
	}
}

static void test_rules_limits_and_conflicts(void **state)
{
	static struct headers_rules r;
	static char specs[HEADERS_RULES_MAX + 1][32], value[HEADERS_RULE_VALUE_MAX + 16];
	char err[512];
	(void)state;

	memset(&r, 0, sizeof(r));
	for (int i = 0; i <= HEADERS_RULES_MAX; i++) {
		snprintf(specs[i], sizeof(specs[i]), "X-%d: v", i);
		assert_int_equal(headers_rules_add(&r, HEADERS_SET_REQUEST, specs[i], err, sizeof(err)),
				 i < HEADERS_RULES_MAX ? 0 : -1);
	}
	assert_non_null(strstr(err, "at most 32"));

	memset(&r, 0, sizeof(r));
	assert_int_equal(headers_rules_add(&r, HEADERS_SET_RESPONSE, "Server: lb", err, sizeof(err)), 0);
	assert_int_equal(headers_rules_add(&r, HEADERS_REMOVE_RESPONSE, "server", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "both set and removed"));
	/* a name on requests and responses is not a conflict */
	assert_int_equal(headers_rules_add(&r, HEADERS_SET_REQUEST, "Server: lb", err, sizeof(err)), 0);

	memset(&r, 0, sizeof(r));
	memcpy(value, "X-A: ", 5);
	memset(value + 5, 'v', HEADERS_RULE_VALUE_MAX);
	value[5 + HEADERS_RULE_VALUE_MAX] = '\0';
	assert_int_equal(headers_rules_add(&r, HEADERS_SET_RESPONSE, value, err, sizeof(err)), 0);
	strcat(value, "v");
	assert_int_equal(headers_rules_add(&r, HEADERS_SET_RESPONSE, value, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "longer than 1024"));
}

static void test_value_trimmed(void **state)
{
	static struct headers_rules r;
	char err[256];
	(void)state;

	memset(&r, 0, sizeof(r));
	assert_int_equal(headers_rules_add(&r, HEADERS_SET_RESPONSE, "X-A: \t a b \t", err,
					   sizeof(err)), 0);
	assert_int_equal(r.rules[HEADERS_SET_RESPONSE][0].name_len, 3);
	assert_int_equal(r.rules[HEADERS_SET_RESPONSE][0].value_len, 3);
	assert_memory_equal(r.rules[HEADERS_SET_RESPONSE][0].value, "a b", 3);
	assert_true(headers_rules_names(&r, HEADERS_SET_RESPONSE, "x-a", 3));
	assert_false(headers_rules_names(&r, HEADERS_SET_RESPONSE, "x-ab", 4));
	assert_false(headers_rules_names(&r, HEADERS_SET_REQUEST, "x-a", 3));
	assert_false(headers_rules_names(NULL, HEADERS_SET_REQUEST, "x-a", 3));
}

static struct headers_rules *rules_of(const char *const *set_req, const char *const *set_resp,
				      const char *const *remove)
{
	static struct headers_rules r;
	char err[256];

	memset(&r, 0, sizeof(r));
	for (; set_req && *set_req; set_req++)
		assert_int_equal(headers_rules_add(&r, HEADERS_SET_REQUEST, *set_req, err, sizeof(err)), 0);
	for (; set_resp && *set_resp; set_resp++)
		assert_int_equal(headers_rules_add(&r, HEADERS_SET_RESPONSE, *set_resp, err, sizeof(err)), 0);
	for (; remove && *remove; remove++)
		assert_int_equal(headers_rules_add(&r, HEADERS_REMOVE_RESPONSE, *remove, err, sizeof(err)), 0);
	return &r;
}

static void head_of(struct buf *out, enum llhttp_type type, const char *text,
		    const struct headers_ctx *ctx)
{
	static struct http_msg m;
	struct http_route route;
	const char *reason;

	http_msg_init(&m, type, 32768, NULL, NULL);
	http_msg_feed(&m, text, 0, strlen(text));
	buf_reset(out);
	if (type == HTTP_REQUEST) {
		assert_int_equal(http_request_route(&m, &route, &reason), 0);
		assert_int_equal(headers_request(out, &m, &route, ctx), 0);
	} else {
		assert_int_equal(headers_response(out, &m, ctx, 1, 0), 0);
	}
	buf_append(out, "", 1);
}

static void test_request_rules(void **state)
{
	struct headers_ctx ctx = { .client_ip = "192.0.2.1", .request_id = "rid", .request_id_len = 3 };
	struct buf out = BUF_INIT;
	(void)state;

	ctx.rules = rules_of((const char *const[]){ "X-Env: prod", "X-Forwarded-For: 10.9.9.9",
						    "X-Request-Id: fixed", NULL }, NULL, NULL);
	head_of(&out, HTTP_REQUEST, "GET /p HTTP/1.1\r\nHost: a\r\nX-Env: dev\r\nx-env: qa\r\n"
				    "X-Forwarded-For: 1.1.1.1\r\nX-Other: o\r\n\r\n", &ctx);
	assert_string_equal(out.data, "GET /p HTTP/1.1\r\nHost: a\r\nX-Other: o\r\n"
				      "X-Forwarded-Proto: http\r\nX-Forwarded-Host: a\r\nX-Env: prod\r\n"
				      "X-Forwarded-For: 10.9.9.9\r\nX-Request-Id: fixed\r\n\r\n");
	/* without rules: the head is as before */
	ctx.rules = NULL;
	head_of(&out, HTTP_REQUEST, "GET /p HTTP/1.1\r\nHost: a\r\nX-Env: dev\r\n\r\n", &ctx);
	assert_string_equal(out.data, "GET /p HTTP/1.1\r\nHost: a\r\nX-Env: dev\r\n"
				      "X-Forwarded-For: 192.0.2.1\r\nX-Forwarded-Proto: http\r\n"
				      "X-Forwarded-Host: a\r\nX-Request-Id: rid\r\n\r\n");
	buf_release(&out);
}

static void test_response_rules(void **state)
{
	struct headers_ctx ctx = { .client_ip = "192.0.2.1", .request_id = "rid", .request_id_len = 3 };
	struct buf out = BUF_INIT;
	(void)state;

	ctx.rules = rules_of(NULL, (const char *const[]){ "X-Frame-Options: DENY",
							  "Access-Control-Allow-Origin: *", NULL },
			     (const char *const[]){ "Server", "X-Request-Id", NULL });
	head_of(&out, HTTP_RESPONSE, "HTTP/1.1 200 OK\r\nServer: s\r\nX-Frame-Options: ALLOW\r\n"
				     "Content-Length: 2\r\nX-Kept: k\r\n\r\n", &ctx);
	assert_string_equal(out.data, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Kept: k\r\n"
				      "X-Frame-Options: DENY\r\nAccess-Control-Allow-Origin: *\r\n"
				      "Connection: keep-alive\r\n\r\n");
	/* interim responses are the protocol's: no rule touches them */
	head_of(&out, HTTP_RESPONSE, "HTTP/1.1 100 Continue\r\nServer: s\r\n\r\n", &ctx);
	assert_string_equal(out.data, "HTTP/1.1 100 Continue\r\nServer: s\r\nX-Request-Id: rid\r\n\r\n");
	/* the proxy's own answers too */
	buf_reset(&out);
	assert_int_equal(headers_answer(&out, 503, "application/json", 10, 1, &ctx), 0);
	buf_append(&out, "", 1);
	assert_non_null(strstr(out.data, "\r\nX-Frame-Options: DENY\r\nAccess-Control-Allow-Origin: *"
					 "\r\nContent-Type: application/json\r\nContent-Length: 10\r\n"
					 "Connection: keep-alive\r\n\r\n"));
	assert_null(strstr(out.data, "X-Request-Id"));
	buf_release(&out);
}

/* RFC 9110 7.6.1: a field the Connection field lists is the hop's and is
 * removed, in a request and in a response; "close" and "keep-alive" alone
 * name no other field but one called so (the parser reads the list once). */
static void test_fields_listed_in_connection(void **state)
{
	static const struct {
		const char *fields;	/* after the start line */
		const char *kept;	/* a field that must pass, or NULL */
		const char *gone;	/* a field that must not */
	} cases[] = {
		{ "Connection: keep-alive\r\nX-Other: o\r\n", "X-Other: o", "Connection" },
		{ "Connection: close\r\nClose: c\r\nX-Other: o\r\n", "X-Other: o", "Close: c" },
		{ "Connection: keep-alive, X-Hop\r\nX-Hop: h\r\nX-Other: o\r\n", "X-Other: o",
		  "X-Hop" },
		{ "Connection: close\r\nConnection: x-hop\r\nX-Hop: h\r\nKeep-Alive: 5\r\n", NULL,
		  "X-Hop" },
		{ "Connection: X-A ,\tX-B\r\nX-A: a\r\nX-B: b\r\nX-C: c\r\n", "X-C: c", "X-B" },
		{ "X-Hop: h\r\n", "X-Hop: h", "Connection" },
	};
	struct headers_ctx ctx = { .client_ip = "192.0.2.1", .request_id = "rid", .request_id_len = 3 };
	struct buf out = BUF_INIT;
	char head[256];
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (int resp = 0; resp < 2; resp++) {
			snprintf(head, sizeof(head), "%s%s\r\n",
				 resp ? "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"
				      : "GET / HTTP/1.1\r\nHost: a\r\n",
				 cases[i].fields);
			head_of(&out, resp ? HTTP_RESPONSE : HTTP_REQUEST, head, &ctx);
			if ((cases[i].kept && !strstr(out.data, cases[i].kept)) ||
			    (!resp && strstr(out.data, cases[i].gone)) ||
			    (resp && strstr(out.data, cases[i].gone) &&
			     strcmp(cases[i].gone, "Connection") != 0))
				fail_msg("case %zu (%s): %s", i, resp ? "response" : "request", out.data);
		}
	}
	buf_release(&out);
}

static void test_sticky_cache_control_and_rules(void **state)
{
	struct headers_ctx ctx = { .client_ip = "192.0.2.1", .request_id = "rid", .request_id_len = 3,
				   .sticky_cookie = "lb", .sticky_insert = "0123456789abcdef" };
	struct buf out = BUF_INIT;
	(void)state;

	/* the operator's Cache-Control stands in for the backend's */
	ctx.rules = rules_of(NULL, (const char *const[]){ "Cache-Control: no-store", NULL }, NULL);
	head_of(&out, HTTP_RESPONSE, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", &ctx);
	assert_non_null(strstr(out.data, "Set-Cookie: lb=0123456789abcdef; Path=/; HttpOnly\r\n"));
	assert_null(strstr(out.data, "private"));
	assert_non_null(strstr(out.data, "Cache-Control: no-store\r\n"));
	/* the backend's removed: the cookie still gets private */
	ctx.rules = rules_of(NULL, NULL, (const char *const[]){ "Cache-Control", NULL });
	head_of(&out, HTTP_RESPONSE, "HTTP/1.1 200 OK\r\nCache-Control: public\r\n"
				     "Content-Length: 0\r\n\r\n", &ctx);
	assert_null(strstr(out.data, "public"));
	assert_non_null(strstr(out.data, "Cache-Control: private\r\n"));
	buf_release(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rules_accepted_and_refused),
		cmocka_unit_test(test_rules_limits_and_conflicts),
		cmocka_unit_test(test_value_trimmed),
		cmocka_unit_test(test_request_rules),
		cmocka_unit_test(test_response_rules),
		cmocka_unit_test(test_fields_listed_in_connection),
		cmocka_unit_test(test_sticky_cache_control_and_rules),
	};
	return cmocka_run_group_tests_name("proxy_headers", tests, NULL, NULL);
}
