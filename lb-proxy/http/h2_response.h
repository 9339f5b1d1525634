/* h2_response: the HTTP/1.1 response a stream's session writes (h2_stream.c's
 * writev), sent as HTTP/2 frames (RFC 9113 8.1, 8.2.2): the head as HEADERS
 * (:status, the fields lower-cased, the connection's own dropped,
 * Content-Length kept), 1xx heads as HEADERS before it, the body decoded
 * (Content-Length, chunked, or to the session's close) into DATA frames
 * through a data provider, chunked trailers as a trailing HEADERS. */
#ifndef LB_PROXY_H2_RESPONSE_H
#define LB_PROXY_H2_RESPONSE_H

#include <stddef.h>

#include "h2_stream_state.h"

/* Takes n response bytes (any split) the session wrote on st: the head is
 * submitted once whole, body bytes wait in st->data for the window.
 * Returns 0, or -1 when they are not an HTTP/1.1 response (the caller
 * resets the stream). */
int h2_response_feed(struct h2_stream *st, const char *p, size_t n);
/* The session closed (or shut its side) on a body delimited by its close
 * (H2_RESP_UNTIL_CLOSE): the body ends there, END_STREAM follows it. */
void h2_response_end(struct h2_stream *st);
/* Frees what the module keeps between calls (at exit). */
void h2_response_release(void);

#endif
