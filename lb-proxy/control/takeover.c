/* takeover: a running lb-proxy hands its listening sockets to its replacement
 * over a Unix socket in the runtime dir (see takeover.h for the exchange). */
#include "takeover.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"

#define TAKEOVER_BACKLOG 4

void takeover_msg_init(struct takeover_msg *m, enum takeover_type type)
{
	memset(m, 0, sizeof(*m));
	m->magic = TAKEOVER_MAGIC;
	m->version = TAKEOVER_VERSION;
	m->type = (uint16_t)type;
	m->pid = (uint32_t)getpid();
}

static const char *type_name(unsigned type)
{
	switch (type) {
	case TAKEOVER_HELLO: return "hello";
	case TAKEOVER_SOCKETS: return "sockets";
	case TAKEOVER_STOP: return "stop";
	case TAKEOVER_STOPPING: return "stopping";
	default: return "unknown";
	}
}

int takeover_msg_check(const struct takeover_msg *m, size_t len, enum takeover_type want,
		       char *err, size_t errsz)
{
	if (len != sizeof(*m)) {
		snprintf(err, errsz, "message of %zu bytes, expected %zu", len, sizeof(*m));
		return -1;
	}
	if (m->magic != TAKEOVER_MAGIC) {
		snprintf(err, errsz, "bad magic 0x%08x: not an lb-proxy takeover socket", m->magic);
		return -1;
	}
	if (m->version != TAKEOVER_VERSION) {
		snprintf(err, errsz, "takeover protocol version %u, this proxy speaks %u",
			 (unsigned)m->version, TAKEOVER_VERSION);
		return -1;
	}
	if (m->type != want) {
		snprintf(err, errsz, "a %s message where %s was expected", type_name(m->type),
			 type_name(want));
		return -1;
	}
	if (!memchr(m->listen2, '\0', sizeof(m->listen2))) {
		snprintf(err, errsz, "an address is not terminated");
		return -1;
	}
	if (m->nfds != (want == TAKEOVER_SOCKETS ? TAKEOVER_NFDS + (m->listen2[0] != '\0') : 0)) {
		snprintf(err, errsz, "%s message announcing %u descriptors", type_name(m->type),
			 m->nfds);
		return -1;
	}
	if (!memchr(m->listen, '\0', sizeof(m->listen)) || !memchr(m->admin, '\0', sizeof(m->admin))) {
		snprintf(err, errsz, "an address is not terminated");
		return -1;
	}
	if (want == TAKEOVER_SOCKETS && (!m->listen[0] || !m->admin[0])) {
		snprintf(err, errsz, "sockets message without its addresses");
		return -1;
	}
	return 0;
}

int takeover_path(const char *rundir, unsigned port, char *out, size_t outsz, char *err,
		  size_t errsz)
{
	struct sockaddr_un sun;
	int n = snprintf(out, outsz, TAKEOVER_SOCKET_FORMAT, rundir, port);

	if (n < 0 || (size_t)n >= outsz || (size_t)n >= sizeof(sun.sun_path)) {
		snprintf(err, errsz, "the takeover socket path is longer than a Unix socket address "
			 "allows (%zu bytes): use a shorter --runtime-dir than \"%s\"",
			 sizeof(sun.sun_path) - 1, rundir);
		return -1;
	}
	return 0;
}

static void unix_addr(const char *path, struct sockaddr_un *sun)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	snprintf(sun->sun_path, sizeof(sun->sun_path), "%s", path);
}

/* 1 when something accepts at path (never blocks: a Unix connect completes
 * or fails at once). */
static int path_alive(const char *path)
{
	struct sockaddr_un sun;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), rc;

	if (fd == -1)
		return 0;
	unix_addr(path, &sun);
	rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	return rc == 0 || errno == EAGAIN || errno == EINPROGRESS;
}

/* Writes one whole message (with fds when nfds > 0) without blocking;
 * returns 0 or -1. A fresh Unix connection has room for it. */
static int send_msg(int fd, const struct takeover_msg *m, const int *fds, int nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * TAKEOVER_NFDS_MAX)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { (void *)m, sizeof(*m) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (nfds > 0) {
		struct cmsghdr *c;

		memset(&ctl, 0, sizeof(ctl));
		msg.msg_control = ctl.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
	}
	do {
		n = sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
	} while (n == -1 && errno == EINTR);
	if (n != (ssize_t)sizeof(*m)) {
		if (n >= 0)
			errno = EAGAIN;
		return -1;
	}
	return 0;
}

/* ---- the running proxy's side ------------------------------------------------- */

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
		if (send_msg(t->peer, &out, fds, nfds) == -1) {
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
	if (send_msg(t->peer, &out, NULL, 0) == -1)
		log_warn("takeover: cannot answer stop", "pid=%u error=\"%s\"", pid, strerror(errno));
	server_drop_peer(t);
	log_info("taken over: not accepting any more", "pid=%u", pid);
	t->on_stop(t->data);
}

static void server_on_peer(struct ev_loop *loop, ev_io *w, int revents)
{
	struct takeover_server *t = w->data;
	ssize_t n;
	(void)loop;
	(void)revents;

	n = recv(t->peer, (char *)&t->in + t->got, sizeof(t->in) - t->got, MSG_DONTWAIT);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		if (t->state == TAKEOVER_PEER_SENT)
			log_warn("takeover: the new proxy left before saying stop: serving on",
				 "error=\"%s\"", n == 0 ? "closed" : strerror(errno));
		else if (t->got)
			log_warn("takeover: bad message dropped", "error=\"truncated at %zu bytes\"",
				 t->got);
		server_drop_peer(t);
		return;
	}
	t->got += (size_t)n;
	if (t->got == sizeof(t->in))
		server_on_message(t);
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
	if (t->peer != -1) {
		log_warn("takeover: a second replacement at once refused", NULL);
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
			 int listen_fd, const char *listen_name, int admin_fd,
			 const char *admin_name, int listen2_fd, const char *listen2_name,
			 unsigned tls, takeover_stop_cb on_stop, void *data, char *err,
			 size_t errsz)
{
	struct sockaddr_un sun;
	struct stat st;

	memset(t, 0, sizeof(*t));
	t->fd = t->peer = -1;
	t->loop = loop;
	t->listen_fd = listen_fd;
	t->admin_fd = admin_fd;
	t->listen2_fd = listen2_fd;
	t->tls = tls;
	snprintf(t->listen2_name, sizeof(t->listen2_name), "%s", listen2_name);
	t->on_stop = on_stop;
	t->data = data;
	snprintf(t->path, sizeof(t->path), "%s", path);
	snprintf(t->listen_name, sizeof(t->listen_name), "%s", listen_name);
	snprintf(t->admin_name, sizeof(t->admin_name), "%s", admin_name);
	ev_init(&t->peer_timer, server_on_peer_timeout);
	t->peer_timer.data = t;
	if (path_alive(path)) {
		snprintf(err, errsz, "another lb-proxy offers %s (same port and runtime dir): give "
			 "this one --takeover to replace it", path);
		return -1;
	}
	unlink(path);	/* a dead proxy's */
	t->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	unix_addr(path, &sun);
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

/* ---- the replacement's side --------------------------------------------------- */

/* An address given with port 0 matches the same host on any port. */
static int names_match(const char *want, const char *got)
{
	size_t n = strlen(want);

	if (strcmp(want, got) == 0)
		return 1;
	return n > 2 && strcmp(want + n - 2, ":0") == 0 && strncmp(want, got, n - 1) == 0 &&
	       !strchr(got + n - 1, ':');
}

/* Blocking receive of one whole message (SO_RCVTIMEO bounds it), with the
 * fds it carries into fds[*nfds] (at most TAKEOVER_NFDS_MAX). Returns 0 or -1. */
static int recv_msg(int fd, struct takeover_msg *m, size_t *got, int *fds, int *nfds)
{
	*got = 0;
	*nfds = 0;
	while (*got < sizeof(*m)) {
		union {
			char buf[CMSG_SPACE(sizeof(int) * TAKEOVER_NFDS_MAX)];
			struct cmsghdr align;
		} ctl;
		struct iovec iov = { (char *)m + *got, sizeof(*m) - *got };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
				      .msg_controllen = sizeof(ctl.buf) };
		ssize_t n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = ECONNRESET;
			return -1;
		}
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
				int got_fd;

				memcpy(&got_fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
				if (*nfds < TAKEOVER_NFDS_MAX)
					fds[(*nfds)++] = got_fd;
				else
					close(got_fd);
			}
		}
		*got += (size_t)n;
	}
	return 0;
}

/* "ADDR" or "tls:ADDR", and " --listen ADDR2" when there is a second one, into out. */
static void listeners_describe(char *out, size_t outsz, const char *listen, const char *listen2,
			       unsigned tls)
{
	if (listen2[0])
		snprintf(out, outsz, "%s%s --listen %s%s", tls & 1 ? "tls:" : "", listen,
			 tls & 2 ? "tls:" : "", listen2);
	else
		snprintf(out, outsz, "%s%s", tls & 1 ? "tls:" : "", listen);
}

int takeover_fetch(struct takeover_client *c, const char *path, const char *listen_name,
		   const char *listen2_name, unsigned tls, const char *admin_name, char *err,
		   size_t errsz)
{
	struct timeval tv = { (time_t)TAKEOVER_TIMEOUT_SECONDS, 0 };
	struct sockaddr_un sun;
	struct takeover_msg m;
	int fds[TAKEOVER_NFDS_MAX], nfds = 0;
	int listen_differs;
	size_t got;
	char why[160];

	memset(c, 0, sizeof(*c));
	c->listen_fd = c->admin_fd = c->listen2_fd = -1;
	c->conn = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->conn == -1) {
		snprintf(err, errsz, "--takeover: socket: %s", strerror(errno));
		return -1;
	}
	unix_addr(path, &sun);
	if (connect(c->conn, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		int e = errno;

		close(c->conn);
		c->conn = -1;
		if (e == ENOENT || e == ECONNREFUSED)
			return 0;
		snprintf(err, errsz, "--takeover: cannot connect to %s: %s", path, strerror(e));
		return -1;
	}
	setsockopt(c->conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->conn, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	takeover_msg_init(&m, TAKEOVER_HELLO);
	if (send(c->conn, &m, sizeof(m), MSG_NOSIGNAL) != (ssize_t)sizeof(m)) {
		snprintf(err, errsz, "--takeover: cannot write to %s: %s", path, strerror(errno));
		goto fail;
	}
	if (recv_msg(c->conn, &m, &got, fds, &nfds) == -1) {
		int e = errno;

		/* A proxy of an older protocol drops our HELLO and closes. */
		snprintf(err, errsz, "--takeover: no answer from the running proxy at %s: %s%s", path,
			 e == EAGAIN ? "timed out" : strerror(e),
			 e == ECONNRESET ? " (a proxy speaking an older takeover protocol closes the "
					   "connection: start beside it with --reuse-port, then stop "
					   "it with SIGTERM)" : "");
		goto fail;
	}
	if (takeover_msg_check(&m, got, TAKEOVER_SOCKETS, why, sizeof(why)) == -1 ||
	    (uint32_t)nfds != m.nfds) {
		snprintf(err, errsz, "--takeover: bad answer from %s: %s", path,
			 (uint32_t)nfds != m.nfds ? "descriptors missing" : why);
		goto fail;
	}
	listen_differs = !names_match(listen_name, m.listen) || !listen2_name[0] != !m.listen2[0] ||
			 (listen2_name[0] && !names_match(listen2_name, m.listen2)) || tls != m.tls;
	if (listen_differs || !names_match(admin_name, m.admin)) {
		char has[2 * TAKEOVER_ADDR_MAX + 32], given[2 * TAKEOVER_ADDR_MAX + 32];

		listeners_describe(has, sizeof(has), m.listen, m.listen2, m.tls);
		listeners_describe(given, sizeof(given), listen_name, listen2_name, tls);
		snprintf(err, errsz, "--takeover: the running proxy (pid %u) has %s %s, this one "
			 "was given %s: give the same %s to take over", m.pid,
			 listen_differs ? "--listen" : "--admin", listen_differs ? has : m.admin,
			 listen_differs ? given : admin_name,
			 listen_differs ? "--listen" : "--admin");
		goto fail;
	}
	c->old_pid = (pid_t)m.pid;
	c->listen_fd = fds[0];
	c->admin_fd = fds[1];
	c->listen2_fd = nfds > TAKEOVER_NFDS ? fds[2] : -1;
	return 1;
fail:
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	close(c->conn);
	c->conn = -1;
	return -1;
}

static void client_done(struct takeover_client *c, int ok)
{
	ev_io_stop(c->loop, &c->io);
	ev_timer_stop(c->loop, &c->timer);
	close(c->conn);
	c->conn = -1;
	c->on_done(c->data, ok);
}

static void client_on_read(struct ev_loop *loop, ev_io *w, int revents)
{
	struct takeover_client *c = w->data;
	ssize_t n = recv(c->conn, (char *)&c->in + c->got, sizeof(c->in) - c->got, MSG_DONTWAIT);
	char err[160];
	(void)loop;
	(void)revents;

	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		log_warn("takeover: the old proxy closed without saying it stopped", "old_pid=%d",
			 (int)c->old_pid);
		client_done(c, 0);
		return;
	}
	c->got += (size_t)n;
	if (c->got < sizeof(c->in))
		return;
	if (takeover_msg_check(&c->in, c->got, TAKEOVER_STOPPING, err, sizeof(err)) == -1) {
		log_warn("takeover: bad message dropped", "old_pid=%d error=\"%s\"", (int)c->old_pid,
			 err);
		client_done(c, 0);
		return;
	}
	log_info("took over: the old proxy stopped accepting and drains", "old_pid=%d",
		 (int)c->old_pid);
	client_done(c, 1);
}

static void client_on_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct takeover_client *c = w->data;
	(void)loop;
	(void)revents;

	log_warn("takeover: the old proxy did not say it stopped in time", "old_pid=%d timeout_s=%g",
		 (int)c->old_pid, TAKEOVER_TIMEOUT_SECONDS);
	client_done(c, 0);
}

int takeover_finish(struct takeover_client *c, struct ev_loop *loop, takeover_done_cb on_done,
		    void *data)
{
	struct takeover_msg m;

	if (c->conn == -1)
		return -1;
	c->loop = loop;
	c->on_done = on_done;
	c->data = data;
	c->got = 0;
	fcntl(c->conn, F_SETFL, fcntl(c->conn, F_GETFL) | O_NONBLOCK);
	takeover_msg_init(&m, TAKEOVER_STOP);
	if (send_msg(c->conn, &m, NULL, 0) == -1) {
		log_error("takeover: cannot tell the old proxy to stop: both serve",
			  "old_pid=%d error=\"%s\"", (int)c->old_pid, strerror(errno));
		close(c->conn);
		c->conn = -1;
		return -1;
	}
	ev_io_init(&c->io, client_on_read, c->conn, EV_READ);
	c->io.data = c;
	ev_io_start(loop, &c->io);
	ev_timer_init(&c->timer, client_on_timeout, TAKEOVER_TIMEOUT_SECONDS, 0.);
	c->timer.data = c;
	ev_timer_start(loop, &c->timer);
	return 0;
}

void takeover_client_release(struct takeover_client *c)
{
	if (c->conn == -1)
		return;
	if (c->loop) {
		ev_io_stop(c->loop, &c->io);
		ev_timer_stop(c->loop, &c->timer);
	}
	close(c->conn);
	c->conn = -1;
}
