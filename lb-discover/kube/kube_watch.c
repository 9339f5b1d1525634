/* kube_watch: list then watch one collection (see kube_watch.h). */
#include "kube_watch.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "curl_ev.h"
#include "log.h"

#define BACKOFF_FIRST 0.8
#define BACKOFF_MAX 30.0
/* a list or a watch's unparsed bytes larger than this is not a collection of ours */
#define WATCH_BODY_MAX (64 * 1024 * 1024)

enum watch_phase {
	WATCH_LIST = 0,	/* a list request is out */
	WATCH_STREAM,	/* a watch stream is open */
	WATCH_WAIT,	/* backing off before the next try */
};

struct kube_watch {
	struct kube *k;
	char what[64];
	char path[512];
	char query[512];
	char grant[256];
	double timeout;
	int namespaced_keys;		/* keys are "namespace/name" */
	enum watch_phase phase;
	CURL *easy;
	struct curl_slist *hdrs;
	struct buf body;		/* a list's body, or a watch's unparsed bytes */
	char rv[64];			/* the last resourceVersion seen */
	json_t *objects;		/* name -> the current object */
	int listed;
	int relist;			/* the watch said 410: list again */
	int events;			/* events of the current watch */
	double started;
	double backoff;
	ev_timer retry;
	ev_timer notify;		/* events came: tell cb from the loop, not from
					 * inside libcurl (which refuses requests started
					 * in its callbacks) */
	char last_error[1200];
	kube_watch_cb cb;
	void *data;
};

static void start(struct kube_watch *w, int watch);

/* Logs an error once until a different one or a success. */
static void error_once(struct kube_watch *w, const char *msg)
{
	if (strcmp(w->last_error, msg) != 0) {
		snprintf(w->last_error, sizeof(w->last_error), "%s", msg);
		log_error("kubernetes", "error=\"%s\"", msg);
	}
}

static void back_off(struct kube_watch *w)
{
	double delay;

	w->phase = WATCH_WAIT;
	delay = kube_backoff(w->k, &w->backoff, BACKOFF_FIRST, BACKOFF_MAX);
	ev_timer_stop(w->k->loop, &w->retry);
	ev_timer_set(&w->retry, delay, 0);
	ev_timer_start(w->k->loop, &w->retry);
}

static void set_rv(struct kube_watch *w, json_t *obj)
{
	const char *rv = json_string_value(json_object_get(json_object_get(obj, "metadata"),
							   "resourceVersion"));

	if (rv)
		snprintf(w->rv, sizeof(w->rv), "%s", rv);
}

/* The key of obj in w->objects: its name, or "namespace/name"; NULL
 * without a name. */
static const char *object_key(const struct kube_watch *w, json_t *obj, char *key, size_t size)
{
	json_t *meta = json_object_get(obj, "metadata");
	const char *name = json_string_value(json_object_get(meta, "name"));
	const char *ns = json_string_value(json_object_get(meta, "namespace"));

	if (!name || !w->namespaced_keys)
		return name;
	snprintf(key, size, "%s/%s", ns ? ns : "", name);
	return key;
}

/* Applies one watch event; returns -1 when the watch must end (410). */
static int apply_event(struct kube_watch *w, json_t *ev)
{
	const char *type = json_string_value(json_object_get(ev, "type"));
	json_t *obj = json_object_get(ev, "object");
	char key[600];
	const char *name = object_key(w, obj, key, sizeof(key));

	if (!type || !json_is_object(obj)) {
		log_warn("kubernetes: watch event without type or object dropped", "what=%s",
			 w->what);
		return 0;
	}
	if (strcmp(type, "ERROR") == 0) {
		long code = (long)json_integer_value(json_object_get(obj, "code"));

		if (code == 410) {
			log_info("kubernetes: resourceVersion expired, relisting", "what=%s rv=%s",
				 w->what, w->rv);
			w->relist = 1;
			return -1;
		}
		log_warn("kubernetes: watch error", "what=%s code=%ld message=\"%s\"", w->what, code,
			 kube_status_message(obj));
		return -1;
	}
	set_rv(w, obj);
	if (strcmp(type, "BOOKMARK") == 0 || !name)
		return 0;
	if (strcmp(type, "DELETED") == 0)
		json_object_del(w->objects, name);
	else
		json_object_set(w->objects, name, obj);
	w->events++;
	if (!ev_is_active(&w->notify))
		ev_timer_start(w->k->loop, &w->notify);
	return 0;
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct kube_watch *w = userdata;
	size_t n = size * nmemb, pos = 0;
	long code = 0;

	if (buf_append(&w->body, ptr, n) == -1)
		return 0;
	curl_easy_getinfo(w->easy, CURLINFO_RESPONSE_CODE, &code);
	if (w->phase != WATCH_STREAM || code != 200)
		return w->body.len > WATCH_BODY_MAX ? 0 : n;
	w->last_error[0] = '\0';	/* streaming again */
	/* A watch stream is a sequence of JSON objects: JSON frames itself,
	 * whatever the chunking or newlines. */
	while (pos < w->body.len) {
		json_error_t jerr;
		json_t *ev;

		while (pos < w->body.len && strchr(" \t\r\n", w->body.data[pos]))
			pos++;
		if (pos == w->body.len)
			break;
		ev = json_loadb(w->body.data + pos, w->body.len - pos, JSON_DISABLE_EOF_CHECK, &jerr);
		if (!ev) {
			if (json_error_code(&jerr) == json_error_premature_end_of_input &&
			    w->body.len - pos < WATCH_BODY_MAX)
				break;		/* the rest comes in the next chunk */
			log_warn("kubernetes: unreadable watch stream, relisting", "what=%s "
				 "error=\"%s\"", w->what, jerr.text);
			w->relist = 1;
			return 0;
		}
		pos += jerr.position;
		if (apply_event(w, ev) == -1) {
			json_decref(ev);
			return 0;	/* ends the transfer */
		}
		json_decref(ev);
	}
	memmove(w->body.data, w->body.data + pos, w->body.len - pos);
	w->body.len -= pos;
	return n;
}

static void explain(struct kube_watch *w, long code, const char *verb)
{
	char msg[1200];
	json_t *st = json_loadb(w->body.data ? w->body.data : "", w->body.len, 0, NULL);
	const char *detail = kube_status_message(st);

	if (code == 401)
		snprintf(msg, sizeof(msg), "unauthorized (HTTP 401) by %s: the token or client "
			 "certificate is not accepted (%s)", w->k->auth.server, w->k->auth.source);
	else if (code == 403)
		snprintf(msg, sizeof(msg), "cannot %s %s in namespace %s: grant %s (HTTP 403: %s)",
			 verb, w->what, w->k->namespace, w->grant, *detail ? detail : "forbidden");
	else
		snprintf(msg, sizeof(msg), "%s %s: HTTP %ld%s%s", verb, w->what, code,
			 *detail ? ": " : "", detail);
	error_once(w, msg);
	json_decref(st);
}

/* A list answered 200: its items replace the objects. */
static int take_list(struct kube_watch *w)
{
	json_t *doc = json_loadb(w->body.data ? w->body.data : "", w->body.len, 0, NULL);
	json_t *item;
	size_t i;

	if (!json_is_array(json_object_get(doc, "items"))) {
		error_once(w, "list: the answer is not a list");
		json_decref(doc);
		return -1;
	}
	json_object_clear(w->objects);
	json_array_foreach(json_object_get(doc, "items"), i, item) {
		char key[600];
		const char *name = object_key(w, item, key, sizeof(key));

		if (name)
			json_object_set(w->objects, name, item);
	}
	set_rv(w, doc);
	json_decref(doc);
	return 0;
}

static void request_done(CURL *easy, CURLcode result, void *data)
{
	struct kube_watch *w = data;
	long code = 0;
	enum watch_phase phase = w->phase;
	char msg[1200];

	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(easy);
	curl_slist_free_all(w->hdrs);
	w->easy = NULL;
	w->hdrs = NULL;
	if (phase == WATCH_LIST) {
		if (result != CURLE_OK) {
			snprintf(msg, sizeof(msg), "list %s at %s: %s (retrying)", w->what,
				 w->k->auth.server, curl_easy_strerror(result));
			error_once(w, msg);
			back_off(w);
			return;
		}
		if (code != 200) {
			explain(w, code, "list");
			back_off(w);
			return;
		}
		if (take_list(w) == -1) {
			back_off(w);
			return;
		}
		w->last_error[0] = '\0';
		w->backoff = 0;
		w->listed = 1;
		log_info("kubernetes: listed", "what=%s namespace=%s objects=%zu rv=%s", w->what,
			 w->k->namespace, json_object_size(w->objects), w->rv);
		ev_timer_stop(w->k->loop, &w->notify);
		w->cb(w->data, w->objects);
		start(w, 1);
		return;
	}
	/* a watch ended */
	if (w->relist || code == 410) {
		start(w, 0);
		return;
	}
	if (code == 401 || code == 403) {
		explain(w, code, "watch");
		back_off(w);
		return;
	}
	if (w->events || ev_now(w->k->loop) - w->started > 10)
		w->backoff = 0;
	if (result == CURLE_OK && code == 200) {
		/* timeoutSeconds: resume from where it was */
		log_debug("kubernetes: watch ended, resuming", "what=%s rv=%s", w->what, w->rv);
		start(w, 1);
		return;
	}
	snprintf(msg, sizeof(msg), "watch %s at %s: %s (resuming from rv %s)", w->what,
		 w->k->auth.server, result != CURLE_OK ? curl_easy_strerror(result) : "HTTP error",
		 w->rv);
	log_warn("kubernetes: watch lost", "error=\"%s\"", msg);
	snprintf(w->last_error, sizeof(w->last_error), "%s", msg);
	back_off(w);
}

static void start(struct kube_watch *w, int watch)
{
	char url[2048];
	int n;

	n = snprintf(url, sizeof(url), "%s%s?%s", w->k->auth.server, w->path, w->query);
	if (watch && n > 0 && (size_t)n < sizeof(url))
		snprintf(url + n, sizeof(url) - (size_t)n,
			 "%swatch=true&allowWatchBookmarks=true&resourceVersion=%s&timeoutSeconds=%ld",
			 w->query[0] ? "&" : "", w->rv, (long)w->timeout);
	buf_reset(&w->body);
	w->relist = 0;
	w->events = 0;
	w->phase = watch ? WATCH_STREAM : WATCH_LIST;
	w->started = ev_now(w->k->loop);
	w->hdrs = NULL;
	w->easy = kube_easy(w->k, url, &w->hdrs, on_data, w, 5, watch ? w->timeout + 30 : 30);
	if (!w->easy) {
		curl_slist_free_all(w->hdrs);
		w->hdrs = NULL;
		back_off(w);
		return;
	}
	if (curl_ev_add(w->k->curl, w->easy, request_done, w) == -1) {
		curl_easy_cleanup(w->easy);
		curl_slist_free_all(w->hdrs);
		w->easy = NULL;
		w->hdrs = NULL;
		back_off(w);
	}
}

static void on_notify(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct kube_watch *w = t->data;
	(void)loop;
	(void)revents;

	w->cb(w->data, w->objects);
}

static void on_retry(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct kube_watch *w = t->data;
	(void)loop;
	(void)revents;

	/* resume the watch when there is a resourceVersion, else list */
	start(w, w->rv[0] != '\0');
}

struct kube_watch *kube_watch_start(struct kube *k, const struct kube_watch_options *o,
				    kube_watch_cb cb, void *data)
{
	struct kube_watch *w = calloc(1, sizeof(*w));

	if (!w || !(w->objects = json_object())) {
		free(w);
		return NULL;
	}
	w->k = k;
	snprintf(w->what, sizeof(w->what), "%s", o->what);
	snprintf(w->path, sizeof(w->path), "%s", o->path);
	snprintf(w->query, sizeof(w->query), "%s", o->query ? o->query : "");
	snprintf(w->grant, sizeof(w->grant), "%s", o->grant);
	w->timeout = o->timeout;
	w->namespaced_keys = o->namespaced_keys;
	w->cb = cb;
	w->data = data;
	ev_init(&w->retry, on_retry);
	w->retry.data = w;
	ev_timer_init(&w->notify, on_notify, 0, 0);
	w->notify.data = w;
	start(w, 0);
	return w;
}

void kube_watch_stop(struct kube_watch *w)
{
	if (!w)
		return;
	ev_timer_stop(w->k->loop, &w->retry);
	ev_timer_stop(w->k->loop, &w->notify);
	if (w->easy) {
		curl_ev_remove(w->k->curl, w->easy);
		curl_easy_cleanup(w->easy);
		curl_slist_free_all(w->hdrs);
	}
	json_decref(w->objects);
	buf_release(&w->body);
	free(w);
}

int kube_watch_listed(const struct kube_watch *w)
{
	return w->listed;
}

const char *kube_watch_error(const struct kube_watch *w)
{
	return w->last_error;
}
