/* tcp_session_state: a TCP-mode connection's state, shared by tcp_session
 * (its life) and tcp_relay (its bytes) without either including the other. */
#ifndef LB_PROXY_TCP_SESSION_STATE_H
#define LB_PROXY_TCP_SESSION_STATE_H

#include <ev.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "buf.h"
#include "proxy_v2.h"
#include "tcp.h"
#include "tls_clienthello.h"

enum tcp_session_state {
	TCP_SESSION_FREE = 0,	/* in the pool, no connection */
	TCP_SESSION_HELLO,	/* reading the client's ClientHello (--tcp-inspect-sni) */
	TCP_SESSION_CONNECT,	/* a connect to a backend is in progress */
	TCP_SESSION_RELAY,	/* bytes flow both ways (tcp_relay.c) */
};

/* One direction of the relay. `buf` holds what was read from the source and
 * not yet written to the destination: at most BUF_CACHE_BLOCK bytes (a
 * block of common/buf.h's cache), so a slow reader stops the writer. */
struct tcp_dir {
	struct buf buf;
	unsigned eof : 1;		/* the source sent its FIN (or failed) */
	unsigned shut : 1;		/* the destination was shut for writing */
	unsigned long long bytes;	/* read from the source */
};

struct tcp_session {
	struct tcp_proxy *tp;
	enum tcp_session_state state;
	int cfd, bfd;			/* client and backend sockets (-1: none) */
	ev_io crio, cwio, brio, bwio;	/* read and write watchers of each */
	ev_timer timer;			/* hello, connect, idle deadline, by state */
	struct tcp_dir up;		/* client to backend (the ClientHello read first) */
	struct tcp_dir down;		/* backend to client */
	struct tcp_pool pool;		/* where the route sent it */
	void *held;			/* given at accept, released at its end (tp->release) */
	int inspect_sni;		/* read the ClientHello before routing */
	unsigned port;			/* the local port it came to (0: not told) */
	struct backend *be;		/* the backend of the attempt (a reference) */
	struct balance_request pick;	/* the tried list of the retries */
	double started, attempt_started, last_active;
	struct sockaddr_storage peer;
	char client[64];		/* the peer as "ADDR:PORT" */
	char sni[TLS_SNI_MAX + 1];	/* the ClientHello's server name, or "" */
	enum tcp_sni_result sni_result;
	unsigned char pp2[PROXY_V2_MAX];	/* the PROXY v2 header, sent before up.buf */
	unsigned pp2_len, pp2_off;
	const char *end;		/* why it ended, for the log line */
	LIST_ENTRY(tcp_session) link;	/* in tp->sessions */
	struct tcp_session *next_free;	/* in tp->free_sessions */
};

#endif
