/* tcp_accept: TCP mode's client connections: each gets a session from the
 * pool; accepting pauses at --max-connections; SIGTERM drains. */
#ifndef LB_PROXY_TCP_ACCEPT_H
#define LB_PROXY_TCP_ACCEPT_H

#include <sys/socket.h>

#include "listener.h"
#include "tcp.h"

/* Makes tp ready (an empty list, the drain timer) on loop; tp->on, cfg and
 * the route are the caller's. Start-up, before anything is accepted. */
void tcp_accept_init(struct tcp_proxy *tp, struct ev_loop *loop);
/* Accepts on l from now on (its on_accept and data become TCP mode's);
 * tp pauses and resumes it at --max-connections. Returns 0, or -1 when
 * tp has TCP_LISTEN_MAX already. */
int tcp_accept_add_listener(struct tcp_proxy *tp, struct listener *l);
/* A listener's on_accept: fd is a client connection (l->data is the
 * tcp_proxy); it gets a session, or is closed when there is no memory. */
void tcp_accept_on_accept(struct listener *l, int fd, const struct sockaddr *peer);
/* Serves the client connection fd (owned from now on) from peer on a
 * session of tp, as a listener's accept does: its ClientHello read first
 * when inspect_sni, held and port (the local one) handed to the route seam and released at its end
 * (or at once when the connection is refused: stopping, --max-connections
 * reached by a tp without listeners, no memory). */
void tcp_accept_take(struct tcp_proxy *tp, int fd, const struct sockaddr *peer, int inspect_sni,
		     void *held, unsigned port);
/* Takes back a session tcp_session_close() closed. */
void tcp_accept_closed(struct tcp_proxy *tp, struct tcp_session *s);
/* SIGTERM (the listeners are closed by the caller): connections not yet
 * relaying close now, the others get cfg.drain_timeout to finish; the loop
 * ends when the last one closes or at the deadline. */
void tcp_accept_stop(struct tcp_proxy *tp);
/* Closes every connection and frees the pool (at exit). */
void tcp_accept_release(struct tcp_proxy *tp);

#endif
