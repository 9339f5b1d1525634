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
/* Takes back a session tcp_session_close() closed. */
void tcp_accept_closed(struct tcp_proxy *tp, struct tcp_session *s);
/* SIGTERM (the listeners are closed by the caller): connections not yet
 * relaying close now, the others get cfg.drain_timeout to finish; the loop
 * ends when the last one closes or at the deadline. */
void tcp_accept_stop(struct tcp_proxy *tp);
/* Closes every connection and frees the pool (at exit). */
void tcp_accept_release(struct tcp_proxy *tp);

#endif
