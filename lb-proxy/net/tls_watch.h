/* tls_watch: watches the directories of certificate, key and ticket key files
 * with inotify in the event loop, and says when something in them changed. */
#ifndef LB_PROXY_TLS_WATCH_H
#define LB_PROXY_TLS_WATCH_H

#include <ev.h>

/* Directories watched at once. */
#define TLS_WATCH_DIRS_MAX 300
/* Seconds of quiet after a change before it is reported: a cert and its key
 * written one after the other are reloaded once, as a pair. */
#define TLS_WATCH_SETTLE 0.1

struct tls_watch {
	struct ev_loop *loop;
	int fd;				/* inotify, or -1 */
	ev_io io;
	ev_timer settle;
	void (*changed)(void *data);
	void *data;
};

/* Starts watching (no directory yet). Returns 0, or -1 with errno. */
int tls_watch_start(struct tls_watch *w, struct ev_loop *loop, void (*changed)(void *data),
		    void *data);
/* Adds dir to the watched ones (again is harmless: a Kubernetes secret
 * folder that came later is added after the reload it caused). Returns 0,
 * or -1 with errno. */
int tls_watch_add(struct tls_watch *w, const char *dir);
void tls_watch_release(struct tls_watch *w);

#endif
