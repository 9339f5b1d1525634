/* Unit tests for common/bus_protocol.c: round trips, and every malformed
 * message is refused with its reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bus_protocol.h"

/* the protocol version as JSON text */
#define BUS_STR(x) #x
#define BUS_XSTR(x) BUS_STR(x)
#define BUS_V BUS_XSTR(BUS_PROTOCOL_VERSION)

static void test_set_round_trip(void **state)
{
	struct bus_backend items[2] = {
		{ "10.0.0.7:8080", 3, BUS_STATE_UP, "", 0, 0, 0, 0, 0, 0, 0, "", 0, 0, 0, 0, 0, BUS_SKIP_NONE, 0 },
		{ "[::1]:8080", 1, BUS_STATE_DRAINING, "operator", 0, 0, 0, 0, 0, 0, 0, "", 0, 0, 0, 0, 0, BUS_SKIP_NONE, 0 },
	};
	struct bus_set set = { "set", "shop", 42, 0, 0, 0, 2, items, 0, 0, 3, 0, 0, 0, "", .nlistens = 0 }, back;
	struct buf out = BUF_INIT;
	char err[256];
	(void)state;

	assert_int_equal(bus_set_encode(&set, &out), 0);
	assert_int_equal(bus_set_decode(out.data, out.len, &back, err, sizeof(err)), 0);
	assert_string_equal(back.type, "set");
	assert_string_equal(back.service, "shop");
	assert_int_equal(back.generation, 42);
	assert_int_equal(back.n, 2);
	assert_string_equal(back.backends[1].address, "[::1]:8080");
	assert_int_equal(back.backends[1].state, BUS_STATE_DRAINING);
	assert_string_equal(back.backends[1].reason, "operator");
	assert_int_equal(back.backends[0].weight, 3);
	assert_int_equal(back.proxies, 3);
	bus_set_release(&back);
	buf_release(&out);
}

/* "proxies" (version 5): a set without it is one proxy's; one of nothing
 * (0) is sent as 1. */
static void test_set_proxies(void **state)
{
	static const char without[] =
		"{\"v\":" BUS_V ",\"type\":\"set\",\"service\":\"s\",\"generation\":1,\"backends\":[]}";
	struct bus_set set = { "set", "s", 1, 0, 0, 0, 0, NULL, 0, 0, 0, 0, 0, 0, "", .nlistens = 0 }, back;
	struct buf out = BUF_INIT;
	char err[256];
	(void)state;

	assert_int_equal(bus_set_decode(without, sizeof(without) - 1, &back, err, sizeof(err)), 0);
	assert_int_equal(back.proxies, 1);
	bus_set_release(&back);
	assert_int_equal(bus_set_encode(&set, &out), 0);
	assert_non_null(memmem(out.data, out.len, "\"proxies\":1", 11));
	assert_int_equal(bus_set_decode(out.data, out.len, &back, err, sizeof(err)), 0);
	assert_int_equal(back.proxies, 1);
	bus_set_release(&back);
	buf_release(&out);
	/* reports carry no count */
	snprintf(set.type, sizeof(set.type), "report");
	set.pid = 1;
	assert_int_equal(bus_set_encode(&set, &out), 0);
	assert_null(memmem(out.data, out.len, "proxies", 7));
	buf_release(&out);
}

static void test_report_round_trip(void **state)
{
	struct bus_backend items[1] = {
		{ "10.0.0.7:8080", 0, BUS_STATE_DOWN, "", 4, 1000, 2, 9, 0, 0, 0, "", BUS_BREAKER_OPEN,
		  3, 2, 0, 0, BUS_SKIP_NONE, 0 },
	};
	struct bus_set rep = { "report", "shop", 7, 1234, 1, 2.5, 1, items, 5, 0, 0, 0, 0, 0, "", .nlistens = 0 }, back;
	struct buf out = BUF_INIT;
	char err[256];
	(void)state;

	assert_int_equal(bus_set_encode(&rep, &out), 0);
	assert_int_equal(bus_set_decode(out.data, out.len, &back, err, sizeof(err)), 0);
	assert_string_equal(back.type, "report");
	assert_int_equal(back.pid, 1234);
	assert_int_equal(back.stale, 1);
	assert_int_equal(back.ignored, 5);
	assert_int_equal(back.backends[0].active, 4);
	assert_int_equal(back.backends[0].requests, 1000);
	assert_int_equal(back.backends[0].state, BUS_STATE_DOWN);
	assert_int_equal(back.backends[0].responses_5xx, 9);
	assert_int_equal(back.backends[0].breaker, BUS_BREAKER_OPEN);
	assert_int_equal(back.backends[0].consecutive_5xx, 3);
	assert_int_equal(back.backends[0].consecutive_gateway, 2);
	assert_int_equal(back.panic, 0);
	bus_set_release(&back);
	/* version 6: a proxy in panic says so */
	rep.panic = 1;
	buf_reset(&out);
	assert_int_equal(bus_set_encode(&rep, &out), 0);
	assert_non_null(memmem(out.data, out.len, "\"panic\":true", 12));
	assert_int_equal(bus_set_decode(out.data, out.len, &back, err, sizeof(err)), 0);
	assert_int_equal(back.panic, 1);
	bus_set_release(&back);
	rep.panic = 0;
	/* version 7: the runs' kinds, why the proxy skips it, its first report */
	items[0].failures_5xx = BUS_FAILURE_5XX | BUS_FAILURE_TIMEOUT;
	items[0].failures_gateway = BUS_FAILURE_TIMEOUT;
	items[0].skip = BUS_SKIP_CONNECT_TIMEOUT;
	items[0].ejected = 1;
	items[0].ejections = 1;
	items[0].eject_failures = BUS_FAILURE_TIMEOUT;
	snprintf(items[0].eject_reason, sizeof(items[0].eject_reason), "outlier: 2 consecutive timeouts");
	rep.fresh = 1;
	buf_reset(&out);
	assert_int_equal(bus_set_encode(&rep, &out), 0);
	assert_non_null(memmem(out.data, out.len, "\"failures_gateway\":[\"timeout\"]", 29));
	assert_non_null(memmem(out.data, out.len, "\"skip\":\"connect-timeout\"", 24));
	assert_non_null(memmem(out.data, out.len, "\"new\":true", 10));
	assert_int_equal(bus_set_decode(out.data, out.len, &back, err, sizeof(err)), 0);
	assert_int_equal(back.backends[0].failures_5xx, BUS_FAILURE_5XX | BUS_FAILURE_TIMEOUT);
	assert_int_equal(back.backends[0].failures_gateway, BUS_FAILURE_TIMEOUT);
	assert_int_equal(back.backends[0].skip, BUS_SKIP_CONNECT_TIMEOUT);
	assert_int_equal(back.fresh, 1);
	assert_int_equal(back.backends[0].eject_failures, BUS_FAILURE_TIMEOUT);
	assert_int_equal(bus_failure_label_index(back.backends[0].eject_failures), 3);
	assert_string_equal(bus_failure_label(3), "timeout");
	assert_string_equal(bus_failure_label(bus_failure_label_index(BUS_FAILURE_TIMEOUT |
								      BUS_FAILURE_RESET)), "mixed");
	assert_string_equal(bus_failure_label(bus_failure_label_index(0)), "unknown");
	bus_set_release(&back);
	items[0].ejected = 0;
	items[0].eject_failures = 0;
	items[0].failures_5xx = items[0].failures_gateway = 0;
	items[0].skip = BUS_SKIP_NONE;
	rep.fresh = 0;
	/* closed and no runs: the fields are left out, and read back as such */
	items[0].breaker = BUS_BREAKER_CLOSED;
	items[0].consecutive_5xx = items[0].consecutive_gateway = 0;
	buf_reset(&out);
	assert_int_equal(bus_set_encode(&rep, &out), 0);
	assert_null(memmem(out.data, out.len, "breaker", 7));
	assert_null(memmem(out.data, out.len, "consecutive", 11));
	assert_int_equal(bus_set_decode(out.data, out.len, &back, err, sizeof(err)), 0);
	assert_int_equal(back.backends[0].breaker, BUS_BREAKER_CLOSED);
	assert_int_equal(back.backends[0].consecutive_5xx, 0);
	bus_set_release(&back);
	buf_release(&out);
}

/* A set of one backend with `field` added to it. */
#define EJ(field) "{\"v\":" BUS_V ",\"type\":\"set\",\"service\":\"s\",\"generation\":1,\"backends\":" \
	"[{\"address\":\"a:1\",\"weight\":1,\"state\":\"up\"," field "}]}"

static void test_ejection_round_trip(void **state)
{
	struct bus_backend items[2] = {
		{ "10.0.0.7:8080", 1, BUS_STATE_UP, "", 0, 0, 0, 0, 0, 0, 0, "", 0, 0, 0, 0, 0, BUS_SKIP_NONE, 0 },
		{ "10.0.0.8:8080", 1, BUS_STATE_DRAINING, "operator", 0, 0, 0, 0, 1, 27.5, 2,
		  "outlier: 5 consecutive 5xx on proxy 4321", 0, 0, 0, 0, 0, BUS_SKIP_NONE, 0 },
	};
	struct bus_set set = { "set", "shop", 42, 0, 0, 0, 2, items, 0, 0, 1, 0, 0, 0, "", .nlistens = 0 }, back;
	struct buf out = BUF_INIT;
	char err[256];
	(void)state;

	for (int kind = 0; kind < 2; kind++) {
		snprintf(set.type, sizeof(set.type), "%s", kind ? "report" : "set");
		set.pid = 7;
		items[1].breaker = BUS_BREAKER_HALF_OPEN;
		buf_reset(&out);
		assert_int_equal(bus_set_encode(&set, &out), 0);
		assert_int_equal(bus_set_decode(out.data, out.len, &back, err, sizeof(err)), 0);
		assert_int_equal(back.backends[0].ejected, 0);
		assert_int_equal(back.backends[1].ejected, 1);
		assert_true(back.backends[1].eject_left == 27.5);
		assert_int_equal(back.backends[1].ejections, 2);
		assert_string_equal(back.backends[1].eject_reason,
				    "outlier: 5 consecutive 5xx on proxy 4321");
		assert_int_equal(back.backends[1].breaker, kind ? BUS_BREAKER_HALF_OPEN : 0);
		bus_set_release(&back);
	}
	buf_release(&out);
}

static void test_malformed_messages(void **state)
{
	static const struct {
		const char *msg;
		const char *reason;	/* a part of the error */
	} cases[] = {
		{ "", "not JSON" },
		{ "garbage", "not JSON" },
		{ "[1,2]", "not a JSON object" },
		{ "{\"type\":\"set\"}", "protocol version missing" },
		{ "{\"v\":99,\"type\":\"set\"}", "bus protocol version 99, this program speaks " BUS_V },
		{ "{\"v\":" BUS_V ",\"type\":\"gossip\"}", "type must be set or report" },
		{ "{\"v\":" BUS_V ",\"type\":\"set\",\"generation\":1,\"backends\":[]}", "service must be" },
		{ "{\"v\":" BUS_V ",\"type\":\"set\",\"service\":\"s\",\"generation\":-1,\"backends\":[]}",
		  "generation must be" },
		{ "{\"v\":" BUS_V ",\"type\":\"set\",\"service\":\"s\",\"generation\":1}", "backends must be" },
		{ "{\"v\":" BUS_V ",\"type\":\"set\",\"service\":\"s\",\"generation\":1,\"backends\":[1]}",
		  "backends[0]: address" },
		{ "{\"v\":" BUS_V ",\"type\":\"set\",\"service\":\"s\",\"generation\":1,\"backends\":"
		  "[{\"address\":\"a:1\",\"weight\":0,\"state\":\"up\"}]}", "weight must be 1 to 1000" },
		{ "{\"v\":" BUS_V ",\"type\":\"set\",\"service\":\"s\",\"generation\":1,\"backends\":"
		  "[{\"address\":\"a:1\",\"weight\":1,\"state\":\"sleepy\"}]}", "state must be" },
		{ "{\"v\":" BUS_V ",\"type\":\"report\",\"service\":\"s\",\"generation\":1,\"backends\":[]}",
		  "pid must be" },
		{ "{\"v\":" BUS_V ",\"type\":\"report\",\"service\":\"s\",\"generation\":1,\"pid\":3,\"backends\":"
		  "[{\"address\":\"a:1\",\"state\":\"up\",\"active\":-1,\"requests\":0,\"errors\":0,\"responses_5xx\":0,\"breaker\":\"closed\",\"consecutive_5xx\":0,\"consecutive_gateway\":0}]}", "counters" },
		{ "{\"v\":" BUS_V ",\"type\":\"report\",\"service\":\"s\",\"generation\":1,\"pid\":3,"
		  "\"ignored\":-1,\"backends\":[]}", "ignored must be" },
		{ "{\"v\":" BUS_V ",\"v\":" BUS_V "}", "not JSON" },	/* duplicate keys */
		/* version 5: the breaker, ejections */
		{ "{\"v\":" BUS_V ",\"type\":\"report\",\"service\":\"s\",\"generation\":1,\"pid\":3,\"backends\":"
		  "[{\"address\":\"a:1\",\"state\":\"up\",\"active\":0,\"requests\":0,\"errors\":0,"
		  "\"responses_5xx\":0,\"breaker\":\"ajar\"}]}", "breaker must be" },
		{ "{\"v\":" BUS_V ",\"type\":\"report\",\"service\":\"s\",\"generation\":1,\"pid\":3,\"backends\":"
		  "[{\"address\":\"a:1\",\"state\":\"up\",\"active\":0,\"requests\":0,\"errors\":0,"
		  "\"responses_5xx\":0,\"breaker\":\"open\",\"consecutive_gateway\":\"1\"}]}",
		  "consecutive_5xx and" },
		{ "{\"v\":" BUS_V ",\"type\":\"report\",\"service\":\"s\",\"generation\":1,\"pid\":3,\"backends\":"
		  "[{\"address\":\"a:1\",\"state\":\"up\",\"active\":0,\"requests\":0,\"errors\":0,"
		  "\"responses_5xx\":0,\"breaker\":3}]}", "breaker must be" },
		{ "{\"v\":" BUS_V ",\"type\":\"report\",\"service\":\"s\",\"generation\":1,\"pid\":3,\"backends\":"
		  "[{\"address\":\"a:1\",\"state\":\"up\",\"active\":0,\"requests\":0,\"errors\":0,"
		  "\"responses_5xx\":0,\"breaker\":\"open\",\"consecutive_5xx\":-1,"
		  "\"consecutive_gateway\":0}]}", "consecutive_5xx and" },
		{ EJ("\"ejection\":1"), "ejection must be" },
		{ EJ("\"ejection\":{}"), "ejection must be" },
		{ EJ("\"ejection\":{\"reason\":\"\",\"left\":1,\"count\":1}"), "ejection must be" },
		{ EJ("\"ejection\":{\"reason\":7,\"left\":1,\"count\":1}"), "ejection must be" },
		{ EJ("\"ejection\":{\"reason\":\"r\",\"left\":-1,\"count\":1}"), "ejection must be" },
		{ EJ("\"ejection\":{\"reason\":\"r\",\"left\":1e9,\"count\":1}"), "ejection must be" },
		{ EJ("\"ejection\":{\"reason\":\"r\",\"left\":\"1\",\"count\":1}"), "ejection must be" },
		{ EJ("\"ejection\":{\"reason\":\"r\",\"left\":1,\"count\":0}"), "ejection must be" },
		{ EJ("\"ejection\":{\"reason\":\"r\",\"left\":1,\"count\":1.5}"), "ejection must be" },
		{ EJ("\"ejection\":{\"reason\":\"r\",\"left\":1,\"count\":1,\"x\":1}"), "ejection must be" },
		{ EJ("\"ejection\":{\"reason\":\"rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr\","
		     "\"left\":1,\"count\":1}"), "ejection must be" },
		{ "{\"v\":" BUS_V ",\"type\":\"set\",\"service\":\"s\",\"generation\":1,\"proxies\":0,"
		  "\"backends\":[]}", "proxies must be an integer from 1 to 100000" },
		{ "{\"v\":" BUS_V ",\"type\":\"set\",\"service\":\"s\",\"generation\":1,\"proxies\":-2,"
		  "\"backends\":[]}", "proxies must be" },
		{ "{\"v\":" BUS_V ",\"type\":\"set\",\"service\":\"s\",\"generation\":1,\"proxies\":\"2\","
		  "\"backends\":[]}", "proxies must be" },
		{ "{\"v\":" BUS_V ",\"type\":\"set\",\"service\":\"s\",\"generation\":1,\"proxies\":1.5,"
		  "\"backends\":[]}", "proxies must be" },
		{ "{\"v\":" BUS_V ",\"type\":\"set\",\"service\":\"s\",\"generation\":1,\"proxies\":100001,"
		  "\"backends\":[]}", "proxies must be" },
		/* version 6: panic is a boolean */
		{ "{\"v\":" BUS_V ",\"type\":\"report\",\"service\":\"s\",\"generation\":1,\"pid\":3,"
		  "\"panic\":\"yes\",\"backends\":[]}", "panic must be true or false" },
		{ "{\"v\":" BUS_V ",\"type\":\"report\",\"service\":\"s\",\"generation\":1,\"pid\":3,"
		  "\"panic\":1,\"backends\":[]}", "panic must be true or false" },
		/* version 7: known kinds, a known skip, new a boolean */
		{ "{\"v\":" BUS_V ",\"type\":\"report\",\"service\":\"s\",\"generation\":1,\"pid\":3,"
		  "\"new\":1,\"backends\":[]}", "new must be true or false" },
		{ "{\"v\":" BUS_V ",\"type\":\"report\",\"service\":\"s\",\"generation\":1,\"pid\":3,\"backends\":"
		  "[{\"address\":\"a:1\",\"state\":\"up\",\"active\":0,\"requests\":0,\"errors\":0,\"responses_5xx\":0,\"failures_gateway\":[\"slow\"]}]}",
		  "failures_5xx and failures_gateway must be lists" },
		{ "{\"v\":" BUS_V ",\"type\":\"report\",\"service\":\"s\",\"generation\":1,\"pid\":3,\"backends\":"
		  "[{\"address\":\"a:1\",\"state\":\"up\",\"active\":0,\"requests\":0,\"errors\":0,\"responses_5xx\":0,\"failures_5xx\":\"5xx\"}]}",
		  "failures_5xx and failures_gateway must be lists" },
		{ "{\"v\":" BUS_V ",\"type\":\"report\",\"service\":\"s\",\"generation\":1,\"pid\":3,\"backends\":"
		  "[{\"address\":\"a:1\",\"state\":\"down\",\"active\":0,\"requests\":0,\"errors\":0,\"responses_5xx\":0,\"skip\":\"\"}]}",
		  "skip must be connect" },
		/* found by fuzz_bus_protocol: a count beyond int came back negative */
		{ "{\"v\":" BUS_V ",\"type\":\"report\",\"service\":\"s\",\"generation\":1,\"pid\":3,\"backends\":"
		  "[{\"address\":\"a:1\",\"state\":\"up\",\"active\":7777777770,\"requests\":0,\"errors\":0,\"responses_5xx\":0,\"breaker\":\"closed\",\"consecutive_5xx\":0,\"consecutive_gateway\":0}]}",
		  "counters" },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bus_set set;
		int other = i == 4;	/* the "v":99 case */
		char err[256] = "";
		int rc = bus_set_decode(cases[i].msg, strlen(cases[i].msg), &set, err, sizeof(err));

		if (bus_version_mismatch(&set) != other)
			fail_msg("case %zu: version mismatch %d", i, bus_version_mismatch(&set));
		bus_set_release(&set);
		if (rc != -1 || !strstr(err, cases[i].reason))
			fail_msg("case %zu: rc %d, error \"%s\", want \"%s\"", i, rc, err, cases[i].reason);
	}
}

static void test_oversized_message(void **state)
{
	size_t n = BUS_MAX_MESSAGE + 1;
	char *big = malloc(n), err[256];
	struct bus_set set;
	(void)state;

	memset(big, ' ', n);
	assert_int_equal(bus_set_decode(big, n, &set, err, sizeof(err)), -1);
	assert_string_equal(err, "message too large");
	bus_set_release(&set);
	free(big);
}

/* The protocol carries what it promises: BUS_MAX_BACKENDS backends with the
 * longest fields, as a set and as a report, fit BUS_MAX_MESSAGE. */
static void test_largest_set_and_report_fit(void **state)
{
	struct bus_backend *items = calloc(BUS_MAX_BACKENDS, sizeof(*items));
	struct bus_set set = { "set", "", 1, 0, 0, 0, BUS_MAX_BACKENDS, items, 0, 0, BUS_MAX_PROXIES, 0, 0, 0, "", .nlistens = 0 },
		       back;
	char err[256];
	(void)state;

	assert_non_null(items);
	memset(set.service, 's', BUS_NAME_MAX - 1);
	for (int kind = 0; kind < 2; kind++) {
		struct buf out = BUF_INIT;

		snprintf(set.type, sizeof(set.type), "%s", kind ? "report" : "set");
		set.pid = 4194304;
		set.generation = set.ignored = 9223372036854775807ULL;
		for (size_t i = 0; i < BUS_MAX_BACKENDS; i++) {
			memset(items[i].address, '9', BUS_ADDRESS_MAX - 1);
			memset(items[i].reason, 'r', BUS_NAME_MAX - 1);
			items[i].weight = 1000;
			items[i].state = BUS_STATE_DRAINING;
			items[i].active = 2147483647;
			items[i].requests = items[i].errors = 9223372036854775807ULL;
			items[i].responses_5xx = 9223372036854775807ULL;
			items[i].ejected = 1;
			items[i].eject_left = 86399.123456789;
			items[i].ejections = BUS_EJECTIONS_MAX;
			items[i].breaker = BUS_BREAKER_HALF_OPEN;
			items[i].consecutive_5xx = items[i].consecutive_gateway = BUS_EJECTIONS_MAX;
			memset(items[i].eject_reason, 'e', BUS_NAME_MAX - 1);
		}
		assert_int_equal(bus_set_encode(&set, &out), 0);
		if (out.len > BUS_MAX_MESSAGE)
			fail_msg("a full %s is %zu bytes, over BUS_MAX_MESSAGE", set.type, out.len);
		assert_int_equal(bus_set_decode(out.data, out.len, &back, err, sizeof(err)), 0);
		assert_int_equal(back.n, BUS_MAX_BACKENDS);
		bus_set_release(&back);
		buf_release(&out);
	}
	/* one more is refused */
	{
		struct bus_backend *more = calloc(BUS_MAX_BACKENDS + 1, sizeof(*more));
		struct bus_set big = { "set", "s", 1, 0, 0, 0, BUS_MAX_BACKENDS + 1, more, 0, 0, 1, 0, 0, 0, "", .nlistens = 0 };
		struct buf out = BUF_INIT;

		assert_non_null(more);
		for (size_t i = 0; i <= BUS_MAX_BACKENDS; i++) {
			snprintf(more[i].address, sizeof(more[i].address), "10.0.%zu.%zu:80", i / 256,
				 i % 256);
			more[i].weight = 1;
		}
		assert_int_equal(bus_set_encode(&big, &out), 0);
		assert_int_equal(bus_set_decode(out.data, out.len, &back, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "at most 4096"));
		bus_set_release(&back);
		buf_release(&out);
		free(more);
	}
	free(items);
}


static void test_control_round_trip(void **state)
{
	struct bus_control c = { "add", "http://10.0.0.9:8080/", 1, 2, 1, 43, 0, "" }, back;
	struct buf out = BUF_INIT;
	char err[256];
	(void)state;

	assert_int_equal(bus_control_encode(&c, &out), 0);
	assert_int_equal(bus_control_decode(out.data, out.len, &back, err, sizeof(err)), 0);
	assert_string_equal(back.command, "add");
	assert_string_equal(back.address, "http://10.0.0.9:8080/");
	assert_int_equal(back.has_weight, 1);
	assert_int_equal(back.weight, 2);
	assert_int_equal(back.has_generation, 1);
	assert_int_equal(back.generation, 43);
	assert_int_equal(back.version, BUS_PROTOCOL_VERSION);
	buf_reset(&out);
	memset(&c, 0, sizeof(c));
	strcpy(c.command, "status");
	assert_int_equal(bus_control_encode(&c, &out), 0);
	assert_null(memmem(out.data, out.len, "address", 7));
	assert_null(memmem(out.data, out.len, "weight", 6));
	assert_int_equal(bus_control_decode(out.data, out.len, &back, err, sizeof(err)), 0);
	assert_int_equal(back.has_weight, 0);
	assert_int_equal(back.has_generation, 0);
	assert_string_equal(back.address, "");
	assert_string_equal(back.service, "");
	assert_null(memmem(out.data, out.len, "service", 7));	/* the main service: as before */
	buf_release(&out);
}

/* A control may name a routed service ("namespace/name:port"): it round-trips,
 * up to BUS_SERVICE_MAX - 1 bytes. */
static void test_control_service_round_trip(void **state)
{
	struct bus_control c, back;
	struct buf out = BUF_INIT;
	char err[256];
	(void)state;

	memset(&c, 0, sizeof(c));
	strcpy(c.command, "drain");
	strcpy(c.address, "127.0.0.1:8081");
	strcpy(c.service, "default/api:80");
	assert_int_equal(bus_control_encode(&c, &out), 0);
	assert_non_null(memmem(out.data, out.len, "\"service\":\"default/api:80\"",
			       strlen("\"service\":\"default/api:80\"")));
	assert_int_equal(bus_control_decode(out.data, out.len, &back, err, sizeof(err)), 0);
	assert_string_equal(back.service, "default/api:80");
	assert_string_equal(back.address, "127.0.0.1:8081");
	buf_reset(&out);
	memset(c.service, 'x', sizeof(c.service) - 1);
	c.service[sizeof(c.service) - 1] = '\0';
	assert_int_equal(bus_control_encode(&c, &out), 0);
	assert_int_equal(bus_control_decode(out.data, out.len, &back, err, sizeof(err)), 0);
	assert_int_equal(strlen(back.service), BUS_SERVICE_MAX - 1);
	buf_release(&out);
}

static void test_malformed_controls(void **state)
{
	static const struct {
		const char *json;
		const char *why;
		int version;
	} cases[] = {
		{ "[1]", "not a JSON object", 0 },
		{ "{\"type\":\"control\",\"command\":\"status\"}", "protocol version missing", 0 },
		{ "{\"v\":2,\"type\":\"control\",\"command\":\"status\"}", "version 2", 2 },
		{ "{\"v\":" BUS_V ",\"type\":\"set\",\"command\":\"status\"}", "type must be control",
		  BUS_PROTOCOL_VERSION },
		{ "{\"v\":" BUS_V ",\"type\":\"control\"}", "command must be", BUS_PROTOCOL_VERSION },
		{ "{\"v\":" BUS_V ",\"type\":\"control\",\"command\":\"\"}", "command must be",
		  BUS_PROTOCOL_VERSION },
		{ "{\"v\":" BUS_V ",\"type\":\"control\",\"command\":\"a-very-long-command-name\"}",
		  "command must be", BUS_PROTOCOL_VERSION },
		{ "{\"v\":" BUS_V ",\"type\":\"control\",\"command\":\"drain\",\"address\":7}",
		  "address must be", BUS_PROTOCOL_VERSION },
		{ "{\"v\":" BUS_V ",\"type\":\"control\",\"command\":\"weight\",\"address\":\"a\","
		  "\"weight\":\"2\"}", "weight must be an integer", BUS_PROTOCOL_VERSION },
		{ "{\"v\":" BUS_V ",\"type\":\"control\",\"command\":\"weight\",\"weight\":2.5}",
		  "weight must be an integer", BUS_PROTOCOL_VERSION },
		{ "{\"v\":" BUS_V ",\"type\":\"control\",\"command\":\"in-flight\",\"generation\":-1}",
		  "generation must be", BUS_PROTOCOL_VERSION },
		{ "{\"v\":" BUS_V ",\"type\":\"control\",\"command\":\"drain\",\"service\":7}",
		  "service must be a string", BUS_PROTOCOL_VERSION },
		{ "{\"v\":" BUS_V ",\"type\":\"control\",\"command\":\"drain\",\"service\":null}",
		  "service must be a string", BUS_PROTOCOL_VERSION },
		{ "not json", "not JSON", 0 },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bus_control c;
		char err[256] = "";

		assert_int_equal(bus_control_decode(cases[i].json, strlen(cases[i].json), &c, err,
						    sizeof(err)), -1);
		if (!strstr(err, cases[i].why))
			fail_msg("case %zu: \"%s\" does not say \"%s\"", i, err, cases[i].why);
		assert_int_equal(c.version, cases[i].version);
	}
}

static void test_reply_round_trip(void **state)
{
	struct buf out = BUF_INIT;
	struct bus_reply r;
	char err[256];
	json_t *body = json_pack("{s:I,s:[]}", "generation", (json_int_t)43, "backends");
	(void)state;

	assert_int_equal(bus_reply_encode(body, 1, NULL, &out), 0);
	assert_int_equal(bus_reply_decode(out.data, out.len, &r, err, sizeof(err)), 0);
	assert_int_equal(r.ok, 1);
	assert_int_equal(json_integer_value(json_object_get(r.body, "generation")), 43);
	assert_true(json_is_array(json_object_get(r.body, "backends")));
	assert_null(json_object_get(body, "v"));	/* not stolen nor changed */
	bus_reply_release(&r);
	buf_reset(&out);
	assert_int_equal(bus_reply_encode(NULL, 0, "unknown backend 10.9.9.9:80", &out), 0);
	assert_int_equal(bus_reply_decode(out.data, out.len, &r, err, sizeof(err)), 0);
	assert_int_equal(r.ok, 0);
	assert_string_equal(r.error, "unknown backend 10.9.9.9:80");
	bus_reply_release(&r);
	json_decref(body);
	buf_release(&out);
}

static void test_malformed_replies(void **state)
{
	static const struct {
		const char *json;
		const char *why;
	} cases[] = {
		{ "{\"v\":" BUS_V ",\"type\":\"reply\"}", "ok must be" },
		{ "{\"v\":" BUS_V ",\"type\":\"reply\",\"ok\":false}", "must say why" },
		{ "{\"v\":" BUS_V ",\"type\":\"control\",\"ok\":true}", "type must be reply" },
		{ "{\"v\":1,\"type\":\"reply\",\"ok\":true}", "version 1" },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bus_reply r;
		char err[256] = "";

		assert_int_equal(bus_reply_decode(cases[i].json, strlen(cases[i].json), &r, err,
						  sizeof(err)), -1);
		if (!strstr(err, cases[i].why))
			fail_msg("case %zu: \"%s\" does not say \"%s\"", i, err, cases[i].why);
	}
}

/* A reply over the bus's limit is refused, so control.c answers a shorter one. */
static void test_oversized_reply_refused(void **state)
{
	struct buf out = BUF_INIT;
	char *big = malloc(BUS_MAX_MESSAGE + 1);
	json_t *body;
	(void)state;

	memset(big, 'x', BUS_MAX_MESSAGE);
	big[BUS_MAX_MESSAGE] = '\0';
	body = json_pack("{s:s}", "pad", big);
	assert_int_equal(bus_reply_encode(body, 1, NULL, &out), -1);
	json_decref(body);
	free(big);
	buf_release(&out);
}

/* A report with "listens": `field`'s value. */
#define LISTENS(field) "{\"v\":" BUS_V ",\"type\":\"report\",\"service\":\"s\",\"generation\":1," \
	"\"pid\":3,\"listens\":" field ",\"backends\":[]}"

/* A report's "listens" (version 9, optional): the ports a proxy listens on
 * round trip; absent reads as none; hostile values drop the report. */
static void test_report_listens(void **state)
{
	static const struct {
		const char *msg;
		const char *reason;	/* a part of the error */
	} cases[] = {
		{ LISTENS("[{\"port\":1},{\"port\":2},{\"port\":3}]"), "at most 2 (BUS_LISTENS_MAX)" },
		{ LISTENS("{\"port\":80}"), "listens must be an array" },
		{ LISTENS("\"80\""), "listens must be an array" },
		{ LISTENS("[80]"), "listens[0]: port must be an integer from 1 to 65535" },
		{ LISTENS("[{}]"), "listens[0]: port must be" },
		{ LISTENS("[{\"port\":0}]"), "listens[0]: port must be" },
		{ LISTENS("[{\"port\":-80}]"), "listens[0]: port must be" },
		{ LISTENS("[{\"port\":65536}]"), "listens[0]: port must be" },
		{ LISTENS("[{\"port\":4294967376}]"), "listens[0]: port must be" },
		{ LISTENS("[{\"port\":80.5}]"), "listens[0]: port must be" },
		{ LISTENS("[{\"port\":\"80\"}]"), "listens[0]: port must be" },
		{ LISTENS("[{\"port\":80},{\"port\":443,\"tls\":1}]"), "listens[1]: tls must be true or false" },
		{ LISTENS("[{\"port\":80,\"tls\":\"yes\"}]"), "listens[0]: tls must be" },
	};
	struct bus_set rep = { "report", "shop", 7, 1234, 0, 1.0, 0, NULL, 0, 0, 0, 0, 0, 0, "", .nlistens = 0 }, back;
	struct buf out = BUF_INIT;
	char err[256];
	(void)state;

	/* none: the field is left out, and reads back as none */
	assert_int_equal(bus_set_encode(&rep, &out), 0);
	assert_null(memmem(out.data, out.len, "listens", 7));
	assert_int_equal(bus_set_decode(out.data, out.len, &back, err, sizeof(err)), 0);
	assert_int_equal(back.nlistens, 0);
	bus_set_release(&back);
	rep.listens[0].port = 8080;
	rep.listens[1].port = 65535;
	rep.listens[1].tls = 1;
	rep.nlistens = 2;
	buf_reset(&out);
	assert_int_equal(bus_set_encode(&rep, &out), 0);
	assert_non_null(memmem(out.data, out.len,
			       "\"listens\":[{\"port\":8080},{\"port\":65535,\"tls\":true}]", 51));
	assert_int_equal(bus_set_decode(out.data, out.len, &back, err, sizeof(err)), 0);
	assert_int_equal(back.nlistens, 2);
	assert_int_equal(back.listens[0].port, 8080);
	assert_int_equal(back.listens[0].tls, 0);
	assert_int_equal(back.listens[1].port, 65535);
	assert_int_equal(back.listens[1].tls, 1);
	bus_set_release(&back);
	buf_release(&out);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bus_set set;
		int rc = bus_set_decode(cases[i].msg, strlen(cases[i].msg), &set, err, sizeof(err));

		bus_set_release(&set);
		if (rc != -1 || !strstr(err, cases[i].reason))
			fail_msg("case %zu: rc %d, error \"%s\", want \"%s\"", i, rc, err, cases[i].reason);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_round_trip),
		cmocka_unit_test(test_report_round_trip),
		cmocka_unit_test(test_report_listens),
		cmocka_unit_test(test_ejection_round_trip),
		cmocka_unit_test(test_set_proxies),
		cmocka_unit_test(test_malformed_messages),
		cmocka_unit_test(test_oversized_message),
		cmocka_unit_test(test_largest_set_and_report_fit),
		cmocka_unit_test(test_control_round_trip),
		cmocka_unit_test(test_control_service_round_trip),
		cmocka_unit_test(test_malformed_controls),
		cmocka_unit_test(test_reply_round_trip),
		cmocka_unit_test(test_malformed_replies),
		cmocka_unit_test(test_oversized_reply_refused),
	};
	return cmocka_run_group_tests_name("bus_protocol", tests, NULL, NULL);
}
