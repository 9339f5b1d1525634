/* route_stream: TLS and TCP listeners matched by SNI (see route_stream.h). */
#include "route_stream.h"

#include <string.h>

static int is_stream(enum route_protocol p)
{
	return p == ROUTE_PROTOCOL_TLS || p == ROUTE_PROTOCOL_TCP;
}

int route_stream_protocol(const struct route_table *t, uint16_t port)
{
	for (unsigned i = 0; t && i < t->n_listeners; i++)
		if (t->listeners[i].port == port && is_stream(t->listeners[i].protocol))
			return (int)t->listeners[i].protocol;
	return -1;
}

/* How well pattern (NULL: any) fits sni: exact beats a wildcard, a longer
 * wildcard a shorter, any of them "*" or none; -1 when it does not fit. */
static long score(const char *pattern, const char *sni)
{
	if (!pattern || strcmp(pattern, "*") == 0)
		return 0;
	if (!sni || !route_hostname_matches(pattern, sni, strlen(sni)))
		return -1;
	return (pattern[0] == '*' ? 1 : 100000) + (long)strlen(pattern);
}

int route_stream_match(const struct route_table *t, uint16_t port, const char *sni,
		       struct route_result *out)
{
	const struct route_listener *listener = NULL;
	const struct route_vhost *vhost = NULL;
	long best = -1, s;

	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; i < t->n_listeners; i++) {
		const struct route_listener *l = &t->listeners[i];

		if (l->port != port || !is_stream(l->protocol))
			continue;
		if (l->protocol == ROUTE_PROTOCOL_TCP)
			sni = NULL;	/* a TCP listener routes every connection alike */
		if ((s = score(l->hostname, sni)) > best) {
			best = s;
			listener = l;
		}
	}
	if (!listener)
		return -1;
	best = -1;
	for (unsigned i = 0; i < listener->n_vhosts; i++)
		if ((s = score(listener->vhosts[i].hostname, sni)) > best &&
		    listener->vhosts[i].n_entries) {
			best = s;
			vhost = &listener->vhosts[i];
		}
	if (!vhost)
		return -1;
	out->listener = listener;
	out->vhost = vhost;
	out->rule = &t->rules[vhost->entries[0].rule];
	out->match = &out->rule->matches[vhost->entries[0].match];
	return 0;
}
