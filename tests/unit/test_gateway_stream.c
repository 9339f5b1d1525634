/* Unit tests for TLSRoute and TCPRoute: common/gateway.c and
 * gateway_stream.c compile them onto TLS Passthrough and TCP listeners,
 * common/route_stream.c picks a connection's rule by SNI; the statuses are
 * those of the Gateway API conformance tests named in each case. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "gateway_ref.h"
#include "route.h"
#include "route_codec.h"
#include "route_codec_decode.h"
#include "route_stream.h"

#define NS "gateway-conformance-infra"
#define API "apiVersion: gateway.networking.k8s.io/"

/* The conformance suite's TLS Gateway (gateway-tlsroute: port 443,
 * Passthrough), with a TCP listener and an HTTP one beside it. */
#define GATEWAY \
	API "v1\n" \
	"kind: Gateway\n" \
	"metadata: {name: gateway-tlsroute, namespace: " NS "}\n" \
	"spec:\n" \
	"  gatewayClassName: lb\n" \
	"  listeners:\n" \
	"  - {name: https, port: 443, protocol: TLS, hostname: '*.example.com',\n" \
	"     tls: {mode: Passthrough}}\n" \
	"  - {name: tcp, port: 5432, protocol: TCP}\n" \
	"  - {name: http, port: 80, protocol: HTTP}\n" \
	"  - {name: terminate, port: 8443, protocol: TLS, tls: {mode: Terminate}}\n"

#define TLSROUTE(name, when) \
	"---\n" API "v1alpha2\n" \
	"kind: TLSRoute\n" \
	"metadata: {name: " name ", namespace: " NS ", creationTimestamp: '" when "'}\n"

static const char docs_yaml[] =
	GATEWAY
	TLSROUTE("exact", "2024-01-01T00:00:00Z")
	"spec:\n"
	"  parentRefs: [{name: gateway-tlsroute}]\n"
	"  hostnames: [abc.example.com]\n"
	"  rules: [{backendRefs: [{name: tls-backend, port: 443}]}]\n"
	TLSROUTE("wildcard", "2024-01-01T00:00:00Z")
	"spec:\n"
	"  parentRefs: [{name: gateway-tlsroute, sectionName: https}]\n"
	"  hostnames: ['*.example.com']\n"
	"  rules: [{backendRefs: [{name: other, port: 443, weight: 0},\n"
	"                         {name: wild, port: 443}]}]\n"
	TLSROUTE("newer", "2025-01-01T00:00:00Z")
	"spec:\n"
	"  parentRefs: [{name: gateway-tlsroute}]\n"
	"  hostnames: [abc.example.com]\n"
	"  rules: [{backendRefs: [{name: late, port: 443}]}]\n"
	TLSROUTE("elsewhere", "2024-01-01T00:00:00Z")
	"spec:\n"
	"  parentRefs: [{name: gateway-tlsroute}]\n"
	"  hostnames: [abc.example.org]\n"
	"  rules: [{backendRefs: [{name: tls-backend, port: 443}]}]\n"
	TLSROUTE("crossing", "2024-01-01T00:00:00Z")
	"spec:\n"
	"  parentRefs: [{name: gateway-tlsroute}]\n"
	"  hostnames: [x.example.com]\n"
	"  rules: [{backendRefs: [{name: svc, namespace: backends, port: 443}]}]\n"
	TLSROUTE("no-rules", "2024-01-01T00:00:00Z")
	"spec:\n"
	"  parentRefs: [{name: gateway-tlsroute}]\n"
	"---\n" API "v1alpha2\n"
	"kind: TCPRoute\n"
	"metadata: {name: db, namespace: " NS "}\n"
	"spec:\n"
	"  parentRefs: [{name: gateway-tlsroute, port: 5432}]\n"
	"  rules: [{backendRefs: [{name: db, port: 5432, weight: 3}, {name: db2, port: 5432}]}]\n"
	"---\n" API "v1alpha2\n"
	"kind: TCPRoute\n"
	"metadata: {name: on-http, namespace: " NS "}\n"
	"spec:\n"
	"  parentRefs: [{name: gateway-tlsroute, sectionName: http}]\n"
	"  rules: [{backendRefs: [{name: db, port: 5432}]}]\n"
	"---\n" API "v1\n"
	"kind: HTTPRoute\n"
	"metadata: {name: web, namespace: " NS "}\n"
	"spec:\n"
	"  parentRefs: [{name: gateway-tlsroute, sectionName: tcp}]\n"
	"---\n" API "v1beta1\n"
	"kind: ReferenceGrant\n"
	"metadata: {name: http-only, namespace: backends}\n"
	"spec:\n"
	"  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: " NS "}]\n"
	"  to: [{group: '', kind: Service}]\n"
	/* TLSRouteInvalidReferenceGrant's: the wrong group, the wrong namespace */
	"---\n" API "v1beta1\n"
	"kind: ReferenceGrant\n"
	"metadata: {name: reference-grant-wrong-from-group, namespace: backends}\n"
	"spec:\n"
	"  from: [{group: not-the-group-youre-looking-for, kind: TLSRoute, namespace: " NS "}]\n"
	"  to: [{group: '', kind: Service, name: svc}]\n"
	"---\n" API "v1beta1\n"
	"kind: ReferenceGrant\n"
	"metadata: {name: reference-grant-wrong-namespace, namespace: " NS "}\n"
	"spec:\n"
	"  from: [{group: gateway.networking.k8s.io, kind: TLSRoute, namespace: " NS "}]\n"
	"  to: [{group: '', kind: Service, name: svc}]\n";

static struct gateway_docs docs = GATEWAY_DOCS_INIT;
static struct gateway_result res;

static int setup(void **state)
{
	char err[256] = "";
	(void)state;

	if (gateway_load(&docs, "test.yaml", docs_yaml, strlen(docs_yaml), err, sizeof(err)) == -1)
		fail_msg("%s", err);
	assert_int_equal(gateway_compile(&docs, NS, "gateway-tlsroute", NULL, NULL, &res), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	gateway_result_release(&res);
	gateway_docs_release(&docs);
	return 0;
}

static const struct gateway_parent_status *status_of(enum gateway_route_kind kind,
						     const char *name)
{
	char id[128];

	snprintf(id, sizeof(id), NS "/%s", name);
	for (unsigned i = 0; i < res.n_statuses; i++)
		if (res.statuses[i].kind == kind && strcmp(res.statuses[i].route, id) == 0)
			return &res.statuses[i];
	fail_msg("no status for %s", id);
	return NULL;
}

struct status_case {
	const char *test;	/* the conformance test it follows */
	enum gateway_route_kind kind;
	const char *route;
	int accepted;
	const char *accepted_reason;
	int resolved;
	const char *resolved_reason;
};

static const struct status_case status_cases[] = {
	{ "TLSRouteSimpleSameNamespace", GATEWAY_TLSROUTE, "exact", 1, "Accepted", 1,
	  "ResolvedRefs" },
	{ "HTTPRouteHostnameIntersection, on TLS", GATEWAY_TLSROUTE, "elsewhere", 0,
	  "NoMatchingListenerHostname", 1, "ResolvedRefs" },
	{ "TLSRouteInvalidReferenceGrant", GATEWAY_TLSROUTE, "crossing", 1, "Accepted", 0,
	  "RefNotPermitted" },
	{ "(lb: a TLSRoute needs rules)", GATEWAY_TLSROUTE, "no-rules", 0, "UnsupportedValue", 1,
	  "ResolvedRefs" },
	{ "(lb: TCPRoute basics)", GATEWAY_TCPROUTE, "db", 1, "Accepted", 1, "ResolvedRefs" },
	{ "(lb: a kind the listener does not take)", GATEWAY_TCPROUTE, "on-http", 0,
	  "NotAllowedByListeners", 1, "ResolvedRefs" },
	{ "(lb: a kind the listener does not take)", GATEWAY_HTTPROUTE, "web", 0,
	  "NotAllowedByListeners", 1, "ResolvedRefs" },
};

static void test_statuses(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(status_cases) / sizeof(status_cases[0]); i++) {
		const struct status_case *c = &status_cases[i];
		const struct gateway_parent_status *st = status_of(c->kind, c->route);

		print_message("%s: %s\n", c->test, c->route);
		assert_int_equal(st->accepted.status, c->accepted);
		assert_string_equal(st->accepted.reason, c->accepted_reason);
		assert_int_equal(st->resolved_refs.status, c->resolved);
		assert_string_equal(st->resolved_refs.reason, c->resolved_reason);
	}
}

/* The Terminate listener is skipped; the others say their kinds and how
 * many routes attached. */
static void test_listeners(void **state)
{
	const struct route_table *t = res.table;
	(void)state;

	assert_int_equal(t->n_listeners, 3);
	assert_string_equal(t->listeners[0].name, "https");
	assert_int_equal(res.listeners[0].kinds, 1u << GATEWAY_TLSROUTE);
	assert_int_equal(res.listeners[0].attached, 4);	/* exact wildcard newer crossing */
	assert_string_equal(t->listeners[1].name, "tcp");
	assert_int_equal(res.listeners[1].kinds, 1u << GATEWAY_TCPROUTE);
	assert_int_equal(res.listeners[1].attached, 1);
	assert_int_equal(res.listeners[2].kinds, 1u << GATEWAY_HTTPROUTE);
	assert_int_equal(res.listeners[2].attached, 0);
	assert_int_equal(route_stream_protocol(t, 443), ROUTE_PROTOCOL_TLS);
	assert_int_equal(route_stream_protocol(t, 5432), ROUTE_PROTOCOL_TCP);
	assert_int_equal(route_stream_protocol(t, 80), -1);
	assert_int_equal(route_stream_protocol(t, 8443), -1);
}

/* The backendRef a connection to port with sni gets first ("none": no
 * route). */
static const char *first_backend(uint16_t port, const char *sni)
{
	struct route_result r;

	if (route_stream_match(res.table, port, sni, &r) == -1)
		return "none";
	return r.rule->backends[r.rule->n_backends - 1].name;
}

static void test_match_by_sni(void **state)
{
	struct route_result r;
	(void)state;

	/* exact beats wildcard; of two exact routes the older */
	assert_string_equal(first_backend(443, "abc.example.com"), "tls-backend");
	assert_string_equal(first_backend(443, "ABC.Example.com"), "tls-backend");
	assert_string_equal(first_backend(443, "zzz.example.com"), "wild");
	assert_string_equal(first_backend(443, "a.b.example.com"), "wild");
	assert_string_equal(first_backend(443, "example.com"), "none");
	assert_string_equal(first_backend(443, "abc.example.org"), "none");
	assert_string_equal(first_backend(443, NULL), "none");
	/* a TCP listener ignores the name */
	assert_string_equal(first_backend(5432, NULL), "db2");
	assert_string_equal(first_backend(5432, "abc.example.com"), "db2");
	assert_string_equal(first_backend(80, NULL), "none");
	/* weights: 0 is never drawn; 3/1 split the 32-bit range */
	assert_int_equal(route_stream_match(res.table, 443, "q.example.com", &r), 0);
	assert_string_equal(route_pick_backend(r.rule, 0)->name, "wild");
	assert_string_equal(route_pick_backend(r.rule, UINT32_MAX)->name, "wild");
	assert_int_equal(route_stream_match(res.table, 5432, NULL, &r), 0);
	assert_string_equal(route_pick_backend(r.rule, 0xBFFFFFFFu)->name, "db");
	assert_string_equal(route_pick_backend(r.rule, 0xC0000000u)->name, "db2");
	/* the unresolved ref stays in its rule, unresolved */
	assert_int_equal(route_stream_match(res.table, 443, "x.example.com", &r), 0);
	assert_false(r.rule->backends[0].resolved);
}

/* The bus carries stream listeners and their rules as they are. */
static void test_round_trip(void **state)
{
	struct buf a = BUF_INIT, b = BUF_INIT;
	struct route_table *again;
	char err[256];
	(void)state;

	assert_int_equal(route_codec_encode(res.table, &a), 0);
	if (route_codec_decode(a.data, a.len, &again, err, sizeof(err)) == -1)
		fail_msg("%s", err);
	assert_int_equal(route_codec_encode(again, &b), 0);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.data, b.data, a.len);
	assert_int_equal(route_stream_protocol(again, 443), ROUTE_PROTOCOL_TLS);
	route_table_free(again);
	buf_release(&a);
	buf_release(&b);
}

/* The spec's indistinct listeners (GatewaySpec.Listeners, "Handling
 * indistinct Listeners"): every listener of a conflict is left out, none
 * picked as the winner, with the reason; the distinct ones stay. The
 * first three are GatewayListenerProtocolAndRouteKindConflicts' Gateway. */
static void test_listener_conflicts(void **state)
{
	static const char yaml[] =
		API "v1\n"
		"kind: Gateway\n"
		"metadata: {name: gw, namespace: " NS "}\n"
		"spec:\n"
		"  gatewayClassName: lb\n"
		"  listeners:\n"
		"  - {name: tls, port: 443, protocol: TLS, hostname: abc.example.com,\n"
		"     tls: {mode: Passthrough}}\n"
		"  - {name: conflicted-https, port: 8443, protocol: HTTPS}\n"
		"  - {name: conflicted-tls, port: 8443, protocol: TLS, tls: {mode: Passthrough}}\n"
		"  - {name: a, port: 80, protocol: HTTP, hostname: a.example.com}\n"
		"  - {name: a-again, port: 80, protocol: HTTP, hostname: a.example.com}\n"
		"  - {name: b, port: 80, protocol: HTTP, hostname: b.example.com}\n"
		"  - {name: plain, port: 81, protocol: HTTP}\n"
		"  - {name: secure, port: 81, protocol: HTTPS, hostname: s.example.com}\n"
		"  - {name: db, port: 9000, protocol: TCP}\n"
		"  - {name: db-again, port: 9000, protocol: TCP}\n"
		"  - {name: raw, port: 9001, protocol: TCP}\n"
		"  - {name: web, port: 9001, protocol: HTTP, hostname: w.example.com}\n"
		"  - {name: tls, port: 9002, protocol: TCP}\n";
	static const struct {
		const char *name, *reason, *with;
	} want[] = {
		{ "conflicted-https", "ProtocolConflict", "conflicted-tls" },
		{ "conflicted-tls", "ProtocolConflict", "conflicted-https" },
		{ "a", "HostnameConflict", "a-again" },
		{ "a-again", "HostnameConflict", "a" },
		{ "db", "HostnameConflict", "db-again" },
		{ "db-again", "HostnameConflict", "db" },
		{ "raw", "ProtocolConflict", "web" },
		{ "web", "ProtocolConflict", "raw" },
	};
	static const char *const kept[] = { "tls", "b", "plain", "secure" };
	struct gateway_docs d = GATEWAY_DOCS_INIT;
	struct gateway_result r;
	char err[256] = "";
	(void)state;

	if (gateway_load(&d, "conflicts.yaml", yaml, strlen(yaml), err, sizeof(err)) == -1)
		fail_msg("%s", err);
	assert_int_equal(gateway_compile(&d, NS, "gw", NULL, NULL, &r), 0);
	assert_int_equal(r.n_conflicts, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_string_equal(r.conflicts[i].name, want[i].name);
		assert_string_equal(r.conflicts[i].reason, want[i].reason);
		assert_string_equal(r.conflicts[i].with, want[i].with);
	}
	assert_int_equal(r.table->n_listeners, sizeof(kept) / sizeof(kept[0]));
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
		assert_string_equal(r.table->listeners[i].name, kept[i]);
	assert_int_equal(route_stream_protocol(r.table, 443), ROUTE_PROTOCOL_TLS);
	assert_int_equal(route_stream_protocol(r.table, 8443), -1);	/* nothing served */
	gateway_result_release(&r);
	gateway_docs_release(&d);
}

/* Every Service port exists; those named "db" are annotated
 * lb.dev/proxy-protocol: v2. */
static int proxy_v2_svc(void *ctx, const char *namespace, const char *name, uint16_t port)
{
	(void)ctx, (void)namespace, (void)port;
	return GATEWAY_SERVICE_EXISTS | (strcmp(name, "db") == 0 ? GATEWAY_SERVICE_PROXY_V2 : 0);
}

/* A Service's proxy-protocol annotation reaches its backendRefs and
 * crosses the bus (route codec 3); the others have none. */
static void test_proxy_protocol_per_service(void **state)
{
	struct gateway_result r;
	struct route_table *again;
	struct buf a = BUF_INIT;
	unsigned on = 0, off = 0;
	char err[256];
	(void)state;

	assert_int_equal(gateway_compile(&docs, NS, "gateway-tlsroute", proxy_v2_svc, NULL, &r), 0);
	assert_int_equal(route_codec_encode(r.table, &a), 0);
	if (route_codec_decode(a.data, a.len, &again, err, sizeof(err)) == -1)
		fail_msg("%s", err);
	for (unsigned i = 0; i < again->n_rules; i++)
		for (unsigned j = 0; j < again->rules[i].n_backends; j++) {
			const struct route_backend *b = &again->rules[i].backends[j];

			if (!b->resolved)
				continue;
			assert_int_equal(b->proxy_protocol, strcmp(b->name, "db") == 0 ? 2 : 0);
			if (b->proxy_protocol)
				on++;
			else
				off++;
		}
	assert_true(on > 0 && off > 0);
	route_table_free(again);
	buf_release(&a);
	gateway_result_release(&r);
}

/* A ReferenceGrant from TLSRoutes lets the crossing ref resolve. */
static void test_grant_from_tlsroute(void **state)
{
	static const char grant[] =
		"---\n" API "v1beta1\n"
		"kind: ReferenceGrant\n"
		"metadata: {name: tls, namespace: backends}\n"
		"spec:\n"
		"  from: [{group: gateway.networking.k8s.io, kind: TLSRoute, namespace: " NS "}]\n"
		"  to: [{group: '', kind: Service, name: svc}]\n";
	struct gateway_result again;
	char err[256] = "";
	(void)state;

	if (gateway_load(&docs, "grant.yaml", grant, strlen(grant), err, sizeof(err)) == -1)
		fail_msg("%s", err);
	assert_int_equal(gateway_compile(&docs, NS, "gateway-tlsroute", NULL, NULL, &again), 0);
	for (unsigned i = 0; i < again.n_statuses; i++)
		if (strcmp(again.statuses[i].route, NS "/crossing") == 0)
			assert_int_equal(again.statuses[i].resolved_refs.status, 1);
	gateway_result_release(&again);
}

/* GatewayInvalidRouteKind: allowedRoutes.kinds naming a kind the listener
 * cannot take leaves it none, and says so (InvalidRouteKinds). */
static void test_invalid_route_kinds(void **state)
{
	static const char yaml[] =
		API "v1\n"
		"kind: Gateway\n"
		"metadata: {name: gw, namespace: " NS "}\n"
		"spec:\n"
		"  gatewayClassName: lb\n"
		"  listeners:\n"
		"  - {name: tcp, port: 9000, protocol: TCP,\n"
		"     allowedRoutes: {kinds: [{kind: HTTPRoute}]}}\n"
		"  - {name: both, port: 9001, protocol: TCP,\n"
		"     allowedRoutes: {kinds: [{kind: TCPRoute}, {kind: Bogus}]}}\n";
	struct gateway_docs d = GATEWAY_DOCS_INIT;
	struct gateway_result r;
	char err[256] = "";
	(void)state;

	if (gateway_load(&d, "kinds.yaml", yaml, strlen(yaml), err, sizeof(err)) == -1)
		fail_msg("%s", err);
	assert_int_equal(gateway_compile(&d, NS, "gw", NULL, NULL, &r), 0);
	assert_int_equal(r.listeners[0].kinds, 0);
	assert_int_equal(r.listeners[0].invalid_kinds, 1);
	assert_int_equal(r.listeners[1].kinds, 1u << GATEWAY_TCPROUTE);
	assert_int_equal(r.listeners[1].invalid_kinds, 1);
	gateway_result_release(&r);
	gateway_docs_release(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_statuses),
		cmocka_unit_test(test_listeners),
		cmocka_unit_test(test_match_by_sni),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_proxy_protocol_per_service),
		cmocka_unit_test(test_listener_conflicts),
		cmocka_unit_test(test_grant_from_tlsroute),
		cmocka_unit_test(test_invalid_route_kinds),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
