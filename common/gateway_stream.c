/* gateway_stream: TLSRoute and TCPRoute rules (see gateway_stream.h). */
#include "gateway_stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void refuse(struct gateway_route *route, const struct gateway_rule_env *env,
		   const char *path, const char *why)
{
	gateway_notes_add(env->notes, route->doc->source, path, "%s", why);
	if (!route->accepted.reason) {
		route->accepted.reason = "UnsupportedValue";
		snprintf(route->accepted.message, sizeof(route->accepted.message), "%s: %s", path,
			 why);
	}
}

/* The one match of a stream rule: PathPrefix "/", which every request holds. */
static int match_all(struct route_rule *r)
{
	r->matches = calloc(1, sizeof(*r->matches));
	if (!r->matches)
		return -1;
	r->n_matches = 1;
	r->matches[0].path_type = ROUTE_PATH_PREFIX;
	r->matches[0].path = strdup("/");
	return r->matches[0].path ? 0 : -1;
}

static int compile_rule(struct gateway_route *route, json_t *o, unsigned index,
			const struct gateway_rule_env *env, struct route_rule *r)
{
	json_t *refs = json_object_get(o, "backendRefs");
	char path[64], at[160];
	const char *key;
	json_t *v;

	snprintf(path, sizeof(path), "spec.rules[%u]", index);
	r->index = index;
	if (!(r->route = strdup(route->id)) || match_all(r) == -1)
		return -1;
	if (!json_is_object(o)) {
		refuse(route, env, path, "a rule must be an object");
		return 0;
	}
	json_object_foreach(o, key, v)
		if (strcmp(key, "backendRefs") != 0 && strcmp(key, "name") != 0)
			gateway_notes_add(env->notes, route->doc->source, path,
					  "\"%.64s\" is not supported, ignored", key);
	if (!json_is_array(refs) || json_array_size(refs) == 0 ||
	    json_array_size(refs) > ROUTE_BACKENDS_MAX) {
		snprintf(at, sizeof(at), "\"backendRefs\" must list 1 to %d backends",
			 ROUTE_BACKENDS_MAX);
		refuse(route, env, path, at);
		return 0;
	}
	r->backends = calloc(json_array_size(refs), sizeof(*r->backends));
	if (!r->backends)
		return -1;
	for (size_t i = 0; i < json_array_size(refs); i++) {
		snprintf(at, sizeof(at), "%s.backendRefs[%zu]", path, i);
		r->n_backends++;
		if (gateway_rule_backend(route, json_array_get(refs, i), at, env,
					 &r->backends[i]) == -1)
			return -1;
	}
	return 0;
}

int gateway_stream_compile(struct gateway_route *route, json_t *spec,
			   const struct gateway_rule_env *env)
{
	json_t *rules = json_object_get(spec, "rules");
	char why[96];
	int rc = 0;

	if (!json_is_array(rules) || json_array_size(rules) == 0 ||
	    json_array_size(rules) > ROUTE_RULES_MAX) {
		snprintf(why, sizeof(why), "a %s needs 1 to %d rules", route->kind, ROUTE_RULES_MAX);
		refuse(route, env, "spec.rules", why);
		return 0;
	}
	route->rules = calloc(json_array_size(rules), sizeof(*route->rules));
	if (!route->rules)
		return -1;
	for (size_t i = 0; i < json_array_size(rules) && rc == 0; i++) {
		route->n_rules++;
		rc = compile_rule(route, json_array_get(rules, i), (unsigned)i, env,
				  &route->rules[i]);
	}
	if (route->accepted.reason || rc == -1)
		gateway_route_release(route);
	return rc;
}
