/* fixture: backend sets and pick counting for the unit tests of lb-proxy's balancing. */
#include "fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "upstream/balance_table.h"

void fixture_set(struct backend_set *set, size_t n, const int *weights)
{
	memset(set, 0, sizeof(*set));
	assert_true(n <= FIXTURE_MAX);
	set->items = calloc(n ? n : 1, sizeof(*set->items));
	assert_non_null(set->items);
	for (size_t i = 0; i < n; i++) {
		char name[64], err[128];
		struct net_addr addr;

		snprintf(name, sizeof(name), "10.0.%zu.%zu:80", i / 256, i % 256);
		assert_int_equal(net_parse_numeric(name, &addr, err, sizeof(err)), 0);
		set->items[i] = backend_new(name, &addr, weights ? weights[i] : 1);
		assert_non_null(set->items[i]);
		set->n++;
	}
}

void fixture_subset(struct backend_set *dst, const struct backend_set *src,
		    const size_t *order, size_t n)
{
	memset(dst, 0, sizeof(*dst));
	dst->items = calloc(n ? n : 1, sizeof(*dst->items));
	assert_non_null(dst->items);
	for (size_t i = 0; i < n; i++) {
		assert_true(order[i] < src->n);
		dst->items[i] = src->items[order[i]];
		backend_ref(dst->items[i]);
	}
	dst->n = n;
}

int fixture_index(const struct backend_set *set, const struct backend *b)
{
	for (size_t i = 0; i < set->n; i++)
		if (set->items[i] == b)
			return (int)i;
	return -1;
}

struct balance_request fixture_request(int i, double now)
{
	struct balance_request r = { .now = now };
	char key[32];

	if (i >= 0) {
		int len = snprintf(key, sizeof(key), "key-%d", i);

		r.hash = balance_hash(key, (size_t)len);
		r.has_key = 1;
	}
	return r;
}

void fixture_count(struct balancer *bl, const struct backend_set *set,
		   struct balance_request *r, unsigned picks, unsigned *counts)
{
	for (unsigned i = 0; i < picks; i++) {
		struct backend *b = balance_pick(bl, set, r);

		assert_non_null(b);
		counts[fixture_index(set, b)]++;
	}
}

double fixture_share_error(const struct backend_set *set, const unsigned *counts)
{
	double total_weight = 0, total = 0, worst = 0;

	for (size_t i = 0; i < set->n; i++) {
		total_weight += set->items[i]->weight;
		total += counts[i];
	}
	for (size_t i = 0; i < set->n; i++) {
		double want = set->items[i]->weight / total_weight;
		double error = (counts[i] / total - want) / want;

		if (error < 0)
			error = -error;
		if (error > worst)
			worst = error;
	}
	return worst;
}

void fixture_balancer(struct balancer *bl, const char *name, const struct backend_set *set)
{
	const struct balance_ops *ops = balance_find(name);

	memset(bl, 0, sizeof(*bl));
	assert_non_null(ops);
	assert_int_equal(balancer_rebuild(bl, ops, set), 0);
}
