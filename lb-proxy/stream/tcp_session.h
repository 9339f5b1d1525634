/* tcp_session: one client connection of TCP mode: its ClientHello read when
 * asked, the backend chosen and connected (retried elsewhere on failure),
 * then handed to tcp_relay; the log line and the counters at its end. */
#ifndef LB_PROXY_TCP_SESSION_H
#define LB_PROXY_TCP_SESSION_H

#include <sys/socket.h>

#include "tcp_session_state.h"

/* Starts serving the client connection fd (owned from now on) from peer on
 * s, a FREE session of tp: its ClientHello read first when inspect_sni;
 * held (may be NULL) and port (the local one, 0: not told) go to the route
 * seam, held to tp->release at its end. */
void tcp_session_open(struct tcp_proxy *tp, struct tcp_session *s, int fd,
		      const struct sockaddr *peer, int inspect_sni, void *held, unsigned port);
/* "ok", "no-route", "unresolved": the metric's and the log's reason. */
const char *tcp_route_verdict_name(enum tcp_route_verdict v);
/* Ends s (why: the log's end=): closes both sockets, logs its line when
 * --access-log, empties its buffers (kept for the next connection); then
 * tp->session_closed takes it. */
void tcp_session_close(struct tcp_session *s, const char *why);
/* 1 when the connection costs nothing to cut now: waiting for the client's
 * first byte (SIGTERM closes those at once, the others drain). */
int tcp_session_idle(const struct tcp_session *s);

#endif
