/* conn_guard: who gives way when a small server (an admin API) is full: a
 * cap on connections, a cap per client address, and the oldest unfinished
 * connection evicted for a new one, so clients that never finish their
 * request cannot keep an operator out. No I/O: the caller closes. */
#ifndef LB_CONN_GUARD_H
#define LB_CONN_GUARD_H

#include <stddef.h>
#include <sys/queue.h>
#include <sys/socket.h>

/* One connection's place; embedded in the caller's connection struct. */
struct conn_guard_slot {
	struct sockaddr_storage peer;	/* the client's address: an IPv4 address or an
					 * IPv6 /64 is one client; ports are not compared */
	unsigned pinned : 1;		/* not evictable: a parked request (drain?wait=) */
	TAILQ_ENTRY(conn_guard_slot) link;	/* oldest first */
};

struct conn_guard {
	TAILQ_HEAD(, conn_guard_slot) slots;
	size_t n;
	size_t max;			/* connections at once */
	size_t per_client;		/* connections from one address at once */
	unsigned long long evicted;	/* connections closed for a newer one */
	unsigned long long refused;	/* new connections closed: every slot pinned */
};

enum conn_guard_verdict {
	CONN_GUARD_ADMIT = 0,	/* room: add the new connection */
	CONN_GUARD_EVICT,	/* close *victim (conn_guard_remove), then add the new one */
	CONN_GUARD_REFUSE,	/* close the new connection: nothing may give way */
};

void conn_guard_init(struct conn_guard *g, size_t max, size_t per_client);
/*
 * A new connection from `peer`: at the per-client cap its client's oldest
 * unpinned connection gives way, at the cap its oldest unpinned one
 * overall; with none, it is refused. Counts evictions and refusals.
 */
enum conn_guard_verdict conn_guard_admit(struct conn_guard *g, const struct sockaddr *peer,
					 struct conn_guard_slot **victim);
/* Adds s (the newest) for a connection from peer (may be NULL: unknown). */
void conn_guard_add(struct conn_guard *g, struct conn_guard_slot *s, const struct sockaddr *peer);
void conn_guard_remove(struct conn_guard *g, struct conn_guard_slot *s);

#endif
