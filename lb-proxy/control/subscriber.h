/* subscriber: lb-proxy on the bus: applies lb-discover's sets, reports its counters. */
#ifndef LB_PROXY_SUBSCRIBER_H
#define LB_PROXY_SUBSCRIBER_H

#include <ev.h>

#include "buf.h"
#include "bus.h"
#include "bus_protocol.h"
#include "http/proxy.h"

/* seconds between two reports, at least, when breakers change (a failure
 * is reported at once, so lb-discover can sum the fleet's and eject before
 * the next request; a failing backend does not make a report per request) */
#define SUBSCRIBER_SOON_GAP 0.01
/* seconds between two reports of a routed service that says nothing new:
 * a report per service per --report-interval would be 100 messages a
 * quarter second for 100 services; lb-discover trusts an in-flight count
 * PROXIES_REPORT_FRESH (5 s) old at most */
#define SUBSCRIBER_SERVICE_HEARTBEAT 1.0

struct subscriber {
	struct proxy *px;
	struct bus sets;		/* SUB */
	struct bus reports;		/* PUSH */
	ev_timer report_timer;
	ev_timer soon_timer;		/* a breaker changed within SUBSCRIBER_SOON_GAP of a report */
	double last_report;		/* ev_now of the last report sent */
	ev_timer stale_timer;
	double last_heard;		/* ev_now of the last valid set */
	double stale_after;		/* seconds of silence before `stale` */
	unsigned long long ignored;	/* the last older set refused since one applied */
	int other_version;		/* the protocol version last refused (logged once) */
	int reports_sent;		/* 0 until the first report ("new") went out */
	char service[64];
	struct bus_backend *items;	/* BUS_MAX_BACKENDS: the report's counters */
	/* the routes message last applied, byte for byte: the heartbeat's
	 * repeats of it are recognised without decoding the table again */
	struct buf routes_msg;
};

/* Connects to DIR's sets and reports sockets (lb-discover need not run yet:
 * nanomsg reconnects). Returns 0 or -1 with err filled. */
int subscriber_init(struct subscriber *s, struct proxy *px, const char *dir, const char *service,
		    double heartbeat, double report_interval, char *err, size_t errsz);
void subscriber_release(struct subscriber *s);

#endif
