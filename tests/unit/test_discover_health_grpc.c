/* Unit tests for lb-discover/sources/health_grpc.c: the hand-encoded
 * HealthCheckRequest, the verdict on an answer (grpc/doc/health-checking.md)
 * and hostile response bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "sources/health_grpc.h"

static void test_request(void **state)
{
	unsigned char out[HEALTH_GRPC_REQUEST_MAX];
	char name[HEALTH_GRPC_SERVICE_MAX + 2];
	size_t n;
	(void)state;

	/* the server as a whole: an empty message (proto3 omits "") */
	n = health_grpc_request("", out);
	assert_int_equal(n, 5);
	assert_memory_equal(out, "\0\0\0\0\0", 5);
	n = health_grpc_request("a.B", out);
	assert_int_equal(n, 10);
	assert_memory_equal(out, "\0\0\0\0\x05\x0a\x03" "a.B", 10);
	/* 150 bytes: a two-byte length (0x96 0x01) */
	memset(name, 'x', 150);
	name[150] = '\0';
	n = health_grpc_request(name, out);
	assert_int_equal(n, 5 + 3 + 150);
	assert_memory_equal(out, "\0\0\0\0\x99\x0a\x96\x01", 8);
	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	assert_int_equal(health_grpc_request(name, out), 0);
}

static void test_verdict(void **state)
{
	static const struct {
		long http;
		int grpc;
		const char *body;
		size_t n;
		int ok;
		const char *why;
	} cases[] = {
		{ 200, 0, "\0\0\0\0\x02\x08\x01", 7, 1, "" },
		{ 200, 0, "\0\0\0\0\x02\x08\x02", 7, 0, "NOT_SERVING" },
		{ 200, 0, "\0\0\0\0\x02\x08\x00", 7, 0, "UNKNOWN" },
		{ 200, 0, "\0\0\0\0\x00", 5, 0, "UNKNOWN" },	/* the default, omitted */
		{ 200, 0, "\0\0\0\0\x02\x08\x03", 7, 0, "SERVICE_UNKNOWN" },
		/* fields it does not know are skipped, the last status counts */
		{ 200, 0, "\0\0\0\0\x09\x12\x02hi\x08\x02\x08\x01\x1d\x00", 14, 0,
		  "not a HealthCheckResponse" },	/* a 32-bit field cut short */
		{ 200, 0, "\0\0\0\0\x0d\x12\x02hi\x08\x02\x08\x01\x1d\x00\x00\x00\x00", 18, 1, "" },
		{ 200, 5, "", 0, 0, "grpc-status 5" },
		{ 200, 12, "", 0, 0, "grpc-status 12" },
		{ 200, -1, "\0\0\0\0\x02\x08\x01", 7, 0, "no grpc-status" },
		{ 404, 0, "", 0, 0, "HTTP 404" },
		/* hostile bytes */
		{ 200, 0, "\0\0\0\0\x09\x08\x01", 7, 0, "not a HealthCheckResponse" },	/* cut */
		{ 200, 0, "\x01\0\0\0\x02\x08\x01", 7, 0, "not a HealthCheckResponse" },	/* compressed */
		{ 200, 0, "\0\0\0\0\x02\x08\x09", 7, 0, "not a HealthCheckResponse" },
		{ 200, 0, "\0\0\0\0\x02\x08\xff", 7, 0, "not a HealthCheckResponse" },
		{ 200, 0, "\0\0\0\0\x03\x12\x7f\x00", 8, 0, "not a HealthCheckResponse" },
		{ 200, 0, "\0\0\0\0\x02\x0b\x01", 7, 0, "not a HealthCheckResponse" },	/* group */
		{ 200, 0, "\0\0\0", 3, 0, "not a HealthCheckResponse" },
		{ 200, 0, "\0\0\0\0\x0b\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 16, 0,
		  "not a HealthCheckResponse" },	/* a varint of 11 bytes */
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char why[64] = "";
		int ok = health_grpc_verdict(cases[i].http, cases[i].grpc,
					     (const unsigned char *)cases[i].body, cases[i].n, why,
					     sizeof(why));

		if (ok != cases[i].ok || strcmp(why, cases[i].why) != 0)
			fail_msg("case %zu: %d \"%s\", want %d \"%s\"", i, ok, why, cases[i].ok,
				 cases[i].why);
	}
}

static void test_status_line(void **state)
{
	static const struct {
		const char *line;
		int want;
	} cases[] = {
		{ "grpc-status: 0\r\n", 0 },
		{ "grpc-status:14\r\n", 14 },
		{ "Grpc-Status: 5\r\n", 5 },
		{ "grpc-status: \r\n", -1 },
		{ "grpc-status: x\r\n", -1 },
		{ "grpc-status: 99999\r\n", -1 },
		{ "grpc-message: 1\r\n", -1 },
		{ "content-type: application/grpc\r\n", -1 },
		{ "\r\n", -1 },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (health_grpc_status_line(cases[i].line, strlen(cases[i].line)) != cases[i].want)
			fail_msg("\"%s\": want %d", cases[i].line, cases[i].want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request),
		cmocka_unit_test(test_verdict),
		cmocka_unit_test(test_status_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
