/* kube: lb-discover's Kubernetes API client: the credentials, the namespace,
 * one libcurl multi handle in the libev loop; JSON requests (kube_request)
 * and list/watch streams (kube_watch.h) go through it. */
#ifndef LB_DISCOVER_KUBE_H
#define LB_DISCOVER_KUBE_H

#include <ev.h>
#include <jansson.h>

#include "kubeconfig.h"

struct curl_ev;

struct kube {
	struct ev_loop *loop;
	struct curl_ev *curl;
	struct kube_auth auth;
	char namespace[254];
	ev_timer token_timer;		/* re-reads a rotating token */
	unsigned rng;			/* jitter of back-offs */
	struct kube_call *calls;	/* in flight, to cancel them on release */
};

struct kube_options {
	const char *api_server;		/* kubectl proxy, or NULL */
	const char *kubeconfig;		/* or NULL */
	const char *sa_dir;		/* the service account mount */
	const char *namespace;		/* NULL/"": $NAMESPACE, the credentials', "default" */
};

/* Finds the API and the namespace (start-up only: reads files). Returns 0,
 * or -1 with err. */
int kube_init(struct kube *k, struct ev_loop *loop, const struct kube_options *o, char *err,
	      size_t errsz);
/* Cancels what is in flight (no callbacks) and frees. */
void kube_release(struct kube *k);

/*
 * A request's end: `status` is the HTTP status, 0 when no answer came (then
 * `error` says why); `body` is the answer parsed as JSON, or NULL (the
 * callback does not own it: json_incref to keep it).
 */
typedef void (*kube_done_cb)(void *data, long status, json_t *body, const char *error);
struct kube_call;
/*
 * Sends METHOD PATH ("/api/v1/namespaces/NS/configmaps/NAME") with `body`
 * (may be NULL; not kept) as JSON, timed out after `timeout` seconds; `done`
 * is called once, from the loop, unless the call is cancelled. Returns the
 * call, or NULL (out of memory: nothing is called).
 */
struct kube_call *kube_request(struct kube *k, const char *method, const char *path, json_t *body,
			       double timeout, kube_done_cb done, void *data);
/* Ends a call without calling its callback. */
void kube_cancel(struct kube *k, struct kube_call *c);
/*
 * The same request, blocking (start-up and shutdown only, never in the
 * loop). Returns the HTTP status, or 0 with err.
 */
long kube_request_sync(struct kube *k, const char *method, const char *path, json_t *body,
		       double timeout, char *err, size_t errsz);
/*
 * A libcurl handle for URL with the credentials, JSON accepted (headers
 * appended to *hdrs, which the caller frees after the transfer), the
 * answer given to `write` with `data`, and the timeouts. NULL when libcurl
 * cannot.
 */
CURL *kube_easy(struct kube *k, const char *url, struct curl_slist **hdrs, curl_write_callback write,
		void *data, double connect_timeout, double timeout);
/* The message of an API Status answer ("message"), or "". */
const char *kube_status_message(json_t *body);
/*
 * The next delay of a back-off that starts at `first` and doubles up to
 * `max`, with jitter (in [b, 2b), at most max: many discoverers do not
 * retry in step); *backoff is its state (0 to start over).
 */
double kube_backoff(struct kube *k, double *backoff, double first, double max);

#endif
