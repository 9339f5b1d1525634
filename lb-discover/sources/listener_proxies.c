/* listener_proxies: a Gateway listener's port against the proxies' "listens". */
#include "sources/listener_proxies.h"

#include <stdio.h>
#include <string.h>

#include "core/discover.h"

static int listens_on(const struct bus_set *r, long port, int tls)
{
	for (unsigned i = 0; i < r->nlistens && i < BUS_LISTENS_MAX; i++)
		if (r->listens[i].port == port && !r->listens[i].tls == !tls)
			return 1;
	return 0;
}

int listener_proxies_check(const struct discover *d, const char *protocol, long port,
			   char *message, size_t size)
{
	int tls = protocol && strcmp(protocol, "HTTPS") == 0;
	const char *prefix = tls ? "tls:" : "";
	size_t listening = 0;

	for (size_t i = 0; i < d->nproxies; i++)
		listening += listens_on(&d->proxies[i].report, port, tls);
	if (listening == d->nproxies)
		return 1;
	if (!listening)
		snprintf(message, size, "no proxy listens on port %ld (give lb-proxy --listen "
			 "%sADDR:%ld)", port, prefix, port);
	else
		snprintf(message, size, "%zu of %zu proxies listen on port %ld (give the others "
			 "--listen %sADDR:%ld)", listening, d->nproxies, port, prefix, port);
	return 0;
}
