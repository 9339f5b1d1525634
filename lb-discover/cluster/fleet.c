/* fleet: the replicas' shared state in a ConfigMap (see fleet.h). */
#include "fleet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/discover.h"
#include "core/spans.h"
#include "core/state.h"
#include "fleet_apply.h"
#include "kube/kube_watch.h"
#include "log.h"

#define FLEET_TIMEOUT 10.0		/* seconds a write or read may take */
#define FLEET_BACKOFF_FIRST 0.5
#define FLEET_BACKOFF_MAX 30.0
/* operations kept while the API is away, at most (then the oldest go: the
 * local state still has them, the state file too) */
#define FLEET_OPS_MAX 4096

struct fleet {
	struct discover *d;
	char service[254];
	char name[320];			/* lb-state-SERVICE */
	char path[600];			/* .../namespaces/NS/configmaps */
	struct kube_watch *watch;
	json_t *doc;			/* the last valid document seen, or NULL */
	char rv[64];			/* the object's resourceVersion, "": it does not exist */
	long long revision;		/* the document's "revision" */
	int known;			/* rv and doc are what the API said (listed once) */
	int create;			/* it does not exist: create it, even with no operation */
	int reread;			/* read it before anything else (a read failed, or
					 * a watched document seemed to go back) */
	struct fleet_op *ops;		/* not yet written; the first `inflight` are being */
	size_t nops, cap, inflight;
	struct kube_call *call;		/* a write, or a read after a conflict */
	ev_timer retry;
	double backoff;
	char error[1200];		/* the last failure, "" after a success */
	char damaged[600];		/* why the object's document was not applied */
	unsigned long long writes, conflicts, failures;
	uint64_t write_ns;		/* when the write in flight was sent (Unix ns) */
};

static void kick(struct fleet *f);
static void reread(struct fleet *f);

/* ---- the merged view: the document and what is not written yet ------------ */

/* The document a write would send: the one seen (or, when the ConfigMap
 * does not exist, this replica's state), with every operation re-applied. */
static json_t *merged(struct fleet *f)
{
	json_t *doc = f->doc && f->rv[0] ? json_deep_copy(f->doc) : NULL;

	if (!doc) {
		json_t *services = routed_overrides(&f->d->routed);

		doc = json_object();
		if (!doc || json_object_set_new(doc, "backends", state_backends(&f->d->reg)) == -1) {
			json_decref(services);
			json_decref(doc);
			return NULL;
		}
		if (services)
			json_object_set_new(doc, "services", services);
	}
	json_object_set_new(doc, "service", json_string(f->d->reg.service));
	for (size_t i = 0; i < f->nops; i++)
		if (fleet_apply_op(doc, &f->ops[i]) == -1) {
			json_decref(doc);
			return NULL;
		}
	return doc;
}

/* Applies the merged view to the registry and publishes what changed. */
static void apply(struct fleet *f)
{
	json_t *doc;
	char err[512];

	if (!f->known || !f->rv[0] || !f->doc)
		return;		/* nothing shared yet: the local state is the state */
	doc = merged(f);
	if (!doc || fleet_apply_document(&f->d->reg, doc, registry_clock(), err,
					 sizeof(err)) == -1) {
		log_error("shared state not applied", "configmap=%s error=\"%s\"", f->name,
			  doc ? err : "out of memory");
		json_decref(doc);
		return;
	}
	/* each routed Service follows its section (none: no overrides) */
	for (size_t i = 0; i < f->d->routed.n; i++) {
		struct routed_service *rs = f->d->routed.list[i];
		json_t *section = json_object_get(json_object_get(doc, "services"), rs->reg.service);
		json_t *none = section ? NULL : json_pack("{s:[]}", "backends");

		if (fleet_apply_document(&rs->reg, section ? section : none, registry_clock(), err,
					 sizeof(err)) == -1)
			log_error("shared state not applied", "configmap=%s service=%s error=\"%s\"",
				  f->name, rs->reg.service, err);
		json_decref(none);
		routed_commit(&f->d->pub, discover_fleet_proxies(f->d), rs);
	}
	json_decref(doc);
	discover_commit(f->d, 1);	/* the fallback follows the shared state */
}

/* The object's document: its data's FLEET_KEY parsed (a new reference), or
 * NULL with why filled. */
static json_t *document_of(json_t *obj, char *why, size_t whysz)
{
	const char *text = json_string_value(json_object_get(json_object_get(obj, "data"),
							     FLEET_KEY));
	json_error_t jerr;
	json_t *doc;

	if (!text) {
		snprintf(why, whysz, "no \"%s\" key in its data", FLEET_KEY);
		return NULL;
	}
	doc = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc)
		snprintf(why, whysz, "%s: %d:%d: not JSON: %s", FLEET_KEY, jerr.line, jerr.column,
			 jerr.text);
	return doc;
}

/* A document's "revision", -1 when it has none (or there is no document). */
static long long revision_of(json_t *doc)
{
	json_t *rev = json_object_get(doc, "revision");

	return json_is_integer(rev) ? (long long)json_integer_value(rev) : -1;
}

/* Takes an object the API holds now (a list, a watch event, a write's or a
 * read's answer): its resourceVersion, and `doc` (document_of's, owned from
 * here; NULL: `why` says what is wrong) when valid. */
static void take(struct fleet *f, json_t *obj, json_t *doc, const char *why_not_json)
{
	const char *rv = json_string_value(json_object_get(json_object_get(obj, "metadata"),
							   "resourceVersion"));
	json_t *rev = json_object_get(doc, "revision");
	char why[512] = "";
	unsigned long long g;
	size_t n;

	snprintf(f->rv, sizeof(f->rv), "%s", rv ? rv : "");
	f->known = 1;
	f->create = 0;
	if (!doc) {
		snprintf(why, sizeof(why), "%s", why_not_json);
	} else {
		struct state_override *ov = state_parse(&f->d->reg, doc, 0, &g, &n, why, sizeof(why));

		if (ov && rev && (!json_is_integer(rev) || json_integer_value(rev) < 0))
			snprintf(why, sizeof(why), "\"revision\" must be a non-negative integer");
		else if (ov)
			state_services_check(json_object_get(doc, "services"), why, sizeof(why));
		else if (!ov && !why[0])
			snprintf(why, sizeof(why), "out of memory");
		free(ov);
	}
	if (why[0]) {
		if (strcmp(why, f->damaged) != 0)
			log_error("shared state damaged: every replica keeps the last good one; the "
				  "next change replaces it", "configmap=%s rv=%s error=\"%s\"", f->name,
				  f->rv, why);
		snprintf(f->damaged, sizeof(f->damaged), "%s", why);
		json_decref(doc);
		return;
	}
	f->damaged[0] = '\0';
	json_decref(f->doc);
	f->doc = doc;
	f->revision = revision_of(doc) < 0 ? 0 : revision_of(doc);
}

/* take() of an object whose document is not read yet. */
static void take_object(struct fleet *f, json_t *obj)
{
	char why[512] = "";
	json_t *doc = document_of(obj, why, sizeof(why));

	take(f, obj, doc, why);
}

/* ---- reads and writes --------------------------------------------------------- */

static void fail(struct fleet *f, const char *what, long status, json_t *body, const char *error)
{
	char msg[1200];

	f->failures++;
	f->inflight = 0;
	if (status == 403)
		snprintf(msg, sizeof(msg), "cannot %s configmaps %s in namespace %s: grant get, "
			 "list, watch, create, update on it (HTTP 403: %s)", what, f->name,
			 f->d->kube.namespace, kube_status_message(body));
	else if (status)
		snprintf(msg, sizeof(msg), "%s configmaps %s: HTTP %ld: %s", what, f->name, status,
			 kube_status_message(body));
	else
		snprintf(msg, sizeof(msg), "%s configmaps %s: %s", what, f->name, error);
	if (strcmp(msg, f->error) != 0)
		log_error("shared state not written: keeping the changes and retrying",
			  "error=\"%s\" pending=%zu", msg, f->nops);
	snprintf(f->error, sizeof(f->error), "%s", msg);
	ev_timer_stop(f->d->loop, &f->retry);
	ev_timer_set(&f->retry, kube_backoff(&f->d->kube, &f->backoff, FLEET_BACKOFF_FIRST,
					     FLEET_BACKOFF_MAX), 0);
	ev_timer_start(f->d->loop, &f->retry);
}

static void succeeded(struct fleet *f)
{
	if (f->error[0])
		log_info("shared state written again", "configmap=%s pending=%zu", f->name, f->nops);
	f->error[0] = '\0';
	f->backoff = 0;
}

static void read_done(void *data, long status, json_t *body, const char *error)
{
	struct fleet *f = data;

	f->call = NULL;
	if (status == 200) {
		take_object(f, body);
	} else if (status == 404) {
		f->rv[0] = '\0';
		f->known = 1;
		f->create = 1;
	} else {
		f->reread = 1;
		fail(f, "get", status, body, error);
		return;
	}
	succeeded(f);
	apply(f);
	kick(f);
}

static void reread(struct fleet *f)
{
	char path[1000];

	snprintf(path, sizeof(path), "%s/%s", f->path, f->name);
	f->reread = 0;
	f->call = kube_request(&f->d->kube, "GET", path, NULL, FLEET_TIMEOUT, read_done, f);
	if (!f->call) {
		f->reread = 1;
		fail(f, "get", 0, NULL, "out of memory");
	}
}

/* A write another replica's got ahead of (409): a span, from the write to
 * the answer, for an operator asking why a change takes long to land
 * (docs/tracing.md#lb-discover); the root of its own trace. */
static void conflict_span(struct fleet *f, size_t sent)
{
	struct spans_ctx ctx;
	struct otlp_span *sp;
	uint64_t now = spans_now(f->d->loop);

	spans_begin(&ctx, NULL, 0, f->write_ns);
	if (!(sp = spans_record(&ctx, OTLP_KIND_INTERNAL, "shared state conflict", now)))
		return;
	otlp_span_str(sp, "k8s.namespace.name", f->d->kube.namespace,
		      strlen(f->d->kube.namespace));
	otlp_span_str(sp, "lb.shared_state.configmap", f->name, strlen(f->name));
	otlp_span_int(sp, "http.response.status_code", 409);
	otlp_span_int(sp, "lb.shared_state.operations", (long long)sent);
	otlp_span_int(sp, "lb.shared_state.conflicts", (long long)f->conflicts);
	otlp_span_event(sp, "re-read and re-applied", now);
	spans_commit();
}

static void write_done(void *data, long status, json_t *body, const char *error)
{
	struct fleet *f = data;
	size_t sent;

	f->call = NULL;
	log_debug("shared state: written", "configmap=%s status=%ld error=\"%s\" ops=%zu",
		  f->name, status, error, f->inflight);
	if (status == 200 || status == 201) {
		f->writes++;
		if (f->inflight)
			memmove(f->ops, f->ops + f->inflight,
				(f->nops - f->inflight) * sizeof(*f->ops));
		f->nops -= f->inflight;
		f->inflight = 0;
		/* the watch may have brought a later document already (one
		 * written over this one): the answer is older then */
		if (!f->doc) {
			take_object(f, body);
		} else {
			char why[512] = "";
			json_t *doc = document_of(body, why, sizeof(why));

			if (revision_of(doc) >= f->revision)
				take(f, body, doc, why);
			else
				json_decref(doc);
		}
		succeeded(f);
		apply(f);
		kick(f);
		return;
	}
	sent = f->inflight;
	f->inflight = 0;
	if (status == 409) {
		/* another replica wrote first (or created it): read, re-apply, write */
		f->conflicts++;
		conflict_span(f, sent);
		log_debug("shared state: conflict, re-reading and re-applying", "configmap=%s "
			  "pending=%zu", f->name, f->nops);
		reread(f);
		return;
	}
	if (status == 404) {
		f->rv[0] = '\0';	/* deleted meanwhile: create it again */
		f->create = 1;
		kick(f);
		return;
	}
	if (status == 422 || status == 400) {
		/* refused as such (too large?): retrying the same cannot help; the
		 * local state (and the state file) keeps the changes */
		log_error("shared state refused by the API: these changes stay on this replica",
			  "configmap=%s status=%ld error=\"%s\" dropped=%zu", f->name, status,
			  kube_status_message(body), sent);
		if (sent)
			memmove(f->ops, f->ops + sent, (f->nops - sent) * sizeof(*f->ops));
		f->nops -= sent;
		f->create = 0;
		kick(f);
		return;
	}
	fail(f, f->rv[0] ? "update" : "create", status, body, error);
}

static json_t *object(struct fleet *f, json_t *doc)
{
	char *text = json_dumps(doc, JSON_COMPACT);
	json_t *obj;

	if (!text)
		return NULL;
	obj = json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:s,s:s}},s:{s:s}}", "apiVersion", "v1", "kind",
			"ConfigMap", "metadata", "name", f->name, "namespace", f->d->kube.namespace,
			"labels", "app.kubernetes.io/name", "lb", "lb-discover/service", f->service,
			"data", FLEET_KEY, text);
	free(text);
	if (obj && f->rv[0])
		json_object_set_new(json_object_get(obj, "metadata"), "resourceVersion",
				    json_string(f->rv));
	return obj;
}

static void kick(struct fleet *f)
{
	json_t *doc, *obj;
	char path[1000];

	if (f->call || ev_is_active(&f->retry))
		return;		/* kicked again when it ends */
	if (f->reread) {
		reread(f);
		return;
	}
	if (!f->known || (!f->nops && !f->create))
		return;
	doc = merged(f);
	if (doc)
		json_object_set_new(doc, "revision", json_integer(f->revision + 1));
	obj = doc ? object(f, doc) : NULL;
	json_decref(doc);
	if (!obj) {
		fail(f, "write", 0, NULL, "out of memory");
		return;
	}
	f->inflight = f->nops;
	f->write_ns = spans_now(f->d->loop);
	if (f->rv[0]) {
		snprintf(path, sizeof(path), "%s/%s", f->path, f->name);
		f->call = kube_request(&f->d->kube, "PUT", path, obj, FLEET_TIMEOUT, write_done, f);
	} else {
		f->call = kube_request(&f->d->kube, "POST", f->path, obj, FLEET_TIMEOUT, write_done,
				       f);
	}
	json_decref(obj);
	if (!f->call)
		fail(f, "write", 0, NULL, "out of memory");
}

static void on_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct fleet *f = w->data;
	(void)loop;
	(void)revents;

	kick(f);	/* after a failed read, it reads again first */
}

/* The watch's view of the ConfigMap changed. */
static void on_objects(void *data, json_t *objects)
{
	struct fleet *f = data;
	json_t *obj = json_object_get(objects, f->name);
	const char *rv = json_string_value(json_object_get(json_object_get(obj, "metadata"),
							   "resourceVersion"));
	char why[512] = "";
	json_t *doc;

	if (!obj) {
		if (f->known && !f->rv[0])
			return;
		log_info(f->known ? "shared state deleted: creating it again from this replica's "
				    "state" : "no shared state yet: creating it from this replica's state",
			 "configmap=%s namespace=%s", f->name, f->d->kube.namespace);
		f->rv[0] = '\0';
		f->known = 1;
		f->create = 1;
		kick(f);
		return;
	}
	if (rv && strcmp(rv, f->rv) == 0)
		return;		/* this replica's write, or seen already */
	doc = document_of(obj, why, sizeof(why));
	log_debug("shared state: watch event", "configmap=%s rv=%s seen=%s revision=%lld "
		  "seen_revision=%lld", f->name, rv ? rv : "", f->rv, revision_of(doc),
		  f->revision);
	/* a watch may deliver an event older than a write's answer or a read:
	 * documents only move forward, and one that seems to go back is read
	 * again (an operator may have replaced it) */
	if (f->known && f->doc && revision_of(doc) < f->revision) {
		json_decref(doc);
		f->reread = 1;	/* now, or once the call out ends */
		kick(f);
		return;
	}
	if (!f->known)
		log_info("shared state found: it replaces this replica's state file", "configmap=%s "
			 "namespace=%s rv=%s", f->name, f->d->kube.namespace, rv ? rv : "");
	take(f, obj, doc, why);
	apply(f);
	kick(f);
}

struct fleet *fleet_start(struct discover *d, const char *service, double watch_timeout)
{
	struct fleet *f = calloc(1, sizeof(*f));
	struct kube_watch_options wo = { 0 };
	char query[600], grant[600];

	if (!f)
		return NULL;
	f->d = d;
	snprintf(f->service, sizeof(f->service), "%s", service);
	snprintf(f->name, sizeof(f->name), "lb-state-%s", service);
	snprintf(f->path, sizeof(f->path), "/api/v1/namespaces/%s/configmaps", d->kube.namespace);
	snprintf(query, sizeof(query), "fieldSelector=metadata.name%%3D%s", f->name);
	snprintf(grant, sizeof(grant), "get/list/watch on configmaps %s", f->name);
	ev_init(&f->retry, on_retry);
	f->retry.data = f;
	wo.what = "configmaps";
	wo.path = f->path;
	wo.query = query;
	wo.grant = grant;
	wo.timeout = watch_timeout;
	f->watch = kube_watch_start(&d->kube, &wo, on_objects, f);
	if (!f->watch) {
		free(f);
		return NULL;
	}
	log_info("shared state", "configmap=%s namespace=%s", f->name, d->kube.namespace);
	return f;
}

void fleet_stop(struct fleet *f)
{
	if (!f)
		return;
	if (f->nops)
		log_warn("stopping with shared-state changes not written: the state file keeps them",
			 "configmap=%s pending=%zu", f->name, f->nops);
	ev_timer_stop(f->d->loop, &f->retry);
	kube_cancel(&f->d->kube, f->call);
	kube_watch_stop(f->watch);
	json_decref(f->doc);
	free(f->ops);
	free(f);
}

void fleet_record(struct fleet *f, const struct fleet_op *op)
{
	if (!f)
		return;
	if (f->nops == FLEET_OPS_MAX) {
		static struct log_limit full;

		if (log_every(&full, ev_now(f->d->loop), 10))
			log_warn("shared-state changes kept for the API at most: the oldest goes",
				 "configmap=%s max=%d", f->name, FLEET_OPS_MAX);
		if (f->inflight)
			return;		/* it is being written: keep the order */
		memmove(f->ops, f->ops + 1, (f->nops - 1) * sizeof(*f->ops));
		f->nops--;
	}
	if (f->nops == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 16;
		struct fleet_op *grown = realloc(f->ops, cap * sizeof(*grown));

		if (!grown) {
			log_error("shared-state change not recorded: out of memory", "address=%s",
				  op->address);
			return;
		}
		f->ops = grown;
		f->cap = cap;
	}
	f->ops[f->nops++] = *op;
	kick(f);
}

int fleet_pending(const struct fleet *f)
{
	return f && (f->nops || !f->known || f->create);
}

json_t *fleet_json(const struct fleet *f)
{
	return json_pack("{s:s,s:s,s:s?,s:I,s:b,s:i,s:s?,s:s?,s:I,s:I,s:I}", "configmap", f->name,
			 "namespace", f->d->kube.namespace, "resource_version",
			 f->rv[0] ? f->rv : NULL, "revision", (json_int_t)f->revision, "synced",
			 f->known && !f->nops && !f->create && !f->damaged[0], "pending",
			 (int)f->nops, "error", f->error[0] ? f->error : kube_watch_error(f->watch)[0]
			 ? kube_watch_error(f->watch) : NULL, "damaged",
			 f->damaged[0] ? f->damaged : NULL, "writes", (json_int_t)f->writes,
			 "conflicts", (json_int_t)f->conflicts, "failures", (json_int_t)f->failures);
}
