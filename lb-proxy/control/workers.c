/* workers: --workers N|auto and a worker's side of the supervisor (see workers.h). */
#include "workers.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"
#include "http/accept.h"
#include "http/proxy.h"

int workers_count(const char *spec, unsigned *n, char *err, size_t errsz)
{
	char *end;
	long v;

	if (spec && strcmp(spec, "auto") == 0) {
		cpu_set_t set;
		int cpus;

		CPU_ZERO(&set);
		cpus = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 0;
		if (cpus <= 0) {
			long online = sysconf(_SC_NPROCESSORS_ONLN);

			cpus = online > 0 ? (int)online : 1;
		}
		*n = cpus > WORKERS_MAX ? WORKERS_MAX : (unsigned)cpus;
		return 0;
	}
	errno = 0;
	v = spec ? strtol(spec, &end, 10) : 0;
	if (!spec || *spec < '0' || *spec > '9' || *end || errno || v < 1 || v > WORKERS_MAX) {
		snprintf(err, errsz, "--workers must be a number between 1 and %d, or auto (one per "
			 "CPU this process may run on) (got \"%s\")", WORKERS_MAX, spec ? spec : "");
		return -1;
	}
	*n = (unsigned)v;
	return 0;
}

int workers_inherited(struct worker_inherited *w)
{
	const char *v = getenv(WORKERS_ENV);
	int index, l0, l1, admin, ready;

	memset(w, 0, sizeof(*w));
	w->index = -1;
	w->listen_fd[0] = w->listen_fd[1] = w->admin_fd = w->ready_fd = -1;
	if (!v)
		return 0;
	if (sscanf(v, "%d %d %d %d %d", &index, &l0, &l1, &admin, &ready) != 5 || index < 0 ||
	    index >= WORKERS_MAX || l0 < 0 || admin < 0) {
		unsetenv(WORKERS_ENV);
		return -1;
	}
	unsetenv(WORKERS_ENV);
	w->index = index;
	w->listen_fd[0] = l0;
	w->listen_fd[1] = l1;
	w->nlisten = l1 >= 0 ? 2 : 1;
	w->admin_fd = admin;
	w->ready_fd = ready;
	return 1;
}

void workers_ready(struct worker_inherited *w)
{
	if (w->ready_fd < 0)
		return;
	/* a pipe with room: it never blocks; a supervisor gone is no matter */
	if (write(w->ready_fd, "1", 1) == -1)
		(void)0;
	close(w->ready_fd);
	w->ready_fd = -1;
}

int workers_adopt(struct worker_inherited *w, struct proxy *px, struct admin *admin, char *err,
		  size_t errsz)
{
	for (unsigned i = 0; i < w->nlisten; i++) {
		if (listener_adopt(&px->listeners[i].l, px->loop, w->listen_fd[i], accept_on_accept,
				   px, err, errsz) == -1)
			return -1;
		px->nlisteners = i + 1;
	}
	return admin_adopt(admin, px, w->admin_fd, err, errsz);
}
