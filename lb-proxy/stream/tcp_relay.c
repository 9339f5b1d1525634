/* tcp_relay: a TCP-mode connection's bytes, both ways (see tcp_relay.h). */
#include "tcp_relay.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

/* Compacts a direction's buffer when less than this is free behind its
 * data, rather than stop reading while the front of it is already sent. */
#define RELAY_COMPACT_ROOM 4096

/* The two directions: up (client to backend) and down (backend to client). */
static struct tcp_dir *dir(struct tcp_session *s, int up)
{
	return up ? &s->up : &s->down;
}

static int dst_fd(const struct tcp_session *s, int up)
{
	return up ? s->bfd : s->cfd;
}

static ev_io *src_reader(struct tcp_session *s, int up)
{
	return up ? &s->crio : &s->brio;
}

static ev_io *dst_writer(struct tcp_session *s, int up)
{
	return up ? &s->bwio : &s->cwio;
}

/* Room behind the data, compacting when it runs short. */
static size_t room(struct buf *b)
{
	if (buf_room(b) < RELAY_COMPACT_ROOM && b->pos > 0)
		buf_compact(b);
	return buf_room(b);
}

/* Writes what the direction holds (the PROXY v2 header first, going up) to
 * its destination. Once all is out, reading its source resumes, or its FIN
 * is passed on. Returns 0, or -1 when s was closed. */
static int flush(struct tcp_session *s, int up)
{
	struct ev_loop *loop = s->tp->loop;
	struct tcp_dir *d = dir(s, up);

	while (buf_unread(&d->buf) || (up && s->pp2_off < s->pp2_len)) {
		struct iovec iov[2];
		int k = 0;
		ssize_t n;

		if (up && s->pp2_off < s->pp2_len) {
			iov[k].iov_base = s->pp2 + s->pp2_off;
			iov[k++].iov_len = s->pp2_len - s->pp2_off;
		}
		if (buf_unread(&d->buf)) {
			iov[k].iov_base = buf_head(&d->buf);
			iov[k++].iov_len = buf_unread(&d->buf);
		}
		n = writev(dst_fd(s, up), iov, k);
		if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
			/* back-pressure: the source is read only while there is room */
			ev_io_start(loop, dst_writer(s, up));
			if (room(&d->buf) == 0 || d->eof)
				ev_io_stop(loop, src_reader(s, up));
			else
				ev_io_start(loop, src_reader(s, up));
			return 0;
		}
		if (n == -1) {
			s->tp->session_close(s, up ? "backend reset" : "client reset");
			return -1;
		}
		s->last_active = ev_now(loop);
		if (up && s->pp2_off < s->pp2_len) {
			size_t h = s->pp2_len - s->pp2_off;

			if ((size_t)n < h) {
				s->pp2_off += (unsigned)n;
				continue;
			}
			s->pp2_off = s->pp2_len;
			n -= (ssize_t)h;
		}
		buf_consume(&d->buf, (size_t)n);
	}
	ev_io_stop(loop, dst_writer(s, up));
	if (!d->eof) {
		ev_io_start(loop, src_reader(s, up));
		return 0;
	}
	if (!d->shut) {
		/* the source's FIN, passed on: the other way goes on (half-close) */
		shutdown(dst_fd(s, up), SHUT_WR);
		d->shut = 1;
	}
	if (s->up.shut && s->down.shut) {
		s->tp->session_close(s, "done");
		return -1;
	}
	return 0;
}

/* Reads the direction's source once and writes it on at once, unless its
 * destination is already waiting to be writable. */
static void pump(struct tcp_session *s, int up)
{
	struct ev_loop *loop = s->tp->loop;
	struct tcp_dir *d = dir(s, up);
	int src = up ? s->cfd : s->bfd;
	ssize_t n;

	if (room(&d->buf) == 0) {
		ev_io_stop(loop, src_reader(s, up));
		return;
	}
	n = read(src, buf_tail(&d->buf), buf_room(&d->buf));
	if (n == -1) {
		if (errno != EAGAIN && errno != EINTR)
			s->tp->session_close(s, up ? "client reset" : "backend reset");
		return;
	}
	if (n == 0) {
		d->eof = 1;
		ev_io_stop(loop, src_reader(s, up));
	} else {
		d->buf.len += (size_t)n;
		d->bytes += (unsigned long long)n;
		if (up) {
			s->be->bytes_in += (unsigned long long)n;
			s->tp->metrics.bytes_in += (unsigned long long)n;
		} else {
			s->be->bytes_out += (unsigned long long)n;
			s->tp->metrics.bytes_out += (unsigned long long)n;
		}
		s->last_active = ev_now(loop);
	}
	if (ev_is_active(dst_writer(s, up))) {
		if (room(&d->buf) == 0)
			ev_io_stop(loop, src_reader(s, up));
		return;
	}
	flush(s, up);
}

static void on_client_read(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	pump(w->data, 1);
}

static void on_backend_read(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	pump(w->data, 0);
}

static void on_backend_write(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	flush(w->data, 1);
}

static void on_client_write(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	flush(w->data, 0);
}

static void set_idle_timer(struct tcp_session *s, double seconds)
{
	ev_timer_stop(s->tp->loop, &s->timer);
	ev_timer_set(&s->timer, seconds, 0);
	ev_timer_start(s->tp->loop, &s->timer);
}

void tcp_relay_on_timer(struct tcp_session *s)
{
	double left = s->last_active + s->tp->cfg.idle_timeout - ev_now(s->tp->loop);

	/* one timer per connection, moved only when it fires: a byte costs a
	 * store, not a timer update */
	if (left > 0.001) {
		set_idle_timer(s, left);
		return;
	}
	s->tp->session_close(s, "idle timeout");
}

void tcp_relay_start(struct tcp_session *s)
{
	struct ev_loop *loop = s->tp->loop;

	s->state = TCP_SESSION_RELAY;
	ev_io_stop(loop, &s->crio);
	ev_io_stop(loop, &s->bwio);
	ev_set_cb(&s->crio, on_client_read);
	ev_set_cb(&s->cwio, on_client_write);
	ev_set_cb(&s->brio, on_backend_read);
	ev_set_cb(&s->bwio, on_backend_write);
	if (s->tp->cfg.send_proxy_v2 || s->pool.send_proxy_v2) {
		struct sockaddr_storage local = { 0 };
		socklen_t len = sizeof(local);

		if (getsockname(s->cfd, (struct sockaddr *)&local, &len) == -1)
			local.ss_family = AF_UNSPEC;	/* the header says LOCAL */
		s->pp2_len = (unsigned)proxy_v2_header((struct sockaddr *)&s->peer,
						       (struct sockaddr *)&local, s->pp2);
		s->pp2_off = 0;
	}
	s->last_active = ev_now(loop);
	set_idle_timer(s, s->tp->cfg.idle_timeout);
	ev_io_start(loop, &s->brio);
	/* what came before the backend was chosen (the ClientHello), or the
	 * header alone; then the client is read */
	flush(s, 1);
}
