/* service: one routed Service's backends (a Gateway backendRef,
 * "namespace/name:port") with its own set, generation and balancer, as
 * lb-discover publishes it. The proxy's own single service stays in
 * px->set and px->balancer; a route table's services live here, held by
 * the table that names them and by every exchange that uses them. */
#ifndef LB_PROXY_SERVICE_H
#define LB_PROXY_SERVICE_H

#include "bus_protocol.h"
#include "upstream/backend.h"
#include "upstream/balance.h"

struct service {
	char name[BUS_SERVICE_MAX];
	struct backend_set set;
	struct balancer balancer;	/* over `set`, rebuilt when it changes */
	unsigned refs;			/* the route table naming it, and each exchange using it */
	unsigned long long ignored;	/* the last older set refused (0: none since one applied) */
	/* its own settings, from its sets (bus version 9), applied with them:
	 * the protocol of its new requests (enum h2_pool_protocol, or -1: the
	 * proxy's --backend-protocol), its algorithm (own_ops NULL: the proxy's
	 * --balance) and whether its key is the client's address (ip-hash) */
	int protocol;
	const struct balance_ops *own_ops;
	unsigned key_client_ip : 1;
	struct service_settings settings;	/* as the set said them, for /info and /routes */
	/* its reports on the bus (control/subscriber.c): one goes out when it
	 * says something new, or when SUBSCRIBER_SERVICE_HEARTBEAT passed */
	unsigned long long report_hash;	/* of the last one sent, without its uptime */
	double reported_at;		/* ev_now when it went (0: never) */
	struct service *next;		/* in the list of services (http/routing.c) */
};

/* A new service with no backends and one reference, with the proxy's
 * protocol and ops until its set says otherwise; NULL when out of memory. */
struct service *service_new(const char *name, const struct balance_ops *ops);
void service_ref(struct service *s);
/* Drops a reference; the last one frees the service (its backends are
 * released: those still in use live on until their own last reference). */
void service_unref(struct service *s);
/* Makes next (owned from here) the service's set, as backend_set_apply,
 * and rebuilds its balancer with ops (a change of algorithm builds the new
 * one's state; the requests in flight are counted in the backends, so
 * least-request goes on from them); each backend is labelled with the
 * service's name. */
void service_apply(struct service *s, struct backend_set *next, const struct balance_ops *ops,
		   double now);

#endif
