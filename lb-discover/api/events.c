/* events: the status as server-sent events (see events.h). Each event is
 * rendered once and queued on every stream; a stream that does not keep up
 * is dropped by the server (ADMIN_STREAM_BACKLOG), never buffered for. */
#include "events.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus_protocol.h"
#include "log.h"
#include "core/served.h"
#include "services_view.h"
#include "status.h"

/* Appends "event: NAME\ndata: JSON\n\n". A compact JSON text holds no line
 * break (one in a string is escaped \n), so whatever a backend's address
 * or a reason holds, it stays inside its one data line. Returns 0 or -1. */
static int append_event(struct buf *out, const char *name, const char *json, size_t len)
{
	if (memchr(json, '\n', len) || memchr(json, '\r', len))
		return -1;
	if (buf_appendf(out, "event: %s\ndata: ", name) == -1 || buf_append(out, json, len) == -1)
		return -1;
	return buf_append(out, "\n\n", 2);
}

/* Appends sv's set, as published on the bus (it names its service). */
static int append_set(struct events *e, struct buf *out, const struct served *sv)
{
	struct bus_set set;
	struct buf msg = BUF_INIT;
	int rc = -1;

	if (registry_snapshot(sv->reg, &set) == -1)
		return -1;
	set.proxies = discover_fleet_proxies(e->d);
	if (bus_set_encode(&set, &msg) == 0)
		rc = append_event(out, "set", msg.data, msg.len);
	bus_set_release(&set);
	buf_release(&msg);
	return rc;
}

/* Appends the status of the service named (a stream's ?service=; "" the
 * main one, and one no longer served falls back to it: the document's
 * "service" says which). */
static int append_status(struct events *e, struct buf *out, const char *name)
{
	struct served sv;
	json_t *doc;
	char *text;
	int rc = -1;

	if (served_find(e->d, name, &sv) == -1)
		served_main(e->d, &sv);
	doc = status_json_of(e->d, &sv, 0);
	if (!doc)
		return -1;
	/* what the page needs beyond lb-ctl status: the clock the ages and
	 * rates are measured on, whether its writes need the token, the list
	 * of Services and the routes (a routed Service's status has none) */
	json_object_set_new(doc, "time", json_real(ev_time()));
	json_object_set_new(doc, "token", json_boolean(e->token));
	if (sv.routed && e->d->routed.generation)
		json_object_set_new(doc, "routes", status_routes(e->d));
	/* the routes' list of every Service: "services" below says it in rows
	 * of at most SERVICES_VIEW_MAX, not thousands every second */
	json_object_del(json_object_get(doc, "routes"), "services");
	if (services_view_add(e->d, sv.reg->service, doc) == -1) {
		json_decref(doc);
		return -1;
	}
	text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	if (text)
		rc = append_event(out, "status", text, strlen(text));
	free(text);
	return rc;
}

/* Appends the set of every service whose generation moved since the last
 * look (all of them when `all`), and remembers the generations. A routed
 * Service is known by its place in the list and its address: when the
 * list changes, a service that moved has its set sent again (harmless). */
static int changed_sets(struct events *e, struct buf *out, int all)
{
	struct discover *d = e->d;
	struct served sv;

	if (d->routed.n > e->seen_cap) {
		size_t cap = d->routed.n * 2;
		struct events_seen *grown = realloc(e->seen, cap * sizeof(*grown));

		if (!grown)
			return -1;
		memset(grown + e->seen_cap, 0, (cap - e->seen_cap) * sizeof(*grown));
		e->seen = grown;
		e->seen_cap = cap;
	}
	if (all || d->reg.generation != e->generation) {
		served_main(d, &sv);
		if (out && append_set(e, out, &sv) == -1)
			return -1;
	}
	e->generation = d->reg.generation;
	for (size_t i = 0; i < d->routed.n; i++) {
		struct routed_service *rs = d->routed.list[i];

		if (!all && e->seen[i].service == rs && e->seen[i].generation == rs->reg.generation)
			continue;
		served_routed(rs, &sv);
		if (out && append_set(e, out, &sv) == -1)
			return -1;
		e->seen[i].service = rs;
		e->seen[i].generation = rs->reg.generation;
	}
	return 0;
}

/* The distinct ?service= of the open streams into names (at most
 * ADMIN_MAX_STREAMS); returns how many. */
static size_t selections(struct events *e, char names[][BUS_SERVICE_MAX])
{
	struct admin_conn *c;
	size_t n = 0, k;

	LIST_FOREACH(c, &e->server->conns, link) {
		if (c->state != ADMIN_STREAMING)
			continue;
		for (k = 0; k < n && strcmp(names[k], c->service) != 0; k++)
			;
		if (k == n && n < ADMIN_MAX_STREAMS)
			memcpy(names[n++], c->service, sizeof(names[0]));
	}
	return n;
}

static void on_check(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct events *e = w->data;
	char names[ADMIN_MAX_STREAMS][BUS_SERVICE_MAX];
	size_t n, sets;
	(void)revents;

	if (!e->server->nstreams) {
		changed_sets(e, NULL, 0);	/* a stream that comes gets them all */
		return;
	}
	e->text.pos = e->text.len = 0;
	if (changed_sets(e, &e->text, 0) == -1)
		goto fail;
	sets = e->text.len;
	if (!sets && ev_now(loop) - e->status_sent < EVENTS_STATUS_INTERVAL - EVENTS_CHECK_INTERVAL / 2)
		return;
	e->status_sent = ev_now(loop);
	/* one rendering per Service selected, whatever the streams on it; each
	 * stream gets the sets and its status in one send (a stream's backlog
	 * is measured against the last send: ADMIN_STREAM_BACKLOG) */
	n = selections(e, names);
	for (size_t k = 0; k < n; k++) {
		e->text.len = sets;
		if (append_status(e, &e->text, names[k]) == -1)
			goto fail;
		admin_server_broadcast_service(e->server, names[k], e->text.data, e->text.len);
	}
	return;
fail:
	log_warn("status events not sent: out of memory", "streams=%zu", e->server->nstreams);
}

void events_subscribe(struct events *e, struct admin_conn *c, const char *service)
{
	char retry[32];
	struct served sv;

	/* the stream's Service: "" for the main one, however it was named */
	if (served_find(e->d, service, &sv) == -1) {
		char known[200], msg[400];

		served_names(e->d, known, sizeof(known));
		snprintf(msg, sizeof(msg), "unknown service %.120s: lb-discover serves %s",
			 service, known);
		admin_server_respond_error(c, 404, msg, "");
		return;
	}
	snprintf(c->service, sizeof(c->service), "%s", sv.routed ? sv.reg->service : "");

	admin_server_stream(c, "text/event-stream; charset=utf-8", "X-Content-Type-Options: "
			    "nosniff\r\n");
	if (c->state != ADMIN_STREAMING)
		return;		/* a HEAD */
	snprintf(retry, sizeof(retry), "retry: %d\n\n", EVENTS_RETRY_MS);
	if (admin_server_send(c, retry, strlen(retry)) == -1)
		return;
	/* the main set and the stream's Service's, then its status */
	e->text.pos = e->text.len = 0;
	served_main(e->d, &sv);
	if (append_set(e, &e->text, &sv) == -1 ||
	    (c->service[0] && served_find(e->d, c->service, &sv) == 0 &&
	     append_set(e, &e->text, &sv) == -1) ||
	    append_status(e, &e->text, c->service) == -1) {
		log_warn("status events not sent: out of memory", "streams=%zu", e->server->nstreams);
		return;
	}
	admin_server_send(c, e->text.data, e->text.len);
}

void events_init(struct events *e, struct discover *d, struct admin_server *server, int token)
{
	memset(e, 0, sizeof(*e));
	e->d = d;
	e->server = server;
	e->token = token;
	buf_init(&e->text);
	ev_timer_init(&e->check, on_check, EVENTS_CHECK_INTERVAL, EVENTS_CHECK_INTERVAL);
	e->check.data = e;
}

void events_start(struct events *e)
{
	changed_sets(e, NULL, 1);
	ev_timer_start(e->d->loop, &e->check);
}

void events_release(struct events *e)
{
	if (!e->d)
		return;
	ev_timer_stop(e->d->loop, &e->check);
	buf_release(&e->text);
	free(e->seen);
	e->d = NULL;
}
