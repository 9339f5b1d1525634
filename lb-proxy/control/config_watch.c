/* config_watch: inotify on the --config file's folder (see config_watch.h). */
#include "config_watch.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int same_file_state(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

void config_watch_mark(struct config_watch *cw)
{
	if (cw->path[0])
		cw->seen_ok = stat(cw->path, &cw->seen) == 0;
}

/* Something in a watched folder changed: the file, or only a neighbour. */
static void on_folder_changed(void *data)
{
	struct config_watch *cw = data;
	struct stat now;
	int ok = stat(cw->path, &now) == 0;

	if (ok == cw->seen_ok && (!ok || same_file_state(&now, &cw->seen)))
		return;
	cw->seen = now;
	cw->seen_ok = ok;
	cw->changed(cw->data);
}

static int watch_folder_of(struct config_watch *cw, const char *file, char *err, size_t errsz)
{
	char copy[PATH_MAX];

	snprintf(copy, sizeof(copy), "%s", file);
	if (tls_watch_add(&cw->dirs, dirname(copy)) == -1) {
		snprintf(err, errsz, "cannot watch the folder of %s: %s", file, strerror(errno));
		return -1;
	}
	return 0;
}

int config_watch_start(struct config_watch *cw, struct ev_loop *loop, const char *path,
		       void (*changed)(void *data), void *data, char *err, size_t errsz)
{
	char real[PATH_MAX];

	cw->changed = changed;
	cw->data = data;
	snprintf(cw->path, sizeof(cw->path), "%s", path);
	if (tls_watch_start(&cw->dirs, loop, on_folder_changed, cw) == -1) {
		snprintf(err, errsz, "inotify: %s", strerror(errno));
		cw->path[0] = '\0';
		return -1;
	}
	if (watch_folder_of(cw, path, err, errsz) == -1 ||
	    (realpath(path, real) && strcmp(real, path) != 0 &&
	     watch_folder_of(cw, real, err, errsz) == -1)) {
		config_watch_release(cw);
		return -1;
	}
	config_watch_mark(cw);
	return 0;
}

void config_watch_release(struct config_watch *cw)
{
	if (!cw->path[0])
		return;
	tls_watch_release(&cw->dirs);
	cw->path[0] = '\0';
}
