/* tcp_setup: lb-proxy's TCP mode (--mode tcp) from its options: what the
 * mode refuses, its settings (start-up and reload), and the route of the
 * single service lb-proxy balances today. */
#ifndef LB_PROXY_TCP_SETUP_H
#define LB_PROXY_TCP_SETUP_H

#include "http/proxy.h"
#include "stream/tcp.h"

/* TCP mode wired to a proxy: its connections go to the proxy's set. */
struct tcp_setup {
	struct tcp_proxy tcp;
	struct tcp_pool pool;		/* px->set and px->balancer */
	struct proxy *px;
};

/* 1 when opts asks for TCP mode. */
int tcp_setup_wanted(const struct proxy_options *opts);
/* Refuses what TCP mode cannot do with opts (TLS termination, HTTP-only
 * features that would silently do nothing), naming the flag. Returns 0, or
 * -1 with err filled. HTTP mode passes. */
int tcp_setup_check(const struct proxy_options *opts, char *err, size_t errsz);
/* Fills c with the settings relayed connections read from opts: what
 * --mode tcp and a Gateway's TLS/TCP listeners (stream_routes.c) share. */
void tcp_setup_config(struct tcp_config *c, const struct proxy_options *opts);
/* Copies the settings TCP connections read from opts (start-up and after
 * each reload). */
void tcp_setup_apply(struct tcp_setup *ts, const struct proxy_options *opts);
/* Turns TCP mode on for px (after its listeners are bound or adopted): the
 * listeners accept TCP connections from now on, balanced over px's set. */
void tcp_setup_start(struct tcp_setup *ts, struct proxy *px);

#endif
