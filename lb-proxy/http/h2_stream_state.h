/* h2_stream_state: one HTTP/2 stream of a client connection (struct
 * h2_stream) and what the streams of a connection share (struct h2_peer), as
 * h2_stream.c (the request, the transport) and h2_response.c (the response)
 * see it. */
#ifndef LB_PROXY_H2_STREAM_STATE_H
#define LB_PROXY_H2_STREAM_STATE_H

#include <ev.h>
#include <nghttp2/nghttp2.h>
#include <stdint.h>
#include <sys/queue.h>

#include "buf.h"
#include "net/transport.h"
#include "proxy.h"

/* Response body bytes a stream holds for DATA frames before the session's
 * writes block: what a reader that keeps its window at zero can hold. */
#define H2_STREAM_OUT_LIMIT (64 * 1024)

struct session;

/* What the streams of one connection share (h2_conn.c owns it). */
struct h2_peer {
	nghttp2_session *ng;
	struct proxy *px;
	ev_io *kick;			/* fed EV_WRITE when frames wait to be sent */
	const char *client_ip;
	const struct proxy_listener *via;
	unsigned tls : 1;		/* the connection speaks TLS */
	const char *tls_version;	/* then its version ("1.3") */
	/* a session for a stream, counted as px's (accept.c), or NULL */
	struct session *(*take)(struct proxy *px);
	LIST_HEAD(, h2_stream) streams;	/* every stream with state here */
};

enum h2_resp_state {
	H2_RESP_HEAD = 0,	/* the response head is arriving */
	H2_RESP_LENGTH,		/* a Content-Length body: `remaining` bytes to come */
	H2_RESP_CHUNK_SIZE,	/* chunked: a chunk-size line */
	H2_RESP_CHUNK_EXT,	/* chunked: the rest of that line */
	H2_RESP_CHUNK_DATA,	/* chunked: `remaining` bytes of a chunk */
	H2_RESP_CHUNK_CRLF,	/* chunked: the CRLF after a chunk (`remaining` bytes) */
	H2_RESP_TRAILERS,	/* chunked: trailer lines, up to an empty one */
	H2_RESP_UNTIL_CLOSE,	/* a body delimited by the session's close */
	H2_RESP_DONE,		/* the whole response is in (data may wait for the window) */
};

struct h2_stream {
	struct h2_peer *peer;
	int32_t id;
	struct session *s;		/* the session of its exchange, or NULL (not yet, or gone) */
	/* the request, as the session reads it: [pos, len) not yet read */
	struct buf in;
	struct buf fields;		/* while HEADERS come: the regular fields as h1 lines */
	struct buf pseudo;		/* :method, :path, :authority, NUL after each */
	struct buf cookie;		/* cookie fields joined with "; " (RFC 9113 8.2.3) */
	size_t method_off, method_len, path_off, path_len, authority_off, authority_len;
	size_t header_bytes;		/* the decoded field section size so far (RFC 9113 6.5.2) */
	size_t unconsumed;		/* DATA bytes received, not yet given back as window */
	/* the response, as the session writes it */
	struct buf resp;		/* the head until it is whole, trailer lines after */
	struct buf data;		/* decoded body bytes for DATA frames */
	enum h2_resp_state rstate;
	uint64_t remaining;
	int refuse;			/* 431: the field section is over --max-header-size */
	unsigned is_head : 1;		/* HEAD: the response has no body */
	unsigned has_length : 1;	/* the request has Content-Length */
	unsigned has_authority : 1;
	unsigned chunked_req : 1;	/* the request body is framed chunked for the session */
	unsigned req_ended : 1;		/* END_STREAM from the client */
	unsigned want_read : 1;		/* the session waits for request bytes */
	unsigned write_blocked : 1;	/* a session's write was refused (EAGAIN) */
	unsigned closed : 1;		/* nghttp2 closed the stream: submit nothing */
	unsigned submitted : 1;		/* the response HEADERS were submitted */
	LIST_ENTRY(h2_stream) link;	/* in peer->streams */
	struct h2_stream *next_free;
};

#endif
