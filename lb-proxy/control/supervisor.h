/* supervisor: lb-proxy --workers N (N > 1), the process nginx calls its
 * master: binds the listeners once (or takes them over from the lb-proxy on
 * the port), runs N workers (this binary again, each a whole lb-proxy and a
 * bus peer of its own) that inherit them and share their accept queue,
 * restarts a worker that dies (with a back-off against a crash loop), passes
 * SIGTERM/SIGINT (drain) and SIGHUP (reload) on, offers the sockets to a
 * replacement (--takeover), and answers the admin port for all
 * (supervisor_admin.h). It handles no request itself. */
#ifndef LB_PROXY_SUPERVISOR_H
#define LB_PROXY_SUPERVISOR_H

#include "proxy_config.h"

/* A worker that lived less than this, seconds, restarts after a back-off
 * that doubles from SUPERVISOR_BACKOFF_MIN to SUPERVISOR_BACKOFF_MAX. */
#define SUPERVISOR_STABLE_SECONDS 10.0
#define SUPERVISOR_BACKOFF_MIN 0.1
#define SUPERVISOR_BACKOFF_MAX 10.0
/* Seconds past --drain-timeout the supervisor waits for its workers to
 * exit after SIGTERM before it kills them (SIGKILL). */
#define SUPERVISOR_KILL_GRACE 5.0

/*
 * Runs the supervisor of `nworkers` workers with the reading c (owned and
 * freed here) until it is stopped; argv (NULL-terminated) is each worker's
 * command line. Returns the exit code: 0 after a stop, 1 when the sockets
 * cannot be had, a worker's own code when one fails at start-up (2: the
 * configuration).
 */
int supervisor_run(struct proxy_config *c, unsigned nworkers, char **argv);

#endif
