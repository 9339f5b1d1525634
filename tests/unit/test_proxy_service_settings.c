/* Unit tests for common/service_settings.c and the settings in a routed
 * Service's bus sets (docs/routing.md#per-service-protocol-and-balancing):
 * appProtocol to a protocol (GEP-1911), the lb.dev/balance names against
 * lb-proxy's own balancer table, the set codec's round trip and refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "bus_protocol.h"
#include "service_settings.h"
#include "upstream/balance_table.h"

#define BUS_STR(x) #x
#define BUS_XSTR(x) BUS_STR(x)
#define BUS_V BUS_XSTR(BUS_PROTOCOL_VERSION)

/* GEP-1911's standard values, Istio's HTTP/2 names, and what is left. */
static void test_app_protocol_table(void **state)
{
	static const struct { const char *app, *want; } cases[] = {
		{ NULL, "" },				/* unset: the proxy's own */
		{ "", "" },
		{ "http", "" },				/* IANA http: HTTP/1.1 or what the proxy says */
		{ "HTTP", "" },				/* IANA names compare without case */
		{ "kubernetes.io/h2c", "h2c" },		/* KEP-3726: HTTP/2 prior knowledge */
		{ "http2", "h2c" },			/* Istio's */
		{ "grpc", "h2c" },			/* Istio's: gRPC is HTTP/2 */
		{ "kubernetes.io/ws", "http1" },	/* WebSocket: an HTTP/1.1 Upgrade */
		{ "kubernetes.io/wss", "http1" },
		{ "kubernetes.io/H2C", NULL },		/* KEP-3726 names as spelled */
		{ "https", NULL },			/* TLS to a backend: BackendTLSPolicy */
		{ "example.com/quic", NULL },
		{ "grpc-web", NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = service_settings_app_protocol(cases[i].app);

		if (!cases[i].want)
			assert_null(got);
		else
			assert_string_equal(got, cases[i].want);
	}
}

/* Every name lb-discover accepts is one lb-proxy builds a balancer of
 * (ip-hash: maglev by the client's address), and every balancer of the
 * proxy's table is a name lb-discover accepts. */
static void test_balance_names_are_the_proxys(void **state)
{
	char names[256], *save = NULL;

	(void)state;
	snprintf(names, sizeof(names), "%s", service_settings_balance_names());
	for (char *n = strtok_r(names, ", ", &save); n; n = strtok_r(NULL, ", ", &save)) {
		assert_true(service_settings_balance_valid(n));
		if (strcmp(n, "ip-hash") != 0)
			assert_non_null(balance_find(n));
	}
	snprintf(names, sizeof(names), "%s", balance_names());
	for (char *n = strtok_r(names, ", ", &save); n; n = strtok_r(NULL, ", ", &save))
		assert_true(service_settings_balance_valid(n));
	assert_false(service_settings_balance_valid("fastest"));
	assert_false(service_settings_balance_valid(""));
	assert_false(service_settings_balance_valid(NULL));
}

/* A Service document's port and annotation; what is bad stays "". */
static void test_read_a_service(void **state)
{
	json_t *svc = json_loads("{\"metadata\":{\"annotations\":{\"lb.dev/balance\":"
				 "\"least-request\"}},\"spec\":{\"ports\":[{\"port\":80,"
				 "\"appProtocol\":\"kubernetes.io/h2c\"},{\"port\":81,"
				 "\"appProtocol\":\"tcp\"},{\"port\":82,\"appProtocol\":7}]}}",
				 0, NULL);
	json_t *ports = json_object_get(json_object_get(svc, "spec"), "ports");
	struct service_settings s;

	(void)state;
	assert_int_equal(service_settings_read(svc, json_array_get(ports, 0), &s), 0);
	assert_string_equal(s.protocol, "h2c");
	assert_string_equal(s.balance, "least-request");
	assert_int_equal(service_settings_read(svc, json_array_get(ports, 1), &s),
			 SERVICE_SETTINGS_BAD_PROTOCOL);
	assert_string_equal(s.protocol, "");
	assert_int_equal(service_settings_read(svc, json_array_get(ports, 2), &s),
			 SERVICE_SETTINGS_BAD_PROTOCOL);
	json_object_set_new(json_object_get(json_object_get(svc, "metadata"), "annotations"),
			    "lb.dev/balance", json_string("Least-Request"));
	assert_int_equal(service_settings_read(svc, NULL, &s), SERVICE_SETTINGS_BAD_BALANCE);
	assert_string_equal(s.balance, "");
	assert_string_equal(s.protocol, "");
	assert_int_equal(service_settings_read(NULL, NULL, &s), 0);
	json_decref(svc);
}

/* A set carries them and gives them back; a set without them reads "". */
static void test_set_round_trip(void **state)
{
	struct bus_set set, back;
	struct buf msg = BUF_INIT;
	char err[256];

	(void)state;
	memset(&set, 0, sizeof(set));
	strcpy(set.type, "set");
	strcpy(set.service, "default/api:80");
	set.generation = 7;
	strcpy(set.settings.protocol, "h2c");
	strcpy(set.settings.balance, "ip-hash");
	assert_int_equal(bus_set_encode(&set, &msg), 0);
	assert_non_null(memmem(msg.data, msg.len, "\"protocol\":\"h2c\"", 16));
	assert_int_equal(bus_set_decode(msg.data, msg.len, &back, err, sizeof(err)), 0);
	assert_string_equal(back.settings.protocol, "h2c");
	assert_string_equal(back.settings.balance, "ip-hash");
	bus_set_release(&back);
	buf_reset(&msg);
	memset(&set.settings, 0, sizeof(set.settings));
	assert_int_equal(bus_set_encode(&set, &msg), 0);
	assert_null(memmem(msg.data, msg.len, "\"protocol\"", 10));
	assert_int_equal(bus_set_decode(msg.data, msg.len, &back, err, sizeof(err)), 0);
	assert_string_equal(back.settings.protocol, "");
	assert_string_equal(back.settings.balance, "");
	bus_set_release(&back);
	buf_release(&msg);
}

/* A malformed field drops the whole set, as any bus input. */
static void test_set_refusals(void **state)
{
	static const char *const bad[] = {
		"\"protocol\":\"h3\"", "\"protocol\":7", "\"protocol\":\"H2C\"",
		"\"balance\":\"fastest\"", "\"balance\":null",
		"\"balance\":\"round-robin-round-robin-round-robin\"",
	};
	struct bus_set back;
	char msg[512], err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int n = snprintf(msg, sizeof(msg), "{\"v\":" BUS_V ",\"type\":\"set\",\"service\":"
				 "\"default/api:80\",\"generation\":1,\"backends\":[],%s}", bad[i]);

		assert_int_equal(bus_set_decode(msg, (size_t)n, &back, err, sizeof(err)), -1);
		assert_true(strstr(err, "protocol") || strstr(err, "balance"));
		bus_set_release(&back);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_app_protocol_table),
		cmocka_unit_test(test_balance_names_are_the_proxys),
		cmocka_unit_test(test_read_a_service),
		cmocka_unit_test(test_set_round_trip),
		cmocka_unit_test(test_set_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
