/* balance_random: weighted random choice, an algorithm of its own and the
 * fallback of the others. */
#ifndef LB_PROXY_BALANCE_RANDOM_H
#define LB_PROXY_BALANCE_RANDOM_H

#include "balance.h"

/* "random": each eligible backend with probability balance_weight() / total. */
extern const struct balance_ops balance_random_ops;

/*
 * A backend of `set` eligible for r (balance_eligible) and not `exclude`
 * (may be NULL), drawn with probability in proportion to balance_weight();
 * NULL when there is none. Two passes over the set, no allocation.
 */
struct backend *balance_random_pick(const struct backend_set *set,
				    const struct balance_request *r,
				    const struct backend *exclude);

#endif
