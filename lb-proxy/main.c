/* lb-proxy: the data plane of lb: an event-driven HTTP/1.1 reverse proxy.
 * main.c wires its layers: the configuration, the listeners, the admin API,
 * the bus, the signals, the takeover; the work is theirs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include "bus.h"
#include "bus_protocol.h"
#include "config.h"
#include "control/admin.h"
#include "control/handover.h"
#include "control/options.h"
#include "control/proxy_config.h"
#include "control/proxy_setup.h"
#include "control/reload.h"
#include "control/stream_routes.h"
#include "control/subscriber.h"
#include "control/supervisor.h"
#include "control/tcp_setup.h"
#include "control/trace_setup.h"
#include "control/workers.h"
#include "http/accept.h"
#include "http/proxy.h"
#include "http/routing.h"
#include "http/queue.h"
#include "http/session.h"
#include "http_limits.h"
#include "log.h"
#include "log_buffer.h"
#include "net/tls_server.h"
#include "net/transport_tls.h"
#include "rundir.h"
#include "signals.h"
#include "stream/tcp_accept.h"
#include "timefmt.h"
#include "upstream/h2_pool.h"
#include "upstream/upstream.h"

/* What the signal, set and takeover callbacks reach (main.c's wiring);
 * px comes first, so a struct proxy * of this process is one of these. */
struct proxy_main {
	struct proxy px;
	struct admin admin;
	struct subscriber sub;
	struct signals sig;
	struct handover handover;	/* the takeover: our sockets offered, or taken */
	struct reload reload;		/* the configuration's readings, the upstream limits */
	struct tcp_setup tcp;		/* --mode tcp (stream/): tcp.tcp.on */
	struct stream_routes routes;	/* a Gateway's TLS and TCP listeners (HTTP mode, bus) */
	struct worker_inherited worker;	/* --workers N: this worker's sockets (index -1: none) */
	char rundir[256];
};

static struct proxy_main *main_of(struct proxy *px)
{
	return (struct proxy_main *)px;
}

/* Events one poll must return for the next poll to wait the collect
 * interval: a lone client's pass has one (its socket, or its backend's). */
#define BATCH_MIN_EVENTS 2

/* After each poll, before its callbacks (the highest priority): how many
 * watchers it made pending, the load the next poll will likely see. */
static void on_batch_count(struct ev_loop *loop, ev_check *w, int revents)
{
	struct proxy *px = w->data;
	(void)revents;

	px->pass_events = ev_pending_count(loop);
}

/*
 * Before each poll: batching (the collect interval) pays when passes handle
 * many small events, and only then: a pass with one event is a lone client,
 * and sleeping the interval before its next poll (rounded up by the kernel's
 * timer slack) doubled its latency against HAProxy's. When a read of the last
 * pass filled its buffer, bytes are already waiting (a body is streaming)
 * and sleeping first would only stall it: a lone 1 MiB download took 6 ms
 * instead of 1 ms.
 */
static void on_batch_check(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct proxy *px = w->data;
	int batch = !px->bulk && px->pass_events >= BATCH_MIN_EVENTS;
	(void)revents;

	ev_set_io_collect_interval(loop, batch ? px->opts->loop_batch : 0.);
	px->bulk = 0;
}

/*
 * Opens the client listener: at start-up with --backends; on the bus once the
 * first set is applied (Envoy waits for its initial configuration the same
 * way), so a new proxy on a shared port takes no connection it would answer
 * 503, or after --initial-set-timeout. With --takeover the old proxy is told
 * to stop only now that this one accepts. Returns 0 or -1 (logged).
 */
static int open_listener(struct proxy *px, const char *why)
{
	if (px->listening || px->stopping)
		return 0;
	ev_timer_stop(px->loop, &px->initial_set_timer);
	for (unsigned i = 0; i < px->nlisteners; i++)
		if (listener_start(&px->listeners[i].l) == -1)
			return -1;
	px->listening = 1;
	for (unsigned i = 0; i < px->nlisteners; i++) {
		const struct proxy_listener *pl = &px->listeners[i];

		if (px->on_bus)
			log_info("listening", "listen=%s runtime_dir=%s service=%s generation=%llu%s%s",
				 pl->l.name, px->rundir, px->opts->service, px->set.generation, why,
				 pl->tls ? " tls=on" : pl->redirect_https ? " redirect=https" : "");
		else
			log_info("listening", "listen=%s backends=%zu%s", pl->l.name, px->set.n,
				 pl->tls ? " tls=on" : pl->redirect_https ? " redirect=https" : "");
	}
	handover_listening(&main_of(px)->handover);
	workers_ready(&main_of(px)->worker);
	return 0;
}

/* A new set: the balancer is rebuilt (never per request); on the bus the
 * first one opens the listener. */
static void on_set_applied(struct proxy *px)
{
	if (balancer_rebuild(&px->balancer, px->balancer.ops, &px->set) == -1)
		log_error("out of memory rebuilding the balancer: the last one is kept", NULL);
	if (px->metrics.queue_length)
		queue_wake_room(px);
	if (px->on_bus && px->opts->initial_set_timeout > 0 && open_listener(px, "") == -1)
		ev_break(px->loop, EVBREAK_ALL);
}

static void on_initial_set_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct proxy *px = w->data;
	(void)revents;

	log_warn("no set from lb-discover in time: listening without one (503 until a set comes)",
		 "initial_set_timeout_s=%g runtime_dir=%s", px->opts->initial_set_timeout,
		 px->rundir);
	if (open_listener(px, " set=none") == -1)
		ev_break(loop, EVBREAK_ALL);
}

/* SIGTERM, or a replacement took over: stop accepting, let in-flight
 * requests finish (their answers say Connection: close), close idle
 * connections over the drain timeout, exit. */
static void on_stop(void *data)
{
	struct proxy_main *m = data;
	struct proxy *px = &m->px;
	struct session *s, *next;

	if (px->stopping)
		return;
	px->stopping = 1;
	handover_stop_offering(&m->handover);
	for (unsigned i = 0; i < px->nlisteners; i++)
		listener_release(&px->listeners[i].l);
	if (m->tcp.tcp.on) {
		tcp_accept_stop(&m->tcp.tcp);
		return;
	}
	for (s = LIST_FIRST(&px->sessions); s; s = next) {
		next = LIST_NEXT(s, link);
		session_on_stop(s);
	}
	stream_routes_stop(&m->routes);
	if (px->nsessions == 0 && stream_routes_open(&m->routes) == 0) {
		ev_break(px->loop, EVBREAK_ALL);
		return;
	}
	log_info("draining", "connections=%u timeout_s=%g", px->nsessions, px->opts->drain_timeout);
	ev_timer_start(px->loop, &px->drain_timer);
}

/* SIGHUP. */
static void on_reload(void *data)
{
	struct proxy_main *m = data;

	reload_run(&m->reload);
	if (m->tcp.tcp.on)
		tcp_setup_apply(&m->tcp, m->px.opts);
	else if (m->routes.px)
		stream_routes_apply(&m->routes, m->px.opts);
}

/* Binds every --listen (start-up, not --takeover). Returns 0, or -1 with err filled. */
static int listeners_init(struct proxy *px, const struct proxy_options *opts, char *err,
			  size_t errsz)
{
	for (unsigned i = 0; i < opts->nlisten; i++) {
		if (listener_init(&px->listeners[i].l, px->loop, opts->listen_addr[i],
				  opts->reuse_port, accept_on_accept, px, err, errsz) == -1)
			return -1;
		px->nlisteners = i + 1;
	}
	return 0;
}

/* What each bound (or adopted) listener does: TLS, the 308, reclaiming. */
static void listeners_setup(struct proxy *px, const struct proxy_options *opts)
{
	for (unsigned i = 0; i < px->nlisteners; i++) {
		struct proxy_listener *pl = &px->listeners[i];
		struct net_addr na;
		char why[128];

		pl->l.reclaim = accept_reclaim_descriptors;
		pl->tls = opts->listen_tls[i] && px->tls;
		/* sin_port and sin6_port share their offset */
		pl->port = net_parse_addr(pl->l.name, &na, why, sizeof(why)) == 0 ?
			ntohs(((struct sockaddr_in *)&na.ss)->sin_port) : 0;
		if (pl->tls)
			px->tls_port = pl->port;
	}
	for (unsigned i = 0; i < px->nlisteners; i++)
		px->listeners[i].redirect_https = opts->redirect_https && !px->listeners[i].tls;
}

static void proxy_release(struct proxy *px)
{
	px->stopping = 1;
	accept_release(px);
	ev_timer_stop(px->loop, &px->initial_set_timer);
	for (unsigned i = 0; i < PROXY_LISTEN_MAX; i++)
		listener_release(&px->listeners[i].l);
	routing_release(px);
	balancer_release(&px->balancer);
	backend_set_release(&px->set);
	if (px->tls_server)
		tls_server_release(px->tls_server);
	px->tls = NULL;
	px->tls_server = NULL;
	ratelimit_release(&px->rate);
}

/* The start-up reading c made current in m: the set or the bus, the runtime
 * dir, logging and every feature's setup. Returns 0, or the exit code (2)
 * after saying why, c freed. */
static int configure(struct proxy_main *m, struct proxy_config *c)
{
	static char component[32] = "lb-proxy";
	struct proxy *px = &m->px;
	struct proxy_options *opts = &c->opts;
	char err[1024];

	m->reload.boot = m->reload.current = c;
	if (proxy_setup_resilience_check(opts, err, sizeof(err)) == -1 ||
	    tcp_setup_check(opts, err, sizeof(err)) == -1) {
		fprintf(stderr, "lb-proxy: %s\n", err);
		goto fail;
	}
	if (opts->backends) {
		px->set = c->set;
		memset(&c->set, 0, sizeof(c->set));
		px->set.generation = 1;
	} else {
		px->on_bus = 1;
	}
	if (!opts->backends || opts->runtime_dir) {
		if (rundir_resolve(opts->runtime_dir, 1, m->rundir, sizeof(m->rundir), err,
				   sizeof(err)) == -1) {
			fprintf(stderr, "lb-proxy: %s\n", err);
			goto fail;
		}
		px->rundir = m->rundir;
	}
	if (m->worker.index >= 0)	/* a worker's lines say which (supervisor.h) */
		snprintf(component, sizeof(component), "lb-proxy/w%d", m->worker.index);
	log_setup(component, log_level_parse(opts->log_level), log_format_parse(opts->log_format));
	proxy_setup_resilience_apply(px, opts);
	if (proxy_setup_traffic_rules(px, opts) == -1 || proxy_config_apply_balancing(px, c) == -1 ||
	    proxy_setup_rate(px, opts, options_spec(), &c->cfg) == -1 ||
	    proxy_setup_descriptors(opts, 0, config_source_of(options_spec(), &c->cfg,
								  "maxConnections") != CONFIG_SRC_DEFAULT) == -1 ||
	    proxy_setup_tls(px, opts, &m->reload.limits) == -1) {
		transport_tls_ctx_free(m->reload.limits.tls);
		balancer_release(&px->balancer);
		ratelimit_release(&px->rate);
		backend_set_release(&px->set);
		goto fail;
	}
	return 0;
fail:
	proxy_config_free(c);
	m->reload.boot = m->reload.current = NULL;
	return 2;
}

/* The event loop and what runs in it before any socket: batching, the
 * upstream pool, the TLS files' watch, the session pool's timers. */
static void loop_init(struct proxy_main *m, const struct proxy_options *opts)
{
	struct proxy *px = &m->px;
	char err[1024];

	px->loop = ev_default_loop(EVFLAG_AUTO);
	/* Under load, poll at most every loop_batch seconds so each pass handles
	 * more events (fewer sleeps and wake-ups: +45% on short connections here,
	 * with 20 us); a lone client (a pass of one event) and a pass that filled
	 * a read buffer poll at once (see on_batch_check). */
	ev_set_io_collect_interval(px->loop, opts->loop_batch);
	ev_prepare_init(&px->batch_check, on_batch_check);
	px->batch_check.data = px;
	ev_prepare_start(px->loop, &px->batch_check);
	ev_unref(px->loop);
	ev_check_init(&px->batch_count, on_batch_count);
	ev_set_priority(&px->batch_count, EV_MAXPRI);
	px->batch_count.data = px;
	ev_check_start(px->loop, &px->batch_count);
	ev_unref(px->loop);
	px->opts = opts;
	px->started = timefmt_mono();
	m->reload.limits.pool_size = (unsigned)opts->upstream_pool_size;
	m->reload.limits.idle_timeout = opts->upstream_idle_timeout;
	upstream_setup(px->loop, &m->reload.limits);
	if (px->tls_server && tls_server_watch(px->tls_server, px->loop, err, sizeof(err)) == -1)
		log_warn("TLS files are not watched: reload them with SIGHUP", "error=\"%s\"", err);
	accept_start(px);
}

/* The sockets: taken over (--takeover) or bound, then the bus. Returns 0,
 * or -1 after saying why on stderr. */
static int sockets_init(struct proxy_main *m, const struct proxy_options *opts)
{
	struct proxy *px = &m->px;
	char err[1024];
	int adopted = 0;

	if (m->worker.index >= 0) {	/* the supervisor's sockets; it offers them */
		if (workers_adopt(&m->worker, px, &m->admin, err, sizeof(err)) == -1)
			goto fail;
		adopted = 1;
	} else if (px->rundir &&
		   handover_path(&m->handover, px->rundir, opts, err, sizeof(err)) == -1) {
		goto fail;
	}
	if (opts->takeover && m->worker.index < 0) {
		adopted = handover_take(&m->handover, opts);
		if (adopted == -1)
			return -1;
	}
	if (!adopted && (listeners_init(px, opts, err, sizeof(err)) == -1 ||
			 admin_init(&m->admin, px, opts->admin, err, sizeof(err)) == -1))
		goto fail;
	listeners_setup(px, opts);
	/* Client sockets keep at most UNSENT_LIMIT unsent bytes in the
	 * kernel: the rest of a body waits in the session's bounded buffer, so
	 * backpressure reaches the backend at once and a slow client costs
	 * about IN_LIMIT + this, not a send buffer the kernel grows to 4 MiB.
	 * It also made the 1 MiB download benchmark faster (README). */
	for (unsigned i = 0; i < px->nlisteners; i++)
		if (net_set_notsent_lowat(px->listeners[i].l.fd, UNSENT_LIMIT) == -1)
			log_warn("cannot limit unsent bytes on client sockets", "error=\"%s\"",
				 strerror(errno));
	if (px->on_bus && subscriber_init(&m->sub, px, m->rundir, opts->service, opts->heartbeat,
					  opts->report_interval, err, sizeof(err)) == -1)
		goto fail;
	if (px->on_bus && !bus_alive(m->rundir, BUS_SOCKET_SETS))
		log_warn("no --backends and no lb-discover on the runtime dir: requests get 503 until "
			 "lb-discover publishes a set there", "runtime_dir=%s%s", m->rundir,
			 opts->runtime_dir || getenv("LB_RUNTIME_DIR") ? "" : " (the default)");
	return 0;
fail:
	fprintf(stderr, "lb-proxy: %s\n", err);
	return -1;
}

/* Starts serving: the admin API, the hooks, then the client listener at
 * once or once the first set comes. Returns 0, or -1 (logged). */
static int serve(struct proxy_main *m, const struct proxy_options *opts)
{
	struct proxy *px = &m->px;

	if (admin_start(&m->admin) == -1)
		return -1;
	px->set_applied = on_set_applied;
	px->proxies_heard = proxy_setup_rate_share;
	if (px->rate_on) {
		char eff[48];

		proxy_setup_rate_describe(px, eff, sizeof(eff));
		log_info("rate limit", "limit=%s burst=%g key=%s table_size=%u", eff, px->rate.burst,
			 opts->rate_key, px->rate.size);
	}
	if (px->on_bus && opts->initial_set_timeout > 0) {
		log_info("waiting for the first set before listening", "listen=%s timeout_s=%g",
			 px->listeners[0].l.name, opts->initial_set_timeout);
		ev_timer_init(&px->initial_set_timer, on_initial_set_timeout, opts->initial_set_timeout, 0);
		px->initial_set_timer.data = px;
		ev_timer_start(px->loop, &px->initial_set_timer);
	} else if (open_listener(px, px->on_bus ? " set=none" : "") == -1) {
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct proxy_main m;
	struct proxy *px = &m.px;
	struct proxy_config *c;
	char err[1024];
	int rc, checking, status;
	unsigned nworkers;

	accept_init(px);
	TAILQ_INIT(&px->queue);
	m.sub.sets.sock = m.sub.reports.sock = -1;
	handover_init(&m.handover, px, &m.admin, on_stop, &m);
	m.admin.listener.fd = -1;
	for (unsigned i = 0; i < PROXY_LISTEN_MAX; i++)
		px->listeners[i].l.fd = -1;
	if (workers_inherited(&m.worker) == -1) {
		fprintf(stderr, "lb-proxy: %s is malformed: lb-proxy --workers sets it for its "
			"workers, nobody else should\n", WORKERS_ENV);
		return 2;
	}
	checking = options_take_check_config(&argc, argv);
	m.reload.px = px;
	m.reload.argc = argc;
	m.reload.argv = argv;
	c = proxy_config_read(options_spec(), &options_defaults, argc, argv, 1, &status, err,
			      sizeof(err));
	if (!c) {
		if (status)
			fprintf(stderr, "lb-proxy: %s\n", err);
		return status;
	}
	if (workers_count(c->opts.workers, &nworkers, err, sizeof(err)) == -1) {
		fprintf(stderr, "lb-proxy: %s\n", err);
		proxy_config_free(c);
		return 2;
	}
	if (checking) {
		rc = proxy_setup_check(c);
		proxy_config_free(c);
		return rc;
	}
	if (nworkers > 1 && m.worker.index < 0)
		return supervisor_run(c, nworkers, argv);
	if (configure(&m, c) != 0)
		return 2;
	if (admin_configure(&m.admin, &c->opts, m.rundir, err, sizeof(err)) == -1) {
		fprintf(stderr, "lb-proxy: %s\n", err);
		return 2;
	}
	loop_init(&m, &c->opts);
	reload_watch_start(&m.reload);
	rc = 1;
	if (trace_setup_start(px->loop, &c->opts, err, sizeof(err)) == -1) {
		fprintf(stderr, "lb-proxy: %s\n", err);
		rc = 2;
		goto out;
	}
	if (sockets_init(&m, &c->opts) == -1)
		goto out;
	if (tcp_setup_wanted(&c->opts)) {
		tcp_setup_start(&m.tcp, px);
		m.admin.tcp = &m.tcp.tcp;
	} else if (px->on_bus) {
		stream_routes_start(&m.routes, px);
		m.admin.tcp = &m.routes.tcp;
	}
	signals_init(&m.sig, px->loop, on_stop, on_reload, &m);
	if (serve(&m, &c->opts) == -1)
		goto out_signals;
	/* from here on, lines are written once per loop pass, never blocking it */
	log_buffer_set_interval(c->opts.log_flush);
	if (log_buffer_start(px->loop, STDERR_FILENO, err, sizeof(err)) == -1)
		log_warn("log lines are written one at a time", "error=\"%s\"", err);
	ev_run(px->loop, 0);
	/* HTTP's connections drained before the relayed ones: these get the
	 * rest of their --drain-timeout (their own timer ends the loop) */
	while (px->stopping && stream_routes_open(&m.routes))
		ev_run(px->loop, 0);
	log_info("stopped", "requests=%llu", px->metrics.requests);
	rc = 0;
out_signals:
	signals_release(&m.sig, px->loop);
out:
	tcp_accept_release(&m.tcp.tcp);
	tcp_accept_release(&m.routes.tcp);	/* before the route tables they hold */
	handover_release(&m.handover);
	subscriber_release(&m.sub);
	admin_release(&m.admin);
	proxy_release(px);
	h2_pool_release();
	upstream_release();
	reload_release(&m.reload);
	trace_setup_stop();
	log_buffer_stop(LOG_BUFFER_EXIT_WAIT);
	ev_loop_destroy(px->loop);
	return rc;
}
