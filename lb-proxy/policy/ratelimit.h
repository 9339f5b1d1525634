/* ratelimit: token buckets per key (--rate-limit), in a fixed table allocated
 * once, least recently used key evicted when full; O(1) per request, no
 * allocation after ratelimit_init(). */
#ifndef LB_PROXY_RATELIMIT_H
#define LB_PROXY_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

/* --rate-limit N/s or N/m: N from 1 to RATELIMIT_MAX_N */
#define RATELIMIT_MAX_N 1000000000L
/* --rate-table-size: keys tracked at once */
#define RATELIMIT_TABLE_DEFAULT 100000
#define RATELIMIT_TABLE_MAX 10000000
/* the end of a list or hash chain */
#define RATELIMIT_NONE UINT32_MAX

struct ratelimit_bucket {
	uint64_t hash;			/* balance_hash() of the key */
	double tokens;			/* requests it may make now (fractional while refilling) */
	double stamp;			/* when `tokens` was brought up to date */
	uint32_t newer, older;		/* LRU list neighbours */
	uint32_t chain;			/* next bucket of the same hash slot */
};

struct ratelimit {
	double rate, burst;		/* as configured: tokens per second, bucket size */
	unsigned share;			/* proxies the limit is divided among (at least 1) */
	double eff_rate, eff_burst;	/* this proxy's: rate / share, max(1, burst / share) */
	struct ratelimit_bucket *buckets;	/* `size` of them, allocated once */
	uint32_t size, used;
	uint32_t *slots;		/* hash slot -> first bucket of its chain */
	uint32_t mask;			/* slots - 1 (a power of two, at least 2 x size) */
	uint32_t newest, oldest;	/* the LRU list's ends */
	unsigned long long limited;	/* requests refused */
	unsigned long long evicted;	/* keys dropped to make room */
};

/* What ratelimit_take decided, with what the RateLimit-* fields say. */
struct ratelimit_verdict {
	int allowed;			/* 1: go on; 0: answer 429 */
	unsigned long limit;		/* the bucket size (this proxy's share) */
	unsigned long remaining;	/* whole requests left after this one */
	unsigned long reset;		/* seconds until the bucket is full again (rounded up) */
	unsigned long retry_after;	/* refused: seconds until one request is allowed (rounded up) */
};

/*
 * Parses "N/s" or "N/m" (N a whole number, 1 to RATELIMIT_MAX_N). Returns 0
 * with the rate in *per_second and N in *n, or -1 with err naming the
 * accepted form.
 */
int ratelimit_parse(const char *spec, double *per_second, long *n, char *err, size_t errsz);

/*
 * Allocates the table of `size` buckets (1 to RATELIMIT_TABLE_MAX) for
 * `per_second` requests a second with bursts of `burst`; share 1. Returns 0
 * or -1 (out of memory). Release with ratelimit_release().
 */
int ratelimit_init(struct ratelimit *rl, double per_second, double burst, uint32_t size);
void ratelimit_release(struct ratelimit *rl);

/* Divides the limit among `proxies` proxies (0 is taken as 1). Buckets keep
 * their tokens, cut to the new size when next used. Returns 1 when the
 * share changed. */
int ratelimit_set_share(struct ratelimit *rl, unsigned proxies);

/*
 * Takes one request from the bucket of key `hash` at time `now` (seconds,
 * monotonic): a key not in the table gets a full bucket, evicting the least
 * recently used key when the table is full. Fills *v; returns v->allowed.
 */
int ratelimit_take(struct ratelimit *rl, uint64_t hash, double now, struct ratelimit_verdict *v);

/* The bucket of `hash`, or NULL (for tests and /info; does not touch the LRU). */
const struct ratelimit_bucket *ratelimit_find(const struct ratelimit *rl, uint64_t hash);

#endif
