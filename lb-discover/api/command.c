/* command: the handler table of the operator's verbs (see command.h). */
#include "command.h"

#include <stdio.h>
#include <string.h>

#include "cluster/fleet.h"
#include "cluster/replicas.h"
#include "core/ejection.h"
#include "core/proxies.h"
#include "core/served.h"
#include "log.h"
#include "net.h"
#include "route_view.h"
#include "status.h"
#include "verbs.h"

typedef enum command_status (*command_fn)(struct discover *d, const struct served *sv,
					  const struct bus_control *c, struct entry *e,
					  struct command_result *r);

struct command_entry {
	const char *name;	/* a verb's command (common/verbs.h) */
	command_fn run;
	int needs_backend;	/* the address must name a backend in the set */
	int shared;		/* --kubernetes: recorded in the fleet's shared state as `op` */
	enum fleet_verb op;
};

static enum command_status refuse(struct command_result *r, enum command_status st,
				  const char *fmt, const char *arg)
{
	r->status = st;
	snprintf(r->error, sizeof(r->error), fmt, arg);
	return st;
}

static int weight_ok(const struct bus_control *c)
{
	return c->weight >= 1 && c->weight <= 1000;
}

long command_in_flight(struct discover *d, const char *service, const char *address,
		       unsigned long long gen, int *proxies)
{
	int others = 0;
	struct served sv;
	long here, there;

	*proxies = 0;
	if (served_find(d, service, &sv) == -1)
		return -1;
	here = proxies_in_flight_of(d, &sv, address, gen, proxies);
	/* the other replicas' Leases count a routed Service's proxies too */
	there = replicas_in_flight(d->replicas, sv.routed ? sv.reg->service : NULL, address,
				   &others);
	*proxies += others;
	/* a change not in the shared state yet has not reached the others */
	if (fleet_pending(d->fleet))
		return -1;
	return here < 0 || there < 0 ? -1 : here + there;
}

enum command_drain command_drain_state(struct discover *d, const char *service,
				       const char *address, unsigned long long gen,
				       long *in_flight, int *proxies, char *why, size_t whysz)
{
	struct served sv;
	const struct entry *e;

	if (served_find(d, service, &sv) == -1) {
		*in_flight = -1;
		*proxies = 0;
		snprintf(why, whysz, "the service %s is no longer served (no route sends to it)",
			 service);
		return COMMAND_DRAIN_CANCELLED;
	}
	e = registry_find(sv.reg, address);
	*in_flight = command_in_flight(d, service, address, gen, proxies);
	if (!e)
		snprintf(why, whysz, "%s is not in the set", address);
	else if (e->removed)
		snprintf(why, whysz, "%s was removed from the set", address);
	else if (!registry_published(e))
		snprintf(why, whysz, "%s left the set (its source no longer lists it)", address);
	else if (!e->drained)
		snprintf(why, whysz, "%s is not draining (an undrain cancelled the drain)", address);
	else if (!e->drain_since || e->drain_since > gen)
		snprintf(why, whysz, "%s was undrained or left the set since generation %llu, and "
			 "drained again: that is another drain", address, gen);
	else
		return *in_flight == 0 ? COMMAND_DRAIN_DONE : COMMAND_DRAIN_WAITING;
	return COMMAND_DRAIN_CANCELLED;
}

static enum command_status run_status(struct discover *d, const struct served *sv,
				const struct bus_control *c, struct entry *e,
				struct command_result *r)
{
	(void)c;
	(void)e;
	r->body = status_json_of(d, sv, 0);
	if (!r->body)
		return refuse(r, COMMAND_FAILED, "%s", "out of memory");
	return COMMAND_OK;
}

static enum command_status run_routes(struct discover *d, const struct served *sv,
				      const struct bus_control *c, struct entry *e,
				      struct command_result *r)
{
	(void)sv;
	(void)c;
	(void)e;
	r->body = route_view_json(d);
	return r->body ? COMMAND_OK : refuse(r, COMMAND_FAILED, "%s", "out of memory");
}

static enum command_status run_add(struct discover *d, const struct served *sv,
				const struct bus_control *c, struct entry *e,
				struct command_result *r)
{
	if (c->has_weight && !weight_ok(c))
		return refuse(r, COMMAND_INVALID, "%s", "the weight must be 1 to 1000");
	e = registry_find(sv->reg, r->address);
	/* as HAProxy's "add server" refuses a name it has: a second add would
	 * silently change nothing, or a weight `weight` is the verb for */
	if (e && registry_published(e))
		return refuse(r, COMMAND_CONFLICT, "backend %s is already in the set (lb-ctl "
			      "weight changes its weight)", r->address);
	if (registry_published_count(sv->reg) >= BUS_MAX_BACKENDS) {
		r->status = COMMAND_CONFLICT;
		snprintf(r->error, sizeof(r->error), "the set is full: the bus carries at most %d "
			 "backends (remove one first)", BUS_MAX_BACKENDS);
		return r->status;
	}
	e = registry_get(sv->reg, r->address);
	if (!e)
		return refuse(r, COMMAND_FAILED, "%s", "out of memory");
	e->removed = 0;
	e->added = 1;
	if (c->has_weight)
		e->weight_override = (int)c->weight;
	return COMMAND_OK;
}

static enum command_status run_drain(struct discover *d, const struct served *sv,
				const struct bus_control *c, struct entry *e,
				struct command_result *r)
{
	e->drained = 1;
	return COMMAND_OK;
}

static enum command_status run_undrain(struct discover *d, const struct served *sv,
				const struct bus_control *c, struct entry *e,
				struct command_result *r)
{
	e->drained = 0;		/* also cancels a drain waiting for its backend */
	return COMMAND_OK;
}

static enum command_status run_remove(struct discover *d, const struct served *sv,
				const struct bus_control *c, struct entry *e,
				struct command_result *r)
{
	e->removed = 1;
	e->added = 0;
	return COMMAND_OK;
}

static enum command_status run_weight(struct discover *d, const struct served *sv,
				const struct bus_control *c, struct entry *e,
				struct command_result *r)
{
	if (!c->has_weight || !weight_ok(c))
		return refuse(r, COMMAND_INVALID, "%s", "the weight must be 1 to 1000");
	e->weight_override = (int)c->weight;
	return COMMAND_OK;
}

/* uneject ADDR: ends the fleet-wide ejection of e (idempotent: a backend
 * not ejected is fine); every proxy closes its breaker with the next set. */
static enum command_status run_uneject(struct discover *d, const struct served *sv,
				const struct bus_control *c, struct entry *e,
				struct command_result *r)
{
	(void)c;
	(void)r;
	if (ejection_end(d, e))
		log_info("backend unejected by the operator", "address=%s service=%s",
			 e->address, sv->reg->service);
	return COMMAND_OK;
}

/* in-flight ADDR [generation]: what drain --wait waits on (lb-ctl polls it,
 * the admin API's ?wait= calls command_in_flight itself) */
static enum command_status run_in_flight(struct discover *d, const struct served *sv,
				const struct bus_control *c, struct entry *e,
				struct command_result *r)
{
	unsigned long long gen = c->has_generation ? c->generation : sv->reg->generation;
	int proxies;
	long n;
	char why[200];
	enum command_drain st = command_drain_state(d, c->service, r->address, gen, &n, &proxies,
						     why, sizeof(why));

	(void)e;
	r->body = json_pack("{s:s,s:I,s:I,s:i,s:b,s:f}", "address", r->address, "generation",
			    (json_int_t)gen, "in_flight", (json_int_t)n, "proxies", proxies,
			    "drained", st == COMMAND_DRAIN_DONE, "uptime",
			    ev_now(d->loop) - d->started);
	if (!r->body)
		return refuse(r, COMMAND_FAILED, "%s", "out of memory");
	/* lb-ctl drain --wait ends on it, exit code 5 */
	if (st == COMMAND_DRAIN_CANCELLED)
		json_object_set_new(r->body, "cancelled", json_string(why));
	return COMMAND_OK;
}

static const struct command_entry commands[] = {
	{ "status", run_status, 0, 0, 0 },
	{ "in-flight", run_in_flight, 0, 0, 0 },
	{ "routes", run_routes, 0, 0, 0 },
	{ "drain", run_drain, 1, 1, FLEET_DRAIN },
	{ "undrain", run_undrain, 1, 1, FLEET_UNDRAIN },
	{ "add", run_add, 0, 1, FLEET_ADD },
	{ "remove", run_remove, 1, 1, FLEET_REMOVE },
	{ "weight", run_weight, 1, 1, FLEET_WEIGHT },
	{ "uneject", run_uneject, 1, 1, FLEET_UNEJECT },
};

static const struct command_entry *find(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

enum command_status command_run(struct discover *d, const struct bus_control *c,
				struct command_result *r)
{
	const struct command_entry *ce = find(c->command);
	const struct verb *v = verbs_find(c->command);
	struct entry *e = NULL;
	struct net_addr na;
	struct served sv;

	memset(r, 0, sizeof(*r));
	if (!ce || !v)
		return refuse(r, COMMAND_INVALID, "unknown command \"%s\"", c->command);
	/* a routed Service has its own set, overrides and proxies */
	if (served_find(d, c->service, &sv) == -1) {
		char known[150];

		served_names(d, known, sizeof(known));
		r->status = COMMAND_UNKNOWN;
		snprintf(r->error, sizeof(r->error), "unknown service %.60s: lb-discover serves %s",
			 c->service, known);
		return r->status;
	}
	if (!(v->args & VERB_ADDRESS))
		return ce->run(d, &sv, c, NULL, r);
	if (!c->address[0])
		return refuse(r, COMMAND_INVALID, "\"%s\" needs an \"address\"", c->command);
	/* "http://10.0.0.9:8080" is 10.0.0.9:8080 (seed 004's spelling) */
	if (net_url_address(c->address, r->address, sizeof(r->address), r->error,
			    sizeof(r->error)) == -1)
		return r->status = COMMAND_INVALID;
	if (net_parse_numeric(r->address, &na, r->error, sizeof(r->error)) == -1)
		return r->status = COMMAND_INVALID;
	if (net_is_localhost(r->address))	/* one spelling per backend: 127.0.0.1:PORT */
		net_addr_format((struct sockaddr *)&na.ss, r->address, sizeof(r->address));
	if (ce->needs_backend) {
		e = registry_find(sv.reg, r->address);
		/* an override waiting for its backend may be cancelled */
		if (!e || (!registry_published(e) &&
			   !(registry_waiting(e) && strcmp(c->command, "undrain") == 0))) {
			if (!sv.routed)
				return refuse(r, COMMAND_UNKNOWN, "unknown backend %s (lb-ctl status "
					      "lists them)", r->address);
			r->status = COMMAND_UNKNOWN;
			snprintf(r->error, sizeof(r->error), "unknown backend %s of service %.60s "
				 "(lb-ctl status --service %.60s lists them)", r->address,
				 sv.reg->service, sv.reg->service);
			return r->status;
		}
	}
	if (ce->run(d, &sv, c, e, r) != COMMAND_OK || !v->writes)
		return r->status;
	if (sv.routed)
		log_info("operator", "command=%s service=%s address=%s", c->command,
			 sv.reg->service, r->address);
	else
		log_info("operator", "command=%s address=%s", c->command, r->address);
	/* the shared state across pods: a routed Service's in its own section */
	if (ce->shared) {
		struct fleet_op op = { .verb = ce->op,
				       .weight = c->has_weight ? (int)c->weight : 0 };

		snprintf(op.address, sizeof(op.address), "%s", r->address);
		if (sv.routed)
			snprintf(op.service, sizeof(op.service), "%s", sv.reg->service);
		discover_record(d, &op);
	}
	served_commit(d, &sv, 1);	/* saved even when the set is the same: e.g. a
					 * waiting override cancelled */
	r->body = json_pack("{s:I}", "generation", (json_int_t)sv.reg->generation);
	if (!r->body)
		return refuse(r, COMMAND_FAILED, "%s", "out of memory");
	if (sv.routed)
		json_object_set_new(r->body, "service", json_string(sv.reg->service));
	return COMMAND_OK;
}

void command_result_release(struct command_result *r)
{
	json_decref(r->body);
	r->body = NULL;
}
