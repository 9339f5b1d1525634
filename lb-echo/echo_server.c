/* echo_server: lb-echo's listening server, its connections and their pool. */
#include "echo_server.h"

#include <stdlib.h>
#include <unistd.h>

#include "log.h"

#define POOL_MAX 1024			/* closed connections kept for reuse */
#define POOL_KEEP_BYTES (64 * 1024)	/* larger buffers are freed, not pooled */

static void server_on_accept(struct listener *l, int fd, const struct sockaddr *peer)
{
	struct echo_server *srv = l->data;
	struct echo_conn *c = srv->free_conns;

	if (c) {
		srv->free_conns = c->next_free;
		srv->nfree--;
	} else {
		c = calloc(1, sizeof(*c));
		if (!c) {
			log_error("out of memory for a connection", NULL);
			close(fd);
			return;
		}
	}
	net_addr_format(peer, c->peer, sizeof(c->peer));
	LIST_INSERT_HEAD(&srv->conns, c, link);
	srv->nconns++;
	echo_conn_open(srv, c, fd);
}

static void shrink(struct buf *b)
{
	if (b->cap > POOL_KEEP_BYTES)
		buf_release(b);
}

static void conn_free(struct echo_conn *c)
{
	buf_release(&c->in);
	buf_release(&c->out);
	buf_release(&c->body);
	free(c);
}

/* A closed connection goes back to the pool (srv->conn_closed). */
static void server_conn_closed(struct echo_server *srv, struct echo_conn *c)
{
	LIST_REMOVE(c, link);
	srv->nconns--;
	if (srv->nfree < POOL_MAX && !srv->stopping) {
		shrink(&c->in);
		shrink(&c->out);
		shrink(&c->body);
		c->next_free = srv->free_conns;
		srv->free_conns = c;
		srv->nfree++;
	} else {
		conn_free(c);
	}
	if (srv->stopping && srv->nconns == 0)
		ev_break(srv->loop, EVBREAK_ALL);
}

static void server_on_drain_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct echo_server *srv = w->data;
	(void)revents;

	log_warn("drain timeout: closing remaining connections", "connections=%u", srv->nconns);
	while (!LIST_EMPTY(&srv->conns))
		echo_conn_close(LIST_FIRST(&srv->conns));
	ev_break(loop, EVBREAK_ALL);
}

static char pattern_block[ECHO_PATTERN_LEN];

int echo_server_init(struct echo_server *srv, struct ev_loop *loop, const struct echo_options *opts,
		     char *err, size_t errsz)
{
	for (size_t i = 0; i < sizeof(pattern_block); i++)
		pattern_block[i] = (char)('a' + i % 26);
	srv->loop = loop;
	srv->opts = opts;
	srv->pattern = pattern_block;
	srv->conn_closed = server_conn_closed;
	LIST_INIT(&srv->conns);
	srv->free_conns = NULL;
	srv->nconns = srv->nfree = 0;
	srv->stopping = 0;
	fault_init(&srv->fault, opts->delay_ms, opts->error_rate);
	ev_timer_init(&srv->drain_timer, server_on_drain_timeout, opts->drain_timeout, 0);
	srv->drain_timer.data = srv;
	return listener_init(&srv->listener, loop, opts->listen, opts->reuse_port, server_on_accept,
			     srv, err, errsz);
}

int echo_server_start(struct echo_server *srv)
{
	if (listener_start(&srv->listener) == -1)
		return -1;
	log_info("listening", "listen=%s service=%s pod=%s", srv->listener.name, srv->id.service,
		 srv->id.pod_name);
	return 0;
}

void echo_server_stop(struct echo_server *srv)
{
	struct echo_conn *c, *next;

	if (srv->stopping)
		return;
	srv->stopping = 1;
	listener_release(&srv->listener);
	for (c = LIST_FIRST(&srv->conns); c; c = next) {
		next = LIST_NEXT(c, link);
		echo_conn_on_stop(c);
	}
	if (srv->nconns == 0) {
		ev_break(srv->loop, EVBREAK_ALL);
		return;
	}
	log_info("draining", "connections=%u timeout_s=%g", srv->nconns, srv->opts->drain_timeout);
	ev_timer_start(srv->loop, &srv->drain_timer);
}

void echo_server_release(struct echo_server *srv)
{
	struct echo_conn *c;

	srv->stopping = 1;
	while (!LIST_EMPTY(&srv->conns))
		echo_conn_close(LIST_FIRST(&srv->conns));
	while ((c = srv->free_conns) != NULL) {
		srv->free_conns = c->next_free;
		conn_free(c);
	}
	ev_timer_stop(srv->loop, &srv->drain_timer);
	listener_release(&srv->listener);
}
