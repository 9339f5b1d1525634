/* h2_pool: HTTP/2 connections to backends (--backend-protocol h2c|h2), each
 * carrying many streams: a backend's streams go to a connection with room
 * under the backend's SETTINGS_MAX_CONCURRENT_STREAMS, and another
 * connection opens when every one is full; a GOAWAY drains its connection
 * (RFC 9113 6.8); a connection's failure fails only its own streams. */
#ifndef LB_PROXY_H2_POOL_H
#define LB_PROXY_H2_POOL_H

#include <ev.h>

#include "buf.h"
#include "upstream.h"

/* The backend connections' protocol (--backend-protocol). */
enum h2_pool_protocol {
	H2_POOL_HTTP1 = 0,	/* HTTP/1.1, a connection per request in flight (upstream.c) */
	H2_POOL_H2C,		/* HTTP/2 in clear text, prior knowledge (RFC 9113 3.3) */
	H2_POOL_H2,		/* HTTP/2 over --backend-tls, h2 by ALPN (RFC 9113 3.2) */
};

/* Streams counted since start (for /metrics). */
struct h2_pool_stats {
	unsigned long long connections;	/* connections opened */
	unsigned long long goaways;	/* GOAWAY frames received */
	unsigned long long refused;	/* streams refused (REFUSED_STREAM, above a GOAWAY's id) */
	unsigned open;			/* connections open now */
};
extern struct h2_pool_stats h2_pool_stats;

/* The stats as Prometheus text (lb_proxy_upstream_h2_*), appended to out. */
void h2_pool_render_metrics(struct buf *out);
/* "http1", "h2c", "h2" as the protocol, or -1. */
int h2_pool_protocol_parse(const char *name);
/* A stream to b for one request: on a connection with room, or a new one
 * (connect_timeout: its connect's; over TLS with upstream.c's client
 * context when `tls`, which must offer h2 by ALPN). Its u.connect_error is EINPROGRESS
 * until the connection is ready (u.wio is fed then), else 0. NULL with
 * errno set when no connection could be made. */
struct upstream *h2_pool_stream(struct backend *b, int tls, double connect_timeout);
/* Closes every connection and frees what the pool keeps (at exit, after the
 * last session closed). */
void h2_pool_release(void);

#endif
