/* registry: what lb-discover knows of each backend, and the set it publishes. */
#include "registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"

void registry_init(struct registry *r, const char *service)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->service, sizeof(r->service), "%s", service);
}

void registry_release(struct registry *r)
{
	free(r->entries);
	free(r->index);
	free(r->last);
	memset(r, 0, sizeof(*r));
}

/* FNV-1a */
static size_t hash(const char *s)
{
	size_t h = 14695981039346656037ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

static void index_put(struct registry *r, size_t i)
{
	size_t mask = r->index_cap - 1, k = hash(r->entries[i].address) & mask;

	while (r->index[k])
		k = (k + 1) & mask;
	r->index[k] = i + 1;
}

/* Re-indexes the current entries in the table there is (after removals). */
static void index_refill(struct registry *r)
{
	memset(r->index, 0, r->index_cap * sizeof(*r->index));
	for (size_t i = 0; i < r->n; i++)
		index_put(r, i);
}

/* Rebuilds the index for the current entries, at least 2 * cap slots. */
static int index_rebuild(struct registry *r)
{
	size_t cap = 32, *slots;

	while (cap < 2 * r->cap)
		cap *= 2;
	slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -1;
	free(r->index);
	r->index = slots;
	r->index_cap = cap;
	for (size_t i = 0; i < r->n; i++)
		index_put(r, i);
	return 0;
}

struct entry *registry_find(struct registry *r, const char *address)
{
	size_t mask, k;

	if (!r->index)
		return NULL;
	mask = r->index_cap - 1;
	for (k = hash(address) & mask; r->index[k]; k = (k + 1) & mask)
		if (strcmp(r->entries[r->index[k] - 1].address, address) == 0)
			return &r->entries[r->index[k] - 1];
	return NULL;
}

struct entry *registry_get(struct registry *r, const char *address)
{
	struct entry *e = registry_find(r, address);

	if (e)
		return e;
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		struct entry *grown = realloc(r->entries, cap * sizeof(*grown));

		if (!grown)
			return NULL;
		r->entries = grown;
		r->cap = cap;
		if (index_rebuild(r) == -1) {
			r->cap = r->n;	/* the index still fits the old count: retry next time */
			return NULL;
		}
	}
	e = &r->entries[r->n++];
	memset(e, 0, sizeof(*e));
	snprintf(e->address, sizeof(e->address), "%s", address);
	e->source_weight = 1;
	e->healthy = 1;
	index_put(r, r->n - 1);
	return e;
}

void registry_source_update(struct registry *r, const struct bus_backend *list, size_t n,
			    double now)
{
	for (size_t i = 0; i < r->n; i++) {
		if (r->entries[i].in_source)
			r->entries[i].left_at = now;	/* until it is listed below */
		r->entries[i].in_source = 0;
	}
	if (n > BUS_MAX_BACKENDS)
		n = BUS_MAX_BACKENDS;
	for (size_t i = 0; i < n; i++) {
		struct entry *e = registry_get(r, list[i].address);

		if (!e)
			continue;
		e->in_source = 1;
		e->left_at = 0;
		e->source_weight = list[i].weight > 0 ? list[i].weight : 1;
		e->source_state = list[i].state;
		snprintf(e->source_reason, sizeof(e->source_reason), "%s", list[i].reason);
	}
}

int registry_published(const struct entry *e)
{
	return (e->in_source || e->added) && !e->removed;
}

int registry_overridden(const struct entry *e)
{
	return e->drained || e->removed || e->weight_override;
}

int registry_waiting(const struct entry *e)
{
	return !e->in_source && !e->added && registry_overridden(e);
}

size_t registry_expire(struct registry *r, double now, double grace, registry_expired_cb on_expired,
		       void *data)
{
	size_t k = 0, expired = 0;

	for (size_t i = 0; i < r->n; i++) {
		struct entry *e = &r->entries[i];

		if (!e->in_source && !e->added && !e->left_at)
			e->left_at = now;	/* the clock starts now */
		if (e->in_source || e->added || now - e->left_at < grace) {
			r->entries[k++] = *e;
			continue;
		}
		if (registry_overridden(e)) {
			on_expired(e, data);
			expired++;
		}
	}
	if (k != r->n) {
		r->n = k;
		index_refill(r);
	}
	return expired;
}

size_t registry_in_source(const struct registry *r)
{
	size_t k = 0;

	for (size_t i = 0; i < r->n; i++)
		k += r->entries[i].in_source;
	return k;
}

size_t registry_published_count(const struct registry *r)
{
	size_t k = 0;

	for (size_t i = 0; i < r->n; i++)
		k += registry_published(&r->entries[i]) ? 1 : 0;
	return k;
}

static void describe(const struct entry *e, struct bus_backend *b)
{
	memset(b, 0, sizeof(*b));
	snprintf(b->address, sizeof(b->address), "%s", e->address);
	b->weight = e->weight_override ? e->weight_override : e->source_weight;
	if (e->drained) {
		b->state = BUS_STATE_DRAINING;
		snprintf(b->reason, sizeof(b->reason), "operator");
	} else if (e->source_state != BUS_STATE_UP && e->in_source) {
		b->state = e->source_state;
		snprintf(b->reason, sizeof(b->reason), "%s", e->source_reason);
	} else if (!e->healthy) {
		b->state = BUS_STATE_DOWN;
		snprintf(b->reason, sizeof(b->reason), "%s", e->health_reason);
	} else {
		b->state = BUS_STATE_UP;
	}
	if (e->ejected) {
		double left = e->eject_until - registry_clock();

		b->ejected = 1;
		b->eject_left = left > 0 ? left : 0;
		b->ejections = e->ejections ? e->ejections : 1;
		snprintf(b->eject_reason, sizeof(b->eject_reason), "%s", e->eject_reason);
	}
}

double registry_clock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int registry_snapshot(const struct registry *r, struct bus_set *out)
{
	size_t k = 0;

	memset(out, 0, sizeof(*out));
	snprintf(out->type, sizeof(out->type), "set");
	snprintf(out->service, sizeof(out->service), "%s", r->service);
	out->generation = r->generation;
	out->settings = r->settings;
	out->backends = calloc(r->n ? r->n : 1, sizeof(*out->backends));
	if (!out->backends)
		return -1;
	for (size_t i = 0; i < r->n && k < BUS_MAX_BACKENDS; i++)
		if (registry_published(&r->entries[i]))
			describe(&r->entries[i], &out->backends[k++]);
	out->n = k;
	return 0;
}

/* Each drain's first generation (entry.drain_since) after a commit that
 * changed the set. A drain in effect at the first commit of the process
 * (from the state file) counts from generation 1: it began before. */
static void drains_mark(struct registry *r, int first)
{
	for (size_t i = 0; i < r->n; i++) {
		struct entry *e = &r->entries[i];

		if (!registry_published(e) || !e->drained)
			e->drain_since = 0;
		else if (!e->drain_since)
			e->drain_since = first ? 1 : r->generation;
	}
}

int registry_commit(struct registry *r)
{
	struct bus_set now;
	int same, first;

	if (registry_snapshot(r, &now) == -1)
		return 0;
	/* an ejection's time left runs down on its own: only open -> half-open
	 * is a change */
	for (size_t i = 0; i < now.n; i++)
		if (now.backends[i].ejected)
			now.backends[i].eject_left = now.backends[i].eject_left > 0;
	same = r->last && now.n == r->last_n &&
	       memcmp(now.backends, r->last, now.n * sizeof(*now.backends)) == 0 &&
	       memcmp(&r->settings, &r->last_settings, sizeof(r->settings)) == 0;
	if (same) {
		bus_set_release(&now);
		return 0;
	}
	first = !r->last;
	if (first)
		r->floor = r->generation + 1;
	free(r->last);
	r->last = now.backends;
	r->last_n = now.n;
	r->last_settings = r->settings;
	r->generation++;
	r->changed = 1;
	drains_mark(r, first);
	return 1;
}

void registry_raise_above(struct registry *r, unsigned long long seen)
{
	if (seen > r->generation)
		r->generation = seen;
	/* no last view: the next commit differs, and sets the floor */
	free(r->last);
	r->last = NULL;
	r->last_n = 0;
}

/* Appends address to a comma-separated list of at most max names (then a
 * count of the others). */
static void list_add(struct buf *list, size_t *count, size_t max, const char *address)
{
	if (*count < max)
		buf_appendf(list, "%s%s", *count ? "," : "", address);
	(*count)++;
}

static void list_end(struct buf *list, size_t count, size_t max)
{
	if (count > max)
		buf_appendf(list, ",+%zu more", count - max);
	if (count == 0)
		buf_append_str(list, "-");
}

/* "ADDR:up>draining", "ADDR:weight:1>5", "ADDR:ejected", "ADDR:ejection-ended":
 * what changed of a backend published before and now (nothing: no item). */
static void list_changes(struct buf *list, size_t *count, size_t max,
			 const struct bus_backend *was, const struct bus_backend *now)
{
	char item[BUS_ADDRESS_MAX + 48];

	if (was->state != now->state) {
		snprintf(item, sizeof(item), "%s:%s>%s", now->address, bus_state_name(was->state),
			 bus_state_name(now->state));
		list_add(list, count, max, item);
	}
	if (was->weight != now->weight) {
		snprintf(item, sizeof(item), "%s:weight:%d>%d", now->address, was->weight,
			 now->weight);
		list_add(list, count, max, item);
	}
	if (was->ejected != now->ejected) {
		snprintf(item, sizeof(item), "%s:%s", now->address,
			 now->ejected ? "ejected" : "ejection-ended");
		list_add(list, count, max, item);
	}
}

int registry_commit_diff(struct registry *r, struct buf *joined, struct buf *left,
			 struct buf *changed, size_t max)
{
	struct bus_backend *before = r->last;
	size_t before_n = r->last_n, nj = 0, nl = 0, nc = 0;
	/* per entry: 1 was published, 2 is published now (at its index `at`) */
	unsigned char *mark;
	size_t *at;

	r->last = NULL;		/* kept here until the commit made its own */
	if (before) {
		r->last = malloc((before_n ? before_n : 1) * sizeof(*before));
		if (!r->last) {
			r->last = before;
			return registry_commit(r);
		}
		memcpy(r->last, before, before_n * sizeof(*before));
	}
	if (!registry_commit(r)) {
		free(before);
		return 0;
	}
	mark = calloc(r->n ? r->n : 1, 1);
	at = malloc((r->n ? r->n : 1) * sizeof(*at));
	if (!mark || !at) {
		free(mark);
		free(at);
		free(before);
		return 1;
	}
	for (size_t i = 0; i < before_n; i++) {
		struct entry *e = registry_find(r, before[i].address);

		if (e)
			mark[e - r->entries] = 1;
	}
	for (size_t i = 0; i < r->last_n; i++) {
		struct entry *e = registry_find(r, r->last[i].address);

		if (!e)
			continue;
		if (!mark[e - r->entries])
			list_add(joined, &nj, max, e->address);
		mark[e - r->entries] = 2;
		at[e - r->entries] = i;
	}
	for (size_t i = 0; i < before_n; i++) {
		struct entry *e = registry_find(r, before[i].address);

		if (!e || mark[e - r->entries] != 2) {
			list_add(left, &nl, max, before[i].address);
			continue;
		}
		list_changes(changed, &nc, max, &before[i], &r->last[at[e - r->entries]]);
	}
	list_end(joined, nj, max);
	list_end(left, nl, max);
	list_end(changed, nc, max);
	free(at);
	free(mark);
	free(before);
	return 1;
}
