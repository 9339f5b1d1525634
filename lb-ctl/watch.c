/* watch: the sets on the bus, one JSON line per change (see watch.h). */
#include "watch.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "bus_protocol.h"
#include "ctl_exit.h"

/* the last generation printed of one service */
struct watch_seen {
	char service[BUS_SERVICE_MAX];
	unsigned long long generation;
};

static volatile sig_atomic_t watch_stop;

static void on_signal(int sig)
{
	(void)sig;
	watch_stop = 1;
}

/* 1 when set is a change to print: a new generation of its service (seen
 * remembers it). A set of a service past the memory's growth is printed. */
static int is_new(struct watch_seen **seen, size_t *n, const struct bus_set *set)
{
	struct watch_seen *grown;

	for (size_t i = 0; i < *n; i++) {
		if (strcmp((*seen)[i].service, set->service) != 0)
			continue;
		if ((*seen)[i].generation == set->generation)
			return 0;
		(*seen)[i].generation = set->generation;
		return 1;
	}
	grown = realloc(*seen, (*n + 1) * sizeof(**seen));
	if (!grown)
		return 1;
	*seen = grown;
	snprintf(grown[*n].service, sizeof(grown[*n].service), "%s", set->service);
	grown[(*n)++].generation = set->generation;
	return 1;
}

int watch_run(const char *rundir, long count, const char *service)
{
	struct bus b;
	struct watch_seen *seen = NULL;
	size_t nseen = 0;
	char err[512], *msg;
	size_t len;
	long printed = 0;

	if (bus_open(&b, BUS_SUB, rundir, BUS_SOCKET_SETS, err, sizeof(err)) == -1) {
		fprintf(stderr, "lb-ctl: %s\n", err);
		return CTL_NO_DISCOVER;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (!watch_stop && (count <= 0 || printed < count)) {
		struct bus_set set;

		if (bus_receive(&b, &msg, &len, 200) == -1)
			continue;
		if (bus_set_decode(msg, len, &set, err, sizeof(err)) == 0 &&
		    (!service || strcmp(service, set.service) == 0) && is_new(&seen, &nseen, &set)) {
			fwrite(msg, 1, len, stdout);
			fputc('\n', stdout);
			printed++;
		}
		bus_set_release(&set);
		free(msg);
	}
	free(seen);
	bus_close(&b);
	return CTL_OK;
}
