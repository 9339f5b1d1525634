/* Unit tests for common/route.c and common/route_codec.c: the matcher's
 * pieces, the weighted pick, the redirect and rewrite answers (each case
 * names the Gateway API conformance test or spec text it follows) and the
 * codec, hostile input included. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "route.h"
#include "route_codec.h"
#include "route_codec_decode.h"

/* Two rules on a catch-all virtual host: Exact /a weighted 70/30/0, and a
 * PathPrefix / without backends. */
static const char table_json[] =
	"{\"v\":3,\"listeners\":[{\"name\":\"http\",\"port\":80,\"protocol\":\"HTTP\","
	"\"vhosts\":[{\"hostname\":\"*\",\"entries\":[[0,0],[1,0]]}]}],"
	"\"rules\":[{\"route\":\"ns/a\",\"index\":0,\"matches\":[{\"pathType\":\"Exact\","
	"\"path\":\"/a\"}],\"backends\":["
	"{\"namespace\":\"ns\",\"name\":\"a\",\"port\":80,\"weight\":70,\"resolved\":true},"
	"{\"namespace\":\"ns\",\"name\":\"b\",\"port\":80,\"weight\":30,\"resolved\":true},"
	"{\"namespace\":\"ns\",\"name\":\"c\",\"port\":80,\"weight\":0,\"resolved\":true}]},"
	"{\"route\":\"ns/b\",\"index\":0,\"matches\":[{\"pathType\":\"PathPrefix\",\"path\":\"/\"}],"
	"\"backends\":[]}]}";

static struct route_table *decode(const char *json)
{
	struct route_table *t;
	char err[256];

	if (route_codec_decode(json, strlen(json), &t, err, sizeof(err)) == -1)
		fail_msg("%s", err);
	return t;
}

#ifndef __SANITIZE_ADDRESS__
/* Counts the allocations made while `counting` (release builds: ASan has
 * its own malloc). glibc's own functions do the work. */
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
static int counting;
static unsigned long allocations;

void *malloc(size_t n)
{
	allocations += counting;
	return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
	allocations += counting;
	return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
	allocations += counting;
	return __libc_realloc(p, n);
}

static const char *header_value(void *ctx, const char *name, size_t *len)
{
	(void)ctx;
	*len = 3;
	return strcmp(name, "x-id") == 0 ? "abc" : NULL;
}
#endif

/* A deterministic sequence (xorshift32). */
static uint32_t next(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

/* HTTPRouteWeight: 70/30/0 over 1,000 picks, each share within 5 points,
 * weight 0 never. */
static void test_weight(void **state)
{
	struct route_table *t = decode(table_json);
	const struct route_rule *rule = &t->rules[0];
	unsigned counts[3] = { 0, 0, 0 };
	uint32_t x = 2463534242u;
	(void)state;

	for (int i = 0; i < 1000; i++) {
		const struct route_backend *b = route_pick_backend(rule, next(&x));

		assert_non_null(b);
		counts[b - rule->backends]++;
	}
	assert_in_range(counts[0], 650, 750);
	assert_in_range(counts[1], 250, 350);
	assert_int_equal(counts[2], 0);
	/* the intervals' edges */
	assert_ptr_equal(route_pick_backend(rule, 0), &rule->backends[0]);
	assert_ptr_equal(route_pick_backend(rule, UINT32_MAX), &rule->backends[1]);
	/* no backends: 500 */
	assert_null(route_pick_backend(&t->rules[1], 1234));
	route_table_free(t);
}

/* Envoy's weighted clusters: all weights 0 pick nothing (500). */
static void test_weight_all_zero(void **state)
{
	struct route_backend backends[2] = { { .weight = 0 }, { .weight = 0 } };
	struct route_rule rule = { .backends = backends, .n_backends = 2 };
	(void)state;

	for (uint32_t r = 0; r < 10; r++)
		assert_null(route_pick_backend(&rule, r * 400000000u));
}

static void test_hostname_matches(void **state)
{
	static const struct {
		const char *pattern, *host;
		int match;
	} cases[] = {
		/* spec: *.example.com takes a.example.com and b.a.example.com, not example.com */
		{ "*.example.com", "a.example.com", 1 },
		{ "*.example.com", "b.a.example.com", 1 },
		{ "*.example.com", "example.com", 0 },
		{ "*.example.com", ".example.com", 0 },
		{ "*.example.com", "aexample.com", 0 },
		/* Host compared case-insensitively */
		{ "foo.example.com", "FOO.Example.com", 1 },
		{ "*.example.com", "A.EXAMPLE.COM", 1 },
		{ "foo.example.com", "foo.example.co", 0 },
		{ "*", "anything", 1 },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (route_hostname_matches(cases[i].pattern, cases[i].host,
					   strlen(cases[i].host)) != cases[i].match)
			fail_msg("%s vs %s", cases[i].pattern, cases[i].host);
}

static void test_rewrite_path(void **state)
{
	static const struct {
		const char *source;
		enum route_path_modifier type;
		const char *path, *prefix, *value, *want;
	} cases[] = {
		/* the spec's ReplacePrefixMatch table (HTTPPathModifier) */
		{ "spec", ROUTE_MODIFY_PREFIX, "/foo/bar", "/foo", "/xyz", "/xyz/bar" },
		{ "spec", ROUTE_MODIFY_PREFIX, "/foo/bar", "/foo", "/xyz/", "/xyz/bar" },
		{ "spec", ROUTE_MODIFY_PREFIX, "/foo/bar", "/foo/", "/xyz", "/xyz/bar" },
		{ "spec", ROUTE_MODIFY_PREFIX, "/foo/bar", "/foo/", "/xyz/", "/xyz/bar" },
		{ "spec", ROUTE_MODIFY_PREFIX, "/foo", "/foo", "/xyz", "/xyz" },
		{ "spec", ROUTE_MODIFY_PREFIX, "/foo/", "/foo", "/xyz", "/xyz/" },
		{ "spec", ROUTE_MODIFY_PREFIX, "/foo/bar", "/foo", "", "/bar" },
		{ "spec", ROUTE_MODIFY_PREFIX, "/foo/", "/foo", "", "/" },
		{ "spec", ROUTE_MODIFY_PREFIX, "/foo", "/foo", "", "/" },
		{ "spec", ROUTE_MODIFY_PREFIX, "/foo/", "/foo", "/", "/" },
		{ "spec", ROUTE_MODIFY_PREFIX, "/foo", "/foo", "/", "/" },
		/* the brief's: /foo by /bar, by / */
		{ "spec", ROUTE_MODIFY_PREFIX, "/foo/x", "/foo", "/bar", "/bar/x" },
		{ "spec", ROUTE_MODIFY_PREFIX, "/foo/x", "/foo", "/", "/x" },
		{ "spec", ROUTE_MODIFY_PREFIX, "/x/y", "/", "/api", "/api/x/y" },
		/* HTTPRouteRewritePath */
		{ "HTTPRouteRewritePath", ROUTE_MODIFY_PREFIX, "/prefix/one/two", "/prefix/one", "/one",
		  "/one/two" },
		{ "HTTPRouteRewritePath", ROUTE_MODIFY_PREFIX, "/strip-prefix/three", "/strip-prefix",
		  "/", "/three" },
		{ "HTTPRouteRewritePath", ROUTE_MODIFY_PREFIX, "/strip-prefix", "/strip-prefix", "/",
		  "/" },
		{ "HTTPRouteRewritePath", ROUTE_MODIFY_FULL, "/full/one/two", "/full/one", "/one",
		  "/one" },
		{ "HTTPRouteRewritePath", ROUTE_MODIFY_FULL, "/full/rewrite-path-and-modify-headers/test",
		  "/full/rewrite-path-and-modify-headers", "/test", "/test" },
		{ "HTTPRouteRewritePath", ROUTE_MODIFY_PREFIX,
		  "/prefix/rewrite-path-and-modify-headers/one",
		  "/prefix/rewrite-path-and-modify-headers", "/prefix", "/prefix/one" },
		{ "none", ROUTE_MODIFY_NONE, "/as/is", NULL, NULL, "/as/is" },
		/* a prefix that does not match element-wise: no answer */
		{ "spec", ROUTE_MODIFY_PREFIX, "/foobar", "/foo", "/x", NULL },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[64];
		int n = route_rewrite_path(cases[i].type, cases[i].value, cases[i].prefix,
					   cases[i].path, strlen(cases[i].path), out, sizeof(out));

		if (!cases[i].want) {
			assert_int_equal(n, -1);
			continue;
		}
		if (n == -1 || strcmp(out, cases[i].want) != 0 || (size_t)n != strlen(out))
			fail_msg("%s: %s with %s -> %s: got %s", cases[i].source, cases[i].path,
				 cases[i].prefix, cases[i].want, n == -1 ? "-1" : out);
	}
	{
		char small[4];

		/* does not fit: -1, and the buffer still a string */
		assert_int_equal(route_rewrite_path(ROUTE_MODIFY_FULL, "/long", NULL, "/", 1, small,
						    sizeof(small)), -1);
		assert_true(strlen(small) < sizeof(small));
	}
}

static void test_redirect_location(void **state)
{
	static const struct {
		const char *test;
		const char *scheme, *hostname;
		uint16_t port;
		enum route_path_modifier type;
		const char *value, *prefix;
		uint16_t listener;
		const char *req_scheme, *host, *path, *query, *want;
	} cases[] = {
		{ "HTTPRouteRedirectPath", NULL, NULL, 0, ROUTE_MODIFY_PREFIX, "/replacement-prefix",
		  "/original-prefix", 80, "http", "gw:80", "/original-prefix/lemon", NULL,
		  "http://gw/replacement-prefix/lemon" },
		{ "HTTPRouteRedirectPath", NULL, NULL, 0, ROUTE_MODIFY_FULL, "/full-path-replacement",
		  "/full", 80, "http", "gw", "/full/path/original", NULL,
		  "http://gw/full-path-replacement" },
		{ "HTTPRouteRedirectPath", NULL, "example.org", 0, ROUTE_MODIFY_PREFIX,
		  "/replacement-prefix", "/path-and-host", 80, "http", "gw", "/path-and-host", NULL,
		  "http://example.org/replacement-prefix" },
		{ "HTTPRouteRedirectPath", NULL, "example.org", 0, ROUTE_MODIFY_FULL,
		  "/replacement-full", "/full-path-and-host", 80, "http", "gw", "/full-path-and-host",
		  NULL, "http://example.org/replacement-full" },
		{ "HTTPRouteRedirectHostAndStatus", NULL, "example.org", 0, ROUTE_MODIFY_NONE, NULL,
		  "/hostname-redirect", 80, "http", "gw", "/hostname-redirect", NULL,
		  "http://example.org/hostname-redirect" },
		{ "HTTPRouteRedirectPort", NULL, NULL, 8083, ROUTE_MODIFY_NONE, NULL, "/port", 80,
		  "http", "gw:80", "/port", NULL, "http://gw:8083/port" },
		{ "HTTPRouteRedirectPort", NULL, "example.org", 8083, ROUTE_MODIFY_NONE, NULL,
		  "/port-and-host", 80, "http", "gw", "/port-and-host", NULL,
		  "http://example.org:8083/port-and-host" },
		{ "HTTPRouteRedirectScheme", "https", NULL, 0, ROUTE_MODIFY_NONE, NULL, "/scheme", 80,
		  "http", "gw:80", "/scheme", NULL, "https://gw/scheme" },
		{ "HTTPRouteRedirectScheme", "https", "example.org", 0, ROUTE_MODIFY_NONE, NULL,
		  "/scheme-and-host", 80, "http", "gw", "/scheme-and-host", NULL,
		  "https://example.org/scheme-and-host" },
		/* HTTPRouteRedirectPortAndScheme: a listener on 80 */
		{ "HTTPRouteRedirectPortAndScheme", NULL, "example.org", 0, ROUTE_MODIFY_NONE, NULL,
		  "/", 80, "http", "gw", "/", NULL, "http://example.org/" },
		{ "HTTPRouteRedirectPortAndScheme", NULL, "example.org", 80, ROUTE_MODIFY_NONE, NULL,
		  "/", 80, "http", "gw", "/", NULL, "http://example.org/" },
		{ "HTTPRouteRedirectPortAndScheme", NULL, "example.org", 8080, ROUTE_MODIFY_NONE, NULL,
		  "/", 80, "http", "gw", "/", NULL, "http://example.org:8080/" },
		{ "HTTPRouteRedirectPortAndScheme", "https", "example.org", 0, ROUTE_MODIFY_NONE, NULL,
		  "/", 80, "http", "gw", "/", NULL, "https://example.org/" },
		{ "HTTPRouteRedirectPortAndScheme", "https", "example.org", 443, ROUTE_MODIFY_NONE,
		  NULL, "/", 80, "http", "gw", "/", NULL, "https://example.org/" },
		{ "HTTPRouteRedirectPortAndScheme", "https", "example.org", 8443, ROUTE_MODIFY_NONE,
		  NULL, "/", 80, "http", "gw", "/", NULL, "https://example.org:8443/" },
		/* ... on 8080 */
		{ "HTTPRouteRedirectPortAndScheme", NULL, "example.org", 0, ROUTE_MODIFY_NONE, NULL,
		  "/", 8080, "http", "gw", "/", NULL, "http://example.org:8080/" },
		{ "HTTPRouteRedirectPortAndScheme", NULL, "example.org", 80, ROUTE_MODIFY_NONE, NULL,
		  "/", 8080, "http", "gw", "/", NULL, "http://example.org/" },
		{ "HTTPRouteRedirectPortAndScheme", "https", "example.org", 0, ROUTE_MODIFY_NONE, NULL,
		  "/", 8080, "http", "gw", "/", NULL, "https://example.org/" },
		/* ... on 443 (HTTPS) */
		{ "HTTPRouteRedirectPortAndScheme", NULL, "example.org", 0, ROUTE_MODIFY_NONE, NULL,
		  "/", 443, "https", "example.org", "/", NULL, "https://example.org/" },
		{ "HTTPRouteRedirectPortAndScheme", NULL, "example.org", 443, ROUTE_MODIFY_NONE, NULL,
		  "/", 443, "https", "example.org", "/", NULL, "https://example.org/" },
		{ "HTTPRouteRedirectPortAndScheme", NULL, "example.org", 8443, ROUTE_MODIFY_NONE, NULL,
		  "/", 443, "https", "example.org", "/", NULL, "https://example.org:8443/" },
		{ "HTTPRouteRedirectPortAndScheme", "http", "example.org", 0, ROUTE_MODIFY_NONE, NULL,
		  "/", 443, "https", "example.org", "/", NULL, "http://example.org/" },
		{ "HTTPRouteRedirectPortAndScheme", "http", "example.org", 80, ROUTE_MODIFY_NONE, NULL,
		  "/", 443, "https", "example.org", "/", NULL, "http://example.org/" },
		{ "HTTPRouteRedirectPortAndScheme", "http", "example.org", 8080, ROUTE_MODIFY_NONE,
		  NULL, "/", 443, "https", "example.org", "/", NULL, "http://example.org:8080/" },
		/* lb: the query goes along; an IPv6 Host keeps its brackets */
		{ "query kept", NULL, NULL, 0, ROUTE_MODIFY_PREFIX, "/b", "/a", 80, "http", "gw",
		  "/a/c", "x=1&y", "http://gw/b/c?x=1&y" },
		{ "IPv6 Host", "https", NULL, 0, ROUTE_MODIFY_NONE, NULL, "/", 80, "http",
		  "[::1]:80", "/p", NULL, "https://[::1]/p" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct route_redirect rd = {
			.scheme = (char *)cases[i].scheme,
			.hostname = (char *)cases[i].hostname,
			.port = cases[i].port,
			.path_type = cases[i].type,
			.path = (char *)cases[i].value,
			.status = 302,
		};
		struct route_match m = { .path_type = ROUTE_PATH_PREFIX,
					 .path = (char *)cases[i].prefix };
		const char *q = cases[i].query;
		char out[128];
		int n = route_redirect_location(&rd, &m, cases[i].listener, cases[i].req_scheme,
						cases[i].host, cases[i].path,
						strlen(cases[i].path), q, q ? strlen(q) : 0, out,
						sizeof(out));

		if (n == -1 || strcmp(out, cases[i].want) != 0 || (size_t)n != strlen(out))
			fail_msg("%s (case %zu): got %s, want %s", cases[i].test, i,
				 n == -1 ? "-1" : out, cases[i].want);
	}
	{
		/* the request's Host goes into the Location only as a name or address */
		static const char *const bad[] = { "a\r\nSet-Cookie: x", "a b", "a/b", "a@b" };
		struct route_redirect rd = { .status = 302 };
		char out[128];

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			assert_int_equal(route_redirect_location(&rd, NULL, 80, "http", bad[i], "/", 1,
								 NULL, 0, out, sizeof(out)), -1);
		/* too small a buffer: -1 */
		assert_int_equal(route_redirect_location(&rd, NULL, 80, "http", "example.org", "/",
							 1, NULL, 0, out, 10), -1);
	}
}

static void test_regex(void **state)
{
	struct route_regex *re;
	char err[200], subject[4096];
	clock_t start;
	(void)state;

	/* anchored at both ends: a full match */
	assert_int_equal(route_regex_compile("/a+", &re, err, sizeof(err)), 0);
	assert_true(route_regex_match(re, "/aaa", 4));
	assert_false(route_regex_match(re, "/aaab", 5));
	assert_false(route_regex_match(re, "x/aaa", 5));
	assert_true(route_regex_match(re, "/aaab", 4));	/* the length is what counts */
	route_regex_free(re);
	/* a pathological pattern costs a bounded time, and does not match */
	assert_int_equal(route_regex_compile("(a+)+b", &re, err, sizeof(err)), 0);
	memset(subject, 'a', sizeof(subject));
	start = clock();
	assert_false(route_regex_match(re, subject, sizeof(subject)));
	assert_true(clock() - start < 2 * CLOCKS_PER_SEC);
	route_regex_free(re);
	/* a bad pattern says where */
	assert_int_equal(route_regex_compile("/a(b", &re, err, sizeof(err)), -1);
	assert_null(re);
	assert_non_null(strstr(err, "invalid regular expression at offset 4"));
	/* no UTF mode a pattern could switch on */
	assert_int_equal(route_regex_compile("(*UTF)a", &re, err, sizeof(err)), -1);
}

/* The matcher on the decoded table: no Host, a listener on another port. */
static void test_match_basics(void **state)
{
	struct route_table *t = decode(table_json);
	struct route_request req = { .method = "GET", .path = "/a", .path_len = 2 };
	struct route_result out;
	(void)state;

	assert_int_equal(route_match(t, 80, &req, &out), 0);
	assert_ptr_equal(out.rule, &t->rules[0]);
	assert_string_equal(out.listener->name, "http");
	req.path = "/ab";
	req.path_len = 3;
	assert_int_equal(route_match(t, 80, &req, &out), 0);
	assert_ptr_equal(out.rule, &t->rules[1]);
	assert_int_equal(route_match(t, 81, &req, &out), -1);
	assert_null(out.rule);
	route_table_free(t);
}

/* The brief's rule: matching a request allocates nothing, regexes included. */
static void test_match_allocates_nothing(void **state)
{
	static const char json[] =
		"{\"v\":3,\"listeners\":[{\"name\":\"http\",\"port\":80,\"protocol\":\"HTTP\","
		"\"vhosts\":[{\"hostname\":\"*.example.com\",\"entries\":[[0,0],[0,1]]}]}],"
		"\"rules\":[{\"route\":\"ns/a\",\"index\":0,\"matches\":["
		"{\"pathType\":\"RegularExpression\",\"path\":\"/u/([0-9]+|x)*y\"},"
		"{\"pathType\":\"PathPrefix\",\"path\":\"/\",\"method\":\"GET\","
		"\"headers\":[{\"type\":\"RegularExpression\",\"name\":\"x-id\",\"value\":\"a.c\"}],"
		"\"query\":[{\"type\":\"RegularExpression\",\"name\":\"q\",\"value\":\"[a-z]+\"}]}],"
		"\"backends\":[{\"namespace\":\"ns\",\"name\":\"a\",\"port\":80,\"weight\":1,"
		"\"resolved\":true}]}]}";
#ifdef __SANITIZE_ADDRESS__
	(void)json;
	(void)state;
	skip();
#else
	struct route_table *t = decode(json);
	struct route_request req = { .host = "a.example.com:80", .method = "GET",
				     .path = "/u/123x456xy", .path_len = 12, .query = "q=abc",
				     .query_len = 5, .header = header_value };
	struct route_result out;
	(void)state;

	counting = 1;
	for (int i = 0; i < 1000; i++) {
		req.path_len = i % 2 ? 12 : 11;	/* the regex, then the prefix with the rest */
		assert_int_equal(route_match(t, 80, &req, &out), 0);
		assert_int_equal(out.match - out.rule->matches, i % 2 ? 0 : 1);
		assert_non_null(route_pick_backend(out.rule, (uint32_t)i));
	}
	counting = 0;
	assert_int_equal(allocations, 0);
	route_table_free(t);
#endif
}

/* Replaces the first from in table_json by to. */
static char *mutate(const char *from, const char *to)
{
	const char *at = strstr(table_json, from);
	char *out;

	assert_non_null(at);
	out = malloc(strlen(table_json) + strlen(to) + 1);
	assert_non_null(out);
	memcpy(out, table_json, (size_t)(at - table_json));
	strcpy(out + (at - table_json), to);
	strcat(out, at + strlen(from));
	return out;
}

/* The decoder takes hostile input: each mutation is refused, naming why. */
static void test_decode_refuses(void **state)
{
	static const struct {
		const char *from, *to, *error;
	} cases[] = {
		{ "\"v\":3", "\"v\":2", "version 2" },
		{ "\"v\":3", "\"v\":3,\"x\":0", "unknown field \"x\"" },
		{ "\"v\":3", "\"v\":3,\"v\":3", "invalid JSON" },
		{ "\"weight\":70,\"resolved\":true", "\"weight\":70,\"resolved\":true,\"proxyProtocol\":1",
		  "\"proxyProtocol\" must be an integer from 2 to 2" },
		{ "\"backends\":[]", "\"backends\":[],\"splitKey\":\"query:x\"",
		  "\"splitKey\" must be cookie:NAME, header:NAME or client" },
		{ "[[0,0],[1,0]]", "[[0,0],[2,0]]", "an entry must be [rule, match]" },
		{ "[[0,0],[1,0]]", "[[0,1]]", "an entry must be [rule, match]" },
		{ "[[0,0],[1,0]]", "[[0,-1]]", "an entry must be [rule, match]" },
		{ "[[0,0],[1,0]]", "[[0]]", "an entry must be [rule, match]" },
		{ "\"weight\":70", "\"weight\":1000001", "\"weight\" must be an integer" },
		{ "\"weight\":70", "\"weight\":-1", "\"weight\" must be an integer" },
		{ "\"weight\":70", "\"weight\":7.0", "\"weight\" must be an integer" },
		{ "\"port\":80,\"protocol\"", "\"port\":0,\"protocol\"", "\"port\"" },
		{ "\"HTTP\"", "\"QUIC\"", "\"protocol\"" },
		{ "\"Exact\",\"path\":\"/a\"", "\"RegularExpression\",\"path\":\"(\"",
		  "invalid regular expression" },
		{ "\"Exact\",\"path\":\"/a\"", "\"Exact\",\"path\":\"a\"", "must start with '/'" },
		{ "\"path\":\"/a\"", "\"path\":\"/a\\r\\nX: y\"", "printable" },
		{ "\"path\":\"/a\"", "\"path\":\"/a\\u0000\"", "" },
		{ "\"path\":\"/a\"}]", "\"path\":\"/a\",\"headers\":[{\"type\":\"Exact\","
		  "\"name\":\"bad name\",\"value\":\"v\"}]}]", "is not a header name" },
		{ "\"matches\":[{\"pathType\":\"PathPrefix\",\"path\":\"/\"}]", "\"matches\":[]",
		  "a rule needs a match" },
		{ "\"hostname\":\"*\"", "\"hostname\":\"a.*.com\"", "is not a virtual host name" },
		{ "\"resolved\":true}]},", "\"resolved\":1}]},", "\"resolved\" must be true or false" },
		{ "\"backends\":[]", "\"backends\":[],\"redirect\":{\"status\":305}",
		  "\"status\" must be 301" },
		{ "\"backends\":[]", "\"backends\":[],\"redirect\":{\"status\":302,\"scheme\":\"ftp\"}",
		  "\"scheme\" must be http or https" },
		{ "\"backends\":[]", "\"backends\":[],\"mirrors\":[{\"backend\":{\"namespace\":\"n\","
		  "\"name\":\"m\",\"port\":1,\"weight\":1,\"resolved\":true},\"numerator\":3,"
		  "\"denominator\":2}]", "\"numerator\" must be an integer from 0 to 2" },
		{ "\"backends\":[]", "\"backends\":[],\"rewrite\":{\"path\":\"/x\"}",
		  "\"path\" without \"pathType\"" },
		{ "\"listeners\":[", "\"listeners\":[7,", "listeners[0]: must be an object" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *json = mutate(cases[i].from, cases[i].to);
		struct route_table *t = (struct route_table *)1;
		char err[256] = "";

		if (route_codec_decode(json, strlen(json), &t, err, sizeof(err)) != -1)
			fail_msg("case %zu decoded: %s", i, json);
		assert_null(t);
		if (!strstr(err, cases[i].error))
			fail_msg("case %zu: %s, want %s", i, err, cases[i].error);
		free(json);
	}
}

static void test_decode_limits(void **state)
{
	struct route_table *t;
	char err[256];
	char *big = malloc(ROUTE_CODEC_MAX + 2);
	(void)state;

	assert_non_null(big);
	memset(big, ' ', ROUTE_CODEC_MAX + 1);
	big[ROUTE_CODEC_MAX + 1] = '\0';
	assert_int_equal(route_codec_decode(big, ROUTE_CODEC_MAX + 1, &t, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "more than"));
	/* deep nesting: refused by jansson's depth limit, not the stack */
	memset(big, '[', 100000);
	assert_int_equal(route_codec_decode(big, 100000, &t, err, sizeof(err)), -1);
	free(big);
}

/* decode(encode(t)) is t: it encodes to the same bytes. */
static void test_round_trip(void **state)
{
	struct route_table *t = decode(table_json), *again;
	struct buf a = BUF_INIT, b = BUF_INIT;
	char err[256];
	(void)state;

	assert_int_equal(route_codec_encode(t, &a), 0);
	assert_int_equal(a.len, strlen(table_json));
	assert_memory_equal(a.data, table_json, a.len);
	assert_int_equal(route_codec_decode(a.data, a.len, &again, err, sizeof(err)), 0);
	assert_int_equal(route_codec_encode(again, &b), 0);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.data, b.data, a.len);
	route_table_free(t);
	route_table_free(again);
	buf_release(&a);
	buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_weight),
		cmocka_unit_test(test_weight_all_zero),
		cmocka_unit_test(test_hostname_matches),
		cmocka_unit_test(test_rewrite_path),
		cmocka_unit_test(test_redirect_location),
		cmocka_unit_test(test_regex),
		cmocka_unit_test(test_match_basics),
		cmocka_unit_test(test_match_allocates_nothing),
		cmocka_unit_test(test_decode_refuses),
		cmocka_unit_test(test_decode_limits),
		cmocka_unit_test(test_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
