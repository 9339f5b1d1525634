/* bus_listens: a report's "listens", the ports a proxy listens on and
 * whether each speaks TLS (lb-discover checks a Gateway listener's port
 * against them: its Programmed condition). Part of bus_protocol's codec. */
#ifndef LB_BUS_LISTENS_H
#define LB_BUS_LISTENS_H

#include <stddef.h>

struct json_t;
struct bus_set;

/* Adds "listens" to a report's JSON object `root` when set->nlistens > 0
 * (absent otherwise: an older report reads the same). Returns 0 or -1. */
int bus_listens_encode(const struct bus_set *set, struct json_t *root);
/* Validates and decodes root's "listens" (absent: none) into set->listens:
 * an array of at most BUS_LISTENS_MAX objects, each with "port" (an integer
 * from 1 to 65535) and an optional "tls" (a boolean). Returns 0, or -1 with
 * the reason in err (the whole report is dropped). Owns nothing. */
int bus_listens_decode(struct json_t *root, struct bus_set *set, char *err, size_t errsz);

#endif
