/* gateway_secrets: the Secrets an HTTPS listener's certificateRefs may name,
 * watched one namespace at a time (list, then watch: kube_watch), each
 * namespace from the first lookup that needs it, so lb-discover reads the
 * Secrets of those namespaces only (a namespaced Role grants it). */
#ifndef LB_DISCOVER_GATEWAY_SECRETS_H
#define LB_DISCOVER_GATEWAY_SECRETS_H

#include <jansson.h>

#include "kube/kube.h"
#include "kube/kube_watch.h"
#include "route.h"

/* namespaces watched at most */
#define GATEWAY_SECRETS_NAMESPACES 16

struct gateway_secrets;

struct gateway_secrets_ns {
	struct gateway_secrets *s;
	struct kube_watch *watch;
	json_t *objects;			/* the watch's map (by name), held */
	char ns[ROUTE_NAME_MAX + 1];
};

struct gateway_secrets {
	struct kube *kube;
	double watch_timeout;
	void (*changed)(void *data);		/* a watched namespace's Secrets changed */
	void *data;
	struct gateway_secrets_ns list[GATEWAY_SECRETS_NAMESPACES];
	unsigned n;
	int pending;	/* a lookup hit a namespace not listed yet (reset by the caller) */
};

/* Starts with no namespace watched; changed(data) is called from the loop. */
void gateway_secrets_init(struct gateway_secrets *s, struct kube *kube, double watch_timeout,
			  void (*changed)(void *data), void *data);
/*
 * The Secret ns/name (a gateway_secret_fn: ctx is s), borrowed until the
 * next change, or NULL. A namespace seen for the first time starts its watch;
 * while it has not listed (and not failed: a 403 is logged by the watch, and
 * its Secrets are missing) the answer is NULL and s->pending is set.
 */
json_t *gateway_secrets_lookup(void *ctx, const char *ns, const char *name);
void gateway_secrets_release(struct gateway_secrets *s);

#endif
