/* backend: the servers a proxy balances across, and the sets that replace each other. */
#include "backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct backend *all_backends;
static unsigned long long changes = 1;	/* a zeroed cache (0) is never current */

void (*backend_close_idle)(struct backend *b);

const char *backend_state_name(enum backend_state s)
{
	switch (s) {
	case BACKEND_UP: return "up";
	case BACKEND_DRAINING: return "draining";
	case BACKEND_DOWN: return "down";
	}
	return "unknown";
}

struct backend *backend_all(void)
{
	return all_backends;
}

unsigned long long backend_changes(void)
{
	return changes;
}

void backend_changed(void)
{
	changes++;
}

void backend_mark_failed(struct backend *b, double until, enum backend_failure why)
{
	b->fail_until = until;
	b->fail_why = why;
	if ((unsigned)why < BACKEND_FAILURES)
		b->failures[why]++;
	changes++;
}

const char *backend_failure_name(enum backend_failure f)
{
	static const char *const names[BACKEND_FAILURES] = { "connect", "timeout", "reset",
							      "status" };

	return (unsigned)f < BACKEND_FAILURES ? names[f] : "unknown";
}

struct backend *backend_new(const char *name, const struct net_addr *addr, int weight)
{
	struct backend *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	snprintf(b->name, sizeof(b->name), "%s", name);
	b->addr = *addr;
	b->weight = weight;
	b->state = BACKEND_UP;
	b->refs = 1;
	b->all_next = all_backends;
	all_backends = b;
	return b;
}

void backend_ref(struct backend *b)
{
	b->refs++;
}

void backend_unref(struct backend *b)
{
	struct backend **pp;

	if (--b->refs > 0)
		return;
	if (backend_close_idle)
		backend_close_idle(b);
	for (pp = &all_backends; *pp; pp = &(*pp)->all_next) {
		if (*pp == b) {
			*pp = b->all_next;
			break;
		}
	}
	free(b);
}

int backend_set_parse(const char *spec, struct backend_set *set, char *err, size_t errsz)
{
	char *copy = strdup(spec), *save = NULL, *item;
	int rc = -1;

	memset(set, 0, sizeof(*set));
	if (!copy) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	for (item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		struct net_addr addr;
		struct backend **grown, *b;
		char name[96];
		long weight;

		while (*item == ' ')
			item++;
		/* "http://10.0.0.9:8080" is 10.0.0.9:8080 (seed 004's spelling) */
		if (net_url_address(item, name, sizeof(name), err, errsz) == -1)
			goto out;
		item = name;
		if (net_split_weight(item, &weight, err, errsz) == -1)
			goto out;
		if (!*item) {
			snprintf(err, errsz, "empty backend in \"%s\"", spec);
			goto out;
		}
		if (net_parse_addr(item, &addr, err, errsz) == -1)
			goto out;
		for (size_t i = 0; i < set->n; i++) {
			if (strcmp(set->items[i]->name, item) == 0) {
				snprintf(err, errsz, "backend \"%s\" is listed twice", item);
				goto out;
			}
		}
		grown = realloc(set->items, (set->n + 1) * sizeof(*grown));
		if (grown)
			set->items = grown;
		if (!grown || !(b = backend_new(item, &addr, (int)weight))) {
			snprintf(err, errsz, "out of memory");
			goto out;
		}
		set->items[set->n++] = b;
	}
	if (set->n == 0) {
		snprintf(err, errsz, "no backend in \"%s\"", spec);
		goto out;
	}
	rc = 0;
out:
	free(copy);
	if (rc == -1)
		backend_set_release(set);
	return rc;
}

void backend_set_apply(struct backend_set *current, struct backend_set *next, double now)
{
	changes++;
	for (size_t i = 0; i < next->n; i++)
		next->items[i]->up_since = now;
	for (size_t i = 0; i < next->n; i++) {
		for (size_t j = 0; j < current->n; j++) {
			struct backend *old = current->items[j], *fresh = next->items[i];

			if (old && strcmp(old->name, fresh->name) == 0) {
				/* Keep the object (counters, pool, rr state); take the new
				 * weight and state. */
				if (old->state != BACKEND_UP && fresh->state == BACKEND_UP) {
					old->up_since = now;
					old->fail_until = 0;
				}
				old->weight = fresh->weight;
				old->state = fresh->state;
				/* Draining or down: pooled connections go now, in-flight
				 * requests finish on theirs (not pooled again). */
				if (old->state != BACKEND_UP && backend_close_idle)
					backend_close_idle(old);
				next->items[i] = old;
				current->items[j] = NULL;
				backend_unref(fresh);
				break;
			}
		}
	}
	for (size_t j = 0; j < current->n; j++) {
		struct backend *gone = current->items[j];

		if (!gone)
			continue;
		gone->removed = 1;
		if (backend_close_idle)
			backend_close_idle(gone);
		backend_unref(gone);
	}
	free(current->items);
	*current = *next;
	memset(next, 0, sizeof(*next));
}

void backend_set_release(struct backend_set *set)
{
	for (size_t i = 0; i < set->n; i++)
		if (set->items[i])
			backend_unref(set->items[i]);
	free(set->items);
	memset(set, 0, sizeof(*set));
}
