/* h2_stream: one HTTP/2 stream of a client connection as the transport of a
 * session (h2_stream_ops): the stream's HEADERS and DATA read as an HTTP/1.1
 * request, and the HTTP/1.1 response the session writes sent back as
 * HEADERS, DATA and trailers (h2_response.c). So a stream
 * is balanced, retried, queued, rewritten, logged and counted as an h1
 * request is, by the same code (exchange.c, forward.c). */
#ifndef LB_PROXY_H2_STREAM_H
#define LB_PROXY_H2_STREAM_H

#include "h2_stream_state.h"

extern const struct transport_ops h2_stream_ops;

/* A stream for `id` of peer's connection (from a pool; in peer->streams),
 * or NULL out of memory. */
struct h2_stream *h2_stream_new(struct h2_peer *peer, int32_t id);
/* One decoded field of the request's HEADERS (or of its trailers once the
 * head was read). Returns 0, or an nghttp2 error code to reset the stream. */
int h2_stream_field(struct h2_stream *st, const uint8_t *name, size_t nlen,
		    const uint8_t *value, size_t vlen);
/* The request's HEADERS are complete (end_stream: no body follows): its
 * head is written for the session. Returns 0, or -1 when the stream was
 * answered already (431) or cannot be had. */
int h2_stream_head_done(struct h2_stream *st, int end_stream);
/* A session takes the stream's request (or REFUSED_STREAM when none can be
 * had). Called outside nghttp2's callbacks: the session may answer and
 * close before this returns. */
void h2_stream_open(struct h2_stream *st);
/* DATA of the request; `len` bytes count against the windows until the
 * session reads them. */
void h2_stream_data(struct h2_stream *st, const uint8_t *data, size_t len);
/* END_STREAM from the client (after DATA, or trailers). */
void h2_stream_end(struct h2_stream *st);
/* An END_STREAM of ours was sent on st: a client still sending is told to
 * stop (RST_STREAM NO_ERROR, RFC 9113 8.1) once the session is gone. */
void h2_stream_sent_end(struct h2_stream *st);
/* nghttp2 closed the stream (any reason): its session, if any, closes; st
 * goes back to the pool. */
void h2_stream_close(struct h2_stream *st);
/* Frees the pooled streams (at exit). */
void h2_stream_pool_release(void);

#endif
