/* handover: lb-proxy's part in a takeover: the sockets it offers its
 * replacement, and with --takeover those it takes from the proxy it replaces. */
#ifndef LB_PROXY_HANDOVER_H
#define LB_PROXY_HANDOVER_H

#include <stddef.h>

#include "admin.h"
#include "http/proxy.h"
#include "takeover_client.h"
#include "takeover_server.h"

struct handover {
	struct proxy *px;
	struct admin *admin;		/* the admin listener offered and taken */
	struct takeover_server server;	/* offers our sockets to a replacement */
	struct takeover_client client;	/* --takeover: the proxy we replace */
	char path[108];			/* the takeover socket, "" when none is offered */
	void (*on_stop)(void *data);	/* a replacement serves now: stop and drain */
	void *data;
};

/* Sets h up for px and its admin (nothing offered or taken yet); on_stop(data)
 * runs when a replacement took over. */
void handover_init(struct handover *h, struct proxy *px, struct admin *admin,
		   void (*on_stop)(void *data), void *data);
/* The takeover socket's path for --listen's port in the runtime dir (none
 * off the bus, or for port 0). Returns 0, or -1 with err filled. */
int handover_path(struct handover *h, const char *rundir, const struct proxy_options *opts,
		  char *err, size_t errsz);
/* --takeover's addresses (each TAKEOVER_ADDR_MAX bytes) as the old proxy
 * reports its bound ones, and the port that names its takeover socket; an
 * --admin port of 0 takes whichever port the old one has. Returns 0, or -1
 * with err filled. */
int handover_names(const struct proxy_options *opts, char *listen, char *listen2, char *admin,
		   unsigned *port, char *err, size_t errsz);
/*
 * --takeover: fetches the old proxy's sockets (before the loop; blocks at
 * most a few seconds) and adopts them as px's listeners (accept.c takes
 * their connections) and the admin's. Returns 1 (adopted), 0 (nothing to
 * take over: bind as usual) or -1 after saying why on stderr.
 */
int handover_take(struct handover *h, const struct proxy_options *opts);
/* px accepts now: the proxy we took over from is told to stop (then our
 * sockets are offered in turn), or ours are offered at once. */
void handover_listening(struct handover *h);
/* No more offering (the proxy stops). */
void handover_stop_offering(struct handover *h);
/* Closes both sides. */
void handover_release(struct handover *h);

#endif
