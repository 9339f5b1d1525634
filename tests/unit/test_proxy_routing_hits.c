/* The route hit counters across a table change (lb-proxy/http/routing_hits.c):
 * a rule keeps its count while it keeps its route and index, wherever it sits
 * in the new table; any other starts at 0. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http/routing_hits.h"

struct rule_id {
	const char *route;
	unsigned index;
};

/* A table of n rules named by ids (only the identity is filled). */
static void table_of(struct route_table *t, struct route_rule *rules, const struct rule_id *ids,
		     unsigned n)
{
	memset(t, 0, sizeof(*t));
	memset(rules, 0, n * sizeof(*rules));
	for (unsigned i = 0; i < n; i++) {
		rules[i].route = (char *)ids[i].route;
		rules[i].index = ids[i].index;
	}
	t->rules = rules;
	t->n_rules = n;
}

static const struct {
	const char *what;
	struct rule_id old[4];
	unsigned n_old;
	unsigned long long old_hits[4];
	struct rule_id next[4];
	unsigned n_next;
	unsigned long long want[4];
} cases[] = {
	{ "the same table: every count kept",
	  { { "ns/a", 0 }, { "ns/a", 1 } }, 2, { 5, 7 },
	  { { "ns/a", 0 }, { "ns/a", 1 } }, 2, { 5, 7 } },
	{ "a route added in front: the others' counts follow their rules",
	  { { "ns/b", 0 }, { "ns/c", 0 } }, 2, { 3, 4 },
	  { { "ns/a", 0 }, { "ns/b", 0 }, { "ns/c", 0 } }, 3, { 0, 3, 4 } },
	{ "a rule inserted before another: the moved one is a new identity",
	  { { "ns/a", 0 }, { "ns/a", 1 } }, 2, { 9, 2 },
	  { { "ns/a", 0 }, { "ns/a", 1 }, { "ns/a", 2 } }, 3, { 9, 2, 0 } },
	{ "a route removed: the one left keeps its count",
	  { { "ns/a", 0 }, { "ns/b", 0 } }, 2, { 1, 8 },
	  { { "ns/b", 0 } }, 1, { 8 } },
	{ "same index, another route: not the same rule",
	  { { "ns/a", 0 } }, 1, { 6 },
	  { { "other/a", 0 } }, 1, { 0 } },
};

static void test_carry(void **state)
{
	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct route_table old, next;
		struct route_rule old_rules[4], next_rules[4];
		unsigned long long got[4] = { 0 };

		table_of(&old, old_rules, cases[c].old, cases[c].n_old);
		table_of(&next, next_rules, cases[c].next, cases[c].n_next);
		routing_hits_carry(&old, cases[c].old_hits, &next, got);
		for (unsigned i = 0; i < cases[c].n_next; i++)
			if (got[i] != cases[c].want[i])
				fail_msg("%s: rule %u: %llu, want %llu", cases[c].what, i, got[i],
					 cases[c].want[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_carry),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
