/* upstream: connections to backends, and the keep-alive pool each backend keeps. */
#include "upstream.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

static struct ev_loop *up_loop;
static struct upstream_limits up_limits;
static unsigned open_count;

static void pool_remove(struct upstream *u)
{
	struct backend *b = u->be;

	if (u->prev)
		u->prev->next = u->next;
	else
		b->idle = u->next;
	if (u->next)
		u->next->prev = u->prev;
	u->prev = u->next = NULL;
	b->nidle--;
}

void upstream_close(struct upstream *u)
{
	if (!u->owner && (u->prev || u->be->idle == u))
		pool_remove(u);
	ev_io_stop(up_loop, &u->rio);
	ev_io_stop(up_loop, &u->wio);
	ev_timer_stop(up_loop, &u->timer);
	close(u->fd);
	open_count--;
	u->be->connections--;
	backend_unref(u->be);
	free(u);
}

static void close_idle(struct backend *b)
{
	while (b->idle)
		upstream_close(b->idle);
}

/* Anything readable on a pooled connection is a close or junk: drop it. */
static void pool_on_read(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	upstream_close(w->data);
}

static void pool_on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	upstream_close(w->data);
}

void upstream_setup(struct ev_loop *loop, const struct upstream_limits *limits)
{
	up_loop = loop;
	up_limits = *limits;
	backend_close_idle = close_idle;
}

unsigned upstream_open_count(void)
{
	return open_count;
}

struct upstream *upstream_connect(struct backend *b)
{
	struct upstream *u;
	int fd = socket(b->addr.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd == -1)
		return NULL;
	if (connect(fd, (struct sockaddr *)&b->addr.ss, b->addr.len) == -1 && errno != EINPROGRESS) {
		int saved = errno;

		close(fd);
		errno = saved;
		return NULL;
	}
	net_set_nodelay(fd);
	u = calloc(1, sizeof(*u));
	if (!u) {
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	u->fd = fd;
	u->be = b;
	u->loop = up_loop;
	backend_ref(b);
	b->connections++;
	open_count++;
	ev_io_init(&u->rio, pool_on_read, fd, EV_READ);
	ev_io_init(&u->wio, pool_on_read, fd, EV_WRITE);
	ev_init(&u->timer, pool_on_timer);
	u->rio.data = u->wio.data = u->timer.data = u;
	return u;
}

struct upstream *upstream_pool_get(struct backend *b)
{
	struct upstream *u = b->idle;

	if (!u)
		return NULL;
	pool_remove(u);
	ev_io_stop(up_loop, &u->rio);
	ev_timer_stop(up_loop, &u->timer);
	return u;
}

void upstream_pool_put(struct upstream *u, int stopping)
{
	struct backend *b = u->be;

	ev_io_stop(up_loop, &u->rio);
	ev_io_stop(up_loop, &u->wio);
	u->owner = NULL;
	if (stopping || b->removed || b->state != BACKEND_UP || b->nidle >= up_limits.pool_size) {
		upstream_close(u);
		return;
	}
	ev_set_cb(&u->rio, pool_on_read);
	ev_set_cb(&u->wio, pool_on_read);
	u->rio.data = u->wio.data = u;
	ev_io_start(up_loop, &u->rio);
	u->timer.repeat = up_limits.idle_timeout;
	ev_timer_again(up_loop, &u->timer);
	u->prev = NULL;
	u->next = b->idle;
	if (b->idle)
		b->idle->prev = u;
	b->idle = u;
	b->nidle++;
}
