/* otlp_export: finished spans written as JSON straight into the pending
 * batch's body (otlp_span.c) and sent in batches to an OTLP/HTTP endpoint,
 * through libcurl's multi interface on the program's libev loop
 * (curl_ev.c): never blocking it. One batch is in flight at a time, from
 * its own buffer while new spans go into another (buffers reused, none
 * allocated per span); a batch refused with 429, 502, 503 or 504, or lost
 * to the network, is sent again after a growing, jittered back-off
 * (Retry-After honoured up to the cap); past the queue, spans are dropped
 * and counted. */
#ifndef LB_OTLP_EXPORT_H
#define LB_OTLP_EXPORT_H

#include <ev.h>
#include <stddef.h>

#include "buf.h"
#include "otlp_span.h"

#define OTLP_EXPORT_HEADERS_MAX 32
/* Times a batch is sent again before it is given up (counted failed). */
#define OTLP_EXPORT_RETRIES 5
#define OTLP_EXPORT_BACKOFF_FIRST 0.5	/* seconds before the first resend */
#define OTLP_EXPORT_BACKOFF_MAX 30.0	/* seconds, the longest wait (and Retry-After's cap) */
/* A batch's body closes before it passes this many bytes (so memory stays
 * bounded whatever the spans hold: queue_size / batch_size + 2 bodies). */
#define OTLP_EXPORT_BODY_MAX (2 * 1024 * 1024)

struct otlp_export_config {
	const char *url;		/* the traces URL, used as is */
	const char *headers[OTLP_EXPORT_HEADERS_MAX];	/* "Name: value" lines */
	unsigned nheaders;
	const struct buf *resource;	/* otlp_json_resource()'s JSON; copied */
	const char *scope, *version;	/* the instrumentation scope (static strings) */
	size_t queue_size;		/* spans waiting at most (the batch in flight aside) */
	size_t batch_size;		/* spans per request at most; a full batch goes at once */
	double interval;		/* seconds between sends of what is queued */
	double timeout;			/* seconds one request may take */
	int gzip;			/* bodies sent gzip-compressed (Content-Encoding: gzip) */
};

struct otlp_export_stats {
	unsigned long long exported;	/* spans the endpoint accepted */
	unsigned long long dropped;	/* spans that found the queue full */
	unsigned long long failed;	/* spans of batches given up (refused, or retries spent) */
	unsigned long long retries;	/* batches sent again */
	size_t queued;			/* spans waiting now (gauge) */
};

struct otlp_export;

/* Allocates the batches' table and starts the send timer on `loop`. NULL
 * with the reason in err. */
struct otlp_export *otlp_export_new(struct ev_loop *loop, const struct otlp_export_config *cfg,
				    char *err, size_t errsz);
/* The next span, opened in the pending batch (otlp_span.h's rules: the ids,
 * kind, name and times before the first attribute), to fill, then
 * otlp_export_commit(); or NULL when the queue is full: the span is dropped
 * and counted. One span at a time; allocates nothing once the batches'
 * buffers have grown to their size. */
struct otlp_span *otlp_export_slot(struct otlp_export *e);
/* Closes and queues the span otlp_export_slot() gave. */
void otlp_export_commit(struct otlp_export *e);
void otlp_export_stats(const struct otlp_export *e, struct otlp_export_stats *out);
/* Stops the timers and any request in flight, frees (queued spans are lost). */
void otlp_export_free(struct otlp_export *e);

#endif
