/* file_watch: a file's changes through inotify on its folder (see
 * file_watch.h). */
#include "sources/file_watch.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

static void on_inotify(struct ev_loop *loop, ev_io *io, int revents)
{
	struct file_watch *w = io->data;
	char events[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	int relevant = 0;
	ssize_t n;
	(void)loop;
	(void)revents;

	while ((n = read(w->ifd, events, sizeof(events))) > 0) {
		for (char *p = events; p < events + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;

			/* a mounted ConfigMap swaps its "..data" link */
			if (ev->len && (strcmp(ev->name, w->name) == 0 ||
					strcmp(ev->name, "..data") == 0))
				relevant = 1;
			p += sizeof(*ev) + ev->len;
		}
	}
	if (relevant)
		w->changed(w->data);
}

int file_watch_init(struct file_watch *w, struct ev_loop *loop, const char *path,
		    file_watch_cb changed, void *data, char *err, size_t errsz)
{
	char dir[512], base[512];

	memset(w, 0, sizeof(*w));
	w->loop = loop;
	w->changed = changed;
	w->data = data;
	snprintf(dir, sizeof(dir), "%s", path);
	snprintf(base, sizeof(base), "%s", path);
	snprintf(w->name, sizeof(w->name), "%s", basename(base));
	w->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->ifd == -1 || inotify_add_watch(w->ifd, dirname(dir), IN_CLOSE_WRITE | IN_MOVED_TO |
					      IN_CREATE | IN_DELETE) == -1) {
		snprintf(err, errsz, "cannot watch %s: %s", path, strerror(errno));
		if (w->ifd != -1)
			close(w->ifd);
		w->ifd = -1;
		return -1;
	}
	ev_io_init(&w->io, on_inotify, w->ifd, EV_READ);
	w->io.data = w;
	return 0;
}

void file_watch_run(struct file_watch *w)
{
	ev_io_start(w->loop, &w->io);
}

void file_watch_release(struct file_watch *w)
{
	if (w->ifd == -1)
		return;
	ev_io_stop(w->loop, &w->io);
	close(w->ifd);
	w->ifd = -1;
}
