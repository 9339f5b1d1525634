/* h2_request: the HTTP/1.1 request a session writes on an HTTP/2 stream to a
 * backend (h2_upstream.c's writev), sent as frames (RFC 9113 8.1, 8.2.2,
 * 8.3.1): the head as HEADERS (:method, :scheme, :authority from Host,
 * :path, the fields lower-cased, the connection's own dropped, `te:
 * trailers` kept), the body decoded (Content-Length or chunked) into DATA
 * frames through a data provider, chunked trailers as a trailing HEADERS. */
#ifndef LB_PROXY_H2_REQUEST_H
#define LB_PROXY_H2_REQUEST_H

#include <stddef.h>

#include "h2_pool_state.h"

/* Takes n request bytes (any split) the session wrote on st: the head is
 * submitted once whole (st->id set), body bytes wait in st->rq_data for the
 * window. `tls`: the :scheme is https. Returns 0, or -1 when they are not
 * an HTTP/1.1 request nghttp2 takes (the caller fails the stream). */
int h2_request_feed(struct h2_ustream *st, const char *p, size_t n, int tls);
/* Frees what the module keeps between calls (at exit). */
void h2_request_release(void);

#endif
