/* queue: requests waiting for a backend with room (see queue.h). */
#include "queue.h"

int queue_enter(struct session *s, int front)
{
	struct proxy *px = s->px;
	struct exchange *x = s->x;
	double wait = px->opts->queue_timeout;

	if (front) {
		wait -= ev_now(px->loop) - x->queued_at;
		if (wait < 0.001)
			wait = 0.001;	/* its time is up: the timer says so at once */
		TAILQ_INSERT_HEAD(&px->queue, x, queue_link);
	} else {
		if (px->metrics.queue_length >= (unsigned)px->opts->queue_size)
			return -1;
		x->queued_at = ev_now(px->loop);
		TAILQ_INSERT_TAIL(&px->queue, x, queue_link);
	}
	x->queued_session = s;
	x->queue_woken = 0;
	s->queued = 1;
	px->metrics.queue_length++;
	s->state = SESSION_QUEUED;
	session_set_timer(s, wait);
	return 0;
}

/* Takes s's exchange off the queue and counts its wait. */
static void unlink_queued(struct session *s)
{
	struct proxy *px = s->px;

	TAILQ_REMOVE(&px->queue, s->x, queue_link);
	s->queued = 0;
	px->metrics.queue_length--;
	histogram_observe(&px->metrics.queue_wait, ev_now(px->loop) - s->x->queued_at);
}

int queue_take(struct session *s)
{
	unlink_queued(s);
	return s->x->queue_woken;
}

void queue_leave(struct session *s)
{
	int woken = s->x->queue_woken;

	unlink_queued(s);
	if (woken)
		queue_wake(s->px);
}

void queue_wake(struct proxy *px)
{
	struct exchange *x;

	TAILQ_FOREACH(x, &px->queue, queue_link) {
		if (!x->queue_woken) {
			x->queue_woken = 1;
			ev_feed_event(px->loop, &x->queued_session->timer, EV_TIMER);
			return;
		}
	}
}

void queue_wake_room(struct proxy *px)
{
	unsigned room = 0, max = (unsigned)px->opts->max_per_backend;
	double now = ev_now(px->loop);
	int panic = balancer_panic(&px->balancer, &px->set, now);

	for (size_t i = 0; i < px->set.n; i++) {
		const struct backend *b = px->set.items[i];

		if ((balance_takes(b, panic, now) || b->state == BACKEND_DRAINING) &&
		    b->active < max)
			room += max - b->active;
	}
	for (unsigned i = 0; i < room && i < px->metrics.queue_length; i++)
		queue_wake(px);
}
