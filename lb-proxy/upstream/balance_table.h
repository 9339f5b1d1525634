/* balance_table: the table naming every balancing algorithm (HAProxy's
 * list of lb_*.c), apart from the interface they implement (balance.h). */
#ifndef LB_PROXY_BALANCE_TABLE_H
#define LB_PROXY_BALANCE_TABLE_H

#include "balance.h"

/* The algorithm named `name`, or NULL. */
const struct balance_ops *balance_find(const char *name);
/* "round-robin, least-request, random, maglev, ring-hash" (for messages). */
const char *balance_names(void);

#endif
