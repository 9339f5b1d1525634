/* status_lease: one writer of a Gateway's status among the replicas (see
 * status_lease.h). */
#include "status_lease.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lease.h"
#include "log.h"

#define STATUS_LEASE_TIMEOUT 5.0	/* seconds a Lease read or write may take */

struct status_lease {
	struct discover *d;
	char name[254];
	char pod[254];
	char path[600];			/* .../namespaces/NS/leases/NAME */
	long duration;
	ev_timer tick;
	struct kube_call *call;
	int held;			/* this replica holds it (as of renewed_ok) */
	double renewed_ok;		/* when the last write answered 2xx was sent (ev_now) */
	double sent;			/* when the write in flight was sent */
	char holder[254];		/* the holder seen last */
	char error[512];		/* the last failure logged ("" none) */
};

static void try_hold(struct status_lease *l);

static void set_held(struct status_lease *l, int held, const char *holder)
{
	if (held && !l->held)
		log_info("gateway status writer: this replica (it holds the lease)", "lease=%s "
			 "pod=%s", l->name, l->pod);
	else if (!held && l->held)
		log_warn("gateway status writer: no longer this replica", "lease=%s holder=%s",
			 l->name, holder && *holder ? holder : "-");
	else if (!held && holder && strcmp(holder, l->holder) != 0 && *holder)
		log_info("gateway status writer: another replica", "lease=%s holder=%s", l->name,
			 holder);
	l->held = held;
	if (holder)
		snprintf(l->holder, sizeof(l->holder), "%s", holder);
}

static void failed(struct status_lease *l, long status, json_t *body, const char *error)
{
	char msg[512];

	if (status == 403)
		snprintf(msg, sizeof(msg), "cannot read or write lease %s: grant get, create, update "
			 "on coordination.k8s.io leases (HTTP 403: %s)", l->name,
			 kube_status_message(body));
	else if (status)
		snprintf(msg, sizeof(msg), "lease %s: HTTP %ld: %s", l->name, status,
			 kube_status_message(body));
	else
		snprintf(msg, sizeof(msg), "lease %s: %s", l->name, error);
	if (strcmp(msg, l->error) != 0)
		log_warn("gateway status lease: retrying at the next renewal", "error=\"%s\"", msg);
	snprintf(l->error, sizeof(l->error), "%s", msg);
}

static void written(void *data, long status, json_t *body, const char *error)
{
	struct status_lease *l = data;

	l->call = NULL;
	if (status == 200 || status == 201) {
		/* from when it was sent, not answered: the Lease's renewTime is
		 * then, and the others count its expiry from it */
		l->renewed_ok = l->sent;
		l->error[0] = '\0';
		set_held(l, 1, l->pod);
		return;
	}
	if (status == 409) {
		/* another replica wrote it first: it holds it; read again now */
		set_held(l, 0, NULL);
		try_hold(l);
		return;
	}
	failed(l, status, body, error);
}

/* The Lease held by this replica, renewed now (a new reference, NULL when
 * out of memory): acquired now unless it was this replica's already,
 * leaseTransitions counting each change of holder. read: the Lease as read
 * (NULL: none yet). */
static json_t *held_lease(struct status_lease *l, json_t *read)
{
	json_t *spec = json_object_get(read, "spec"), *obj;
	const char *holder = json_string_value(json_object_get(spec, "holderIdentity"));
	const char *acquired = json_string_value(json_object_get(spec, "acquireTime"));
	const char *rv = json_string_value(json_object_get(json_object_get(read, "metadata"),
							   "resourceVersion"));
	long long transitions = json_integer_value(json_object_get(spec, "leaseTransitions"));
	int renewing = holder && strcmp(holder, l->pod) == 0;
	char now[40];

	lease_time_format(registry_clock(), now, sizeof(now));
	obj = json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:s}},s:{s:s,s:I,s:s,s:s,s:I}}", "apiVersion",
			"coordination.k8s.io/v1", "kind", "Lease", "metadata", "name", l->name,
			"namespace", l->d->kube.namespace, "labels", "app.kubernetes.io/name", "lb",
			"spec", "holderIdentity", l->pod, "leaseDurationSeconds",
			(json_int_t)l->duration, "acquireTime",
			renewing && acquired ? acquired : now, "renewTime", now,
			"leaseTransitions", (json_int_t)(read && !renewing ? transitions + 1
							   : transitions));
	/* the version read: a replica that wrote in between makes this a 409 */
	if (obj && rv)
		json_object_set_new(json_object_get(obj, "metadata"), "resourceVersion",
				    json_string(rv));
	return obj;
}

static void on_read(void *data, long status, json_t *body, const char *error)
{
	struct status_lease *l = data;
	struct lease_peer p;
	char collection[600];
	json_t *obj;

	l->call = NULL;
	if (status == 404) {
		/* nobody holds it yet: created, held (a 409: another was first) */
		snprintf(collection, sizeof(collection), "%.*s",
			 (int)(strrchr(l->path, '/') - l->path), l->path);
		obj = held_lease(l, NULL);
		l->sent = ev_now(l->d->loop);
		if (obj)
			l->call = kube_request(&l->d->kube, "POST", collection, obj,
					       STATUS_LEASE_TIMEOUT, written, l);
		json_decref(obj);
		return;
	}
	if (status != 200) {
		failed(l, status, body, error);
		return;
	}
	lease_peer_read(&p, l->name, body);
	json_decref(p.report);
	if (strcmp(p.holder, l->pod) != 0 && lease_peer_live(&p, registry_clock())) {
		set_held(l, 0, p.holder);
		return;
	}
	/* ours to renew, or free (released, or expired: its holder is gone) */
	if (strcmp(p.holder, l->pod) != 0)
		log_info("gateway status lease free: taking it", "lease=%s was=%s", l->name,
			 p.holder[0] ? p.holder : "released");
	obj = held_lease(l, body);
	l->sent = ev_now(l->d->loop);
	if (obj)
		l->call = kube_request(&l->d->kube, "PUT", l->path, obj, STATUS_LEASE_TIMEOUT,
				       written, l);
	json_decref(obj);
}

static void try_hold(struct status_lease *l)
{
	if (l->call)
		return;
	l->call = kube_request(&l->d->kube, "GET", l->path, NULL, STATUS_LEASE_TIMEOUT, on_read, l);
}

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct status_lease *l = w->data;
	(void)loop;
	(void)revents;

	/* not renewed in time: another replica may hold it by now */
	if (l->held && !status_lease_held(l))
		set_held(l, 0, "");
	try_hold(l);
}

int status_lease_held(const struct status_lease *l)
{
	return l && l->held &&
	       ev_now(l->d->loop) - l->renewed_ok < (double)l->duration * 2 / 3;
}

const char *status_lease_holder(const struct status_lease *l)
{
	return l ? l->holder : "";
}

struct status_lease *status_lease_start(struct discover *d, const struct status_lease_options *o)
{
	struct status_lease *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->d = d;
	l->duration = o->duration;
	snprintf(l->name, sizeof(l->name), "%s", o->name);
	snprintf(l->pod, sizeof(l->pod), "%s", o->pod);
	snprintf(l->path, sizeof(l->path), "/apis/coordination.k8s.io/v1/namespaces/%s/leases/%s",
		 d->kube.namespace, l->name);
	ev_timer_init(&l->tick, on_tick, (double)l->duration / 3, (double)l->duration / 3);
	l->tick.data = l;
	ev_timer_start(d->loop, &l->tick);
	try_hold(l);
	log_info("gateway status lease", "lease=%s namespace=%s pod=%s duration=%ld", l->name,
		 d->kube.namespace, l->pod, l->duration);
	return l;
}

void status_lease_stop(struct status_lease *l)
{
	char err[256];
	json_t *obj;

	if (!l)
		return;
	ev_timer_stop(l->d->loop, &l->tick);
	kube_cancel(&l->d->kube, l->call);
	if (l->held) {
		/* as client-go's ReleaseOnCancel: the holder cleared, another
		 * replica writes status now rather than when the Lease expires */
		obj = json_pack("{s:{s:s,s:I}}", "spec", "holderIdentity", "",
				"leaseDurationSeconds", (json_int_t)l->duration);
		if (obj && kube_request_sync(&l->d->kube, "PATCH", l->path, obj, 2.0, err,
					     sizeof(err)) / 100 != 2)
			log_warn("gateway status lease not released: another replica takes it when "
				 "it expires", "lease=%s", l->name);
		json_decref(obj);
	}
	free(l);
}
