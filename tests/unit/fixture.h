/* fixture: backend sets and pick counting for the unit tests of lb-proxy's
 * balancing, and a proxy with one session for those of its http/ modules. */
#ifndef LB_TESTS_FIXTURE_H
#define LB_TESTS_FIXTURE_H

#include <stddef.h>

#include "http/session_state.h"
#include "upstream/backend.h"
#include "upstream/balance.h"

/* Up to this many backends in a fixture set. */
#define FIXTURE_MAX 1000

/* Makes `set` of n backends named "10.0.I/256.I%256:80", all up, with
 * weights[i] (NULL: all 1). Released with backend_set_release(). */
void fixture_set(struct backend_set *set, size_t n, const int *weights);
/* `dst` holds src's backends at order[0..n) (refs taken: release both). */
void fixture_subset(struct backend_set *dst, const struct backend_set *src,
		    const size_t *order, size_t n);
/* b's place in set, or -1. */
int fixture_index(const struct backend_set *set, const struct backend *b);
/* A request for key number i: hash of "key-I", or no key when i < 0. */
struct balance_request fixture_request(int i, double now);
/* Runs `picks` picks of r through bl, adding each pick to counts[index];
 * fails the test on a NULL pick. */
void fixture_count(struct balancer *bl, const struct backend_set *set,
		   struct balance_request *r, unsigned picks, unsigned *counts);
/* The largest |share - weight share| / weight share over the set's backends,
 * for counts out of their sum. */
double fixture_share_error(const struct backend_set *set, const unsigned *counts);
/* A balancer of algorithm `name` built over set (fails the test if it can't). */
void fixture_balancer(struct balancer *bl, const char *name, const struct backend_set *set);

/* A proxy (the default loop, round-robin over an empty set, no rate limit,
 * the options below) and one of its sessions, mid-request: an exchange, a
 * GET whose head was read whole, keep-alive, request id "req-1", its client
 * transport on fd (-1: none). The test may change anything before use. */
struct fixture_proxy {
	struct proxy px;
	struct proxy_options opts;
	struct session s;
	struct exchange x;
};

/* Fills f (see struct fixture_proxy): retries 2 on the default --retry-on,
 * no backoff, a 20% budget, queue of 4 for 5 s, no --max-per-backend,
 * access log off. */
void fixture_proxy_init(struct fixture_proxy *f, int fd);
/* Frees what f's session and proxy hold (not f itself). */
void fixture_proxy_release(struct fixture_proxy *f);
/* What the session queued for its client (s->out), as a string. */
const char *fixture_out(struct session *s);
/* The body of what s->out holds: after the head's blank line ("" without). */
const char *fixture_out_body(struct session *s);

#endif
