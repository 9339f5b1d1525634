/* echo_server: lb-echo's listening server, its connections and their pool. */
#ifndef LB_ECHO_SERVER_H
#define LB_ECHO_SERVER_H

#include <ev.h>
#include <sys/queue.h>

#include "buf.h"
#include "fault.h"
#include "http_parser.h"
#include "listener.h"

struct echo_options {
	char *listen;
	long port;
	char *service_name;
	long max_body;
	long max_header_size;
	long delay_ms;
	double error_rate;
	int access_log;
	double idle_timeout;
	double drain_timeout;
	int reuse_port;
	char *pod_name;		/* the identity: else POD_NAME, else the hostname */
	char *pod_ip;		/* else POD_IP */
	char *namespace;	/* else NAMESPACE */
	char *log_level;
	char *log_format;
};

/* Identity strings, already escaped for JSON. */
struct echo_identity {
	char *pod_name;		/* POD_NAME, else the hostname */
	char *pod_ip;		/* POD_IP, or NULL: the address a request arrived on */
	char *service;
	char *namespace;	/* NAMESPACE, or NULL */
};

enum echo_conn_state {
	ECHO_CONN_READING = 0,	/* waiting for, or parsing, a request */
	ECHO_CONN_DELAYING,	/* a complete request waits out an injected delay */
	ECHO_CONN_TUNNEL,	/* after a 101: every byte read is written back */
	ECHO_CONN_CLOSING,	/* the last response is queued; close once written */
	ECHO_CONN_LINGER,	/* written and shut down for writing; draining input */
};

struct echo_server;

struct echo_conn {
	struct echo_server *srv;
	int fd;
	enum echo_conn_state state;
	ev_io rio, wio;
	ev_timer timer;		/* idle, header, delay or linger deadline, by state */
	struct buf in;		/* request bytes; [0, parse_off) parsed */
	size_t parse_off;
	struct buf out;		/* responses queued for the client */
	size_t pattern_left;	/* /bytes/N body bytes to send after `out`, never copied */
	size_t pattern_off;	/* where they start in echo_pattern */
	struct buf body;	/* the current request's body */
	struct http_msg msg;
	unsigned head_seen : 1;	/* the current request's head was handled */
	unsigned read_paused : 1;
	int status;		/* the status of the last answer queued */
	double started;		/* when the current request began, monotonic */
	char local_ip[48];
	char peer[64];
	LIST_ENTRY(echo_conn) link;	/* in srv->conns */
	struct echo_conn *next_free;	/* in srv->free_conns */
};

/*
 * The /bytes/N payload: 'a' to 'z' repeated. A body of any length is this
 * block written again and again (its length is a multiple of 26), so a
 * download costs no copy and no allocation in lb-echo.
 */
#define ECHO_PATTERN_LEN (26 * 2521)	/* 65,546 bytes */

struct echo_server {
	struct ev_loop *loop;
	const struct echo_options *opts;
	struct echo_identity id;
	struct fault fault;
	struct listener listener;
	LIST_HEAD(, echo_conn) conns;	/* open connections */
	struct echo_conn *free_conns;	/* closed ones kept for reuse */
	unsigned nconns, nfree;
	int stopping;
	ev_timer drain_timer;
	const char *pattern;		/* the /bytes/N payload, ECHO_PATTERN_LEN bytes */
	/* takes back a closed connection into the pool (set by echo_server_init;
	 * echo_conn_close calls it) */
	void (*conn_closed)(struct echo_server *srv, struct echo_conn *c);
};

/* Binds the listening socket; returns 0 or -1 with err filled. */
int echo_server_init(struct echo_server *srv, struct ev_loop *loop, const struct echo_options *opts,
		     char *err, size_t errsz);
/* Starts listening and accepting; returns 0 or -1 (logged). */
int echo_server_start(struct echo_server *srv);
/* Graceful stop: no new connections, in-flight requests finish, idle
 * connections close; the loop ends when none is left or at the drain timeout. */
void echo_server_stop(struct echo_server *srv);
void echo_server_release(struct echo_server *srv);

/* Connection life (echo_conn.c). */
void echo_conn_open(struct echo_server *srv, struct echo_conn *c, int fd);
void echo_conn_close(struct echo_conn *c);
/* 1 when the connection has no request in progress and nothing to send. */
int echo_conn_idle(const struct echo_conn *c);
/* Called by the server when it starts stopping. */
void echo_conn_on_stop(struct echo_conn *c);

#endif
