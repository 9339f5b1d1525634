/* h2_pool_state: an HTTP/2 connection to a backend (struct h2_uconn) and
 * one stream of it as a session's backend transport (struct h2_ustream), as
 * h2_pool.c (the connections), h2_upstream.c (a stream) and h2_request.c
 * (its request as frames) see them. */
#ifndef LB_PROXY_H2_POOL_STATE_H
#define LB_PROXY_H2_POOL_STATE_H

#include <ev.h>
#include <nghttp2/nghttp2.h>
#include <stdint.h>
#include <sys/queue.h>

#include "buf.h"
#include "upstream.h"

/* Request body bytes a stream holds for DATA frames before the session's
 * writes block, and response bytes it holds for the session to read before
 * its window stays shut (the stream's SETTINGS_INITIAL_WINDOW_SIZE). */
#define H2_UP_STREAM_LIMIT (64 * 1024)

enum h2_uconn_state {
	H2_UCONN_CONNECTING = 0,	/* the TCP connect (and TLS handshake) runs */
	H2_UCONN_READY,			/* takes new streams */
	H2_UCONN_DRAINING,		/* a GOAWAY came (or the backend left): its streams
					 * finish, new ones go to another connection */
	H2_UCONN_DEAD,			/* failed or closed: freed once nothing runs in it */
};

struct h2_ustream;

/* One connection to a backend (h2_pool.c owns it). */
struct h2_uconn {
	nghttp2_session *ng;
	struct transport tr;		/* plain (h2c) or TLS with ALPN h2 */
	struct backend *be;		/* holds a reference */
	struct ev_loop *loop;
	ev_io rio, wio;
	ev_timer timer;			/* the connect timeout, then the idle one (no streams) */
	enum h2_uconn_state state;
	unsigned nstreams;		/* streams sessions hold */
	unsigned long long streams_total;	/* streams it carried */
	const uint8_t *pend;		/* frames nghttp2 gave that the socket did not take */
	size_t pend_len;
	unsigned settings_seen : 1;	/* the backend's SETTINGS came */
	/* a stream let go (h2_upstream.c calls it; h2_pool.c decides what
	 * the connection does next: idle, close) */
	void (*stream_gone)(struct h2_uconn *c);
	LIST_HEAD(, h2_ustream) streams;	/* the streams sessions hold */
	LIST_ENTRY(h2_uconn) link;	/* in its backend's list (h2_pool.c) */
};

enum h2_req_state {
	H2_REQ_HEAD = 0,	/* the request head is arriving */
	H2_REQ_LENGTH,		/* a Content-Length body: `remaining` bytes to come */
	H2_REQ_CHUNK_SIZE,	/* chunked: a chunk-size line */
	H2_REQ_CHUNK_EXT,	/* chunked: the rest of that line */
	H2_REQ_CHUNK_DATA,	/* chunked: `remaining` bytes of a chunk */
	H2_REQ_CHUNK_CRLF,	/* chunked: the CRLF after a chunk (`remaining` bytes) */
	H2_REQ_TRAILERS,	/* chunked: trailer lines, up to an empty one */
	H2_REQ_DONE,		/* the whole request is in (data may wait for the window) */
};

/* One stream: the session's s->up (its `u` comes first). */
struct h2_ustream {
	struct upstream u;		/* tr.fd -1, tr.stream this; u.detach set */
	struct h2_uconn *c;		/* NULL once its connection is gone */
	int32_t id;			/* 0 until the request's HEADERS were submitted */
	/* the request, as the session writes it */
	enum h2_req_state rq;
	uint64_t rq_remaining;
	struct buf rq_head;		/* the head until whole; then trailer lines */
	struct buf rq_data;		/* body bytes for DATA frames */
	/* the response, rendered as HTTP/1.1 for the session to read */
	struct buf rs;			/* [pos, len) not yet read */
	struct buf rs_fields;		/* the fields of a HEADERS being received */
	int status;			/* of the HEADERS being received (0: trailers) */
	size_t unconsumed;		/* DATA bytes received, not yet given back as window */
	uint32_t error_code;		/* RST_STREAM's or the connection's failure */
	unsigned is_head : 1;		/* a HEAD request: the response has no body */
	unsigned rs_final : 1;		/* the final response head was rendered */
	unsigned rs_chunked : 1;	/* its body is rendered chunked */
	unsigned rs_length : 1;		/* the HEADERS being received carry content-length */
	unsigned rs_ended : 1;		/* END_STREAM came: the response is whole */
	unsigned failed : 1;		/* reset, refused or its connection failed */
	unsigned refused : 1;		/* never processed (REFUSED_STREAM, above GOAWAY's id) */
	unsigned want_read : 1;		/* the session waits for response bytes */
	unsigned write_blocked : 1;	/* a session's write was refused (EAGAIN) */
	unsigned closed : 1;		/* nghttp2 closed the stream: submit nothing */
	unsigned connecting : 1;	/* hears when its connection is ready */
	LIST_ENTRY(h2_ustream) link;	/* in c->streams */
	struct h2_ustream *next_free;
};

#endif
