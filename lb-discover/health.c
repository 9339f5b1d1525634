/* health: active HTTP health checks with libcurl's multi-socket interface in libev. */
#include "health.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

struct check {
	char address[BUS_ADDRESS_MAX];
	CURL *easy;
	struct check *next;
};

struct health {
	struct ev_loop *loop;
	struct registry *reg;
	struct health_options opts;
	health_change_cb on_change;
	void *data;
	CURLM *multi;
	ev_timer round;		/* starts a round of checks every interval */
	ev_timer curl_timer;	/* libcurl's own timeouts */
	struct check *running;
};

/* One watcher per socket libcurl asks us to watch. */
struct sock_watch {
	ev_io io;
	struct health *h;
};

static size_t write_nothing(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	(void)ptr;
	(void)userdata;
	return size * nmemb;
}

static void record(struct health *h, struct check *c, CURLcode code)
{
	struct entry *e = registry_find(h->reg, c->address);
	long status = 0;
	int ok;
	char why[BUS_NAME_MAX];

	curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
	ok = code == CURLE_OK && status >= 200 && status < 400;
	if (!e)
		return;
	if (ok) {
		e->fall_count = 0;
		if (!e->healthy && ++e->rise_count >= h->opts.rise) {
			e->healthy = 1;
			e->rise_count = 0;
			e->health_reason[0] = '\0';
			log_info("backend up", "address=%s", e->address);
			h->on_change(h->data);
		}
		return;
	}
	e->rise_count = 0;
	if (code != CURLE_OK)
		snprintf(why, sizeof(why), "health check: %s", curl_easy_strerror(code));
	else
		snprintf(why, sizeof(why), "health check: HTTP %ld", status);
	if (e->healthy && ++e->fall_count >= h->opts.fall) {
		e->healthy = 0;
		e->fall_count = 0;
		snprintf(e->health_reason, sizeof(e->health_reason), "%s", why);
		log_warn("backend down", "address=%s reason=\"%s\"", e->address, why);
		h->on_change(h->data);
	}
}

static void finish_done(struct health *h)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(h->multi, &left)) != NULL) {
		struct check *c = NULL, **pp;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
		record(h, c, msg->data.result);
		curl_multi_remove_handle(h->multi, c->easy);
		curl_easy_cleanup(c->easy);
		for (pp = &h->running; *pp; pp = &(*pp)->next) {
			if (*pp == c) {
				*pp = c->next;
				break;
			}
		}
		free(c);
	}
}

static void on_sock(struct ev_loop *loop, ev_io *w, int revents)
{
	/* The action may free the watcher (CURL_POLL_REMOVE): keep h first. */
	struct health *h = ((struct sock_watch *)w)->h;
	int running, flags = (revents & EV_READ ? CURL_CSELECT_IN : 0) |
			     (revents & EV_WRITE ? CURL_CSELECT_OUT : 0);
	(void)loop;

	curl_multi_socket_action(h->multi, w->fd, flags, &running);
	finish_done(h);
}

static int socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct health *h = userp;
	struct sock_watch *sw = socketp;
	(void)easy;

	if (what == CURL_POLL_REMOVE) {
		if (sw) {
			ev_io_stop(h->loop, &sw->io);
			free(sw);
			curl_multi_assign(h->multi, s, NULL);
		}
		return 0;
	}
	if (!sw) {
		sw = calloc(1, sizeof(*sw));
		if (!sw)
			return -1;
		sw->h = h;
		curl_multi_assign(h->multi, s, sw);
	} else {
		ev_io_stop(h->loop, &sw->io);
	}
	ev_io_init(&sw->io, on_sock, s,
		   (what & CURL_POLL_IN ? EV_READ : 0) | (what & CURL_POLL_OUT ? EV_WRITE : 0));
	ev_io_start(h->loop, &sw->io);
	return 0;
}

static void on_curl_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct health *h = w->data;
	int running;
	(void)loop;
	(void)revents;

	curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	finish_done(h);
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct health *h = userp;
	(void)multi;

	ev_timer_stop(h->loop, &h->curl_timer);
	if (timeout_ms >= 0) {
		ev_timer_set(&h->curl_timer, (double)timeout_ms / 1000.0, 0);
		ev_timer_start(h->loop, &h->curl_timer);
	}
	return 0;
}

static int running_for(const struct health *h, const char *address)
{
	for (const struct check *c = h->running; c; c = c->next)
		if (strcmp(c->address, address) == 0)
			return 1;
	return 0;
}

static void start_check(struct health *h, const struct entry *e)
{
	struct check *c = calloc(1, sizeof(*c));
	char url[BUS_ADDRESS_MAX + 256];

	if (!c || !(c->easy = curl_easy_init())) {
		free(c);
		return;
	}
	snprintf(c->address, sizeof(c->address), "%s", e->address);
	snprintf(url, sizeof(url), "http://%s%s", e->address, h->opts.path);
	curl_easy_setopt(c->easy, CURLOPT_URL, url);
	curl_easy_setopt(c->easy, CURLOPT_PRIVATE, c);
	curl_easy_setopt(c->easy, CURLOPT_TIMEOUT_MS, (long)(h->opts.timeout * 1000));
	curl_easy_setopt(c->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->easy, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c->easy, CURLOPT_USERAGENT, "lb-discover health check");
	curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, write_nothing);
	/* a fresh connection each time: a check must see the backend as a new
	 * client would */
	curl_easy_setopt(c->easy, CURLOPT_FORBID_REUSE, 1L);
	c->next = h->running;
	h->running = c;
	curl_multi_add_handle(h->multi, c->easy);
}

static void on_round(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct health *h = w->data;
	(void)loop;
	(void)revents;

	for (size_t i = 0; i < h->reg->n; i++) {
		const struct entry *e = &h->reg->entries[i];

		if (registry_published(e) && !running_for(h, e->address))
			start_check(h, e);
	}
}

struct health *health_start(struct ev_loop *loop, struct registry *reg,
			    const struct health_options *opts, health_change_cb on_change,
			    void *data)
{
	struct health *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || !(h->multi = curl_multi_init())) {
		free(h);
		return NULL;
	}
	h->loop = loop;
	h->reg = reg;
	h->opts = *opts;
	h->on_change = on_change;
	h->data = data;
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	ev_init(&h->curl_timer, on_curl_timer);
	h->curl_timer.data = h;
	ev_timer_init(&h->round, on_round, 0.05, opts->interval);
	h->round.data = h;
	ev_timer_start(loop, &h->round);
	return h;
}

void health_stop(struct health *h)
{
	if (!h)
		return;
	ev_timer_stop(h->loop, &h->round);
	ev_timer_stop(h->loop, &h->curl_timer);
	while (h->running) {
		struct check *c = h->running;

		h->running = c->next;
		curl_multi_remove_handle(h->multi, c->easy);
		curl_easy_cleanup(c->easy);
		free(c);
	}
	curl_multi_cleanup(h->multi);
	curl_global_cleanup();
	free(h);
}
