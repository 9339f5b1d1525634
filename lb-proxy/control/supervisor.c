/* supervisor: lb-proxy --workers N: the workers' process, their sockets,
 * their signals and the admin port for all (see supervisor.h). */
#include "supervisor.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "handover.h"
#include "listener.h"
#include "log.h"
#include "net.h"
#include "rundir.h"
#include "signals.h"
#include "supervisor_admin.h"
#include "takeover.h"
#include "takeover_client.h"
#include "takeover_server.h"
#include "workers.h"

struct supervisor;

/* One worker slot: its process comes and goes, its admin socket stays. */
struct worker {
	struct supervisor *sv;
	unsigned index;
	pid_t pid;		/* 0 while not running */
	int admin_fd;		/* its admin listener: 127.0.0.1, an ephemeral port, bound here */
	int ready_fd;		/* the read end of its ready pipe, -1 when closed */
	ev_io ready_io;
	ev_child child;
	ev_timer restart;	/* the back-off before it starts again */
	ev_tstamp started;
	double backoff;		/* seconds before the next restart (0: at once) */
	unsigned restarts;
	unsigned ever_ready : 1;
};

struct supervisor {
	struct ev_loop *loop;
	const struct proxy_options *opts;
	char **argv;
	unsigned n;
	struct worker *w;
	struct supervisor_target *targets;	/* the admin's view of w */
	struct listener listeners[PROXY_LISTEN_MAX];	/* bound here, never watched here */
	unsigned nlisteners;
	struct listener admin_listener;	/* the admin port, until the admin takes it */
	struct supervisor_admin admin;
	struct takeover_server server;	/* offers the sockets to a replacement */
	struct takeover_client client;	/* --takeover: the proxy this one replaces */
	char path[108];			/* the takeover socket, "" when none */
	char rundir[256];
	ev_signal term, intr, hup;
	ev_timer kill_timer;		/* a drain that outlasts --drain-timeout */
	unsigned long long restarts;
	int exit_code;
	unsigned listening : 1;		/* every worker listened once */
	unsigned stopping : 1;
};

static void worker_spawn(struct worker *w);
static void on_taken_over(void *data);

static unsigned running(const struct supervisor *sv)
{
	unsigned n = 0;

	for (unsigned i = 0; i < sv->n; i++)
		n += sv->w[i].pid != 0;
	return n;
}

static void own_metrics(void *data, struct buf *out)
{
	struct supervisor *sv = data;
	unsigned up = 0;

	for (unsigned i = 0; i < sv->n; i++)
		up += sv->targets[i].up;
	buf_appendf(out, "# HELP lb_proxy_workers Worker processes of this lb-proxy (--workers).\n"
		    "# TYPE lb_proxy_workers gauge\nlb_proxy_workers %u\n"
		    "# HELP lb_proxy_workers_listening Workers accepting now.\n"
		    "# TYPE lb_proxy_workers_listening gauge\nlb_proxy_workers_listening %u\n"
		    "# HELP lb_proxy_worker_restarts_total Workers started again after they "
		    "exited.\n# TYPE lb_proxy_worker_restarts_total counter\n"
		    "lb_proxy_worker_restarts_total %llu\n", sv->n, up, sv->restarts);
}

/* Offers the listeners and the admin port at the takeover socket. */
static void offer(struct supervisor *sv)
{
	int two = sv->nlisteners > 1;
	struct takeover_offer sockets = {
		.listen_fd = sv->listeners[0].fd,
		.listen_name = sv->listeners[0].name,
		.admin_fd = sv->admin.listener.fd,
		.admin_name = sv->admin.listener.name,
		.listen2_fd = two ? sv->listeners[1].fd : -1,
		.listen2_name = two ? sv->listeners[1].name : "",
	};
	char err[512];

	for (unsigned i = 0; i < sv->opts->nlisten && i < 2; i++)
		sockets.tls |= sv->opts->listen_tls[i] ? 1u << i : 0;
	if (!sv->path[0] || sv->stopping)
		return;
	if (takeover_server_init(&sv->server, sv->loop, sv->path, &sockets, on_taken_over, sv,
				 err, sizeof(err)) == -1)
		log_warn("no takeover socket: a replacement cannot take this proxy's sockets",
			 "error=\"%s\"", err);
	else
		log_info("takeover socket ready", "path=%s", sv->path);
}

/* SIGTERM, SIGINT, or taken over: every worker drains, then we exit. */
static void stop(struct supervisor *sv, const char *why)
{
	if (sv->stopping)
		return;
	sv->stopping = 1;
	takeover_server_release(&sv->server);
	for (unsigned i = 0; i < PROXY_LISTEN_MAX; i++)
		listener_release(&sv->listeners[i]);
	log_info("stopping: the workers drain", "why=%s workers=%u drain_timeout_s=%g", why,
		 running(sv), sv->opts->drain_timeout);
	for (unsigned i = 0; i < sv->n; i++) {
		struct worker *w = &sv->w[i];

		ev_timer_stop(sv->loop, &w->restart);
		if (w->pid)
			kill(w->pid, SIGTERM);
	}
	if (!running(sv)) {
		ev_break(sv->loop, EVBREAK_ALL);
		return;
	}
	ev_timer_set(&sv->kill_timer, sv->opts->drain_timeout + SUPERVISOR_KILL_GRACE, 0.);
	ev_timer_start(sv->loop, &sv->kill_timer);
}

static void on_taken_over(void *data)
{
	struct supervisor *sv = data;

	/* the replacement answers the admin port now */
	supervisor_admin_close(&sv->admin);
	stop(sv, "taken-over");
}

static void takeover_done(void *data, int ok)
{
	(void)ok;
	offer(data);
}

/* Every worker accepts: the proxy we replace may stop now. */
static void all_listening(struct supervisor *sv)
{
	sv->listening = 1;
	log_info("listening", "listen=%s%s%s admin=%s workers=%u", sv->listeners[0].name,
		 sv->nlisteners > 1 ? " listen2=" : "", sv->nlisteners > 1 ? sv->listeners[1].name : "",
		 sv->admin.listener.name, sv->n);
	if (sv->client.conn != -1) {
		if (takeover_finish(&sv->client, sv->loop, takeover_done, sv) == -1)
			offer(sv);
	} else {
		offer(sv);
	}
}

static void ready_close(struct worker *w)
{
	if (w->ready_fd == -1)
		return;
	ev_io_stop(w->sv->loop, &w->ready_io);
	close(w->ready_fd);
	w->ready_fd = -1;
}

static void on_ready(struct ev_loop *loop, ev_io *io, int revents)
{
	struct worker *w = io->data;
	struct supervisor *sv = w->sv;
	char c;
	ssize_t n = read(w->ready_fd, &c, 1);
	unsigned up = 0;
	(void)loop;
	(void)revents;

	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	ready_close(w);
	if (n != 1)
		return;
	w->ever_ready = 1;
	sv->targets[w->index].up = 1;
	for (unsigned i = 0; i < sv->n; i++)
		up += sv->targets[i].up;
	if (!sv->listening && !sv->stopping && up == sv->n)
		all_listening(sv);
}

static void on_restart(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)revents;
	worker_spawn(t->data);
}

static void on_child(struct ev_loop *loop, ev_child *c, int revents)
{
	struct worker *w = c->data;
	struct supervisor *sv = w->sv;
	int st = c->rstatus;
	char how[96];
	pid_t pid = w->pid;
	double lived = ev_now(loop) - w->started;
	(void)revents;

	ev_child_stop(loop, c);
	ready_close(w);
	w->pid = 0;
	sv->targets[w->index].pid = 0;
	sv->targets[w->index].up = 0;
	if (WIFSIGNALED(st))
		snprintf(how, sizeof(how), "signal=%d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
	else
		snprintf(how, sizeof(how), "status=%d", WEXITSTATUS(st));
	if (sv->stopping) {
		log_info("worker stopped", "worker=%u pid=%d %s", w->index, (int)pid, how);
		if (!running(sv))
			ev_break(loop, EVBREAK_ALL);
		return;
	}
	if (!sv->listening && !w->ever_ready && WIFEXITED(st) && WEXITSTATUS(st) != 0) {
		log_error("a worker could not start: the others are stopped", "worker=%u pid=%d %s",
			  w->index, (int)pid, how);
		sv->exit_code = WEXITSTATUS(st);
		stop(sv, "worker-failed");
		return;
	}
	if (lived >= SUPERVISOR_STABLE_SECONDS)
		w->backoff = 0;
	else
		w->backoff = w->backoff ? w->backoff * 2 : SUPERVISOR_BACKOFF_MIN;
	if (w->backoff > SUPERVISOR_BACKOFF_MAX)
		w->backoff = SUPERVISOR_BACKOFF_MAX;
	log_warn("worker exited: restarting it", "worker=%u pid=%d %s lived_s=%.3f restart_in_s=%g",
		 w->index, (int)pid, how, lived, w->backoff);
	w->restarts++;
	sv->restarts++;
	ev_timer_set(&w->restart, w->backoff, 0.);
	ev_timer_start(loop, &w->restart);
}

/* In the child: the inherited descriptors, then this binary again. Never returns. */
static void worker_exec(struct worker *w)
{
	struct supervisor *sv = w->sv;
	int fds[4] = { sv->listeners[0].fd, sv->nlisteners > 1 ? sv->listeners[1].fd : -1,
		       w->admin_fd, w->ready_fd };
	char env[96];
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* a supervisor killed outright takes its workers along (they drain) */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	for (unsigned i = 0; i < 4; i++)
		if (fds[i] != -1)
			fcntl(fds[i], F_SETFD, 0);
	snprintf(env, sizeof(env), "%u %d %d %d %d", w->index, fds[0], fds[1], fds[2], fds[3]);
	setenv(WORKERS_ENV, env, 1);
	execv("/proc/self/exe", sv->argv);
	fprintf(stderr, "lb-proxy: cannot start a worker: exec /proc/self/exe: %s\n",
		strerror(errno));
	_exit(127);
}

static void worker_spawn(struct worker *w)
{
	struct supervisor *sv = w->sv;
	pid_t parent = getpid();
	int p[2];

	if (sv->stopping)
		return;
	if (pipe2(p, O_CLOEXEC) == -1) {
		log_error("cannot start a worker: trying again", "worker=%u error=\"%s\"", w->index,
			  strerror(errno));
		ev_timer_set(&w->restart, SUPERVISOR_BACKOFF_MAX, 0.);
		ev_timer_start(sv->loop, &w->restart);
		return;
	}
	w->ready_fd = p[1];
	w->pid = fork();
	if (w->pid == 0) {
		if (getppid() != parent)
			_exit(1);
		close(p[0]);
		worker_exec(w);
	}
	close(p[1]);
	w->ready_fd = p[0];
	if (w->pid == -1) {
		w->pid = 0;
		close(p[0]);
		w->ready_fd = -1;
		log_error("cannot start a worker: trying again", "worker=%u error=\"%s\"", w->index,
			  strerror(errno));
		ev_timer_set(&w->restart, SUPERVISOR_BACKOFF_MAX, 0.);
		ev_timer_start(sv->loop, &w->restart);
		return;
	}
	w->started = ev_now(sv->loop);
	sv->targets[w->index].pid = w->pid;
	ev_io_init(&w->ready_io, on_ready, w->ready_fd, EV_READ);
	w->ready_io.data = w;
	ev_io_start(sv->loop, &w->ready_io);
	ev_child_init(&w->child, on_child, w->pid, 0);
	w->child.data = w;
	ev_child_start(sv->loop, &w->child);
	log_info("worker started", "worker=%u pid=%d", w->index, (int)w->pid);
}

static void on_signal(struct ev_loop *loop, ev_signal *s, int revents)
{
	struct supervisor *sv = s->data;
	(void)loop;
	(void)revents;

	if (s->signum != SIGHUP) {
		stop(sv, s->signum == SIGINT ? "SIGINT" : "SIGTERM");
		return;
	}
	log_info("reloading: passed to the workers", "signal=HUP workers=%u", running(sv));
	for (unsigned i = 0; i < sv->n; i++)
		if (sv->w[i].pid)
			kill(sv->w[i].pid, SIGHUP);
}

static void on_kill_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct supervisor *sv = t->data;
	(void)loop;
	(void)revents;

	log_warn("workers still draining past --drain-timeout: killed", "workers=%u", running(sv));
	for (unsigned i = 0; i < sv->n; i++)
		if (sv->w[i].pid)
			kill(sv->w[i].pid, SIGKILL);
}

/* A listening socket bound to addr (the supervisor never accepts on it). */
static int bind_listen(struct supervisor *sv, struct listener *l, const char *addr, int reuseport,
		       char *err, size_t errsz)
{
	if (listener_init(l, sv->loop, addr, reuseport, NULL, NULL, err, errsz) == -1)
		return -1;
	if (listen(l->fd, LISTENER_BACKLOG) == -1) {
		snprintf(err, errsz, "cannot listen on %s: %s", l->name, strerror(errno));
		return -1;
	}
	l->listening = 1;
	return 0;
}

/* The sockets: taken over (--takeover) or bound; each worker's admin.
 * Returns 0, or -1 after saying why on stderr. */
static int sockets_init(struct supervisor *sv)
{
	const struct proxy_options *opts = sv->opts;
	char err[1024], l0[TAKEOVER_ADDR_MAX], l1[TAKEOVER_ADDR_MAX], adm[TAKEOVER_ADDR_MAX];
	unsigned port = 0, tls = 0;
	int taken = 0;
	struct net_addr na;

	if (net_parse_addr(opts->listen, &na, err, sizeof(err)) == 0)
		port = ntohs(((struct sockaddr_in *)&na.ss)->sin_port);	/* same place in v6 */
	if (sv->rundir[0] && port &&
	    takeover_path(sv->rundir, port, sv->path, sizeof(sv->path), err, sizeof(err)) == -1)
		goto fail;
	if (opts->takeover && sv->path[0]) {
		if (handover_names(opts, l0, l1, adm, &port, err, sizeof(err)) == -1)
			goto fail;
		for (unsigned i = 0; i < opts->nlisten; i++)
			tls |= opts->listen_tls[i] ? 1u << i : 0;
		taken = takeover_fetch(&sv->client, sv->path, l0, l1, tls, adm, err, sizeof(err));
		if (taken == -1)
			goto fail;
		if (taken == 0)
			log_info("takeover: no lb-proxy to take over: binding", "path=%s", sv->path);
	}
	if (taken) {
		if (listener_adopt(&sv->listeners[0], sv->loop, sv->client.listen_fd, NULL, NULL, err,
				   sizeof(err)) == -1 ||
		    (sv->client.listen2_fd != -1 &&
		     listener_adopt(&sv->listeners[1], sv->loop, sv->client.listen2_fd, NULL, NULL,
				    err, sizeof(err)) == -1) ||
		    listener_adopt(&sv->admin_listener, sv->loop, sv->client.admin_fd, NULL, NULL, err,
				   sizeof(err)) == -1)
			goto fail;
		sv->nlisteners = sv->client.listen2_fd != -1 ? 2 : 1;
		log_info("takeover: took the listening sockets", "old_pid=%d listen=%s admin=%s",
			 (int)sv->client.old_pid, sv->listeners[0].name, sv->admin_listener.name);
	} else {
		for (unsigned i = 0; i < opts->nlisten; i++) {
			if (bind_listen(sv, &sv->listeners[i], opts->listen_addr[i], opts->reuse_port,
					err, sizeof(err)) == -1)
				goto fail;
			sv->nlisteners = i + 1;
		}
		if (bind_listen(sv, &sv->admin_listener, opts->admin, 0, err, sizeof(err)) == -1)
			goto fail;
	}
	for (unsigned i = 0; i < sv->n; i++) {
		struct listener l;
		socklen_t len = sizeof(sv->targets[i].addr);

		if (bind_listen(sv, &l, "127.0.0.1:0", 0, err, sizeof(err)) == -1)
			goto fail;
		sv->w[i].admin_fd = l.fd;
		getsockname(l.fd, (struct sockaddr *)&sv->targets[i].addr, &len);
	}
	return 0;
fail:
	fprintf(stderr, "lb-proxy: %s\n", err);
	return -1;
}

int supervisor_run(struct proxy_config *c, unsigned nworkers, char **argv)
{
	static struct supervisor sv;
	const struct proxy_options *opts = &c->opts;
	char err[1024];
	int rc = 1;

	sv.opts = opts;
	sv.argv = argv;
	sv.n = nworkers;
	sv.client.conn = -1;
	sv.admin.listener.fd = sv.admin_listener.fd = -1;
	for (unsigned i = 0; i < PROXY_LISTEN_MAX; i++)
		sv.listeners[i].fd = -1;
	log_setup("lb-proxy", log_level_parse(opts->log_level), log_format_parse(opts->log_format));
	sv.w = calloc(nworkers, sizeof(*sv.w));
	sv.targets = calloc(nworkers, sizeof(*sv.targets));
	if (!sv.w || !sv.targets) {
		fprintf(stderr, "lb-proxy: out of memory\n");
		goto out;
	}
	if ((!opts->backends || opts->runtime_dir) &&
	    rundir_resolve(opts->runtime_dir, 1, sv.rundir, sizeof(sv.rundir), err,
			   sizeof(err)) == -1) {
		fprintf(stderr, "lb-proxy: %s\n", err);
		rc = 2;
		goto out;
	}
	sv.loop = ev_default_loop(EVFLAG_AUTO);
	for (unsigned i = 0; i < nworkers; i++) {
		sv.w[i].sv = &sv;
		sv.w[i].index = i;
		sv.w[i].admin_fd = sv.w[i].ready_fd = -1;
		ev_init(&sv.w[i].restart, on_restart);
		sv.w[i].restart.data = &sv.w[i];
	}
	if (sockets_init(&sv) == -1)
		goto out;
	if (supervisor_admin_init(&sv.admin, sv.loop, sv.admin_listener.fd, sv.targets, nworkers,
				  own_metrics, &sv, err, sizeof(err)) == -1) {
		fprintf(stderr, "lb-proxy: --admin: %s\n", err);
		goto out;
	}
	sv.admin_listener.fd = -1;	/* the admin's now */
	sv.admin.broadcast_writes = opts->backends != NULL;
	if (supervisor_admin_start(&sv.admin) == -1)
		goto out;
	signal(SIGPIPE, SIG_IGN);
	ev_signal_init(&sv.term, on_signal, SIGTERM);
	ev_signal_init(&sv.intr, on_signal, SIGINT);
	ev_signal_init(&sv.hup, on_signal, SIGHUP);
	sv.term.data = sv.intr.data = sv.hup.data = &sv;
	ev_signal_start(sv.loop, &sv.term);
	ev_signal_start(sv.loop, &sv.intr);
	ev_signal_start(sv.loop, &sv.hup);
	ev_init(&sv.kill_timer, on_kill_timer);
	sv.kill_timer.data = &sv;
	log_info("supervisor started", "pid=%d workers=%u listen=%s admin=%s", (int)getpid(),
		 nworkers, sv.listeners[0].name, sv.admin.listener.name);
	for (unsigned i = 0; i < nworkers; i++)
		worker_spawn(&sv.w[i]);
	ev_run(sv.loop, 0);
	rc = sv.exit_code;
	log_info("stopped", "restarts=%llu", sv.restarts);
out:
	if (sv.loop) {
		ev_signal_stop(sv.loop, &sv.term);
		ev_signal_stop(sv.loop, &sv.intr);
		ev_signal_stop(sv.loop, &sv.hup);
		signals_exiting();
		ev_timer_stop(sv.loop, &sv.kill_timer);
		for (unsigned i = 0; sv.w && i < nworkers; i++) {
			ev_timer_stop(sv.loop, &sv.w[i].restart);
			ready_close(&sv.w[i]);
			if (sv.w[i].pid) {
				kill(sv.w[i].pid, SIGTERM);
				ev_child_stop(sv.loop, &sv.w[i].child);
			}
		}
		supervisor_admin_release(&sv.admin);
		takeover_server_release(&sv.server);
		takeover_client_release(&sv.client);
	}
	for (unsigned i = 0; sv.w && i < nworkers; i++)
		if (sv.w[i].admin_fd != -1)
			close(sv.w[i].admin_fd);
	for (unsigned i = 0; i < PROXY_LISTEN_MAX; i++)
		listener_release(&sv.listeners[i]);
	listener_release(&sv.admin_listener);
	free(sv.w);
	free(sv.targets);
	proxy_config_free(c);
	if (sv.loop)
		ev_loop_destroy(sv.loop);
	return rc;
}
