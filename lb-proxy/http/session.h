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
/*
 * Opens s as the client side of one HTTP/2 stream: its transport `tr` has no
 * fd (h2_stream.c's ops carry the request and the response); it reads the
 * request at once and goes through the exchange as a connection's request
 * does. s is px's, as for session_open; the session may close before this
 * returns.
 */
void session_open_stream(struct proxy *px, struct session *s, const struct transport *tr,
			 const char *client_ip, const struct proxy_listener *via);

/* What a connection whose client speaks HTTP/2 is handed to (h2_conn.c
 * registers it: session.c does not call up into it). */
struct session_h2 {
	/* Takes over s (SESSION_H2), which the client spoke h2 on: by ALPN, or
	 * the connection preface is in s->in. Returns 0, or -1: close s. */
	int (*start)(struct session *s);
	/* The proxy stops: GOAWAY, the streams in flight finish. */
	void (*stop)(struct session *s);
	/* s closes (session_close): its streams end too. */
	void (*close)(struct session *s);
};
void session_set_h2(const struct session_h2 *h2);

/* Closes at once (both sides) and hands the session back to the proxy
 * (px->session_closed). */
void session_close(struct session *s);
/* Called when the proxy starts stopping: an idle connection closes at its
 * keep-alive timeout or a random moment of the drain timeout, whichever
 * comes first; the next response on each connection says Connection: close. */
void session_on_stop(struct session *s);

#endif
