/* http_response: writes HTTP/1.1 response heads into a buf, without printf on the hot path. */
#ifndef LB_HTTP_RESPONSE_H
#define LB_HTTP_RESPONSE_H

#include <stddef.h>

#include "buf.h"

/* The reason phrase of a status ("Not Found"), "" for a code it does not know. */
const char *http_reason(int status);
/* Appends "HTTP/1.1 STATUS REASON\r\nDate: ...\r\n"; returns 0 or -1. */
int http_response_begin(struct buf *out, int status);
/* Appends "Name: value\r\n". */
int http_response_header(struct buf *out, const char *name, const char *value, size_t vlen);
/* Appends Content-Type (unless NULL), Content-Length and Connection
 * (keep-alive or close), then the blank line. */
int http_response_end(struct buf *out, const char *content_type, size_t content_length,
		      int keep_alive);
/* A whole response with `body`. */
int http_response_simple(struct buf *out, int status, const char *content_type, const char *body,
			 size_t len, int keep_alive);
/* Appends the decimal digits of v. */
int http_append_uint(struct buf *out, unsigned long long v);

#endif
