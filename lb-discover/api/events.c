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

static int append_set(struct events *e)
{
	struct bus_set set;
	struct buf msg = BUF_INIT;
	int rc = -1;

	if (registry_snapshot(&e->d->reg, &set) == -1)
		return -1;
	set.proxies = discover_fleet_proxies(e->d);
	if (bus_set_encode(&set, &msg) == 0)
		rc = append_event(&e->text, "set", msg.data, msg.len);
	bus_set_release(&set);
	buf_release(&msg);
	return rc;
}

static int append_status(struct events *e)
{
	json_t *doc = status_json(e->d, 0);
	char *text;
	int rc = -1;

	if (!doc)
		return -1;
	/* what the page needs beyond lb-ctl status: the clock the ages and
	 * rates are measured on, whether its writes need the token */
	json_object_set_new(doc, "time", json_real(ev_time()));
	json_object_set_new(doc, "token", json_boolean(e->token));
	text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	if (text)
		rc = append_event(&e->text, "status", text, strlen(text));
	free(text);
	return rc;
}

/* Renders the set (with `set`) and the status into e->text. */
static int render(struct events *e, int set)
{
	e->text.pos = e->text.len = 0;
	if (set && append_set(e) == -1)
		return -1;
	return append_status(e);
}

static void on_check(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct events *e = w->data;
	int set = e->d->reg.generation != e->generation;
	(void)revents;

	e->generation = e->d->reg.generation;
	if (!e->server->nstreams || (!set && ev_now(loop) - e->status_sent <
					     EVENTS_STATUS_INTERVAL - EVENTS_CHECK_INTERVAL / 2))
		return;
	e->status_sent = ev_now(loop);
	if (render(e, set) == -1) {
		log_warn("status events not sent: out of memory", "streams=%zu", e->server->nstreams);
		return;
	}
	admin_server_broadcast(e->server, e->text.data, e->text.len);
}

void events_subscribe(struct events *e, struct admin_conn *c)
{
	char retry[32];

	admin_server_stream(c, "text/event-stream; charset=utf-8", "X-Content-Type-Options: "
			    "nosniff\r\n");
	if (c->state != ADMIN_STREAMING)
		return;		/* a HEAD */
	snprintf(retry, sizeof(retry), "retry: %d\n\n", EVENTS_RETRY_MS);
	if (admin_server_send(c, retry, strlen(retry)) == -1)
		return;
	if (render(e, 1) == -1) {
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
	e->generation = e->d->reg.generation;
	ev_timer_start(e->d->loop, &e->check);
}

void events_release(struct events *e)
{
	if (!e->d)
		return;
	ev_timer_stop(e->d->loop, &e->check);
	buf_release(&e->text);
	e->d = NULL;
}
