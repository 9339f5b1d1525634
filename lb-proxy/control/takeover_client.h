/* takeover_client: the replacement's side of a takeover: it fetches the
 * running proxy's listening sockets at start-up, and once it accepts on
 * them tells that proxy to stop. */
#ifndef LB_PROXY_TAKEOVER_CLIENT_H
#define LB_PROXY_TAKEOVER_CLIENT_H

#include <ev.h>
#include <sys/types.h>

#include "takeover.h"

/* After takeover_finish: ok is 1 when the old proxy said it stopped
 * accepting, 0 when it did not answer in time (both serve meanwhile). */
typedef void (*takeover_done_cb)(void *data, int ok);

struct takeover_client {
	struct ev_loop *loop;
	int conn;			/* to the old proxy, -1 when done */
	ev_io io;
	ev_timer timer;			/* TAKEOVER_TIMEOUT_SECONDS for STOPPING */
	pid_t old_pid;
	int listen_fd, admin_fd, listen2_fd;	/* received; the caller takes them (-1: none) */
	struct takeover_msg in;		/* STOPPING, as it arrives */
	size_t got;
	takeover_done_cb on_done;
	void *data;
};

/*
 * At start-up, before the loop (it blocks up to TAKEOVER_TIMEOUT_SECONDS
 * per step): connects to `path` and receives the old proxy's listening
 * sockets, checking they are bound to `listen_name`, `listen2_name` ("":
 * no second listener) and `admin_name` (as net_addr_format writes them; a
 * name with port 0 matches its host on any port) and speak TLS as `tls`
 * says (bit 0 listen, bit 1 listen2). Returns 1 with c->listen_fd, c->listen2_fd and
 * c->admin_fd set (the caller owns them), 0 when no proxy accepts at path
 * (nothing to take over), or -1 with err filled.
 */
int takeover_fetch(struct takeover_client *c, const char *path, const char *listen_name,
		   const char *listen2_name, unsigned tls, const char *admin_name, char *err,
		   size_t errsz);
/* Once this proxy accepts on the sockets: tells the old one to stop
 * (without blocking); its answer is read in the loop, logged, and
 * on_done(data, ok) runs once. Returns 0, or -1 (logged; on_done does not
 * run and the old proxy keeps serving beside this one). */
int takeover_finish(struct takeover_client *c, struct ev_loop *loop, takeover_done_cb on_done,
		    void *data);
void takeover_client_release(struct takeover_client *c);

#endif
