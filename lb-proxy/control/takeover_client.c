/* takeover_client: a new lb-proxy takes the listening sockets of the one it
 * replaces, then tells it to stop (see takeover_client.h). */
#include "takeover_client.h"

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

/* An address given with port 0 matches the same host on any port. */
static int names_match(const char *want, const char *got)
{
	size_t n = strlen(want);

	if (strcmp(want, got) == 0)
		return 1;
	return n > 2 && strcmp(want + n - 2, ":0") == 0 && strncmp(want, got, n - 1) == 0 &&
	       !strchr(got + n - 1, ':');
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
	if (rundir_check_file(path, S_IFSOCK, err, errsz) == -1)
		return -1;
	c->conn = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->conn == -1) {
		snprintf(err, errsz, "--takeover: socket: %s", strerror(errno));
		return -1;
	}
	takeover_unix_addr(path, &sun);
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
	if (takeover_recv(c->conn, &m, &got, fds, &nfds) == -1) {
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
	if (takeover_send(c->conn, &m, NULL, 0) == -1) {
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
