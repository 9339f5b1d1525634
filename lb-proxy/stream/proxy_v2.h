/* proxy_v2: the binary header of the PROXY protocol version 2 (HAProxy's
 * proxy-protocol.txt, section 2.2) that tells a backend who the client of a
 * relayed TCP connection is (--send-proxy-v2). */
#ifndef LB_PROXY_PROXY_V2_H
#define LB_PROXY_PROXY_V2_H

#include <stddef.h>
#include <sys/socket.h>

/* The 12-byte signature every v2 header starts with. */
#define PROXY_V2_SIGNATURE "\r\n\r\n\0\r\nQUIT\n"
#define PROXY_V2_SIGNATURE_LEN 12
/* The longest header written: 16 bytes, then TCP over IPv6's 36 (no TLVs). */
#define PROXY_V2_MAX (16 + 36)

/*
 * Writes the header of a TCP connection from `src` (the client) to `dst`
 * (the address it connected to) into out (PROXY_V2_MAX bytes) and returns
 * its length: the PROXY command over TCP/IPv4 (28 bytes) when both are
 * IPv4 (or IPv4-mapped IPv6), over TCP/IPv6 (52) when both are IPv6, and
 * the LOCAL command with no address (16) otherwise. Allocates nothing.
 */
size_t proxy_v2_header(const struct sockaddr *src, const struct sockaddr *dst, unsigned char *out);

#endif
