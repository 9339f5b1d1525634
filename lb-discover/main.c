/* lb-discover: finds a service's backends, health-checks them, keeps operator
 * overrides and publishes full backend sets on the bus. main wires the
 * layers together (sources, cluster and api over core); it decides nothing. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/admin.h"
#include "api/control.h"
#include "api/options.h"
#include "api/tracing.h"
#include "cluster/cluster.h"
#include "config_show.h"
#include "cluster/fleet.h"
#include "cluster/replicas.h"
#include "cluster/status_lease.h"
#include "core/discover.h"
#include "core/proxies.h"
#include "core/state.h"
#include "log.h"
#include "rundir.h"
#include "signals.h"
#include "sources/health.h"
#include "sources/source.h"
#include "sources/source_gateway.h"
#include "sources/source_routes.h"

static void on_override_expired(const struct entry *e, void *data)
{
	struct discover *d = data;
	struct fleet_op op = { .verb = FLEET_FORGET };

	snprintf(op.address, sizeof(op.address), "%s", e->address);
	discover_record(d, &op);
	log_info("override expired: the source stopped listing the backend", "address=%s "
		 "drained=%d removed=%d weight=%d", e->address, e->drained, e->removed,
		 e->weight_override);
}

static void on_heartbeat(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct discover *d = w->data;
	(void)loop;
	(void)revents;

	proxies_prune(d);
	routed_heartbeat(&d->routed, &d->pub, discover_fleet_proxies(d));
	if (registry_expire(&d->reg, ev_time(), d->opts->override_grace, on_override_expired,
			    d))
		discover_save(d);
	discover_commit(d, 0);
}

static void on_health_change(void *data)
{
	discover_commit(data, 0);
}

/* This replica's pod name (--pod-name, $POD_NAME, the hostname), into host
 * when it is the hostname. NULL when it cannot name a Lease (printed). */
static const char *pod_identity(const struct discover_options *o, char *host, size_t size)
{
	const char *pod = o->pod_name && *o->pod_name ? o->pod_name : getenv("POD_NAME");

	if (!pod || !*pod) {
		if (gethostname(host, size) == -1)
			snprintf(host, size, "lb-discover-%d", (int)getpid());
		host[size - 1] = '\0';
		for (char *c = host; *c; c++)	/* a hostname may have capitals */
			*c = (char)tolower((unsigned char)*c);
		pod = host;
	}
	for (const char *c = pod; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' ||
		      *c == '.')) {
			fprintf(stderr, "lb-discover: --pod-name \"%s\": a Lease name needs lower-case "
					"letters, digits, '-' and '.' (a pod's name is one)\n", pod);
			return NULL;
		}
	return pod;
}

/* --kubernetes: the shared state and this replica's Lease. Returns 0 or -1. */
static int start_fleet(struct discover *d, const struct discover_options *o)
{
	char host[256];
	const char *pod = pod_identity(o, host, sizeof(host));
	const char *uid = o->pod_uid && *o->pod_uid ? o->pod_uid : getenv("POD_UID");
	struct replicas_options ro;

	if (!pod)
		return -1;
	if (strlen(o->kubernetes) + strlen(pod) + 4 > 253) {
		fprintf(stderr, "lb-discover: the Lease lb-%s-%s would be longer than Kubernetes' 253 "
				"characters (--pod-name)\n", o->kubernetes, pod);
		return -1;
	}
	d->fleet = fleet_start(d, o->kubernetes, o->watch_timeout);
	ro = (struct replicas_options){ o->kubernetes, pod, uid, o->lease_duration,
					o->watch_timeout };
	d->replicas = d->fleet ? replicas_start(d, &ro) : NULL;
	if (!d->replicas) {
		fprintf(stderr, "lb-discover: out of memory\n");
		return -1;
	}
	d->cluster = &cluster_ops;
	return 0;
}

static int gateway_writes(void *data)
{
	return status_lease_held(((struct discover *)data)->status_lease);
}

static void gateway_proxies(void *data, const char *digest, unsigned *serving, unsigned *of)
{
	replicas_routes(((struct discover *)data)->replicas, digest, serving, of);
}

/* --gateway with Leases: this replica's (lb-gw.NS.NAME-POD: its proxies and
 * the table they serve, unless --kubernetes keeps one already) and the
 * status writer's (lb-gw.NS.NAME). Returns 0 or -1 (printed). */
static int start_gateway_fleet(struct discover *d, const struct discover_options *o)
{
	char host[256], label[300], lease[600];
	const char *pod = pod_identity(o, host, sizeof(host));
	const char *uid = o->pod_uid && *o->pod_uid ? o->pod_uid : getenv("POD_UID");
	struct source_gateway_fleet f = { gateway_writes, gateway_proxies, d };
	struct status_lease_options so;
	struct replicas_options ro;

	if (!pod)
		return -1;
	snprintf(label, sizeof(label), "gw.%s", o->gateway);
	*strchr(label, '/') = '.';	/* NAMESPACE/NAME: checked by source_gateway_start */
	snprintf(lease, sizeof(lease), "lb-%s", label);
	if (strlen(label) > 63 || strlen(label) + strlen(pod) + 4 > 253) {
		fprintf(stderr, "lb-discover: --gateway %s: the label %s would be over Kubernetes' 63 "
				"characters, or its Leases' names over 253 (--pod-name; or "
				"--no-shared-state: one replica, no Leases)\n", o->gateway, label);
		return -1;
	}
	ro = (struct replicas_options){ label, pod, uid, o->lease_duration, o->watch_timeout };
	if (!d->replicas && !(d->replicas = replicas_start(d, &ro)))
		goto oom;
	d->cluster = &cluster_ops;
	so = (struct status_lease_options){ lease, pod, o->lease_duration };
	if (!(d->status_lease = status_lease_start(d, &so)))
		goto oom;
	source_gateway_set_fleet(d->gateway, &f);
	return 0;
oom:
	fprintf(stderr, "lb-discover: out of memory\n");
	return -1;
}

static void on_stop(void *data)
{
	struct discover *d = data;

	ev_break(d->loop, EVBREAK_ALL);
}

/* The registry, with --static's list. Returns 0, or -1 (printed). */
static int start_registry(struct discover *d, const struct discover_options *o)
{
	struct bus_backend *list = NULL;
	char err[512];
	int n;

	registry_init(&d->reg, o->service);
	if (!o->static_list)
		return 0;
	n = source_parse_list(o->static_list, &list, err, sizeof(err));
	if (n < 0) {
		fprintf(stderr, "lb-discover: --static: %s\n", err);
		return -1;
	}
	if (n == 0 && !o->allow_empty) {
		fprintf(stderr, "lb-discover: --static lists no backends (--allow-empty starts "
				"with none)\n");
		return -1;
	}
	registry_source_update(&d->reg, list, (size_t)n, ev_time());
	free(list);
	return 0;
}

/* The runtime dir: the state file read back, the bus's three sockets.
 * Returns 0, or -1 (printed). */
static int open_runtime(struct discover *d, const struct discover_options *o)
{
	char err[512];

	if (rundir_resolve(o->runtime_dir, 1, d->rundir, sizeof(d->rundir), err, sizeof(err)) == -1) {
		fprintf(stderr, "lb-discover: %s\n", err);
		return -1;
	}
	snprintf(d->state_path, sizeof(d->state_path), "%s/discover-%s.json", d->rundir,
		 o->service);
	if (rundir_check_file(d->state_path, S_IFREG, err, sizeof(err)) == -1) {
		fprintf(stderr, "lb-discover: state %s\n", err);
		return -1;
	}
	switch (state_load(&d->reg, d->state_path, err, sizeof(err))) {
	case 0:
		/* the routed Services' overrides, applied as each is routed to */
		d->routed.saved = state_services_read(d->state_path);
		break;
	case 1:
		d->fresh = 1;
		log_info("no state file: no operator overrides (a first start, or the file was "
			 "deleted); the proxies' reports keep the generation from going back",
			 "file=%s", d->state_path);
		break;
	default:
		log_error("state file damaged: starting without its operator overrides; the "
			  "proxies' reports keep the generation from going back", "error=\"%s\"", err);
	}
	if (bus_open(&d->pub, BUS_PUB, d->rundir, BUS_SOCKET_SETS, err, sizeof(err)) == -1 ||
	    bus_open(&d->pull, BUS_PULL, d->rundir, BUS_SOCKET_REPORTS, err, sizeof(err)) == -1 ||
	    bus_open(&d->rep, BUS_REP, d->rundir, BUS_SOCKET_CONTROL, err, sizeof(err)) == -1) {
		fprintf(stderr, "lb-discover: %s\n", err);
		return -1;
	}
	return 0;
}

/* The source named by the flags (--static is in the registry already), in
 * `loop`. Returns 0, or -1 (printed). */
static int start_source(struct discover *d, const struct discover_options *o,
			struct ev_loop *loop, long dns_port)
{
	char err[512];

	if (o->file && !(d->file = source_file_start(loop, o->file, discover_source_update, d,
						     err, sizeof(err)))) {
		fprintf(stderr, "lb-discover: --file: %s\n", err);
		return -1;
	}
	d->loop = loop;
	if (o->kubernetes || (o->gateway && !o->routes)) {
		struct kube_options kopts = { o->api_server, o->kubeconfig, o->service_account_dir,
					      o->namespace };

		if (kube_init(&d->kube, loop, &kopts, err, sizeof(err)) == -1) {
			fprintf(stderr, "lb-discover: %s: %s\n", o->kubernetes ? "--kubernetes"
				: "--gateway", err);
			return -1;
		}
	}
	if (o->kubernetes) {
		struct source_k8s_options ko = {
			o->kubernetes, o->port, strcmp(o->kubernetes_api, "endpoints") == 0,
			o->watch_timeout,
		};

		if (!o->no_shared_state && start_fleet(d, o) == -1)
			return -1;
		d->k8s = source_k8s_start(&d->kube, &ko, discover_source_update, d, err,
					  sizeof(err));
		if (!d->k8s) {
			fprintf(stderr, "lb-discover: --kubernetes: %s\n", err);
			return -1;
		}
	}
	if (o->dns && !(d->dns = source_dns_start(loop, o->dns, (int)dns_port, o->dns_interval,
						  o->dns_server, discover_source_update, d, err,
						  sizeof(err)))) {
		fprintf(stderr, "lb-discover: --dns: %s\n", err);
		return -1;
	}
	return 0;
}

/* The admin API when --admin asks for it. Returns 0, or the exit code. */
static int start_admin(struct admin *admin, struct discover *d, const struct discover_options *o,
		       const char *token)
{
	char err[512];

	if (!o->admin)
		return 0;
	if (admin_init(admin, d, o->admin, token, o->admin_insecure, err, sizeof(err)) == -1) {
		fprintf(stderr, "lb-discover: %s\n", err);
		return 2;
	}
	return admin_start(admin) == -1 ? 1 : 0;
}

/* The health checks' options from the flags. Returns 0, or the exit code. */
static int health_options(const struct discover_options *o, struct health_options *ho)
{
	char err[512];

	*ho = (struct health_options){ o->health_path, o->health_interval, o->health_timeout,
				       (int)o->rise, (int)o->fall, (int)o->health_concurrency,
				       o->health_tls, o->health_ca, o->health_sni,
				       o->health_tls_insecure, o->health_grpc,
				       o->health_grpc_service };
	if (o->health_path[0] != '/') {
		fprintf(stderr, "lb-discover: --health-path must start with /\n");
		return 2;
	}
	if (health_tls_check(ho, err, sizeof(err)) == -1) {
		fprintf(stderr, "lb-discover: %s\n", err);
		return 2;
	}
	return 0;
}

/* Health checks, unless --no-health-check, and --routes (whose Services get
 * the same checks). Returns 0, or the exit code. */
static int start_health(struct discover *d, const struct discover_options *o)
{
	struct health_options ho;
	char err[512];
	int rc;

	if (!o->no_health_check && (rc = health_options(o, &ho)) != 0)
		return rc;
	if (o->routes && !(d->routes = source_routes_start(d, o->routes, o->gateway,
							   o->no_health_check ? NULL : &ho, err,
							   sizeof(err)))) {
		fprintf(stderr, "lb-discover: --routes: %s\n", err);
		return 2;
	}
	if (o->gateway && !o->routes &&
	    !(d->gateway = source_gateway_start(d, &d->kube, o->gateway, o->gateway_controller,
						o->watch_timeout, o->no_health_check ? NULL : &ho,
						err, sizeof(err)))) {
		fprintf(stderr, "lb-discover: --gateway: %s\n", err);
		return 2;
	}
	if (d->gateway && !o->no_shared_state && start_gateway_fleet(d, o) == -1)
		return 2;
	if (o->no_health_check)
		return 0;
	if (o->health_tls_insecure)
		log_warn("--health-tls-insecure: health checks do not verify certificates", NULL);
	d->health = health_start(d->loop, &d->reg, &ho, on_health_change, d);
	if (!d->health) {
		fprintf(stderr, "lb-discover: cannot start health checks (libcurl)\n");
		return 1;
	}
	return 0;
}

static void stop_all(struct discover *d, struct admin *admin)
{
	admin_release(admin);
	tracing_stop();
	health_stop(d->health);
	source_routes_stop(d->routes);
	status_lease_stop(d->status_lease);
	source_gateway_stop(d->gateway);
	source_file_stop(d->file);
	source_dns_stop(d->dns);
	source_k8s_stop(d->k8s);
	replicas_stop(d->replicas);
	fleet_stop(d->fleet);
	kube_release(&d->kube);
	routed_release(&d->routed, NULL);	/* the state file's routed overrides, unused */
	proxies_release(d);
	bus_close(&d->pub);
	bus_close(&d->pull);
	bus_close(&d->rep);
	registry_release(&d->reg);
}

/* --check-config: the flags, environment and file were valid (checked as
 * at start-up, binding and reading nothing else): their account on stdout. */
static void check_config(const struct discover_options *o, const struct config_result *cfg)
{
	config_show(stdout, options_spec(), o, cfg);
	fflush(stdout);
	fprintf(stderr, "lb-discover: the configuration is valid (file: %s)\n",
		cfg->file[0] ? cfg->file : "none");
}

int main(int argc, char **argv)
{
	struct discover_options opts;
	struct config_result cfg;
	struct discover d;
	struct admin admin;
	struct signals sig;
	struct ev_loop *loop = NULL;
	char *token = NULL, err[512];
	long dns_port;
	int rc, checking;

	memset(&d, 0, sizeof(d));
	memset(&admin, 0, sizeof(admin));
	d.pub.sock = d.pull.sock = d.rep.sock = -1;
	checking = config_show_take_flag(&argc, argv, "--check-config");
	rc = options_load(&opts, argc, argv, &cfg);
	if (rc != -1)
		return rc;
	rc = 2;
	if (options_check(&opts, &dns_port) == -1)
		goto out;
	if (opts.admin_token && !(token = admin_read_token(opts.admin_token, err, sizeof(err)))) {
		fprintf(stderr, "lb-discover: %s\n", err);
		goto out;
	}
	if (tracing_check(&opts, err, sizeof(err)) == -1) {
		fprintf(stderr, "lb-discover: %s\n", err);
		goto out;
	}
	if (checking) {
		check_config(&opts, &cfg);
		rc = 0;
		goto out;
	}
	if (start_registry(&d, &opts) == -1)
		goto out;
	rc = 1;
	if (open_runtime(&d, &opts) == -1)
		goto out;
	loop = ev_default_loop(EVFLAG_AUTO);
	d.opts = &opts;
	rc = 2;
	if (start_source(&d, &opts, loop, dns_port) == -1)
		goto out;
	d.loop = loop;
	d.started = ev_now(loop);
	if (tracing_start(loop, &opts, err, sizeof(err)) == -1) {
		fprintf(stderr, "lb-discover: %s\n", err);
		goto out;
	}
	if ((rc = start_admin(&admin, &d, &opts, token)) != 0)
		goto out;
	control_start(&d);
	proxies_start(&d);
	signals_init(&sig, d.loop, on_stop, NULL, &d);
	if ((rc = start_health(&d, &opts)) != 0)
		goto out;
	ev_timer_init(&d.heartbeat, on_heartbeat, opts.heartbeat, opts.heartbeat);
	d.heartbeat.data = &d;
	ev_timer_start(d.loop, &d.heartbeat);
	discover_commit(&d, 0);
	log_info("publishing", "service=%s runtime_dir=%s generation=%llu backends=%zu",
		 opts.service, d.rundir, d.reg.generation, d.reg.last_n);
	ev_run(d.loop, 0);
	ev_timer_stop(d.loop, &d.heartbeat);
	signals_release(&sig, d.loop);
	log_info("stopped", NULL);
	rc = 0;
out:
	stop_all(&d, &admin);
	free(token);
	config_result_release(&cfg);
	if (loop)
		ev_loop_destroy(loop);
	return rc;
}
