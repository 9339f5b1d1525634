/* events: GET /events, lb-discover's state as server-sent events (the
 * status page's live feed): "set", a service's set as published on the bus
 * (what lb-ctl watch prints; it names its service) on every new generation
 * of the main service and of every routed one, and "status", the status
 * document (lb-ctl status --json) of the stream's Service (?service=, the
 * main one without) with the list of every Service, then and every
 * EVENTS_STATUS_INTERVAL. */
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
	unsigned long long generation;	/* of the main service's last set sent */
	/* each routed Service's generation last sent, by its place in the list */
	struct events_seen {
		const void *service;	/* its struct routed_service */
		unsigned long long generation;
	} *seen;
	size_t seen_cap;
	double status_sent;		/* ev_now of the last status sent */
	struct buf text;		/* the events being sent, reused */
};

/* Sets e up for the streams of server; `token`: writes need one. Owns
 * nothing until events_start. */
void events_init(struct events *e, struct discover *d, struct admin_server *server, int token);
/* Starts the timer that feeds the streams. */
void events_start(struct events *e);
void events_release(struct events *e);
/* A GET /events?service=NAME: c becomes a stream (admin_server_stream) of
 * that Service ("" or NULL: the main one) and gets the main set, the
 * Service's and its status at once; an unknown Service is answered 404. */
void events_subscribe(struct events *e, struct admin_conn *c, const char *service);

#endif
