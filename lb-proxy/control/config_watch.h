/* config_watch: watches lb-proxy's --config file (inotify on its folder, and
 * on its target's when it is a symlink: a Kubernetes ConfigMap's ..data swap)
 * and says when the file itself changed, after a moment of quiet. */
#ifndef LB_PROXY_CONFIG_WATCH_H
#define LB_PROXY_CONFIG_WATCH_H

#include <sys/stat.h>

#include "net/tls_watch.h"

struct config_watch {
	struct tls_watch dirs;		/* the inotify engine the TLS files use too */
	char path[512];			/* the file as given ("" when not watched) */
	struct stat seen;		/* what stat(path) said last (seen_ok) */
	int seen_ok;
	void (*changed)(void *data);
	void *data;
};

/*
 * Starts watching `path` in `loop`: `changed(data)` runs when stat(path)
 * differs from the last look (a write, a rename over it, a symlink swapped,
 * a removal), TLS_WATCH_SETTLE seconds after the last event, never for
 * other files of the folder. Returns 0, or -1 with err filled (the caller
 * warns: SIGHUP still reloads). cw->dirs.fd is -1 until started.
 */
int config_watch_start(struct config_watch *cw, struct ev_loop *loop, const char *path,
		       void (*changed)(void *data), void *data, char *err, size_t errsz);
/* Takes the file's present state as seen (a reload by SIGHUP read it). */
void config_watch_mark(struct config_watch *cw);
void config_watch_release(struct config_watch *cw);

#endif
