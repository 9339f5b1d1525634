/* balance_rr: smooth weighted round-robin (nginx's algorithm) over a backend set. */
#ifndef LB_PROXY_BALANCE_RR_H
#define LB_PROXY_BALANCE_RR_H

#include "backend.h"
#include "balance.h"

/* "round-robin": smooth weighted round-robin over the eligible backends,
 * with balance_weight() (so slow start applies). Its state is each
 * backend's current_weight. */
extern const struct balance_ops balance_rr_ops;

/*
 * The algorithm without the seam (until the session calls balance_pick):
 * picks the next backend among those usable at `now` and not `exclude` (may be NULL),
 * updating the set's round-robin state; NULL when none is usable. With equal
 * weights it is an exact rotation; with weights 5,1,1 it spreads a-a-b-a-c-a-a.
 */
struct backend *balance_rr_next(struct backend_set *set, const struct backend *exclude, double now);
/* The backend balance_rr_next would return, without changing the state;
 * with `panic` (balancer_panic()), among every up backend (balance_takes). */
struct backend *balance_rr_peek(const struct backend_set *set, double now, int panic);

#endif
