/* source_k8s: backends from the Kubernetes API: list, then watch from the last
 * resourceVersion, as client-go's reflector does, all in the libev loop. */
#include <curl/curl.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "curl_ev.h"
#include "kubeconfig.h"
#include "log.h"
#include "source.h"

#define BACKOFF_FIRST 0.8
#define BACKOFF_MAX 30.0
#define TOKEN_REREAD 60.0

enum k8s_phase {
	K8S_LIST = 0,	/* a list request is out */
	K8S_WATCH,	/* a watch stream is open */
	K8S_WAIT,	/* backing off before the next try */
};

struct source_k8s {
	struct ev_loop *loop;
	struct curl_ev *curl;
	struct kube_auth auth;
	char service[254];
	char namespace[254];
	char port[64];
	int use_endpoints;
	double watch_timeout;
	enum k8s_phase phase;
	CURL *easy;
	struct curl_slist *hdrs;
	struct buf body;		/* a list's body, or a watch's unparsed bytes */
	char rv[64];			/* the last resourceVersion seen */
	json_t *objects;		/* name -> the current object */
	int relist;			/* the watch said 410: list again */
	int watch_events;		/* events of the current watch */
	double watch_started;
	double backoff;
	ev_timer retry;
	ev_timer token_timer;
	unsigned rng;
	char last_error[1200];
	source_update_cb cb;
	void *data;
	int stopping;
};

static void start_list(struct source_k8s *k);
static void start_watch(struct source_k8s *k);

static const char *resource(const struct source_k8s *k)
{
	return k->use_endpoints ? "endpoints" : "endpointslices";
}

/* Logs an error once until a different one or a success. */
static void error_once(struct source_k8s *k, const char *msg)
{
	if (strcmp(k->last_error, msg) != 0) {
		snprintf(k->last_error, sizeof(k->last_error), "%s", msg);
		log_error("kubernetes", "error=\"%s\"", msg);
	}
}

static void back_off(struct source_k8s *k)
{
	double jitter, delay;

	k->phase = K8S_WAIT;
	if (k->backoff < BACKOFF_FIRST)
		k->backoff = BACKOFF_FIRST;
	/* jitter in [1, 2): many discoverers do not retry in step */
	jitter = 1.0 + (double)(rand_r(&k->rng) % 1000) / 1000.0;
	delay = k->backoff * jitter;
	if (delay > BACKOFF_MAX)
		delay = BACKOFF_MAX;
	k->backoff = k->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : k->backoff * 2;
	ev_timer_stop(k->loop, &k->retry);
	ev_timer_set(&k->retry, delay, 0);
	ev_timer_start(k->loop, &k->retry);
}

/* ---- from objects to backends -------------------------------------------- */

static int port_matches(const struct source_k8s *k, json_t *p)
{
	const char *name = json_string_value(json_object_get(p, "name"));
	char *end;
	long n;

	if (!k->port[0])
		return 1;
	n = strtol(k->port, &end, 10);
	if (!*end)
		return json_integer_value(json_object_get(p, "port")) == n;
	return name && strcmp(name, k->port) == 0;
}

static long pick_port(const struct source_k8s *k, json_t *ports)
{
	json_t *p;
	size_t i;

	json_array_foreach(ports, i, p)
		if (port_matches(k, p))
			return (long)json_integer_value(json_object_get(p, "port"));
	return 0;
}

static void add(struct bus_backend **list, size_t *n, const char *ip, long port,
		enum bus_state state, const char *reason)
{
	char addr[BUS_ADDRESS_MAX];
	struct bus_backend *grown;

	snprintf(addr, sizeof(addr), strchr(ip, ':') ? "[%s]:%ld" : "%s:%ld", ip, port);
	for (size_t i = 0; i < *n; i++) {
		if (strcmp((*list)[i].address, addr) == 0) {
			/* in two slices (moving between them): the better state wins */
			if (state < (*list)[i].state) {
				(*list)[i].state = state;
				snprintf((*list)[i].reason, sizeof((*list)[i].reason), "%s", reason);
			}
			return;
		}
	}
	grown = realloc(*list, (*n + 1) * sizeof(*grown));
	if (!grown)
		return;
	*list = grown;
	memset(&grown[*n], 0, sizeof(grown[*n]));
	snprintf(grown[*n].address, sizeof(grown[*n].address), "%s", addr);
	grown[*n].weight = 1;
	grown[*n].state = state;
	snprintf(grown[*n].reason, sizeof(grown[*n].reason), "%s", reason);
	(*n)++;
}

/* Missing conditions mean ready and serving, not terminating. */
static int condition(json_t *conds, const char *name, int dflt)
{
	json_t *v = json_object_get(conds, name);

	return json_is_boolean(v) ? json_is_true(v) : dflt;
}

static void publish(struct source_k8s *k)
{
	struct bus_backend *list = NULL;
	size_t n = 0;
	const char *name;
	json_t *obj;

	json_object_foreach(k->objects, name, obj) {
		size_t i, j;
		json_t *item, *sub;

		if (k->use_endpoints) {
			json_array_foreach(json_object_get(obj, "subsets"), i, sub) {
				long port = pick_port(k, json_object_get(sub, "ports"));

				if (!port)
					continue;
				json_array_foreach(json_object_get(sub, "addresses"), j, item)
					add(&list, &n, json_string_value(json_object_get(item, "ip")), port,
					    BUS_STATE_UP, "");
				json_array_foreach(json_object_get(sub, "notReadyAddresses"), j, item)
					add(&list, &n, json_string_value(json_object_get(item, "ip")), port,
					    BUS_STATE_DOWN, "not ready");
			}
			continue;
		}
		{
			long port = pick_port(k, json_object_get(obj, "ports"));

			if (!port)
				continue;
			json_array_foreach(json_object_get(obj, "endpoints"), i, item) {
				json_t *conds = json_object_get(item, "conditions");
				const char *ip = json_string_value(json_array_get(
					json_object_get(item, "addresses"), 0));
				int ready = condition(conds, "ready", 1);
				int serving = condition(conds, "serving", ready);
				int terminating = condition(conds, "terminating", 0);

				if (!ip)
					continue;
				if (ready && !terminating)
					add(&list, &n, ip, port, BUS_STATE_UP, "");
				else if (serving && terminating)
					add(&list, &n, ip, port, BUS_STATE_DRAINING, "terminating");
				else if (serving)
					add(&list, &n, ip, port, BUS_STATE_UP, "");
				else
					add(&list, &n, ip, port, BUS_STATE_DOWN,
					    terminating ? "terminating" : "not ready");
			}
		}
	}
	k->cb(k->data, list, n);
	free(list);
}

/* ---- requests --------------------------------------------------------------- */

static void set_rv(struct source_k8s *k, json_t *obj)
{
	const char *rv = json_string_value(json_object_get(json_object_get(obj, "metadata"),
							   "resourceVersion"));

	if (rv)
		snprintf(k->rv, sizeof(k->rv), "%s", rv);
}

/* Applies one watch event; returns -1 when the watch must end (410). */
static int apply_event(struct source_k8s *k, json_t *ev)
{
	const char *type = json_string_value(json_object_get(ev, "type"));
	json_t *obj = json_object_get(ev, "object");
	const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));

	if (!type || !json_is_object(obj)) {
		log_warn("kubernetes: watch event without type or object dropped", NULL);
		return 0;
	}
	if (strcmp(type, "ERROR") == 0) {
		long code = (long)json_integer_value(json_object_get(obj, "code"));

		if (code == 410) {
			log_info("kubernetes: resourceVersion expired, relisting", "rv=%s", k->rv);
			k->relist = 1;
			return -1;
		}
		log_warn("kubernetes: watch error", "code=%ld message=\"%s\"", code,
			 json_string_value(json_object_get(obj, "message")) ?: "");
		return -1;
	}
	set_rv(k, obj);
	if (strcmp(type, "BOOKMARK") == 0)
		return 0;
	if (!name)
		return 0;
	if (strcmp(type, "DELETED") == 0)
		json_object_del(k->objects, name);
	else
		json_object_set(k->objects, name, obj);
	k->watch_events++;
	publish(k);
	return 0;
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct source_k8s *k = userdata;
	size_t n = size * nmemb, pos = 0;
	long code = 0;

	if (buf_append(&k->body, ptr, n) == -1)
		return 0;
	curl_easy_getinfo(k->easy, CURLINFO_RESPONSE_CODE, &code);
	if (k->phase != K8S_WATCH || code != 200)
		return k->body.len > 64 * 1024 * 1024 ? 0 : n;
	/* A watch stream is a sequence of JSON objects: JSON frames itself,
	 * whatever the chunking or newlines. */
	while (pos < k->body.len) {
		json_error_t jerr;
		json_t *ev;

		while (pos < k->body.len && strchr(" \t\r\n", k->body.data[pos]))
			pos++;
		if (pos == k->body.len)
			break;
		ev = json_loadb(k->body.data + pos, k->body.len - pos, JSON_DISABLE_EOF_CHECK, &jerr);
		if (!ev) {
			if (json_error_code(&jerr) == json_error_premature_end_of_input)
				break;		/* the rest comes in the next chunk */
			log_warn("kubernetes: unreadable watch stream, relisting", "error=\"%s\"",
				 jerr.text);
			k->relist = 1;
			return 0;
		}
		pos += jerr.position;
		if (apply_event(k, ev) == -1) {
			json_decref(ev);
			return 0;	/* ends the transfer */
		}
		json_decref(ev);
	}
	memmove(k->body.data, k->body.data + pos, k->body.len - pos);
	k->body.len -= pos;
	return n;
}

static void explain(struct source_k8s *k, long code, const char *verb)
{
	char msg[1200];
	json_t *st = json_loadb(k->body.data ? k->body.data : "", k->body.len, 0, NULL);
	const char *detail = json_string_value(json_object_get(st, "message"));

	if (code == 401)
		snprintf(msg, sizeof(msg), "unauthorized (HTTP 401) by %s: the token or client "
			 "certificate is not accepted (%s)", k->auth.server, k->auth.source);
	else if (code == 403)
		snprintf(msg, sizeof(msg), "cannot %s %s in namespace %s: grant get/list/watch on %s "
			 "(HTTP 403: %s)", verb, resource(k), k->namespace,
			 k->use_endpoints ? "endpoints (core)" : "discovery.k8s.io endpointslices",
			 detail ? detail : "forbidden");
	else
		snprintf(msg, sizeof(msg), "%s %s: HTTP %ld%s%s", verb, resource(k), code,
			 detail ? ": " : "", detail ? detail : "");
	error_once(k, msg);
	json_decref(st);
}

static void request_done(CURL *easy, CURLcode result, void *data)
{
	struct source_k8s *k = data;
	long code = 0;
	enum k8s_phase phase = k->phase;

	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(easy);
	curl_slist_free_all(k->hdrs);
	k->easy = NULL;
	k->hdrs = NULL;
	if (k->stopping)
		return;
	if (phase == K8S_LIST) {
		json_t *doc;

		if (result != CURLE_OK) {
			char msg[1200];

			snprintf(msg, sizeof(msg), "list %s at %s: %s (retrying)", resource(k),
				 k->auth.server, curl_easy_strerror(result));
			error_once(k, msg);
			back_off(k);
			return;
		}
		if (code != 200) {
			explain(k, code, "list");
			back_off(k);
			return;
		}
		doc = json_loadb(k->body.data ? k->body.data : "", k->body.len, 0, NULL);
		if (!json_is_array(json_object_get(doc, "items"))) {
			error_once(k, "list: the answer is not a list");
			json_decref(doc);
			back_off(k);
			return;
		}
		json_object_clear(k->objects);
		{
			size_t i;
			json_t *item;

			json_array_foreach(json_object_get(doc, "items"), i, item) {
				const char *name = json_string_value(json_object_get(
					json_object_get(item, "metadata"), "name"));

				if (name)
					json_object_set(k->objects, name, item);
			}
		}
		set_rv(k, doc);
		json_decref(doc);
		k->last_error[0] = '\0';
		k->backoff = 0;
		log_info("kubernetes: listed", "service=%s namespace=%s objects=%zu rv=%s", k->service,
			 k->namespace, json_object_size(k->objects), k->rv);
		publish(k);
		start_watch(k);
		return;
	}
	/* a watch ended */
	if (k->relist || code == 410) {
		start_list(k);
		return;
	}
	if (code == 401 || code == 403) {
		explain(k, code, "watch");
		back_off(k);
		return;
	}
	if (result == CURLE_OK && code == 200) {
		/* timeoutSeconds: resume from where it was */
		log_debug("kubernetes: watch ended, resuming", "rv=%s", k->rv);
		if (k->watch_events || ev_now(k->loop) - k->watch_started > 10)
			k->backoff = 0;
		start_watch(k);
		return;
	}
	{
		char msg[1200];

		snprintf(msg, sizeof(msg), "watch %s at %s: %s (resuming from rv %s)", resource(k),
			 k->auth.server, result != CURLE_OK ? curl_easy_strerror(result) : "HTTP error",
			 k->rv);
		if (ev_now(k->loop) - k->watch_started > 10 || k->watch_events)
			k->backoff = 0;
		log_warn("kubernetes: watch lost", "error=\"%s\"", msg);
		back_off(k);
	}
}

static void start_request(struct source_k8s *k, int watch)
{
	char url[2048], sel[512];
	char *esc;

	k->easy = curl_easy_init();
	if (!k->easy) {
		back_off(k);
		return;
	}
	if (k->use_endpoints)
		snprintf(sel, sizeof(sel), "fieldSelector=metadata.name%%3D%s", k->service);
	else {
		esc = curl_easy_escape(k->easy, k->service, 0);
		snprintf(sel, sizeof(sel), "labelSelector=kubernetes.io%%2Fservice-name%%3D%s", esc);
		curl_free(esc);
	}
	snprintf(url, sizeof(url), "%s/%s/namespaces/%s/%s?%s", k->auth.server,
		 k->use_endpoints ? "api/v1" : "apis/discovery.k8s.io/v1", k->namespace, resource(k),
		 sel);
	if (watch) {
		size_t n = strlen(url);

		snprintf(url + n, sizeof(url) - n,
			 "&watch=true&allowWatchBookmarks=true&resourceVersion=%s&timeoutSeconds=%ld",
			 k->rv, (long)k->watch_timeout);
	}
	buf_reset(&k->body);
	k->relist = 0;
	k->watch_events = 0;
	k->phase = watch ? K8S_WATCH : K8S_LIST;
	k->watch_started = ev_now(k->loop);
	k->hdrs = curl_slist_append(NULL, "Accept: application/json");
	kube_auth_refresh(&k->auth);	/* the token rotates: read it before each (re)connect */
	kube_auth_apply(&k->auth, k->easy, &k->hdrs);
	curl_easy_setopt(k->easy, CURLOPT_URL, url);
	curl_easy_setopt(k->easy, CURLOPT_HTTPHEADER, k->hdrs);
	curl_easy_setopt(k->easy, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(k->easy, CURLOPT_WRITEDATA, k);
	curl_easy_setopt(k->easy, CURLOPT_USERAGENT, "lb-discover");
	curl_easy_setopt(k->easy, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(k->easy, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(k->easy, CURLOPT_TIMEOUT_MS,
			 (long)((watch ? k->watch_timeout + 30 : 30) * 1000));
	if (curl_ev_add(k->curl, k->easy, request_done, k) == -1) {
		curl_easy_cleanup(k->easy);
		curl_slist_free_all(k->hdrs);
		k->easy = NULL;
		k->hdrs = NULL;
		back_off(k);
	}
}

static void start_list(struct source_k8s *k)
{
	start_request(k, 0);
}

static void start_watch(struct source_k8s *k)
{
	start_request(k, 1);
}

static void on_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct source_k8s *k = w->data;
	(void)loop;
	(void)revents;

	/* resume the watch when there is a resourceVersion, else list */
	if (k->rv[0])
		start_watch(k);
	else
		start_list(k);
}

static void on_token_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	kube_auth_refresh(&((struct source_k8s *)w->data)->auth);
}

struct source_k8s *source_k8s_start(struct ev_loop *loop, const struct source_k8s_options *o,
				    source_update_cb cb, void *data, char *err, size_t errsz)
{
	struct source_k8s *k = calloc(1, sizeof(*k));
	const char *ns_env = getenv("NAMESPACE");

	if (!k)
		return NULL;
	if (kube_auth_resolve(&k->auth, o->api_server, o->kubeconfig, o->sa_dir, err, errsz) == -1) {
		free(k);
		return NULL;
	}
	k->curl = curl_ev_new(loop);
	k->objects = json_object();
	if (!k->curl || !k->objects) {
		snprintf(err, errsz, "cannot start libcurl");
		kube_auth_release(&k->auth);
		curl_ev_free(k->curl);
		json_decref(k->objects);
		free(k);
		return NULL;
	}
	k->loop = loop;
	k->cb = cb;
	k->data = data;
	k->use_endpoints = o->use_endpoints;
	k->watch_timeout = o->watch_timeout;
	k->rng = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)k;
	snprintf(k->service, sizeof(k->service), "%s", o->service);
	snprintf(k->port, sizeof(k->port), "%s", o->port ? o->port : "");
	if (o->namespace && *o->namespace)
		snprintf(k->namespace, sizeof(k->namespace), "%s", o->namespace);
	else if (ns_env && *ns_env)
		snprintf(k->namespace, sizeof(k->namespace), "%s", ns_env);
	else if (k->auth.namespace[0])
		snprintf(k->namespace, sizeof(k->namespace), "%s", k->auth.namespace);
	else
		snprintf(k->namespace, sizeof(k->namespace), "default");
	ev_init(&k->retry, on_retry);
	k->retry.data = k;
	ev_timer_init(&k->token_timer, on_token_timer, TOKEN_REREAD, TOKEN_REREAD);
	k->token_timer.data = k;
	if (k->auth.token_file[0])
		ev_timer_start(loop, &k->token_timer);
	log_info("kubernetes", "service=%s namespace=%s api=%s via=\"%s\"", k->service, k->namespace,
		 resource(k), k->auth.source);
	start_list(k);
	return k;
}

void source_k8s_stop(struct source_k8s *k)
{
	if (!k)
		return;
	k->stopping = 1;
	ev_timer_stop(k->loop, &k->retry);
	ev_timer_stop(k->loop, &k->token_timer);
	if (k->easy) {
		curl_ev_remove(k->curl, k->easy);
		curl_easy_cleanup(k->easy);
		curl_slist_free_all(k->hdrs);
	}
	curl_ev_free(k->curl);
	kube_auth_release(&k->auth);
	json_decref(k->objects);
	buf_release(&k->body);
	free(k);
}
