/* balance_least: least-request, the power of two choices weighted by balance_weight(). */
#include "balance_least.h"

#include "balance_random.h"

/*
 * Why active / weight and not Envoy's weight / (active + 1): the weight
 * already decided how often each backend is drawn, and comparing weights
 * again would count it twice. With weights 1,2,3 and nothing in flight
 * Envoy's rank after a weighted draw sends 0%, 15% and 85% of requests;
 * this one 17%, 33%, 50%. Under load both make active follow the weights.
 */
static struct backend *pick(void *state, const struct backend_set *set,
			    const struct balance_request *r)
{
	struct backend *first = balance_random_pick(set, r, NULL), *second;

	if (!first)
		return NULL;
	second = balance_random_pick(set, r, first);
	if (!second)
		return first;
	/* second->active / w2 < first->active / w1, without the division */
	if ((double)second->active * balance_weight(first, r->now) <
	    (double)first->active * balance_weight(second, r->now))
		return second;
	return first;
}

const struct balance_ops balance_least_ops = {
	.name = "least-request",
	.build = balance_stateless_build,
	.release = balance_stateless_release,
	.pick = pick,
};
