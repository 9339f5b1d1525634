/* signals: SIGTERM/SIGINT (graceful stop) and SIGHUP hooks in a libev loop. */
#include "signals.h"

#include <signal.h>

#include "log.h"

static void signals_on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct signals *s = w->data;
	(void)loop;
	(void)revents;

	if (w->signum == SIGHUP) {
		if (s->on_hup) {
			log_info("reloading", "signal=HUP");
			s->on_hup(s->data);
		}
		return;
	}
	log_info("shutting down", "signal=%s", w->signum == SIGTERM ? "TERM" : "INT");
	s->on_stop(s->data);
}

void signals_init(struct signals *s, struct ev_loop *loop, signals_cb on_stop, signals_cb on_hup,
		  void *data)
{
	signal(SIGPIPE, SIG_IGN);
	s->on_stop = on_stop;
	s->on_hup = on_hup;
	s->data = data;
	ev_signal_init(&s->term, signals_on_signal, SIGTERM);
	ev_signal_init(&s->intr, signals_on_signal, SIGINT);
	ev_signal_init(&s->hup, signals_on_signal, SIGHUP);
	s->term.data = s->intr.data = s->hup.data = s;
	ev_signal_start(loop, &s->term);
	ev_signal_start(loop, &s->intr);
	ev_signal_start(loop, &s->hup);
	ev_unref(loop);
	ev_unref(loop);
	ev_unref(loop);
}

void signals_release(struct signals *s, struct ev_loop *loop)
{
	ev_ref(loop);
	ev_ref(loop);
	ev_ref(loop);
	ev_signal_stop(loop, &s->term);
	ev_signal_stop(loop, &s->intr);
	ev_signal_stop(loop, &s->hup);
	signals_exiting();
}

void signals_exiting(void)
{
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
}
