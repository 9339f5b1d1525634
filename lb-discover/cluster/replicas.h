/* replicas: in --kubernetes mode, every lb-discover replica of a service and
 * its proxies: each keeps a coordination.k8s.io/v1 Lease lb-SERVICE-POD
 * renewed every third of its duration, recording what its proxies applied
 * and what they still send to draining backends, and watches the others'.
 * A replica whose Lease expired is gone: shown, not waited for. */
#ifndef LB_DISCOVER_REPLICAS_H
#define LB_DISCOVER_REPLICAS_H

#include <jansson.h>

#include "core/discover.h"

struct replicas_options {
	const char *service;		/* the Kubernetes Service */
	const char *pod;		/* this replica's pod name */
	const char *pod_uid;		/* its uid ("" or NULL: no ownerReference) */
	long lease_duration;		/* seconds */
	double watch_timeout;
};

struct replicas;
/* Starts keeping this replica's Lease and watching the others' through
 * d->kube. NULL when out of memory. */
struct replicas *replicas_start(struct discover *d, const struct replicas_options *o);
/* Releases the Lease (its holder cleared: the others see this replica
 * stopped at once; blocking, at shutdown only) and frees. */
void replicas_stop(struct replicas *r);
/* What this replica reports may have changed (a proxy's report, a new
 * set): the Lease is updated soon. r may be NULL. */
void replicas_changed(struct replicas *r);
/* The proxies of the other live replicas, summed (0 for r NULL). */
unsigned replicas_proxies(const struct replicas *r);
/* The proxies of the other live replicas (*of), and those of them that serve
 * the route table whose digest is `digest` (routed_digest; *serving). */
void replicas_routes(const struct replicas *r, const char *digest, unsigned *serving,
		     unsigned *of);
/* Drained backends of routed Services a Lease lists, at most: each in its
 * own Service with the longest names is about 410 bytes, 256 of them
 * 106 KB, so the Lease's annotation stays below Kubernetes' 256 KiB for
 * all annotations of an object. */
#define REPLICAS_ROUTED_DRAINING 256

/*
 * Requests in flight to the draining `address` of `service` (NULL: the main
 * service; else a routed Service, "namespace/name:port") over the other live
 * replicas' proxies, or -1 while one of them has not applied the drain to
 * all its proxies or does not list it (or r is NULL: 0). *proxies is how
 * many proxies they have (of that Service).
 */
long replicas_in_flight(const struct replicas *r, const char *service, const char *address,
			int *proxies);
/* Every replica, this one included, as `lb-ctl status` shows them (a new
 * reference). */
json_t *replicas_json(const struct replicas *r);

#endif
