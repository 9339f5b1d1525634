/* log: one line per event on stderr, as text or JSON, with levels. */
#ifndef LB_LOG_H
#define LB_LOG_H

#include <stddef.h>

enum log_level {
	LOG_DEBUG = 0,	/* detail for developers */
	LOG_INFO,	/* normal events: start, stop, requests */
	LOG_WARN,	/* something is off but service goes on */
	LOG_ERROR,	/* an operation failed */
};

enum log_format {
	LOG_FORMAT_TEXT = 0,	/* [component] 2026-11-21T10:30:00.123Z INFO msg k=v */
	LOG_FORMAT_JSON,	/* {"ts":..,"level":..,"component":..,"msg":..,"k":"v"} */
};

/* Sets the component name (not copied: a string that outlives its use;
 * NULL keeps the current one), level, format. */
void log_setup(const char *component, enum log_level level, enum log_format format);
/* Parses "debug"/"info"/"warn"/"error"; returns the level or -1. */
int log_level_parse(const char *s);
/* Parses "text"/"json"; returns the format or -1. */
int log_format_parse(const char *s);
int log_enabled(enum log_level level);

/*
 * Writes one line. `msg` is free text. `kv` is a printf format producing
 * space-separated key=value tokens (values without spaces, or key="value"
 * with spaces; may be NULL). In JSON mode each token becomes a field: an
 * unquoted value spelled as a JSON number (42, -1, 0.412, 1e-05; at most 15
 * integer digits) is a number, anything else a string; a quoted value is
 * always a string (quote values a client chooses, so their type is stable).
 * Returns 0 (written, handed to the sink, or below the level), or -1 when
 * the sink dropped the line.
 */
int log_write(enum log_level level, const char *msg, const char *kv, ...)
	__attribute__((format(printf, 3, 4)));

/* The longest key=value text of a line; past it the fields are cut. */
#define LOG_KV_MAX 768

/* log_write with the key=value text already made (kv[0..kvlen), not
 * NUL-terminated; cut at LOG_KV_MAX - 1): for a line written per request,
 * whose fields are cheaper appended than printed. */
int log_write_fields(enum log_level level, const char *msg, const char *kv, size_t kvlen);
/* The same for a request's line (the access log's): the sink may hold it
 * with the others of its kind for a flush interval (log_buffer.h), where
 * any other line is written at the end of its loop pass. */
int log_write_request_fields(enum log_level level, const char *msg, const char *kv,
			     size_t kvlen);

/*
 * A text line built in place, for a line written per request (one copy, into
 * the sink, and no second pass to find and escape quoted values):
 * log_text_prefix writes "[component] TS LEVEL msg " into out (at least
 * LOG_PREFIX_MAX bytes) and returns its length, or 0 when lines are JSON or
 * the level is off (then make the fields and call log_write_fields); the
 * caller appends key=value fields, each quoted value escaped with
 * log_escape_text (or known to need none), and '\n', and hands the line to
 * log_write_line, which returns as log_write does. Such a line is a
 * request's: the sink may hold it as log_write_request_fields's.
 */
#define LOG_PREFIX_MAX 128
size_t log_text_prefix(enum log_level level, const char *msg, char *out);
int log_write_line(const char *line, size_t len);
/* s[0..n) escaped as the text line escapes a quoted value (\\ \" \n \r \t
 * \xHH) into out, at most `room` bytes (cut before an escape that does not
 * fit); returns the bytes written. */
size_t log_escape_text(char *out, size_t room, const char *s, size_t n);

/*
 * Where lines go instead of stderr: the sink gets each whole line (its
 * newline included; the bytes are only valid during the call), and whether
 * it is a request's (log_write_line, log_write_request_fields: it may wait
 * longer than an event's), and returns 0, or -1 when it dropped it. NULL
 * (the default) writes each line to stderr at once. A program whose loop
 * must never block installs one (log_buffer.h).
 */
typedef int (*log_sink_fn)(const char *line, size_t len, int request);
void log_set_sink(log_sink_fn sink);

/*
 * At most one line per `interval` seconds for one kind of event (an error
 * that can repeat thousands of times a second). log_every() returns 0 when
 * the event must not be logged now (it is counted), else the number of
 * events since the last line, this one included.
 */
struct log_limit {
	double next;			/* when the next line may be written */
	unsigned long count;		/* events not yet reported */
};
unsigned long log_every(struct log_limit *l, double now, double interval);

/* `s` as a message may show it: quotes, backslashes and control bytes escaped
 * as the text log escapes quoted values (a flag's value with a CR LF in it).
 * Writes into out (truncated to outsz) and returns it. Not for a hot path. */
const char *log_printable(const char *s, char *out, size_t outsz);

#define log_debug(...) do { if (log_enabled(LOG_DEBUG)) log_write(LOG_DEBUG, __VA_ARGS__); } while (0)
#define log_info(...) log_write(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_write(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_write(LOG_ERROR, __VA_ARGS__)

#endif
