/* http_parser: an incremental HTTP/1.x message parser over llhttp that keeps
 * the start line and headers as spans into the caller's buffer (no mallocs). */
#ifndef LB_HTTP_PARSER_H
#define LB_HTTP_PARSER_H

#include <llhttp.h>
#include <stddef.h>
#include <stdint.h>

#include "http_limits.h"

/* Offsets into the buffer the message is parsed from. */
struct http_span {
	uint32_t off;
	uint32_t len;
};

struct http_header {
	struct http_span name;
	struct http_span value;
};

enum http_msg_state {
	HTTP_MSG_HEAD = 0,	/* reading the start line and headers */
	HTTP_MSG_BODY,		/* head complete (fields valid), body bytes may follow */
	HTTP_MSG_DONE,		/* message complete; http_msg_next() to parse the next */
	HTTP_MSG_ERROR,		/* malformed or over a limit: error_status says the answer */
};

/* Body bytes as parsed (de-chunked); return 0, or an HTTP status (413 ...)
 * to stop parsing with that error. */
typedef int (*http_body_cb)(void *ctx, const char *at, size_t len);

struct http_msg {
	llhttp_t parser;
	enum http_msg_state state;
	const char *base;		/* the buffer spans refer to, set by feed */
	size_t head_start;		/* offset where this message began */
	size_t head_end;		/* offset just past the head (state >= BODY) */
	size_t head_limit;		/* bytes allowed for the head */
	struct http_span url;		/* request target (requests) */
	unsigned nheaders;
	int error_status;		/* 400, 413, 431, 501, 505 when state == HTTP_MSG_ERROR */
	const char *error_reason;	/* for logs and error answers */
	unsigned upgrade : 1;		/* the message switches protocols after its head */
	unsigned skip_body : 1;		/* set by the caller: response to HEAD */
	unsigned conn_close : 1;	/* Connection lists "close" */
	unsigned conn_keep_alive : 1;	/* Connection lists "keep-alive" */
	unsigned has_connection : 1;	/* a Connection field came (else no list to read) */
	unsigned conn_other : 1;	/* Connection lists more than "close" and "keep-alive" */
	unsigned framing_close : 1;	/* HTTP/1.0 with Transfer-Encoding: close after it (RFC 9112 6.1) */
	unsigned in_field : 1;
	unsigned in_value : 1;
	unsigned in_url : 1;
	unsigned method_pending : 1;	/* an unknown method token is being read (501 or 400) */
	unsigned value_to_feed_end : 1;	/* the last trailer value span ran to the end of its feed */
	unsigned feed_ended_line : 1;	/* the last feed ended with a line break (and whitespace) */
	unsigned method_len;		/* bytes of that method so far */
	unsigned trailer_name_len;	/* bytes of the trailer field name being read */
	char trailer_name[20];		/* its first bytes, lower-cased */
	const char *feed_start, *feed_end;	/* the bytes of the current feed */
	http_body_cb on_body;
	void *ctx;
	/* last: http_msg_init clears what is before it, not these slots */
	struct http_header headers[HTTP_MAX_HEADERS];
};

/*
 * Prepares a parser of requests (HTTP_REQUEST) or responses (HTTP_RESPONSE).
 * `on_body` may be NULL: the body bytes are then only framed, so the caller
 * can forward the raw bytes it fed. Nothing to release.
 */
void http_msg_init(struct http_msg *m, llhttp_type_t type, size_t head_limit, http_body_cb on_body,
		   void *ctx);

/*
 * Parses bytes [off, off + len) of `base`. Feeds must be consecutive bytes
 * of the same buffer (it may be reallocated, not moved) while a message is
 * being parsed. Stops after the head (state becomes BODY), after the message
 * (DONE) or on error (ERROR); returns the bytes consumed, which is less than
 * len only in those cases.
 */
size_t http_msg_feed(struct http_msg *m, const char *base, size_t off, size_t len);
/* Starts the next message after DONE; its bytes may begin at `off`. */
void http_msg_next(struct http_msg *m, size_t off);

/* Index of the first header named `name` (case-insensitive), or -1. */
int http_msg_find(const struct http_msg *m, const char *name);
/* 1 when header `i` is named `name` (case-insensitive). */
int http_msg_header_is(const struct http_msg *m, unsigned i, const char *name);
/* A span as a pointer into the current base. */
static inline const char *http_msg_ptr(const struct http_msg *m, struct http_span s)
{
	return m->base + s.off;
}
/* 1 when the message (in state >= BODY) has a body to read. */
int http_msg_has_body(const struct http_msg *m);
/* 1 when the connection may carry another message after this one: HTTP/1.1
 * unless Connection lists close, HTTP/1.0 only if it lists keep-alive, never
 * after a close-delimited body or an HTTP/1.0 message with Transfer-Encoding. */
int http_msg_keep_alive(const struct http_msg *m);
/* 1 when a `field` header of m (in state >= BODY) lists `token` in its
 * comma-separated value (RFC 9110 5.6.1: OWS around elements, case-insensitive). */
int http_msg_lists(const struct http_msg *m, const char *field, const char *token, size_t tlen);
/*
 * Iterates the elements of a comma-separated list in [*p, end): returns 1 with
 * [*tok, *tok + *tlen) the next non-empty element, whitespace trimmed, and *p
 * moved past it; 0 when none is left.
 */
int http_list_next(const char **p, const char *end, const char **tok, size_t *tlen);
/* 1 when c is an RFC 9110 token character (5.6.2 tchar). */
int http_is_tchar(unsigned char c);
/* 1 when [s, s + n) is an RFC 9110 token: a field name, a method, a cookie
 * name; 0 when empty or any byte is not a tchar (a CR, LF, space, quote ...). */
int http_token_valid(const char *s, size_t n);
static inline int http_msg_method(const struct http_msg *m) { return m->parser.method; }
static inline int http_msg_minor(const struct http_msg *m) { return m->parser.http_minor; }
static inline int http_msg_status(const struct http_msg *m) { return m->parser.status_code; }
static inline int http_msg_chunked(const struct http_msg *m)
{
	return (m->parser.flags & F_CHUNKED) != 0;
}

#endif
