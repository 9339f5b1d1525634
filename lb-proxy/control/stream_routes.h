/* stream_routes: a Gateway's TLS (passthrough) and TCP listeners served on
 * lb-proxy's --listen ports: each accepted connection goes to HTTP or, when
 * the route table served at that moment has a TLS or TCP listener on its
 * port, to the byte relay of stream/, routed by SNI and weight to a routed
 * Service. It sits in control/ because it joins the two siblings, http/
 * (the table) and stream/ (the relay). */
#ifndef LB_PROXY_STREAM_ROUTES_H
#define LB_PROXY_STREAM_ROUTES_H

#include "http/proxy.h"
#include "stream/tcp.h"

struct stream_routes {
	struct tcp_proxy tcp;	/* the relayed connections (tcp.on stays 0) */
	struct proxy *px;
};

/* Takes over the accepts of px's listeners (HTTP mode on the bus, after
 * they are bound or adopted): a connection is HTTP's unless the table
 * says otherwise. One per process. */
void stream_routes_start(struct stream_routes *sr, struct proxy *px);
/* The settings relayed connections read (start-up and each reload). */
void stream_routes_apply(struct stream_routes *sr, const struct proxy_options *opts);
/* SIGTERM: no new relays; those waiting for a ClientHello close, the others
 * get --drain-timeout; the loop ends when the last one does and HTTP has
 * none (lb-proxy's main runs the loop on while relays are open). */
void stream_routes_stop(struct stream_routes *sr);
/* Relayed connections open now. */
unsigned stream_routes_open(const struct stream_routes *sr);

#endif
