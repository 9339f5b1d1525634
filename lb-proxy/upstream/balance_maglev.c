/* balance_maglev: weighted Maglev lookup table, built per set, one lookup per pick. */
#include "balance_maglev.h"

#include <stdlib.h>
#include <string.h>

#include "balance_random.h"

#define M BALANCE_MAGLEV_SIZE
#define EMPTY UINT32_MAX
/* Entries a pick looks at past an ineligible one before weighted random. */
#define MAGLEV_WALK 64

struct maglev {
	size_t n;		/* backends of the set it was built from */
	uint32_t *table;	/* M indexes into set->items; NULL when n is 0 */
};

/* One backend while the table fills. */
struct filler {
	const char *name;
	uint32_t index;		/* in set->items */
	uint32_t slot, skip;	/* its permutation: the next slot it wants, the step */
	uint64_t weight;
	uint64_t turns;		/* slots it claimed */
	uint64_t round;		/* of its next turn */
};

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct filler *)a)->name, ((const struct filler *)b)->name);
}

/* The paper's permutation: offset and skip from two halves of the name's
 * hash; M is prime, so every slot comes once in M steps. */
static void filler_init(struct filler *f, const struct backend *b, uint32_t index)
{
	uint64_t h = balance_hash(b->name, strlen(b->name));

	f->name = b->name;
	f->index = index;
	f->slot = (uint32_t)((h >> 32) % M);
	f->skip = (uint32_t)((h & 0xffffffffu) % (M - 1)) + 1;
	f->weight = b->weight < 1 ? 1 : (uint64_t)b->weight;
	f->turns = 0;
	f->round = 0;
}

/* Whose turn comes first: the earlier round, then name order (f is sorted
 * by name, so the lower place in f). */
static int turn_before(const struct filler *f, uint32_t a, uint32_t b)
{
	return f[a].round != f[b].round ? f[a].round < f[b].round : a < b;
}

/* Restores the min-heap `heap` (places in f) below position i. */
static void sift_down(const struct filler *f, uint32_t *heap, size_t n, size_t i)
{
	for (;;) {
		size_t first = i, left = 2 * i + 1, right = left + 1;
		uint32_t swap;

		if (left < n && turn_before(f, heap[left], heap[first]))
			first = left;
		if (right < n && turn_before(f, heap[right], heap[first]))
			first = right;
		if (first == i)
			return;
		swap = heap[i];
		heap[i] = heap[first];
		heap[first] = swap;
		i = first;
	}
}

/*
 * Backends take turns claiming their next free slot, in rounds (Envoy's
 * weighted Maglev): the heaviest takes one turn a round, one of weight w
 * w turns for every `heaviest` rounds, and every one a turn in round 0.
 * A heap orders the turns, so rounds in which only heavy backends move
 * cost nothing for the others.
 */
static void fill(uint32_t *table, struct filler *f, uint32_t *heap, size_t n, uint64_t heaviest)
{
	size_t filled = 0;

	for (size_t i = 0; i < M; i++)
		table[i] = EMPTY;
	for (size_t i = 0; i < n; i++)
		heap[i] = (uint32_t)i;	/* all in round 0, in name order: a heap */
	while (filled < M) {
		struct filler *next = &f[heap[0]];

		while (table[next->slot] != EMPTY)
			next->slot = (next->slot + next->skip) % M;
		table[next->slot] = next->index;
		filled++;
		next->turns++;
		/* the first round in which round * weight >= turns * heaviest */
		next->round = (next->turns * heaviest + next->weight - 1) / next->weight;
		sift_down(f, heap, n, 0);
	}
}

static void release(void *state)
{
	struct maglev *m = state;

	if (!m)
		return;
	free(m->table);
	free(m);
}

static void *build(const struct backend_set *set, void *old)
{
	struct maglev *m = calloc(1, sizeof(*m));
	struct filler *f = NULL;
	uint32_t *heap = NULL;
	uint64_t heaviest = 1;

	if (!m)
		return NULL;
	m->n = set->n;
	if (set->n == 0)
		return m;
	m->table = malloc(M * sizeof(*m->table));
	f = malloc(set->n * sizeof(*f));
	heap = malloc(set->n * sizeof(*heap));
	if (!m->table || !f || !heap)
		goto fail;
	for (size_t i = 0; i < set->n; i++) {
		filler_init(&f[i], set->items[i], (uint32_t)i);
		if (f[i].weight > heaviest)
			heaviest = f[i].weight;
	}
	/* Turns go in name order: arrival order would differ between proxies. */
	qsort(f, set->n, sizeof(*f), by_name);
	fill(m->table, f, heap, set->n, heaviest);
	free(heap);
	free(f);
	return m;
fail:
	free(heap);
	free(f);
	release(m);
	return NULL;
}

static struct backend *pick(void *state, const struct backend_set *set,
			    const struct balance_request *r)
{
	const struct maglev *m = state;

	/* m->n differs only if the caller skipped a rebuild: don't index blindly. */
	if (r->has_key && m->table && m->n == set->n) {
		size_t slot = r->hash % M;

		for (int i = 0; i < MAGLEV_WALK; i++) {
			struct backend *b = set->items[m->table[slot]];

			if (balance_eligible(b, r))
				return b;
			slot = slot + 1 == M ? 0 : slot + 1;
		}
	}
	return balance_random_pick(set, r, NULL);
}

const struct balance_ops balance_maglev_ops = {
	.name = "maglev",
	.uses_key = 1,
	.build = build,
	.release = release,
	.pick = pick,
};
