/* listener_proxies: whether this lb-discover's proxies listen on a Gateway
 * listener's port, with the kind it needs (its Programmed condition). */
#ifndef LB_DISCOVER_LISTENER_PROXIES_H
#define LB_DISCOVER_LISTENER_PROXIES_H

#include <stddef.h>

struct discover;

/*
 * Counts d's proxies (the main service's reports, this replica's own) whose
 * "listens" name `port` with the kind a listener of `protocol` needs: a
 * tls: listener for "HTTPS", a plain one for HTTP, TLS (passthrough) and
 * TCP. Returns 1 when every one does (or none is heard: the generation's
 * count says so), else 0 with what is missing in message ("no proxy listens
 * on port 8443 (give lb-proxy --listen tls:ADDR:8443)", "1 of 2 proxies
 * listen on port 8443 ..."). Owns nothing.
 */
int listener_proxies_check(const struct discover *d, const char *protocol, long port,
			   char *message, size_t size);

#endif
