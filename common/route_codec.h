/* route_codec: a route table as JSON, the form the bus carries from
 * lb-discover to lb-proxy (read back by route_codec_decode.h).
 *
 * {"v":1,
 *  "listeners":[{"name","port","hostname"?,"protocol":"HTTP",
 *                "vhosts":[{"hostname","entries":[[rule,match],...]}]}],
 *  "rules":[{"route":"ns/name","index","matches":[{"pathType","path",
 *            "method"?,"headers"?:[{"type","name","value"}],"query"?:[...]}],
 *            "requestHeaders"?:{"set"?,"add"?,"remove"?},"responseHeaders"?,
 *            "redirect"?:{"scheme"?,"hostname"?,"port"?,"pathType"?,"path"?,"status"},
 *            "rewrite"?:{"hostname"?,"pathType"?,"path"?},
 *            "mirrors"?:[{"backend","numerator","denominator"}],
 *            "timeoutRequestMs"?,"timeoutBackendMs"?,"splitKey"? (version 2),
 *            "backends":[{"namespace","name","port","weight","resolved",
 *                         "proxyProtocol"? (version 3: 2, or absent)}]}]}
 *
 * Bump ROUTE_CODEC_VERSION if any of this changes. The encoding is
 * canonical: equal tables encode to the same bytes, so decode(encode(t))
 * equals t when encode(decode(encode(t))) equals encode(t).
 */
#ifndef LB_ROUTE_CODEC_H
#define LB_ROUTE_CODEC_H

#include <stddef.h>

#include "buf.h"
#include "route.h"

#define ROUTE_CODEC_VERSION 3
/* bytes: the decoder refuses more (a bus message's size, BUS_MAX_MESSAGE) */
#define ROUTE_CODEC_MAX (2 * 1024 * 1024)

/* Appends t as JSON to out. Returns 0, or -1 (out of memory). */
int route_codec_encode(const struct route_table *t, struct buf *out);

#endif
