/* otlp_span: one finished span as the OTLP exporter keeps it: fixed-size,
 * so a queue of them is allocated once and a request never mallocs. The
 * attribute keys and event names are static strings; attribute text is
 * copied into the record's own arena (cut to fit, never overflowing). */
#ifndef LB_OTLP_SPAN_H
#define LB_OTLP_SPAN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define OTLP_SPAN_ATTRS_MAX 16
#define OTLP_SPAN_EVENTS_MAX 6
#define OTLP_SPAN_TEXT_MAX 1024		/* attribute text of one span, in all */
#define OTLP_SPAN_NAME_MAX 48

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

enum otlp_value_type {
	OTLP_VALUE_STRING = 0,	/* stringValue, in the record's text */
	OTLP_VALUE_INT,		/* intValue */
};

struct otlp_attr {
	const char *key;	/* static */
	uint8_t key_len;
	uint8_t plain;		/* OTLP_VALUE_STRING: printable ASCII, no byte JSON escapes */
	uint8_t type;		/* enum otlp_value_type */
	uint16_t off, len;	/* OTLP_VALUE_STRING: [off, off + len) of text */
	long long i;		/* OTLP_VALUE_INT */
};

struct otlp_event {
	const char *name;	/* static */
	uint64_t time_ns;	/* Unix nanoseconds */
};

/* What every span writes comes first, the tables after: a record is filled
 * once, from cold memory (the queue cycles through megabytes), and each
 * cache line it touches costs. */
struct otlp_span {
	uint8_t trace_id[16];
	uint8_t span_id[8];
	uint8_t parent_id[8];
	uint64_t start_ns, end_ns;	/* Unix nanoseconds */
	uint8_t has_parent;
	uint8_t kind;			/* enum otlp_span_kind */
	uint8_t status;			/* enum otlp_status */
	uint8_t nattrs, nevents;
	uint16_t text_len;
	char name[OTLP_SPAN_NAME_MAX];
	struct otlp_attr attrs[OTLP_SPAN_ATTRS_MAX];
	struct otlp_event events[OTLP_SPAN_EVENTS_MAX];
	char text[OTLP_SPAN_TEXT_MAX];	/* valid UTF-8: otlp_span_str repairs it */
};

/* Empties sp for a new span (ids, times and name are the caller's to set). */
void otlp_span_reset(struct otlp_span *sp);
/* Sets the name (cut to OTLP_SPAN_NAME_MAX - 1 bytes). */
void otlp_span_name(struct otlp_span *sp, const char *name, size_t n);
/* Adds a string attribute: `v` (n bytes, from anyone: bytes that are not
 * UTF-8 become '?'), cut to the text left. Returns 0, or -1 when the
 * attribute table is full (nothing added). `key` is a string literal (its
 * length known at compile time: no strlen per attribute). */
#define otlp_span_str(sp, key, v, n) otlp_span_add_str((sp), "" key, sizeof(key) - 1, (v), (n))
/* The same for a value in n pieces, joined (no allocation). */
#define otlp_span_strv(sp, key, parts, n) \
	otlp_span_add_strv((sp), "" key, sizeof(key) - 1, (parts), (n))
#define otlp_span_int(sp, key, v) otlp_span_add_int((sp), "" key, sizeof(key) - 1, (v))
int otlp_span_add_str(struct otlp_span *sp, const char *key, size_t key_len, const char *v,
		      size_t n);
int otlp_span_add_strv(struct otlp_span *sp, const char *key, size_t key_len,
		       const struct iovec *parts, size_t n);
int otlp_span_add_int(struct otlp_span *sp, const char *key, size_t key_len, long long v);
/* Adds an event; -1 when the table is full. */
int otlp_span_event(struct otlp_span *sp, const char *name, uint64_t time_ns);
/* Without `repair`: the length of the longest prefix of s[0, n) that is
 * UTF-8. With it (n bytes of room): copies s there, each byte that is not
 * part of a UTF-8 character written as '?', and returns n. */
size_t otlp_utf8_copy(const char *s, size_t n, char *repair);

#endif
