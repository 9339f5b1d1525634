/* takeover: the wire of a takeover (see takeover.h for the exchange): its
 * messages, checked; sent and received with the fds they carry. */
#include "takeover.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>


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

void takeover_unix_addr(const char *path, struct sockaddr_un *sun)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	snprintf(sun->sun_path, sizeof(sun->sun_path), "%s", path);
}

/* 1 when something accepts at path (never blocks: a Unix connect completes
 * or fails at once). */
int takeover_path_alive(const char *path)
{
	struct sockaddr_un sun;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), rc;

	if (fd == -1)
		return 0;
	takeover_unix_addr(path, &sun);
	rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	return rc == 0 || errno == EAGAIN || errno == EINPROGRESS;
}

/* Writes one whole message (with fds when nfds > 0) without blocking;
 * returns 0 or -1. A fresh Unix connection has room for it. */
int takeover_send(int fd, const struct takeover_msg *m, const int *fds, int nfds)
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

/* Blocking receive of one whole message (SO_RCVTIMEO bounds it), with the
 * fds it carries into fds[*nfds] (at most TAKEOVER_NFDS_MAX). Returns 0 or -1. */
int takeover_recv(int fd, struct takeover_msg *m, size_t *got, int *fds, int *nfds)
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

