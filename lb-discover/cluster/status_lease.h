/* status_lease: which lb-discover replica writes a Gateway's status
 * (--gateway with several replicas): the one that holds the
 * coordination.k8s.io/v1 Lease lb-gw.NAMESPACE.NAME, taken when it is free
 * or expired and renewed every third of its duration, each write guarded by
 * the Lease's resourceVersion (two replicas never both take it: the second
 * write is a 409). Client-go's leader election, in the loop. */
#ifndef LB_DISCOVER_STATUS_LEASE_H
#define LB_DISCOVER_STATUS_LEASE_H

#include "core/discover.h"

struct status_lease_options {
	const char *name;		/* the Lease's name */
	const char *pod;		/* this replica: its holderIdentity */
	long duration;			/* leaseDurationSeconds */
};

struct status_lease;
/* Starts trying to hold the Lease through d->kube, in d->loop. NULL when
 * out of memory. */
struct status_lease *status_lease_start(struct discover *d, const struct status_lease_options *o);
/* 1 while this replica holds the Lease (renewed within two thirds of its
 * duration), else 0. */
int status_lease_held(const struct status_lease *l);
/* The holder seen last ("" none known; this replica's pod when held). */
const char *status_lease_holder(const struct status_lease *l);
/* Releases the Lease when held (its holder cleared, so another replica takes
 * it at once; blocking, at shutdown only) and frees. NULL is fine. */
void status_lease_stop(struct status_lease *l);

#endif
