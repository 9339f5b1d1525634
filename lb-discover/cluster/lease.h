/* lease: a replica's coordination.k8s.io/v1 Lease, both ends of it: the
 * object a replica writes (its report in an annotation) and what it reads
 * of another's (holder, renewal, duration, report). No I/O. */
#ifndef LB_DISCOVER_LEASE_H
#define LB_DISCOVER_LEASE_H

#include <jansson.h>
#include <stddef.h>

/* The annotation of a Lease holding its replica's report (JSON). */
#define LEASE_ANNOTATION "lb-discover/state"
/* The label every replica's Lease carries: the Kubernetes Service. */
#define LEASE_LABEL "lb-discover/service"

/* What a replica writes into its Lease, besides its report. */
struct lease_spec {
	const char *name;		/* lb-SERVICE-POD */
	const char *namespace;
	const char *service;		/* the Kubernetes Service (LEASE_LABEL) */
	const char *pod;		/* the holder */
	const char *pod_uid;		/* "": no ownerReference */
	long duration;			/* leaseDurationSeconds */
	const char *acquired;		/* acquireTime (lease_time_format's) */
};

/* What this replica knows of another, from its Lease (read once per watch
 * event). */
struct lease_peer {
	char name[254];			/* the Lease's */
	char holder[254];		/* its holderIdentity, "": released */
	double renewed;			/* renewTime, wall clock (-1: unreadable) */
	long duration;			/* leaseDurationSeconds */
	json_t *report;			/* the annotation parsed (an object), or NULL */
	int live;			/* at the last refresh (-1: not judged yet) */
};

/* Wall clock t as a Kubernetes MicroTime ("2026-12-01T23:20:20.123456Z"). */
void lease_time_format(double t, char *out, size_t size);
/* The Lease object (a new reference, NULL when out of memory): `annotation`
 * (the report's text) under LEASE_ANNOTATION, held by spec->pod when
 * `holding` (else released: holder ""), renewed at `renewed` (MicroTime). */
json_t *lease_object(const struct lease_spec *spec, const char *annotation, int holding,
		     const char *renewed);
/* Reads the Lease l (named `name`) into p: its holder, renewal, duration
 * and report (the annotation parsed, NULL when it is not a JSON object;
 * owned by p). p->live is left to the caller. */
void lease_peer_read(struct lease_peer *p, const char *name, json_t *l);
/* 1 when p's Lease is held and not expired at wall clock `now`. */
int lease_peer_live(const struct lease_peer *p, double now);
/* The proxies p's report counts (0 without a report). */
unsigned lease_peer_proxies(const struct lease_peer *p);
/* Frees n peers (their reports) and the array. */
void lease_peers_release(struct lease_peer *peers, size_t n);

#endif
