/* Unit tests for lb-proxy/policy/hashkey.c: the key each --hash-key form finds, and
 * the client behind trusted proxies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "policy/hashkey.h"

static const struct {
	const char *spec;
	const char *request;
	const char *key;	/* NULL: the request has none */
} keys[] = {
	{ "client-ip", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", "192.0.2.7" },
	{ "path", "GET /a/b?x=1 HTTP/1.1\r\nHost: a\r\n\r\n", "/a/b" },
	{ "path", "GET http://a/p/q?x HTTP/1.1\r\nHost: a\r\n\r\n", "/p/q" },
	{ "query:user", "GET /q?a=1&user=42&z HTTP/1.1\r\nHost: a\r\n\r\n", "42" },
	{ "query:user", "GET /q?username=42 HTTP/1.1\r\nHost: a\r\n\r\n", NULL },
	{ "query:user", "GET /q HTTP/1.1\r\nHost: a\r\n\r\n", NULL },
	{ "query:user", "GET /q?user= HTTP/1.1\r\nHost: a\r\n\r\n", "" },
	{ "header:X-User", "GET / HTTP/1.1\r\nHost: a\r\nx-user: alice\r\n\r\n", "alice" },
	{ "header:X-User", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", NULL },
	{ "cookie:uid", "GET / HTTP/1.1\r\nHost: a\r\nCookie: a=1; uid=42 ;b=2\r\n\r\n", "42" },
	{ "cookie:uid", "GET / HTTP/1.1\r\nHost: a\r\nCookie: a=1\r\nCookie: uid=7\r\n\r\n", "7" },
	{ "cookie:uid", "GET / HTTP/1.1\r\nHost: a\r\nCookie: xuid=1; uidx=2\r\n\r\n", NULL },
};

static void test_keys(void **state)
{
	(void)state;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		static struct http_msg m;
		struct http_route route;
		struct hashkey k;
		const char *reason, *key = NULL;
		char err[256];
		size_t len = 0;
		int found;

		assert_int_equal(hashkey_parse(keys[i].spec, &k, err, sizeof(err)), 0);
		http_msg_init(&m, HTTP_REQUEST, 32768, NULL, NULL);
		http_msg_feed(&m, keys[i].request, 0, strlen(keys[i].request));
		assert_int_equal(http_request_route(&m, &route, &reason), 0);
		found = hashkey_find(&k, &m, &route, "192.0.2.7", 9, &key, &len);
		if (!keys[i].key) {
			if (found)
				fail_msg("case %zu: found \"%.*s\", want none", i, (int)len, key);
			continue;
		}
		if (!found || len != strlen(keys[i].key) || memcmp(key, keys[i].key, len) != 0)
			fail_msg("case %zu: found %d \"%.*s\", want \"%s\"", i, found, (int)len,
				 key ? key : "", keys[i].key);
	}
}

static void test_bad_specs(void **state)
{
	static const char *const bad[] = {
		"", "ip", "header:", "cookie:", "query:", "header:a b", "header:a,b", "path:x", "body",
		/* RFC 9110 tokens only: a CR or LF (or any control byte, or a
		 * separator) put every client in one bucket before */
		"header:X\r\n", "header:X\n", "header:X-Id\x01", "header:X(1)", "header:X/1",
		"header:X@1", "header:\xc3\xa9", "cookie:a\r\n", "cookie:a/b", "query:a&b",
		"query:a=b", "query:a#b", "query:a%20b", "query:a\tb",
	};
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct hashkey k;
		char err[256];

		assert_int_equal(hashkey_parse(bad[i], &k, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "client-ip | header:NAME"));
	}
}

static void test_client_behind_trusted_proxies(void **state)
{
	static const struct {
		const char *trusted;
		const char *peer;
		const char *xff;	/* the request's X-Forwarded-For lines, "|" between lines */
		const char *client;
	} cases[] = {
		{ "", "192.0.2.1", "10.0.0.1", "192.0.2.1" },		/* no trusted proxy: the peer */
		{ "127.0.0.0/8", "192.0.2.1", "10.0.0.1", "192.0.2.1" },	/* peer not trusted */
		{ "127.0.0.0/8", "127.0.0.1", "198.51.100.9", "198.51.100.9" },
		{ "127.0.0.0/8,10.9.0.0/16", "127.0.0.1", "6.6.6.6, 198.51.100.9, 10.9.3.4",
		  "198.51.100.9" },					/* what a client prepends is ignored */
		{ "127.0.0.1", "127.0.0.1", "6.6.6.6|198.51.100.9", "198.51.100.9" },	/* last line first */
		{ "127.0.0.1,10.0.0.0/8", "127.0.0.1", "10.1.1.1,10.2.2.2", "10.1.1.1" },	/* all trusted */
		{ "127.0.0.1", "127.0.0.1", "", "127.0.0.1" },
		{ "::1/128", "::1", "2001:db8::5", "2001:db8::5" },
		{ "10.0.0.0/9", "10.127.0.1", "203.0.113.1", "203.0.113.1" },
		{ "10.0.0.0/9", "10.128.0.1", "203.0.113.1", "10.128.0.1" },	/* just outside the /9 */
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		static struct http_msg m;
		char req[512], err[256];
		struct trusted t;
		const char *client, *x;
		size_t n = 0, len;

		assert_int_equal(trusted_parse(cases[i].trusted, &t, err, sizeof(err)), 0);
		n = (size_t)snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: a\r\n");
		for (x = cases[i].xff; *x;) {
			const char *bar = strchr(x, '|');
			size_t l = bar ? (size_t)(bar - x) : strlen(x);

			n += (size_t)snprintf(req + n, sizeof(req) - n, "X-Forwarded-For: %.*s\r\n", (int)l, x);
			x += l + (bar ? 1 : 0);
		}
		snprintf(req + n, sizeof(req) - n, "\r\n");
		http_msg_init(&m, HTTP_REQUEST, 32768, NULL, NULL);
		http_msg_feed(&m, req, 0, strlen(req));
		client = hashkey_client_ip(&t, cases[i].peer, &m, &len);
		if (len != strlen(cases[i].client) || memcmp(client, cases[i].client, len) != 0)
			fail_msg("case %zu: client \"%.*s\", want \"%s\"", i, (int)len, client,
				 cases[i].client);
	}
}

static void test_bad_trusted(void **state)
{
	static const char *const bad[] = {
		"10.0.0.0/33", "ten", "10.0.0.0/", "::1/129", "10.0.0.0/8,", "1.2.3.4/8x",
		"10.0.0.0/+8", "10.0.0.0/ 8", "10.0.0.0/-0",	/* decimal digits only */
	};
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct trusted t;
		char err[256];

		if (trusted_parse(bad[i], &t, err, sizeof(err)) != -1)
			fail_msg("\"%s\" was accepted", bad[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_bad_specs),
		cmocka_unit_test(test_client_behind_trusted_proxies),
		cmocka_unit_test(test_bad_trusted),
	};
	return cmocka_run_group_tests_name("hashkey", tests, NULL, NULL);
}
