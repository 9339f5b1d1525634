/* curl_ev: libcurl's multi-socket interface driven by a libev loop. */
#include "curl_ev.h"

#include <stdlib.h>
#include <sys/queue.h>

struct transfer {
	CURL *easy;
	curl_ev_done_cb done;
	void *data;
	LIST_ENTRY(transfer) link;
};

struct curl_ev {
	struct ev_loop *loop;
	CURLM *multi;
	ev_timer timer;			/* libcurl's own timeouts */
	LIST_HEAD(, transfer) transfers;
};

/* One watcher per socket libcurl asks to watch. */
struct sock_watch {
	ev_io io;
	struct curl_ev *c;
};

static void finish_done(struct curl_ev *c)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(c->multi, &left)) != NULL) {
		struct transfer *t = NULL;
		CURL *easy = msg->easy_handle;
		CURLcode result = msg->data.result;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&t);
		curl_multi_remove_handle(c->multi, easy);
		LIST_REMOVE(t, link);
		/* the callback may add transfers: call it last */
		{
			curl_ev_done_cb done = t->done;
			void *data = t->data;

			free(t);
			done(easy, result, data);
		}
	}
}

static void on_sock(struct ev_loop *loop, ev_io *w, int revents)
{
	/* The action may free the watcher (CURL_POLL_REMOVE): keep c first. */
	struct curl_ev *c = ((struct sock_watch *)w)->c;
	int running, flags = (revents & EV_READ ? CURL_CSELECT_IN : 0) |
			     (revents & EV_WRITE ? CURL_CSELECT_OUT : 0);
	(void)loop;

	curl_multi_socket_action(c->multi, w->fd, flags, &running);
	finish_done(c);
}

static int socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct curl_ev *c = userp;
	struct sock_watch *sw = socketp;
	(void)easy;

	if (what == CURL_POLL_REMOVE) {
		if (sw) {
			ev_io_stop(c->loop, &sw->io);
			free(sw);
			curl_multi_assign(c->multi, s, NULL);
		}
		return 0;
	}
	if (!sw) {
		sw = calloc(1, sizeof(*sw));
		if (!sw)
			return -1;
		sw->c = c;
		curl_multi_assign(c->multi, s, sw);
	} else {
		ev_io_stop(c->loop, &sw->io);
	}
	ev_io_init(&sw->io, on_sock, s,
		   (what & CURL_POLL_IN ? EV_READ : 0) | (what & CURL_POLL_OUT ? EV_WRITE : 0));
	ev_io_start(c->loop, &sw->io);
	return 0;
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct curl_ev *c = w->data;
	int running;
	(void)loop;
	(void)revents;

	curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	finish_done(c);
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct curl_ev *c = userp;
	(void)multi;

	ev_timer_stop(c->loop, &c->timer);
	if (timeout_ms >= 0) {
		ev_timer_set(&c->timer, (double)timeout_ms / 1000.0, 0);
		ev_timer_start(c->loop, &c->timer);
	}
	return 0;
}

struct curl_ev *curl_ev_new(struct ev_loop *loop)
{
	struct curl_ev *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || !(c->multi = curl_multi_init())) {
		free(c);
		return NULL;
	}
	c->loop = loop;
	LIST_INIT(&c->transfers);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	ev_init(&c->timer, on_timer);
	c->timer.data = c;
	return c;
}

int curl_ev_add(struct curl_ev *c, CURL *easy, curl_ev_done_cb done, void *data)
{
	struct transfer *t = calloc(1, sizeof(*t));

	if (!t)
		return -1;
	t->easy = easy;
	t->done = done;
	t->data = data;
	curl_easy_setopt(easy, CURLOPT_PRIVATE, t);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	if (curl_multi_add_handle(c->multi, easy) != CURLM_OK) {
		free(t);
		return -1;
	}
	LIST_INSERT_HEAD(&c->transfers, t, link);
	return 0;
}

void curl_ev_remove(struct curl_ev *c, CURL *easy)
{
	struct transfer *t = NULL;

	curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&t);
	if (!t)
		return;
	curl_multi_remove_handle(c->multi, easy);
	LIST_REMOVE(t, link);
	free(t);
	curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
}

void curl_ev_free(struct curl_ev *c)
{
	if (!c)
		return;
	while (!LIST_EMPTY(&c->transfers)) {
		struct transfer *t = LIST_FIRST(&c->transfers);

		curl_multi_remove_handle(c->multi, t->easy);
		LIST_REMOVE(t, link);
		free(t);
	}
	ev_timer_stop(c->loop, &c->timer);
	curl_multi_cleanup(c->multi);
	curl_global_cleanup();
	free(c);
}
