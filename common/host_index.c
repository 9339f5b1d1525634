/* host_index: hostnames by hash (see host_index.h). */
#include "host_index.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct host_index {
	const char **names;	/* a copy of the caller's array (not of the strings) */
	uint32_t mask;		/* slots - 1 (a power of two, at least twice the names) */
	int32_t *slots;		/* a name's index, or -1: empty */
	int32_t any;		/* the first catch-all, or -1 */
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

static int probe(const struct host_index *ix, const char *prefix, const char *s, size_t n)
{
	for (uint32_t i = hash(prefix, s, n) & ix->mask;; i = (i + 1) & ix->mask) {
		int32_t v = ix->slots[i];

		if (v < 0 || same(ix->names[v], prefix, s, n))
			return v;
	}
}

struct host_index *host_index_new(const char *const *names, unsigned n)
{
	struct host_index *ix = calloc(1, sizeof(*ix));
	uint32_t slots = 16;

	if (!ix)
		return NULL;
	while (slots < 2 * n)
		slots *= 2;
	ix->slots = malloc(slots * sizeof(*ix->slots));
	ix->names = malloc((n ? n : 1) * sizeof(*ix->names));
	if (!ix->slots || !ix->names) {
		host_index_free(ix);
		return NULL;
	}
	memset(ix->slots, 0xff, slots * sizeof(*ix->slots));	/* every slot -1 */
	ix->mask = slots - 1;
	ix->any = -1;
	for (unsigned v = 0; v < n; v++) {
		const char *name = names[v];
		uint32_t i;

		ix->names[v] = name;
		if (!name || strcmp(name, "*") == 0) {
			if (ix->any < 0)
				ix->any = (int32_t)v;
			continue;
		}
		if (probe(ix, NULL, name, strlen(name)) >= 0)
			continue;	/* the first of equal names wins */
		for (i = hash(NULL, name, strlen(name)) & ix->mask; ix->slots[i] >= 0;
		     i = (i + 1) & ix->mask)
			;
		ix->slots[i] = (int32_t)v;
	}
	return ix;
}

int host_index_find(const struct host_index *ix, const char *host, size_t len)
{
	int v;

	if (host) {
		if ((v = probe(ix, NULL, host, len)) >= 0)
			return v;
		/* "*.suffix" after at least one byte, the longest suffix first */
		for (size_t p = 1; p < len; p++)
			if (host[p] == '.' && (v = probe(ix, "*", host + p, len - p)) >= 0)
				return v;
	}
	return ix->any;
}

void host_index_free(struct host_index *ix)
{
	if (!ix)
		return;
	free(ix->slots);
	free(ix->names);
	free(ix);
}
