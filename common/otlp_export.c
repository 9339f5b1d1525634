/* otlp_export: the span queue, its batches and their sending (see
 * otlp_export.h). */
#include "otlp_export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "curl_ev.h"
#include "log.h"
#include "otlp_gzip.h"
#include "otlp_json.h"

#define OTLP_EXPORT_SEND_CHUNK (256L * 1024)

/* One export request's body: the JSON frame and `spans` spans. */
struct otlp_batch {
	struct buf body;
	size_t spans;
};

struct otlp_export {
	struct ev_loop *loop;
	struct curl_ev *curl;
	CURL *easy;			/* the one request, reused */
	struct curl_slist *headers;
	char *url;
	struct buf resource;
	const char *scope, *version;
	/* The batches: `fill` takes new spans; `waiting` (oldest first) are
	 * closed and wait their turn; `flight` is with libcurl (or waits for
	 * its resend); the rest are `spare`, the last freed taken first (its
	 * buffer is the one still in cache). */
	struct otlp_batch *batches;
	size_t nbatches;
	struct otlp_batch *fill, *flight;
	struct otlp_batch **waiting;	/* a ring: nwaiting from waiting_at */
	size_t waiting_at, nwaiting;
	struct otlp_batch **spare;	/* a stack of nspare */
	size_t nspare;
	size_t cap, queued;		/* spans held at most, and now (fill and waiting) */
	size_t batch_size;
	struct otlp_span span;		/* the span being written */
	double timeout;
	ev_timer tick;			/* every interval: send what is queued */
	ev_timer kick;			/* a full batch, or a resend after its back-off */
	struct otlp_gzip *gzip;		/* NULL: bodies go as they are */
	struct buf gzbody;		/* with gzip: the body compressed, what is sent */
	int sending;			/* a request is with libcurl */
	unsigned attempt;		/* resends of the batch so far */
	struct otlp_export_stats stats;
	struct log_limit warn_limit;
};

/* 1 when the filling batch takes no more spans. */
static int fill_full(const struct otlp_export *e)
{
	return e->fill->spans >= e->batch_size ||
	       e->fill->body.len + OTLP_SPAN_JSON_MAX + 8 > OTLP_EXPORT_BODY_MAX;
}

/* Closes the filling batch (it waits its turn) and opens a spare one in its
 * place. -1 when none is spare (or its frame cannot be written): the
 * filling batch stays as it is. */
static int rotate(struct otlp_export *e)
{
	struct otlp_batch *b;

	if (e->nspare == 0)
		return -1;
	b = e->spare[e->nspare - 1];
	buf_reset(&b->body);
	b->spans = 0;
	if (otlp_json_begin(&b->body, &e->resource, e->scope, e->version) == -1 ||
	    otlp_json_end(&e->fill->body) == -1)
		return -1;
	e->nspare--;
	e->waiting[(e->waiting_at + e->nwaiting++) % e->nbatches] = e->fill;
	e->fill = b;
	return 0;
}

static void kick_now(struct otlp_export *e)
{
	if (!ev_is_active(&e->kick)) {
		ev_timer_set(&e->kick, 0, 0);
		ev_timer_start(e->loop, &e->kick);
	}
}

struct otlp_span *otlp_export_slot(struct otlp_export *e)
{
	if (e->queued >= e->cap || (fill_full(e) && rotate(e) == -1) ||
	    otlp_span_open(&e->span, &e->fill->body, e->fill->spans == 0) == -1) {
		e->stats.dropped++;
		return NULL;
	}
	return &e->span;
}

void otlp_export_commit(struct otlp_export *e)
{
	otlp_span_close(&e->span);
	e->fill->spans++;
	e->queued++;
	/* A full batch goes at the next loop pass, not inside the request. */
	if (fill_full(e)) {
		rotate(e);
		if (!e->flight)
			kick_now(e);
	}
}

void otlp_export_stats(const struct otlp_export *e, struct otlp_export_stats *out)
{
	*out = e->stats;
	out->queued = e->queued;
}

/* Takes the oldest batch (the filling one, closed, when none waits) to be
 * sent; e->flight stays NULL when there is none, or it is lost. */
static void take_batch(struct otlp_export *e)
{
	struct otlp_batch *b;

	if (e->nwaiting == 0 && (e->fill->spans == 0 || rotate(e) == -1))
		return;
	b = e->waiting[e->waiting_at];
	e->waiting_at = (e->waiting_at + 1) % e->nbatches;
	e->nwaiting--;
	e->queued -= b->spans;
	e->attempt = 0;
	if (e->gzip && otlp_gzip_compress(e->gzip, b->body.data, b->body.len, &e->gzbody) == -1) {
		/* out of memory: the batch is lost, not sent half */
		e->stats.failed += b->spans;
		e->spare[e->nspare++] = b;
		return;
	}
	e->flight = b;
}

/* The batch in flight is done with (sent, or given up): its buffer is
 * spare again, and the next batch goes if one is due. */
static void batch_done(struct otlp_export *e)
{
	e->spare[e->nspare++] = e->flight;
	e->flight = NULL;
	if (e->nwaiting || fill_full(e))
		kick_now(e);
}

static void give_up(struct otlp_export *e, const char *why, long status)
{
	unsigned long n = log_every(&e->warn_limit, ev_now(e->loop), 10.0);

	e->stats.failed += e->flight->spans;
	if (n)
		log_warn("spans not exported", "endpoint=%s error=\"%s\" status=%ld spans=%zu "
			 "times=%lu (check --otlp-endpoint and the collector)", e->url, why, status,
			 e->flight->spans, n);
	batch_done(e);
}

/* A growing, jittered wait (the OTLP spec's exponential back-off), or the
 * server's Retry-After, both capped. */
static void resend_later(struct otlp_export *e, long retry_after)
{
	double wait = OTLP_EXPORT_BACKOFF_FIRST * (double)(1u << e->attempt);

	if (wait > OTLP_EXPORT_BACKOFF_MAX)
		wait = OTLP_EXPORT_BACKOFF_MAX;
	wait *= 0.5 + 0.5 * drand48();
	if (retry_after > 0)
		wait = retry_after < OTLP_EXPORT_BACKOFF_MAX ? (double)retry_after
							     : OTLP_EXPORT_BACKOFF_MAX;
	e->attempt++;
	e->stats.retries++;
	ev_timer_set(&e->kick, wait, 0);
	ev_timer_start(e->loop, &e->kick);
}

static void on_done(CURL *easy, CURLcode result, void *data)
{
	struct otlp_export *e = data;
	long status = 0;
	curl_off_t retry_after = 0;

	e->sending = 0;
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	if (result == CURLE_OK && status >= 200 && status < 300) {
		e->stats.exported += e->flight->spans;
		batch_done(e);
		return;
	}
	/* OTLP/HTTP: 429, 502, 503 and 504 are worth another try, and so is a
	 * request the network lost; any other answer is final. */
	if (result == CURLE_OK && status != 429 && status != 502 && status != 503 &&
	    status != 504) {
		give_up(e, "refused", status);
		return;
	}
	if (e->attempt >= OTLP_EXPORT_RETRIES) {
		give_up(e, result == CURLE_OK ? "retries spent" : curl_easy_strerror(result), status);
		return;
	}
	curl_easy_getinfo(easy, CURLINFO_RETRY_AFTER, &retry_after);
	resend_later(e, (long)retry_after);
}

static void send_body(struct otlp_export *e)
{
	const struct buf *b = e->gzip ? &e->gzbody : &e->flight->body;

	curl_easy_setopt(e->easy, CURLOPT_POSTFIELDS, b->data);
	curl_easy_setopt(e->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)b->len);
	if (curl_ev_add(e->curl, e->easy, on_done, e) == -1) {
		give_up(e, "libcurl refused the request", 0);
		return;
	}
	e->sending = 1;
}

/* The kick: a full batch, or the batch's resend. */
static void on_kick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct otlp_export *e = w->data;

	if (e->sending)
		return;
	if (!e->flight) {
		take_batch(e);
		if (!e->flight)
			return;
	}
	send_body(e);
}

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct otlp_export *e = w->data;

	if (!e->flight && (e->nwaiting || e->fill->spans))
		on_kick(loop, &e->kick, 0);
}

static size_t discard(char *p, size_t size, size_t n, void *data)
{
	return size * n;
}

struct otlp_export *otlp_export_new(struct ev_loop *loop, const struct otlp_export_config *cfg,
				    char *err, size_t errsz)
{
	struct otlp_export *e = calloc(1, sizeof(*e));

	if (!e)
		goto nomem;
	e->loop = loop;
	e->cap = cfg->queue_size;
	e->batch_size = cfg->batch_size ? cfg->batch_size : 1;
	e->scope = cfg->scope;
	e->version = cfg->version;
	/* the one in flight, the one filling, and full ones to hold the queue */
	e->nbatches = e->cap / e->batch_size + 2;
	e->batches = calloc(e->nbatches, sizeof(*e->batches));
	e->waiting = calloc(e->nbatches, sizeof(*e->waiting));
	e->spare = calloc(e->nbatches, sizeof(*e->spare));
	e->url = strdup(cfg->url);
	/* libcurl first: where it is loaded at run time (lb-proxy), a failure
	 * to load it is said as that, not as memory */
	e->curl = curl_ev_new(loop);
	e->easy = curl_easy_init();
	if (!e->curl || !e->easy) {
		snprintf(err, errsz, "libcurl cannot start: the spans' exporter needs it");
		otlp_export_free(e);
		return NULL;
	}
	e->headers = curl_slist_append(NULL, "Content-Type: application/json");
	/* no "Expect: 100-continue" round trip before each body */
	if (e->headers && !curl_slist_append(e->headers, "Expect:"))
		goto nomem;
	if (cfg->gzip && e->headers && (!(e->gzip = otlp_gzip_new()) ||
			  !curl_slist_append(e->headers, "Content-Encoding: gzip")))
		goto nomem;
	if (!e->batches || !e->waiting || !e->spare || !e->url || !e->headers ||
	    buf_append(&e->resource, cfg->resource->data, cfg->resource->len) == -1)
		goto nomem;
	for (size_t i = e->nbatches; i-- > 1;)
		e->spare[e->nspare++] = &e->batches[i];
	e->fill = &e->batches[0];
	if (otlp_json_begin(&e->fill->body, &e->resource, e->scope, e->version) == -1)
		goto nomem;
	for (unsigned i = 0; i < cfg->nheaders; i++) {
		struct curl_slist *l = curl_slist_append(e->headers, cfg->headers[i]);

		if (!l)
			goto nomem;
		e->headers = l;
	}
	curl_easy_setopt(e->easy, CURLOPT_URL, e->url);
	curl_easy_setopt(e->easy, CURLOPT_HTTPHEADER, e->headers);
	curl_easy_setopt(e->easy, CURLOPT_POST, 1L);
	curl_easy_setopt(e->easy, CURLOPT_TIMEOUT_MS, (long)(cfg->timeout * 1000));
	curl_easy_setopt(e->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e->easy, CURLOPT_USERAGENT, "lb-proxy OTLP exporter");
	curl_easy_setopt(e->easy, CURLOPT_WRITEFUNCTION, discard);
	/* A body goes to the socket 256 KiB a send, not libcurl's 64 KiB:
	 * each send over loopback wakes the collector and costs libcurl a
	 * pass of its state machine; and not whole either: libcurl copies each
	 * piece into this buffer first, and a piece the size of a whole body
	 * has left the cache when the kernel copies it again. */
	curl_easy_setopt(e->easy, CURLOPT_UPLOAD_BUFFERSIZE, OTLP_EXPORT_SEND_CHUNK);
	ev_timer_init(&e->tick, on_tick, cfg->interval, cfg->interval);
	ev_timer_init(&e->kick, on_kick, 0, 0);
	e->tick.data = e->kick.data = e;
	ev_timer_start(loop, &e->tick);
	/* the back-off's jitter: no two proxies in step */
	srand48((long)(ev_time() * 1e6) ^ (long)(size_t)e);
	return e;
nomem:
	snprintf(err, errsz, "out of memory for the spans' queue: lower --otlp-queue-size");
	otlp_export_free(e);
	return NULL;
}

void otlp_export_free(struct otlp_export *e)
{
	if (!e)
		return;
	if (e->loop) {
		ev_timer_stop(e->loop, &e->tick);
		ev_timer_stop(e->loop, &e->kick);
	}
	if (e->curl && e->easy && e->sending)
		curl_ev_remove(e->curl, e->easy);
	if (e->easy)
		curl_easy_cleanup(e->easy);
	if (e->curl)
		curl_ev_free(e->curl);
	curl_slist_free_all(e->headers);
	free(e->url);
	for (size_t i = 0; e->batches && i < e->nbatches; i++)
		buf_release(&e->batches[i].body);
	free(e->batches);
	free(e->waiting);
	free(e->spare);
	buf_release(&e->resource);
	otlp_gzip_free(e->gzip);
	buf_release(&e->gzbody);
	free(e);
}
