/* exchange_pool: the free list of request parsers (see exchange_pool.h). */
#include "exchange_pool.h"

#include <stdlib.h>

#include "mirror.h"
#include "routing.h"

static struct exchange *exchange_pool;
static unsigned exchange_pooled;

struct exchange *exchange_pool_take(void)
{
	struct exchange *x = exchange_pool;

	if (x) {
		exchange_pool = x->next;
		exchange_pooled--;
		return x;
	}
	x = malloc(sizeof(*x));
	if (x)
		routing_exchange_init(x);
	return x;
}

static void exchange_free(struct exchange *x)
{
	buf_release(&x->rewritten);
	free(x);
}

void exchange_pool_give(struct session *s)
{
	struct exchange *x = s->x;

	if (!x)
		return;
	s->x = NULL;
	mirror_exchange_done(x);
	routing_exchange_done(x);
	if (exchange_pooled >= EXCHANGE_POOL_MAX) {
		exchange_free(x);
		return;
	}
	x->next = exchange_pool;
	exchange_pool = x;
	exchange_pooled++;
}

size_t exchange_pool_trim(unsigned exchanges, size_t blocks)
{
	size_t freed = 0;

	while (exchange_pooled > exchanges) {
		struct exchange *x = exchange_pool;

		exchange_pool = x->next;
		exchange_pooled--;
		exchange_free(x);
		freed++;
	}
	return freed + buf_cache_trim(blocks);
}

void exchange_pool_release(void)
{
	exchange_pool_trim(0, 0);
}
