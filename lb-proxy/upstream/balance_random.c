/* balance_random: weighted random choice over the eligible backends of a set. */
#include "balance_random.h"

struct backend *balance_random_pick(const struct backend_set *set,
				    const struct balance_request *r,
				    const struct backend *exclude)
{
	struct backend *last = NULL;
	double total = 0, x;

	for (size_t i = 0; i < set->n; i++) {
		struct backend *b = set->items[i];

		if (b != exclude && balance_eligible(b, r))
			total += balance_weight(b, r->now);
	}
	if (total <= 0)
		return NULL;
	x = balance_random() * total;
	for (size_t i = 0; i < set->n; i++) {
		struct backend *b = set->items[i];

		if (b == exclude || !balance_eligible(b, r))
			continue;
		last = b;
		x -= balance_weight(b, r->now);
		if (x < 0)
			return b;
	}
	return last;	/* rounding left x at 0 past the end */
}

static struct backend *pick(void *state, const struct backend_set *set,
			    const struct balance_request *r)
{
	return balance_random_pick(set, r, NULL);
}

const struct balance_ops balance_random_ops = {
	.name = "random",
	.build = balance_stateless_build,
	.release = balance_stateless_release,
	.pick = pick,
};
