/* options: lb-discover's flags (and their LB_DISCOVER_ variables and config
 * file keys): the table, the defaults and the checks across flags. */
#include "options.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "otlp_export.h"

static const char *const k8s_apis[] = { "endpointslices", "endpoints", NULL };

static const struct config_field discover_fields[] = {
	{ "service", CONFIG_STRING, offsetof(struct discover_options, service), 0, 0, NULL,
	  "the set's name" },
	{ "static", CONFIG_STRING, offsetof(struct discover_options, static_list), 0, 0, NULL,
	  "source: IP:PORT[@WEIGHT],..." },
	{ "file", CONFIG_STRING, offsetof(struct discover_options, file), 0, 0, NULL,
	  "source: a file of addresses (JSON list or one per line), reloaded on change" },
	{ "routes", CONFIG_STRING, offsetof(struct discover_options, routes), 0, 0, NULL,
	  "routes: Gateway API documents (Gateway, HTTPRoute, ReferenceGrant) and Backends, "
	  "YAML or JSON, reloaded on change" },
	{ "gateway", CONFIG_STRING, offsetof(struct discover_options, gateway), 0, 0, NULL,
	  "the Gateway to serve, NAMESPACE/NAME: from the cluster (a Gateway API controller), or "
	  "with --routes the file's (default: its only one)" },
	{ "gatewayController", CONFIG_STRING,
	  offsetof(struct discover_options, gateway_controller), 0, 0, NULL,
	  "--gateway: the GatewayClass spec.controllerName this controller serves" },
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
	{ "watchTimeout", CONFIG_DURATION, offsetof(struct discover_options, watch_timeout), 1, 3600,
	  NULL, "timeoutSeconds of each watch" },
	{ "podName", CONFIG_STRING, offsetof(struct discover_options, pod_name), 0, 0, NULL,
	  "--kubernetes, --gateway: this replica's pod, its Lease's name (else $POD_NAME, the "
	  "hostname)" },
	{ "podUid", CONFIG_STRING, offsetof(struct discover_options, pod_uid), 0, 0, NULL,
	  "--kubernetes: the pod's uid, so its Lease goes with it (else $POD_UID)" },
	{ "leaseDuration", CONFIG_INT, offsetof(struct discover_options, lease_duration), 1, 3600,
	  NULL, "--kubernetes, --gateway: seconds a replica's Lease holds unrenewed (renewed every "
	  "third)" },
	{ "noSharedState", CONFIG_BOOL, offsetof(struct discover_options, no_shared_state), 0, 0,
	  NULL, "--kubernetes: keep overrides in this replica (no ConfigMap, no Leases); --gateway: "
	  "one replica, writing status alone (no Leases)" },
	{ "backendServiceName", CONFIG_STRING,
	  offsetof(struct discover_options, backend_service_name), 0, 0, NULL,
	  "ConfigMap shape: same as --kubernetes" },
	{ "backendPort", CONFIG_INT, offsetof(struct discover_options, backend_port), 1, 65535, NULL,
	  "ConfigMap shape: same as --port" },
	{ "dnsInterval", CONFIG_DURATION, offsetof(struct discover_options, dns_interval), 0.1, 86400,
	  NULL, "seconds between DNS resolutions" },
	{ "dnsServer", CONFIG_STRING, offsetof(struct discover_options, dns_server), 0, 0, NULL,
	  "IP[:PORT],... of DNS servers (default: /etc/resolv.conf)" },
	{ "healthPath", CONFIG_STRING, offsetof(struct discover_options, health_path), 0, 0, NULL,
	  "path of the health check (2xx/3xx healthy)" },
	{ "healthInterval", CONFIG_DURATION, offsetof(struct discover_options, health_interval), 0.01,
	  3600, NULL, "seconds between checks of a backend" },
	{ "healthTimeout", CONFIG_DURATION, offsetof(struct discover_options, health_timeout), 0.01,
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
	{ "healthGrpc", CONFIG_BOOL, offsetof(struct discover_options, health_grpc), 0, 0, NULL,
	  "health checks are gRPC's grpc.health.v1.Health/Check over HTTP/2 (h2c, or h2 with "
	  "--health-tls): healthy when SERVING" },
	{ "healthGrpcService", CONFIG_STRING, offsetof(struct discover_options, health_grpc_service),
	  0, 0, NULL, "--health-grpc: the SERVICE asked about (default: the server as a whole)" },
	{ "noHealthCheck", CONFIG_BOOL, offsetof(struct discover_options, no_health_check), 0, 0,
	  NULL, "trust the source: no checks" },
	{ "allowEmpty", CONFIG_BOOL, offsetof(struct discover_options, allow_empty), 0, 0, NULL,
	  "apply a source that lists no backends (else the last good set is kept)" },
	{ "overrideGrace", CONFIG_DURATION, offsetof(struct discover_options, override_grace), 0,
	  86400, NULL, "seconds an operator override outlives its backend leaving the source" },
	{ "eject5xx", CONFIG_INT, offsetof(struct discover_options, eject_5xx), 0, 1000000, NULL,
	  "the proxies' runs of 5xx answers, summed, that eject a backend fleet-wide (0: off)" },
	{ "ejectGateway", CONFIG_INT, offsetof(struct discover_options, eject_gateway), 0, 1000000,
	  NULL, "the proxies' runs of gateway failures, summed, that eject fleet-wide (0: off)" },
	{ "ejectTime", CONFIG_DURATION, offsetof(struct discover_options, eject_time), 0.001, 86400,
	  NULL, "seconds a backend a proxy ejected is ejected fleet-wide, times its ejections" },
	{ "ejectTimeMax", CONFIG_DURATION, offsetof(struct discover_options, eject_time_max), 0.001,
	  86400, NULL, "seconds a fleet-wide ejection lasts at most" },
	{ "ejectMaxPercent", CONFIG_INT, offsetof(struct discover_options, eject_max_percent), 0, 100,
	  NULL, "percent of the set ejected fleet-wide at once, at most (at least one can be; 0: none)" },
	{ "runtimeDir", CONFIG_STRING, offsetof(struct discover_options, runtime_dir), 0, 0, NULL,
	  "the bus directory (else LB_RUNTIME_DIR, /run/lb, ...)" },
	{ "heartbeat", CONFIG_DURATION, offsetof(struct discover_options, heartbeat), 0.01, 3600, NULL,
	  "seconds between re-publications of the set" },
	{ "admin", CONFIG_STRING, offsetof(struct discover_options, admin), 0, 0, NULL,
	  "the HTTP admin API's ADDR:PORT, e.g. 127.0.0.1:9902 (off by default)" },
	{ "adminToken", CONFIG_STRING, offsetof(struct discover_options, admin_token), 0, 0, NULL,
	  "a file holding the token the API's writes need (Authorization: Bearer)" },
	{ "adminInsecure", CONFIG_BOOL, offsetof(struct discover_options, admin_insecure), 0, 0,
	  NULL, "without --admin-token, bind the API to a non-loopback address anyway" },
	/* Tracing (docs/tracing.md#lb-discover): start-up only */
	{ "otlpEndpoint", CONFIG_STRING, offsetof(struct discover_options, otlp_endpoint), 0, 0,
	  NULL, "OTLP/HTTP base URL for spans of the API's writes and shared-state conflicts" },
	{ "otlpHeader", CONFIG_LIST, offsetof(struct discover_options, otlp_headers), 0,
	  OTLP_EXPORT_HEADERS_MAX, NULL, "NAME=VALUE sent with every export (repeatable)" },
	{ "otlpCompression", CONFIG_STRING, offsetof(struct discover_options, otlp_compression), 0,
	  0, NULL, "gzip: export bodies compressed (default none)" },
	CONFIG_LOG_FIELDS(struct discover_options),
};

static const struct config_spec discover_spec = {
	"lb-discover", "LB_DISCOVER_", "--static IP:PORT,... | --file PATH | --dns NAME | --routes FILE [options] [--check-config]",
	discover_fields,
	sizeof(discover_fields) / sizeof(discover_fields[0]),
};

int options_load(struct discover_options *o, int argc, char **argv, struct config_result *cfg)
{
	int rc;

	*o = (struct discover_options){
		.service = "backend",
		.gateway_controller = "lb.dev/gateway-controller",
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
	rc = config_startup(&discover_spec, o, argc, argv, cfg);
	if (rc != -1)
		return rc;
	log_setup("lb-discover", log_level_parse(o->log_level), log_format_parse(o->log_format));
	return -1;
}

const struct config_spec *options_spec(void)
{
	return &discover_spec;
}

int options_check(struct discover_options *o, long *dns_port)
{
	*dns_port = 0;
	/* the original ConfigMap: {"backendServiceName": ..., "backendPort": ...} */
	if (o->backend_service_name && !o->kubernetes)
		o->kubernetes = o->backend_service_name;
	if (o->backend_port && !o->port) {
		snprintf(o->backend_port_text, sizeof(o->backend_port_text), "%ld", o->backend_port);
		o->port = o->backend_port_text;
	}
	if (!!o->static_list + !!o->file + !!o->dns + !!o->kubernetes > 1 ||
	    (!o->routes && !o->gateway && !o->static_list && !o->file && !o->dns &&
	     !o->kubernetes)) {
		fprintf(stderr, "lb-discover: give one source: --static IP:PORT,..., --file PATH, "
				"--dns NAME [--port P] or --kubernetes SERVICE (and/or --routes "
				"FILE, or --gateway NAMESPACE/NAME)\n");
		return -1;
	}
	if (o->dns && o->port) {
		char *end;

		*dns_port = strtol(o->port, &end, 10);
		if (*o->port < '0' || *o->port > '9' || *end || *dns_port < 1 ||
		    *dns_port > 65535) {
			fprintf(stderr, "lb-discover: --port \"%s\": with --dns, a number from 1 to "
					"65535\n", o->port);
			return -1;
		}
	}
	if (o->eject_time_max < o->eject_time) {
		fprintf(stderr, "lb-discover: --eject-time-max must be at least --eject-time (got %g, "
				"--eject-time %g)\n", o->eject_time_max, o->eject_time);
		return -1;
	}
	if (strlen(o->service) >= BUS_NAME_MAX || strchr(o->service, '/')) {
		fprintf(stderr, "lb-discover: --service must be a name under 64 bytes without '/'\n");
		return -1;
	}
	if ((o->admin_token || o->admin_insecure) && !o->admin) {
		fprintf(stderr, "lb-discover: --admin-token and --admin-insecure need --admin "
				"ADDR:PORT (the admin API is off without it)\n");
		return -1;
	}
	return 0;
}
