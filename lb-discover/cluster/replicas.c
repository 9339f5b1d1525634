/* replicas: the lb-discover replicas of a service, through their Leases
 * (see replicas.h). */
#include "replicas.h"

#include <curl/curl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/proxies.h"
#include "kube/kube_watch.h"
#include "lease.h"
#include "log.h"

#define REPLICAS_TIMEOUT 5.0		/* seconds a Lease write may take */
#define REPLICAS_SOON 0.05		/* seconds from a change to its write, coalescing */
#define REPLICAS_PROXIES_SHOWN 64	/* proxies listed in a Lease, at most */

struct replicas {
	struct discover *d;
	char service[254];
	char pod[254];
	char pod_uid[128];
	char name[520];			/* lb-SERVICE-POD */
	char path[600];			/* .../namespaces/NS/leases */
	long duration;
	char acquired[40];		/* acquireTime */
	struct kube_watch *watch;
	int listed;			/* the Leases were listed once */
	struct kube_call *call;
	int created;			/* the Lease exists (a PUT, not a POST) */
	int retried;			/* a 404 or 409 was answered at once */
	char *written;			/* the report last written */
	double last_write;		/* ev_now of it */
	double last_write_wall;		/* and its wall clock (a little before its renewTime) */
	int dirty;
	ev_timer soon;			/* a change, written shortly */
	ev_timer tick;			/* renews, and tells expired Leases */
	struct lease_peer *peers;	/* every other replica's Lease */
	size_t npeers;
	unsigned counted;		/* their live proxies at the last refresh */
	double api_ok_at;		/* wall clock when the API last answered */
	char instance[24];		/* this process, in its report: tells a second
					 * lb-discover writing the same Lease */
	int clash_logged;
	int truncated_logged;		/* routed drains past the bound, said once */
	double first_renewal;		/* wall clock of the first write answered (0: none) */
	char error[1200];
};

static void write_report(struct replicas *r, char *text);

/* ---- what this replica reports ------------------------------------------------ */

/* The routed Services' draining backends, as the main service's: for
 * each Service with one, {"proxies": its proxies here, "draining": {ADDR:
 * in flight, or -1}}; at most REPLICAS_ROUTED_DRAINING pairs (a drain past
 * them is not listed: the others' drain --wait waits for it to its end). */
static json_t *routed_draining(struct replicas *r)
{
	struct discover *d = r->d;
	json_t *services = json_object();
	unsigned listed = 0, over = 0;
	int n;

	for (size_t s = 0; s < d->routed.n; s++) {
		struct routed_service *rs = d->routed.list[s];
		json_t *draining = NULL;
		struct served sv;

		served_routed(rs, &sv);
		for (size_t i = 0; i < rs->reg.n; i++) {
			const struct entry *e = &rs->reg.entries[i];

			if (!e->drained || !registry_published(e))
				continue;
			if (listed == REPLICAS_ROUTED_DRAINING) {
				over++;
				continue;
			}
			if (!draining && !(draining = json_object()))
				break;
			json_object_set_new(draining, e->address, json_integer(proxies_in_flight_of(
					    d, &sv, e->address, rs->reg.generation, &n)));
			listed++;
		}
		if (draining)
			json_object_set_new(services, rs->reg.service, json_pack(
				"{s:I,s:o}", "proxies", (json_int_t)rs->nproxies, "draining",
				draining));
	}
	if (over && !r->truncated_logged)
		log_warn("more routed drains than a lease carries: the other replicas' drain --wait "
			 "waits for the rest to its timeout", "listed=%d left_out=%u",
			 REPLICAS_ROUTED_DRAINING, over);
	r->truncated_logged = over > 0;
	return services;
}

/* This replica's report: its generation, whether every proxy applied it,
 * its proxies, and what they still send to each draining backend (-1: not
 * every proxy applied the drain), the main service's and (routed_draining)
 * the routed Services'. A new reference. */
static json_t *report(struct replicas *r)
{
	struct discover *d = r->d;
	json_t *doc = json_object(), *list = json_array(), *draining = json_object();
	int synced = proxies_settled(d), n;

	for (size_t p = 0; p < d->nproxies; p++) {
		const struct bus_set *rep = &d->proxies[p].report;

		if (rep->generation != d->reg.generation)
			synced = 0;
		if (p < REPLICAS_PROXIES_SHOWN)
			json_array_append_new(list, json_pack("{s:i,s:I,s:b}", "pid", rep->pid,
					      "generation", (json_int_t)rep->generation, "stale",
					      rep->stale));
	}
	for (size_t i = 0; i < d->reg.n; i++) {
		const struct entry *e = &d->reg.entries[i];

		if (e->drained && registry_published(e))
			json_object_set_new(draining, e->address, json_integer(proxies_in_flight(
					    d, e->address, d->reg.generation, &n)));
	}
	json_object_set_new(doc, "pid", json_integer(getpid()));
	json_object_set_new(doc, "instance", json_string(r->instance));
	json_object_set_new(doc, "generation", json_integer((json_int_t)d->reg.generation));
	json_object_set_new(doc, "synced", json_boolean(synced));
	json_object_set_new(doc, "proxy_count", json_integer((json_int_t)d->nproxies));
	json_object_set_new(doc, "proxies", list);
	json_object_set_new(doc, "draining", draining);
	if (d->routed.n)
		json_object_set_new(doc, "services", routed_draining(r));
	if (d->routed.generation) {
		/* --gateway: which table, and how many proxies serve it (Programmed
		 * counts every replica's) */
		char digest[20];
		unsigned serving = 0;

		routed_digest(&d->routed, digest, sizeof(digest));
		for (size_t p = 0; p < d->nproxies; p++)
			serving += d->proxies[p].report.routes == d->routed.generation;
		json_object_set_new(doc, "routes", json_pack("{s:I,s:s,s:i}", "generation",
				    (json_int_t)d->routed.generation, "digest", digest, "serving",
				    (int)serving));
	}
	return doc;
}

/* ---- the Lease ---------------------------------------------------------------- */

/* This replica's Lease with `annotation`, held or (`holding` 0) released. */
static json_t *own_lease(struct replicas *r, const char *annotation, int holding)
{
	struct lease_spec spec = { r->name, r->d->kube.namespace, r->service, r->pod, r->pod_uid,
				   r->duration, r->acquired };
	char renewed[40];

	lease_time_format(registry_clock(), renewed, sizeof(renewed));
	if (!r->acquired[0])
		snprintf(r->acquired, sizeof(r->acquired), "%s", renewed);
	return lease_object(&spec, annotation, holding, renewed);
}

static void renew_error(struct replicas *r, long status, json_t *body, const char *error)
{
	char msg[1200];

	if (status == 403)
		snprintf(msg, sizeof(msg), "cannot write leases %s in namespace %s: grant create, "
			 "update on coordination.k8s.io leases (HTTP 403: %s)", r->name,
			 r->d->kube.namespace, kube_status_message(body));
	else if (status)
		snprintf(msg, sizeof(msg), "lease %s: HTTP %ld: %s", r->name, status,
			 kube_status_message(body));
	else
		snprintf(msg, sizeof(msg), "lease %s: %s", r->name, error);
	if (strcmp(msg, r->error) != 0)
		log_error("lease not renewed: the other replicas will take this one for gone "
			  "when it expires", "error=\"%s\"", msg);
	snprintf(r->error, sizeof(r->error), "%s", msg);
}

static void write_done(void *data, long status, json_t *body, const char *error)
{
	struct replicas *r = data;

	r->call = NULL;
	/* at once, once: a deleted Lease is created again, an existing one
	 * (this pod's, from before its container restarted) renewed */
	if (((status == 404 && r->created) || (status == 409 && !r->created)) && !r->retried) {
		r->created = !r->created;
		r->retried = 1;
		write_report(r, NULL);
		return;
	}
	if (status == 404 || status == 409)
		r->created = !r->created;	/* the next tick tries the other way */
	if (status != 200 && status != 201) {
		free(r->written);
		r->written = NULL;	/* write it again at the next tick */
		renew_error(r, status, body, error);
		return;
	}
	if (r->error[0])
		log_info("lease renewed again", "lease=%s", r->name);
	r->error[0] = '\0';
	r->retried = 0;
	r->api_ok_at = registry_clock();
	if (!r->first_renewal)
		r->first_renewal = r->last_write_wall;
	r->created = 1;
	if (r->dirty && !ev_is_active(&r->soon))
		ev_timer_start(r->d->loop, &r->soon);
}

/* This replica's report as the Lease's annotation (malloc'd), or NULL. */
static char *report_text(struct replicas *r)
{
	json_t *rep = report(r);
	char *text = json_dumps(rep, JSON_COMPACT | JSON_SORT_KEYS);

	json_decref(rep);
	return text;
}

/* Writes the Lease with `text` (report_text's, owned from here; NULL: made
 * now). */
static void write_report(struct replicas *r, char *text)
{
	json_t *obj;
	char path[1200];

	if (!text)
		text = report_text(r);
	obj = text ? own_lease(r, text, 1) : NULL;
	if (!obj) {
		free(text);
		return;
	}
	free(r->written);
	r->written = text;
	r->dirty = 0;
	r->last_write = ev_now(r->d->loop);
	r->last_write_wall = registry_clock();
	if (r->created) {
		snprintf(path, sizeof(path), "%s/%s", r->path, r->name);
		r->call = kube_request(&r->d->kube, "PUT", path, obj, REPLICAS_TIMEOUT, write_done, r);
	} else {
		r->call = kube_request(&r->d->kube, "POST", r->path, obj, REPLICAS_TIMEOUT,
				       write_done, r);
	}
	json_decref(obj);
}

/* Writes the Lease when the report changed or the renewal is due. */
static void maybe_write(struct replicas *r)
{
	char *text;
	int changed, due;

	if (r->call) {
		r->dirty = 1;	/* written once this write is answered */
		return;
	}
	text = report_text(r);
	changed = !text || !r->written || strcmp(text, r->written) != 0;
	due = ev_now(r->d->loop) - r->last_write >= (double)r->duration / 3;
	/* after a failed write, only at the renewal's pace: not one attempt
	 * per proxy report while the API is away */
	if (due || (changed && !r->error[0]))
		write_report(r, text);
	else
		free(text);
}

static void on_soon(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	maybe_write(w->data);
}

void replicas_changed(struct replicas *r)
{
	if (!r)
		return;
	r->dirty = 1;
	if (!ev_is_active(&r->soon) && !r->call)
		ev_timer_start(r->d->loop, &r->soon);
}

/* ---- the others ---------------------------------------------------------------- */

/* The time the others' Leases are judged at: now, or while this replica
 * cannot reach the API (its view of them frozen) the last time it could: a
 * replica this one cannot see is not taken for gone, so a fleet-wide rate
 * limit is not shared by fewer proxies than there are, and drain --wait
 * does not stop waiting for it. */
static double judged_at(const struct replicas *r)
{
	if (r->error[0] || kube_watch_error(r->watch)[0])
		return r->api_ok_at;
	return registry_clock();
}

/* Our Lease holding another process's report: two replicas with one
 * --pod-name, each taking the other for itself (neither waited for). */
static void clash(struct replicas *r, json_t *l)
{
	struct lease_peer own;
	const char *other;

	lease_peer_read(&own, r->name, l);
	other = json_string_value(json_object_get(own.report, "instance"));
	/* written after this replica's first renewal: not this pod's Lease
	 * from before its container restarted */
	if (other && strcmp(other, r->instance) != 0 && !r->clash_logged && r->first_renewal &&
	    own.renewed > r->first_renewal) {
		log_error("another lb-discover writes this replica's Lease: give each replica its own "
			  "--pod-name (the pod's name)", "lease=%s pid=%lld", r->name,
			  (long long)json_integer_value(json_object_get(own.report, "pid")));
		r->clash_logged = 1;
	}
	json_decref(own.report);
}

/* Tells who is live now (judged_at); logs who came and went; publishes
 * when the fleet's proxy count changed (every proxy's share of a rate
 * limit). */
static void refresh(struct replicas *r)
{
	double now = judged_at(r);

	for (size_t i = 0; i < r->npeers; i++) {
		struct lease_peer *p = &r->peers[i];
		int live = lease_peer_live(p, now);

		if (live && p->live != 1)
			log_info("replica joined", "lease=%s proxies=%u", p->name,
				 lease_peer_proxies(p));
		else if (!live && p->live == 1)
			log_warn("replica gone: its lease expired or was released", "lease=%s",
				 p->name);
		p->live = live;
	}
	if (replicas_proxies(r) != r->counted) {
		r->counted = replicas_proxies(r);
		discover_commit(r->d, 0);
	}
}

/* The watch's view of the Leases changed: each is read once, here. */
static void on_leases(void *data, json_t *objects)
{
	struct replicas *r = data;
	struct lease_peer *peers = calloc(json_object_size(objects) + 1, sizeof(*peers));
	size_t n = 0;
	const char *name;
	json_t *l;

	r->listed = 1;
	r->api_ok_at = registry_clock();
	if (!peers)
		return;
	json_object_foreach(objects, name, l) {
		if (strcmp(name, r->name) == 0) {
			clash(r, l);
			continue;
		}
		lease_peer_read(&peers[n], name, l);
		peers[n].live = -1;	/* not known before */
		for (size_t i = 0; i < r->npeers; i++)
			if (strcmp(r->peers[i].name, name) == 0)
				peers[n].live = r->peers[i].live;
		n++;
	}
	lease_peers_release(r->peers, r->npeers);
	r->peers = peers;
	r->npeers = n;
	refresh(r);
}

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct replicas *r = w->data;
	(void)loop;
	(void)revents;

	refresh(r);
	maybe_write(r);
}

unsigned replicas_proxies(const struct replicas *r)
{
	double now;
	unsigned n = 0;

	if (!r)
		return 0;
	/* live as of now: one expires between two ticks */
	now = judged_at(r);
	for (size_t i = 0; i < r->npeers; i++)
		if (lease_peer_live(&r->peers[i], now))
			n += lease_peer_proxies(&r->peers[i]);
	return n;
}

void replicas_routes(const struct replicas *r, const char *digest, unsigned *serving,
		     unsigned *of)
{
	double now;

	*serving = *of = 0;
	if (!r)
		return;
	now = judged_at(r);
	for (size_t i = 0; i < r->npeers; i++) {
		const struct lease_peer *p = &r->peers[i];
		json_t *routes = json_object_get(p->report, "routes");
		const char *theirs = json_string_value(json_object_get(routes, "digest"));

		if (!lease_peer_live(p, now))
			continue;
		*of += lease_peer_proxies(p);
		if (theirs && digest && *digest && strcmp(theirs, digest) == 0)
			*serving += (unsigned)json_integer_value(json_object_get(routes, "serving"));
	}
}

long replicas_in_flight(const struct replicas *r, const char *service, const char *address,
			int *proxies)
{
	double now;
	long total = 0;

	*proxies = 0;
	if (!r || !r->listed)
		return r ? -1 : 0;
	now = judged_at(r);
	for (size_t i = 0; i < r->npeers; i++) {
		const struct lease_peer *p = &r->peers[i];
		json_t *of = service ? json_object_get(json_object_get(p->report, "services"), service)
				     : p->report;
		json_t *n = json_object_get(json_object_get(of, "draining"), address);

		if (!lease_peer_live(p, now))
			continue;
		*proxies += service ? (int)json_integer_value(json_object_get(of, "proxies"))
				    : (int)lease_peer_proxies(p);
		if (!json_is_integer(n) || json_integer_value(n) < 0)
			total = -1;
		else if (total != -1)
			total += (long)json_integer_value(n);
	}
	return total;
}

json_t *replicas_json(const struct replicas *r)
{
	json_t *list = json_array(), *self = report((struct replicas *)r);
	double now = judged_at(r), wall = registry_clock();

	json_object_set_new(self, "lease", json_string(r->name));
	json_object_set_new(self, "pod", json_string(r->pod));
	json_object_set_new(self, "self", json_true());
	json_object_set_new(self, "state", json_string(r->error[0] ? "unrenewed" : "live"));
	json_object_set_new(self, "renewed_ago", json_real(ev_now(r->d->loop) - r->last_write));
	json_array_append_new(list, self);
	for (size_t i = 0; i < r->npeers; i++) {
		const struct lease_peer *p = &r->peers[i];
		json_t *rep = p->report ? json_deep_copy(p->report) : json_object();

		json_object_set_new(rep, "lease", json_string(p->name));
		json_object_set_new(rep, "pod", json_string(p->holder));
		json_object_set_new(rep, "self", json_false());
		json_object_set_new(rep, "state", json_string(lease_peer_live(p, now) ? "live"
					: p->holder[0] ? "gone" : "stopped"));
		json_object_set_new(rep, "renewed_ago", p->renewed > 0 ? json_real(wall - p->renewed)
								       : json_null());
		json_array_append_new(list, rep);
	}
	return list;
}

/* 16 random hex digits (pids repeat across pods: each container's is small). */
static void random_instance(char *out, size_t size)
{
	unsigned long long v = 0;
	FILE *f = fopen("/dev/urandom", "rb");

	if (!f || fread(&v, sizeof(v), 1, f) != 1)
		v = ((unsigned long long)time(NULL) << 20) ^ (unsigned long long)getpid() ^
		    (unsigned long long)(uintptr_t)out;
	if (f)
		fclose(f);
	snprintf(out, size, "%016llx", v);
}

struct replicas *replicas_start(struct discover *d, const struct replicas_options *o)
{
	struct replicas *r = calloc(1, sizeof(*r));
	struct kube_watch_options wo = { 0 };
	char query[600], *esc;

	if (!r || !(esc = curl_easy_escape(NULL, o->service, 0))) {
		free(r);
		return NULL;
	}
	r->d = d;
	r->duration = o->lease_duration;
	random_instance(r->instance, sizeof(r->instance));
	snprintf(r->service, sizeof(r->service), "%s", o->service);
	snprintf(r->pod, sizeof(r->pod), "%s", o->pod);
	snprintf(r->pod_uid, sizeof(r->pod_uid), "%s", o->pod_uid ? o->pod_uid : "");
	snprintf(r->name, sizeof(r->name), "lb-%s-%s", o->service, o->pod);
	snprintf(r->path, sizeof(r->path), "/apis/coordination.k8s.io/v1/namespaces/%s/leases",
		 d->kube.namespace);
	snprintf(query, sizeof(query), "labelSelector=%s%%3D%s", "lb-discover%2Fservice", esc);
	curl_free(esc);
	ev_timer_init(&r->soon, on_soon, REPLICAS_SOON, 0);
	r->soon.data = r;
	ev_timer_init(&r->tick, on_tick, (double)r->duration / 3, (double)r->duration / 3);
	r->tick.data = r;
	wo.what = "leases";
	wo.path = r->path;
	wo.query = query;
	wo.grant = "get/list/watch on coordination.k8s.io leases";
	wo.timeout = o->watch_timeout;
	r->watch = kube_watch_start(&d->kube, &wo, on_leases, r);
	if (!r->watch) {
		free(r);
		return NULL;
	}
	ev_timer_start(d->loop, &r->tick);
	write_report(r, NULL);
	log_info("replica", "lease=%s namespace=%s duration=%ld", r->name, d->kube.namespace,
		 r->duration);
	return r;
}

void replicas_stop(struct replicas *r)
{
	char path[1200], err[256];
	json_t *obj;

	if (!r)
		return;
	ev_timer_stop(r->d->loop, &r->soon);
	ev_timer_stop(r->d->loop, &r->tick);
	kube_cancel(&r->d->kube, r->call);
	kube_watch_stop(r->watch);
	/* as client-go's ReleaseOnCancel: the holder cleared, the others stop
	 * waiting for this replica now rather than when the Lease expires */
	obj = r->created ? own_lease(r, "{}", 0) : NULL;
	snprintf(path, sizeof(path), "%s/%s", r->path, r->name);
	if (obj && kube_request_sync(&r->d->kube, "PUT", path, obj, 2.0, err, sizeof(err)) / 100 != 2)
		log_warn("lease not released: the other replicas wait for it to expire", "lease=%s",
			 r->name);
	json_decref(obj);
	free(r->written);
	lease_peers_release(r->peers, r->npeers);
	free(r);
}
