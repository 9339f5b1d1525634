/* watch: lb-ctl watch, every service's set as it changes on the bus, one
 * JSON line each (what lb-discover publishes; it names its service). */
#ifndef LB_CTL_WATCH_H
#define LB_CTL_WATCH_H

/* Subscribes to the sets at rundir and prints each set whose generation
 * differs from the last one printed of the same service (the heartbeat
 * repeats every service's set: those are not printed again), only the
 * service named when `service` is not NULL, until `count` lines (0: no
 * limit) or SIGINT/SIGTERM. Returns an lb-ctl exit code (ctl_exit.h). */
int watch_run(const char *rundir, long count, const char *service);

#endif
