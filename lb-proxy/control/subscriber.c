/* subscriber: lb-proxy on the bus: applies lb-discover's sets, reports its counters. */
#include "subscriber.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus_protocol.h"
#include "bus_routes.h"
#include "log.h"
#include "net.h"
#include "timefmt.h"
#include "http/routing.h"
#include "upstream/balance_table.h"
#include "upstream/h2_pool.h"
#include "upstream/outlier.h"
#include "upstream/service.h"

static enum backend_state state_of(enum bus_state s)
{
	switch (s) {
	case BUS_STATE_UP: return BACKEND_UP;
	case BUS_STATE_DRAINING: return BACKEND_DRAINING;
	default: return BACKEND_DOWN;
	}
}

/*
 * A routed service's settings from its set (bus version 9): the algorithm
 * its balancer is rebuilt with (returned; the proxy's --balance when the
 * set names none) and the protocol of its new requests. With --backend-tls
 * every backend connection is TLS, as its ALPN offer is the proxy's: a
 * Service's own protocol is not taken (said once per change).
 */
static const struct balance_ops *settle(struct proxy *px, struct service *svc,
					const struct service_settings *want)
{
	const struct balance_ops *ops = NULL;
	int ip = strcmp(want->balance, "ip-hash") == 0, protocol = -1;

	if (want->balance[0]) {
		ops = balance_find(ip ? "maglev" : want->balance);
		if (!ops)	/* the codec checked it: another release's name */
			log_warn("bus: a service's balance is not this proxy's: balancing with "
				 "--balance", "service=%s balance=%s", svc->name, want->balance);
	}
	if (want->protocol[0]) {
		protocol = h2_pool_protocol_parse(want->protocol);
		/* h2 is TLS, which only --backend-tls gives */
		if (px->opts->backend_tls
			    ? protocol != h2_pool_protocol_parse(px->opts->backend_protocol)
			    : protocol == H2_POOL_H2) {
			if (strcmp(want->protocol, svc->settings.protocol) != 0)
				log_warn("service protocol not taken: TLS to backends is "
					 "--backend-tls, one for every backend (a Service's own TLS "
					 "needs a BackendTLSPolicy, which lb does not read)",
					 "service=%s protocol=%s backend_protocol=%s backend_tls=%s",
					 svc->name, want->protocol, px->opts->backend_protocol,
					 px->opts->backend_tls ? "on" : "off");
			protocol = -1;
		}
	}
	if (memcmp(want, &svc->settings, sizeof(*want)) != 0)
		log_info("service settings applied", "service=%s protocol=%s balance=%s",
			 svc->name, protocol >= 0 ? want->protocol : px->opts->backend_protocol,
			 ops ? want->balance : px->balancer.ops->name);
	svc->settings = *want;
	svc->protocol = protocol;
	svc->own_ops = ops;
	svc->key_client_ip = ops && ip;
	return ops ? ops : px->balancer.ops;
}

/* Makes the bus's set the current one of target (the proxy's own set, or a
 * routed service's: svc), with lb-discover's ejections. */
static void apply(struct subscriber *s, const struct bus_set *set, struct service *svc)
{
	struct proxy *px = s->px;
	struct backend_set *target = svc ? &svc->set : &px->set;
	struct backend_set next;
	size_t k = 0, *from;
	double now = ev_now(px->loop);

	memset(&next, 0, sizeof(next));
	next.items = calloc(set->n ? set->n : 1, sizeof(*next.items));
	from = calloc(set->n ? set->n : 1, sizeof(*from));	/* item k is set->backends[from[k]] */
	if (!next.items || !from) {
		free(next.items);
		free(from);
		return;
	}
	for (size_t i = 0; i < set->n; i++) {
		const struct bus_backend *b = &set->backends[i];
		struct net_addr addr;
		struct backend *be;
		char err[256];

		if (net_parse_numeric(b->address, &addr, err, sizeof(err)) == -1) {
			log_warn("bus: backend with a bad address skipped", "error=\"%s\"", err);
			continue;
		}
		be = backend_new(b->address, &addr, b->weight);
		if (!be)
			continue;
		be->state = state_of(b->state);
		from[k] = i;
		next.items[k++] = be;
	}
	next.n = k;
	next.generation = set->generation;
	/* No slow start for the first set: nothing had any traffic yet. */
	if (svc)
		service_apply(svc, &next, settle(px, svc, &set->settings), now);
	else
		backend_set_apply(&px->set, &next, px->set.generation ? now : 0);
	/* lb-discover's ejections (another proxy's, or ours it publishes), and
	 * the end of those it no longer lists */
	for (size_t j = 0; j < target->n; j++) {
		const struct bus_backend *b = &set->backends[from[j]];

		if (b->ejected)
			outlier_fleet_eject(target->items[j], b->eject_reason, b->eject_left,
					    b->ejections, now);
		else
			outlier_fleet_clear(target->items[j], now);
	}
	free(from);
	if (svc) {
		svc->ignored = 0;
		log_info("set applied", "service=%s generation=%llu backends=%zu", svc->name,
			 svc->set.generation, svc->set.n);
		/* its report says so now: drain --wait --service waits on it */
		if (px->breaker_changed)
			px->breaker_changed(px);
		return;
	}
	s->ignored = 0;
	log_info("set applied", "generation=%llu backends=%zu", px->set.generation, px->set.n);
	if (px->set_applied)
		px->set_applied(px);
	/* say so now, not at the next report interval: drain --wait waits on it */
	if (px->breaker_changed)
		px->breaker_changed(px);
}

/* A "routes" message: the table applied whole when its generation is not
 * the one served (a restarted lb-discover starts from its clock, above). */
static void on_routes(struct subscriber *s, const char *data, size_t len)
{
	struct route_table *table;
	unsigned long long generation;
	double started;
	char err[256];

	if (s->routes_msg.len == len && memcmp(s->routes_msg.data, data, len) == 0)
		return;	/* the heartbeat's repeat of the table served */
	/* decoded and applied: the time a table takes to be served (make bench) */
	started = timefmt_mono();
	if (bus_routes_decode(data, len, &generation, &table, err, sizeof(err)) == -1) {
		log_warn("bus: malformed routes dropped", "error=\"%s\" bytes=%zu", err, len);
		return;
	}
	if (s->px->routing && s->px->routing->current &&
	    s->px->routing->current->generation == generation) {
		route_table_free(table);
		return;
	}
	if (routing_apply(s->px, table, generation) == -1)
		return;
	buf_reset(&s->routes_msg);
	if (buf_append(&s->routes_msg, data, len) == -1)
		buf_reset(&s->routes_msg);	/* the next repeat is decoded again */
	log_info("routes applied", "generation=%llu listeners=%u rules=%u apply_ms=%.3f", generation,
		 s->px->routing->current->table->n_listeners, s->px->routing->current->table->n_rules,
		 (timefmt_mono() - started) * 1000.0);
}

/* A set of a routed service: applied when newer than the service's. */
static void on_service_set(struct subscriber *s, const struct bus_set *set)
{
	struct service *svc = routing_service(s->px, set->service);

	if (!svc)
		return;	/* a service no route of this proxy's table names */
	if (set->generation > svc->set.generation) {
		apply(s, set, svc);
	} else if (set->generation < svc->set.generation && set->generation != svc->ignored) {
		log_warn("bus: set ignored: older than the one applied", "service=%s "
			 "generation=%llu applied=%llu", svc->name, set->generation,
			 svc->set.generation);
		svc->ignored = set->generation;
	}
}

/* A set older than the one applied is not applied (a delayed message, or
 * an lb-discover that lost its state file): said once in the log and in
 * every report until a newer set applies, so lb-discover and lb-ctl see it. */
static void ignore(struct subscriber *s, const struct bus_set *set)
{
	if (set->generation != s->ignored)
		log_warn("bus: set ignored: older than the one applied",
			 "generation=%llu applied=%llu", set->generation, s->px->set.generation);
	s->ignored = set->generation;
}

static void on_set(struct bus *b, const char *data, size_t len)
{
	struct subscriber *s = b->data;
	struct bus_set set;
	char err[256];
	int rc;

	if (bus_routes_is(data, len)) {
		on_routes(s, data, len);
		return;
	}
	rc = bus_set_decode(data, len, &set, err, sizeof(err));
	if (rc == -1 && bus_version_mismatch(&set)) {
		if (set.version != s->other_version)
			log_error("bus: sets of another protocol version dropped", "error=\"%s\"", err);
		s->other_version = set.version;
		bus_set_release(&set);
		return;
	}
	if (rc == -1 || strcmp(set.type, "set") != 0) {
		log_warn("bus: malformed set dropped", "error=\"%s\" bytes=%zu",
			 strcmp(set.type, "report") == 0 ? "a report on the sets socket" : err, len);
		bus_set_release(&set);
		return;
	}
	if (strcmp(set.service, s->service) != 0) {
		on_service_set(s, &set);
		bus_set_release(&set);
		return;
	}
	s->last_heard = ev_now(s->px->loop);
	snprintf(s->px->discover_admin, sizeof(s->px->discover_admin), "%s", set.admin);
	if (s->px->stale) {
		s->px->stale = 0;
		log_info("bus: sets heard again", "generation=%llu", set.generation);
	}
	if (set.generation > s->px->set.generation)
		apply(s, &set, NULL);
	else if (set.generation < s->px->set.generation)
		ignore(s, &set);
	/* The count of proxies changes no generation: it is taken from every
	 * set of the generation this proxy runs. */
	if (set.generation >= s->px->set.generation && set.proxies != s->px->fleet_proxies) {
		s->px->fleet_proxies = set.proxies;
		if (s->px->proxies_heard)
			s->px->proxies_heard(s->px);
	}
	bus_set_release(&set);
}

static void on_stale_check(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct subscriber *s = w->data;
	(void)revents;

	if (!s->px->stale && ev_now(loop) - s->last_heard > s->stale_after) {
		s->px->stale = 1;
		log_warn("bus: no set heard: stale, serving the last set",
			 "silent_s=%.1f generation=%llu", ev_now(loop) - s->last_heard,
			 s->px->set.generation);
	}
}

/* The breaker of be for a report: its state, its runs of failures (which
 * lb-discover sums over the fleet), and an ejection this proxy
 * made that lb-discover does not publish (yet: it may refuse it for its
 * max-percent). */
static void report_breaker(const struct backend *be, struct bus_backend *b, double now)
{
	const struct outlier *o = &be->outlier;
	enum outlier_state st = outlier_state_at(o, now);

	b->breaker = st == OUTLIER_OPEN ? BUS_BREAKER_OPEN
		     : st == OUTLIER_HALF_OPEN ? BUS_BREAKER_HALF_OPEN : BUS_BREAKER_CLOSED;
	b->consecutive_5xx = o->consecutive_5xx < BUS_EJECTIONS_MAX ? o->consecutive_5xx
								     : BUS_EJECTIONS_MAX;
	b->consecutive_gateway = o->consecutive_gateway < BUS_EJECTIONS_MAX
					 ? o->consecutive_gateway : BUS_EJECTIONS_MAX;
	b->failures_5xx = o->kinds_5xx;
	b->failures_gateway = o->kinds_gateway;
	if (st == OUTLIER_CLOSED || o->fleet_known || o->cause == OUTLIER_CAUSE_FLEET)
		return;
	b->ejected = 1;
	b->eject_left = st == OUTLIER_OPEN ? o->until - now : 0;
	b->ejections = o->ejections ? o->ejections : 1;
	snprintf(b->eject_reason, sizeof(b->eject_reason), "%s", o->reason);
	b->eject_failures = o->eject_kinds;
}

/* Fills rep's backends (s->items) from set: this proxy's view and counters. */
static void report_backends(struct subscriber *s, const struct backend_set *set,
			    struct bus_set *rep)
{
	double now = ev_now(s->px->loop);

	rep->backends = s->items;
	rep->n = 0;
	for (size_t i = 0; i < set->n && rep->n < BUS_MAX_BACKENDS; i++) {
		const struct backend *be = set->items[i];
		struct bus_backend *b = &s->items[rep->n++];

		memset(b, 0, sizeof(*b));
		snprintf(b->address, sizeof(b->address), "%s", be->name);
		/* this proxy's view: a backend it skips after a failed connect is
		 * down here even while lb-discover says up */
		b->state = backend_usable(be, now) ? BUS_STATE_UP
			   : be->state == BACKEND_DRAINING ? BUS_STATE_DRAINING : BUS_STATE_DOWN;
		/* and why, so lb-ctl names it (not every skip is a failed connect) */
		if (be->state == BACKEND_UP && b->state == BUS_STATE_DOWN)
			b->skip = be->fail_until > now
					  ? (be->fail_why == BACKEND_FAILURE_TIMEOUT
						     ? BUS_SKIP_CONNECT_TIMEOUT : BUS_SKIP_CONNECT)
					  : BUS_SKIP_EJECTED;
		b->active = be->active;
		b->requests = be->requests;
		b->errors = be->errors;
		b->responses_5xx = be->answered_5xx;	/* its own, not the proxy's 504s */
		report_breaker(be, b, now);
	}
}

/* FNV-1a of a report's bytes: tells a routed service's report that says
 * nothing new. */
static unsigned long long report_hash(const struct buf *msg)
{
	unsigned long long h = 1469598103934665603ULL;

	for (size_t i = 0; i < msg->len; i++)
		h = (h ^ (unsigned char)msg->data[i]) * 1099511628211ULL;
	return h;
}

/* A report of each routed service this proxy serves (the same schema, its
 * "service" the Service's name): sent when it changed since the last one,
 * or SUBSCRIBER_SERVICE_HEARTBEAT after it. Without routes: nothing. */
static void report_services(struct subscriber *s, const struct bus_set *main_rep)
{
	struct proxy *px = s->px;
	double now = ev_now(px->loop);
	struct buf msg = BUF_INIT;

	for (struct service *svc = px->routing ? px->routing->services : NULL; svc;
	     svc = svc->next) {
		struct bus_set rep = *main_rep;
		unsigned long long h;

		snprintf(rep.service, sizeof(rep.service), "%s", svc->name);
		rep.generation = svc->set.generation;
		rep.ignored = svc->ignored;
		rep.panic = balancer_panic(&svc->balancer, &svc->set, now);
		rep.fresh = 0;
		rep.nlistens = 0;	/* the main report's */
		rep.uptime = 0;	/* not part of what changed */
		report_backends(s, &svc->set, &rep);
		buf_reset(&msg);
		if (bus_set_encode(&rep, &msg) == -1)
			continue;
		h = report_hash(&msg);
		if (h == svc->report_hash && svc->reported_at &&
		    now - svc->reported_at < SUBSCRIBER_SERVICE_HEARTBEAT)
			continue;
		rep.uptime = main_rep->uptime;
		buf_reset(&msg);
		if (bus_set_encode(&rep, &msg) == 0 && bus_send(&s->reports, msg.data, msg.len) == 0) {
			svc->report_hash = h;
			svc->reported_at = now;
		}
	}
	buf_release(&msg);
}

_Static_assert(PROXY_LISTEN_MAX <= BUS_LISTENS_MAX, "a report names every listener");

/* The ports px listens on, into a report's "listens" (a Gateway listener
 * whose port no proxy listens on is not Programmed). */
static void report_listens(const struct proxy *px, struct bus_set *rep)
{
	for (unsigned i = 0; i < px->nlisteners && i < PROXY_LISTEN_MAX; i++) {
		if (!px->listeners[i].port)
			continue;
		rep->listens[rep->nlistens].port = px->listeners[i].port;
		rep->listens[rep->nlistens++].tls = px->listeners[i].tls;
	}
}

static void send_report(struct subscriber *s)
{
	struct proxy *px = s->px;
	struct bus_set rep;
	struct buf msg = BUF_INIT;

	memset(&rep, 0, sizeof(rep));
	snprintf(rep.type, sizeof(rep.type), "report");
	snprintf(rep.service, sizeof(rep.service), "%s", s->service);
	rep.generation = px->set.generation;
	rep.ignored = s->ignored;
	rep.pid = getpid();
	rep.stale = px->stale;
	rep.uptime = timefmt_mono() - px->started;
	rep.panic = balancer_panic(&px->balancer, &px->set, ev_now(px->loop));
	rep.routes = px->routing && px->routing->current ? px->routing->current->generation : 0;
	rep.fresh = !s->reports_sent;	/* lb-discover waits for no older report of ours */
	snprintf(rep.admin, sizeof(rep.admin), "%s", px->admin_address);
	report_listens(px, &rep);
	report_backends(s, &px->set, &rep);
	if (bus_set_encode(&rep, &msg) == 0 && bus_send(&s->reports, msg.data, msg.len) == 0)
		s->reports_sent = 1;
	buf_release(&msg);
	/* the single-service mode has no routing: this is a pointer test */
	if (px->routing && px->routing->services)
		report_services(s, &rep);
	s->last_report = ev_now(px->loop);
}

static void on_report(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	send_report(w->data);
}

static void on_report_soon(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	send_report(w->data);
}

/* px->breaker_changed: report now, or once SUBSCRIBER_SOON_GAP has passed
 * since the last report. */
static void report_soon(struct proxy *px)
{
	struct subscriber *s = px->breaker_changed_data;
	double since = ev_now(px->loop) - s->last_report;

	if (since >= SUBSCRIBER_SOON_GAP) {
		send_report(s);
	} else if (!ev_is_active(&s->soon_timer)) {
		ev_timer_set(&s->soon_timer, SUBSCRIBER_SOON_GAP - since, 0);
		ev_timer_start(px->loop, &s->soon_timer);
	}
}

int subscriber_init(struct subscriber *s, struct proxy *px, const char *dir, const char *service,
		    double heartbeat, double report_interval, char *err, size_t errsz)
{
	memset(s, 0, sizeof(*s));
	s->sets.sock = s->reports.sock = -1;
	s->px = px;
	snprintf(s->service, sizeof(s->service), "%s", service);
	s->items = calloc(BUS_MAX_BACKENDS, sizeof(*s->items));
	if (!s->items) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	if (bus_open(&s->sets, BUS_SUB, dir, BUS_SOCKET_SETS, err, errsz) == -1 ||
	    bus_open(&s->reports, BUS_PUSH, dir, BUS_SOCKET_REPORTS, err, errsz) == -1)
		return -1;
	bus_watch(&s->sets, px->loop, on_set, s);
	/* a set ready in the same loop pass as a client's request is applied
	 * first (an ejection lb-discover just published) */
	ev_io_stop(px->loop, &s->sets.io);
	ev_set_priority(&s->sets.io, EV_MAXPRI);
	ev_io_start(px->loop, &s->sets.io);
	s->stale_after = 3 * heartbeat;
	s->last_heard = ev_now(px->loop);
	ev_timer_init(&s->stale_timer, on_stale_check, heartbeat / 2, heartbeat / 2);
	ev_timer_init(&s->report_timer, on_report, report_interval, report_interval);
	ev_timer_init(&s->soon_timer, on_report_soon, SUBSCRIBER_SOON_GAP, 0);
	s->stale_timer.data = s->report_timer.data = s->soon_timer.data = s;
	px->breaker_changed = report_soon;
	px->breaker_changed_data = s;
	ev_timer_start(px->loop, &s->stale_timer);
	ev_timer_start(px->loop, &s->report_timer);
	return 0;
}

void subscriber_release(struct subscriber *s)
{
	if (s->px) {
		ev_timer_stop(s->px->loop, &s->stale_timer);
		ev_timer_stop(s->px->loop, &s->report_timer);
		ev_timer_stop(s->px->loop, &s->soon_timer);
		s->px->breaker_changed = NULL;
	}
	bus_close(&s->sets);
	bus_close(&s->reports);
	free(s->items);
	s->items = NULL;
	buf_release(&s->routes_msg);
}
