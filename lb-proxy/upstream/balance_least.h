/* balance_least: least-request by the power of two choices (Envoy's
 * LEAST_REQUEST, nginx's least_conn weighting). */
#ifndef LB_PROXY_BALANCE_LEAST_H
#define LB_PROXY_BALANCE_LEAST_H

#include "balance.h"

/*
 * "least-request": draws two distinct eligible backends by weighted random
 * (balance_weight(); uniform when the weights are equal) and takes the one
 * with fewer requests in flight per unit of weight (b->active / weight),
 * the first drawn on a tie. With equal weights it is plain P2C by fewest
 * active; with nothing in flight, picks follow the weights.
 */
extern const struct balance_ops balance_least_ops;

#endif
