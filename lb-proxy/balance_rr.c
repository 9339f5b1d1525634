/* balance_rr: smooth weighted round-robin (nginx's algorithm) over a backend set. */
#include "balance_rr.h"

#include <stddef.h>

static struct backend *pick(const struct backend_set *set, const struct backend *exclude,
			    double now, int *total)
{
	struct backend *best = NULL;

	*total = 0;
	for (size_t i = 0; i < set->n; i++) {
		struct backend *b = set->items[i];

		if (!backend_usable(b, now) || b == exclude)
			continue;
		*total += b->weight;
		if (!best || b->current_weight + b->weight > best->current_weight + best->weight)
			best = b;
	}
	return best;
}

struct backend *balance_rr_next(struct backend_set *set, const struct backend *exclude, double now)
{
	struct backend *best;
	int total;

	best = pick(set, exclude, now, &total);
	if (!best)
		return NULL;
	/* Every candidate gains its weight; the chosen one pays the total. */
	for (size_t i = 0; i < set->n; i++) {
		struct backend *b = set->items[i];

		if (backend_usable(b, now) && b != exclude)
			b->current_weight += b->weight;
	}
	best->current_weight -= total;
	return best;
}

struct backend *balance_rr_peek(const struct backend_set *set, double now)
{
	int total;

	return pick(set, NULL, now, &total);
}
