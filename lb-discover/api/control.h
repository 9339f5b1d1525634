/* control: lb-discover's answers to lb-ctl (REP). */
#ifndef LB_DISCOVER_CONTROL_H
#define LB_DISCOVER_CONTROL_H

#include "core/discover.h"

/* Starts answering control requests on d->rep. */
void control_start(struct discover *d);

#endif
