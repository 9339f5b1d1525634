/* Unit tests for lb-proxy/policy/grpc_wire.c: what content-type is gRPC, the
 * grpc-timeout grammar both ways (PROTOCOL-HTTP2.md, Requests: "Timeout"),
 * and the gRPC status of each of lb's own HTTP answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "policy/grpc_wire.h"

static void test_is_grpc(void **state)
{
	static const struct {
		const char *v;
		int grpc;
	} cases[] = {
		{ "application/grpc", 1 },
		{ "application/grpc+proto", 1 },
		{ "application/grpc+json", 1 },
		{ "Application/GRPC", 1 },
		{ "application/grpc;charset=utf-8", 1 },
		{ "application/grpc-web", 0 },
		{ "application/grpc-web+proto", 0 },
		{ "application/grpcx", 0 },
		{ "application/grp", 0 },
		{ "application/json", 0 },
		{ "", 0 },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (grpc_wire_is_grpc(cases[i].v, strlen(cases[i].v)) != cases[i].grpc)
			fail_msg("\"%s\": want %d", cases[i].v, cases[i].grpc);
}

static void test_timeout_parse(void **state)
{
	static const struct {
		const char *v;
		int ok;
		double seconds;
	} cases[] = {
		{ "1H", 1, 3600 },
		{ "2M", 1, 120 },
		{ "5S", 1, 5 },
		{ "300m", 1, 0.3 },
		{ "250u", 1, 250e-6 },
		{ "7n", 1, 7e-9 },
		{ "0S", 1, 0 },
		{ "99999999H", 1, 99999999.0 * 3600 },
		{ "00000001S", 1, 1 },
		/* the grammar: 1 to 8 digits, one unit, nothing else */
		{ "123456789S", 0, 0 },
		{ "S", 0, 0 },
		{ "5", 0, 0 },
		{ "5s", 0, 0 },
		{ "5h", 0, 0 },
		{ "5 S", 0, 0 },
		{ " 5S", 0, 0 },
		{ "-5S", 0, 0 },
		{ "+5S", 0, 0 },
		{ "1.5S", 0, 0 },
		{ "5SS", 0, 0 },
		{ "", 0, 0 },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		double got = -1;
		int rc = grpc_wire_timeout_parse(cases[i].v, strlen(cases[i].v), &got);

		if (cases[i].ok && (rc != 0 || fabs(got - cases[i].seconds) > 1e-12 * (1 + got)))
			fail_msg("\"%s\": rc %d, %g s, want %g", cases[i].v, rc, got, cases[i].seconds);
		if (!cases[i].ok && (rc != -1 || got != -1))
			fail_msg("\"%s\": parsed (%g s), want an error", cases[i].v, got);
	}
}

static void test_timeout_format(void **state)
{
	static const struct {
		double seconds;
		const char *want;
	} cases[] = {
		{ 0.05, "50000000n" },		/* the finest unit that holds it */
		{ 0.0999999999, "100000u" },	/* 99999999.9 n rounds up past 8 digits: the next unit */
		{ 0.3, "300000u" },
		{ 5, "5000000u" },
		{ 99.999999, "99999999u" },
		{ 100, "100000m" },
		{ 4.9999995, "5000000u" },	/* 4999999.5 u rounds up: never less than is left */
		{ 2.0000000000001, "2000000u" },	/* a float's dust is no more unit */
		{ 86400, "86400000m" },
		{ 1e6, "1000000S" },
		{ 1e9, "16666667M" },
		{ 1e12, "99999999H" },		/* more than the grammar holds: the most it does */
		{ 1e-12, "1n" },		/* never zero */
		{ 0, "1n" },
		{ -3, "1n" },			/* past the deadline: the least there is */
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[GRPC_TIMEOUT_MAX_LEN + 1];
		size_t n = grpc_wire_timeout_format(cases[i].seconds, out);
		double back;

		if (strcmp(out, cases[i].want) != 0 || n != strlen(out))
			fail_msg("%g s: \"%s\" (%zu), want \"%s\"", cases[i].seconds, out, n,
				 cases[i].want);
		/* what it writes, it reads */
		assert_int_equal(grpc_wire_timeout_parse(out, n, &back), 0);
	}
}

static void test_status_for_http(void **state)
{
	static const struct {
		int http, overloaded;
		enum grpc_status want;
	} cases[] = {
		{ 503, 0, GRPC_UNAVAILABLE },		/* no backend, out of resources */
		{ 502, 0, GRPC_UNAVAILABLE },		/* a backend failed */
		{ 504, 0, GRPC_DEADLINE_EXCEEDED },	/* a timeout */
		{ 503, 1, GRPC_RESOURCE_EXHAUSTED },	/* the queue is full */
		{ 429, 0, GRPC_RESOURCE_EXHAUSTED },	/* rate limited */
		{ 413, 0, GRPC_RESOURCE_EXHAUSTED },
		{ 431, 0, GRPC_RESOURCE_EXHAUSTED },
		{ 408, 0, GRPC_DEADLINE_EXCEEDED },
		{ 404, 0, GRPC_UNIMPLEMENTED },		/* no route */
		{ 501, 0, GRPC_UNIMPLEMENTED },
		{ 400, 0, GRPC_INTERNAL },
		{ 500, 0, GRPC_INTERNAL },
		{ 401, 0, GRPC_UNAUTHENTICATED },
		{ 403, 0, GRPC_PERMISSION_DENIED },
		{ 414, 0, GRPC_UNKNOWN },
		{ 505, 0, GRPC_UNKNOWN },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (grpc_wire_status_for_http(cases[i].http, cases[i].overloaded) != cases[i].want)
			fail_msg("%d (overloaded %d): %d, want %d", cases[i].http,
				 cases[i].overloaded,
				 grpc_wire_status_for_http(cases[i].http, cases[i].overloaded),
				 cases[i].want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_is_grpc),
		cmocka_unit_test(test_timeout_parse),
		cmocka_unit_test(test_timeout_format),
		cmocka_unit_test(test_status_for_http),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
