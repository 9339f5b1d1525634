/* kube_watch: one collection of the Kubernetes API kept in memory as
 * client-go's reflector does: list, then watch from the list's
 * resourceVersion, resume a watch that ended from the last one seen,
 * relist on 410 Gone, back off with jitter on errors; all in the loop. */
#ifndef LB_DISCOVER_KUBE_WATCH_H
#define LB_DISCOVER_KUBE_WATCH_H

#include <jansson.h>

#include "kube.h"

struct kube_watch_options {
	const char *what;	/* the collection in logs and errors: "endpointslices" */
	const char *path;	/* "/apis/discovery.k8s.io/v1/namespaces/NS/endpointslices" */
	const char *query;	/* selectors, URL-escaped: "labelSelector=a%3Db", or "" */
	const char *grant;	/* what a 403 asks for: "get/list/watch on configmaps NAME" */
	double timeout;		/* timeoutSeconds of each watch */
	int namespaced_keys;	/* objects keyed "namespace/name" (a list across namespaces) */
};

/*
 * The collection changed (a list, or a watch event): `objects` maps each
 * object's name (or "namespace/name", namespaced_keys) to the object; it belongs to the watch and holds until the
 * next call.
 */
typedef void (*kube_watch_cb)(void *data, json_t *objects);
struct kube_watch;
/* Starts listing; the options' strings are copied. NULL when out of memory. */
struct kube_watch *kube_watch_start(struct kube *k, const struct kube_watch_options *o,
				    kube_watch_cb cb, void *data);
void kube_watch_stop(struct kube_watch *w);
/* 1 once a list succeeded (the objects are the API's, not an empty start). */
int kube_watch_listed(const struct kube_watch *w);
/* The last error talking to the API ("" after a success). */
const char *kube_watch_error(const struct kube_watch *w);

#endif
