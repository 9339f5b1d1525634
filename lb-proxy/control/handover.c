/* handover: lb-proxy's part in a takeover (see handover.h). */
#include "handover.h"

#include <arpa/inet.h>
#include <stdio.h>

#include "http/accept.h"
#include "log.h"
#include "net.h"

/* The replacement serves now: its admin listener is the one clients reach. */
static void on_taken_over(void *data)
{
	struct handover *h = data;

	listener_release(&h->admin->listener);
	h->on_stop(h->data);
}

/* Offers our listening sockets at the takeover socket (when there is one). */
static void offer(struct handover *h)
{
	char err[512];
	const struct proxy_listener *ls = h->px->listeners;
	int two = h->px->nlisteners > 1;
	struct takeover_offer sockets = {
		.listen_fd = ls[0].l.fd,
		.listen_name = ls[0].l.name,
		.admin_fd = h->admin->listener.fd,
		.admin_name = h->admin->listener.name,
		.listen2_fd = two ? ls[1].l.fd : -1,
		.listen2_name = two ? ls[1].l.name : "",
		.tls = (ls[0].tls ? 1u : 0u) | (two && ls[1].tls ? 2u : 0u),
	};

	if (!h->path[0] || h->px->stopping)
		return;
	if (takeover_server_init(&h->server, h->px->loop, h->path, &sockets, on_taken_over, h, err,
				 sizeof(err)) == -1)
		log_warn("no takeover socket: a replacement cannot take this proxy's sockets",
			 "error=\"%s\"", err);
	else
		log_info("takeover socket ready", "path=%s", h->path);
}

static void takeover_done(void *data, int ok)
{
	(void)ok;
	offer(data);
}

int handover_names(const struct proxy_options *opts, char *listen, char *listen2,
			  char *admin, unsigned *port, char *err, size_t errsz)
{
	struct net_addr na;
	char why[256];

	listen2[0] = '\0';
	if (opts->nlisten > 1) {
		if (net_parse_addr(opts->listen_addr[1], &na, why, sizeof(why)) == -1) {
			snprintf(err, errsz, "--listen: %s", why);
			return -1;
		}
		net_addr_format((struct sockaddr *)&na.ss, listen2, TAKEOVER_ADDR_MAX);
	}

	if (net_parse_addr(opts->listen, &na, why, sizeof(why)) == -1) {
		snprintf(err, errsz, "--listen: %s", why);
		return -1;
	}
	*port = ntohs(((struct sockaddr_in *)&na.ss)->sin_port);	/* same place in v6 */
	if (*port == 0) {
		snprintf(err, errsz, "--takeover needs --listen with a port, not 0: the port names "
			 "the proxy to take over");
		return -1;
	}
	net_addr_format((struct sockaddr *)&na.ss, listen, TAKEOVER_ADDR_MAX);
	if (net_parse_addr(opts->admin, &na, why, sizeof(why)) == -1) {
		snprintf(err, errsz, "--admin: %s", why);
		return -1;
	}
	net_addr_format((struct sockaddr *)&na.ss, admin, TAKEOVER_ADDR_MAX);
	return 0;
}

int handover_take(struct handover *h, const struct proxy_options *opts)
{
	char listen[TAKEOVER_ADDR_MAX], listen2[TAKEOVER_ADDR_MAX], admin[TAKEOVER_ADDR_MAX];
	char err[512];
	struct proxy *px = h->px;
	unsigned port, tls = 0;
	int rc;

	for (unsigned i = 0; i < opts->nlisten; i++)
		tls |= opts->listen_tls[i] ? 1u << i : 0;
	if (handover_names(opts, listen, listen2, admin, &port, err, sizeof(err)) == -1) {
		fprintf(stderr, "lb-proxy: %s\n", err);
		return -1;
	}
	rc = takeover_fetch(&h->client, h->path, listen, listen2, tls, admin, err,
			    sizeof(err));
	if (rc == 0) {
		log_info("takeover: no lb-proxy to take over: binding", "path=%s", h->path);
		return 0;
	}
	if (rc == -1) {
		fprintf(stderr, "lb-proxy: %s\n", err);
		return -1;
	}
	if (listener_adopt(&px->listeners[0].l, px->loop, h->client.listen_fd, accept_on_accept, px,
			   err, sizeof(err)) == -1 ||
	    (h->client.listen2_fd != -1 &&
	     listener_adopt(&px->listeners[1].l, px->loop, h->client.listen2_fd, accept_on_accept,
			    px, err, sizeof(err)) == -1) ||
	    admin_adopt(h->admin, px, h->client.admin_fd, err, sizeof(err)) == -1) {
		fprintf(stderr, "lb-proxy: --takeover: %s\n", err);
		return -1;
	}
	px->nlisteners = h->client.listen2_fd != -1 ? 2 : 1;
	log_info("takeover: took the listening sockets", "old_pid=%d listen=%s%s%s admin=%s",
		 (int)h->client.old_pid, px->listeners[0].l.name,
		 px->nlisteners > 1 ? " listen2=" : "", px->nlisteners > 1 ?
		 px->listeners[1].l.name : "", h->admin->listener.name);
	return 1;
}

void handover_init(struct handover *h, struct proxy *px, struct admin *admin,
		   void (*on_stop)(void *data), void *data)
{
	h->px = px;
	h->admin = admin;
	h->client.conn = -1;
	h->on_stop = on_stop;
	h->data = data;
}

int handover_path(struct handover *h, const char *rundir, const struct proxy_options *opts,
		  char *err, size_t errsz)
{
	struct net_addr na;
	unsigned port = 0;

	if (net_parse_addr(opts->listen, &na, err, errsz) == 0)
		port = ntohs(((struct sockaddr_in *)&na.ss)->sin_port);	/* same place in v6 */
	if (port && takeover_path(rundir, port, h->path, sizeof(h->path), err, errsz) == -1)
		return -1;
	return 0;
}

void handover_listening(struct handover *h)
{
	if (h->client.conn != -1) {
		if (takeover_finish(&h->client, h->px->loop, takeover_done, h) == -1)
			offer(h);
	} else {
		offer(h);
	}
}

void handover_stop_offering(struct handover *h)
{
	takeover_server_release(&h->server);
}

void handover_release(struct handover *h)
{
	takeover_server_release(&h->server);
	takeover_client_release(&h->client);
}
