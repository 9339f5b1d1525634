/* source_dns: backends from DNS, A/AAAA (with a port) or SRV, re-resolved every
 * interval with c-ares inside the libev loop (never a blocking getaddrinfo). */
#include <arpa/inet.h>
#include <ares.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "net.h"
#include "source.h"

#define C_IN 1
#define T_SRV 33

struct dns_sock {
	ev_io io;
	struct source_dns *d;
	struct dns_sock *next;
};

struct source_dns {
	struct ev_loop *loop;
	ares_channel channel;
	char name[256];
	int port;			/* 0: SRV */
	ev_timer round;			/* every interval */
	ev_timer tick;			/* c-ares timeouts */
	struct dns_sock *socks;
	int pending;			/* lookups of this round still out */
	int failed;			/* a lookup of this round failed */
	int stopping;			/* ares_destroy calls back: ignore it */
	char error[256];
	struct bus_backend *acc;	/* what this round found */
	int nacc;
	source_update_cb cb;
	void *data;
};

/* Re-arms the timer on c-ares's next deadline. */
static void schedule(struct source_dns *d)
{
	struct timeval tv, *t = ares_timeout(d->channel, NULL, &tv);

	ev_timer_stop(d->loop, &d->tick);
	if (t) {
		ev_timer_set(&d->tick, (double)t->tv_sec + (double)t->tv_usec / 1e6, 0);
		ev_timer_start(d->loop, &d->tick);
	}
}

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct source_dns *d = w->data;
	(void)loop;
	(void)revents;

	ares_process_fd(d->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	schedule(d);
}

static void on_sock(struct ev_loop *loop, ev_io *w, int revents)
{
	struct source_dns *d = ((struct dns_sock *)w)->d;
	int fd = w->fd;
	(void)loop;

	ares_process_fd(d->channel, revents & EV_READ ? fd : ARES_SOCKET_BAD,
			revents & EV_WRITE ? fd : ARES_SOCKET_BAD);
	schedule(d);
}

static void sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct source_dns *d = data;
	struct dns_sock **pp, *s = NULL;

	for (pp = &d->socks; *pp; pp = &(*pp)->next) {
		if ((*pp)->io.fd == fd) {
			s = *pp;
			break;
		}
	}
	if (s)
		ev_io_stop(d->loop, &s->io);
	if (!readable && !writable) {
		if (s) {
			*pp = s->next;
			free(s);
		}
		return;
	}
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s)
			return;
		s->d = d;
		s->next = d->socks;
		d->socks = s;
	}
	ev_io_init(&s->io, on_sock, fd, (readable ? EV_READ : 0) | (writable ? EV_WRITE : 0));
	ev_io_start(d->loop, &s->io);
}

static int by_address(const void *a, const void *b)
{
	return strcmp(((const struct bus_backend *)a)->address,
		      ((const struct bus_backend *)b)->address);
}

static void round_done(struct source_dns *d)
{
	if (d->stopping) {
	} else if (d->failed) {
		log_warn("dns source: lookup failed, keeping the last set", "name=%s error=\"%s\"",
			 d->name, d->error);
	} else {
		/* a stable order: answers come in any order */
		qsort(d->acc, (size_t)d->nacc, sizeof(*d->acc), by_address);
		d->cb(d->data, d->acc, (size_t)d->nacc);
	}
	free(d->acc);
	d->acc = NULL;
	d->nacc = 0;
}

struct lookup {
	struct source_dns *d;
	int port;
	int weight;
};

static void on_addrinfo(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
	struct lookup *lk = arg;
	struct source_dns *d = lk->d;
	(void)timeouts;

	if (status != ARES_SUCCESS) {
		d->failed = 1;
		snprintf(d->error, sizeof(d->error), "%s", ares_strerror(status));
	} else {
		for (struct ares_addrinfo_node *n = res->nodes; n; n = n->ai_next) {
			struct bus_backend *grown, *b;
			char ip[64];

			net_addr_ip(n->ai_addr, ip, sizeof(ip));
			grown = realloc(d->acc, (size_t)(d->nacc + 1) * sizeof(*grown));
			if (!grown)
				break;
			d->acc = grown;
			b = &d->acc[d->nacc];
			memset(b, 0, sizeof(*b));
			snprintf(b->address, sizeof(b->address), strchr(ip, ':') ? "[%s]:%d" : "%s:%d",
				 ip, lk->port);
			b->weight = lk->weight;
			/* the same address twice (A and AAAA of one host): once */
			for (int i = 0; i < d->nacc; i++)
				if (strcmp(d->acc[i].address, b->address) == 0)
					goto next;
			d->nacc++;
next:;
		}
	}
	if (res)
		ares_freeaddrinfo(res);
	free(lk);
	if (--d->pending == 0)
		round_done(d);
}

static void resolve(struct source_dns *d, const char *host, int port, int weight)
{
	struct ares_addrinfo_hints hints;
	struct lookup *lk = calloc(1, sizeof(*lk));

	if (!lk) {
		d->failed = 1;
		return;
	}
	lk->d = d;
	lk->port = port;
	lk->weight = weight;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	d->pending++;
	ares_getaddrinfo(d->channel, host, NULL, &hints, on_addrinfo, lk);
}

static void on_srv(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct source_dns *d = arg;
	struct ares_srv_reply *srv = NULL;
	int best = 65536;
	(void)timeouts;

	if (status != ARES_SUCCESS || ares_parse_srv_reply(abuf, alen, &srv) != ARES_SUCCESS) {
		d->failed = 1;
		snprintf(d->error, sizeof(d->error), "SRV: %s", ares_strerror(status));
	} else {
		/* only the most preferred priority is used, as RFC 2782 says */
		for (struct ares_srv_reply *r = srv; r; r = r->next)
			if (r->priority < best)
				best = r->priority;
		for (struct ares_srv_reply *r = srv; r; r = r->next)
			if (r->priority == best)
				resolve(d, r->host, r->port,
					r->weight < 1 ? 1 : r->weight > 1000 ? 1000 : r->weight);
		ares_free_data(srv);
	}
	if (--d->pending == 0)
		round_done(d);
}

static void on_round(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct source_dns *d = w->data;
	(void)loop;
	(void)revents;

	if (d->pending)
		return;		/* the last round is still out */
	d->failed = 0;
	if (d->port > 0) {
		resolve(d, d->name, d->port, 1);
	} else {
		d->pending++;
		ares_query(d->channel, d->name, C_IN, T_SRV, on_srv, d);
	}
	schedule(d);
}

struct source_dns *source_dns_start(struct ev_loop *loop, const char *name, int port,
				    double interval, const char *servers, source_update_cb cb,
				    void *data, char *err, size_t errsz)
{
	struct source_dns *d = calloc(1, sizeof(*d));
	struct ares_options o;
	int rc;

	if (!d)
		return NULL;
	if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS) {
		snprintf(err, errsz, "c-ares cannot start");
		free(d);
		return NULL;
	}
	d->loop = loop;
	d->port = port;
	d->cb = cb;
	d->data = data;
	snprintf(d->name, sizeof(d->name), "%s", name);
	memset(&o, 0, sizeof(o));
	o.sock_state_cb = sock_state;
	o.sock_state_cb_data = d;
	rc = ares_init_options(&d->channel, &o, ARES_OPT_SOCK_STATE_CB);
	if (rc != ARES_SUCCESS) {
		snprintf(err, errsz, "c-ares: %s", ares_strerror(rc));
		goto fail;
	}
	if (servers && (rc = ares_set_servers_ports_csv(d->channel, servers)) != ARES_SUCCESS) {
		snprintf(err, errsz, "--dns-server \"%s\": %s", servers, ares_strerror(rc));
		ares_destroy(d->channel);
		goto fail;
	}
	ev_init(&d->tick, on_tick);
	d->tick.data = d;
	ev_timer_init(&d->round, on_round, 0, interval);
	d->round.data = d;
	ev_timer_start(loop, &d->round);
	return d;
fail:
	ares_library_cleanup();
	free(d);
	return NULL;
}

void source_dns_stop(struct source_dns *d)
{
	if (!d)
		return;
	ev_timer_stop(d->loop, &d->round);
	ev_timer_stop(d->loop, &d->tick);
	d->stopping = 1;
	ares_destroy(d->channel);	/* runs pending callbacks with ARES_EDESTRUCTION */
	while (d->socks) {
		struct dns_sock *s = d->socks;

		d->socks = s->next;
		ev_io_stop(d->loop, &s->io);
		free(s);
	}
	free(d->acc);
	ares_library_cleanup();
	free(d);
}
