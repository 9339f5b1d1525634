/* relay: moves a session's bytes between its client and backend sockets:
 * reads into the session's buffers, writes on what was parsed, and drops
 * what was written. The session decides what may go; relay only moves it. */
#ifndef LB_PROXY_RELAY_H
#define LB_PROXY_RELAY_H

#include <sys/types.h>

#include "session_state.h"

/* Unsent bytes per direction a session buffers before it stops reading the
 * side that sends them. */
#define RELAY_IN_LIMIT (64 * 1024)

/*
 * One read from t (the client's or the backend's transport) into b, which gets a cached block with at least
 * HTTP_READ_CHUNK free. A read that fills the room tells the loop more is
 * waiting (s->px->bulk: no batching sleep before the next poll). Returns
 * the transport's read result (transport.h), or -2 when no buffer could be had.
 */
ssize_t relay_read(struct session *s, struct transport *t, struct buf *b);
/* Writes what the client is owed: `out` (heads and the proxy's answers),
 * then the parsed response bytes, but nothing of a response head before it
 * was rewritten. Sets client_blocked; returns -1 on a fatal error, else 0. */
int relay_client_flush(struct session *s);
/* Writes the rewritten request head and the parsed body bytes to the
 * backend (the head is kept for a retry). Sets up_blocked and req_sent_any;
 * returns -1 on a fatal error, else 0. */
int relay_upstream_flush(struct session *s);
/* Make room to read more by dropping what was written (client side: not
 * while a head is read; a dropped body byte makes the request unreplayable). */
void relay_in_compact(struct session *s);
void relay_uin_compact(struct session *s);

#endif
