/* log_buffer: log lines written once per loop pass, never blocking it (see
 * log_buffer.h). */
#include "log_buffer.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "timefmt.h"

enum log_out_kind {
	LOG_OUT_FILE = 0,	/* a regular file: a write never waits for a reader */
	LOG_OUT_PIPE,		/* a pipe, FIFO or terminal, on a non-blocking handle */
	LOG_OUT_SOCKET,		/* a socket (journald's stream): sent with MSG_DONTWAIT */
};

/* One per process, as log.c's settings are: the programs are single-threaded. */
static struct {
	struct ev_loop *loop;
	ev_prepare flush;	/* before each poll: write what the pass logged */
	ev_timer due;		/* active while lines wait for the flush interval */
	ev_io writable;		/* active while fd took less than was waiting */
	double interval;	/* seconds between writes while lines keep coming */
	ev_tstamp written_at;	/* ev_now of the last write */
	int event;		/* a line not a request's waits: write at the pass's end */
	int fd;			/* where lines go */
	int own_fd;		/* fd was opened here, closed at stop */
	enum log_out_kind kind;
	char *data;		/* LOG_BUFFER_LIMIT bytes; waiting lines in [start, end) */
	size_t start, end;
	unsigned long long dropped;
	int on;
} out;

static unsigned long long count_lines(const char *p, size_t n)
{
	unsigned long long lines = 0;

	for (const char *nl; n && (nl = memchr(p, '\n', n)); n -= (size_t)(nl + 1 - p), p = nl + 1)
		lines++;
	return lines + (n > 0);
}

/* The longest run of whole lines in p[0..n) of at most PIPE_BUF bytes (a
 * write a pipe takes whole or not at all); a longer lone line whole. */
static size_t whole_lines(const char *p, size_t n)
{
	const char *nl;

	if (n <= PIPE_BUF)
		return n;
	for (size_t i = PIPE_BUF; i > 0; i--)
		if (p[i - 1] == '\n')
			return i;
	nl = memchr(p, '\n', n);
	return nl ? (size_t)(nl + 1 - p) : n;
}

/* Writes waiting lines until none is left or fd would block. Returns 0 when
 * none is left, 1 when some wait for fd to take more. Lines fd refuses (the
 * disk is full, the reader gone) are dropped and counted. */
static int flush_some(void)
{
	while (out.start < out.end) {
		size_t n = out.end - out.start;
		ssize_t w;

		if (out.kind == LOG_OUT_PIPE)
			n = whole_lines(out.data + out.start, n);
		if (out.kind == LOG_OUT_SOCKET)
			w = send(out.fd, out.data + out.start, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		else
			w = write(out.fd, out.data + out.start, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 1;
		if (w <= 0) {
			out.dropped += count_lines(out.data + out.start, out.end - out.start);
			break;
		}
		out.start += (size_t)w;
	}
	out.start = out.end = 0;
	return 0;
}

static void watch_writable(int on)
{
	if (on == ev_is_active(&out.writable))
		return;
	if (on) {
		ev_io_start(out.loop, &out.writable);
		ev_unref(out.loop);	/* waiting lines keep no loop alive */
	} else {
		ev_ref(out.loop);
		ev_io_stop(out.loop, &out.writable);
	}
}

/* Timers and watchers here are unreferenced: waiting lines keep no loop alive. */
static void due_stop(void)
{
	if (!ev_is_active(&out.due))
		return;
	ev_ref(out.loop);
	ev_timer_stop(out.loop, &out.due);
}

/* Writes what waits now (unless fd is still taking an earlier write). */
static void write_now(void)
{
	due_stop();
	out.event = 0;
	out.written_at = ev_now(out.loop);
	if (out.end > out.start && !ev_is_active(&out.writable))
		watch_writable(flush_some());
}

/* Before each poll: lines logged since the last write go out now when one
 * of them is an event's (a warning, a state change: never held), or when
 * that write is older than the interval (so a request's line after a quiet
 * spell is not held either): while requests' lines keep coming, one write
 * per interval, not one per pass, made by the first pass past it. The timer
 * is for a loop that goes quiet with lines waiting: it is set an interval
 * later than that, so a busy loop writes before it fires and stops it (a
 * timer firing beside a request's events would make that pass look busy to
 * lb-proxy's batching, which then sleeps before the next poll: the lone
 * client's p99). A line waits two intervals at most. */
static void on_prepare(struct ev_loop *loop, ev_prepare *w, int revents)
{
	ev_tstamp wait;

	(void)w, (void)revents;
	if (out.end == out.start || ev_is_active(&out.writable))
		return;
	wait = out.written_at + out.interval - ev_now(loop);
	if (out.event || wait <= 0) {
		write_now();
		return;
	}
	if (ev_is_active(&out.due))
		return;
	ev_timer_set(&out.due, wait + out.interval, 0.);
	ev_timer_start(loop, &out.due);
	ev_unref(loop);
}

static void on_due(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop, (void)w, (void)revents;
	ev_ref(out.loop);	/* the timer stopped itself: give back its reference */
	write_now();
}

static void on_writable(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop, (void)w, (void)revents;
	watch_writable(flush_some());
}

/* log.c's sink: the line is copied in, or dropped when it does not fit. */
static int sink(const char *line, size_t len, int request)
{
	if (out.end + len > LOG_BUFFER_LIMIT && out.start > 0) {
		memmove(out.data, out.data + out.start, out.end - out.start);
		out.end -= out.start;
		out.start = 0;
	}
	if (out.end + len > LOG_BUFFER_LIMIT) {
		out.dropped++;
		return -1;
	}
	memcpy(out.data + out.end, line, len);
	out.end += len;
	out.event |= !request;
	if (out.end - out.start >= LOG_BUFFER_CHUNK)
		write_now();
	return 0;
}

/* A handle on fd whose writes never wait. Returns 0, or -1 with err filled. */
static int open_out(int fd, char *err, size_t errsz)
{
	struct stat sb;
	char path[64];
	int flags;

	out.fd = fd;
	out.own_fd = 0;
	if (fstat(fd, &sb) == -1) {
		snprintf(err, errsz, "cannot stat descriptor %d: %s", fd, strerror(errno));
		return -1;
	}
	if (S_ISREG(sb.st_mode) || S_ISBLK(sb.st_mode)) {
		out.kind = LOG_OUT_FILE;
		return 0;
	}
	if (S_ISSOCK(sb.st_mode)) {
		out.kind = LOG_OUT_SOCKET;
		return 0;
	}
	out.kind = LOG_OUT_PIPE;
	flags = fcntl(fd, F_GETFL);
	if (flags != -1 && (flags & O_NONBLOCK))
		return 0;
	/* A new open file description of the same pipe or terminal, so
	 * O_NONBLOCK does not reach the other processes sharing fd's. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	out.fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (out.fd == -1) {
		snprintf(err, errsz, "cannot open %s non-blocking (%s): a reader that stops reading "
			 "can stall the loop; mount /proc, or log to a file or a socket",
			 path, strerror(errno));
		return -1;
	}
	out.own_fd = 1;
	return 0;
}

int log_buffer_start(struct ev_loop *loop, int fd, char *err, size_t errsz)
{
	if (out.on)
		return 0;
	out.data = malloc(LOG_BUFFER_LIMIT);
	if (!out.data) {
		snprintf(err, errsz, "out of memory for the log buffer");
		return -1;
	}
	if (open_out(fd, err, errsz) == -1) {
		free(out.data);
		out.data = NULL;
		return -1;
	}
	out.loop = loop;
	out.start = out.end = 0;
	out.written_at = 0;
	ev_timer_init(&out.due, on_due, 0., 0.);
	ev_prepare_init(&out.flush, on_prepare);
	ev_prepare_start(loop, &out.flush);
	ev_unref(loop);
	ev_io_init(&out.writable, on_writable, out.fd, EV_WRITE);
	out.on = 1;
	log_set_sink(sink);
	return 0;
}

void log_buffer_stop(double wait)
{
	double deadline = timefmt_mono() + wait;

	if (!out.on)
		return;
	watch_writable(0);
	due_stop();
	ev_ref(out.loop);
	ev_prepare_stop(out.loop, &out.flush);
	while (flush_some() == 1) {
		struct pollfd p = { .fd = out.fd, .events = POLLOUT };
		double left = deadline - timefmt_mono();
		int r;

		if (left <= 0)
			break;
		r = poll(&p, 1, (int)(left * 1000) + 1);
		if (r == 0 || (r == -1 && errno != EINTR))
			break;
	}
	out.dropped += count_lines(out.data + out.start, out.end - out.start);
	log_set_sink(NULL);
	if (out.own_fd)
		close(out.fd);
	free(out.data);
	out.data = NULL;
	out.on = 0;
}

void log_buffer_set_interval(double seconds)
{
	out.interval = seconds > 0 ? seconds : 0;
}

unsigned long long log_buffer_dropped(void)
{
	return out.dropped;
}
