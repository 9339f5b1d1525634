/* exchange_pool: the free list of struct exchange (a request's parsers and
 * per-request state, with the storage of the session's `out`): taken at a
 * request's first byte, given back when its connection goes idle, so idle
 * connections cost little memory. */
#ifndef LB_PROXY_EXCHANGE_POOL_H
#define LB_PROXY_EXCHANGE_POOL_H

#include <stddef.h>

#include "session_state.h"

/* Exchanges kept for reuse at most; beyond, a given-back one is freed. */
#define EXCHANGE_POOL_MAX 4096

/* Gives s (which has none) an exchange from the pool, or a new one: its
 * parsers uninitialized, its request id, target and CORS state empty; an
 * `out` without storage gets the exchange's. Returns 0, or -1 when out of
 * memory. s owns it until exchange_pool_give. */
int exchange_pool_take(struct session *s);
/* Takes back s's exchange (s->x becomes NULL; none: nothing done), and the
 * storage of s->out with it (whose bytes must all be written). */
void exchange_pool_give(struct session *s);
/* Frees pooled exchanges beyond `exchanges` and cached read blocks beyond
 * `blocks` (after a peak); returns how many it freed. */
size_t exchange_pool_trim(unsigned exchanges, size_t blocks);
/* Frees the pooled exchanges and cached read blocks (at exit). */
void exchange_pool_release(void);

#endif
