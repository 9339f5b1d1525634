/*
 * relay_ceiling: the io_uring experiment of docs/benchmarks.md. A bare byte
 * relay, written twice over the same sockets: with epoll (what lb-proxy's
 * libev loop does on Linux) and with io_uring (liburing: multishot accept,
 * multishot recv into a provided-buffer ring, sends queued and submitted
 * once per pass). Each accepted client gets its own backend connection and
 * bytes go both ways unchanged: per keep-alive HTTP request that is the
 * system calls lb-proxy makes (a read and a write each way), with none of its
 * HTTP work. So the difference between the two is the most an io_uring
 * transport could save lb-proxy per request; bench_uring.py measures it.
 *
 *   relay_ceiling epoll|uring LISTEN_PORT BACKEND_PORT
 *
 * Loopback only, no limits, no error recovery past closing the pair: a
 * measuring tool, not a server.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_FD 65536
#define BUF_SIZE 16384

static int peer[MAX_FD];		/* the other side of each relayed socket, -1 none */
static int backend_port;

static int listen_on(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == -1 || listen(fd, 1024) == -1) {
		perror("relay_ceiling: listen");
		exit(2);
	}
	return fd;
}

/* A blocking connect to the backend (loopback: immediate), then as asked. */
static int connect_backend(int nonblock)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(backend_port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd == -1 || fd >= MAX_FD || connect(fd, (struct sockaddr *)&a, sizeof(a)) == -1) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (nonblock)
		fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

static void close_pair(int fd)
{
	int other = peer[fd];

	/* shutdown first: an io_uring multishot recv holds the file, so a
	 * close alone would not end it */
	peer[fd] = -1;
	shutdown(fd, SHUT_RDWR);
	close(fd);
	if (other >= 0) {
		peer[other] = -1;
		shutdown(other, SHUT_RDWR);
		close(other);
	}
}

/* --- epoll: level-triggered reads, writes assumed to fit (loopback, small
 * answers; a short write closes the pair, which the bench would show) ---- */
static int run_epoll(int lfd)
{
	int ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = lfd }, evs[256];
	static char buf[BUF_SIZE];

	fcntl(lfd, F_SETFL, O_NONBLOCK);
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1);

		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (fd == lfd) {
				int c, b, one = 1;

				while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
					if (c >= MAX_FD || (b = connect_backend(1)) < 0) {
						close(c);
						continue;
					}
					setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
					peer[c] = b;
					peer[b] = c;
					ev.events = EPOLLIN;
					ev.data.fd = c;
					epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
					ev.data.fd = b;
					epoll_ctl(ep, EPOLL_CTL_ADD, b, &ev);
				}
				continue;
			}
			if (peer[fd] < 0)
				continue;
			ssize_t r = read(fd, buf, sizeof(buf));

			if (r <= 0) {
				if (r == -1 && errno == EAGAIN)
					continue;
				close_pair(fd);
				continue;
			}
			if (write(peer[fd], buf, (size_t)r) != r)
				close_pair(fd);
		}
	}
	return 0;
}

/* --- io_uring ------------------------------------------------------------ */
#define RING_ENTRIES 4096
#define NBUFS 4096			/* provided buffers, BUF_SIZE each */
#define BGID 1
enum { OP_ACCEPT = 1, OP_RECV, OP_SEND };
#define UD(op, fd, bid) (((unsigned long long)(op) << 56) | ((unsigned long long)(bid) << 32) | \
			 (unsigned)(fd))

static struct io_uring ring;
static struct io_uring_buf_ring *br;
static char *bufs;

static struct io_uring_sqe *sqe_get(void)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

	if (!sqe) {
		io_uring_submit(&ring);
		sqe = io_uring_get_sqe(&ring);
	}
	return sqe;
}

static void recv_arm(int fd)
{
	struct io_uring_sqe *sqe = sqe_get();

	io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = BGID;
	io_uring_sqe_set_data64(sqe, UD(OP_RECV, fd, 0));
}

static void buf_return(unsigned bid)
{
	io_uring_buf_ring_add(br, bufs + (size_t)bid * BUF_SIZE, BUF_SIZE, bid,
			      io_uring_buf_ring_mask(NBUFS), 0);
	io_uring_buf_ring_advance(br, 1);
}

static int run_uring(int lfd)
{
	struct io_uring_params p = { .flags = IORING_SETUP_SINGLE_ISSUER |
					      IORING_SETUP_DEFER_TASKRUN,
				     .cq_entries = RING_ENTRIES * 4 };
	struct io_uring_buf_reg reg = { 0 };
	struct io_uring_sqe *sqe;
	int ret;

	p.flags |= IORING_SETUP_CQSIZE;
	if ((ret = io_uring_queue_init_params(RING_ENTRIES, &ring, &p)) < 0) {
		fprintf(stderr, "relay_ceiling: io_uring_queue_init: %s\n", strerror(-ret));
		return 2;
	}
	if (posix_memalign((void **)&br, 4096, NBUFS * sizeof(struct io_uring_buf)) ||
	    !(bufs = malloc((size_t)NBUFS * BUF_SIZE)))
		return 2;
	io_uring_buf_ring_init(br);
	reg.ring_addr = (unsigned long)br;
	reg.ring_entries = NBUFS;
	reg.bgid = BGID;
	if ((ret = io_uring_register_buf_ring(&ring, &reg, 0)) < 0) {
		fprintf(stderr, "relay_ceiling: register_buf_ring: %s\n", strerror(-ret));
		return 2;
	}
	for (unsigned i = 0; i < NBUFS; i++)
		io_uring_buf_ring_add(br, bufs + (size_t)i * BUF_SIZE, BUF_SIZE, i,
				      io_uring_buf_ring_mask(NBUFS), i);
	io_uring_buf_ring_advance(br, NBUFS);
	sqe = sqe_get();
	io_uring_prep_multishot_accept(sqe, lfd, NULL, NULL, 0);
	io_uring_sqe_set_data64(sqe, UD(OP_ACCEPT, lfd, 0));
	for (;;) {
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;

		/* one system call a pass: submit what the last pass queued, wait */
		io_uring_submit_and_wait(&ring, 1);
		io_uring_for_each_cqe(&ring, head, cqe) {
			unsigned long long ud = io_uring_cqe_get_data64(cqe);
			int op = (int)(ud >> 56), fd = (int)(ud & 0xffffffffu);
			unsigned bid = (unsigned)((ud >> 32) & 0xffffff);

			seen++;
			if (op == OP_ACCEPT) {
				int c = cqe->res, b, one = 1;

				if (c < 0 || c >= MAX_FD)
					continue;
				if ((b = connect_backend(0)) < 0) {
					close(c);
					continue;
				}
				setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
				peer[c] = b;
				peer[b] = c;
				recv_arm(c);
				recv_arm(b);
			} else if (op == OP_RECV) {
				if (cqe->res <= 0) {
					if (!(cqe->flags & IORING_CQE_F_MORE) && peer[fd] >= 0)
						close_pair(fd);
					continue;
				}
				bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
				if (peer[fd] < 0) {
					buf_return(bid);
					continue;
				}
				sqe = sqe_get();
				io_uring_prep_send(sqe, peer[fd], bufs + (size_t)bid * BUF_SIZE,
						   (size_t)cqe->res, MSG_NOSIGNAL);
				io_uring_sqe_set_data64(sqe, UD(OP_SEND, peer[fd], bid));
				if (!(cqe->flags & IORING_CQE_F_MORE))
					recv_arm(fd);	/* the multishot ended (buffers ran out) */
			} else if (op == OP_SEND) {
				buf_return(bid);
			}
		}
		io_uring_cq_advance(&ring, seen);
	}
	return 0;
}

int main(int argc, char **argv)
{
	int lfd;

	if (argc != 4 || (strcmp(argv[1], "epoll") && strcmp(argv[1], "uring"))) {
		fprintf(stderr, "usage: relay_ceiling epoll|uring LISTEN_PORT BACKEND_PORT\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	memset(peer, -1, sizeof(peer));
	backend_port = atoi(argv[3]);
	lfd = listen_on(atoi(argv[2]));
	fprintf(stderr, "relay_ceiling: %s listening on 127.0.0.1:%s\n", argv[1], argv[2]);
	return strcmp(argv[1], "epoll") == 0 ? run_epoll(lfd) : run_uring(lfd);
}
