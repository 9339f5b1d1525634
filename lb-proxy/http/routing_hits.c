/* routing_hits: hit counters across a table swap (see routing_hits.h). */
#include "routing_hits.h"

#include <string.h>

static int same_rule(const struct route_rule *a, const struct route_rule *b)
{
	return a->index == b->index && strcmp(a->route, b->route) == 0;
}

void routing_hits_carry(const struct route_table *old, const unsigned long long *old_hits,
			const struct route_table *next, unsigned long long *next_hits)
{
	for (unsigned i = 0; i < next->n_rules; i++) {
		/* a table that changed elsewhere mostly keeps its rules' places:
		 * the same place first, then a look through the old one */
		if (i < old->n_rules && same_rule(&next->rules[i], &old->rules[i])) {
			next_hits[i] = old_hits[i];
			continue;
		}
		for (unsigned j = 0; j < old->n_rules; j++)
			if (same_rule(&next->rules[i], &old->rules[j])) {
				next_hits[i] = old_hits[j];
				break;
			}
	}
}
