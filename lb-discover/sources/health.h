/* health: active HTTP health checks of the registry's backends, with libcurl's
 * multi-socket interface inside the libev loop (nothing blocks). */
#ifndef LB_DISCOVER_HEALTH_H
#define LB_DISCOVER_HEALTH_H

#include <ev.h>

#include "core/registry.h"

struct health_options {
	const char *path;	/* "/health" */
	double interval;	/* seconds between checks of a backend */
	double timeout;		/* seconds a check may take */
	int rise;		/* successes in a row to come back up */
	int fall;		/* failures in a row to go down */
	int concurrency;	/* checks running at once, at most */
	int tls;		/* --health-tls: checks speak HTTPS */
	const char *ca;		/* --health-ca: PEM CAs to verify with (NULL: the system's) */
	const char *sni;	/* --health-sni: the name asked for and verified (NULL: none) */
	int insecure;		/* --health-tls-insecure: certificates are not verified */
	int grpc;		/* --health-grpc: grpc.health.v1.Health/Check over HTTP/2 */
	const char *grpc_service;	/* --health-grpc-service: the service asked about ("") */
};

/* Checks the TLS and gRPC options at start-up: 0, or -1 with "--flag ...:
 * problem" in err (the CA file must be readable; the others need
 * --health-tls; a gRPC service name is at most HEALTH_GRPC_SERVICE_MAX). */
int health_tls_check(const struct health_options *opts, char *err, size_t errsz);

typedef void (*health_change_cb)(void *data);

/* Starts checking every published backend of reg each interval (2xx and 3xx
 * are healthy; with opts->grpc, a SERVING answer with grpc-status 0), the checks spread evenly over the interval and at most
 * `concurrency` at once (when checks are slower than that allows, each
 * backend's interval stretches instead of checks piling up); calls
 * on_change when one goes down or comes back. Returns NULL on failure. */
struct health *health_start(struct ev_loop *loop, struct registry *reg,
			    const struct health_options *opts, health_change_cb on_change,
			    void *data);
void health_stop(struct health *h);

#endif
