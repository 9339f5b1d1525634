/* tcp_accept: TCP mode's connections and their pool (see tcp_accept.h). */
#include "tcp_accept.h"

#include <malloc.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"
#include "tcp_session.h"

/* The last connection after a stop: the loop ends, or the owner hears it. */
static void drained(struct tcp_proxy *tp)
{
	if (tp->drained)
		tp->drained(tp->route_data);
	else
		ev_break(tp->loop, EVBREAK_ALL);
}

/* Pauses the listeners at max_connections, resumes them below. */
static void update(struct tcp_proxy *tp)
{
	int full = tp->nsessions >= tp->cfg.max_connections;

	if (tp->stopping || full == tp->paused)
		return;
	tp->paused = full;
	for (unsigned i = 0; i < tp->nlisteners; i++) {
		if (full)
			listener_stop(tp->listeners[i]);
		else if (listener_start(tp->listeners[i]) == -1)
			tp->paused = 1;	/* logged; tried again at the next close */
	}
	if (full)
		log_warn("at --max-connections: accepting paused", "connections=%u",
			 tp->nsessions);
}

static void session_free(struct tcp_session *s)
{
	buf_release(&s->up.buf);
	buf_release(&s->down.buf);
	free(s);
}

/* Every TCP_TRIM_SECONDS: free sessions (and their buffers) beyond what the
 * last period's peak left unused are given back. */
static void on_trim(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct tcp_proxy *tp = w->data;
	unsigned spare = tp->peak_sessions - tp->nsessions;
	(void)loop;
	(void)revents;

	if (spare < TCP_TRIM_FLOOR)
		spare = TCP_TRIM_FLOOR;
	tp->peak_sessions = tp->nsessions;
	if (tp->nfree <= spare)
		return;
	while (tp->nfree > spare) {
		struct tcp_session *s = tp->free_sessions;

		tp->free_sessions = s->next_free;
		tp->nfree--;
		session_free(s);
	}
	malloc_trim(0);		/* the heap's free pages back to the system, as HTTP mode's trim */
}

static void on_drain_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct tcp_proxy *tp = w->data;
	(void)revents;

	log_warn("drain timeout: closing remaining connections", "connections=%u", tp->nsessions);
	while (!LIST_EMPTY(&tp->sessions))
		tcp_session_close(LIST_FIRST(&tp->sessions), "drain timeout");
	drained(tp);
	(void)loop;
}

void tcp_accept_init(struct tcp_proxy *tp, struct ev_loop *loop)
{
	tp->loop = loop;
	LIST_INIT(&tp->sessions);
	tp->session_close = tcp_session_close;
	tp->session_closed = tcp_accept_closed;
	ev_init(&tp->drain_timer, on_drain_timeout);
	tp->drain_timer.data = tp;
	ev_timer_init(&tp->trim_timer, on_trim, TCP_TRIM_SECONDS, TCP_TRIM_SECONDS);
	tp->trim_timer.data = tp;
	ev_timer_start(loop, &tp->trim_timer);
}

int tcp_accept_add_listener(struct tcp_proxy *tp, struct listener *l)
{
	if (tp->nlisteners == TCP_LISTEN_MAX)
		return -1;
	l->on_accept = tcp_accept_on_accept;
	l->data = tp;
	l->reclaim = NULL;	/* TCP mode pools no backend connection */
	tp->listeners[tp->nlisteners++] = l;
	return 0;
}

void tcp_accept_on_accept(struct listener *l, int fd, const struct sockaddr *peer)
{
	struct tcp_proxy *tp = l->data;

	tcp_accept_take(tp, fd, peer, tp->cfg.inspect_sni, NULL, 0);
}

void tcp_accept_take(struct tcp_proxy *tp, int fd, const struct sockaddr *peer, int inspect_sni,
		     void *held, unsigned port)
{
	struct tcp_session *s = tp->free_sessions;

	if (tp->stopping || (tp->nlisteners == 0 && tp->nsessions >= tp->cfg.max_connections)) {
		/* without listeners of its own (a routed port's connections come
		 * from HTTP's), --max-connections closes instead of pausing */
		if (!tp->stopping)
			tp->metrics.no_backend++;
		if (held && tp->release)
			tp->release(tp->route_data, held);
		close(fd);
		return;
	}
	if (s) {
		tp->free_sessions = s->next_free;
		tp->nfree--;
	} else {
		s = calloc(1, sizeof(*s));
		if (!s) {
			log_error("out of memory for a connection: closed", NULL);
			if (held && tp->release)
				tp->release(tp->route_data, held);
			close(fd);
			return;
		}
	}
	LIST_INSERT_HEAD(&tp->sessions, s, link);
	tp->nsessions++;
	if (tp->nsessions > tp->peak_sessions)
		tp->peak_sessions = tp->nsessions;
	tp->metrics.accepted++;
	tcp_session_open(tp, s, fd, peer, inspect_sni, held, port);
	update(tp);
}

void tcp_accept_closed(struct tcp_proxy *tp, struct tcp_session *s)
{
	LIST_REMOVE(s, link);
	tp->nsessions--;
	if (tp->nfree < TCP_FREE_MAX) {
		s->next_free = tp->free_sessions;
		tp->free_sessions = s;
		tp->nfree++;
	} else {
		session_free(s);
	}
	if (tp->stopping && tp->nsessions == 0) {
		ev_timer_stop(tp->loop, &tp->drain_timer);
		drained(tp);
	}
	update(tp);
}

void tcp_accept_stop(struct tcp_proxy *tp)
{
	struct tcp_session *s, *next;

	if (tp->stopping)
		return;
	tp->stopping = 1;
	for (s = LIST_FIRST(&tp->sessions); s; s = next) {
		next = LIST_NEXT(s, link);
		if (tcp_session_idle(s))
			tcp_session_close(s, "stopping");
	}
	if (tp->nsessions == 0) {
		drained(tp);
		return;
	}
	log_info("draining", "connections=%u timeout_s=%g", tp->nsessions, tp->cfg.drain_timeout);
	ev_timer_set(&tp->drain_timer, tp->cfg.drain_timeout, 0);
	ev_timer_start(tp->loop, &tp->drain_timer);
}

void tcp_accept_release(struct tcp_proxy *tp)
{
	struct tcp_session *s;

	tp->stopping = 1;
	while (!LIST_EMPTY(&tp->sessions))
		tcp_session_close(LIST_FIRST(&tp->sessions), "exit");
	while ((s = tp->free_sessions) != NULL) {
		tp->free_sessions = s->next_free;
		session_free(s);
	}
	tp->nfree = 0;
	if (tp->loop) {
		ev_timer_stop(tp->loop, &tp->drain_timer);
		ev_timer_stop(tp->loop, &tp->trim_timer);
	}
}
