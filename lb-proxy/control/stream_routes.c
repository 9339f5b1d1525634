/* stream_routes: TLS and TCP listeners of a Gateway (see stream_routes.h). */
#include "stream_routes.h"

#include <stdlib.h>
#include <string.h>

#include "http/accept.h"
#include "http/routing.h"
#include "route_stream.h"
#include "stream/tcp_accept.h"
#include "tcp_setup.h"
#include "upstream/balance.h"

/* The listener's on_accept carries the proxy as its data, so the relay's
 * state is found here: one per process. */
static struct stream_routes *the_routes;

/* The port of a listener ("127.0.0.1:8080", "[::1]:80"). */
static unsigned listener_port(const struct listener *l)
{
	const char *colon = strrchr(l->name, ':');
	unsigned long port = colon ? strtoul(colon + 1, NULL, 10) : 0;

	return port <= 65535 ? (unsigned)port : 0;
}

/* Decides per connection, from the table served now: a relay when its
 * port has a TLS or TCP listener, else HTTP. The relay holds the table
 * (so its services and sets) until it ends: a new table never frees
 * what it uses. */
static void on_accept(struct listener *l, int fd, const struct sockaddr *peer)
{
	struct stream_routes *sr = the_routes;
	struct route_snapshot *snap = routing_hold(sr->px);
	unsigned port = listener_port(l);
	int protocol = snap ? route_stream_protocol(snap->table, (uint16_t)port) : -1;

	if (protocol == -1) {
		routing_let_go(snap);
		accept_on_accept(l, fd, peer);
		return;
	}
	tcp_accept_take(&sr->tcp, fd, peer, protocol == ROUTE_PROTOCOL_TLS, snap, port);
}

/* The route seam: the held table's rule for the port and SNI, a
 * backendRef by weight, its Service's set and balancer. */
static enum tcp_route_verdict route(void *data, const struct tcp_route_query *q,
				    struct tcp_pool *pool)
{
	const struct route_snapshot *snap = q->held;
	const struct route_backend *b;
	struct route_result res;
	struct service *svc;
	(void)data;

	if (route_stream_match(snap->table, (uint16_t)q->port, q->sni, &res) == -1)
		return TCP_ROUTE_NO_ROUTE;
	b = route_pick_backend(res.rule, (uint32_t)(balance_random() * 4294967296.0));
	svc = b ? routing_backend_service(snap, res.rule, b) : NULL;
	if (!svc)
		return TCP_ROUTE_UNRESOLVED;
	pool->set = &svc->set;
	pool->balancer = &svc->balancer;
	pool->send_proxy_v2 = b->proxy_protocol == 2;	/* the Service's annotation */
	return TCP_ROUTE_OK;
}

static void release(void *data, void *held)
{
	(void)data;
	routing_let_go(held);
}

/* The last relay after SIGTERM: the loop ends once HTTP's are done too. */
static void drained(void *data)
{
	struct stream_routes *sr = data;

	if (sr->px->nsessions == 0)
		ev_break(sr->px->loop, EVBREAK_ALL);
}

static void breaker_changed(void *data)
{
	struct proxy *px = data;

	if (px->breaker_changed)
		px->breaker_changed(px);
}

void stream_routes_apply(struct stream_routes *sr, const struct proxy_options *opts)
{
	struct tcp_config *c = &sr->tcp.cfg;

	tcp_setup_config(c, opts);
	c->send_proxy_v2 = 0;	/* per Service: its lb.dev/proxy-protocol annotation */
	c->inspect_sni = 1;	/* per connection: a TLS listener's are read */
}

void stream_routes_start(struct stream_routes *sr, struct proxy *px)
{
	struct tcp_proxy *tp = &sr->tcp;

	the_routes = sr;
	sr->px = px;
	tp->route = route;
	tp->release = release;
	tp->drained = drained;
	tp->route_data = sr;
	tp->breaker_changed = breaker_changed;
	tp->breaker_data = px;
	tcp_accept_init(tp, px->loop);
	stream_routes_apply(sr, px->opts);
	for (unsigned i = 0; i < px->nlisteners; i++)
		px->listeners[i].l.on_accept = on_accept;
}

void stream_routes_stop(struct stream_routes *sr)
{
	if (sr->px)
		tcp_accept_stop(&sr->tcp);
}

unsigned stream_routes_open(const struct stream_routes *sr)
{
	return sr->tcp.nsessions;
}
