/* tcp_setup: TCP mode from lb-proxy's options (see tcp_setup.h). */
#include "tcp_setup.h"

#include <stdio.h>
#include <string.h>

#include "stream/tcp_accept.h"

int tcp_setup_wanted(const struct proxy_options *opts)
{
	return opts->mode && strcmp(opts->mode, "tcp") == 0;
}

int tcp_setup_check(const struct proxy_options *opts, char *err, size_t errsz)
{
	const char *flag = NULL;

	if (!tcp_setup_wanted(opts)) {
		if (opts->send_proxy_v2)
			flag = "--send-proxy-v2";
		else if (opts->tcp_inspect_sni)
			flag = "--tcp-inspect-sni";
		if (flag)
			snprintf(err, errsz, "%s works in --mode tcp only: add --mode tcp, or drop it",
				 flag);
		return flag ? -1 : 0;
	}
	/* TLS passes through TCP mode untouched: terminating it is HTTP mode's */
	if (opts->tls_cert || opts->tls_dir)
		flag = opts->tls_cert ? "--tls-cert" : "--tls-dir";
	else if (opts->backend_tls)
		flag = "--backend-tls";
	else if (opts->redirect_https)
		flag = "--redirect-https";
	else if (opts->monitor_uri)
		flag = "--monitor-uri";
	else if (opts->rate_limit)
		flag = "--rate-limit";
	else if (opts->sticky_cookie)
		flag = "--sticky-cookie";
	if (flag) {
		snprintf(err, errsz, "%s is for HTTP: --mode tcp relays bytes as they are (TLS "
			 "passes through to the backends); drop %s or use --mode http", flag, flag);
		return -1;
	}
	return 0;
}

void tcp_setup_config(struct tcp_config *c, const struct proxy_options *opts)
{
	c->connect_timeout = opts->connect_timeout;
	c->idle_timeout = opts->idle_timeout;
	c->hello_timeout = opts->header_timeout;
	c->drain_timeout = opts->drain_timeout;
	c->fail_timeout = opts->fail_timeout;
	c->retries = (unsigned)opts->retries;
	c->max_connections = (unsigned)opts->max_connections;
	c->send_proxy_v2 = opts->send_proxy_v2;
	c->inspect_sni = opts->tcp_inspect_sni;
	c->access_log = opts->access_log;
}

void tcp_setup_apply(struct tcp_setup *ts, const struct proxy_options *opts)
{
	tcp_setup_config(&ts->tcp.cfg, opts);
}

/* The route of the single service: every connection to px's set. */
static enum tcp_route_verdict route_single(void *data, const struct tcp_route_query *q,
					   struct tcp_pool *pool)
{
	struct tcp_setup *ts = data;
	(void)q;

	*pool = ts->pool;
	return TCP_ROUTE_OK;
}

static void breaker_changed(void *data)
{
	struct proxy *px = data;

	if (px->breaker_changed)
		px->breaker_changed(px);
}

void tcp_setup_start(struct tcp_setup *ts, struct proxy *px)
{
	struct tcp_proxy *tp = &ts->tcp;

	ts->px = px;
	ts->pool.set = &px->set;
	ts->pool.balancer = &px->balancer;
	tp->on = 1;
	tp->route = route_single;
	tp->route_data = ts;
	tp->breaker_changed = breaker_changed;
	tp->breaker_data = px;
	tcp_accept_init(tp, px->loop);
	tcp_setup_apply(ts, px->opts);
	for (unsigned i = 0; i < px->nlisteners; i++)
		tcp_accept_add_listener(tp, &px->listeners[i].l);
}
