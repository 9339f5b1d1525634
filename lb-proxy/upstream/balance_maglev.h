/* balance_maglev: Maglev consistent hashing (Eisenbud et al., NSDI 2016),
 * weighted as Envoy's maglev. */
#ifndef LB_PROXY_BALANCE_MAGLEV_H
#define LB_PROXY_BALANCE_MAGLEV_H

#include "balance.h"

/* Entries in the lookup table: a prime, about 65 per backend at 1,000. */
#define BALANCE_MAGLEV_SIZE 65537

/*
 * "maglev": a key's hash indexes a table in which each backend holds
 * entries in proportion to its configured weight (at least one each, up
 * to BALANCE_MAGLEV_SIZE backends), filled in backend-name order so that
 * proxies with the same set agree. A key whose backend is not eligible
 * takes the next eligible entry's; without a key (or past a short walk),
 * weighted random. Slow start does not reshape the table.
 */
extern const struct balance_ops balance_maglev_ops;

#endif
