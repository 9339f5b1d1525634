/* lb-discover: finds a service's backends, health-checks them, keeps operator
 * overrides and publishes full backend sets on the bus. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "control.h"
#include "discover.h"
#include "health.h"
#include "log.h"
#include "net.h"
#include "rundir.h"
#include "signals.h"
#include "state.h"

static const struct config_field discover_fields[] = {
	{ "service", CONFIG_STRING, offsetof(struct discover_options, service), 0, 0, NULL,
	  "the set's name" },
	{ "static", CONFIG_STRING, offsetof(struct discover_options, static_list), 0, 0, NULL,
	  "source: IP:PORT[@WEIGHT],..." },
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
	{ "noHealthCheck", CONFIG_BOOL, offsetof(struct discover_options, no_health_check), 0, 0,
	  NULL, "trust the source: no checks" },
	{ "runtimeDir", CONFIG_STRING, offsetof(struct discover_options, runtime_dir), 0, 0, NULL,
	  "the bus directory (else LB_RUNTIME_DIR, /run/lb, ...)" },
	{ "heartbeat", CONFIG_DOUBLE, offsetof(struct discover_options, heartbeat), 0.01, 3600, NULL,
	  "seconds between re-publications of the set" },
	CONFIG_LOG_FIELDS(struct discover_options),
};

static const struct config_spec discover_spec = {
	"lb-discover", "LB_DISCOVER_", "--static IP:PORT,... [options]", discover_fields,
	sizeof(discover_fields) / sizeof(discover_fields[0]),
};

void discover_publish(struct discover *d)
{
	struct bus_set set;
	struct buf msg = BUF_INIT;
	char err[512];

	if (registry_commit(&d->reg)) {
		if (state_save(&d->reg, d->state_path, err, sizeof(err)) == -1)
			log_error("state not saved", "error=\"%s\"", err);
		log_info("set changed", "service=%s generation=%llu", d->reg.service,
			 d->reg.generation);
	}
	if (registry_snapshot(&d->reg, &set) == -1)
		return;
	if (bus_set_encode(&set, &msg) == 0)
		bus_send(&d->pub, msg.data, msg.len);
	buf_release(&msg);
	bus_set_release(&set);
}

static void on_heartbeat(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct discover *d = w->data;
	(void)loop;
	(void)revents;

	control_prune(d, 5 * d->opts->heartbeat + 2);
	discover_publish(d);
}

/* "IP:PORT[@WEIGHT],..." into a list; returns the count or -1 with err. */
static int parse_static(const char *spec, struct bus_backend **out, char *err, size_t errsz)
{
	char *copy = strdup(spec), *save = NULL, *item;
	struct bus_backend *list = NULL;
	int n = 0;

	for (item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *at = strrchr(item, '@');
		struct bus_backend *grown;
		struct net_addr na;
		long weight = 1;

		while (*item == ' ')
			item++;
		if (at && (!strchr(item, ']') || at > strchr(item, ']'))) {
			*at = '\0';
			weight = strtol(at + 1, NULL, 10);
			if (weight < 1 || weight > 1000) {
				snprintf(err, errsz, "backend \"%s\": the weight must be 1 to 1000", item);
				goto fail;
			}
		}
		if (strlen(item) >= BUS_ADDRESS_MAX || net_parse_numeric(item, &na, err, errsz) == -1)
			goto fail;
		grown = realloc(list, (size_t)(n + 1) * sizeof(*list));
		if (!grown)
			goto fail;
		list = grown;
		memset(&list[n], 0, sizeof(list[n]));
		snprintf(list[n].address, sizeof(list[n].address), "%s", item);
		list[n].weight = (int)weight;
		n++;
	}
	free(copy);
	*out = list;
	return n;
fail:
	free(copy);
	free(list);
	return -1;
}

static void on_health_change(void *data)
{
	discover_publish(data);
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
		.health_path = "/health",
		.health_interval = 2,
		.health_timeout = 1,
		.rise = 2,
		.fall = 3,
		.log_level = "info",
		.log_format = "text",
	};
	struct config_result cfg;
	struct discover d;
	struct signals sig;
	char err[512];
	int rc;

	memset(&d, 0, sizeof(d));
	d.pub.sock = d.pull.sock = d.rep.sock = -1;
	rc = config_startup(&discover_spec, &opts, argc, argv, &cfg);
	if (rc != -1)
		return rc;
	log_setup("lb-discover", log_level_parse(opts.log_level), log_format_parse(opts.log_format));
	rc = 2;
	if (!opts.static_list) {
		fprintf(stderr, "lb-discover: no source: give --static IP:PORT,...\n");
		goto out;
	}
	if (strlen(opts.service) >= BUS_NAME_MAX || strchr(opts.service, '/')) {
		fprintf(stderr, "lb-discover: --service must be a name under 64 bytes without '/'\n");
		goto out;
	}
	registry_init(&d.reg, opts.service);
	{
		struct bus_backend *list = NULL;
		int n = parse_static(opts.static_list, &list, err, sizeof(err));

		if (n < 0) {
			fprintf(stderr, "lb-discover: --static: %s\n", err);
			goto out;
		}
		registry_source_update(&d.reg, list, (size_t)n);
		free(list);
	}
	rc = 1;
	if (rundir_resolve(opts.runtime_dir, 1, d.rundir, sizeof(d.rundir), err, sizeof(err)) == -1) {
		fprintf(stderr, "lb-discover: %s\n", err);
		goto out;
	}
	snprintf(d.state_path, sizeof(d.state_path), "%s/discover-%s.json", d.rundir, opts.service);
	if (state_load(&d.reg, d.state_path, err, sizeof(err)) == -1)
		log_warn("state file ignored", "error=\"%s\"", err);
	if (bus_open(&d.pub, BUS_PUB, d.rundir, BUS_SOCKET_SETS, err, sizeof(err)) == -1 ||
	    bus_open(&d.pull, BUS_PULL, d.rundir, BUS_SOCKET_REPORTS, err, sizeof(err)) == -1 ||
	    bus_open(&d.rep, BUS_REP, d.rundir, BUS_SOCKET_CONTROL, err, sizeof(err)) == -1) {
		fprintf(stderr, "lb-discover: %s\n", err);
		goto out;
	}
	d.loop = ev_default_loop(EVFLAG_AUTO);
	d.opts = &opts;
	control_start(&d);
	signals_init(&sig, d.loop, on_stop, NULL, &d);
	if (!opts.no_health_check) {
		struct health_options ho = { opts.health_path, opts.health_interval,
					     opts.health_timeout, (int)opts.rise, (int)opts.fall };

		if (opts.health_path[0] != '/') {
			fprintf(stderr, "lb-discover: --health-path must start with /\n");
			rc = 2;
			goto out;
		}
		d.health = health_start(d.loop, &d.reg, &ho, on_health_change, &d);
		if (!d.health) {
			fprintf(stderr, "lb-discover: cannot start health checks (libcurl)\n");
			goto out;
		}
	}
	ev_timer_init(&d.heartbeat, on_heartbeat, opts.heartbeat, opts.heartbeat);
	d.heartbeat.data = &d;
	ev_timer_start(d.loop, &d.heartbeat);
	discover_publish(&d);
	log_info("publishing", "service=%s runtime_dir=%s generation=%llu backends=%zu",
		 opts.service, d.rundir, d.reg.generation, d.reg.n);
	ev_run(d.loop, 0);
	ev_timer_stop(d.loop, &d.heartbeat);
	signals_release(&sig, d.loop);
	log_info("stopped", NULL);
	rc = 0;
out:
	health_stop(d.health);
	control_release(&d);
	bus_close(&d.pub);
	bus_close(&d.pull);
	bus_close(&d.rep);
	registry_release(&d.reg);
	config_result_release(&cfg);
	if (d.loop)
		ev_loop_destroy(d.loop);
	return rc;
}
