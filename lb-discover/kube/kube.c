/* kube: the Kubernetes API client lb-discover's watches and writes share. */
#include "kube.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "curl_ev.h"
#include "log.h"

#define TOKEN_REREAD 60.0
/* an answer larger than this is not one of ours (a ConfigMap is at most 1 MiB) */
#define KUBE_ANSWER_MAX (8 * 1024 * 1024)

struct kube_call {
	struct kube *k;
	CURL *easy;
	struct curl_slist *hdrs;
	struct buf answer;
	char *payload;
	kube_done_cb done;
	void *data;
	struct kube_call *next;
};

static void on_token_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	kube_auth_refresh(&((struct kube *)w->data)->auth);
}

int kube_init(struct kube *k, struct ev_loop *loop, const struct kube_options *o, char *err,
	      size_t errsz)
{
	const char *ns_env = getenv("NAMESPACE");

	memset(k, 0, sizeof(*k));
	if (kube_auth_resolve(&k->auth, o->api_server, o->kubeconfig, o->sa_dir, err, errsz) == -1)
		return -1;
	k->curl = curl_ev_new(loop);
	if (!k->curl) {
		snprintf(err, errsz, "cannot start libcurl");
		kube_auth_release(&k->auth);
		return -1;
	}
	k->loop = loop;
	k->rng = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)k;
	if (o->namespace && *o->namespace)
		snprintf(k->namespace, sizeof(k->namespace), "%s", o->namespace);
	else if (ns_env && *ns_env)
		snprintf(k->namespace, sizeof(k->namespace), "%s", ns_env);
	else if (k->auth.namespace[0])
		snprintf(k->namespace, sizeof(k->namespace), "%s", k->auth.namespace);
	else
		snprintf(k->namespace, sizeof(k->namespace), "default");
	ev_timer_init(&k->token_timer, on_token_timer, TOKEN_REREAD, TOKEN_REREAD);
	k->token_timer.data = k;
	if (k->auth.token_file[0])
		ev_timer_start(loop, &k->token_timer);
	return 0;
}

static void call_free(struct kube_call *c)
{
	struct kube_call **p;

	for (p = &c->k->calls; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	if (c->easy)
		curl_easy_cleanup(c->easy);
	curl_slist_free_all(c->hdrs);
	buf_release(&c->answer);
	free(c->payload);
	free(c);
}

void kube_cancel(struct kube *k, struct kube_call *c)
{
	if (!c)
		return;
	curl_ev_remove(k->curl, c->easy);
	call_free(c);
}

void kube_release(struct kube *k)
{
	if (!k->loop)
		return;
	while (k->calls)
		kube_cancel(k, k->calls);
	ev_timer_stop(k->loop, &k->token_timer);
	curl_ev_free(k->curl);
	kube_auth_release(&k->auth);
	k->loop = NULL;
}

static size_t on_answer(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct kube_call *c = userdata;
	size_t n = size * nmemb;

	if (c->answer.len + n > KUBE_ANSWER_MAX || buf_append(&c->answer, ptr, n) == -1)
		return 0;
	return n;
}

CURL *kube_easy(struct kube *k, const char *url, struct curl_slist **hdrs, curl_write_callback write,
		void *data, double connect_timeout, double timeout)
{
	CURL *easy = curl_easy_init();

	if (!easy)
		return NULL;
	*hdrs = curl_slist_append(*hdrs, "Accept: application/json");
	kube_auth_refresh(&k->auth);	/* the token rotates: read it before each (re)connect */
	kube_auth_apply(&k->auth, easy, hdrs);
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, *hdrs);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, write);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, data);
	curl_easy_setopt(easy, CURLOPT_USERAGENT, "lb-discover");
	curl_easy_setopt(easy, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, (long)(connect_timeout * 1000));
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)(timeout * 1000));
	return easy;
}

/* Sets up c->easy for METHOD PATH with c->payload; 0 or -1. */
static int prepare(struct kube *k, struct kube_call *c, const char *method, const char *path,
		   double timeout)
{
	char url[2048];

	snprintf(url, sizeof(url), "%s%s", k->auth.server, path);
	/* a PATCH is a JSON merge patch (RFC 7386), which the API takes for
	 * custom resources too (strategic merge it refuses there) */
	if (c->payload)
		c->hdrs = curl_slist_append(c->hdrs, strcmp(method, "PATCH") == 0
				? "Content-Type: application/merge-patch+json"
				: "Content-Type: application/json");
	c->easy = kube_easy(k, url, &c->hdrs, on_answer, c, timeout, timeout);
	if (!c->easy)
		return -1;
	curl_easy_setopt(c->easy, CURLOPT_CUSTOMREQUEST, method);
	if (c->payload)
		curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, c->payload);
	return 0;
}

static struct kube_call *call_new(struct kube *k, json_t *body)
{
	struct kube_call *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->k = k;
	if (body && !(c->payload = json_dumps(body, JSON_COMPACT))) {
		free(c);
		return NULL;
	}
	return c;
}

static void call_done(CURL *easy, CURLcode result, void *data)
{
	struct kube_call *c = data;
	long status = 0;
	json_t *body = NULL;
	char error[CURL_ERROR_SIZE + 64] = "";

	(void)easy;
	if (result == CURLE_OK)
		curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
	else
		snprintf(error, sizeof(error), "%s", curl_easy_strerror(result));
	if (c->answer.len)
		body = json_loadb(c->answer.data, c->answer.len, 0, NULL);
	if (status && !body && status / 100 == 2)
		snprintf(error, sizeof(error), "the answer is not JSON");
	c->done(c->data, status, body, error);
	json_decref(body);
	call_free(c);
}

struct kube_call *kube_request(struct kube *k, const char *method, const char *path, json_t *body,
			       double timeout, kube_done_cb done, void *data)
{
	struct kube_call *c = call_new(k, body);

	if (!c)
		return NULL;
	c->done = done;
	c->data = data;
	if (prepare(k, c, method, path, timeout) == -1 ||
	    curl_ev_add(k->curl, c->easy, call_done, c) == -1) {
		call_free(c);
		return NULL;
	}
	c->next = k->calls;
	k->calls = c;
	return c;
}

long kube_request_sync(struct kube *k, const char *method, const char *path, json_t *body,
		       double timeout, char *err, size_t errsz)
{
	struct kube_call *c = call_new(k, body);
	long status = 0;
	CURLcode rc;

	if (!c) {
		snprintf(err, errsz, "out of memory");
		return 0;
	}
	if (prepare(k, c, method, path, timeout) == -1) {
		snprintf(err, errsz, "cannot start libcurl");
		call_free(c);
		return 0;
	}
	rc = curl_easy_perform(c->easy);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
	else
		snprintf(err, errsz, "%s", curl_easy_strerror(rc));
	call_free(c);
	return status;
}

const char *kube_status_message(json_t *body)
{
	const char *m = json_string_value(json_object_get(body, "message"));

	return m ? m : "";
}

double kube_backoff(struct kube *k, double *backoff, double first, double max)
{
	double delay;

	if (*backoff < first)
		*backoff = first;
	delay = *backoff * (1.0 + (double)(rand_r(&k->rng) % 1000) / 1000.0);
	*backoff = *backoff * 2 > max ? max : *backoff * 2;
	return delay > max ? max : delay;
}
