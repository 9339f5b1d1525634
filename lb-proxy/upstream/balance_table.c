/* balance_table: every balancing algorithm by its --balance name (see
 * balance_table.h); the interface they share is balance.h. */
#include "balance_table.h"

#include <stdio.h>
#include <string.h>

#include "balance_least.h"
#include "balance_maglev.h"
#include "balance_random.h"
#include "balance_ring.h"
#include "balance_rr.h"

/* Every algorithm, the first being the default. */
static const struct balance_ops *const algorithms[] = {
	&balance_rr_ops,
	&balance_least_ops,
	&balance_random_ops,
	&balance_maglev_ops,
	&balance_ring_ops,
};
#define NALGORITHMS (sizeof(algorithms) / sizeof(algorithms[0]))

const struct balance_ops *balance_find(const char *name)
{
	for (size_t i = 0; i < NALGORITHMS; i++)
		if (strcmp(algorithms[i]->name, name) == 0)
			return algorithms[i];
	return NULL;
}

const char *balance_names(void)
{
	static char names[128];

	if (!names[0]) {
		size_t len = 0;

		for (size_t i = 0; i < NALGORITHMS && len < sizeof(names); i++)
			len += (size_t)snprintf(names + len, sizeof(names) - len, "%s%s",
						i ? ", " : "", algorithms[i]->name);
	}
	return names;
}
