/* takeover_server: a running lb-proxy offers its listening sockets to its
 * replacement at a Unix socket in the runtime dir (see takeover_server.h). */
#include "takeover_server.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "rundir.h"

#define TAKEOVER_BACKLOG 4

static void server_drop_peer(struct takeover_server *t)
{
	if (t->peer == -1)
		return;
	ev_io_stop(t->loop, &t->peer_io);
	ev_timer_stop(t->loop, &t->peer_timer);
	close(t->peer);
	t->peer = -1;
	t->state = TAKEOVER_PEER_NONE;
	t->got = 0;
}

static void server_close_listener(struct takeover_server *t)
{
	struct stat st;

	if (t->fd == -1)
		return;
	ev_ref(t->loop);
	ev_io_stop(t->loop, &t->io);
	close(t->fd);
	t->fd = -1;
	/* A replacement may already have bound the path again. */
	if (stat(t->path, &st) == 0 && st.st_dev == t->dev && st.st_ino == t->ino)
		unlink(t->path);
}

static void server_on_message(struct takeover_server *t)
{
	struct takeover_msg out;
	char err[160];
	unsigned pid = t->in.pid;

	if (t->state == TAKEOVER_PEER_HELLO) {
		int fds[TAKEOVER_NFDS_MAX] = { t->listen_fd, t->admin_fd, t->listen2_fd };
		int nfds = TAKEOVER_NFDS + (t->listen2_name[0] != '\0');

		if (takeover_msg_check(&t->in, t->got, TAKEOVER_HELLO, err, sizeof(err)) == -1) {
			log_warn("takeover: bad message dropped", "error=\"%s\"", err);
			server_drop_peer(t);
			return;
		}
		takeover_msg_init(&out, TAKEOVER_SOCKETS);
		out.nfds = (uint32_t)nfds;
		out.tls = t->tls;
		snprintf(out.listen, sizeof(out.listen), "%s", t->listen_name);
		snprintf(out.listen2, sizeof(out.listen2), "%s", t->listen2_name);
		snprintf(out.admin, sizeof(out.admin), "%s", t->admin_name);
		if (takeover_send(t->peer, &out, fds, nfds) == -1) {
			log_warn("takeover: cannot send the sockets", "pid=%u error=\"%s\"", pid,
				 strerror(errno));
			server_drop_peer(t);
			return;
		}
		log_info("takeover: sockets handed over, serving until the new proxy says stop",
			 "pid=%u listen=%s%s%s admin=%s", pid, t->listen_name,
			 t->listen2_name[0] ? " listen2=" : "", t->listen2_name, t->admin_name);
		ev_timer_stop(t->loop, &t->peer_timer);
		t->state = TAKEOVER_PEER_SENT;
		t->got = 0;
		return;
	}
	if (takeover_msg_check(&t->in, t->got, TAKEOVER_STOP, err, sizeof(err)) == -1) {
		log_warn("takeover: bad message dropped", "error=\"%s\"", err);
		server_drop_peer(t);
		return;
	}
	/* Our path goes first, so the new proxy can bind its own on STOPPING. */
	server_close_listener(t);
	takeover_msg_init(&out, TAKEOVER_STOPPING);
	if (takeover_send(t->peer, &out, NULL, 0) == -1)
		log_warn("takeover: cannot answer stop", "pid=%u error=\"%s\"", pid, strerror(errno));
	server_drop_peer(t);
	log_info("taken over: not accepting any more", "pid=%u", pid);
	t->on_stop(t->data);
}

/* Reads what the peer sent; 0 when the connection goes on, -1 when it was
 * dropped (or handed its message on). */
static int server_read_peer(struct takeover_server *t)
{
	ssize_t n;

	n = recv(t->peer, (char *)&t->in + t->got, sizeof(t->in) - t->got, MSG_DONTWAIT);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0) {
		if (t->state == TAKEOVER_PEER_SENT)
			log_warn("takeover: the new proxy left before saying stop: serving on",
				 "error=\"%s\"", n == 0 ? "closed" : strerror(errno));
		else if (t->got)
			log_warn("takeover: bad message dropped", "error=\"truncated at %zu bytes\"",
				 t->got);
		server_drop_peer(t);
		return -1;
	}
	t->got += (size_t)n;
	if (t->got == sizeof(t->in))
		server_on_message(t);
	return t->peer == -1 ? -1 : 0;
}

static void server_on_peer(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	server_read_peer(w->data);
}

static void server_on_peer_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct takeover_server *t = w->data;
	(void)loop;
	(void)revents;

	log_warn("takeover: no hello in time: connection dropped", "timeout_s=%g",
		 TAKEOVER_TIMEOUT_SECONDS);
	server_drop_peer(t);
}

static void server_on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct takeover_server *t = w->data;
	int fd = accept4(t->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	(void)revents;

	if (fd == -1)
		return;
	/* A connection that has not said HELLO holds nothing: what it sent is
	 * read first (a replacement's HELLO may be waiting), then a newer
	 * connection takes its place, so a silent one (same user only: the
	 * socket is 0600 in a 0700 dir) cannot keep a real replacement out
	 * for the hello's 5 s, again and again. */
	if (t->peer != -1 && t->state == TAKEOVER_PEER_HELLO && server_read_peer(t) == 0 &&
	    t->state == TAKEOVER_PEER_HELLO) {
		unsigned long n = log_every(&t->refused_log, ev_now(loop), 1.0);

		if (n)
			log_warn("takeover: a connection that said nothing yet dropped for a newer one",
				 "count=%lu", n);
		server_drop_peer(t);
	}
	if (t->peer != -1) {
		unsigned long n = log_every(&t->refused_log, ev_now(loop), 1.0);

		if (n)
			log_warn("takeover: a second replacement at once refused", "count=%lu", n);
		close(fd);
		return;
	}
	t->peer = fd;
	t->state = TAKEOVER_PEER_HELLO;
	t->got = 0;
	ev_io_init(&t->peer_io, server_on_peer, fd, EV_READ);
	t->peer_io.data = t;
	ev_io_start(loop, &t->peer_io);
	ev_timer_set(&t->peer_timer, TAKEOVER_TIMEOUT_SECONDS, 0.);
	ev_timer_start(loop, &t->peer_timer);
}

int takeover_server_init(struct takeover_server *t, struct ev_loop *loop, const char *path,
			 const struct takeover_offer *offer, takeover_stop_cb on_stop, void *data,
			 char *err, size_t errsz)
{
	struct sockaddr_un sun;
	struct stat st;

	memset(t, 0, sizeof(*t));
	t->fd = t->peer = -1;
	t->loop = loop;
	t->listen_fd = offer->listen_fd;
	t->admin_fd = offer->admin_fd;
	t->listen2_fd = offer->listen2_fd;
	t->tls = offer->tls;
	snprintf(t->listen2_name, sizeof(t->listen2_name), "%s", offer->listen2_name);
	t->on_stop = on_stop;
	t->data = data;
	snprintf(t->path, sizeof(t->path), "%s", path);
	snprintf(t->listen_name, sizeof(t->listen_name), "%s", offer->listen_name);
	snprintf(t->admin_name, sizeof(t->admin_name), "%s", offer->admin_name);
	ev_init(&t->peer_timer, server_on_peer_timeout);
	t->peer_timer.data = t;
	if (rundir_check_file(path, S_IFSOCK, err, errsz) == -1)
		return -1;
	if (takeover_path_alive(path)) {
		snprintf(err, errsz, "another lb-proxy offers %s (same port and runtime dir): give "
			 "this one --takeover to replace it", path);
		return -1;
	}
	unlink(path);	/* a dead proxy's */
	t->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	takeover_unix_addr(path, &sun);
	if (t->fd == -1 || bind(t->fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    chmod(path, 0600) == -1 || listen(t->fd, TAKEOVER_BACKLOG) == -1 ||
	    stat(path, &st) == -1) {
		snprintf(err, errsz, "takeover socket %s: %s", path, strerror(errno));
		if (t->fd != -1)
			close(t->fd);
		t->fd = -1;
		return -1;
	}
	t->dev = st.st_dev;
	t->ino = st.st_ino;
	ev_io_init(&t->io, server_on_accept, t->fd, EV_READ);
	t->io.data = t;
	ev_io_start(loop, &t->io);
	ev_unref(loop);	/* it does not keep the loop alive */
	return 0;
}

void takeover_server_release(struct takeover_server *t)
{
	if (!t->loop)
		return;
	server_close_listener(t);
	server_drop_peer(t);
	t->loop = NULL;
}
