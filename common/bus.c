/* bus: lb's message bus over nanomsg ipc:// sockets (every nanomsg call is here). */
#include "bus.h"

#include <errno.h>
#include <nanomsg/nn.h>
#include <nanomsg/pipeline.h>
#include <nanomsg/pubsub.h>
#include <nanomsg/reqrep.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "bus_protocol.h"
#include "log.h"
#include "rundir.h"

static int protocol_of(enum bus_kind kind)
{
	switch (kind) {
	case BUS_PUB: return NN_PUB;
	case BUS_SUB: return NN_SUB;
	case BUS_PUSH: return NN_PUSH;
	case BUS_PULL: return NN_PULL;
	case BUS_REQ: return NN_REQ;
	case BUS_REP: return NN_REP;
	}
	return -1;
}

int bus_alive(const char *dir, const char *name)
{
	struct sockaddr_un sun;
	int fd, ok;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if ((size_t)snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s.sock", dir, name) >=
	    sizeof(sun.sun_path))
		return 0;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return 0;
	ok = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
	close(fd);
	return ok;
}

/* Before binding: a socket file nobody answers on is a crashed process's
 * leftover and goes; a live one means another lb-discover owns the dir; any
 * other file is not ours to delete (nn_bind would, silently). */
static int prepare_bind(const char *dir, const char *name, const char *path, char *err,
			size_t errsz)
{
	struct stat st;

	if (lstat(path, &st) == -1)
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errsz, "%s exists and is not a socket: remove it or use another "
			 "--runtime-dir", path);
		return -1;
	}
	if (bus_alive(dir, name)) {
		snprintf(err, errsz, "%s is in use: another lb-discover runs with this runtime dir",
			 path);
		return -1;
	}
	unlink(path);
	return 0;
}

int bus_open(struct bus *b, enum bus_kind kind, const char *dir, const char *name, char *err,
	     size_t errsz)
{
	char url[300];
	int bind = kind == BUS_PUB || kind == BUS_PULL || kind == BUS_REP, max = BUS_MAX_MESSAGE;

	memset(b, 0, sizeof(*b));
	b->sock = -1;
	b->kind = kind;
	if ((size_t)snprintf(b->path, sizeof(b->path), "%s/%s.sock", dir, name) >= 100) {
		snprintf(err, errsz, "runtime dir path too long for a Unix socket: %s", dir);
		return -1;
	}
	snprintf(url, sizeof(url), "ipc://%s", b->path);
	if (rundir_check_file(b->path, bind ? 0 : S_IFSOCK, err, errsz) == -1)
		return -1;
	if (bind && prepare_bind(dir, name, b->path, err, errsz) == -1)
		return -1;
	b->sock = nn_socket(AF_SP, protocol_of(kind));
	if (b->sock < 0) {
		snprintf(err, errsz, "nn_socket: %s", nn_strerror(nn_errno()));
		return -1;
	}
	/* The transport's own limit: a peer announcing a larger message is
	 * disconnected before anything is allocated. (Unlimited, a 9-byte frame
	 * announcing 100 GB made nanomsg allocate it and abort.) */
	if (nn_setsockopt(b->sock, NN_SOL_SOCKET, NN_RCVMAXSIZE, &max, sizeof(max)) < 0) {
		snprintf(err, errsz, "NN_RCVMAXSIZE: %s", nn_strerror(nn_errno()));
		nn_close(b->sock);
		b->sock = -1;
		return -1;
	}
	if (kind == BUS_SUB)
		nn_setsockopt(b->sock, NN_SUB, NN_SUB_SUBSCRIBE, "", 0);
	if ((bind ? nn_bind(b->sock, url) : nn_connect(b->sock, url)) < 0) {
		snprintf(err, errsz, "%s %s: %s", bind ? "bind" : "connect", url,
			 nn_strerror(nn_errno()));
		nn_close(b->sock);
		b->sock = -1;
		return -1;
	}
	return 0;
}

static void bus_on_readable(struct ev_loop *loop, ev_io *w, int revents)
{
	struct bus *b = w->data;
	(void)loop;
	(void)revents;

	/* a bounded batch: the fd stays readable, so the loop comes back after
	 * its other watchers (signals, timers) had their turn */
	for (int i = 0; i < 32; i++) {
		void *msg = NULL;
		int n = nn_recv(b->sock, &msg, NN_MSG, NN_DONTWAIT);

		if (n < 0) {
			if (nn_errno() != EAGAIN && nn_errno() != EINTR)
				log_warn("bus receive failed", "socket=%s error=\"%s\"", b->path,
					 nn_strerror(nn_errno()));
			return;
		}
		b->on_message(b, msg, (size_t)n);
		nn_freemsg(msg);
	}
}

void bus_watch(struct bus *b, struct ev_loop *loop, bus_message_cb cb, void *data)
{
	int fd;
	size_t sz = sizeof(fd);

	b->loop = loop;
	b->on_message = cb;
	b->data = data;
	if (nn_getsockopt(b->sock, NN_SOL_SOCKET, NN_RCVFD, &fd, &sz) < 0) {
		log_error("bus: no receive descriptor", "socket=%s", b->path);
		return;
	}
	ev_io_init(&b->io, bus_on_readable, fd, EV_READ);
	b->io.data = b;
	ev_io_start(loop, &b->io);
}

/* Every receiver drops (and disconnects from) a message over the limit, so
 * one is never sent. */
static int over_limit(const struct bus *b, size_t len)
{
	if (len <= BUS_MAX_MESSAGE)
		return 0;
	log_error("bus message not sent: over the protocol's limit", "socket=%s bytes=%zu max=%d",
		  b->path, len, BUS_MAX_MESSAGE);
	return 1;
}

int bus_send(struct bus *b, const void *data, size_t len)
{
	if (over_limit(b, len))
		return -1;
	return nn_send(b->sock, data, len, NN_DONTWAIT) < 0 ? -1 : 0;
}

int bus_receive(struct bus *b, char **out, size_t *len, int timeout_ms)
{
	void *msg = NULL;
	int n;

	nn_setsockopt(b->sock, NN_SOL_SOCKET, NN_RCVTIMEO, &timeout_ms, sizeof(timeout_ms));
	n = nn_recv(b->sock, &msg, NN_MSG, 0);
	if (n < 0)
		return -1;
	*out = malloc((size_t)n + 1);
	if (!*out) {
		nn_freemsg(msg);
		return -1;
	}
	memcpy(*out, msg, (size_t)n);
	(*out)[n] = '\0';
	*len = (size_t)n;
	nn_freemsg(msg);
	return 0;
}

int bus_request(struct bus *b, const void *data, size_t len, char **reply, size_t *reply_len,
		int timeout_ms, char *err, size_t errsz)
{
	if (over_limit(b, len)) {
		snprintf(err, errsz, "request of %zu bytes is over the bus limit", len);
		return -1;
	}
	if (nn_setsockopt(b->sock, NN_SOL_SOCKET, NN_SNDTIMEO, &timeout_ms, sizeof(timeout_ms)) < 0 ||
	    nn_send(b->sock, data, len, 0) < 0) {
		snprintf(err, errsz, "send to %s: %s", b->path, nn_strerror(nn_errno()));
		return -1;
	}
	if (bus_receive(b, reply, reply_len, timeout_ms) == -1) {
		snprintf(err, errsz, "no reply from %s within %d ms: %s", b->path, timeout_ms,
			 nn_strerror(nn_errno()));
		return -1;
	}
	return 0;
}

void bus_close(struct bus *b)
{
	if (b->sock < 0)
		return;
	if (b->loop)
		ev_io_stop(b->loop, &b->io);
	nn_close(b->sock);
	b->sock = -1;
}
