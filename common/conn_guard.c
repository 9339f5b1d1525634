/* conn_guard: connection caps and eviction for small servers (see conn_guard.h). */
#include "conn_guard.h"

#include <netinet/in.h>
#include <string.h>

/* 1 when a and b are the same client (IPv4: the address; IPv6: its /64),
 * whatever their ports. */
static int same_client(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->ss_family == AF_INET6) {
		const struct in6_addr *x = &((const struct sockaddr_in6 *)a)->sin6_addr;
		const struct in6_addr *y = &((const struct sockaddr_in6 *)b)->sin6_addr;

		/* one client is a /64 (a host is given a whole one), an IPv4
		 * client mapped into IPv6 its address */
		if (IN6_IS_ADDR_V4MAPPED(x))
			return memcmp(x, y, sizeof(*x)) == 0;
		return memcmp(x, y, 8) == 0;
	}
	return 1;	/* a Unix socket: one client */
}

static void copy_peer(struct sockaddr_storage *to, const struct sockaddr *peer)
{
	memset(to, 0, sizeof(*to));
	if (!peer)
		return;
	if (peer->sa_family == AF_INET)
		memcpy(to, peer, sizeof(struct sockaddr_in));
	else if (peer->sa_family == AF_INET6)
		memcpy(to, peer, sizeof(struct sockaddr_in6));
	else
		to->ss_family = peer->sa_family;
}

void conn_guard_init(struct conn_guard *g, size_t max, size_t per_client)
{
	memset(g, 0, sizeof(*g));
	TAILQ_INIT(&g->slots);
	g->max = max;
	g->per_client = per_client;
}

enum conn_guard_verdict conn_guard_admit(struct conn_guard *g, const struct sockaddr *peer,
					 struct conn_guard_slot **victim)
{
	struct sockaddr_storage who;
	struct conn_guard_slot *s, *oldest = NULL, *oldest_mine = NULL;
	size_t mine = 0;

	*victim = NULL;
	copy_peer(&who, peer);
	TAILQ_FOREACH(s, &g->slots, link) {
		int same = same_client(&s->peer, &who);

		mine += same;
		if (s->pinned)
			continue;
		if (!oldest)
			oldest = s;
		if (same && !oldest_mine)
			oldest_mine = s;
	}
	if (mine >= g->per_client)
		*victim = oldest_mine;
	else if (g->n >= g->max)
		*victim = oldest;
	else
		return CONN_GUARD_ADMIT;
	if (!*victim) {
		g->refused++;
		return CONN_GUARD_REFUSE;
	}
	g->evicted++;
	return CONN_GUARD_EVICT;
}

void conn_guard_add(struct conn_guard *g, struct conn_guard_slot *s, const struct sockaddr *peer)
{
	copy_peer(&s->peer, peer);
	s->pinned = 0;
	TAILQ_INSERT_TAIL(&g->slots, s, link);
	g->n++;
}

void conn_guard_remove(struct conn_guard *g, struct conn_guard_slot *s)
{
	TAILQ_REMOVE(&g->slots, s, link);
	g->n--;
}
