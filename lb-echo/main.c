/* lb-echo: the backend of lb: answers with its pod identity and echoes JSON. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "echo_server.h"
#include "listener.h"
#include "log.h"
#include "signals.h"

static const struct config_field echo_fields[] = {
	{ "listen", CONFIG_STRING, offsetof(struct echo_options, listen), 0, 0, NULL,
	  "ADDR:PORT to listen on" },
	{ "port", CONFIG_INT, offsetof(struct echo_options, port), 1, 65535, NULL,
	  "listen on all addresses at this port (the ConfigMap shape)" },
	{ "serviceName", CONFIG_STRING, offsetof(struct echo_options, service_name), 0, 0, NULL,
	  "service name reported in answers" },
	{ "maxBody", CONFIG_SIZE, offsetof(struct echo_options, max_body), 0, 1 << 30, NULL,
	  "largest request body (413 beyond)" },
	{ "maxHeaderSize", CONFIG_SIZE, offsetof(struct echo_options, max_header_size), 1024,
	  1 << 20, NULL, "largest request head (431 beyond)" },
	{ "delayMs", CONFIG_INT, offsetof(struct echo_options, delay_ms), 0, 600000, NULL,
	  "injected delay before each answer" },
	{ "errorRate", CONFIG_DOUBLE, offsetof(struct echo_options, error_rate), 0, 1, NULL,
	  "fraction of requests answered 500" },
	{ "accessLog", CONFIG_BOOL, offsetof(struct echo_options, access_log), 0, 0, NULL,
	  "one log line per request (on/off)" },
	{ "idleTimeout", CONFIG_DURATION, offsetof(struct echo_options, idle_timeout), 0.001, 86400,
	  NULL, "seconds a connection may idle or send a request" },
	{ "drainTimeout", CONFIG_DURATION, offsetof(struct echo_options, drain_timeout), 0, 86400,
	  NULL, "seconds in-flight requests get after SIGTERM" },
	{ "reusePort", CONFIG_BOOL, offsetof(struct echo_options, reuse_port), 0, 0, NULL,
	  "SO_REUSEPORT, so several processes share the port" },
	{ "podName", CONFIG_STRING, offsetof(struct echo_options, pod_name), 0, 0, NULL,
	  "the name it answers as (X-Served-By; else $POD_NAME, else the hostname)" },
	{ "podIp", CONFIG_STRING, offsetof(struct echo_options, pod_ip), 0, 0, NULL,
	  "the address it reports (else $POD_IP, else the one a request came to)" },
	{ "namespace", CONFIG_STRING, offsetof(struct echo_options, namespace), 0, 0, NULL,
	  "the namespace it reports (else $NAMESPACE)" },
	CONFIG_LOG_FIELDS(struct echo_options),
};

static const struct config_spec echo_spec = {
	"lb-echo", "LB_ECHO_", "[options]", echo_fields, sizeof(echo_fields) / sizeof(echo_fields[0]),
};

/* Returns `s` escaped for JSON, malloc'd. */
static char *json_escaped(const char *s)
{
	struct buf b = BUF_INIT;

	buf_append_json_escaped(&b, s, strlen(s));
	buf_append(&b, "", 1);
	return b.data;
}

/* `flag` when given, else the Downward API's variable `env`, else NULL. */
static const char *given_or_env(const char *flag, const char *env)
{
	const char *v = getenv(env);

	return flag && *flag ? flag : (v && *v ? v : NULL);
}

static void identity_init(struct echo_identity *id, const struct echo_options *o)
{
	const char *pod = given_or_env(o->pod_name, "POD_NAME");
	const char *ip = given_or_env(o->pod_ip, "POD_IP");
	const char *ns = given_or_env(o->namespace, "NAMESPACE");
	char host[256];

	if (!pod || !*pod) {
		if (gethostname(host, sizeof(host)) == -1)
			strcpy(host, "unknown");
		host[sizeof(host) - 1] = '\0';
		pod = host;
	}
	id->pod_name = json_escaped(pod);
	id->pod_ip = ip ? json_escaped(ip) : NULL;
	id->service = json_escaped(o->service_name);
	id->namespace = ns ? json_escaped(ns) : NULL;
}

static void identity_release(struct echo_identity *id)
{
	free(id->pod_name);
	free(id->pod_ip);
	free(id->service);
	free(id->namespace);
}

static void on_stop(void *data)
{
	echo_server_stop(data);
}

int main(int argc, char **argv)
{
	struct echo_options opts = {
		.listen = "0.0.0.0:8080",
		.service_name = "backend",
		.max_body = 1024 * 1024,
		.max_header_size = HTTP_DEFAULT_MAX_HEADER_SIZE,
		.access_log = 1,
		.idle_timeout = 60,
		.drain_timeout = 30,
		.reuse_port = 0,
		.log_level = "info",
		.log_format = "text",
	};
	struct config_result cfg;
	struct echo_server srv;
	struct signals sig;
	struct ev_loop *loop;
	char err[512], listen[32];
	int rc;

	rc = config_startup(&echo_spec, &opts, argc, argv, &cfg);
	if (rc != -1)
		return rc;
	opts.listen = (char *)config_port_listen(&echo_spec, &cfg, opts.listen, opts.port, listen,
						 sizeof(listen));
	log_setup("lb-echo", log_level_parse(opts.log_level), log_format_parse(opts.log_format));
	loop = ev_default_loop(EVFLAG_AUTO);
	identity_init(&srv.id, &opts);
	if (echo_server_init(&srv, loop, &opts, err, sizeof(err)) == -1) {
		log_error("cannot start", "error=\"%s\"", err);
		fprintf(stderr, "lb-echo: %s\n", err);
		echo_server_release(&srv);
		identity_release(&srv.id);
		config_result_release(&cfg);
		return 1;
	}
	signals_init(&sig, loop, on_stop, NULL, &srv);
	rc = echo_server_start(&srv) == -1 ? 1 : 0;
	if (rc == 0) {
		ev_run(loop, 0);
		log_info("stopped", NULL);
	}
	signals_release(&sig, loop);
	echo_server_release(&srv);
	identity_release(&srv.id);
	config_result_release(&cfg);
	ev_loop_destroy(loop);
	return rc;
}
