/* exchange_pool: the free list of request parsers (see exchange_pool.h). */
#include "exchange_pool.h"

#include <stdlib.h>

#include "mirror.h"
#include "routing.h"

/* A session's `out` larger than this (a dechunked body grew it) is freed,
 * not pooled with the exchange. */
#define OUT_KEEP_BYTES (16 * 1024)

static struct exchange *exchange_pool;
static unsigned exchange_pooled;

/* The per-request fields a request's handling reads before it sets them. */
static void exchange_reset(struct exchange *x)
{
	x->uparse_off = x->usend_off = x->body_start = 0;
	x->retries = 0;
	x->refusal = NULL;
	x->sticky_insert = NULL;
	x->started = 0;
	x->bytes_out = x->body_bytes = 0;
	x->request_id_len = 0;
	x->target[0] = '\0';
	x->cors.kind = CORS_NONE;
	x->cors.allowed = 0;
}

int exchange_pool_take(struct session *s)
{
	struct exchange *x = exchange_pool;

	if (x) {
		exchange_pool = x->next;
		exchange_pooled--;
	} else {
		x = malloc(sizeof(*x));
		if (!x)
			return -1;
		routing_exchange_init(x);
		buf_init(&x->out_store);
		buf_init(&x->up_head);
		buf_init(&x->uin);
	}
	exchange_reset(x);
	/* lent: an idle session gave its `out` back with its last exchange */
	if (s->out.cap == 0 && x->out_store.cap != 0) {
		s->out = x->out_store;
		buf_init(&x->out_store);
	}
	s->x = x;
	return 0;
}

static void exchange_free(struct exchange *x)
{
	buf_release(&x->rewritten);
	buf_release(&x->out_store);
	buf_release(&x->up_head);
	buf_release(&x->uin);
	free(x);
}

void exchange_pool_give(struct session *s)
{
	struct exchange *x = s->x;

	if (!x)
		return;
	s->x = NULL;
	/* an idle connection keeps no backend-side buffers */
	buf_cache_give(&x->uin);
	buf_cache_give(&x->up_head);
	mirror_exchange_done(x);
	routing_exchange_done(x);
	/* `out` goes with it: it is written whole (or the session closes) */
	if (x->out_store.cap == 0 && s->out.cap != 0) {
		if (s->out.cap > OUT_KEEP_BYTES) {
			buf_release(&s->out);
		} else {
			x->out_store = s->out;
			buf_reset(&x->out_store);
			buf_init(&s->out);
		}
	}
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
