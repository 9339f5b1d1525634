/* Unit tests for common/bus_routes.c: the bus's "routes" message round
 * trip, and the refusals of a hostile one (docs/bus-protocol.md). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus_protocol.h"
#include "bus_routes.h"
#include "route_codec.h"
#include "route_codec_decode.h"

/* the protocol version as a string, for the messages below */
#define BUS_STR(x) #x
#define BUS_XSTR(x) BUS_STR(x)
#define BUS_V BUS_XSTR(BUS_PROTOCOL_VERSION)

static const char table_json[] =
	"{\"v\":3,\"listeners\":[{\"name\":\"http\",\"port\":80,\"protocol\":\"HTTP\","
	"\"vhosts\":[{\"hostname\":\"*\",\"entries\":[[0,0]]}]}],"
	"\"rules\":[{\"route\":\"ns/a\",\"index\":0,\"matches\":[{\"pathType\":\"PathPrefix\","
	"\"path\":\"/\"}],\"backends\":["
	"{\"namespace\":\"ns\",\"name\":\"a\",\"port\":80,\"weight\":1,\"resolved\":true}]}]}";

static struct route_table *table(void)
{
	struct route_table *t;
	char err[256];

	if (route_codec_decode(table_json, strlen(table_json), &t, err, sizeof(err)) == -1)
		fail_msg("%s", err);
	return t;
}

/* Encoded, decoded: the same table and generation; "type" where
 * bus_routes_is looks for it. */
static void test_round_trip(void **state)
{
	struct route_table *t = table(), *back;
	struct buf msg = BUF_INIT, a = BUF_INIT, b = BUF_INIT;
	unsigned long long gen = 0;
	char err[256];

	(void)state;
	assert_int_equal(bus_routes_encode(1796657566133ULL, t, &msg), 0);
	assert_true(bus_routes_is(msg.data, msg.len));
	assert_int_equal(bus_routes_decode(msg.data, msg.len, &gen, &back, err, sizeof(err)), 0);
	assert_true(gen == 1796657566133ULL);
	assert_int_equal(route_codec_encode(t, &a), 0);
	assert_int_equal(route_codec_encode(back, &b), 0);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.data, b.data, a.len);
	route_table_free(t);
	route_table_free(back);
	buf_release(&msg);
	buf_release(&a);
	buf_release(&b);
}

/* A set is not a routes message, and is left to bus_set_decode. */
static void test_set_is_not_routes(void **state)
{
	static const char set[] = "{\"v\":" BUS_V ",\"type\":\"set\",\"service\":\"backend\","
				  "\"generation\":1,\"backends\":[]}";

	(void)state;
	assert_false(bus_routes_is(set, sizeof(set) - 1));
	assert_false(bus_routes_is("", 0));
}

/* Each hostile message is refused with its reason, and nothing leaks. */
static void test_refusals(void **state)
{
	static const struct {
		const char *msg, *why;
	} cases[] = {
		{ "not json", "not a JSON object" },
		{ "[]", "not a JSON object" },
		{ "{\"v\":6,\"type\":\"routes\",\"generation\":1,\"table\":{}}", "version 6" },
		{ "{\"v\":" BUS_V ",\"type\":\"set\",\"generation\":1,\"table\":{}}", "type must be routes" },
		{ "{\"v\":" BUS_V ",\"type\":\"routes\",\"generation\":0,\"table\":{}}", "positive" },
		{ "{\"v\":" BUS_V ",\"type\":\"routes\",\"generation\":-3,\"table\":{}}", "positive" },
		{ "{\"v\":" BUS_V ",\"type\":\"routes\",\"generation\":1,\"table\":[]}", "nothing else" },
		{ "{\"v\":" BUS_V ",\"type\":\"routes\",\"generation\":1,\"table\":{},\"x\":1}", "nothing else" },
		{ "{\"v\":" BUS_V ",\"type\":\"routes\",\"type\":\"routes\",\"generation\":1,\"table\":{}}",
		  "not a JSON object" },
		/* the table is checked by the route codec */
		{ "{\"v\":" BUS_V ",\"type\":\"routes\",\"generation\":1,\"table\":{\"v\":3}}", "" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct route_table *t = (struct route_table *)1;
		unsigned long long gen;
		char err[256] = "";

		assert_int_equal(bus_routes_decode(cases[i].msg, strlen(cases[i].msg), &gen, &t, err,
						   sizeof(err)), -1);
		assert_null(t);
		if (!strstr(err, cases[i].why))
			fail_msg("case %zu: \"%s\" does not say \"%s\"", i, err, cases[i].why);
	}
}

/* Over the bus's size: refused before parsing. */
static void test_oversized(void **state)
{
	size_t n = BUS_MAX_MESSAGE + 1;
	char *big = malloc(n);
	struct route_table *t;
	unsigned long long gen;
	char err[256];

	(void)state;
	assert_non_null(big);
	memset(big, ' ', n);
	assert_int_equal(bus_routes_decode(big, n, &gen, &t, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "over"));
	free(big);
}

/* Service names: namespace/name:port, and refused when they do not fit. */
static void test_service_name(void **state)
{
	char out[BUS_SERVICE_MAX], small[8];
	char ns[64], name[254];

	(void)state;
	assert_int_equal(bus_routes_service("default", "api", 80, out, sizeof(out)), 14);
	assert_string_equal(out, "default/api:80");
	assert_int_equal(bus_routes_service("default", "api", 80, small, sizeof(small)), -1);
	memset(ns, 'n', 63);
	ns[63] = '\0';
	memset(name, 'a', 253);
	name[253] = '\0';
	assert_true(bus_routes_service(ns, name, 65535, out, sizeof(out)) > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_set_is_not_routes),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_service_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
