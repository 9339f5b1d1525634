/* status_routes: lb-ctl status's routes section (see status_routes.h). */
#include "status_routes.h"

#include <stdio.h>

void status_routes_print(json_t *doc)
{
	json_t *routes = json_object_get(doc, "routes"), *s;
	long long serving, proxies;
	size_t i;

	if (!json_is_object(routes))
		return;
	serving = (long long)json_integer_value(json_object_get(routes, "proxies_serving"));
	proxies = (long long)json_integer_value(json_object_get(routes, "proxies"));
	printf("routes generation %lld  listeners %lld  rules %lld  served by %lld of %lld "
	       "proxies%s\n\n", (long long)json_integer_value(json_object_get(routes, "generation")),
	       (long long)json_integer_value(json_object_get(routes, "listeners")),
	       (long long)json_integer_value(json_object_get(routes, "rules")), serving, proxies,
	       serving < proxies ? " (the others serve an older table)" : "");
	printf("%-40s %14s %9s %5s\n", "SERVICE", "GENERATION", "BACKENDS", "UP");
	json_array_foreach(json_object_get(routes, "services"), i, s)
		printf("%-40s %14lld %9lld %5lld\n", json_string_value(json_object_get(s, "name")),
		       (long long)json_integer_value(json_object_get(s, "generation")),
		       (long long)json_integer_value(json_object_get(s, "backends")),
		       (long long)json_integer_value(json_object_get(s, "up")));
	printf("\n");
}
