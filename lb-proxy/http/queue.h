/* queue: requests waiting for a backend with room under --max-per-backend
 * (HAProxy's pending connections): one FIFO per proxy, linked through the
 * requests' exchanges (no allocation), each bounded by --queue-timeout. */
#ifndef LB_PROXY_QUEUE_H
#define LB_PROXY_QUEUE_H

#include "session_state.h"

/*
 * Puts s's request in the queue (SESSION_QUEUED, its timer at
 * --queue-timeout): at the tail, or at the front (`front`: it was woken
 * but lost its slot; its timer keeps what is left of its wait). Returns 0,
 * or -1 when the queue holds --queue-size requests (s is unchanged).
 */
int queue_enter(struct session *s, int front);
/* s leaves the queue (its timer fired). Returns 1 when it was woken for a
 * freed slot (it picks now), 0 when its queue timeout is up. */
int queue_take(struct session *s);
/* s leaves the queue because it ended (its client went away); a wake it
 * had goes to the next one. */
void queue_leave(struct session *s);
/* A slot at a backend freed: the first queued request not woken yet is
 * woken (its timer event is fed, so it picks from the loop, not from the
 * caller's stack). */
void queue_wake(struct proxy *px);
/* A new set was applied: as many queued requests are woken as its backends
 * have free slots. */
void queue_wake_room(struct proxy *px);

#endif
