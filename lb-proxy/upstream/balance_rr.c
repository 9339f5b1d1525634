/* balance_rr: smooth weighted round-robin (nginx's algorithm) over a backend set. */
#include "balance_rr.h"

#include <stddef.h>

/* Smooth round-robin counts in integers: balance_weight() times this, so
 * that a slow-starting backend's fraction of a weight still counts.
 * Scaling every weight alike leaves the sequence as it was. */
#define RR_SCALE 100

static int rr_weight(const struct backend *b, double now)
{
	int w = (int)(balance_weight(b, now) * RR_SCALE + 0.5);

	return w < 1 ? 1 : w;
}

/* The next backend eligible for r; with `advance`, the round moves on. */
static struct backend *rr_pick(const struct backend_set *set, const struct balance_request *r,
			       int advance)
{
	struct backend *best = NULL;
	int best_weight = 0, total = 0;

	for (size_t i = 0; i < set->n; i++) {
		struct backend *b = set->items[i];
		int w;

		if (!balance_eligible(b, r))
			continue;
		w = rr_weight(b, r->now);
		total += w;
		if (!best || b->current_weight + w > best->current_weight + best_weight) {
			best = b;
			best_weight = w;
		}
	}
	if (!best || !advance)
		return best;
	/* Every candidate gains its weight; the chosen one pays the total. */
	for (size_t i = 0; i < set->n; i++) {
		struct backend *b = set->items[i];

		if (balance_eligible(b, r))
			b->current_weight += rr_weight(b, r->now);
	}
	best->current_weight -= total;
	return best;
}

static struct backend *pick(void *state, const struct backend_set *set,
			    const struct balance_request *r)
{
	return rr_pick(set, r, 1);
}

const struct balance_ops balance_rr_ops = {
	.name = "round-robin",
	.build = balance_stateless_build,
	.release = balance_stateless_release,
	.pick = pick,
};

struct backend *balance_rr_next(struct backend_set *set, const struct backend *exclude, double now)
{
	struct balance_request r = { .now = now, .tier = BALANCE_TIER_UP };

	if (exclude)
		r.tried[r.ntried++] = exclude;
	return rr_pick(set, &r, 1);
}

struct backend *balance_rr_peek(const struct backend_set *set, double now, int panic)
{
	struct balance_request r = { .now = now, .tier = BALANCE_TIER_UP, .panic = panic };

	return rr_pick(set, &r, 0);
}
