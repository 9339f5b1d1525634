/* info_merge: several lb-proxy workers' GET /info as one proxy's: the first
 * worker's answer, its request and connection counts summed over all of
 * them (backends matched by address), and a "workers" list. */
#ifndef LB_PROXY_INFO_MERGE_H
#define LB_PROXY_INFO_MERGE_H

#include <stddef.h>

#include "buf.h"
#include "metrics_merge.h"

/*
 * Appends to out the merge of the /info JSON bodies parts[0..n) (a part
 * that is not a JSON object is left out): parts[0]'s object with
 * total_requests, each backend's requests_forwarded, active, errors,
 * connections, idle_connections and breaker.ejections_total, the queue's
 * length, timeouts and full, and panic.entered_total summed over the parts,
 * then "workers": [{"worker","pid","total_requests","uptime"}...]. Returns
 * 0, or -1 when no part is an object or out of memory.
 */
int info_merge(struct buf *out, const struct metrics_part *parts, size_t n);

#endif
