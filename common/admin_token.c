/* admin_token: the admin APIs' bearer token (see admin_token.h). */
#include "admin_token.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "buf.h"

char *admin_token_read(const char *path, char *err, size_t errsz)
{
	struct buf b = BUF_INIT;
	size_t len;

	if (buf_read_file(&b, path) == -1) {
		snprintf(err, errsz, "--admin-token %s: %s", path, strerror(errno));
		buf_release(&b);
		return NULL;
	}
	len = b.len;
	while (len && (b.data[len - 1] == '\n' || b.data[len - 1] == '\r'))
		len--;
	b.data[len] = '\0';
	for (size_t i = 0; i < len; i++) {
		if (b.data[i] <= ' ' || b.data[i] > '~') {
			len = 0;
			break;
		}
	}
	if (len == 0 || len > ADMIN_TOKEN_MAX) {
		snprintf(err, errsz, "--admin-token %s: the file must hold one token of 1 to %d "
			 "visible ASCII characters (no spaces), e.g. from openssl rand -hex 32",
			 path, ADMIN_TOKEN_MAX);
		buf_release(&b);
		return NULL;
	}
	return b.data;		/* the buffer's storage, NUL-terminated */
}

int admin_token_check(const struct http_msg *m, const char *token)
{
	int i = http_msg_find(m, "authorization");
	size_t vlen, tlen = strlen(token);
	unsigned char diff = 0;
	const char *v;

	if (i < 0)
		return -1;
	v = http_msg_ptr(m, m->headers[i].value);
	vlen = m->headers[i].value.len;
	if (vlen < 7 || strncasecmp(v, "bearer ", 7) != 0)
		return -1;
	v += 7;
	vlen -= 7;
	while (vlen && *v == ' ') {
		v++;
		vlen--;
	}
	if (vlen != tlen)
		return 0;
	/* in constant time: how much of a token matched says nothing */
	for (size_t k = 0; k < tlen; k++)
		diff |= (unsigned char)(v[k] ^ token[k]);
	return diff == 0;
}

int admin_token_loopback(const struct net_addr *na)
{
	if (na->ss.ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)&na->ss)->sin_addr.s_addr) >> 24) == 127;
	return na->ss.ss_family == AF_INET6 &&
	       IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)&na->ss)->sin6_addr);
}
