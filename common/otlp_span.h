/* otlp_span: one span written as OTLP/HTTP JSON straight into an export
 * body while it is filled (no record in between: its text is read once, and
 * the bytes land where they are sent from). The attribute keys and event
 * names are static strings; attribute text is cut to a per-span budget, so
 * a span's JSON has a fixed bound and a body reserved for it never grows
 * mid-span. */
#ifndef LB_OTLP_SPAN_H
#define LB_OTLP_SPAN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "buf.h"

#define OTLP_SPAN_ATTRS_MAX 16
#define OTLP_SPAN_EVENTS_MAX 6
#define OTLP_SPAN_TEXT_MAX 1024		/* attribute text of one span, in all */
#define OTLP_SPAN_NAME_MAX 48
#define OTLP_SPAN_KEY_MAX 64		/* an attribute key or an event name, bytes */
/* The most bytes one span takes in JSON: the head (ids, name escaped,
 * times), each attribute's key and value framing, the text escaped (6 bytes
 * out per byte in at most), the events, the status. */
#define OTLP_SPAN_JSON_MAX                                                   \
	(256 + 6 * OTLP_SPAN_NAME_MAX +                                      \
	 OTLP_SPAN_ATTRS_MAX * (OTLP_SPAN_KEY_MAX + 64) + 6 * OTLP_SPAN_TEXT_MAX + \
	 OTLP_SPAN_EVENTS_MAX * (6 * OTLP_SPAN_KEY_MAX + 64) + 64)

/* The OTLP enums, as their integers in OTLP/JSON (trace.proto). */
enum otlp_span_kind {
	OTLP_KIND_UNSPECIFIED = 0,
	OTLP_KIND_INTERNAL = 1,
	OTLP_KIND_SERVER = 2,	/* lb-proxy's span of a client's request */
	OTLP_KIND_CLIENT = 3,	/* lb-proxy's span of one attempt on a backend */
};

enum otlp_status {
	OTLP_STATUS_UNSET = 0,	/* no error (HTTP semantic conventions: never "Ok") */
	OTLP_STATUS_OK = 1,
	OTLP_STATUS_ERROR = 2,	/* 5xx (SERVER), 4xx/5xx or no response (CLIENT) */
};

struct otlp_event {
	const char *name;	/* static */
	uint64_t time_ns;	/* Unix nanoseconds */
};

/*
 * A span being written. Rules:
 * - otlp_span_open() starts it in a body; the ids, kind, name and times are
 *   set before the first attribute (the JSON's head is written then), the
 *   status and the events any time before otlp_span_close().
 * - Until otlp_span_close() the body's `len` is unchanged: a span opened and
 *   never closed leaves nothing behind (the next open writes over it).
 * - One span at a time per body.
 */
struct otlp_span {
	uint8_t trace_id[16];
	uint8_t span_id[8];
	uint8_t parent_id[8];
	uint64_t start_ns, end_ns;	/* Unix nanoseconds */
	uint8_t has_parent;
	uint8_t kind;			/* enum otlp_span_kind */
	uint8_t status;			/* enum otlp_status */
	uint8_t nattrs, nevents;
	uint8_t first;			/* the body's first span: no comma before it */
	uint8_t name_len;
	uint16_t text_len;		/* attribute text so far (the budget's use) */
	char name[OTLP_SPAN_NAME_MAX];	/* valid UTF-8: otlp_span_name repairs it */
	struct otlp_event events[OTLP_SPAN_EVENTS_MAX];
	struct buf *out;		/* the body written into */
	char *p;			/* the next byte's place; NULL until the head is written */
};

/* Starts a span at the end of `out` (its room for OTLP_SPAN_JSON_MAX bytes
 * reserved now), `first` 1 for the body's first span. Returns 0, or -1 when
 * the room cannot be had (nothing written). */
int otlp_span_open(struct otlp_span *sp, struct buf *out, int first);
/* Writes the rest of the span (its head too, if no attribute came) and adds
 * it to the body's `len`. */
void otlp_span_close(struct otlp_span *sp);
/* Sets the name (cut to OTLP_SPAN_NAME_MAX - 1 bytes). */
void otlp_span_name(struct otlp_span *sp, const char *name, size_t n);
/* Adds a string attribute: `v` (n bytes, from anyone: bytes that are not
 * UTF-8 become '?'), cut to the text budget left. Returns 0, or -1 when the
 * attribute table is full (nothing added). `key` is a string literal of at
 * most OTLP_SPAN_KEY_MAX bytes: its JSON framing is one literal the
 * compiler joins, copied at once. */
#define OTLP_SPAN_KEY(key, value_type)                                        \
	(sizeof(struct { _Static_assert(sizeof(key) <= OTLP_SPAN_KEY_MAX + 1,  \
					"an attribute key is at most OTLP_SPAN_KEY_MAX bytes"); \
			 int x; }) ? ",{\"key\":\"" key "\",\"value\":{\"" value_type "\":\"" : ""), \
	(sizeof(",{\"key\":\"" key "\",\"value\":{\"" value_type "\":\"") - 1)
#define otlp_span_str(sp, key, v, n) \
	otlp_span_add_str((sp), OTLP_SPAN_KEY(key, "stringValue"), (v), (n))
/* The same for a value in n pieces, joined (no allocation). */
#define otlp_span_strv(sp, key, parts, n) \
	otlp_span_add_strv((sp), OTLP_SPAN_KEY(key, "stringValue"), (parts), (n))
#define otlp_span_int(sp, key, v) otlp_span_add_int((sp), OTLP_SPAN_KEY(key, "intValue"), (v))
/* The functions behind the macros: `frame` is the attribute's JSON up to its
 * value, comma first. */
int otlp_span_add_str(struct otlp_span *sp, const char *frame, size_t frame_len, const char *v,
		      size_t n);
int otlp_span_add_strv(struct otlp_span *sp, const char *frame, size_t frame_len,
		       const struct iovec *parts, size_t n);
int otlp_span_add_int(struct otlp_span *sp, const char *frame, size_t frame_len, long long v);
/* Adds an event (its name cut to OTLP_SPAN_KEY_MAX bytes); -1 when the
 * table is full. */
int otlp_span_event(struct otlp_span *sp, const char *name, uint64_t time_ns);
/* Without `repair`: the length of the longest prefix of s[0, n) that is
 * UTF-8. With it (n bytes of room): copies s there, each byte that is not
 * part of a UTF-8 character written as '?', and returns n. */
size_t otlp_utf8_copy(const char *s, size_t n, char *repair);

#endif
