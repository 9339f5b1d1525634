/* status_routes: `lb-ctl status`'s routes section (lb-discover --routes or
 * --gateway): the route table's generation, how many proxies serve it, and
 * each routed Service's set. */
#ifndef LB_CTL_STATUS_ROUTES_H
#define LB_CTL_STATUS_ROUTES_H

#include <jansson.h>

/* Prints the "routes" object of a status document; nothing without one. */
void status_routes_print(json_t *doc);

#endif
