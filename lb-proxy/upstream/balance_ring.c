/* balance_ring: a sorted ring of hashed points per set, a binary search per pick. */
#include "balance_ring.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "balance_random.h"

/* Points a pick looks at past an ineligible one before weighted random. */
#define RING_WALK 64

struct ring_point {
	uint64_t hash;
	uint32_t index;		/* in set->items */
	uint32_t rank;		/* the backend's place in name order: breaks hash ties */
};

struct ring {
	size_t n;		/* backends of the set it was built from */
	size_t npoints;
	struct ring_point *points;	/* sorted by hash; NULL when n is 0 */
};

struct named {
	const char *name;
	uint32_t index;
};

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct named *)a)->name, ((const struct named *)b)->name);
}

static int by_hash(const void *a, const void *b)
{
	const struct ring_point *p = a, *q = b;

	if (p->hash != q->hash)
		return p->hash < q->hash ? -1 : 1;
	return p->rank < q->rank ? -1 : p->rank > q->rank;
}

static double weight_of(const struct backend *b)
{
	return b->weight < 1 ? 1 : b->weight;
}

/* b's points at `per_weight` points per unit of weight. */
static size_t backend_points(const struct backend *b, double per_weight)
{
	size_t k = (size_t)(weight_of(b) * per_weight + 0.5);

	return k < BALANCE_RING_MIN_POINTS ? BALANCE_RING_MIN_POINTS : k;
}

static void release(void *state)
{
	struct ring *ring = state;

	if (!ring)
		return;
	free(ring->points);
	free(ring);
}

/* Writes i in decimal at out (no terminator); returns its length. */
static size_t format_decimal(char *out, size_t i)
{
	char digits[24];
	size_t n = 0;

	do {
		digits[n++] = (char)('0' + i % 10);
		i /= 10;
	} while (i);
	for (size_t j = 0; j < n; j++)
		out[j] = digits[n - 1 - j];
	return n;
}

/* Places each backend's points (in name order, ranks for ties) and sorts them. */
static int place(struct ring *ring, const struct backend_set *set, const struct named *order)
{
	double total_weight = 0, per_weight = BALANCE_RING_PER_WEIGHT;
	size_t npoints = 0;

	for (size_t i = 0; i < set->n; i++)
		total_weight += weight_of(set->items[i]);
	if (total_weight * per_weight > BALANCE_RING_MAX)
		per_weight = BALANCE_RING_MAX / total_weight;
	for (size_t i = 0; i < set->n; i++)
		npoints += backend_points(set->items[i], per_weight);
	ring->points = malloc(npoints * sizeof(*ring->points));
	if (!ring->points)
		return -1;
	for (size_t rank = 0; rank < set->n; rank++) {
		const struct backend *b = set->items[order[rank].index];
		size_t k = backend_points(b, per_weight);
		char key[sizeof(b->name) + 24];
		int prefix = snprintf(key, sizeof(key), "%s-", b->name);

		for (size_t i = 0; i < k; i++) {
			struct ring_point *p = &ring->points[ring->npoints++];

			p->hash = balance_hash(key, prefix + format_decimal(key + prefix, i));
			p->index = order[rank].index;
			p->rank = (uint32_t)rank;
		}
	}
	qsort(ring->points, ring->npoints, sizeof(*ring->points), by_hash);
	return 0;
}

static void *build(const struct backend_set *set, void *old)
{
	struct ring *ring = calloc(1, sizeof(*ring));
	struct named *order = NULL;

	if (!ring)
		return NULL;
	ring->n = set->n;
	if (set->n == 0)
		return ring;
	order = malloc(set->n * sizeof(*order));
	if (!order)
		goto fail;
	for (size_t i = 0; i < set->n; i++) {
		order[i].name = set->items[i]->name;
		order[i].index = (uint32_t)i;
	}
	qsort(order, set->n, sizeof(*order), by_name);
	if (place(ring, set, order) == -1)
		goto fail;
	free(order);
	return ring;
fail:
	free(order);
	release(ring);
	return NULL;
}

/* The first point whose hash is >= hash, wrapping to 0. */
static size_t ring_find(const struct ring *ring, uint64_t hash)
{
	size_t lo = 0, hi = ring->npoints;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ring->points[mid].hash < hash)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo == ring->npoints ? 0 : lo;
}

static struct backend *pick(void *state, const struct backend_set *set,
			    const struct balance_request *r)
{
	const struct ring *ring = state;

	/* ring->n differs only if the caller skipped a rebuild: don't index blindly. */
	if (r->has_key && ring->points && ring->n == set->n) {
		size_t at = ring_find(ring, r->hash);

		for (int i = 0; i < RING_WALK; i++) {
			struct backend *b = set->items[ring->points[at].index];

			if (balance_eligible(b, r))
				return b;
			at = at + 1 == ring->npoints ? 0 : at + 1;
		}
	}
	return balance_random_pick(set, r, NULL);
}

const struct balance_ops balance_ring_ops = {
	.name = "ring-hash",
	.uses_key = 1,
	.build = build,
	.release = release,
	.pick = pick,
};
