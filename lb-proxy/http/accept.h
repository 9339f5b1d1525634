/* accept: client connections, each given a session from the proxy's pool
 * (trimmed after a peak); accepting pauses at --max-connections. */
#ifndef LB_PROXY_ACCEPT_H
#define LB_PROXY_ACCEPT_H

#include <sys/socket.h>

#include "listener.h"
#include "proxy.h"

/* Makes px ready to take sessions (an empty list; px->session_closed).
 * Start-up, before anything is accepted. */
void accept_init(struct proxy *px);
/* Starts the pool's trim timer and arms the drain timer (at
 * px->opts->drain_timeout: it closes every session left and ends the loop);
 * px->loop must be set. */
void accept_start(struct proxy *px);
/* The listeners' on_accept: fd is a new client connection on the
 * proxy_listener l (l->data is the proxy); it gets a session, or is closed
 * when there is no memory for one. */
void accept_on_accept(struct listener *l, int fd, const struct sockaddr *peer);
/* The listeners' reclaim: out of descriptors, pooled backend connections
 * give theirs; returns how many were closed. */
unsigned accept_reclaim_descriptors(void *data);
/* Pauses the listeners at --max-connections, resumes them below (not while
 * stopping). */
void accept_update(struct proxy *px);
/* Closes every session, frees the pools of sessions and exchanges and stops
 * the timers (at exit). */
void accept_release(struct proxy *px);

#endif
