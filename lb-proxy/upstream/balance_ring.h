/* balance_ring: ring-hash consistent hashing (ketama, Envoy's RING_HASH). */
#ifndef LB_PROXY_BALANCE_RING_H
#define LB_PROXY_BALANCE_RING_H

#include "balance.h"

/*
 * Points on the ring: BALANCE_RING_PER_WEIGHT per unit of a backend's
 * weight (so at least 1,024 in all), fewer per unit when that would make
 * more than BALANCE_RING_MAX (then BALANCE_RING_MAX in all, shared by
 * weight), and never fewer than BALANCE_RING_MIN_POINTS for a backend.
 * Below the maximum a backend's points do not depend on the others: adding
 * or removing one moves no key between the rest.
 */
#define BALANCE_RING_PER_WEIGHT 1024
#define BALANCE_RING_MAX 131072
#define BALANCE_RING_MIN_POINTS 4

/*
 * "ring-hash": each backend's points are balance_hash("NAME-i"); a key goes
 * to the first point at or after its hash (wrapping), or to the next
 * points' backends when that one is not eligible. Order-independent (built
 * from names); without a key (or past a short walk), weighted random.
 * Slow start does not reshape the ring.
 */
extern const struct balance_ops balance_ring_ops;

#endif
