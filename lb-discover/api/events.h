/* events: GET /events, lb-discover's state as server-sent events (the
 * status page's live feed): "set", the set as published on the bus (what
 * lb-ctl watch prints) on every new generation, and "status", the status
 * document (lb-ctl status --json) then and every EVENTS_STATUS_INTERVAL. */
#ifndef LB_DISCOVER_EVENTS_H
#define LB_DISCOVER_EVENTS_H

#include <ev.h>

#include "admin_server.h"
#include "buf.h"
#include "core/discover.h"

/* seconds between two looks for a new generation (its events go out then) */
#define EVENTS_CHECK_INTERVAL 0.1
/* seconds between two status events while nothing is published (the
 * proxies' counters, ages and in-flight requests move) */
#define EVENTS_STATUS_INTERVAL 1.0
/* milliseconds an EventSource waits before it reconnects */
#define EVENTS_RETRY_MS 2000

struct events {
	struct discover *d;
	struct admin_server *server;
	int token;			/* writes need the admin token (shown to the page) */
	ev_timer check;
	unsigned long long generation;	/* of the last set sent */
	double status_sent;		/* ev_now of the last status sent */
	struct buf text;		/* the events being sent, reused */
};

/* Sets e up for the streams of server; `token`: writes need one. Owns
 * nothing until events_start. */
void events_init(struct events *e, struct discover *d, struct admin_server *server, int token);
/* Starts the timer that feeds the streams. */
void events_start(struct events *e);
void events_release(struct events *e);
/* A GET /events: c becomes a stream (admin_server_stream) and gets the set
 * and the status at once. */
void events_subscribe(struct events *e, struct admin_conn *c);

#endif
