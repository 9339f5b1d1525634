/* log_buffer: log lines gathered in one bounded buffer and written once per
 * loop pass, or once per flush interval while they keep coming, never
 * blocking the loop (a slow pipe, a full disk). */
#ifndef LB_LOG_BUFFER_H
#define LB_LOG_BUFFER_H

#include <stddef.h>

#include <ev.h>

/* Bytes of lines that may wait to be written; a line that does not fit is
 * dropped and counted (the reader is gone or far behind). */
#define LOG_BUFFER_LIMIT (1u << 20)
/* Bytes waiting that make a line written at once, not at the pass's end. */
#define LOG_BUFFER_CHUNK (32u << 10)
/* Seconds log_buffer_stop waits for a slow reader at exit. */
#define LOG_BUFFER_EXIT_WAIT 1.0

/*
 * From now on every log_write line goes into the buffer, written to fd (a
 * non-blocking handle of its own: a pipe or terminal is opened again with
 * O_NONBLOCK, a socket is sent to with MSG_DONTWAIT, a file is written as
 * is) before each poll of loop, or when LOG_BUFFER_CHUNK bytes wait, or when
 * fd can take more after a short write. With an interval set
 * (log_buffer_set_interval), requests' lines (log.h) wait until the interval
 * has passed since the last write: one after a quiet spell goes out at the
 * end of its pass, those that keep coming once per interval (two at most
 * when the loop goes quiet); any other line goes out at the end of its
 * pass, with those waiting before it. Writes to a pipe are whole lines of
 * at most PIPE_BUF bytes, so they never interleave with another writer's.
 * Returns 0, or -1 with err filled (nothing changed: lines go on being
 * written one at a time).
 */
int log_buffer_start(struct ev_loop *loop, int fd, char *err, size_t errsz);

/* Writes what waits for at most `wait` seconds (poll: the loop is over),
 * counts what is left as dropped, and goes back to one write per line. */
void log_buffer_stop(double wait);

/* Seconds between writes while requests' lines keep coming (0: every pass). */
void log_buffer_set_interval(double seconds);

/* Lines dropped since start: the buffer was full. */
unsigned long long log_buffer_dropped(void);

#endif
