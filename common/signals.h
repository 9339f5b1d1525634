/* signals: SIGTERM/SIGINT (graceful stop) and SIGHUP hooks in a libev loop. */
#ifndef LB_SIGNALS_H
#define LB_SIGNALS_H

#include <ev.h>

typedef void (*signals_cb)(void *data);

struct signals {
	ev_signal term, intr, hup;
	signals_cb on_stop, on_hup;
	void *data;
};

/* Starts the watchers (on_hup may be NULL) and ignores SIGPIPE; the
 * watchers do not keep the loop alive. */
void signals_init(struct signals *s, struct ev_loop *loop, signals_cb on_stop, signals_cb on_hup,
		  void *data);
/* Stops the watchers; the process is exiting, so signals_exiting() too. */
void signals_release(struct signals *s, struct ev_loop *loop);
/* Ignores SIGTERM, SIGINT and SIGHUP from here on: stopping a watcher
 * restores the default action, and a repeated SIGTERM (a supervisor's
 * retry, a kill loop) would otherwise kill a process that is releasing
 * what it holds and flushing its log on its way to exit 0. */
void signals_exiting(void);

#endif
