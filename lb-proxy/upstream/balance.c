/* balance: the tiers a pick walks through, and what every algorithm shares
 * (eligibility, slow start, hashing, randomness); the table naming them is
 * balance_table.c. */
#include "balance.h"

#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static double slow_start_seconds;
static unsigned max_active;	/* --max-per-backend, 0: no cap */

void *balance_stateless_build(const struct backend_set *set, void *old)
{
	static char built;

	return &built;
}

void balance_stateless_release(void *state)
{
}

int balancer_rebuild(struct balancer *bl, const struct balance_ops *ops,
		     const struct backend_set *set)
{
	/* A previous state is only meaningful to the algorithm that built it. */
	void *state = ops->build(set, bl->ops == ops ? bl->state : NULL);

	if (!state)
		return -1;
	if (bl->ops && bl->state)
		bl->ops->release(bl->state);
	bl->ops = ops;
	bl->state = state;
	return 0;
}

void balancer_release(struct balancer *bl)
{
	if (bl->ops && bl->state)
		bl->ops->release(bl->state);
	bl->ops = NULL;
	bl->state = NULL;
}

struct backend *balance_pick(struct balancer *bl, const struct backend_set *set,
			     struct balance_request *r)
{
	static const enum balance_tier tiers[] = {
		BALANCE_TIER_UP, BALANCE_TIER_DRAINING, BALANCE_TIER_TRIED,
	};

	if (!bl->ops || !bl->state)
		return NULL;
	r->panic = panic_check(&bl->panic, set, r->now);
	for (size_t i = 0; i < sizeof(tiers) / sizeof(tiers[0]); i++) {
		struct backend *b;

		r->tier = tiers[i];
		b = bl->ops->pick(bl->state, set, r);
		if (b)
			return b;
	}
	return NULL;
}

int balancer_panic(struct balancer *bl, const struct backend_set *set, double now)
{
	return panic_check(&bl->panic, set, now);
}

void balancer_outcome(struct balancer *bl, struct backend *b, int failed, double seconds)
{
	if (bl->ops && bl->ops->outcome)
		bl->ops->outcome(bl->state, b, failed, seconds);
}

static int was_tried(const struct backend *b, const struct balance_request *r)
{
	unsigned n = r->ntried < BALANCE_MAX_TRIED ? r->ntried : BALANCE_MAX_TRIED;

	for (unsigned i = 0; i < n; i++)
		if (r->tried[i] == b)
			return 1;
	return 0;
}

int balance_eligible(const struct backend *b, const struct balance_request *r)
{
	if (max_active && b->active >= max_active)
		return 0;	/* at its cap: the request waits in the queue */
	switch (r->tier) {
	case BALANCE_TIER_UP:
		/* Envoy's panic: the breaker and the connect-failure skip are
		 * set aside, so too few backends left are not overwhelmed */
		return balance_takes(b, r->panic, r->now) && !was_tried(b, r);
	case BALANCE_TIER_DRAINING:
		/* Kubernetes' serving+terminating endpoints: better than a 503
		 * while a single replica is replaced. */
		return b->state == BACKEND_DRAINING && !was_tried(b, r) &&
		       outlier_admits(&b->outlier, b->active, r->now);
	case BALANCE_TIER_TRIED:
		return backend_usable(b, r->now);
	}
	return 0;
}

double balance_weight(const struct backend *b, double now)
{
	double weight = b->weight < 1 ? 1 : b->weight, elapsed;

	if (slow_start_seconds <= 0 || b->up_since <= 0)
		return weight;
	elapsed = now - b->up_since;
	if (elapsed >= slow_start_seconds)
		return weight;
	/* Linear, from one second's share (weight/period) so it is never 0. */
	if (elapsed < 1)
		elapsed = 1;
	return weight * elapsed / slow_start_seconds;
}

void balance_set_slow_start(double seconds)
{
	slow_start_seconds = seconds > 0 ? seconds : 0;
}

void balance_set_max_active(unsigned n)
{
	max_active = n;
}

/* murmur3's 64-bit finalizer: every input bit flips each output bit with
 * probability about 1/2. */
static uint64_t mix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

uint64_t balance_hash(const void *key, size_t len)
{
	const unsigned char *p = key;
	uint64_t h = 0xcbf29ce484222325ULL;	/* FNV-1a 64 offset basis */

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;		/* FNV-1a 64 prime */
	}
	/* FNV-1a alone mixes the last bytes poorly ("key-1" vs "key-2"). */
	return mix64(h ^ len);
}

double balance_random(void)
{
	static uint64_t s[2];
	uint64_t a, b;

	if (!s[0] && !s[1]) {
		if (getrandom(s, sizeof(s), 0) != (ssize_t)sizeof(s) || !(s[0] | s[1])) {
			s[0] = mix64((uint64_t)time(NULL) ^ 0x9e3779b97f4a7c15ULL);
			s[1] = mix64((uint64_t)getpid()) | 1;
		}
	}
	/* xorshift128+ (Vigna): fast, and picks need spread, not secrecy. */
	a = s[0];
	b = s[1];
	s[0] = b;
	a ^= a << 23;
	s[1] = a ^ b ^ (a >> 17) ^ (b >> 26);
	return (double)((s[1] + b) >> 11) * 0x1.0p-53;
}
