/* tls_watch: inotify on the directories of TLS files, in the loop (see tls_watch.h). */
#include "tls_watch.h"

#include <errno.h>
#include <sys/inotify.h>
#include <unistd.h>

/* A write finished, a rename into the folder (editors, a Kubernetes secret's
 * ..data swap), a file made, removed or given new permissions. */
#define TLS_WATCH_EVENTS                                                                       \
	(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_ATTRIB)

static void on_settled(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct tls_watch *w = t->data;
	(void)loop;
	(void)revents;

	w->changed(w->data);
}

static void on_inotify(struct ev_loop *loop, ev_io *io, int revents)
{
	struct tls_watch *w = io->data;
	char events[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	int any = 0;
	(void)revents;

	while (read(w->fd, events, sizeof(events)) > 0)
		any = 1;
	if (any) {
		w->settle.repeat = TLS_WATCH_SETTLE;
		ev_timer_again(loop, &w->settle);
	}
}

int tls_watch_start(struct tls_watch *w, struct ev_loop *loop, void (*changed)(void *data),
		    void *data)
{
	w->loop = loop;
	w->changed = changed;
	w->data = data;
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd == -1)
		return -1;
	ev_io_init(&w->io, on_inotify, w->fd, EV_READ);
	w->io.data = w;
	ev_init(&w->settle, on_settled);
	w->settle.data = w;
	ev_io_start(loop, &w->io);
	return 0;
}

int tls_watch_add(struct tls_watch *w, const char *dir)
{
	if (w->fd == -1) {
		errno = EBADF;
		return -1;
	}
	return inotify_add_watch(w->fd, dir, TLS_WATCH_EVENTS) == -1 ? -1 : 0;
}

void tls_watch_release(struct tls_watch *w)
{
	if (w->fd == -1)
		return;
	ev_io_stop(w->loop, &w->io);
	ev_timer_stop(w->loop, &w->settle);
	close(w->fd);
	w->fd = -1;
}
