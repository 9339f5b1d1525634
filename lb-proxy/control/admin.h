/* admin: lb-proxy's admin listener: /health, /ready, /info, /debug/next-backend, /metrics. */
#ifndef LB_PROXY_ADMIN_H
#define LB_PROXY_ADMIN_H

#include "http/proxy.h"
#include "listener.h"

struct admin {
	struct proxy *px;
	struct listener listener;
};

/* Binds the admin address; returns 0 or -1 with err filled. */
int admin_init(struct admin *a, struct proxy *px, const char *addr, char *err, size_t errsz);
/* Takes over a bound admin socket another lb-proxy handed over (--takeover):
 * the admin owns fd from now on. Returns 0 or -1 with err filled. */
int admin_adopt(struct admin *a, struct proxy *px, int fd, char *err, size_t errsz);
/* Starts listening and accepting; returns 0 or -1 (logged). */
int admin_start(struct admin *a);
/* Closes the listener and any admin connection still open. */
void admin_release(struct admin *a);

#endif
