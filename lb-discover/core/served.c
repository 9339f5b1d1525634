/* served: a service lb-discover serves, main or routed (see served.h). */
#include "served.h"

#include <stdio.h>
#include <string.h>

void served_main(struct discover *d, struct served *sv)
{
	sv->reg = &d->reg;
	sv->proxies = &d->proxies;
	sv->nproxies = &d->nproxies;
	sv->routed = NULL;
}

void served_routed(struct routed_service *rs, struct served *sv)
{
	sv->reg = &rs->reg;
	sv->proxies = &rs->proxies;
	sv->nproxies = &rs->nproxies;
	sv->routed = rs;
}

int served_find(struct discover *d, const char *name, struct served *sv)
{
	struct routed_service *rs;

	if (!name || !*name || strcmp(name, d->reg.service) == 0) {
		served_main(d, sv);
		return 0;
	}
	rs = routed_find(&d->routed, name);
	if (!rs)
		return -1;
	served_routed(rs, sv);
	return 0;
}

void served_names(const struct discover *d, char *out, size_t size)
{
	size_t used;
	int n;

	if (size == 0)
		return;
	n = snprintf(out, size, "%s", d->reg.service);
	used = n < 0 ? 0 : (size_t)n;
	for (size_t i = 0; i < d->routed.n && used < size; i++) {
		n = snprintf(out + used, size - used, ", %s", d->routed.list[i]->reg.service);
		if (n < 0 || (size_t)n >= size - used) {
			if (size > 4)
				snprintf(out + size - 4, 4, "...");
			return;
		}
		used += (size_t)n;
	}
}

int served_commit(struct discover *d, const struct served *sv, int save)
{
	unsigned long long before;

	if (!sv->routed)
		return discover_commit(d, save);
	before = sv->reg->generation;
	routed_commit(&d->pub, discover_fleet_proxies(d), sv->routed);
	if (d->cluster)
		d->cluster->changed(d);	/* a routed drain: the Lease lists it */
	if (save || sv->reg->generation != before)
		discover_save(d);
	return sv->reg->generation != before;
}
