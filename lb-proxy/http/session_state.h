/* session_state: one client connection (struct session) and its request in
 * progress (struct exchange), as every http/ module that drives it sees it. */
#ifndef LB_PROXY_SESSION_STATE_H
#define LB_PROXY_SESSION_STATE_H

#include <ev.h>
#include <sys/queue.h>

#include "buf.h"
#include "http_parser.h"
#include "net/transport.h"
#include "policy/headers.h"
#include "policy/sticky.h"
#include "proxy.h"
#include "trace_state.h"
#include "upstream/backend.h"
#include "upstream/balance.h"
#include "upstream/upstream.h"

enum session_state {
	SESSION_IDLE = 0,	/* between requests: waiting for the first byte */
	SESSION_HANDSHAKE,	/* TLS: the handshake runs (handshake timeout runs) */
	SESSION_HEAD,		/* a request head is arriving (header timeout runs) */
	SESSION_CONNECT,	/* head complete; a backend connection is being made */
	SESSION_BACKOFF,	/* an attempt failed; the retry waits its backoff delay (timer) */
	SESSION_QUEUED,		/* every backend is at --max-per-backend; in px->queue (timer) */
	SESSION_EXCHANGE,	/* request and response are relayed */
	SESSION_TUNNEL,		/* after a 101: raw bytes both ways */
	SESSION_CLOSING,	/* a last answer is queued; close once written */
	SESSION_LINGER,		/* written and shut for writing; draining the client */
	SESSION_H2,		/* the client speaks HTTP/2: h2_conn.c drives the connection,
				 * each stream is a session of its own (h2_stream.c) */
};

struct mirror_copy;

/* The parsers of one request and its response, and everything else that
 * lives only as long as the request: taken from a pool at a request's first
 * byte, given back when the connection goes idle, so an idle connection
 * holds its struct session alone. */
struct exchange {
	struct http_msg req;
	/* The request's way to the backend and the response's back: its head
	 * rewritten for the backend (pos = written); the backend's bytes,
	 * uin[usend_off, uparse_off) parsed, not yet sent. Their storage goes
	 * back to the block cache with the exchange. */
	struct buf up_head;
	struct buf uin;
	size_t uparse_off, usend_off;
	size_t body_start;		/* where the body starts in the session's `in` */
	int retries;
	const char *refusal;		/* why the proxy refused the request (static), or NULL */
	const char *sticky_insert;	/* the sticky cookie value the response sets, or NULL */
	double started;			/* request head complete, monotonic */
	unsigned long long bytes_out;	/* body bytes sent to the client */
	unsigned long long body_bytes;	/* request body bytes parsed (with --max-body) */
	char request_id[HEADERS_REQUEST_ID_MAX + 1];
	size_t request_id_len;
	char target[256];		/* method and path, for the access log */
	struct cors_request cors;	/* the request under px->cors (cors_classify) */
	/* The storage of the session's `out` while the exchange is pooled:
	 * lent to the session with the exchange (no malloc per request), so
	 * an idle connection keeps no response head buffer. */
	struct buf out_store;
	struct http_route route;	/* where req goes (http_request_route) */
	struct balance_request pick;	/* the request's key and the backends it tried */
	const char *tried_why[BALANCE_MAX_TRIED];	/* why each tried one failed */
	struct http_msg resp;
	TAILQ_ENTRY(exchange) queue_link;	/* in px->queue while SESSION_QUEUED */
	struct session *queued_session;	/* the session it belongs to, while queued */
	double queued_at;		/* ev_now when it joined the queue */
	unsigned queue_woken : 1;	/* a slot freed for it: its timer event was fed */
	struct trace_exchange trace;	/* its trace context and spans (trace.c) */
	struct exchange *next;		/* in the pool */
	/* Where it goes: the proxy's own service (px->set and px->balancer),
	 * or the routed service its route picked (http/routing.h). */
	struct backend_set *set;
	struct balancer *balancer;
	struct service *svc;		/* the routed service (a reference), or NULL */
	struct route_snapshot *routes;	/* the route table it matched (a reference), or NULL */
	const struct route_rule *rule;	/* the rule that matched, or NULL */
	struct buf rewritten;		/* a URLRewrite's target (kept with the exchange) */
	size_t rewrite_len;		/* its length; 0: no rewrite */
	/* A gRPC request over HTTP/2 (grpc_call.c): the proxy's answers are
	 * gRPC statuses; its deadline (monotonic, from grpc-timeout; 0: none). */
	unsigned grpc : 1;
	double grpc_deadline;
	struct mirror_copy *mirrors;	/* RequestMirror copies collecting its body (mirror.c) */
	/* a cookie split (lb.dev/split-key cookie:NAME) picked for a client
	 * without a valid cookie: the response sets split_cookie=split_value
	 * (both point into the route table and service it holds), else NULL */
	const char *split_cookie;
	const char *split_value;
};

struct session {
	struct proxy *px;
	const struct proxy_listener *via;	/* the listener that accepted it */
	struct transport tr;		/* the client connection */
	enum session_state state;
	ev_io rio, wio;
	ev_timer timer;			/* meaning depends on the state */
	char client_ip[48];

	/* client -> backend: in[send_off, parse_off) is parsed, not yet sent
	 * (the request's body starts at x->body_start) */
	struct buf in;
	size_t parse_off, send_off;
	/* NULL while idle: the request's state, with the rewritten head for
	 * the backend (x->up_head) and the backend's bytes (x->uin) */
	struct exchange *x;
	struct upstream *up;
	struct backend *be;		/* holds a reference while set */
	struct buf out;			/* heads and the proxy's own answers; pos = written */

	unsigned req_done : 1;		/* the whole request was parsed */
	unsigned req_sent_any : 1;	/* a request byte went to the backend */
	unsigned replayable : 1;	/* the whole request is still in `in` */
	unsigned resp_started : 1;	/* a response byte came from the backend */
	unsigned resp_head_done : 1;
	unsigned resp_done : 1;
	unsigned dechunk : 1;		/* decode a chunked response for an HTTP/1.0 client */
	unsigned keep_alive : 1;	/* the client connection survives this exchange */
	unsigned client_eof : 1;
	unsigned client_blocked : 1;	/* a write to the client would block */
	unsigned up_blocked : 1;	/* a write to the backend would block */
	unsigned tunnel_wanted : 1;	/* the request asks for an Upgrade */
	unsigned resp_timer : 1;	/* the response timeout runs (request all sent) */
	unsigned again : 1;		/* pump must run another round (an answer was queued) */
	unsigned linger : 1;		/* drain the client before closing (it may still send) */
	unsigned timer_dirty : 1;	/* timer.repeat changed: re-arm at the end of pump */
	unsigned in_flight : 1;		/* counted in px->requests_in_flight */
	unsigned queued : 1;		/* its exchange is in px->queue */
	unsigned from_queue : 1;	/* picks for a slot it was woken for (forward_dequeue) */
	unsigned resp_interim : 1;	/* a 1xx of this attempt went to the client */
	unsigned served : 1;		/* answered a request: idle now means between requests */
	int method;			/* the request's llhttp method, -1 before its head */
	int status;			/* sent to the client */
	double idle_since;		/* ev_now when it last went idle between requests */
	void *h2;			/* SESSION_H2: the connection's HTTP/2 state */
	LIST_ENTRY(session) link;	/* in px->sessions */
	struct session *next_free;	/* in px->free_sessions */
};

/* Records the session's next deadline; applied once per pump pass, as a
 * request may change it three times in one pass. */
static inline void session_set_timer(struct session *s, double seconds)
{
	s->timer.repeat = seconds;
	s->timer_dirty = 1;
}

/* While the request is sent, the idle timeout runs; once it is all sent,
 * the response timeout (exchange_step). A backend connection is ready. */
static inline void session_exchange_start(struct session *s)
{
	s->state = SESSION_EXCHANGE;
	session_set_timer(s, s->px->opts->idle_timeout);
}

/* What the header rewriting (headers.h) needs of s; points into s. */
static inline struct headers_ctx session_headers_ctx(const struct session *s)
{
	struct headers_ctx ctx = {
		.client_ip = s->client_ip,
		.request_id = s->x ? s->x->request_id : "",
		.request_id_len = s->x ? s->x->request_id_len : 0,
		.backend_name = s->be ? s->be->name : "localhost",
		.tunnel = s->tunnel_wanted,
		.tls = s->tr.ssl != NULL || s->tr.over_tls,
		.sticky_cookie = sticky_cookie(),
		.sticky_insert = s->x ? s->x->sticky_insert : NULL,
		.rules = &s->px->header_rules,
		.cors = &s->px->cors,
		/* no request head yet (a 400 to a bad one): no Origin to answer */
		.cors_req = s->method >= 0 && s->x ? &s->x->cors : NULL,
		.trace_fields = s->x ? s->x->trace.fields : NULL,
		.trace_fields_len = s->x ? s->x->trace.fields_len : 0,
	};
	return ctx;
}

/* The backends the exchange of s goes to: its routed service's, or the
 * proxy's own. */
static inline struct backend_set *session_backends(struct session *s)
{
	return s->x && s->x->set ? s->x->set : &s->px->set;
}

static inline struct balancer *session_balancer(struct session *s)
{
	return s->x && s->x->balancer ? s->x->balancer : &s->px->balancer;
}

#endif
