/* Unit tests for common/admin_route.c: the admin API's routes, table
 * driven, and lb-discover/core/registry.c's joined/left lists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "admin_route.h"
#include "buf.h"
#include "core/registry.h"
#include "verbs.h"

/* 513 and 512 bytes */
#define P64 "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define LONG_PATH P64 P64 P64 P64 P64 P64 P64 P64 "b"
#define LONG_PATH_OK P64 P64 P64 P64 P64 P64 P64 P64

static void test_routes(void **state)
{
	static const struct {
		int method;
		const char *target;
		enum admin_route_status status;
		enum admin_action action;
		const char *verb;	/* the verb's name for ADMIN_VERB */
		const char *address;
		double wait;
		const char *allow;	/* for NOT_ALLOWED */
	} cases[] = {
		{ HTTP_GET, "/admin/health", ADMIN_ROUTE_OK, ADMIN_LIST, NULL, "", 0, NULL },
		{ HTTP_HEAD, "/admin/health", ADMIN_ROUTE_OK, ADMIN_LIST, NULL, "", 0, NULL },
		{ HTTP_GET, "/admin/backends", ADMIN_ROUTE_OK, ADMIN_LIST, NULL, "", 0, NULL },
		{ HTTP_GET, "/admin/backends?x=1", ADMIN_ROUTE_OK, ADMIN_LIST, NULL, "", 0, NULL },
		{ HTTP_POST, "/admin/backends", ADMIN_ROUTE_OK, ADMIN_VERB, "add", "", 0, NULL },
		{ HTTP_GET, "/admin/proxies", ADMIN_ROUTE_OK, ADMIN_PROXIES, NULL, "", 0, NULL },
		{ HTTP_GET, "/admin/metrics", ADMIN_ROUTE_OK, ADMIN_METRICS, NULL, "", 0, NULL },
		/* the status page, its files and its events */
		{ HTTP_GET, "/", ADMIN_ROUTE_OK, ADMIN_PAGE, NULL, "", 0, NULL },
		{ HTTP_GET, "/?x=1", ADMIN_ROUTE_OK, ADMIN_PAGE, NULL, "", 0, NULL },
		{ HTTP_GET, "/page.js", ADMIN_ROUTE_OK, ADMIN_PAGE, NULL, "", 0, NULL },
		{ HTTP_GET, "/page.css", ADMIN_ROUTE_OK, ADMIN_PAGE, NULL, "", 0, NULL },
		{ HTTP_GET, "/events", ADMIN_ROUTE_OK, ADMIN_EVENTS, NULL, "", 0, NULL },
		{ HTTP_DELETE, "/admin/backends/10.0.0.9:8080", ADMIN_ROUTE_OK, ADMIN_VERB, "remove",
		  "10.0.0.9:8080", 0, NULL },
		{ HTTP_POST, "/admin/backends/10.0.0.9:8080/drain", ADMIN_ROUTE_OK, ADMIN_VERB, "drain",
		  "10.0.0.9:8080", 0, NULL },
		{ HTTP_POST, "/admin/backends/10.0.0.9:8080/drain?wait=2.5", ADMIN_ROUTE_OK,
		  ADMIN_VERB, "drain", "10.0.0.9:8080", 2.5, NULL },
		{ HTTP_POST, "/admin/backends/10.0.0.9:8080/drain?x=1&wait=3", ADMIN_ROUTE_OK,
		  ADMIN_VERB, "drain", "10.0.0.9:8080", 3, NULL },
		{ HTTP_POST, "/admin/backends/10.0.0.9:8080/undrain", ADMIN_ROUTE_OK, ADMIN_VERB, "undrain",
		  "10.0.0.9:8080", 0, NULL },
		{ HTTP_PUT, "/admin/backends/10.0.0.9:8080/weight", ADMIN_ROUTE_OK, ADMIN_VERB, "weight",
		  "10.0.0.9:8080", 0, NULL },
		/* percent-encoded */
		{ HTTP_POST, "/admin/backends/%5B%3A%3A1%5D%3A80/drain", ADMIN_ROUTE_OK, ADMIN_VERB, "drain",
		  "[::1]:80", 0, NULL },
		{ HTTP_POST, "/admin/backends/10.0.0.9%3A80/%64rain", ADMIN_ROUTE_OK, ADMIN_VERB, "drain",
		  "10.0.0.9:80", 0, NULL },
		/* routed on the raw path: %2F is in a segment, never a route's slash */
		{ HTTP_POST, "/admin/backends/10.0.0.9:80%2Fdrain", ADMIN_ROUTE_NOT_ALLOWED, 0, NULL, "", 0,
		  "DELETE" },
		{ HTTP_DELETE, "/admin/backends/10.0.0.9:80%2Fdrain", ADMIN_ROUTE_BAD, ADMIN_VERB, "remove",
		  "10.0.0.9:80/drain", 0, NULL },
		{ HTTP_GET, "/admin%2Fhealth", ADMIN_ROUTE_NOT_FOUND, 0, NULL, "", 0, NULL },
		{ HTTP_POST, "/admin/backends/http%3A%2F%2F10.0.0.9%3A80/drain", ADMIN_ROUTE_BAD,
		  ADMIN_VERB, "drain", "http://10.0.0.9:80", 0, NULL },
		{ HTTP_DELETE, "/admin/backends/http://10.0.0.9:80/", ADMIN_ROUTE_BAD, 0, NULL, "", 0, NULL },
		{ HTTP_PUT, "/admin/backends/http://10.0.0.9:80/weight", ADMIN_ROUTE_BAD, 0, NULL, "", 0,
		  NULL },
		/* a backend named like a verb is still a backend */
		{ HTTP_DELETE, "/admin/backends/drain", ADMIN_ROUTE_OK, ADMIN_VERB, "remove", "drain", 0, NULL },
		/* refusals */
		{ HTTP_GET, "//", ADMIN_ROUTE_NOT_FOUND, 0, NULL, "", 0, NULL },
		{ HTTP_GET, "/page.html", ADMIN_ROUTE_NOT_FOUND, 0, NULL, "", 0, NULL },
		{ HTTP_POST, "/", ADMIN_ROUTE_NOT_ALLOWED, 0, NULL, "", 0, "GET, HEAD" },
		{ HTTP_POST, "/events", ADMIN_ROUTE_NOT_ALLOWED, 0, NULL, "", 0, "GET, HEAD" },
		{ HTTP_GET, "/admin", ADMIN_ROUTE_NOT_FOUND, 0, NULL, "", 0, NULL },
		{ HTTP_GET, "/admin/backends/", ADMIN_ROUTE_NOT_FOUND, 0, NULL, "", 0, NULL },
		{ HTTP_GET, "/admin/healthz", ADMIN_ROUTE_NOT_FOUND, 0, NULL, "", 0, NULL },
		{ HTTP_DELETE, "/admin/health", ADMIN_ROUTE_NOT_ALLOWED, 0, NULL, "", 0, "GET, HEAD" },
		{ HTTP_PUT, "/admin/backends", ADMIN_ROUTE_NOT_ALLOWED, 0, NULL, "", 0, "GET, HEAD, POST" },
		{ HTTP_POST, "/admin/metrics", ADMIN_ROUTE_NOT_ALLOWED, 0, NULL, "", 0, "GET, HEAD" },
		{ HTTP_GET, "/admin/backends/10.0.0.9:80/drain", ADMIN_ROUTE_NOT_ALLOWED, 0, NULL, "", 0,
		  "POST" },
		{ HTTP_POST, "/admin/backends/10.0.0.9:80/weight", ADMIN_ROUTE_NOT_ALLOWED, 0, NULL, "", 0,
		  "PUT" },
		{ HTTP_GET, "/admin/backends/10.0.0.9:80", ADMIN_ROUTE_NOT_ALLOWED, 0, NULL, "", 0,
		  "DELETE" },
		{ HTTP_GET, "/admin/%zz", ADMIN_ROUTE_BAD, 0, NULL, "", 0, NULL },
		{ HTTP_GET, "/admin/health%", ADMIN_ROUTE_BAD, 0, NULL, "", 0, NULL },
		{ HTTP_GET, "/admin/health%4", ADMIN_ROUTE_BAD, 0, NULL, "", 0, NULL },
		{ HTTP_GET, "/admin/he%00alth", ADMIN_ROUTE_BAD, 0, NULL, "", 0, NULL },
		{ HTTP_POST, "/admin/backends/a:1/drain?wait=0", ADMIN_ROUTE_BAD, ADMIN_VERB, "drain", "a:1",
		  0, NULL },
		{ HTTP_POST, "/admin/backends/a:1/drain?wait=-1", ADMIN_ROUTE_BAD, ADMIN_VERB, "drain", "a:1",
		  0, NULL },
		{ HTTP_POST, "/admin/backends/a:1/drain?wait=3601", ADMIN_ROUTE_BAD, ADMIN_VERB, "drain",
		  "a:1", 0, NULL },
		{ HTTP_POST, "/admin/backends/a:1/drain?wait=", ADMIN_ROUTE_BAD, ADMIN_VERB, "drain", "a:1", 0,
		  NULL },
		{ HTTP_POST, "/admin/backends/a:1/drain?wait=1s", ADMIN_ROUTE_BAD, ADMIN_VERB, "drain", "a:1",
		  0, NULL },
		{ HTTP_POST, "/admin/backends/a:1/drain?wait=nan", ADMIN_ROUTE_BAD, ADMIN_VERB, "drain", "a:1",
		  0, NULL },
		/* decimal seconds only: strtod would take these */
		{ HTTP_POST, "/admin/backends/a:1/drain?wait=0x10", ADMIN_ROUTE_BAD, ADMIN_VERB, "drain",
		  "a:1", 0, NULL },
		{ HTTP_POST, "/admin/backends/a:1/drain?wait=inf", ADMIN_ROUTE_BAD, ADMIN_VERB, "drain", "a:1",
		  0, NULL },
		{ HTTP_POST, "/admin/backends/a:1/drain?wait=%201", ADMIN_ROUTE_BAD, ADMIN_VERB, "drain",
		  "a:1", 0, NULL },
		{ HTTP_POST, "/admin/backends/a:1/drain?wait=1e9999", ADMIN_ROUTE_BAD, ADMIN_VERB, "drain",
		  "a:1", 0, NULL },
		{ HTTP_POST, "/admin/backends/a:1/drain?wait=.5", ADMIN_ROUTE_OK, ADMIN_VERB, "drain", "a:1",
		  0.5, NULL },
		/* a path over ADMIN_PATH_MAX bytes is 414, not "bad percent-encoding" */
		{ HTTP_GET, LONG_PATH, ADMIN_ROUTE_TOO_LONG, 0, NULL, "", 0, NULL },
		{ HTTP_GET, LONG_PATH_OK, ADMIN_ROUTE_NOT_FOUND, 0, NULL, "", 0, NULL },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct admin_route r;
		enum admin_route_status st = admin_route_parse(cases[i].method, cases[i].target,
							       strlen(cases[i].target), &r);

		if (st != cases[i].status)
			fail_msg("%s: status %d, wanted %d", cases[i].target, st, cases[i].status);
		if (st == ADMIN_ROUTE_OK || (st == ADMIN_ROUTE_BAD && r.known_action)) {
			assert_int_equal(r.action, cases[i].action);
			if (cases[i].verb)
				assert_string_equal(r.verb->name, cases[i].verb);
			assert_string_equal(r.address, cases[i].address);
			assert_true(r.wait == cases[i].wait);
		}
		if (st == ADMIN_ROUTE_NOT_ALLOWED)
			assert_string_equal(r.allow, cases[i].allow);
		if (st == ADMIN_ROUTE_BAD)
			assert_non_null(r.error);
	}
}

/* ?service= names a routed Service, percent-decoded, on verbs and on the
 * backends', proxies' and events' reads; bad encoding, empty or too long is
 * 400. */
static void test_service_parameter(void **state)
{
	static const struct {
		int method;
		const char *target;
		enum admin_route_status st;
		const char *service;
	} cases[] = {
		{ HTTP_POST, "/admin/backends/a:1/drain?service=default%2Fapi%3A80&wait=2",
		  ADMIN_ROUTE_OK, "default/api:80" },
		{ HTTP_PUT, "/admin/backends/a:1/weight?service=default/api:80", ADMIN_ROUTE_OK,
		  "default/api:80" },
		{ HTTP_GET, "/admin/backends?service=ns%2Fweb%3A8080", ADMIN_ROUTE_OK, "ns/web:8080" },
		{ HTTP_GET, "/admin/proxies?service=ns/web:1", ADMIN_ROUTE_OK, "ns/web:1" },
		/* the status page's stream of one Service */
		{ HTTP_GET, "/events?service=default%2Fweb%3A80", ADMIN_ROUTE_OK, "default/web:80" },
		{ HTTP_GET, "/events", ADMIN_ROUTE_OK, "" },
		{ HTTP_GET, "/events?service=%zz", ADMIN_ROUTE_BAD, "" },
		{ HTTP_GET, "/admin/backends", ADMIN_ROUTE_OK, "" },
		{ HTTP_POST, "/admin/backends/a:1/drain?service=", ADMIN_ROUTE_BAD, "" },
		{ HTTP_POST, "/admin/backends/a:1/drain?service=%zz", ADMIN_ROUTE_BAD, "" },
		{ HTTP_GET, "/admin/health?service=a%00b", ADMIN_ROUTE_BAD, "" },
	};
	struct admin_route r;
	char target[600];
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(admin_route_parse(cases[i].method, cases[i].target,
						   strlen(cases[i].target), &r), cases[i].st);
		if (cases[i].st == ADMIN_ROUTE_OK)
			assert_string_equal(r.service, cases[i].service);
	}
	/* a name of BUS_SERVICE_MAX bytes or more is refused, one less taken */
	for (int len = BUS_SERVICE_MAX - 1; len <= BUS_SERVICE_MAX; len++) {
		int n = snprintf(target, sizeof(target), "/admin/backends?service=");

		memset(target + n, 'x', (size_t)len);
		target[n + len] = '\0';
		assert_int_equal(admin_route_parse(HTTP_GET, target, strlen(target), &r),
				 len < BUS_SERVICE_MAX ? ADMIN_ROUTE_OK : ADMIN_ROUTE_BAD);
	}
}

static void test_writes_are_the_guarded_routes(void **state)
{
	static const struct {
		int method;
		const char *target;
		int writes;
	} cases[] = {
		{ HTTP_GET, "/admin/health", 0 },
		{ HTTP_GET, "/admin/backends", 0 },
		{ HTTP_GET, "/admin/metrics", 0 },
		{ HTTP_POST, "/admin/backends", 1 },
		{ HTTP_DELETE, "/admin/backends/a:1", 1 },
		{ HTTP_POST, "/admin/backends/a:1/drain", 1 },
		{ HTTP_PUT, "/admin/backends/a:1/weight", 1 },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct admin_route r;

		assert_int_equal(admin_route_parse(cases[i].method, cases[i].target,
						   strlen(cases[i].target), &r), ADMIN_ROUTE_OK);
		assert_int_equal(admin_route_writes(&r), cases[i].writes);
	}
}

/* Every verb with an http route is reachable at it, and the body-taking
 * ones say where the address comes from. */
static void test_every_verb_route_routes_to_its_verb(void **state)
{
	(void)state;
	for (unsigned i = 0; i < verbs_count; i++) {
		const struct verb *v = &verbs[i];
		char target[128], *slot;
		struct admin_route r;
		int method = -1;

		if (!v->http_path)
			continue;
		for (int m = 0; m < 40; m++)
			if (strcmp(llhttp_method_name((llhttp_method_t)m), v->http_method) == 0)
				method = m;
		assert_true(method >= 0);
		snprintf(target, sizeof(target), "%s", v->http_path);
		slot = strstr(target, "{address}");
		if (slot) {
			char rest[128];

			snprintf(rest, sizeof(rest), "%s", slot + 9);
			snprintf(slot, sizeof(target) - (size_t)(slot - target), "10.0.0.9:80%s", rest);
		}
		assert_int_equal(admin_route_parse(method, target, strlen(target), &r),
				 ADMIN_ROUTE_OK);
		assert_int_equal(r.action, ADMIN_VERB);
		assert_ptr_equal(r.verb, v);
		assert_int_equal(r.address_in_path, slot != NULL);
		if (slot)
			assert_string_equal(r.address, "10.0.0.9:80");
	}
}

static void source(struct registry *r, const char *const *addrs, size_t n)
{
	struct bus_backend list[8];

	memset(list, 0, sizeof(list));
	for (size_t i = 0; i < n; i++) {
		snprintf(list[i].address, sizeof(list[i].address), "%s", addrs[i]);
		list[i].weight = 1;
	}
	registry_source_update(r, list, n, 1000.0);
}

static void commit_what(struct registry *r, int changed, const char *joined, const char *left,
			const char *what)
{
	struct buf j = BUF_INIT, l = BUF_INIT, w = BUF_INIT;

	assert_int_equal(registry_commit_diff(r, &j, &l, &w, 2), changed);
	if (changed) {
		assert_int_equal(j.len, strlen(joined));
		assert_memory_equal(j.data, joined, j.len);
		assert_int_equal(l.len, strlen(left));
		assert_memory_equal(l.data, left, l.len);
		if (what) {
			buf_append(&w, "", 1);
			assert_string_equal(w.data, what);
		}
	} else {
		assert_int_equal(j.len + l.len + w.len, 0);
	}
	buf_release(&j);
	buf_release(&l);
	buf_release(&w);
}

static void commit(struct registry *r, int changed, const char *joined, const char *left)
{
	commit_what(r, changed, joined, left, NULL);
}

static void test_joined_and_left(void **state)
{
	static const char *const ab[] = { "10.0.0.1:80", "10.0.0.2:80" };
	static const char *const bcde[] = { "10.0.0.2:80", "10.0.0.3:80", "10.0.0.4:80",
					    "10.0.0.5:80" };
	struct registry r;
	(void)state;

	registry_init(&r, "shop");
	source(&r, ab, 2);
	commit(&r, 1, "10.0.0.1:80,10.0.0.2:80", "-");
	commit(&r, 0, "", "");				/* nothing changed */
	source(&r, bcde, 4);
	commit(&r, 1, "10.0.0.3:80,10.0.0.4:80,+1 more", "10.0.0.1:80");
	registry_find(&r, "10.0.0.2:80")->drained = 1;	/* a state change: no one joins, */
	commit_what(&r, 1, "-", "-", "10.0.0.2:80:up>draining");	/* and it is named */
	registry_find(&r, "10.0.0.4:80")->weight_override = 5;
	registry_find(&r, "10.0.0.2:80")->drained = 0;
	commit_what(&r, 1, "-", "-", "10.0.0.2:80:draining>up,10.0.0.4:80:weight:1>5");
	registry_find(&r, "10.0.0.3:80")->removed = 1;
	commit(&r, 1, "-", "10.0.0.3:80");
	registry_release(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_service_parameter),
		cmocka_unit_test(test_writes_are_the_guarded_routes),
		cmocka_unit_test(test_every_verb_route_routes_to_its_verb),
		cmocka_unit_test(test_joined_and_left),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
