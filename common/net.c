/* net: socket addresses and listening sockets. */
#include "net.h"

#include <arpa/inet.h>
#include <ctype.h>
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
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = numeric ? AI_NUMERICHOST : 0;
	rc = getaddrinfo(host, NULL, &hints, &ai);
	if (rc != 0 || !ai) {
		if (numeric)
			snprintf(err, errsz, "\"%s\": \"%s\" is not an IP address: names are resolved "
				 "only at start-up (--static, lb-proxy --backends, lb-ctl), so here "
				 "give the IP, e.g. 127.0.0.1 for localhost", s, host);
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
		snprintf(err, errsz, "cannot listen on %s: %s", name, strerror(errno));
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
