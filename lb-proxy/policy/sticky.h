/* sticky: session persistence with an inserted cookie (HAProxy's `cookie NAME
 * insert indirect nocache`): a client without a valid cookie gets one naming
 * the backend that served it, and later requests carrying it go there. */
#ifndef LB_PROXY_STICKY_H
#define LB_PROXY_STICKY_H

#include <stddef.h>

#include "upstream/backend.h"

#define STICKY_ID_LEN 16

/* The process's cookie name and secret (start-up and reload; both copied).
 * With no secret (NULL or ""), a random one made once for the process's life,
 * the first time a cookie is set
 * (a reload keeps it). Returns 1 when the random secret is used, 0 for the
 * one given, -1 when no random one could be made. */
int sticky_setup(const char *cookie, const char *secret);
/* The cookie name, or NULL when --sticky-cookie is off. */
const char *sticky_cookie(void);
/*
 * b's cookie value: 16 hex digits of HMAC-SHA256(secret, address), kept in
 * b. The same on every proxy given the same secret, and without the secret
 * it does not tell the address.
 */
const char *sticky_id(struct backend *b);
/* The backend of `set` whose id is [v, v + n), or NULL (malformed, forged,
 * or a backend that left the set). */
struct backend *sticky_find(const struct backend_set *set, const char *v, size_t n);

#endif
