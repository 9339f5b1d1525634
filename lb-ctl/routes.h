/* routes: `lb-ctl routes`: the route table lb-discover publishes (its
 * GET /admin/routes, the control command "routes"), which proxies serve
 * which generation, and the hits per rule summed over the proxies, read
 * from each proxy's admin API (GET /routes at the address its reports
 * carry). */
#ifndef LB_CTL_ROUTES_H
#define LB_CTL_ROUTES_H

#include <jansson.h>

/*
 * Completes doc (lb-discover's answer, kept by the caller) with each
 * proxy's hits ("hits" per rule, summed; per proxy "read": true, or "error"
 * saying why not) and prints it: tables, or (json) one JSON line. Each
 * proxy's read waits at most timeout seconds (5 at most). Returns lb-ctl's exit code:
 * 0, or 1 (CTL_FAILED) when no route table is published.
 */
int routes_print(json_t *doc, int json, double timeout);

#endif
