/* command: lb-discover's handlers of the operator's verbs (common/verbs.h),
 * one table behind the control socket (control.c) and the admin API
 * (admin.c): both decode a request into a struct bus_control and call
 * command_run(), so lb-ctl and the API do exactly the same thing. */
#ifndef LB_DISCOVER_COMMAND_H
#define LB_DISCOVER_COMMAND_H

#include <jansson.h>

#include "core/discover.h"

/* How a command ended; the admin API maps it to an HTTP status. */
enum command_status {
	COMMAND_OK = 0,		/* done: the answer is in body */
	COMMAND_INVALID,	/* bad input (address, weight, unknown verb): 400 */
	COMMAND_UNKNOWN,	/* no such backend in the set: 404 */
	COMMAND_CONFLICT,	/* the set forbids it (already there, full): 409 */
	COMMAND_FAILED,		/* lb-discover could not (out of memory): 500 */
};

struct command_result {
	enum command_status status;
	char error[256];	/* when not COMMAND_OK: the message lb-ctl prints */
	json_t *body;		/* when COMMAND_OK: the answer's fields ({"generation":N},
				 * status's document); owned by the result */
	char address[BUS_ADDRESS_MAX];	/* the backend it acted on, normalized */
};

/*
 * Runs one verb for the control socket or the admin API: validates its
 * service (c->service: "" the main one, else a routed Service; an unknown
 * one is COMMAND_UNKNOWN naming those served), address (an IP literal, or
 * seed 004's http:// spelling) and weight, applies it to that service's
 * registry, logs it and publishes its set. Returns r->status; the caller
 * releases r with command_result_release().
 */
enum command_status command_run(struct discover *d, const struct bus_control *c,
				struct command_result *r);
void command_result_release(struct command_result *r);
/*
 * Requests in flight to `address` of `service` (NULL or "": the main one,
 * else a routed Service's) over the whole fleet: this replica's proxies of
 * that service (proxies_in_flight_of) and, for the main one in --kubernetes
 * mode, every other live
 * replica's; -1 until each applied generation `gen` (the drain) and the
 * shared state holds this replica's changes: what `drain --wait` waits on.
 * *proxies is how many proxies count.
 */
long command_in_flight(struct discover *d, const char *service, const char *address,
		       unsigned long long gen, int *proxies);

/* Where a drain that a drain --wait (lb-ctl, the admin API's ?wait=)
 * waits on stands. */
enum command_drain {
	COMMAND_DRAIN_WAITING = 0,	/* in effect; requests in flight, or not known yet */
	COMMAND_DRAIN_DONE,		/* in effect, nothing in flight on the whole fleet */
	COMMAND_DRAIN_CANCELLED,	/* undone or replaced: undrain, remove, left the set,
					 * drained again since: never "drained" */
};

/*
 * The one rule of drain --wait, for the control socket's in-flight verb and
 * the admin API's parked drains: the drain of `address` (of `service`, as
 * command_in_flight's; a service no longer served is CANCELLED) that generation
 * `gen` carried (or an older one still in effect) is DONE when it is still
 * in effect and command_in_flight() is 0. Fills *in_flight and *proxies
 * (command_in_flight's), and for CANCELLED `why` (what changed, for the
 * operator). Owns nothing.
 */
enum command_drain command_drain_state(struct discover *d, const char *service,
				       const char *address, unsigned long long gen,
				       long *in_flight, int *proxies, char *why, size_t whysz);

#endif
