/* proxy_v2: the PROXY protocol v2 header (see proxy_v2.h). */
#include "proxy_v2.h"

#include <netinet/in.h>
#include <string.h>

/* The 13th byte: version 2 in the high nibble, the command in the low. */
#define V2_LOCAL 0x20
#define V2_PROXY 0x21
/* The 14th: the address family (high nibble), the transport (low). */
#define V2_UNSPEC 0x00
#define V2_TCP4 0x11
#define V2_TCP6 0x21

/* The IPv4 address of sa (AF_INET, or an IPv4-mapped AF_INET6) into out[4]
 * with its port (network order) in *port; 0, or -1 when it has none. */
static int ipv4_of(const struct sockaddr *sa, unsigned char *out, unsigned short *port)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		memcpy(out, &in->sin_addr, 4);
		*port = in->sin_port;
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		if (!IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
			return -1;
		memcpy(out, &in6->sin6_addr.s6_addr[12], 4);
		*port = in6->sin6_port;
		return 0;
	}
	return -1;
}

static size_t head(unsigned char *out, unsigned char cmd, unsigned char fam, unsigned len)
{
	memcpy(out, PROXY_V2_SIGNATURE, PROXY_V2_SIGNATURE_LEN);
	out[12] = cmd;
	out[13] = fam;
	out[14] = (unsigned char)(len >> 8);
	out[15] = (unsigned char)len;
	return 16 + len;
}

size_t proxy_v2_header(const struct sockaddr *src, const struct sockaddr *dst, unsigned char *out)
{
	unsigned char s4[4], d4[4];
	unsigned short sport, dport;

	if (ipv4_of(src, s4, &sport) == 0 && ipv4_of(dst, d4, &dport) == 0) {
		/* src addr, dst addr, src port, dst port: network order throughout */
		memcpy(out + 16, s4, 4);
		memcpy(out + 20, d4, 4);
		memcpy(out + 24, &sport, 2);
		memcpy(out + 26, &dport, 2);
		return head(out, V2_PROXY, V2_TCP4, 12);
	}
	if (src->sa_family == AF_INET6 && dst->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)src;
		const struct sockaddr_in6 *d6 = (const struct sockaddr_in6 *)dst;

		memcpy(out + 16, &s6->sin6_addr, 16);
		memcpy(out + 32, &d6->sin6_addr, 16);
		memcpy(out + 48, &s6->sin6_port, 2);
		memcpy(out + 50, &d6->sin6_port, 2);
		return head(out, V2_PROXY, V2_TCP6, 36);
	}
	/* A family the header cannot say (or a mixed pair): LOCAL, "the
	 * receiver must use the real connection endpoints" (section 2.2) */
	return head(out, V2_LOCAL, V2_UNSPEC, 0);
}
