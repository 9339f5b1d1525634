/* lb-discover: finds a service's backends, health-checks them, keeps operator
 * overrides and publishes full backend sets on the bus. */
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/admin.h"
#include "cluster/cluster.h"
#include "config.h"
#include "api/control.h"
#include "core/discover.h"
#include "cluster/fleet.h"
#include "sources/health.h"
#include "log.h"
#include "net.h"
#include "core/proxies.h"
#include "cluster/replicas.h"
#include "rundir.h"
#include "signals.h"
#include "sources/source.h"
#include "core/state.h"

static const char *const k8s_apis[] = { "endpointslices", "endpoints", NULL };

static const struct config_field discover_fields[] = {
	{ "service", CONFIG_STRING, offsetof(struct discover_options, service), 0, 0, NULL,
	  "the set's name" },
	{ "static", CONFIG_STRING, offsetof(struct discover_options, static_list), 0, 0, NULL,
	  "source: IP:PORT[@WEIGHT],..." },
	{ "file", CONFIG_STRING, offsetof(struct discover_options, file), 0, 0, NULL,
	  "source: a file of addresses (JSON list or one per line), reloaded on change" },
	{ "dns", CONFIG_STRING, offsetof(struct discover_options, dns), 0, 0, NULL,
	  "source: a DNS name (A/AAAA with --port, else SRV)" },
	{ "port", CONFIG_STRING, offsetof(struct discover_options, port), 0, 0, NULL,
	  "the backends' port: a number for --dns (none: SRV), a name or number for --kubernetes" },
	{ "kubernetes", CONFIG_STRING, offsetof(struct discover_options, kubernetes), 0, 0, NULL,
	  "source: the endpoints of this Kubernetes Service" },
	{ "namespace", CONFIG_STRING, offsetof(struct discover_options, namespace), 0, 0, NULL,
	  "the Service's namespace (else $NAMESPACE, the service account's, default)" },
	{ "kubernetesApi", CONFIG_ENUM, offsetof(struct discover_options, kubernetes_api), 0, 0,
	  k8s_apis, "endpointslices, or endpoints (core/v1, deprecated upstream)" },
	{ "kubeconfig", CONFIG_STRING, offsetof(struct discover_options, kubeconfig), 0, 0, NULL,
	  "a kubeconfig file (else in-cluster, $KUBECONFIG, ~/.kube/config)" },
	{ "apiServer", CONFIG_STRING, offsetof(struct discover_options, api_server), 0, 0, NULL,
	  "the API's URL without auth, e.g. kubectl proxy's http://127.0.0.1:8001" },
	{ "serviceAccountDir", CONFIG_STRING, offsetof(struct discover_options, service_account_dir),
	  0, 0, NULL, "the in-cluster service account mount" },
	{ "watchTimeout", CONFIG_DOUBLE, offsetof(struct discover_options, watch_timeout), 1, 3600,
	  NULL, "timeoutSeconds of each watch" },
	{ "podName", CONFIG_STRING, offsetof(struct discover_options, pod_name), 0, 0, NULL,
	  "--kubernetes: this replica's pod, its Lease's name (else $POD_NAME, the hostname)" },
	{ "podUid", CONFIG_STRING, offsetof(struct discover_options, pod_uid), 0, 0, NULL,
	  "--kubernetes: the pod's uid, so its Lease goes with it (else $POD_UID)" },
	{ "leaseDuration", CONFIG_INT, offsetof(struct discover_options, lease_duration), 1, 3600,
	  NULL, "--kubernetes: seconds a replica's Lease holds unrenewed (renewed every third)" },
	{ "noSharedState", CONFIG_BOOL, offsetof(struct discover_options, no_shared_state), 0, 0,
	  NULL, "--kubernetes: keep overrides in this replica (no ConfigMap, no Leases)" },
	{ "backendServiceName", CONFIG_STRING,
	  offsetof(struct discover_options, backend_service_name), 0, 0, NULL,
	  "ConfigMap shape: same as --kubernetes" },
	{ "backendPort", CONFIG_INT, offsetof(struct discover_options, backend_port), 1, 65535, NULL,
	  "ConfigMap shape: same as --port" },
	{ "dnsInterval", CONFIG_DOUBLE, offsetof(struct discover_options, dns_interval), 0.1, 86400,
	  NULL, "seconds between DNS resolutions" },
	{ "dnsServer", CONFIG_STRING, offsetof(struct discover_options, dns_server), 0, 0, NULL,
	  "IP[:PORT],... of DNS servers (default: /etc/resolv.conf)" },
	{ "healthPath", CONFIG_STRING, offsetof(struct discover_options, health_path), 0, 0, NULL,
	  "path of the health check (2xx/3xx healthy)" },
	{ "healthInterval", CONFIG_DOUBLE, offsetof(struct discover_options, health_interval), 0.01,
	  3600, NULL, "seconds between checks of a backend" },
	{ "healthTimeout", CONFIG_DOUBLE, offsetof(struct discover_options, health_timeout), 0.01,
	  3600, NULL, "seconds a check may take" },
	{ "rise", CONFIG_INT, offsetof(struct discover_options, rise), 1, 100, NULL,
	  "successes in a row for a down backend to come back" },
	{ "fall", CONFIG_INT, offsetof(struct discover_options, fall), 1, 100, NULL,
	  "failures in a row for a backend to go down" },
	{ "healthConcurrency", CONFIG_INT, offsetof(struct discover_options, health_concurrency), 1,
	  100000, NULL, "health checks running at once, at most (spread over the interval)" },
	{ "healthTls", CONFIG_BOOL, offsetof(struct discover_options, health_tls), 0, 0, NULL,
	  "health checks speak HTTPS (verified against the system store or --health-ca)" },
	{ "healthCa", CONFIG_STRING, offsetof(struct discover_options, health_ca), 0, 0, NULL,
	  "PEM FILE of the CAs health-checked certificates are verified against" },
	{ "healthSni", CONFIG_STRING, offsetof(struct discover_options, health_sni), 0, 0, NULL,
	  "NAME the health checks ask for (SNI, Host) and verify" },
	{ "healthTlsInsecure", CONFIG_BOOL, offsetof(struct discover_options, health_tls_insecure),
	  0, 0, NULL, "health checks do not verify certificates" },
	{ "noHealthCheck", CONFIG_BOOL, offsetof(struct discover_options, no_health_check), 0, 0,
	  NULL, "trust the source: no checks" },
	{ "allowEmpty", CONFIG_BOOL, offsetof(struct discover_options, allow_empty), 0, 0, NULL,
	  "apply a source that lists no backends (else the last good set is kept)" },
	{ "overrideGrace", CONFIG_DOUBLE, offsetof(struct discover_options, override_grace), 0,
	  86400, NULL, "seconds an operator override outlives its backend leaving the source" },
	{ "eject5xx", CONFIG_INT, offsetof(struct discover_options, eject_5xx), 0, 1000000, NULL,
	  "the proxies' runs of 5xx answers, summed, that eject a backend fleet-wide (0: off)" },
	{ "ejectGateway", CONFIG_INT, offsetof(struct discover_options, eject_gateway), 0, 1000000,
	  NULL, "the proxies' runs of gateway failures, summed, that eject fleet-wide (0: off)" },
	{ "ejectTime", CONFIG_DOUBLE, offsetof(struct discover_options, eject_time), 0.001, 86400,
	  NULL, "seconds a backend a proxy ejected is ejected fleet-wide, times its ejections" },
	{ "ejectTimeMax", CONFIG_DOUBLE, offsetof(struct discover_options, eject_time_max), 0.001,
	  86400, NULL, "seconds a fleet-wide ejection lasts at most" },
	{ "ejectMaxPercent", CONFIG_INT, offsetof(struct discover_options, eject_max_percent), 0, 100,
	  NULL, "percent of the set ejected fleet-wide at once, at most (at least one can be; 0: none)" },
	{ "runtimeDir", CONFIG_STRING, offsetof(struct discover_options, runtime_dir), 0, 0, NULL,
	  "the bus directory (else LB_RUNTIME_DIR, /run/lb, ...)" },
	{ "heartbeat", CONFIG_DOUBLE, offsetof(struct discover_options, heartbeat), 0.01, 3600, NULL,
	  "seconds between re-publications of the set" },
	{ "admin", CONFIG_STRING, offsetof(struct discover_options, admin), 0, 0, NULL,
	  "the HTTP admin API's ADDR:PORT, e.g. 127.0.0.1:9902 (off by default)" },
	{ "adminToken", CONFIG_STRING, offsetof(struct discover_options, admin_token), 0, 0, NULL,
	  "a file holding the token the API's writes need (Authorization: Bearer)" },
	{ "adminInsecure", CONFIG_BOOL, offsetof(struct discover_options, admin_insecure), 0, 0,
	  NULL, "without --admin-token, bind the API to a non-loopback address anyway" },
	CONFIG_LOG_FIELDS(struct discover_options),
};

static const struct config_spec discover_spec = {
	"lb-discover", "LB_DISCOVER_", "--static IP:PORT,... | --file PATH | --dns NAME [options]",
	discover_fields,
	sizeof(discover_fields) / sizeof(discover_fields[0]),
};

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
	if (registry_expire(&d->reg, ev_time(), d->opts->override_grace, on_override_expired,
			    d))
		discover_save(d);
	discover_commit(d, 0);
}

static void on_health_change(void *data)
{
	discover_commit(data, 0);
}

/* --kubernetes: the shared state and this replica's Lease. Returns 0 or -1. */
static int start_fleet(struct discover *d, const struct discover_options *o)
{
	char host[256];
	const char *pod = o->pod_name && *o->pod_name ? o->pod_name : getenv("POD_NAME");
	const char *uid = o->pod_uid && *o->pod_uid ? o->pod_uid : getenv("POD_UID");
	struct replicas_options ro;

	if (!pod || !*pod) {
		if (gethostname(host, sizeof(host)) == -1)
			snprintf(host, sizeof(host), "lb-discover-%d", (int)getpid());
		host[sizeof(host) - 1] = '\0';
		for (char *c = host; *c; c++)	/* a hostname may have capitals */
			*c = (char)tolower((unsigned char)*c);
		pod = host;
	}
	for (const char *c = pod; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' ||
		      *c == '.')) {
			fprintf(stderr, "lb-discover: --pod-name \"%s\": a Lease name needs lower-case "
					"letters, digits, '-' and '.' (a pod's name is one)\n", pod);
			return -1;
		}
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

static void on_stop(void *data)
{
	struct discover *d = data;

	ev_break(d->loop, EVBREAK_ALL);
}

int main(int argc, char **argv)
{
	struct discover_options opts = {
		.service = "backend",
		.heartbeat = 1.0,
		.dns_interval = 5,
		.kubernetes_api = "endpointslices",
		.service_account_dir = "/var/run/secrets/kubernetes.io/serviceaccount",
		.watch_timeout = 300,
		.health_path = "/health",
		.health_interval = 2,
		.health_timeout = 1,
		.rise = 2,
		.fall = 3,
		.health_concurrency = 64,
		.override_grace = 30,
		.eject_5xx = 5,
		.eject_gateway = 3,
		.eject_time = 30,
		.eject_time_max = 300,
		.eject_max_percent = 50,
		.lease_duration = 15,
		.log_level = "info",
		.log_format = "text",
	};
	struct config_result cfg;
	struct discover d;
	struct admin admin;
	char *token = NULL;
	struct signals sig;
	struct ev_loop *loop = NULL;
	char err[512], port_buf[16];
	long dns_port = 0;
	int rc;

	memset(&d, 0, sizeof(d));
	memset(&admin, 0, sizeof(admin));
	d.pub.sock = d.pull.sock = d.rep.sock = -1;
	rc = config_startup(&discover_spec, &opts, argc, argv, &cfg);
	if (rc != -1)
		return rc;
	log_setup("lb-discover", log_level_parse(opts.log_level), log_format_parse(opts.log_format));
	rc = 2;
	/* the original ConfigMap: {"backendServiceName": ..., "backendPort": ...} */
	if (opts.backend_service_name && !opts.kubernetes)
		opts.kubernetes = opts.backend_service_name;
	if (opts.backend_port && !opts.port) {
		snprintf(port_buf, sizeof(port_buf), "%ld", opts.backend_port);
		opts.port = port_buf;
	}
	if (!!opts.static_list + !!opts.file + !!opts.dns + !!opts.kubernetes != 1) {
		fprintf(stderr, "lb-discover: give one source: --static IP:PORT,..., --file PATH, "
				"--dns NAME [--port P] or --kubernetes SERVICE\n");
		goto out;
	}
	if (opts.dns && opts.port) {
		char *end;

		dns_port = strtol(opts.port, &end, 10);
		if (*end || dns_port < 1 || dns_port > 65535) {
			fprintf(stderr, "lb-discover: --port \"%s\": with --dns, a number from 1 to "
					"65535\n", opts.port);
			goto out;
		}
	}
	if (opts.eject_time_max < opts.eject_time) {
		fprintf(stderr, "lb-discover: --eject-time-max must be at least --eject-time (got %g, "
				"--eject-time %g)\n", opts.eject_time_max, opts.eject_time);
		goto out;
	}
	if (strlen(opts.service) >= BUS_NAME_MAX || strchr(opts.service, '/')) {
		fprintf(stderr, "lb-discover: --service must be a name under 64 bytes without '/'\n");
		goto out;
	}
	if ((opts.admin_token || opts.admin_insecure) && !opts.admin) {
		fprintf(stderr, "lb-discover: --admin-token and --admin-insecure need --admin "
				"ADDR:PORT (the admin API is off without it)\n");
		goto out;
	}
	if (opts.admin_token && !(token = admin_read_token(opts.admin_token, err, sizeof(err)))) {
		fprintf(stderr, "lb-discover: %s\n", err);
		goto out;
	}
	registry_init(&d.reg, opts.service);
	if (opts.static_list) {
		struct bus_backend *list = NULL;
		int n = source_parse_list(opts.static_list, &list, err, sizeof(err));

		if (n < 0) {
			fprintf(stderr, "lb-discover: --static: %s\n", err);
			goto out;
		}
		if (n == 0 && !opts.allow_empty) {
			fprintf(stderr, "lb-discover: --static lists no backends (--allow-empty starts "
					"with none)\n");
			goto out;
		}
		registry_source_update(&d.reg, list, (size_t)n, ev_time());
		free(list);
	}
	rc = 1;
	if (rundir_resolve(opts.runtime_dir, 1, d.rundir, sizeof(d.rundir), err, sizeof(err)) == -1) {
		fprintf(stderr, "lb-discover: %s\n", err);
		goto out;
	}
	snprintf(d.state_path, sizeof(d.state_path), "%s/discover-%s.json", d.rundir, opts.service);
	switch (state_load(&d.reg, d.state_path, err, sizeof(err))) {
	case 0:
		break;
	case 1:
		log_info("no state file: no operator overrides (a first start, or the file was "
			 "deleted); the proxies' reports keep the generation from going back",
			 "file=%s", d.state_path);
		break;
	default:
		log_error("state file damaged: starting without its operator overrides; the "
			  "proxies' reports keep the generation from going back", "error=\"%s\"", err);
	}
	if (bus_open(&d.pub, BUS_PUB, d.rundir, BUS_SOCKET_SETS, err, sizeof(err)) == -1 ||
	    bus_open(&d.pull, BUS_PULL, d.rundir, BUS_SOCKET_REPORTS, err, sizeof(err)) == -1 ||
	    bus_open(&d.rep, BUS_REP, d.rundir, BUS_SOCKET_CONTROL, err, sizeof(err)) == -1) {
		fprintf(stderr, "lb-discover: %s\n", err);
		goto out;
	}
	loop = ev_default_loop(EVFLAG_AUTO);
	d.opts = &opts;
	if (opts.file && !(d.file = source_file_start(loop, opts.file, discover_source_update, &d, err,
							sizeof(err)))) {
		fprintf(stderr, "lb-discover: --file: %s\n", err);
		rc = 2;
		goto out;
	}
	d.loop = loop;
	if (opts.kubernetes) {
		struct kube_options kopts = { opts.api_server, opts.kubeconfig,
					      opts.service_account_dir, opts.namespace };
		struct source_k8s_options ko = {
			opts.kubernetes, opts.port, strcmp(opts.kubernetes_api, "endpoints") == 0,
			opts.watch_timeout,
		};

		if (kube_init(&d.kube, loop, &kopts, err, sizeof(err)) == -1) {
			fprintf(stderr, "lb-discover: --kubernetes: %s\n", err);
			rc = 2;
			goto out;
		}
		if (!opts.no_shared_state && start_fleet(&d, &opts) == -1) {
			rc = 2;
			goto out;
		}
		d.k8s = source_k8s_start(&d.kube, &ko, discover_source_update, &d, err, sizeof(err));
		if (!d.k8s) {
			fprintf(stderr, "lb-discover: --kubernetes: %s\n", err);
			rc = 2;
			goto out;
		}
	}
	if (opts.dns && !(d.dns = source_dns_start(loop, opts.dns, (int)dns_port, opts.dns_interval,
						     opts.dns_server, discover_source_update, &d, err,
						     sizeof(err)))) {
		fprintf(stderr, "lb-discover: --dns: %s\n", err);
		rc = 2;
		goto out;
	}
	d.loop = loop;
	d.started = ev_now(loop);
	if (opts.admin && admin_init(&admin, &d, opts.admin, token, opts.admin_insecure, err,
				     sizeof(err)) == -1) {
		fprintf(stderr, "lb-discover: %s\n", err);
		rc = 2;
		goto out;
	}
	if (opts.admin && admin_start(&admin) == -1)
		goto out;
	control_start(&d);
	proxies_start(&d);
	signals_init(&sig, d.loop, on_stop, NULL, &d);
	if (!opts.no_health_check) {
		struct health_options ho = { opts.health_path, opts.health_interval,
					     opts.health_timeout, (int)opts.rise, (int)opts.fall,
					     (int)opts.health_concurrency, opts.health_tls,
					     opts.health_ca, opts.health_sni,
					     opts.health_tls_insecure };

		if (opts.health_path[0] != '/') {
			fprintf(stderr, "lb-discover: --health-path must start with /\n");
			rc = 2;
			goto out;
		}
		if (health_tls_check(&ho, err, sizeof(err)) == -1) {
			fprintf(stderr, "lb-discover: %s\n", err);
			rc = 2;
			goto out;
		}
		if (opts.health_tls_insecure)
			log_warn("--health-tls-insecure: health checks do not verify certificates",
				 NULL);
		d.health = health_start(d.loop, &d.reg, &ho, on_health_change, &d);
		if (!d.health) {
			fprintf(stderr, "lb-discover: cannot start health checks (libcurl)\n");
			goto out;
		}
	}
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
	admin_release(&admin);
	free(token);
	health_stop(d.health);
	source_file_stop(d.file);
	source_dns_stop(d.dns);
	source_k8s_stop(d.k8s);
	replicas_stop(d.replicas);
	fleet_stop(d.fleet);
	kube_release(&d.kube);
	proxies_release(&d);
	bus_close(&d.pub);
	bus_close(&d.pull);
	bus_close(&d.rep);
	registry_release(&d.reg);
	config_result_release(&cfg);
	if (loop)
		ev_loop_destroy(loop);
	return rc;
}
