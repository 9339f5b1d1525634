/* cluster: core's questions to the other replicas, answered by the shared
 * state and the Leases (see cluster.h). */
#include "cluster.h"

#include "fleet.h"
#include "replicas.h"

static void cluster_record(struct discover *d, const struct fleet_op *op)
{
	fleet_record(d->fleet, op);
}

static void cluster_changed(struct discover *d)
{
	replicas_changed(d->replicas);
}

static unsigned cluster_proxies(const struct discover *d)
{
	return replicas_proxies(d->replicas);
}

const struct discover_cluster cluster_ops = {
	cluster_record,
	cluster_changed,
	cluster_proxies,
};
