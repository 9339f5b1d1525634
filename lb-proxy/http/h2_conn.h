/* h2_conn: a client connection that speaks HTTP/2 (h2 by ALPN, h2c by its
 * preface) over nghttp2: the frames in and out, the connection's limits
 * and protections, GOAWAY; each stream is a session of its own
 * (h2_stream.c), balanced on its own. */
#ifndef LB_PROXY_H2_CONN_H
#define LB_PROXY_H2_CONN_H

#include "proxy.h"

struct session;

/* Client stream resets over --h2-max-resets within this window close the
 * connection (GOAWAY ENHANCE_YOUR_CALM: CVE-2023-44487, rapid reset). */
#define H2_RESET_WINDOW 1.0
/* Empty DATA frames without END_STREAM a client may send in that window
 * (they cost work and carry nothing: CVE-2019-9518). */
#define H2_EMPTY_DATA_MAX 100
/* CONTINUATION frames after one HEADERS (the 2024 CONTINUATION flood: the
 * header block is bounded across frames, then GOAWAY). */
#define H2_MAX_CONTINUATIONS 8
/* SETTINGS and PING acknowledgements queued unsent (a client that sends
 * them and does not read): then GOAWAY (CVE-2019-9512, -9515). */
#define H2_MAX_OUTBOUND_ACK 1000
/* Entries of one SETTINGS frame. */
#define H2_MAX_SETTINGS 32
/* Frame bytes queued for a client that does not read before the
 * connection stops reading it. */
#define H2_OUT_LIMIT (64 * 1024)

/* Makes session.c hand HTTP/2 connections to this module, whose streams
 * get sessions from `take` (accept.c's pool, counted as px's; NULL when
 * none can be had). */
void h2_conn_setup(struct session *(*take)(struct proxy *px));

#endif
