/* outcome: the one hook for an attempt's end on a backend (nginx's
 * peer.free(..., NGX_PEER_FAILED), HAProxy's health_adjust()): the
 * counters, the balancer, the connect-failure skip and the circuit breaker
 * all hear it here. */
#ifndef LB_PROXY_OUTCOME_H
#define LB_PROXY_OUTCOME_H

#include "upstream/backend.h"
#include "upstream/balance.h"

struct proxy;

enum outcome {
	OUTCOME_RESPONSE = 0,	/* the backend answered, with `status` */
	OUTCOME_RESPONSE_DROPPED,	/* it answered `status`, which --retry-on names: the
				 * answer is dropped and the request retried, and
				 * the backend counted as failed */
	OUTCOME_CONNECT_FAILED,	/* the connect was refused or unreachable, or TLS failed */
	OUTCOME_CONNECT_TIMEOUT,	/* the connect timed out (--connect-timeout) */
	OUTCOME_RESET,		/* the connection failed mid-exchange: reset, closed
				 * early, or a response that is not HTTP */
	OUTCOME_TIMEOUT,	/* no response head within --response-timeout */
	OUTCOME_PROXY_ANSWER,	/* the proxy answered for b after one of the failures
				 * above (already recorded): the answer's counters
				 * only, never a failure of b */
};

/*
 * Records how an attempt on b (NULL: none, nothing done) ended `seconds`
 * after it began (bl and set: the balancer and set b was picked from);
 * `status` is the answer's (0 for the failures). A client
 * that went away is not an outcome: it is never recorded. May eject b
 * (outlier.c). Allocates nothing; takes no reference.
 */
void outcome_record(struct proxy *px, struct balancer *bl, struct backend_set *set,
		    struct backend *b, enum outcome kind, int status, double seconds);

#endif
