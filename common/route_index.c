/* route_index: virtual hosts by hostname (see route_index.h). */
#include "route_index.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct route_vhost_index {
	uint32_t mask;		/* slots - 1 (a power of two, at least twice the hostnames) */
	int32_t *slots;		/* a vhost's index, or -1: empty */
	int32_t any;		/* the first "*" vhost, or -1 */
};

static uint32_t fold(uint32_t h, unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		c = (unsigned char)(c + 32);
	return (h ^ c) * 16777619u;	/* FNV-1a */
}

static uint32_t hash(const char *prefix, const char *s, size_t n)
{
	uint32_t h = 2166136261u;

	for (; prefix && *prefix; prefix++)
		h = fold(h, (unsigned char)*prefix);
	for (size_t i = 0; i < n; i++)
		h = fold(h, (unsigned char)s[i]);
	return h;
}

/* 1 when vhost name equals prefix + [s, s + n), any case. */
static int same(const char *name, const char *prefix, const char *s, size_t n)
{
	size_t p = prefix ? strlen(prefix) : 0;

	return strlen(name) == p + n && strncasecmp(name, prefix ? prefix : "", p) == 0 &&
	       strncasecmp(name + p, s, n) == 0;
}

static const struct route_vhost *probe(const struct route_listener *l, const char *prefix,
				       const char *s, size_t n)
{
	const struct route_vhost_index *ix = l->index;

	for (uint32_t i = hash(prefix, s, n) & ix->mask;; i = (i + 1) & ix->mask) {
		int32_t v = ix->slots[i];

		if (v < 0)
			return NULL;
		if (same(l->vhosts[v].hostname, prefix, s, n))
			return &l->vhosts[v];
	}
}

static int index_listener(struct route_listener *l)
{
	struct route_vhost_index *ix = calloc(1, sizeof(*ix));
	uint32_t slots = 16;

	if (!ix)
		return -1;
	while (slots < 2 * l->n_vhosts)
		slots *= 2;
	ix->slots = malloc(slots * sizeof(*ix->slots));
	if (!ix->slots) {
		free(ix);
		return -1;
	}
	memset(ix->slots, 0xff, slots * sizeof(*ix->slots));	/* every slot -1 */
	ix->mask = slots - 1;
	ix->any = -1;
	l->index = ix;
	for (unsigned v = 0; v < l->n_vhosts; v++) {
		const char *name = l->vhosts[v].hostname;
		uint32_t i;

		if (!name || strcmp(name, "*") == 0) {
			if (ix->any < 0)
				ix->any = (int32_t)v;
			continue;
		}
		if (probe(l, NULL, name, strlen(name)))
			continue;	/* the first of equal names wins */
		for (i = hash(NULL, name, strlen(name)) & ix->mask; ix->slots[i] >= 0;
		     i = (i + 1) & ix->mask)
			;
		ix->slots[i] = (int32_t)v;
	}
	return 0;
}

int route_index_build(struct route_table *t, unsigned min_vhosts)
{
	int rc = 0;

	for (unsigned i = 0; i < t->n_listeners; i++)
		if (!t->listeners[i].index && t->listeners[i].n_vhosts > min_vhosts &&
		    index_listener(&t->listeners[i]) == -1)
			rc = -1;
	return rc;
}

const struct route_vhost *route_index_find(const struct route_listener *l, const char *host,
					   size_t len)
{
	const struct route_vhost_index *ix = l->index;
	const struct route_vhost *v;

	if (host) {
		if ((v = probe(l, NULL, host, len)))
			return v;
		/* "*.suffix" after at least one byte, the longest suffix first */
		for (size_t p = 1; p < len; p++)
			if (host[p] == '.' && (v = probe(l, "*", host + p, len - p)))
				return v;
	}
	return ix->any >= 0 ? &l->vhosts[ix->any] : NULL;
}

void route_index_free(struct route_vhost_index *ix)
{
	if (!ix)
		return;
	free(ix->slots);
	free(ix);
}
