/* bus_listens: a report's "listens", the ports a proxy listens on and
 * whether each speaks TLS (lb-discover checks a Gateway listener's port
 * against them: its Programmed condition). Part of bus_protocol's codec. */
#ifndef LB_BUS_LISTENS_H
#define LB_BUS_LISTENS_H

#include <stddef.h>

/* ports in a report's "listens": lb-proxy's PROXY_LISTEN_MAX listeners */
#define BUS_LISTENS_MAX 2

/* One port a proxy listens on. */
struct bus_listen {
	unsigned short port;		/* 1-65535 */
	int tls;			/* a tls: listener */
};

struct json_t;

/* Adds "listens" (the n entries of `listens`) to a report's JSON object
 * `root` when n > 0 (absent otherwise: an older report reads the same).
 * Returns 0 or -1. */
int bus_listens_encode(const struct bus_listen *listens, unsigned n, struct json_t *root);
/* Validates and decodes root's "listens" (absent: none) into listens[] and
 * *n: an array of at most BUS_LISTENS_MAX objects, each with "port" (an
 * integer from 1 to 65535) and an optional "tls" (a boolean). Returns 0, or
 * -1 with the reason in err (the whole report is dropped). Owns nothing. */
int bus_listens_decode(struct json_t *root, struct bus_listen *listens, unsigned *n, char *err,
		       size_t errsz);

#endif
