/* net: socket addresses and listening sockets (start-up code; may resolve names). */
#ifndef LB_NET_H
#define LB_NET_H

#include <stddef.h>
#include <sys/socket.h>

struct net_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/*
 * Parses "HOST:PORT", "[V6]:PORT", ":PORT" (all addresses) or "PORT".
 * HOST may be a name, resolved with getaddrinfo: call it at start-up only,
 * never inside an event loop. Returns 0, or -1 with a message in err.
 */
int net_parse_addr(const char *s, struct net_addr *out, char *err, size_t errsz);
/* Like net_parse_addr, but HOST must be an IP literal: never blocks, so it
 * may run inside an event loop (addresses from the bus, lb-ctl). */
/* 1 when s is "localhost:PORT" (any case): net_parse_numeric takes it as
 * 127.0.0.1 (RFC 6761), and a caller keeping the text writes that instead. */
int net_is_localhost(const char *s);
int net_parse_numeric(const char *s, struct net_addr *out, char *err, size_t errsz);
/* Accepts seed 004's URL spelling of a backend: "http://HOST:PORT" (and one
 * trailing "/") is the address HOST:PORT, copied into out (outsz bytes; a
 * plain address is copied as it is). Another scheme, userinfo or a path is
 * an error naming it. Returns 0 or -1 with err filled. */
int net_url_address(const char *in, char *out, size_t outsz, char *err, size_t errsz);
/* Cuts a "@WEIGHT" suffix off `item` (in place; not one inside IPv6
 * brackets) into *weight (1 when there is none). Returns 0, or -1 with
 * err filled when the weight is not 1 to 1000. */
int net_split_weight(char *item, long *weight, char *err, size_t errsz);
/* Formats as "1.2.3.4:80" or "[::1]:80" into out (at least 64 bytes). */
void net_addr_format(const struct sockaddr *sa, char *out, size_t outsz);
/* The IP alone ("1.2.3.4", "::1") into out (at least 48 bytes). */
void net_addr_ip(const struct sockaddr *sa, char *out, size_t outsz);
/* A non-blocking TCP socket bound to addr (not yet listening: until then
 * connects are refused, and on a shared port go to the other listeners),
 * with SO_REUSEADDR, TCP_NODELAY (inherited by accepted sockets), and
 * SO_REUSEPORT when asked, so several processes can share a port. Returns
 * the fd or -1 + err. */
int net_bind(const struct net_addr *addr, int reuseport, char *err, size_t errsz);
/* Who listens on TCP `port` (on any address), as "pid 1234 (nginx)" in out,
 * from /proc (start-up only: it reads every process's descriptors it may
 * see). Returns 0, or -1 when it cannot tell (another user's process). */
int net_port_owner(unsigned port, char *out, size_t outsz);
void net_set_nodelay(int fd);
/* TCP_NOTSENT_LOWAT: the socket takes no more writes while `bytes` or more
 * of what was written are not yet sent (inherited by accepted sockets when
 * set on a listener). Returns setsockopt()'s result. */
int net_set_notsent_lowat(int fd, int bytes);

#endif
