/* accept: client connections and the pool of sessions (see accept.h). */
#include "accept.h"

#include <malloc.h>
#include <stdlib.h>
#include <unistd.h>

#include "exchange_pool.h"
#include "h2_conn.h"
#include "h2_stream.h"
#include "log.h"
#include "session.h"
#include "upstream/upstream.h"

#define SESSION_POOL_MAX 4096
/* Every TRIM_SECONDS the caches of closed sessions, parsers and read blocks
 * are cut to what the busiest moment since the last trim could use again
 * (at least TRIM_FLOOR each), and the freed memory goes back to the system:
 * a peak of connections does not keep its memory for good. */
#define TRIM_SECONDS 2.0
#define TRIM_FLOOR 64
#define POOL_KEEP_BYTES (64 * 1024)

unsigned accept_reclaim_descriptors(void *data)
{
	(void)data;
	return upstream_pool_shed(8);
}

void accept_update(struct proxy *px)
{
	int full = px->nsessions >= (unsigned)px->opts->max_connections;

	if (px->stopping)
		return;
	if (full && !px->accept_paused) {
		static struct log_limit limit;
		unsigned long n = log_every(&limit, ev_now(px->loop), 1.0);

		for (unsigned i = 0; i < px->nlisteners; i++)
			listener_stop(&px->listeners[i].l);
		px->accept_paused = 1;
		if (n)
			log_warn("max connections reached: not accepting", "max_connections=%ld times=%lu",
				 px->opts->max_connections, n);
	} else if (!full && px->accept_paused) {
		for (unsigned i = 0; i < px->nlisteners; i++)
			listener_start(&px->listeners[i].l);
		px->accept_paused = 0;
	}
}

/* A session from the pool (or a new one), counted as open; NULL out of memory. */
static struct session *session_take(struct proxy *px)
{
	struct session *s = px->free_sessions;

	if (s) {
		px->free_sessions = s->next_free;
		px->nfree--;
	} else {
		s = calloc(1, sizeof(*s));
		if (!s)
			return NULL;
	}
	LIST_INSERT_HEAD(&px->sessions, s, link);
	if (++px->nsessions > px->peak_sessions)
		px->peak_sessions = px->nsessions;
	return s;
}

/* A session for an HTTP/2 stream: counted against --max-connections as a
 * connection is (each holds a backend connection), refused beyond. */
static struct session *stream_session_take(struct proxy *px)
{
	struct session *s;

	if (px->nsessions >= (unsigned)px->opts->max_connections)
		return NULL;
	s = session_take(px);
	accept_update(px);
	return s;
}

void accept_on_accept(struct listener *l, int fd, const struct sockaddr *peer)
{
	struct proxy *px = l->data;
	struct session *s = session_take(px);

	if (!s) {
		log_error("out of memory for a connection", NULL);
		close(fd);
		return;
	}
	px->metrics.accepted++;
	session_open(px, s, fd, peer, (const struct proxy_listener *)l);
	accept_update(px);
}

static void session_free(struct session *s)
{
	buf_release(&s->in);
	buf_release(&s->out);
	free(s);
}

static void on_trim(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct proxy *px = w->data;
	unsigned spare = px->peak_sessions > px->nsessions ? px->peak_sessions - px->nsessions : 0;
	size_t freed;
	(void)loop;
	(void)revents;

	if (spare < TRIM_FLOOR)
		spare = TRIM_FLOOR;
	px->peak_sessions = px->nsessions;
	freed = exchange_pool_trim(spare, 2 * (size_t)spare);
	while (px->nfree > spare) {
		struct session *s = px->free_sessions;

		px->free_sessions = s->next_free;
		px->nfree--;
		session_free(s);
		freed++;
	}
	if (freed)
		malloc_trim(0);
}

static void shrink(struct buf *b)
{
	if (b->cap > POOL_KEEP_BYTES)
		buf_release(b);
}

static void session_closed(struct proxy *px, struct session *s)
{
	LIST_REMOVE(s, link);
	px->nsessions--;
	if (px->nfree < SESSION_POOL_MAX && !px->stopping) {
		shrink(&s->in);
		shrink(&s->out);
		s->next_free = px->free_sessions;
		px->free_sessions = s;
		px->nfree++;
	} else {
		session_free(s);
	}
	if (px->stopping && px->nsessions == 0)
		ev_break(px->loop, EVBREAK_ALL);
	accept_update(px);
}

static void on_drain_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct proxy *px = w->data;
	(void)revents;

	log_warn("drain timeout: closing remaining connections", "connections=%u", px->nsessions);
	while (!LIST_EMPTY(&px->sessions))
		session_close(LIST_FIRST(&px->sessions));
	ev_break(loop, EVBREAK_ALL);
}

void accept_init(struct proxy *px)
{
	LIST_INIT(&px->sessions);
	px->session_closed = session_closed;
	h2_conn_setup(stream_session_take);
}

void accept_start(struct proxy *px)
{
	ev_timer_init(&px->drain_timer, on_drain_timeout, px->opts->drain_timeout, 0);
	px->drain_timer.data = px;
	ev_timer_init(&px->trim_timer, on_trim, TRIM_SECONDS, TRIM_SECONDS);
	px->trim_timer.data = px;
	ev_timer_start(px->loop, &px->trim_timer);
}

void accept_release(struct proxy *px)
{
	struct session *s;

	while (!LIST_EMPTY(&px->sessions))
		session_close(LIST_FIRST(&px->sessions));
	while ((s = px->free_sessions) != NULL) {
		px->free_sessions = s->next_free;
		session_free(s);
	}
	ev_timer_stop(px->loop, &px->drain_timer);
	ev_timer_stop(px->loop, &px->trim_timer);
	exchange_pool_release();
	h2_stream_pool_release();
}
