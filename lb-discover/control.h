/* control: lb-discover's answers to lb-ctl (REP) and its view of the proxies (PULL). */
#ifndef LB_DISCOVER_CONTROL_H
#define LB_DISCOVER_CONTROL_H

#include "discover.h"

/* Starts answering control requests and collecting proxy reports. */
void control_start(struct discover *d);
/* Forgets proxies not heard from for `max_age` seconds. */
void control_prune(struct discover *d, double max_age);
void control_release(struct discover *d);

#endif
