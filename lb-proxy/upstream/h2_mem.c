/* h2_mem: free lists by size class for nghttp2's small blocks (see h2_mem.h). */
#include "h2_mem.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* Classes of 64 bytes: 64, 128, ... H2_MEM_MAX_BLOCK. */
#define CLASS_BYTES 64
#define CLASSES (H2_MEM_MAX_BLOCK / CLASS_BYTES)

/* Before each block: its class (CLASSES: a block of malloc's own size). The
 * header is 16 bytes, so the block keeps malloc's alignment. */
union header {
	unsigned cls;
	max_align_t align;
	union header *next;	/* while free */
};

/* Under ASan every block goes back to free(), so a use after free in a
 * block nghttp2 let go is still caught. */
#ifdef __SANITIZE_ADDRESS__
#define KEEP 0
#else
#define KEEP H2_MEM_KEEP
#endif

static const unsigned keep = KEEP;
static union header *free_list[CLASSES];
static unsigned nfree[CLASSES];

static unsigned class_of(size_t size)
{
	return size == 0 ? 0 : (unsigned)((size - 1) / CLASS_BYTES);
}

static void *mem_malloc(size_t size, void *user)
{
	unsigned cls = size <= H2_MEM_MAX_BLOCK ? class_of(size) : CLASSES;
	union header *h;
	(void)user;

	if (cls < CLASSES && free_list[cls]) {
		h = free_list[cls];
		free_list[cls] = h->next;
		nfree[cls]--;
	} else {
		h = malloc(sizeof(*h) + (cls < CLASSES ? (size_t)(cls + 1) * CLASS_BYTES : size));
		if (!h)
			return NULL;
	}
	h->cls = cls;
	return h + 1;
}

static void mem_free(void *ptr, void *user)
{
	union header *h;
	unsigned cls;
	(void)user;

	if (!ptr)
		return;
	h = (union header *)ptr - 1;
	cls = h->cls;
	if (cls >= CLASSES || nfree[cls] >= keep) {
		free(h);
		return;
	}
	h->next = free_list[cls];
	free_list[cls] = h;
	nfree[cls]++;
}

static void *mem_calloc(size_t n, size_t size, void *user)
{
	void *p;

	if (size && n > (size_t)-1 / size)
		return NULL;
	p = mem_malloc(n * size, user);
	if (p)
		memset(p, 0, n * size);
	return p;
}

static void *mem_realloc(void *ptr, size_t size, void *user)
{
	union header *h;
	size_t have;
	void *p;

	if (!ptr)
		return mem_malloc(size, user);
	if (size == 0) {
		mem_free(ptr, user);
		return NULL;
	}
	h = (union header *)ptr - 1;
	if (h->cls >= CLASSES) {
		/* malloc's own block: grown by realloc (it stays unclassed) */
		if (size <= H2_MEM_MAX_BLOCK) {
			p = mem_malloc(size, user);
			if (p) {
				memcpy(p, ptr, size);	/* it held at least what fits */
				free(h);
			}
			return p;
		}
		h = realloc(h, sizeof(*h) + size);
		if (!h)
			return NULL;
		h->cls = CLASSES;
		return h + 1;
	}
	have = (size_t)(h->cls + 1) * CLASS_BYTES;
	if (size <= have)
		return ptr;
	p = mem_malloc(size, user);
	if (p) {
		memcpy(p, ptr, have);
		mem_free(ptr, user);
	}
	return p;
}

nghttp2_mem *h2_mem(void)
{
	static nghttp2_mem mem = { NULL, mem_malloc, mem_free, mem_calloc, mem_realloc };

	return &mem;
}

void h2_mem_release(void)
{
	for (unsigned c = 0; c < CLASSES; c++) {
		while (free_list[c]) {
			union header *h = free_list[c];

			free_list[c] = h->next;
			free(h);
		}
		nfree[c] = 0;
	}
}
