/* discover: lb-discover's process state, shared by its modules and main, and
 * its commit point: every change to the registry is published through here. */
#ifndef LB_DISCOVER_DISCOVER_H
#define LB_DISCOVER_DISCOVER_H

#include <ev.h>

#include "bus.h"
#include "bus_protocol.h"
#include "config_types.h"
#include "fleet_op.h"
#include "kube/kube.h"
#include "proxy_report.h"
#include "registry.h"
#include "routed.h"

struct discover_options {
	char *service;
	char *static_list;
	char *file;
	char *routes;			/* --routes: Gateway API documents and Backends */
	char *gateway;			/* --gateway NAMESPACE/NAME: the one to serve */
	char *gateway_controller;	/* --gateway-controller: the GatewayClass controllerName */
	char *dns;
	char *port;			/* a number, or a port name for --kubernetes */
	char *kubernetes;
	char *namespace;
	char *kubernetes_api;
	char *kubeconfig;
	char *api_server;
	char *service_account_dir;
	double watch_timeout;
	char *backend_service_name;	/* the original ConfigMap shape */
	long backend_port;
	char backend_port_text[16];	/* --port from backendPort */
	double dns_interval;
	char *dns_server;
	char *runtime_dir;
	double heartbeat;
	char *admin;			/* the HTTP admin API's ADDR:PORT, NULL: off */
	char *admin_token;		/* a file holding the bearer token writes need */
	int admin_insecure;		/* no token, any address */
	char *health_path;
	double health_interval;
	double health_timeout;
	long rise;
	long fall;
	long health_concurrency;
	int no_health_check;
	int health_tls;			/* --health-tls and its options (health.h) */
	char *health_ca;
	char *health_sni;
	int health_tls_insecure;
	int health_grpc;		/* --health-grpc: grpc.health.v1.Health/Check */
	char *health_grpc_service;	/* --health-grpc-service */
	int allow_empty;		/* a source that lists no backends is applied */
	double override_grace;		/* seconds overrides outlive their backend's listing */
	long eject_5xx;			/* the proxies' runs of 5xx, summed, that eject (0: off) */
	long eject_gateway;		/* the same for gateway failures */
	double eject_time;		/* seconds of a fleet-wide ejection, times its count */
	double eject_time_max;		/* seconds, the cap */
	long eject_max_percent;		/* of the set ejected fleet-wide at once */
	char *pod_name;			/* --kubernetes: this replica's pod (its Lease's name) */
	char *pod_uid;			/* its uid: the Lease's ownerReference */
	long lease_duration;		/* seconds a replica's Lease holds unrenewed */
	int no_shared_state;		/* --kubernetes without the ConfigMap and the Leases */
	char *log_level;
	char *log_format;
	char *otlp_endpoint;		/* --otlp-endpoint: spans of admin writes (NULL: off) */
	struct config_list otlp_headers;	/* --otlp-header NAME=VALUE */
	char *otlp_compression;		/* --otlp-compression gzip|none, or NULL (OTEL_*) */
};

struct health;
struct source_file;
struct source_dns;
struct source_k8s;
struct source_routes;
struct source_gateway;
struct fleet;
struct replicas;
struct status_lease;
struct discover;

/* What core asks of the other replicas (cluster/cluster.c implements it for
 * --kubernetes with shared state; main sets it). d->cluster NULL: this
 * replica is alone, and each of these would do nothing. */
struct discover_cluster {
	/* shares an operation this replica applied to d->reg */
	void (*record)(struct discover *d, const struct fleet_op *op);
	/* what this replica reports (its proxies, its set) may have changed */
	void (*changed)(struct discover *d);
	/* the proxies of the other live replicas, summed */
	unsigned (*proxies)(const struct discover *d);
};

struct discover {
	struct ev_loop *loop;
	const struct discover_options *opts;
	char rundir[256];
	char state_path[320];
	struct registry reg;
	struct bus pub, pull, rep;
	ev_timer heartbeat;
	double started;			/* ev_now when the loop started */
	char admin_address[BUS_ADDRESS_MAX];	/* the admin API's bound address ("": off),
						 * named in the sets */
	int fresh;			/* started without a state file: no earlier lb-discover
					 * of this runtime dir left a trace (proxies_settled) */
	struct proxy_report *proxies;
	size_t nproxies;
	struct health *health;
	struct source_file *file;
	struct source_dns *dns;
	struct source_k8s *k8s;
	struct source_routes *routes;	/* --routes, or NULL */
	struct source_gateway *gateway;	/* --gateway without --routes: the controller, or NULL */
	struct routed routed;		/* the routed Services and the table (routed.h) */
	struct kube kube;		/* --kubernetes: the API client (kube.loop NULL: none) */
	struct fleet *fleet;		/* the shared state, or NULL (fleet.h) */
	struct replicas *replicas;	/* the other replicas, or NULL (replicas.h) */
	struct status_lease *status_lease;	/* --gateway: who writes status, or NULL */
	const struct discover_cluster *cluster;	/* NULL: no other replicas */
};

/*
 * The commit point: commits registry changes (a new generation when the set
 * changed) and publishes the set with the fleet's proxy count; also the
 * heartbeat's re-publication. Saves the state file when the set changed,
 * or always with `save` (overrides that changed without changing the set).
 * Returns 1 when the set changed.
 */
int discover_commit(struct discover *d, int save);
/* Saves the state file now; a failure is logged. */
void discover_save(struct discover *d);
/* Shares op (a change already applied to d->reg) with the other replicas,
 * when there are (d->cluster). Keeps nothing of op. */
void discover_record(struct discover *d, const struct fleet_op *op);
/* Every proxy of the fleet: this lb-discover's heard within
 * proxies_window() and, with d->cluster, every other live replica's (the
 * "proxies" of each set: each enforces its share of a fleet-wide rate
 * limit); at least 1, at most BUS_MAX_PROXIES. */
unsigned discover_fleet_proxies(const struct discover *d);
/* A source's list (a source_update_cb, data: the struct discover): applied
 * to the registry and published, unless it is empty without --allow-empty
 * (the last good set is kept). Keeps nothing of list. */
void discover_source_update(void *data, const struct bus_backend *list, size_t n);

#endif
