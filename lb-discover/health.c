/* health: active HTTP health checks with libcurl's multi-socket interface in libev. */
#include "health.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "curl_ev.h"
#include "log.h"

struct check {
	char address[BUS_ADDRESS_MAX];
	CURL *easy;
	struct health *h;
	struct check *next;
};

struct health {
	struct ev_loop *loop;
	struct registry *reg;
	struct health_options opts;
	health_change_cb on_change;
	void *data;
	struct curl_ev *curl;
	ev_timer round;		/* starts a round of checks every interval */
	struct check *running;
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

static void check_done(CURL *easy, CURLcode result, void *data)
{
	struct check *c = data, **pp;
	struct health *h = c->h;

	record(h, c, result);
	curl_easy_cleanup(easy);
	for (pp = &h->running; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	free(c);
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
	c->h = h;
	snprintf(url, sizeof(url), "http://%s%s", e->address, h->opts.path);
	curl_easy_setopt(c->easy, CURLOPT_URL, url);
	curl_easy_setopt(c->easy, CURLOPT_TIMEOUT_MS, (long)(h->opts.timeout * 1000));
	curl_easy_setopt(c->easy, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c->easy, CURLOPT_USERAGENT, "lb-discover health check");
	curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, write_nothing);
	/* a fresh connection each time: a check must see the backend as a new
	 * client would */
	curl_easy_setopt(c->easy, CURLOPT_FORBID_REUSE, 1L);
	if (curl_ev_add(h->curl, c->easy, check_done, c) == -1) {
		curl_easy_cleanup(c->easy);
		free(c);
		return;
	}
	c->next = h->running;
	h->running = c;
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
	h->curl = curl_ev_new(loop);
	if (!h->curl) {
		free(h);
		return NULL;
	}
	h->loop = loop;
	h->reg = reg;
	h->opts = *opts;
	h->on_change = on_change;
	h->data = data;
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
	while (h->running) {
		struct check *c = h->running;

		h->running = c->next;
		curl_ev_remove(h->curl, c->easy);
		curl_easy_cleanup(c->easy);
		free(c);
	}
	curl_ev_free(h->curl);
	free(h);
}
