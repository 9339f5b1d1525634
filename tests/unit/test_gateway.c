/* Unit tests for common/gateway.c, gateway_rule.c and gateway_load.c: Gateway
 * API documents compiled into a route table, checked against the requests
 * and statuses of the Gateway API conformance tests named in each case. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gateway.h"
#include "route.h"
#include "route_codec.h"
#include "route_codec_decode.h"

#define NS "gateway-conformance-infra"

/* The conformance suite's shared Gateway: port 80, HTTP, routes of its
 * namespace. */
#define SAME_NAMESPACE \
	"apiVersion: gateway.networking.k8s.io/v1\n" \
	"kind: Gateway\n" \
	"metadata: {name: same-namespace, namespace: " NS "}\n" \
	"spec:\n" \
	"  gatewayClassName: lb\n" \
	"  listeners: [{name: http, port: 80, protocol: HTTP}]\n"

#define ROUTE_CREATED(name, when) \
	"---\n" \
	"apiVersion: gateway.networking.k8s.io/v1\n" \
	"kind: HTTPRoute\n" \
	"metadata: {name: " name ", namespace: " NS ", creationTimestamp: '" when "'}\n"

#define ROUTE(name) \
	"---\n" \
	"apiVersion: gateway.networking.k8s.io/v1\n" \
	"kind: HTTPRoute\n" \
	"metadata: {name: " name ", namespace: " NS "}\n"

struct request {
	const char *host;
	const char *method;	/* NULL: GET */
	const char *target;	/* path?query */
	const char *headers;	/* "Name: value|Name: value" */
	const char *expect;	/* a backend's name, "404", "500" or "redirect" */
};

/* The request's first header of that name, any case. */
static const char *lookup(void *ctx, const char *name, size_t *len)
{
	const char *p = ctx;
	size_t n = strlen(name);

	while (p && *p) {
		const char *end = strchr(p, '|');

		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			const char *v = p + n + 1;

			while (*v == ' ')
				v++;
			*len = end ? (size_t)(end - v) : strlen(v);
			return v;
		}
		p = end ? end + 1 : NULL;
	}
	return NULL;
}

/* What the table answers to req on port: a backend's name, or a code. */
static const char *answer(const struct route_table *t, uint16_t port, const struct request *req,
			  struct route_result *res)
{
	const char *q = strchr(req->target, '?');
	struct route_request r = {
		.host = req->host ? req->host : "example.com",
		.method = req->method ? req->method : "GET",
		.path = req->target,
		.path_len = q ? (size_t)(q - req->target) : strlen(req->target),
		.query = q ? q + 1 : NULL,
		.query_len = q ? strlen(q + 1) : 0,
		.header = lookup,
		.header_ctx = (void *)req->headers,
	};
	const struct route_backend *b;

	if (route_match(t, port, &r, res) == -1)
		return "404";
	if (res->rule->redirect)
		return "redirect";
	b = route_pick_backend(res->rule, 0);
	return b && b->resolved ? b->name : "500";
}

static void compile(const char *yaml, const char *gateway, struct gateway_docs *docs,
		    struct gateway_result *res)
{
	char err[256] = "";

	if (gateway_load(docs, "test.yaml", yaml, strlen(yaml), err, sizeof(err)) == -1)
		fail_msg("%s", err);
	assert_int_equal(gateway_compile(docs, NS, gateway, NULL, NULL, res), 0);
}

/* Every table the compiler builds encodes, decodes and encodes the same. */
static void assert_round_trip(const struct route_table *t)
{
	struct buf a = BUF_INIT, b = BUF_INIT;
	struct route_table *again;
	char err[256];

	assert_int_equal(route_codec_encode(t, &a), 0);
	if (route_codec_decode(a.data, a.len, &again, err, sizeof(err)) == -1)
		fail_msg("%s", err);
	assert_int_equal(route_codec_encode(again, &b), 0);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.data, b.data, a.len);
	route_table_free(again);
	buf_release(&a);
	buf_release(&b);
}

struct conformance {
	const char *test;	/* the conformance test it follows */
	const char *gateway;
	uint16_t port;
	const char *yaml;
	struct request requests[32];
};

static const struct conformance conformance_cases[] = {
	{ "HTTPRouteExactPathMatching", "same-namespace", 80,
	  SAME_NAMESPACE ROUTE("exact-matching")
	  "spec:\n"
	  "  parentRefs: [{name: same-namespace}]\n"
	  "  rules:\n"
	  "  - matches: [{path: {type: Exact, value: /one}}]\n"
	  "    backendRefs: [{name: infra-backend-v1, port: 8080}]\n"
	  "  - matches: [{path: {type: Exact, value: /two}}]\n"
	  "    backendRefs: [{name: infra-backend-v2, port: 8080}]\n",
	  { { NULL, NULL, "/one", NULL, "infra-backend-v1" },
	    { NULL, NULL, "/two", NULL, "infra-backend-v2" },
	    { NULL, NULL, "/", NULL, "404" },
	    { NULL, NULL, "/one/example", NULL, "404" },
	    { NULL, NULL, "/two/", NULL, "404" },
	    { NULL, NULL, "/Two", NULL, "404" } } },
	{ "HTTPRouteMatching (PathPrefix is element-wise, a trailing / ignored)", "same-namespace",
	  80,
	  SAME_NAMESPACE ROUTE("matching")
	  "spec:\n"
	  "  parentRefs: [{name: same-namespace}]\n"
	  "  rules:\n"
	  "  - matches: [{path: {type: PathPrefix, value: /foo/}}]\n"
	  "    backendRefs: [{name: infra-backend-v1, port: 8080}]\n"
	  "  - matches: [{path: {type: Exact, value: /}}]\n"
	  "    backendRefs: [{name: infra-backend-v2, port: 8080}]\n",
	  { { NULL, NULL, "/foo", NULL, "infra-backend-v1" },
	    { NULL, NULL, "/foo/", NULL, "infra-backend-v1" },
	    { NULL, NULL, "/foo/bar", NULL, "infra-backend-v1" },
	    { NULL, NULL, "/foobar", NULL, "404" },
	    { NULL, NULL, "/", NULL, "infra-backend-v2" },
	    { NULL, NULL, "/fo", NULL, "404" } } },
	{ "HTTPRouteMatchingAcrossRoutes", "same-namespace", 80,
	  SAME_NAMESPACE ROUTE("matching-part1")
	  "spec:\n"
	  "  parentRefs: [{name: same-namespace}]\n"
	  "  hostnames: [example.com, example.net]\n"
	  "  rules:\n"
	  "  - matches: [{path: {type: PathPrefix, value: /}}, {headers: [{name: version, value: one}]}]\n"
	  "    backendRefs: [{name: infra-backend-v1, port: 8080}]\n"
	  ROUTE("matching-part2")
	  "spec:\n"
	  "  parentRefs: [{name: same-namespace}]\n"
	  "  hostnames: [example.com]\n"
	  "  rules:\n"
	  "  - matches: [{path: {type: PathPrefix, value: /v2}}, {headers: [{name: version, value: two}]}]\n"
	  "    backendRefs: [{name: infra-backend-v2, port: 8080}]\n",
	  { { "example.com", NULL, "/", NULL, "infra-backend-v1" },
	    { "example.com", NULL, "/example", NULL, "infra-backend-v1" },
	    { "example.net", NULL, "/example", NULL, "infra-backend-v1" },
	    { "example.com", NULL, "/example", "Version: one", "infra-backend-v1" },
	    { "example.com", NULL, "/v2", NULL, "infra-backend-v2" },
	    { "example.net", NULL, "/v2", NULL, "infra-backend-v1" },
	    { "example.com", NULL, "/v2/example", NULL, "infra-backend-v2" },
	    { "example.com", NULL, "/", "Version: two", "infra-backend-v2" },
	    { "EXAMPLE.com:8080", NULL, "/v2", NULL, "infra-backend-v2" },
	    { "example.org", NULL, "/", NULL, "404" } } },
	{ "HTTPRouteHeaderMatching", "same-namespace", 80,
	  SAME_NAMESPACE ROUTE("header-matching")
	  "spec:\n"
	  "  parentRefs: [{name: same-namespace}]\n"
	  "  rules:\n"
	  "  - matches: [{headers: [{name: version, value: one}]}]\n"
	  "    backendRefs: [{name: infra-backend-v1, port: 8080}]\n"
	  "  - matches: [{headers: [{name: version, value: two}]}]\n"
	  "    backendRefs: [{name: infra-backend-v2, port: 8080}]\n"
	  "  - matches: [{headers: [{name: version, value: two}, {name: color, value: orange}]}]\n"
	  "    backendRefs: [{name: infra-backend-v1, port: 8080}]\n"
	  "  - matches: [{headers: [{name: color, value: blue}]}, {headers: [{name: color, value: green}]}]\n"
	  "    backendRefs: [{name: infra-backend-v1, port: 8080}]\n"
	  "  - matches: [{headers: [{name: color, value: red}]}, {headers: [{name: color, value: yellow}]}]\n"
	  "    backendRefs: [{name: infra-backend-v2, port: 8080}]\n"
	  "  - matches: [{headers: [{name: Cookie, value: a}, {name: cookie, value: b}]}]\n"
	  "    backendRefs: [{name: infra-backend-v3, port: 8080}]\n",
	  { { NULL, NULL, "/", "Version: one", "infra-backend-v1" },
	    { NULL, NULL, "/", "Version: two", "infra-backend-v2" },
	    { NULL, NULL, "/", "Version: two|Color: orange", "infra-backend-v1" },
	    { NULL, NULL, "/", "Version: two|Color: blue", "infra-backend-v2" },
	    { NULL, NULL, "/", "Color: orange", "404" },
	    { NULL, NULL, "/", "Some-Other-Header: one", "404" },
	    { NULL, NULL, "/", "Color: blue", "infra-backend-v1" },
	    { NULL, NULL, "/", "Color: green", "infra-backend-v1" },
	    { NULL, NULL, "/", "Color: red", "infra-backend-v2" },
	    { NULL, NULL, "/", "Color: yellow", "infra-backend-v2" },
	    { NULL, NULL, "/", "Color: purple", "404" },
	    /* only the first of a repeated request header counts */
	    { NULL, NULL, "/", "version: three|Version: one", "404" },
	    /* the second entry of one name in a match is ignored (the spec) */
	    { NULL, NULL, "/", "cookie: a", "infra-backend-v3" } } },
	{ "HTTPRouteQueryParamMatching", "same-namespace", 80,
	  SAME_NAMESPACE ROUTE("query-param-matching")
	  "spec:\n"
	  "  parentRefs: [{name: same-namespace}]\n"
	  "  rules:\n"
	  "  - matches: [{queryParams: [{name: animal, value: whale}]}]\n"
	  "    backendRefs: [{name: infra-backend-v1, port: 8080}]\n"
	  "  - matches: [{queryParams: [{name: animal, value: dolphin}]}]\n"
	  "    backendRefs: [{name: infra-backend-v2, port: 8080}]\n"
	  "  - matches:\n"
	  "    - queryParams: [{name: animal, value: dolphin}, {name: color, value: blue}]\n"
	  "    - queryParams: [{name: ANIMAL, value: Whale}]\n"
	  "    backendRefs: [{name: infra-backend-v3, port: 8080}]\n"
	  ROUTE("query-param-matching-precedence")
	  "spec:\n"
	  "  parentRefs: [{name: same-namespace}]\n"
	  "  rules:\n"
	  "  - matches: [{path: {type: PathPrefix, value: /path5}}]\n"
	  "    backendRefs: [{name: infra-backend-v1, port: 8080}]\n"
	  "  - matches: [{queryParams: [{name: animal, value: hydra}]}]\n"
	  "    backendRefs: [{name: infra-backend-v2, port: 8080}]\n"
	  "  - matches: [{headers: [{name: version, value: four}]}]\n"
	  "    backendRefs: [{name: infra-backend-v3, port: 8080}]\n",
	  { { NULL, NULL, "/?animal=whale", NULL, "infra-backend-v1" },
	    { NULL, NULL, "/?animal=dolphin", NULL, "infra-backend-v2" },
	    { NULL, NULL, "/?animal=dolphin&color=blue", NULL, "infra-backend-v3" },
	    { NULL, NULL, "/?ANIMAL=Whale", NULL, "infra-backend-v3" },
	    { NULL, NULL, "/?animal=whale&otherparam=irrelevant", NULL, "infra-backend-v1" },
	    { NULL, NULL, "/?animal=dolphin&color=yellow", NULL, "infra-backend-v2" },
	    { NULL, NULL, "/?color=blue", NULL, "404" },
	    { NULL, NULL, "/?animal=dog", NULL, "404" },
	    { NULL, NULL, "/?animal=whaledolphin", NULL, "404" },
	    { NULL, NULL, "/", NULL, "404" },
	    { NULL, NULL, "/path5?animal=hydra", NULL, "infra-backend-v1" },
	    { NULL, NULL, "/?animal=hydra", "version: four", "infra-backend-v3" } } },
	{ "HTTPRouteMethodMatching", "same-namespace", 80,
	  SAME_NAMESPACE ROUTE("method-matching")
	  "spec:\n"
	  "  parentRefs: [{name: same-namespace}]\n"
	  "  rules:\n"
	  "  - matches: [{method: POST}]\n"
	  "    backendRefs: [{name: infra-backend-v1, port: 8080}]\n"
	  "  - matches: [{method: GET}]\n"
	  "    backendRefs: [{name: infra-backend-v2, port: 8080}]\n"
	  "  - matches: [{path: {type: PathPrefix, value: /path1}, method: GET}]\n"
	  "    backendRefs: [{name: infra-backend-v1, port: 8080}]\n"
	  "  - matches: [{headers: [{name: version, value: one}], method: PUT}]\n"
	  "    backendRefs: [{name: infra-backend-v2, port: 8080}]\n"
	  "  - matches: [{path: {type: PathPrefix, value: /path2}, headers: [{name: version, value: two}], method: POST}]\n"
	  "    backendRefs: [{name: infra-backend-v3, port: 8080}]\n"
	  "  - matches:\n"
	  "    - {path: {type: PathPrefix, value: /path3}, method: PATCH}\n"
	  "    - {path: {type: PathPrefix, value: /path4}, headers: [{name: version, value: three}], method: DELETE}\n"
	  "    backendRefs: [{name: infra-backend-v1, port: 8080}]\n"
	  "  - matches: [{path: {type: PathPrefix, value: /path5}}]\n"
	  "    backendRefs: [{name: infra-backend-v1, port: 8080}]\n"
	  "  - matches: [{method: PATCH}]\n"
	  "    backendRefs: [{name: infra-backend-v2, port: 8080}]\n"
	  "  - matches: [{headers: [{name: version, value: four}]}]\n"
	  "    backendRefs: [{name: infra-backend-v3, port: 8080}]\n",
	  { { NULL, "POST", "/", NULL, "infra-backend-v1" },
	    { NULL, "GET", "/", NULL, "infra-backend-v2" },
	    { NULL, "HEAD", "/", NULL, "404" },
	    { NULL, "GET", "/path1", NULL, "infra-backend-v1" },
	    { NULL, "PUT", "/", "version: one", "infra-backend-v2" },
	    { NULL, "POST", "/path2", "version: two", "infra-backend-v3" },
	    { NULL, "PATCH", "/path3", NULL, "infra-backend-v1" },
	    { NULL, "DELETE", "/path4", "version: three", "infra-backend-v1" },
	    { NULL, "PUT", "/", NULL, "404" },
	    { NULL, "DELETE", "/path4", NULL, "404" },
	    { NULL, "PATCH", "/path5", NULL, "infra-backend-v1" },
	    { NULL, "PATCH", "/", "version: four", "infra-backend-v2" } } },
	{ "HTTPRouteHostnameIntersection", "httproute-hostname-intersection", 80,
	  "apiVersion: gateway.networking.k8s.io/v1\n"
	  "kind: Gateway\n"
	  "metadata: {name: httproute-hostname-intersection, namespace: " NS "}\n"
	  "spec:\n"
	  "  listeners:\n"
	  "  - {name: listener-1, port: 80, protocol: HTTP, hostname: very.specific.com}\n"
	  "  - {name: listener-2, port: 80, protocol: HTTP, hostname: '*.wildcard.io'}\n"
	  "  - {name: listener-3, port: 80, protocol: HTTP, hostname: '*.anotherwildcard.io'}\n"
	  ROUTE("specific-host-matches-listener-specific-host")
	  "spec:\n"
	  "  parentRefs: [{name: httproute-hostname-intersection}]\n"
	  "  hostnames: [non.matching.com, '*.nonmatchingwildcard.io', very.specific.com]\n"
	  "  rules: [{matches: [{path: {value: /s1}}], backendRefs: [{name: infra-backend-v1, port: 8080}]}]\n"
	  ROUTE("specific-host-matches-listener-wildcard-host")
	  "spec:\n"
	  "  parentRefs: [{name: httproute-hostname-intersection}]\n"
	  "  hostnames: [non.matching.com, wildcard.io, foo.wildcard.io, bar.wildcard.io, foo.bar.wildcard.io]\n"
	  "  rules: [{matches: [{path: {value: /s2}}], backendRefs: [{name: infra-backend-v2, port: 8080}]}]\n"
	  ROUTE("wildcard-host-matches-listener-specific-host")
	  "spec:\n"
	  "  parentRefs: [{name: httproute-hostname-intersection}]\n"
	  "  hostnames: [non.matching.com, '*.specific.com']\n"
	  "  rules: [{matches: [{path: {value: /s3}}], backendRefs: [{name: infra-backend-v3, port: 8080}]}]\n"
	  ROUTE("wildcard-host-matches-listener-wildcard-host")
	  "spec:\n"
	  "  parentRefs: [{name: httproute-hostname-intersection}]\n"
	  "  hostnames: ['*.anotherwildcard.io']\n"
	  "  rules: [{matches: [{path: {value: /s4}}], backendRefs: [{name: infra-backend-v1, port: 8080}]}]\n"
	  ROUTE("no-intersecting-hosts")
	  "spec:\n"
	  "  parentRefs: [{name: httproute-hostname-intersection}]\n"
	  "  hostnames: [specific.but.wrong.com, wildcard.io]\n"
	  "  rules: [{matches: [{path: {value: /s5}}], backendRefs: [{name: infra-backend-v2, port: 8080}]}]\n",
	  { { "very.specific.com", NULL, "/s1", NULL, "infra-backend-v1" },
	    { "very.specific.com:1234", NULL, "/s1", NULL, "infra-backend-v1" },
	    { "non.matching.com", NULL, "/s1", NULL, "404" },
	    { "foo.nonmatchingwildcard.io", NULL, "/s1", NULL, "404" },
	    { "foo.wildcard.io", NULL, "/s1", NULL, "404" },
	    { "very.specific.com", NULL, "/non-matching-prefix", NULL, "404" },
	    { "foo.wildcard.io", NULL, "/s2", NULL, "infra-backend-v2" },
	    { "bar.wildcard.io", NULL, "/s2", NULL, "infra-backend-v2" },
	    { "foo.bar.wildcard.io", NULL, "/s2", NULL, "infra-backend-v2" },
	    { "non.matching.com", NULL, "/s2", NULL, "404" },
	    { "wildcard.io", NULL, "/s2", NULL, "404" },
	    { "very.specific.com", NULL, "/s2", NULL, "404" },
	    { "very.specific.com", NULL, "/s3", NULL, "infra-backend-v3" },
	    { "foo.specific.com", NULL, "/s3", NULL, "404" },
	    { "foo.wildcard.io", NULL, "/s3", NULL, "404" },
	    { "foo.anotherwildcard.io", NULL, "/s4", NULL, "infra-backend-v1" },
	    { "bar.anotherwildcard.io", NULL, "/s4", NULL, "infra-backend-v1" },
	    { "foo.bar.anotherwildcard.io", NULL, "/s4", NULL, "infra-backend-v1" },
	    { "anotherwildcard.io", NULL, "/s4", NULL, "404" },
	    { "foo.wildcard.io", NULL, "/s4", NULL, "404" },
	    { "very.specific.com", NULL, "/s4", NULL, "404" },
	    { "specific.but.wrong.com", NULL, "/s5", NULL, "404" },
	    { "wildcard.io", NULL, "/s5", NULL, "404" } } },
	{ "HTTPRouteListenerHostnameMatching", "httproute-listener-hostname-matching", 80,
	  "apiVersion: gateway.networking.k8s.io/v1\n"
	  "kind: Gateway\n"
	  "metadata: {name: httproute-listener-hostname-matching, namespace: " NS "}\n"
	  "spec:\n"
	  "  listeners:\n"
	  "  - {name: listener-1, port: 80, protocol: HTTP, hostname: bar.com}\n"
	  "  - {name: listener-2, port: 80, protocol: HTTP, hostname: foo.bar.com}\n"
	  "  - {name: listener-3, port: 80, protocol: HTTP, hostname: '*.bar.com'}\n"
	  "  - {name: listener-4, port: 80, protocol: HTTP, hostname: '*.foo.com'}\n"
	  ROUTE("backend-v1")
	  "spec:\n"
	  "  parentRefs: [{name: httproute-listener-hostname-matching, sectionName: listener-1}]\n"
	  "  rules: [{backendRefs: [{name: infra-backend-v1, port: 8080}]}]\n"
	  ROUTE("backend-v2")
	  "spec:\n"
	  "  parentRefs: [{name: httproute-listener-hostname-matching, sectionName: listener-2}]\n"
	  "  rules: [{backendRefs: [{name: infra-backend-v2, port: 8080}]}]\n"
	  ROUTE("backend-v3")
	  "spec:\n"
	  "  parentRefs:\n"
	  "  - {name: httproute-listener-hostname-matching, sectionName: listener-3}\n"
	  "  - {name: httproute-listener-hostname-matching, sectionName: listener-4}\n"
	  "  rules: [{backendRefs: [{name: infra-backend-v3, port: 8080}]}]\n",
	  { { "bar.com", NULL, "/", NULL, "infra-backend-v1" },
	    { "foo.bar.com", NULL, "/", NULL, "infra-backend-v2" },
	    { "baz.bar.com", NULL, "/", NULL, "infra-backend-v3" },
	    { "boo.bar.com", NULL, "/", NULL, "infra-backend-v3" },
	    { "multiple.prefixes.bar.com", NULL, "/", NULL, "infra-backend-v3" },
	    { "multiple.prefixes.foo.com", NULL, "/", NULL, "infra-backend-v3" },
	    { "foo.com", NULL, "/", NULL, "404" },
	    { "no.matching.host", NULL, "/", NULL, "404" } } },
	{ "HTTPRouteInvalidCrossNamespaceBackendRef", "same-namespace", 80,
	  SAME_NAMESPACE ROUTE("invalid-cross-namespace-backend-ref")
	  "spec:\n"
	  "  parentRefs: [{name: same-namespace}]\n"
	  "  rules: [{backendRefs: [{name: web-backend, namespace: gateway-conformance-web-backend, port: 8080}]}]\n",
	  { { NULL, NULL, "/", NULL, "500" } } },
	{ "HTTPRouteInvalidBackendRefUnknownKind", "same-namespace", 80,
	  SAME_NAMESPACE ROUTE("invalid-backend-ref-unknown-kind")
	  "spec:\n"
	  "  parentRefs: [{name: same-namespace}]\n"
	  "  rules: [{backendRefs: [{group: unknownkind.example.com, kind: NonExistent, name: infra-backend-v1, port: 8080}]}]\n",
	  { { NULL, NULL, "/v2", NULL, "500" } } },
	{ "HTTPRouteReferenceGrant (the grant lets the cross-namespace ref resolve)",
	  "same-namespace", 80,
	  SAME_NAMESPACE ROUTE("cross-namespace-with-grant")
	  "spec:\n"
	  "  parentRefs: [{name: same-namespace}]\n"
	  "  rules: [{backendRefs: [{name: web-backend, namespace: gateway-conformance-web-backend, port: 8080}]}]\n"
	  "---\n"
	  "apiVersion: gateway.networking.k8s.io/v1beta1\n"
	  "kind: ReferenceGrant\n"
	  "metadata: {name: grant, namespace: gateway-conformance-web-backend}\n"
	  "spec:\n"
	  "  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: " NS "}]\n"
	  "  to: [{group: '', kind: Service, name: web-backend}]\n",
	  { { NULL, NULL, "/", NULL, "web-backend" } } },
	{ "spec: a rule without backendRefs answers 500; no rule matching answers 404",
	  "same-namespace", 80,
	  SAME_NAMESPACE ROUTE("no-backends")
	  "spec:\n"
	  "  parentRefs: [{name: same-namespace}]\n"
	  "  rules:\n"
	  "  - matches: [{path: {type: PathPrefix, value: /empty}}]\n"
	  "  - matches: [{path: {type: PathPrefix, value: /zero}}]\n"
	  "    backendRefs: [{name: a, port: 80, weight: 0}]\n",
	  { { NULL, NULL, "/empty/x", NULL, "500" },
	    { NULL, NULL, "/zero", NULL, "500" },
	    { NULL, NULL, "/other", NULL, "404" } } },
	{ "precedence across routes: the oldest route, then namespace/name (spec)",
	  "same-namespace", 80,
	  SAME_NAMESPACE ROUTE_CREATED("b-newer", "2026-02-01T00:00:00Z")
	  "spec:\n"
	  "  parentRefs: [{name: same-namespace}]\n"
	  "  rules: [{matches: [{path: {value: /tie}}], backendRefs: [{name: newer, port: 80}]}]\n"
	  ROUTE_CREATED("c-older", "2026-01-01T00:00:00Z")
	  "spec:\n"
	  "  parentRefs: [{name: same-namespace}]\n"
	  "  rules: [{matches: [{path: {value: /tie}}], backendRefs: [{name: older, port: 80}]}]\n"
	  ROUTE("a-first")
	  "spec:\n"
	  "  parentRefs: [{name: same-namespace}]\n"
	  "  rules: [{matches: [{path: {value: /name}}], backendRefs: [{name: a-first, port: 80}]}]\n"
	  ROUTE("b-second")
	  "spec:\n"
	  "  parentRefs: [{name: same-namespace}]\n"
	  "  rules: [{matches: [{path: {value: /name}}], backendRefs: [{name: b-second, port: 80}]}]\n",
	  { { NULL, NULL, "/tie", NULL, "older" },
	    { NULL, NULL, "/name", NULL, "a-first" } } },
	{ "RegularExpression paths rank after Exact, before PathPrefix (lb, as Envoy Gateway)",
	  "same-namespace", 80,
	  SAME_NAMESPACE ROUTE("regex")
	  "spec:\n"
	  "  parentRefs: [{name: same-namespace}]\n"
	  "  rules:\n"
	  "  - matches: [{path: {type: PathPrefix, value: /}}]\n"
	  "    backendRefs: [{name: prefix, port: 80}]\n"
	  "  - matches: [{path: {type: RegularExpression, value: '/users/[0-9]+'}}]\n"
	  "    backendRefs: [{name: regex, port: 80}]\n"
	  "  - matches: [{path: {type: Exact, value: /users/0}}]\n"
	  "    backendRefs: [{name: exact, port: 80}]\n"
	  "  - matches: [{headers: [{name: x-id, type: RegularExpression, value: 'a+b'}]}]\n"
	  "    backendRefs: [{name: header-regex, port: 80}]\n",
	  { { NULL, NULL, "/users/42", NULL, "regex" },
	    { NULL, NULL, "/users/0", NULL, "exact" },
	    { NULL, NULL, "/users/42/x", NULL, "prefix" },
	    { NULL, NULL, "/x", "x-id: aab", "header-regex" },
	    { NULL, NULL, "/x", "x-id: aabc", "prefix" } } },
	{ "spec: an exact route hostname beats a wildcard one on the same listener",
	  "same-namespace", 80,
	  SAME_NAMESPACE ROUTE("wildcard")
	  "spec:\n"
	  "  parentRefs: [{name: same-namespace}]\n"
	  "  hostnames: ['*.example.com']\n"
	  "  rules: [{matches: [{path: {type: Exact, value: /only-wildcard}}], backendRefs: [{name: wildcard, port: 80}]},\n"
	  "          {backendRefs: [{name: wildcard, port: 80}]}]\n"
	  ROUTE("exact")
	  "spec:\n"
	  "  parentRefs: [{name: same-namespace}]\n"
	  "  hostnames: [foo.example.com]\n"
	  "  rules: [{matches: [{path: {value: /a}}], backendRefs: [{name: exact, port: 80}]}]\n",
	  { { "foo.example.com", NULL, "/a", NULL, "exact" },
	    { "foo.example.com", NULL, "/only-wildcard", NULL, "wildcard" },
	    { "bar.example.com", NULL, "/a", NULL, "wildcard" },
	    { "b.a.example.com", NULL, "/a", NULL, "wildcard" },
	    { "example.com", NULL, "/a", NULL, "404" } } },
	{ "HTTPRouteRedirectPath (a redirect rule)", "same-namespace", 80,
	  SAME_NAMESPACE ROUTE("redirect-path")
	  "spec:\n"
	  "  parentRefs: [{name: same-namespace}]\n"
	  "  rules:\n"
	  "  - matches: [{path: {type: PathPrefix, value: /original-prefix}}]\n"
	  "    filters: [{type: RequestRedirect, requestRedirect: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /replacement-prefix}}}]\n",
	  { { NULL, NULL, "/original-prefix/lemon", NULL, "redirect" } } },
};

static void test_conformance(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(conformance_cases) / sizeof(conformance_cases[0]); i++) {
		const struct conformance *c = &conformance_cases[i];
		struct gateway_docs docs = GATEWAY_DOCS_INIT;
		struct gateway_result res;

		compile(c->yaml, c->gateway, &docs, &res);
		assert_round_trip(res.table);
		for (const struct request *r = c->requests; r->target; r++) {
			struct route_result out;
			const char *got = answer(res.table, c->port, r, &out);

			if (strcmp(got, r->expect) != 0)
				fail_msg("%s: %s %s%s (%s): got %s, want %s", c->test,
					 r->method ? r->method : "GET", r->host ? r->host : "",
					 r->target, r->headers ? r->headers : "", got, r->expect);
		}
		gateway_result_release(&res);
		gateway_docs_release(&docs);
	}
}

/* The status of the route's parentRef index. */
static const struct gateway_parent_status *status_of(const struct gateway_result *res,
						     const char *route, unsigned index)
{
	for (unsigned i = 0; i < res->n_statuses; i++)
		if (strcmp(res->statuses[i].route, route) == 0 && res->statuses[i].parent == index)
			return &res->statuses[i];
	fail_msg("no status for %s parentRefs[%u]", route, index);
	return NULL;
}

static int has_note(const struct gateway_result *res, const char *text)
{
	for (unsigned i = 0; i < res->notes.n; i++)
		if (strstr(res->notes.list[i], text))
			return 1;
	return 0;
}

struct status_case {
	const char *test;
	const char *yaml;
	const char *route;	/* "namespace/name" */
	int accepted;
	const char *accepted_reason;
	int resolved;
	const char *resolved_reason;
	const char *note;	/* in the notes, or NULL */
};

#define BACKEND "  rules: [{backendRefs: [{name: infra-backend-v1, port: 8080}]}]\n"

static const struct status_case status_cases[] = {
	{ "HTTPRouteInvalidCrossNamespaceBackendRef",
	  SAME_NAMESPACE ROUTE("r")
	  "spec:\n"
	  "  parentRefs: [{name: same-namespace}]\n"
	  "  rules: [{backendRefs: [{name: web-backend, namespace: other, port: 8080}]}]\n",
	  NS "/r", 1, "Accepted", 0, "RefNotPermitted",
	  "test.yaml:8: spec.rules[0].backendRefs[0]: no ReferenceGrant in namespace other" },
	{ "HTTPRouteInvalidBackendRefUnknownKind",
	  SAME_NAMESPACE ROUTE("r")
	  "spec:\n"
	  "  parentRefs: [{name: same-namespace}]\n"
	  "  rules: [{backendRefs: [{group: unknownkind.example.com, kind: NonExistent, name: x, port: 1}]}]\n",
	  NS "/r", 1, "Accepted", 0, "InvalidKind", "unknownkind.example.com/NonExistent" },
	{ "HTTPRouteInvalidCrossNamespaceParentRef (NotAllowedByListeners)",
	  SAME_NAMESPACE
	  "---\n"
	  "apiVersion: gateway.networking.k8s.io/v1\n"
	  "kind: HTTPRoute\n"
	  "metadata: {name: r, namespace: gateway-conformance-web-backend}\n"
	  "spec:\n"
	  "  parentRefs: [{name: same-namespace, namespace: " NS "}]\n" BACKEND,
	  "gateway-conformance-web-backend/r", 0, "NotAllowedByListeners", 1, "ResolvedRefs",
	  NULL },
	{ "spec: NoMatchingParent (no listener has the sectionName)",
	  SAME_NAMESPACE ROUTE("r")
	  "spec:\n"
	  "  parentRefs: [{name: same-namespace, sectionName: nope}]\n" BACKEND,
	  NS "/r", 0, "NoMatchingParent", 1, "ResolvedRefs", NULL },
	{ "spec: NoMatchingParent (no listener on the port)",
	  SAME_NAMESPACE ROUTE("r")
	  "spec:\n"
	  "  parentRefs: [{name: same-namespace, port: 8443}]\n" BACKEND,
	  NS "/r", 0, "NoMatchingParent", 1, "ResolvedRefs", NULL },
	{ "HTTPRouteHostnameIntersection (no-intersecting-hosts)",
	  "apiVersion: gateway.networking.k8s.io/v1\n"
	  "kind: Gateway\n"
	  "metadata: {name: same-namespace, namespace: " NS "}\n"
	  "spec:\n"
	  "  listeners: [{name: l, port: 80, protocol: HTTP, hostname: '*.wildcard.io'}]\n"
	  ROUTE("r")
	  "spec:\n"
	  "  parentRefs: [{name: same-namespace}]\n"
	  "  hostnames: [specific.but.wrong.com, wildcard.io]\n" BACKEND,
	  NS "/r", 0, "NoMatchingListenerHostname", 1, "ResolvedRefs", NULL },
	{ "spec: a bad regex refuses the route",
	  SAME_NAMESPACE ROUTE("r")
	  "spec:\n"
	  "  parentRefs: [{name: same-namespace}]\n"
	  "  rules:\n"
	  "  - backendRefs: [{name: infra-backend-v1, port: 8080}]\n"
	  "  - matches: [{path: {type: RegularExpression, value: '/a(b'}}]\n",
	  NS "/r", 0, "UnsupportedValue", 1, "ResolvedRefs",
	  "test.yaml:8: spec.rules[1].matches[0].path.value: invalid regular expression" },
	{ "spec: a bad header regex refuses the route",
	  SAME_NAMESPACE ROUTE("r")
	  "spec:\n"
	  "  parentRefs: [{name: same-namespace}]\n"
	  "  rules: [{matches: [{headers: [{name: a, type: RegularExpression, value: '*'}]}]}]\n",
	  NS "/r", 0, "UnsupportedValue", 1, "ResolvedRefs",
	  "spec.rules[0].matches[0].headers[0]: invalid regular expression" },
	{ "spec: an unsupported filter refuses the route",
	  SAME_NAMESPACE ROUTE("r")
	  "spec:\n"
	  "  parentRefs: [{name: same-namespace}]\n"
	  "  rules: [{filters: [{type: ExtensionRef, extensionRef: {group: x, kind: y, name: z}}]}]\n",
	  NS "/r", 0, "UnsupportedValue", 1, "ResolvedRefs",
	  "spec.rules[0].filters[0]: filter type \"ExtensionRef\" is not supported" },
	{ "spec: RequestRedirect and URLRewrite are exclusive",
	  SAME_NAMESPACE ROUTE("r")
	  "spec:\n"
	  "  parentRefs: [{name: same-namespace}]\n"
	  "  rules: [{filters: [{type: RequestRedirect, requestRedirect: {}}, {type: URLRewrite, urlRewrite: {}}]}]\n",
	  NS "/r", 0, "UnsupportedValue", 1, "ResolvedRefs", "cannot be on one rule" },
	{ "spec: ReplacePrefixMatch needs PathPrefix matches",
	  SAME_NAMESPACE ROUTE("r")
	  "spec:\n"
	  "  parentRefs: [{name: same-namespace}]\n"
	  "  rules:\n"
	  "  - matches: [{path: {type: Exact, value: /a}}]\n"
	  "    filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /b}}}]\n"
	  "    backendRefs: [{name: infra-backend-v1, port: 8080}]\n",
	  NS "/r", 0, "UnsupportedValue", 1, "ResolvedRefs", "needs PathPrefix" },
	{ "spec: an unknown redirect statusCode is UnsupportedValue",
	  SAME_NAMESPACE ROUTE("r")
	  "spec:\n"
	  "  parentRefs: [{name: same-namespace}]\n"
	  "  rules: [{filters: [{type: RequestRedirect, requestRedirect: {statusCode: 305}}]}]\n",
	  NS "/r", 0, "UnsupportedValue", 1, "ResolvedRefs", "statusCode" },
	{ "spec: an unknown redirect scheme is UnsupportedValue",
	  SAME_NAMESPACE ROUTE("r")
	  "spec:\n"
	  "  parentRefs: [{name: same-namespace}]\n"
	  "  rules: [{filters: [{type: RequestRedirect, requestRedirect: {scheme: ftp}}]}]\n",
	  NS "/r", 0, "UnsupportedValue", 1, "ResolvedRefs", "scheme ftp" },
	{ "spec: a bad timeout is UnsupportedValue",
	  SAME_NAMESPACE ROUTE("r")
	  "spec:\n"
	  "  parentRefs: [{name: same-namespace}]\n"
	  "  rules: [{timeouts: {request: 1s, backendRequest: 2s}}]\n",
	  NS "/r", 0, "UnsupportedValue", 1, "ResolvedRefs", "must not be longer" },
	{ "spec: a match must be an object (not a catch-all)",
	  SAME_NAMESPACE ROUTE("r")
	  "spec:\n"
	  "  parentRefs: [{name: same-namespace}]\n"
	  "  rules: [{matches: [junk], backendRefs: [{name: infra-backend-v1, port: 8080}]}]\n",
	  NS "/r", 0, "UnsupportedValue", 1, "ResolvedRefs", "must be objects" },
	{ "spec: hostnames must be a list",
	  SAME_NAMESPACE ROUTE("r")
	  "spec:\n"
	  "  parentRefs: [{name: same-namespace}]\n"
	  "  hostnames: example.com\n" BACKEND,
	  NS "/r", 0, "UnsupportedValue", 1, "ResolvedRefs", "a list of at most 16 hostnames" },
	{ "lb: rule fields it does not implement are named, and ignored",
	  SAME_NAMESPACE ROUTE("r")
	  "spec:\n"
	  "  parentRefs: [{name: same-namespace}]\n"
	  "  rules: [{retry: {attempts: 2}, backendRefs: [{name: infra-backend-v1, port: 8080}]}]\n",
	  NS "/r", 1, "Accepted", 1, "ResolvedRefs",
	  "test.yaml:8: spec.rules[0]: \"retry\" is not supported, ignored" },
	{ "lb: a split key lb does not know refuses the route",
	  SAME_NAMESPACE "---\n"
	  "apiVersion: gateway.networking.k8s.io/v1\n"
	  "kind: HTTPRoute\n"
	  "metadata: {name: r, namespace: " NS ", annotations: {lb.dev/split-key: 'query:x'}}\n"
	  "spec:\n"
	  "  parentRefs: [{name: same-namespace}]\n" BACKEND,
	  NS "/r", 0, "UnsupportedValue", 1, "ResolvedRefs", "lb.dev/split-key" },
	{ "spec: a mirror's fraction is at most 1",
	  SAME_NAMESPACE ROUTE("r")
	  "spec:\n"
	  "  parentRefs: [{name: same-namespace}]\n"
	  "  rules: [{filters: [{type: RequestMirror, requestMirror: {backendRef: {name: m, port: 80}, fraction: {numerator: 3, denominator: 2}}}]}]\n",
	  NS "/r", 0, "UnsupportedValue", 1, "ResolvedRefs", "requestMirror.fraction" },
	{ "spec: a mirror's percent and fraction are exclusive",
	  SAME_NAMESPACE ROUTE("r")
	  "spec:\n"
	  "  parentRefs: [{name: same-namespace}]\n"
	  "  rules: [{filters: [{type: RequestMirror, requestMirror: {backendRef: {name: m, port: 80}, percent: 5, fraction: {numerator: 1}}}]}]\n",
	  NS "/r", 0, "UnsupportedValue", 1, "ResolvedRefs", "exclusive" },
	{ "spec: a mirror to a missing namespace's Service without a grant: RefNotPermitted",
	  SAME_NAMESPACE ROUTE("r")
	  "spec:\n"
	  "  parentRefs: [{name: same-namespace}]\n"
	  "  rules: [{filters: [{type: RequestMirror, requestMirror: {backendRef: {name: m, namespace: x, port: 80}}}]}]\n",
	  NS "/r", 1, "Accepted", 0, "RefNotPermitted", "requestMirror.backendRef" },
	{ "spec: a header set twice refuses the route (the CRD)",
	  SAME_NAMESPACE ROUTE("r")
	  "spec:\n"
	  "  parentRefs: [{name: same-namespace}]\n"
	  "  rules: [{filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: A, value: '1'}, {name: a, value: '2'}]}}]}]\n",
	  NS "/r", 0, "UnsupportedValue", 1, "ResolvedRefs", "header a is listed twice" },
	{ "spec: one RequestHeaderModifier per rule",
	  SAME_NAMESPACE ROUTE("r")
	  "spec:\n"
	  "  parentRefs: [{name: same-namespace}]\n"
	  "  rules: [{filters: [{type: RequestHeaderModifier, requestHeaderModifier: {}}, {type: RequestHeaderModifier, requestHeaderModifier: {}}]}]\n",
	  NS "/r", 0, "UnsupportedValue", 1, "ResolvedRefs", "filters[1]: a rule may have one" },
	{ "spec: an unknown method is UnsupportedValue",
	  SAME_NAMESPACE ROUTE("r")
	  "spec:\n"
	  "  parentRefs: [{name: same-namespace}]\n"
	  "  rules: [{matches: [{method: FETCH}]}]\n",
	  NS "/r", 0, "UnsupportedValue", 1, "ResolvedRefs", "method FETCH" },
	{ "spec: allowedRoutes.kinds without HTTPRoute: NotAllowedByListeners",
	  "apiVersion: gateway.networking.k8s.io/v1\n"
	  "kind: Gateway\n"
	  "metadata: {name: same-namespace, namespace: " NS "}\n"
	  "spec:\n"
	  "  listeners: [{name: l, port: 80, protocol: HTTP, allowedRoutes: {kinds: [{kind: GRPCRoute}]}}]\n"
	  ROUTE("r")
	  "spec:\n"
	  "  parentRefs: [{name: same-namespace}]\n" BACKEND,
	  NS "/r", 0, "NotAllowedByListeners", 1, "ResolvedRefs", NULL },
	{ "spec: allowedRoutes from All takes a route of another namespace",
	  "apiVersion: gateway.networking.k8s.io/v1\n"
	  "kind: Gateway\n"
	  "metadata: {name: same-namespace, namespace: " NS "}\n"
	  "spec:\n"
	  "  listeners: [{name: l, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}]\n"
	  "---\n"
	  "apiVersion: gateway.networking.k8s.io/v1\n"
	  "kind: HTTPRoute\n"
	  "metadata: {name: r, namespace: elsewhere}\n"
	  "spec:\n"
	  "  parentRefs: [{name: same-namespace, namespace: " NS "}]\n"
	  "  rules: [{backendRefs: [{name: s, port: 80}]}]\n",
	  "elsewhere/r", 1, "Accepted", 1, "ResolvedRefs", NULL },
	{ "spec: a route of another Gateway gets no status here",
	  SAME_NAMESPACE ROUTE("mine")
	  "spec:\n"
	  "  parentRefs: [{name: same-namespace}, {name: other-gateway}]\n" BACKEND,
	  NS "/mine", 1, "Accepted", 1, "ResolvedRefs", NULL },
};

static void test_statuses(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(status_cases) / sizeof(status_cases[0]); i++) {
		const struct status_case *c = &status_cases[i];
		struct gateway_docs docs = GATEWAY_DOCS_INIT;
		struct gateway_result res;
		const struct gateway_parent_status *st;

		compile(c->yaml, "same-namespace", &docs, &res);
		st = status_of(&res, c->route, 0);
		if (st->accepted.status != c->accepted ||
		    strcmp(st->accepted.reason, c->accepted_reason) != 0 ||
		    st->resolved_refs.status != c->resolved ||
		    strcmp(st->resolved_refs.reason, c->resolved_reason) != 0)
			fail_msg("%s: Accepted %d %s (%s), ResolvedRefs %d %s (%s)", c->test,
				 st->accepted.status, st->accepted.reason, st->accepted.message,
				 st->resolved_refs.status, st->resolved_refs.reason,
				 st->resolved_refs.message);
		if (c->note && !has_note(&res, c->note)) {
			for (unsigned j = 0; j < res.notes.n; j++)
				print_message("note: %s\n", res.notes.list[j]);
			fail_msg("%s: no note with \"%s\"", c->test, c->note);
		}
		/* one status per parentRef to this Gateway, none for another's */
		assert_int_equal(res.n_statuses, 1);
		assert_round_trip(res.table);
		gateway_result_release(&res);
		gateway_docs_release(&docs);
	}
}

/* Appends n copies of item (a printf format taking the index) to yaml. */
static void repeat(char *yaml, size_t size, const char *item, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		snprintf(yaml + strlen(yaml), size - strlen(yaml), item, i);
}

/* The CRD's limits, as status conditions: a route past one is refused. */
static void test_limits(void **state)
{
	static const struct {
		const char *what, *head, *item, *tail, *note;
		unsigned limit;
	} limits[] = {
		{ "16 rules per route", "  rules:\n", "  - backendRefs: [{name: b%u, port: 80}]\n", "",
		  "spec: \"rules\" has 17 entries", ROUTE_RULES_MAX },
		{ "64 matches per rule", "  rules:\n  - matches:\n",
		  "    - path: {value: /m%u}\n", "", "\"matches\" has 65 entries", ROUTE_MATCHES_MAX },
		{ "16 backendRefs per rule", "  rules:\n  - backendRefs:\n",
		  "    - {name: b%u, port: 80}\n", "", "\"backendRefs\" has 17", ROUTE_BACKENDS_MAX },
		{ "16 headers per match", "  rules:\n  - matches:\n    - headers:\n",
		  "      - {name: h%u, value: v}\n", "", "\"headers\" has 17", ROUTE_CONDITIONS_MAX },
		{ "16 query params per match", "  rules:\n  - matches:\n    - queryParams:\n",
		  "      - {name: q%u, value: v}\n", "", "\"queryParams\" has 17",
		  ROUTE_CONDITIONS_MAX },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		for (unsigned n = limits[i].limit; n <= limits[i].limit + 1; n++) {
			static char yaml[16384];
			struct gateway_docs docs = GATEWAY_DOCS_INIT;
			struct gateway_result res;
			const struct gateway_parent_status *st;

			snprintf(yaml, sizeof(yaml), "%s", SAME_NAMESPACE ROUTE("r")
				 "spec:\n  parentRefs: [{name: same-namespace}]\n");
			snprintf(yaml + strlen(yaml), sizeof(yaml) - strlen(yaml), "%s",
				 limits[i].head);
			repeat(yaml, sizeof(yaml), limits[i].item, n);
			compile(yaml, "same-namespace", &docs, &res);
			st = status_of(&res, NS "/r", 0);
			if (n == limits[i].limit) {
				if (!st->accepted.status)
					fail_msg("%s: %u refused: %s", limits[i].what, n,
						 st->accepted.message);
				assert_true(res.table->n_rules > 0);
			} else {
				assert_int_equal(st->accepted.status, 0);
				assert_string_equal(st->accepted.reason, "UnsupportedValue");
				if (!has_note(&res, limits[i].note))
					fail_msg("%s: no note \"%s\" (%s)", limits[i].what,
						 limits[i].note, st->accepted.message);
				assert_int_equal(res.table->n_rules, 0);
			}
			gateway_result_release(&res);
			gateway_docs_release(&docs);
		}
	}
}

static int only_v1(void *ctx, const char *ns, const char *name, uint16_t port)
{
	(void)ctx;
	return strcmp(ns, NS) == 0 && strcmp(name, "infra-backend-v1") == 0 && port == 8080;
}

/* v1 on 8080 has an appProtocol lb does not speak; every other port exists */
static int v1_unsupported(void *ctx, const char *ns, const char *name, uint16_t port)
{
	(void)ctx;
	return only_v1(ctx, ns, name, port) ? GATEWAY_SERVICE_UNSUPPORTED_PROTOCOL : 1;
}

/* GEP-1911: a backendRef to a Service port whose appProtocol lb does not
 * speak is ResolvedRefs False, UnsupportedProtocol, on the HTTPRoute, and
 * still served (with the proxies' --backend-protocol); a ref of a
 * TCPRoute relays bytes, so no condition changes there. */
static void test_unsupported_protocol(void **state)
{
	static const char yaml[] = SAME_NAMESPACE ROUTE("r")
		"spec:\n"
		"  parentRefs: [{name: same-namespace}]\n"
		"  rules:\n"
		"  - backendRefs:\n"
		"    - {name: infra-backend-v1, port: 8080, weight: 1}\n"
		"    - {name: infra-backend-v2, port: 8080, weight: 1}\n";
	struct gateway_docs docs = GATEWAY_DOCS_INIT;
	struct gateway_result res;
	const struct gateway_parent_status *st;
	char err[256];
	(void)state;

	assert_int_equal(gateway_load(&docs, "test.yaml", yaml, strlen(yaml), err, sizeof(err)), 0);
	assert_int_equal(gateway_compile(&docs, NS, "same-namespace", v1_unsupported, NULL, &res),
			 0);
	st = status_of(&res, NS "/r", 0);
	assert_int_equal(st->accepted.status, 1);
	assert_int_equal(st->resolved_refs.status, 0);
	assert_string_equal(st->resolved_refs.reason, "UnsupportedProtocol");
	assert_non_null(strstr(st->resolved_refs.message, "appProtocol"));
	assert_int_equal(res.table->rules[0].backends[0].resolved, 1);
	assert_int_equal(res.table->rules[0].backends[1].resolved, 1);
	gateway_result_release(&res);
	gateway_docs_release(&docs);
}

/* HTTPRouteWeight's shape with a missing Service: BackendNotFound, and its
 * share answers 500 while the others go on. */
static void test_backend_not_found(void **state)
{
	static const char yaml[] = SAME_NAMESPACE ROUTE("r")
		"spec:\n"
		"  parentRefs: [{name: same-namespace}]\n"
		"  rules:\n"
		"  - backendRefs:\n"
		"    - {name: infra-backend-v1, port: 8080, weight: 1}\n"
		"    - {name: infra-backend-v2, port: 8080, weight: 1}\n"
		"    - {name: infra-backend-v1, port: 9999, weight: 0}\n";
	struct gateway_docs docs = GATEWAY_DOCS_INIT;
	struct gateway_result res;
	const struct route_rule *rule;
	char err[256];
	(void)state;

	assert_int_equal(gateway_load(&docs, "test.yaml", yaml, strlen(yaml), err, sizeof(err)), 0);
	assert_int_equal(gateway_compile(&docs, NS, "same-namespace", only_v1, NULL, &res), 0);
	assert_string_equal(status_of(&res, NS "/r", 0)->resolved_refs.reason, "BackendNotFound");
	assert_int_equal(status_of(&res, NS "/r", 0)->accepted.status, 1);
	rule = &res.table->rules[0];
	assert_int_equal(rule->n_backends, 3);
	assert_int_equal(rule->backends[0].resolved, 1);
	assert_int_equal(rule->backends[1].resolved, 0);
	assert_int_equal(rule->backends[2].resolved, 0);
	assert_ptr_equal(route_pick_backend(rule, 0), &rule->backends[0]);
	assert_ptr_equal(route_pick_backend(rule, UINT32_MAX), &rule->backends[1]);
	gateway_result_release(&res);
	gateway_docs_release(&docs);
}

/* The sample document: every filter compiled into the rule. */
static void test_filters_compiled(void **state)
{
	struct gateway_docs docs = GATEWAY_DOCS_INIT;
	struct gateway_result res;
	struct buf text = BUF_INIT;
	const struct route_rule *api, *old, *site;
	struct route_result out;
	struct request req = { "api.example.com", "GET", "/old/v1?x=1", NULL, NULL };
	char err[256], location[256];
	(void)state;

	assert_int_equal(buf_read_file(&text, "tests/fuzz/seeds-fuzz_route/canary.yaml"), 0);
	assert_int_equal(gateway_load(&docs, "canary.yaml", text.data, text.len, err,
				      sizeof(err)), 0);
	assert_int_equal(docs.n, 3);
	assert_string_equal(docs.docs[1].source, "canary.yaml:16");
	assert_int_equal(gateway_compile(&docs, "default", "web", NULL, NULL, &res), 0);
	assert_int_equal(res.notes.n, 0);
	assert_int_equal(res.n_statuses, 2);
	assert_int_equal(res.table->n_rules, 3);
	api = &res.table->rules[0];
	old = &res.table->rules[1];
	site = &res.table->rules[2];
	assert_string_equal(api->route, "default/api-canary");
	assert_int_equal(api->backends[0].weight, 90);
	assert_int_equal(api->backends[1].weight, 10);
	assert_int_equal(api->timeout_request_ms, 10000);
	assert_int_equal(api->timeout_backend_ms, 2000);
	assert_int_equal(api->request_headers.n_add, 1);
	assert_string_equal(api->request_headers.add[0].value, "90-10");
	assert_int_equal(old->redirect->status, 301);
	assert_string_equal(api->split_key, "cookie:lb-canary");
	assert_null(site->split_key);
	assert_int_equal(site->n_mirrors, 1);
	assert_int_equal(site->mirrors[0].numerator, 5);
	assert_int_equal(site->mirrors[0].denominator, 100);
	assert_string_equal(site->rewrite->hostname, "static.internal");
	assert_string_equal(answer(res.table, 8080, &req, &out), "redirect");
	assert_int_equal(route_redirect_location(out.rule->redirect, out.match, 8080, "http",
						 "api.example.com:8080", "/old/v1", 7, "x=1", 3,
						 location, sizeof(location)), 34);
	assert_string_equal(location, "https://api.example.com/api/v1?x=1");
	req.target = "/api/x";
	assert_string_equal(answer(res.table, 8080, &req, &out), "api-stable");
	req.target = "/static/a.css";
	req.headers = "Accept-Encoding: br, gzip";
	assert_string_equal(answer(res.table, 8080, &req, &out), "site");
	req.headers = NULL;
	assert_string_equal(answer(res.table, 8080, &req, &out), "404");
	req.target = "/?lang=en";
	assert_string_equal(answer(res.table, 8080, &req, &out), "site");
	req.method = "POST";
	assert_string_equal(answer(res.table, 8080, &req, &out), "404");
	assert_round_trip(res.table);
	buf_release(&text);
	gateway_result_release(&res);
	gateway_docs_release(&docs);
}

static void test_load(void **state)
{
	static const struct {
		const char *text, *error;	/* error: NULL when it loads */
		unsigned docs;
	} cases[] = {
		{ "a: 1\n---\nb: 2\n", NULL, 2 },
		{ "---\n---\n# only comments\n", NULL, 0 },
		{ "{\"kind\": \"Gateway\"}", NULL, 1 },
		{ "kind: List\nitems: [{a: 1}, {b: 2}, {c: 3}]\n", NULL, 3 },
		{ "a: 1\n---\na: 1\na: 2\n", "test.yaml:4:1: duplicate key", 0 },
		{ "a: &x [1, 2]\nb: *x\n", "aliases are not supported", 0 },
		{ "a: 1\n---\n- 1\n", "test.yaml:3:1: a document must be a mapping", 0 },
		{ "a: [1\n", "invalid YAML", 0 },
		{ "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
		  "nested too deeply", 0 },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct gateway_docs docs = GATEWAY_DOCS_INIT;
		char err[256] = "";
		int rc = gateway_load(&docs, "test.yaml", cases[i].text, strlen(cases[i].text), err,
				      sizeof(err));

		if (cases[i].error) {
			assert_int_equal(rc, -1);
			if (!strstr(err, cases[i].error))
				fail_msg("case %zu: %s, want %s", i, err, cases[i].error);
			assert_int_equal(docs.n, 0);
		} else {
			if (rc == -1)
				fail_msg("case %zu: %s", i, err);
			assert_int_equal(docs.n, cases[i].docs);
		}
		gateway_docs_release(&docs);
	}
}

/* fuzz_route found it: a route name with a tab compiled into a table the
 * decoder refused. Names are DNS names; another is skipped, with a note. */
static void test_names_checked(void **state)
{
	static const char yaml[] =
		"apiVersion: gateway.networking.k8s.io/v1\n"
		"kind: Gateway\n"
		"metadata: {name: same-namespace, namespace: " NS "}\n"
		"spec:\n"
		"  listeners: [{name: \"h\\ttp\", port: 80, protocol: HTTP}, {name: ok, port: 81, protocol: HTTP}]\n"
		"---\n"
		"apiVersion: gateway.networking.k8s.io/v1\n"
		"kind: HTTPRoute\n"
		"metadata: {name: \"a\\ti\", namespace: " NS "}\n"
		"spec:\n"
		"  parentRefs: [{name: same-namespace}]\n" BACKEND;
	struct gateway_docs docs = GATEWAY_DOCS_INIT;
	struct gateway_result res;
	(void)state;

	compile(yaml, "same-namespace", &docs, &res);
	assert_int_equal(res.table->n_listeners, 1);
	assert_int_equal(res.n_statuses, 0);
	assert_true(has_note(&res, "test.yaml:1: spec.listeners[0]: skipped"));
	assert_true(has_note(&res, "test.yaml:7: metadata: skipped"));
	assert_round_trip(res.table);
	gateway_result_release(&res);
	gateway_docs_release(&docs);
}

static void test_missing_gateway(void **state)
{
	static const char yaml[] = SAME_NAMESPACE;
	struct gateway_docs docs = GATEWAY_DOCS_INIT;
	struct gateway_result res;
	char err[256];
	(void)state;

	assert_int_equal(gateway_load(&docs, "t", yaml, strlen(yaml), err, sizeof(err)), 0);
	assert_int_equal(gateway_compile(&docs, NS, "nope", NULL, NULL, &res), -1);
	assert_null(res.table);
	assert_true(has_note(&res, "no Gateway " NS "/nope"));
	gateway_result_release(&res);
	gateway_docs_release(&docs);
}

static void test_durations(void **state)
{
	static const struct {
		const char *text;
		int rc;
		uint32_t ms;
	} cases[] = {
		{ "1h", 0, 3600000 }, { "500ms", 0, 500 }, { "1m30s", 0, 90000 },
		{ "1h1m1s1ms", 0, 3661001 }, { "0s", 0, 0 }, { "", -1, 0 }, { "1", -1, 0 },
		{ "1h1m1s1ms1h", -1, 0 }, { "123456s", -1, 0 }, { "1d", -1, 0 }, { "-1s", -1, 0 },
		{ "99999h", -1, 0 },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t ms = 0;

		assert_int_equal(gateway_duration_parse(cases[i].text, &ms), cases[i].rc);
		if (cases[i].rc == 0)
			assert_int_equal(ms, cases[i].ms);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conformance),
		cmocka_unit_test(test_statuses),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_backend_not_found),
		cmocka_unit_test(test_unsupported_protocol),
		cmocka_unit_test(test_filters_compiled),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_names_checked),
		cmocka_unit_test(test_missing_gateway),
		cmocka_unit_test(test_durations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
