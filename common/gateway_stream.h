/* gateway_stream: the rules of a TLSRoute or TCPRoute (Gateway API
 * v1alpha2: weighted backendRefs, no matches) compiled into route rules, so
 * the route table, the codec and the bus carry them as they carry an
 * HTTPRoute's: each rule gets the one match every request holds (PathPrefix
 * "/"), and a stream listener's virtual hosts pick among them by SNI. */
#ifndef LB_GATEWAY_STREAM_H
#define LB_GATEWAY_STREAM_H

#include <jansson.h>

#include "gateway_rule.h"

/*
 * Compiles route's spec (a TLSRoute's or TCPRoute's "spec"; route->kind
 * says which) into route->rules: 1 to ROUTE_RULES_MAX rules, each with 1 to
 * ROUTE_BACKENDS_MAX backendRefs. What lb refuses sets route->accepted
 * (UnsupportedValue) and keeps no rule; a backendRef that does not resolve
 * sets route->resolved and stays, unresolved (a connection its weight draws
 * is closed). Returns 0, or -1 when out of memory.
 */
int gateway_stream_compile(struct gateway_route *route, json_t *spec,
			   const struct gateway_rule_env *env);

#endif
