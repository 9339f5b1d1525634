/* session: one client connection of lb-proxy, relaying its requests to
 * backends: its life, its events and the state machine that drives it.
 *
 * One request at a time: its head is rewritten for the backend, its body is
 * written to the backend straight from the client's read buffer as llhttp
 * frames it; the response goes back the same way. Pipelined requests wait in
 * the buffer, so responses keep their order. The state is session_state.h;
 * the HTTP exchange is exchange.c's, the backend forward.c's, the bytes
 * relay.c's, the proxy's own answers answer.c's. */
#ifndef LB_PROXY_SESSION_H
#define LB_PROXY_SESSION_H

#include <sys/socket.h>

#include "session_state.h"

/* Takes over a client fd accepted on `via` (it speaks TLS when via->tls);
 * s is px's, zeroed or reused (session_close gives it back through
 * px->session_closed). The session may close before this returns. */
void session_open(struct proxy *px, struct session *s, int fd, const struct sockaddr *peer,
		  const struct proxy_listener *via);
/* Closes at once (both sides) and hands the session back to the proxy
 * (px->session_closed). */
void session_close(struct session *s);
/* Called when the proxy starts stopping: an idle connection closes at its
 * keep-alive timeout or a random moment of the drain timeout, whichever
 * comes first; the next response on each connection says Connection: close. */
void session_on_stop(struct session *s);

#endif
