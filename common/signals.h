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
void signals_release(struct signals *s, struct ev_loop *loop);

#endif
