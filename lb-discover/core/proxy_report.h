/* proxy_report: the last report of one proxy for one service, as lb-discover
 * keeps it (the main service's in struct discover, a routed one's in its
 * struct routed_service). */
#ifndef LB_DISCOVER_PROXY_REPORT_H
#define LB_DISCOVER_PROXY_REPORT_H

#include "bus_protocol.h"

struct proxy_report {
	double seen;			/* ev_now when it came */
	struct bus_set report;
	int joined_new;			/* its first report here said "new": it never
					 * followed another lb-discover */
};

#endif
