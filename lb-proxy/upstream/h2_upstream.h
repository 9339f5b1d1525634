/* h2_upstream: one HTTP/2 stream to a backend as a session's backend
 * transport (its s->up): the session writes an HTTP/1.1 request
 * (h2_request.c sends it as frames) and reads the response rendered back as
 * HTTP/1.1 (RFC 9113 8.1: the status line, the fields, the body chunked
 * unless content-length framed it, the trailers as chunked trailers), so
 * retries, the outcome hook, metrics and the access log apply unchanged.
 * h2_pool.c owns the connection and calls the functions below from its
 * nghttp2 callbacks. */
#ifndef LB_PROXY_H2_UPSTREAM_H
#define LB_PROXY_H2_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "h2_pool_state.h"

extern const struct transport_ops h2_upstream_ops;

/* A stream of c for a session (from a free list; holds a reference to c's
 * backend): its u.connect_error is EINPROGRESS while c connects, else 0.
 * Given back by u.detach (upstream_close, upstream_pool_put). NULL when out
 * of memory. */
struct h2_ustream *h2_upstream_new(struct h2_uconn *c);
/* c connected (err 0) or failed to (err): the stream's session hears it on
 * u.wio, as a socket's connect would signal. */
void h2_upstream_ready(struct h2_ustream *st, int err);
/* A HEADERS block begins, one field of it, and its end (end_stream: the
 * response ends with it). Return 0, or an nghttp2 error (the stream fails). */
void h2_upstream_begin_headers(struct h2_ustream *st);
int h2_upstream_header(struct h2_ustream *st, const uint8_t *name, size_t nlen,
		       const uint8_t *value, size_t vlen);
int h2_upstream_headers_end(struct h2_ustream *st, int end_stream);
/* DATA bytes of the response, and END_STREAM on a DATA frame. */
void h2_upstream_data(struct h2_ustream *st, const uint8_t *data, size_t len);
void h2_upstream_end(struct h2_ustream *st);
/* nghttp2 closed the stream (error_code: RST_STREAM's, or REFUSED_STREAM
 * for one above a GOAWAY's last stream id). */
void h2_upstream_closed(struct h2_ustream *st, uint32_t error_code);
/* The connection is gone (c was taken off the stream): a response not
 * whole fails. */
void h2_upstream_lost(struct h2_ustream *st, int err);
/* Frees the streams kept for reuse (at exit). */
void h2_upstream_release(void);

#endif
