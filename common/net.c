/* net: socket addresses and listening sockets. */
#include "net.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static int parse_addr(const char *s, struct net_addr *out, char *err, size_t errsz, int numeric)
{
	char host[256];
	const char *port, *colon;
	struct addrinfo hints, *ai = NULL;
	char *end;
	long p;
	int rc;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':') {
			snprintf(err, errsz, "\"%s\": expected [IPV6]:PORT", s);
			return -1;
		}
		snprintf(host, sizeof(host), "%.*s", (int)(close - s - 1), s + 1);
		port = close + 2;
	} else if ((colon = strrchr(s, ':')) != NULL) {
		if (strchr(s, ':') != colon) {
			snprintf(err, errsz, "\"%s\": put an IPv6 address in brackets: [::1]:8080", s);
			return -1;
		}
		snprintf(host, sizeof(host), "%.*s", (int)(colon - s), s);
		port = colon + 1;
	} else {
		host[0] = '\0';
		port = s;
	}
	errno = 0;
	p = strtol(port, &end, 10);
	/* digits only: strtol also takes " 80", "+80" and "-0" */
	if (!isdigit((unsigned char)*port) || *end || errno || p < 0 || p > 65535) {
		snprintf(err, errsz, "\"%s\": the port must be a number from 0 to 65535", s);
		return -1;
	}
	memset(out, 0, sizeof(*out));
	if (host[0] == '\0' || strcmp(host, "*") == 0) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&out->ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)p);
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
		out->len = sizeof(*sin);
		return 0;
	}
	/* RFC 6761 6.3: "localhost" is the loopback, never looked up, so where
	 * nothing may block on a resolver (the file source, the admin API) it
	 * is taken as 127.0.0.1 rather than refused. */
	if (numeric && strcasecmp(host, "localhost") == 0)
		snprintf(host, sizeof(host), "127.0.0.1");
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = numeric ? AI_NUMERICHOST : 0;
	rc = getaddrinfo(host, NULL, &hints, &ai);
	if (rc != 0 || !ai) {
		if (numeric)
			snprintf(err, errsz, "\"%s\": \"%s\" is not an IP address (nor localhost): "
				 "names are resolved only at start-up (--static, lb-proxy --backends, "
				 "lb-ctl), so here give the IP, or the --dns source for a name", s, host);
		else
			snprintf(err, errsz, "\"%s\": cannot resolve \"%s\": %s", s, host,
				 gai_strerror(rc));
		return -1;
	}
	memcpy(&out->ss, ai->ai_addr, ai->ai_addrlen);
	out->len = ai->ai_addrlen;
	if (out->ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&out->ss)->sin6_port = htons((uint16_t)p);
	else
		((struct sockaddr_in *)&out->ss)->sin_port = htons((uint16_t)p);
	freeaddrinfo(ai);
	return 0;
}

int net_parse_addr(const char *s, struct net_addr *out, char *err, size_t errsz)
{
	return parse_addr(s, out, err, errsz, 0);
}

int net_is_localhost(const char *s)
{
	return strncasecmp(s, "localhost:", 10) == 0;
}

int net_parse_numeric(const char *s, struct net_addr *out, char *err, size_t errsz)
{
	if (parse_addr(s, out, err, errsz, 1) == -1)
		return -1;
	if (out->ss.ss_family == AF_INET ? ((struct sockaddr_in *)&out->ss)->sin_port == 0
					 : ((struct sockaddr_in6 *)&out->ss)->sin6_port == 0) {
		snprintf(err, errsz, "\"%s\": a backend needs a port from 1 to 65535", s);
		return -1;
	}
	return 0;
}

int net_url_address(const char *in, char *out, size_t outsz, char *err, size_t errsz)
{
	const char *sep = strstr(in, "://"), *rest = in, *slash;
	size_t n;

	if (sep) {
		if ((size_t)(sep - in) != 4 || strncasecmp(in, "http", 4) != 0) {
			snprintf(err, errsz, "\"%s\": only http:// URLs name a backend (or give HOST:PORT)",
				 in);
			return -1;
		}
		rest = sep + 3;
	}
	n = strlen(rest);
	slash = strchr(rest, '/');
	if (sep && slash && slash == rest + n - 1)
		n--;		/* "http://10.0.0.9:8080/" */
	else if (slash) {
		snprintf(err, errsz, "\"%s\": a backend is HOST:PORT, without a path", in);
		return -1;
	}
	if (sep) {
		/* '@' may only start a weight suffix, after the port: before the
		 * last ':' it is userinfo */
		const char *at = memchr(rest, '@', n), *colon = NULL;

		for (const char *p = rest; p < rest + n; p++)
			if (*p == ':')
				colon = p;
		if (at && colon && at < colon) {
			snprintf(err, errsz, "\"%s\": no user name in a backend's URL", in);
			return -1;
		}
	}
	if (n >= outsz) {
		snprintf(err, errsz, "\"%.40s...\" is too long for an address", in);
		return -1;
	}
	memcpy(out, rest, n);
	out[n] = '\0';
	return 0;
}

int net_split_weight(char *item, long *weight, char *err, size_t errsz)
{
	char *at = strrchr(item, '@'), *bracket = strchr(item, ']'), *end;

	*weight = 1;
	if (!at || (bracket && at < bracket))
		return 0;
	*at = '\0';
	*weight = strtol(at + 1, &end, 10);
	if (!isdigit((unsigned char)at[1]) || *end || *weight < 1 || *weight > 1000) {
		snprintf(err, errsz, "backend \"%s\": the weight must be 1 to 1000", item);
		return -1;
	}
	return 0;
}

void net_addr_ip(const struct sockaddr *sa, char *out, size_t outsz)
{
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], out, (socklen_t)outsz);
		else
			inet_ntop(AF_INET6, &s6->sin6_addr, out, (socklen_t)outsz);
	} else if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)outsz);
	} else {
		snprintf(out, outsz, "unix");
	}
}

void net_addr_format(const struct sockaddr *sa, char *out, size_t outsz)
{
	char ip[64];
	int port = 0;

	net_addr_ip(sa, ip, sizeof(ip));
	if (sa->sa_family == AF_INET6)
		port = ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	else if (sa->sa_family == AF_INET)
		port = ntohs(((const struct sockaddr_in *)sa)->sin_port);
	if (strchr(ip, ':'))
		snprintf(out, outsz, "[%s]:%d", ip, port);
	else
		snprintf(out, outsz, "%s:%d", ip, port);
}

void net_set_nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

int net_set_notsent_lowat(int fd, int bytes)
{
	return setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &bytes, sizeof(bytes));
}

/* The inode of a socket listening on TCP `port` (any address), from one of
 * /proc/net/tcp and tcp6; 0 when none is seen. */
static unsigned long listening_inode(const char *table, unsigned port)
{
	FILE *f = fopen(table, "r");
	char line[512];
	unsigned long inode = 0;

	if (!f)
		return 0;
	if (!fgets(line, sizeof(line), f)) {	/* the header */
		fclose(f);
		return 0;
	}
	while (!inode && fgets(line, sizeof(line), f)) {
		char local[64], remote[64];
		unsigned state, lport;
		unsigned long ino;
		const char *colon;

		if (sscanf(line, "%*d: %63s %63s %x %*s %*s %*s %*d %*d %lu", local, remote, &state,
			   &ino) != 4 || state != 0x0A)	/* TCP_LISTEN */
			continue;
		colon = strrchr(local, ':');
		if (colon && sscanf(colon + 1, "%x", &lport) == 1 && lport == port)
			inode = ino;
	}
	fclose(f);
	return inode;
}

int net_port_owner(unsigned port, char *out, size_t outsz)
{
	unsigned long inode = listening_inode("/proc/net/tcp", port);
	char want[64], path[300], link[64];
	struct dirent *p;
	DIR *procs;
	int found = 0;

	if (!inode)
		inode = listening_inode("/proc/net/tcp6", port);
	if (!inode || !(procs = opendir("/proc")))
		return -1;
	snprintf(want, sizeof(want), "socket:[%lu]", inode);
	while (!found && (p = readdir(procs))) {
		DIR *fds;
		struct dirent *fd;

		if (p->d_name[0] < '1' || p->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%.20s/fd", p->d_name);
		if (!(fds = opendir(path)))
			continue;	/* another user's: not ours to see */
		while (!found && (fd = readdir(fds))) {
			ssize_t n;

			snprintf(path, sizeof(path), "/proc/%.20s/fd/%.20s", p->d_name, fd->d_name);
			n = readlink(path, link, sizeof(link) - 1);
			if (n > 0 && (size_t)n == strlen(want) && memcmp(link, want, (size_t)n) == 0)
				found = 1;
		}
		closedir(fds);
		if (found) {
			char comm[64] = "";
			FILE *f;

			snprintf(path, sizeof(path), "/proc/%.20s/comm", p->d_name);
			if ((f = fopen(path, "r"))) {
				if (fgets(comm, sizeof(comm), f))
					comm[strcspn(comm, "\n")] = '\0';
				fclose(f);
			}
			snprintf(out, outsz, "pid %.20s%s%s%s", p->d_name, comm[0] ? " (" : "", comm,
				 comm[0] ? ")" : "");
		}
	}
	closedir(procs);
	return found ? 0 : -1;
}

int net_bind(const struct net_addr *addr, int reuseport, char *err, size_t errsz)
{
	char name[64];
	int fd, one = 1;

	net_addr_format((const struct sockaddr *)&addr->ss, name, sizeof(name));
	fd = socket(addr->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		snprintf(err, errsz, "socket for %s: %s", name, strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == -1) {
		snprintf(err, errsz, "SO_REUSEPORT on %s: %s", name, strerror(errno));
		goto fail;
	}
	if (bind(fd, (const struct sockaddr *)&addr->ss, addr->len) == -1) {
		int e = errno;
		char owner[128];
		unsigned port = ntohs(addr->ss.ss_family == AF_INET6
				      ? ((const struct sockaddr_in6 *)&addr->ss)->sin6_port
				      : ((const struct sockaddr_in *)&addr->ss)->sin_port);

		if (e == EADDRINUSE) {
			int known = net_port_owner(port, owner, sizeof(owner)) == 0;

			snprintf(err, errsz, "cannot listen on %s: port %u is in use%s%s%s: pick another "
				 "port%s", name, port, known ? " by " : "", known ? owner : "",
				 reuseport ? " (it does not share it: SO_REUSEPORT on both)" : "",
				 reuseport ? "" : ", or give --reuse-port to every server sharing it");
		} else {
			snprintf(err, errsz, "cannot listen on %s: %s", name, strerror(e));
		}
		goto fail;
	}
	/* Accepted sockets inherit TCP_NODELAY on Linux: set once here, not per
	 * connection. Answers go out in one write, so Nagle would only delay. */
	net_set_nodelay(fd);
	return fd;
fail:
	close(fd);
	return -1;
}
