/* workers: --workers N|auto, and a worker's side of the supervisor
 * (supervisor.h): the sockets it inherits, and the word that it listens. */
#ifndef LB_PROXY_WORKERS_H
#define LB_PROXY_WORKERS_H

#include <stddef.h>

/* Workers one supervisor runs at most. */
#define WORKERS_MAX 256
/* The environment variable the supervisor hands a worker its descriptors
 * in: "INDEX LISTEN_FD LISTEN2_FD ADMIN_FD READY_FD" (-1: none). Not a
 * setting: a user never sets it. */
#define WORKERS_ENV "LB_PROXY_SUPERVISED_WORKER"

/* What a worker inherits from its supervisor. */
struct worker_inherited {
	int index;			/* 0..N-1; -1: this process is no worker */
	int listen_fd[2];		/* the client listeners (-1: none) */
	unsigned nlisten;
	int admin_fd;			/* its own admin listener (127.0.0.1, an ephemeral port) */
	int ready_fd;			/* one byte when it listens, then closed; -1 after */
};

/*
 * The processes --workers `spec` asks for: a number 1..WORKERS_MAX, or
 * "auto": one per CPU this process may run on (sched_getaffinity, as a
 * cgroup cpuset or taskset narrows it). Returns 0 with *n, or -1 with err.
 */
int workers_count(const char *spec, unsigned *n, char *err, size_t errsz);
/* Whether this process is a supervisor's worker: fills w from WORKERS_ENV
 * (then removed from the environment) and returns 1; 0 when not one (w's
 * index -1); -1 when the variable is malformed (w as when not one). */
int workers_inherited(struct worker_inherited *w);
struct proxy;
struct admin;

/* A worker's sockets as px's listeners (accept.c takes their connections)
 * and its admin's. Returns 0, or -1 with err filled. */
int workers_adopt(struct worker_inherited *w, struct proxy *px, struct admin *admin, char *err,
		  size_t errsz);
/* Tells the supervisor this worker accepts now (once; nothing when w is no worker). */
void workers_ready(struct worker_inherited *w);

#endif
