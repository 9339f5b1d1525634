/* ratelimit: token buckets per key in a fixed hash table with an intrusive
 * LRU list (see ratelimit.h). */
#include "ratelimit.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ratelimit_parse(const char *spec, double *per_second, long *n, char *err, size_t errsz)
{
	const char *p = spec;
	long v = 0;

	if (*p < '0' || *p > '9')
		goto bad;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (*p - '0');
		if (v > RATELIMIT_MAX_N)
			goto bad;
	}
	if (v < 1 || p[0] != '/' || (p[1] != 's' && p[1] != 'm') || p[2] != '\0')
		goto bad;
	*n = v;
	*per_second = p[1] == 's' ? (double)v : (double)v / 60.0;
	return 0;
bad:
	snprintf(err, errsz, "\"%s\" is not N/s or N/m (requests a second or a minute, N a whole "
		 "number from 1 to %ld)", spec, RATELIMIT_MAX_N);
	return -1;
}

static void effective(struct ratelimit *rl)
{
	rl->eff_rate = rl->rate / rl->share;
	rl->eff_burst = rl->burst / rl->share;
	/* a share below one request could never admit anything */
	if (rl->eff_burst < 1)
		rl->eff_burst = 1;
}

int ratelimit_init(struct ratelimit *rl, double per_second, double burst, uint32_t size)
{
	uint32_t slots = 1;

	memset(rl, 0, sizeof(*rl));
	if (size < 1 || size > RATELIMIT_TABLE_MAX)
		return -1;
	while (slots < 2 * size)
		slots <<= 1;
	rl->buckets = calloc(size, sizeof(*rl->buckets));
	rl->slots = malloc(slots * sizeof(*rl->slots));
	if (!rl->buckets || !rl->slots) {
		ratelimit_release(rl);
		return -1;
	}
	memset(rl->slots, 0xff, slots * sizeof(*rl->slots));	/* RATELIMIT_NONE */
	rl->mask = slots - 1;
	rl->size = size;
	rl->newest = rl->oldest = RATELIMIT_NONE;
	rl->rate = per_second;
	rl->burst = burst;
	rl->share = 1;
	effective(rl);
	return 0;
}

void ratelimit_release(struct ratelimit *rl)
{
	free(rl->buckets);
	free(rl->slots);
	rl->buckets = NULL;
	rl->slots = NULL;
	rl->size = rl->used = 0;
}

int ratelimit_set_share(struct ratelimit *rl, unsigned proxies)
{
	if (proxies == 0)
		proxies = 1;
	if (proxies == rl->share)
		return 0;
	rl->share = proxies;
	effective(rl);
	return 1;
}

static void lru_unlink(struct ratelimit *rl, uint32_t i)
{
	struct ratelimit_bucket *b = &rl->buckets[i];

	if (b->newer != RATELIMIT_NONE)
		rl->buckets[b->newer].older = b->older;
	else
		rl->newest = b->older;
	if (b->older != RATELIMIT_NONE)
		rl->buckets[b->older].newer = b->newer;
	else
		rl->oldest = b->newer;
}

static void lru_push(struct ratelimit *rl, uint32_t i)
{
	struct ratelimit_bucket *b = &rl->buckets[i];

	b->newer = RATELIMIT_NONE;
	b->older = rl->newest;
	if (rl->newest != RATELIMIT_NONE)
		rl->buckets[rl->newest].newer = i;
	rl->newest = i;
	if (rl->oldest == RATELIMIT_NONE)
		rl->oldest = i;
}

/* Takes bucket i out of its hash chain (chains are short: the table has at
 * least two slots per bucket). */
static void chain_unlink(struct ratelimit *rl, uint32_t i)
{
	uint32_t *link = &rl->slots[rl->buckets[i].hash & rl->mask];

	while (*link != i)
		link = &rl->buckets[*link].chain;
	*link = rl->buckets[i].chain;
}

static uint32_t lookup(const struct ratelimit *rl, uint64_t hash)
{
	uint32_t i = rl->slots[hash & rl->mask];

	while (i != RATELIMIT_NONE && rl->buckets[i].hash != hash)
		i = rl->buckets[i].chain;
	return i;
}

const struct ratelimit_bucket *ratelimit_find(const struct ratelimit *rl, uint64_t hash)
{
	uint32_t i = lookup(rl, hash);

	return i == RATELIMIT_NONE ? NULL : &rl->buckets[i];
}

/* A bucket for a new key: a free one, else the least recently used one's. */
static uint32_t insert(struct ratelimit *rl, uint64_t hash, double now)
{
	uint32_t i;
	struct ratelimit_bucket *b;

	if (rl->used < rl->size) {
		i = rl->used++;
	} else {
		i = rl->oldest;
		lru_unlink(rl, i);
		chain_unlink(rl, i);
		rl->evicted++;
	}
	b = &rl->buckets[i];
	b->hash = hash;
	b->tokens = rl->eff_burst;
	b->stamp = now;
	b->chain = rl->slots[hash & rl->mask];
	rl->slots[hash & rl->mask] = i;
	lru_push(rl, i);
	return i;
}

/* Whole seconds, rounded up, for `tokens` at `rate`; 0 for none. */
static unsigned long seconds_for(double tokens, double rate)
{
	double s = tokens / rate;

	if (tokens <= 1e-9)
		return 0;
	return s > 1e9 ? 1000000000UL : (unsigned long)ceil(s - 1e-9);
}

int ratelimit_take(struct ratelimit *rl, uint64_t hash, double now, struct ratelimit_verdict *v)
{
	uint32_t i = lookup(rl, hash);
	struct ratelimit_bucket *b;

	if (i == RATELIMIT_NONE) {
		i = insert(rl, hash, now);
	} else {
		lru_unlink(rl, i);
		lru_push(rl, i);
	}
	b = &rl->buckets[i];
	if (now > b->stamp) {
		b->tokens += (now - b->stamp) * rl->eff_rate;
		b->stamp = now;
	}
	if (b->tokens > rl->eff_burst)
		b->tokens = rl->eff_burst;
	v->allowed = b->tokens >= 1.0;
	if (v->allowed)
		b->tokens -= 1.0;
	else
		rl->limited++;
	v->limit = (unsigned long)rl->eff_burst;
	v->remaining = (unsigned long)floor(b->tokens);
	v->reset = seconds_for(rl->eff_burst - b->tokens, rl->eff_rate);
	v->retry_after = v->allowed ? 0 : seconds_for(1.0 - b->tokens, rl->eff_rate);
	if (!v->allowed && v->retry_after == 0)
		v->retry_after = 1;
	return v->allowed;
}
