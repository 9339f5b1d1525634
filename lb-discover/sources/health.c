/* health: active HTTP health checks with libcurl's multi-socket interface in libev. */
#include "health.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "curl_ev.h"
#include "health_grpc.h"
#include "log.h"

struct check {
	char address[BUS_ADDRESS_MAX];
	CURL *easy;
	struct health *h;
	struct curl_slist *connect_to;	/* --health-sni: the name's address */
	struct curl_slist *fields;	/* --health-grpc: the request's fields */
	int grpc_status;		/* --health-grpc: the answer's, -1 before one came */
	unsigned char body[HEALTH_GRPC_RESPONSE_MAX];	/* --health-grpc: its first bytes */
	size_t body_len;
	struct check *next;
};

struct health {
	struct ev_loop *loop;
	struct registry *reg;
	struct health_options opts;
	health_change_cb on_change;
	void *data;
	struct curl_ev *curl;
	ev_timer tick;		/* starts the checks now due */
	size_t cursor;		/* the registry entry to visit next */
	double owed;		/* entries to visit, carried between ticks */
	double last_tick;	/* ev_now of the last tick */
	int nrunning;
	struct check *running;
};

/* At most this many ticks a second: a few thousand backends are visited in
 * batches rather than one timer per check. */
#define HEALTH_TICK_MIN 0.02

static size_t write_nothing(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	(void)ptr;
	(void)userdata;
	return size * nmemb;
}

/* --health-grpc: the answer's first bytes are kept, the rest dropped. */
static size_t write_grpc(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct check *c = userdata;
	size_t n = size * nmemb, room = sizeof(c->body) - c->body_len;

	memcpy(c->body + c->body_len, ptr, n < room ? n : room);
	c->body_len += n < room ? n : room;
	return size * nmemb;
}

/* --health-grpc: grpc-status comes in the head (Trailers-Only) or the
 * trailers, which libcurl hands to the header callback too. */
static size_t header_grpc(char *line, size_t size, size_t nmemb, void *userdata)
{
	struct check *c = userdata;
	int v = health_grpc_status_line(line, size * nmemb);

	if (v != -1)
		c->grpc_status = v;
	return size * nmemb;
}

static void record(struct health *h, struct check *c, CURLcode code)
{
	struct entry *e = registry_find(h->reg, c->address);
	long status = 0;
	double seconds = 0;
	int ok;
	char why[BUS_NAME_MAX], verdict[BUS_NAME_MAX - 24] = "";

	curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(c->easy, CURLINFO_TOTAL_TIME, &seconds);
	if (!h->opts.grpc)
		ok = code == CURLE_OK && status >= 200 && status < 400;
	else if ((ok = code == CURLE_OK))
		ok = health_grpc_verdict(status, c->grpc_status, c->body, c->body_len, verdict,
					 sizeof(verdict));
	if (!e)
		return;
	e->checking = 0;
	e->check_seconds = seconds;
	e->checks++;
	e->check_failures += !ok;
	if (ok) {
		e->fall_count = 0;
		if (!e->healthy && ++e->rise_count >= h->opts.rise) {
			e->healthy = 1;
			e->rise_count = 0;
			e->health_reason[0] = '\0';
			log_info("backend up", "address=%s", e->address);
			h->on_change(h->data);
		}
		return;
	}
	e->rise_count = 0;
	if (code != CURLE_OK) {
		snprintf(why, sizeof(why), "health check: %s", curl_easy_strerror(code));
	} else if (h->opts.grpc) {
		snprintf(why, sizeof(why), "health check: gRPC %s", verdict);
	} else {
		snprintf(why, sizeof(why), "health check: HTTP %ld", status);
	}
	if (e->healthy && ++e->fall_count >= h->opts.fall) {
		e->healthy = 0;
		e->fall_count = 0;
		snprintf(e->health_reason, sizeof(e->health_reason), "%s", why);
		log_warn("backend down", "address=%s reason=\"%s\"", e->address, why);
		h->on_change(h->data);
	}
}

static void check_done(CURL *easy, CURLcode result, void *data)
{
	struct check *c = data, **pp;
	struct health *h = c->h;

	record(h, c, result);
	h->nrunning--;
	curl_easy_cleanup(easy);
	curl_slist_free_all(c->connect_to);
	curl_slist_free_all(c->fields);
	for (pp = &h->running; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	free(c);
}

int health_tls_check(const struct health_options *opts, char *err, size_t errsz)
{
	FILE *f;

	if (!opts->tls && (opts->ca || opts->sni || opts->insecure)) {
		snprintf(err, errsz, "--health-ca, --health-sni and --health-tls-insecure need "
				     "--health-tls");
		return -1;
	}
	if (opts->ca) {
		f = fopen(opts->ca, "r");
		if (!f) {
			snprintf(err, errsz, "--health-ca %s: cannot read it: %s", opts->ca,
				 strerror(errno));
			return -1;
		}
		fclose(f);
	}
	if (opts->grpc_service && opts->grpc_service[0] && !opts->grpc) {
		snprintf(err, errsz, "--health-grpc-service needs --health-grpc");
		return -1;
	}
	if (opts->grpc_service && strlen(opts->grpc_service) > HEALTH_GRPC_SERVICE_MAX) {
		snprintf(err, errsz, "--health-grpc-service: a name of at most %d bytes",
			 HEALTH_GRPC_SERVICE_MAX);
		return -1;
	}
	if (opts->sni && (!opts->sni[0] || strpbrk(opts->sni, ":/[]@ "))) {
		snprintf(err, errsz, "--health-sni \"%s\": not a host name", opts->sni);
		return -1;
	}
	return 0;
}

/* The check's URL: http://ADDRESS/path, or https:// with --health-tls (to
 * the SNI name, connected to the address, with --health-sni). 0 or -1. */
static int set_url(struct health *h, struct check *c, char *url, size_t urlsz)
{
	const struct health_options *o = &h->opts;
	const char *colon = strrchr(c->address, ':');
	const char *path = o->grpc ? HEALTH_GRPC_PATH : o->path;
	char to[BUS_ADDRESS_MAX + 300];

	if (!o->tls) {
		snprintf(url, urlsz, "http://%s%s", c->address, path);
		return 0;
	}
	curl_easy_setopt(c->easy, CURLOPT_SSL_VERIFYPEER, o->insecure ? 0L : 1L);
	curl_easy_setopt(c->easy, CURLOPT_SSL_VERIFYHOST, o->insecure ? 0L : 2L);
	if (o->ca)
		curl_easy_setopt(c->easy, CURLOPT_CAINFO, o->ca);
	if (!o->sni || !colon) {
		snprintf(url, urlsz, "https://%s%s", c->address, path);
		return 0;
	}
	snprintf(url, urlsz, "https://%s%s%s", o->sni, colon, path);
	snprintf(to, sizeof(to), "%s%s:%s", o->sni, colon, c->address);
	c->connect_to = curl_slist_append(NULL, to);
	if (!c->connect_to)
		return -1;
	curl_easy_setopt(c->easy, CURLOPT_CONNECT_TO, c->connect_to);
	return 0;
}

/* --health-grpc: a POST of HealthCheckRequest over HTTP/2 (prior knowledge
 * in clear text, ALPN over TLS); the answer is read by write_grpc and
 * header_grpc. 0, or -1. */
static int grpc_check(struct health *h, struct check *c)
{
	unsigned char req[HEALTH_GRPC_REQUEST_MAX];
	size_t n = health_grpc_request(h->opts.grpc_service ? h->opts.grpc_service : "", req);
	struct curl_slist *l;

	c->grpc_status = -1;
	c->fields = curl_slist_append(NULL, "content-type: application/grpc");
	if (!c->fields || !(l = curl_slist_append(c->fields, "te: trailers")))
		return -1;	/* the caller frees c->fields */
	c->fields = l;
	curl_easy_setopt(c->easy, CURLOPT_HTTP_VERSION,
			 h->opts.tls ? (long)CURL_HTTP_VERSION_2TLS
				     : (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
	curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, c->fields);
	curl_easy_setopt(c->easy, CURLOPT_POSTFIELDSIZE, (long)n);
	curl_easy_setopt(c->easy, CURLOPT_COPYPOSTFIELDS, req);
	curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, write_grpc);
	curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(c->easy, CURLOPT_HEADERFUNCTION, header_grpc);
	curl_easy_setopt(c->easy, CURLOPT_HEADERDATA, c);
	return 0;
}

static void start_check(struct health *h, struct entry *e)
{
	struct check *c = calloc(1, sizeof(*c));
	char url[BUS_ADDRESS_MAX + 256];

	if (!c || !(c->easy = curl_easy_init())) {
		free(c);
		return;
	}
	snprintf(c->address, sizeof(c->address), "%s", e->address);
	c->h = h;
	if (set_url(h, c, url, sizeof(url)) == -1) {
		curl_easy_cleanup(c->easy);
		free(c);
		return;
	}
	curl_easy_setopt(c->easy, CURLOPT_URL, url);
	curl_easy_setopt(c->easy, CURLOPT_TIMEOUT_MS, (long)(h->opts.timeout * 1000));
	curl_easy_setopt(c->easy, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c->easy, CURLOPT_USERAGENT, "lb-discover health check");
	curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, write_nothing);
	/* a fresh connection each time: a check must see the backend as a new
	 * client would */
	curl_easy_setopt(c->easy, CURLOPT_FORBID_REUSE, 1L);
	if (h->opts.grpc && grpc_check(h, c) == -1) {
		curl_easy_cleanup(c->easy);
		curl_slist_free_all(c->connect_to);
		curl_slist_free_all(c->fields);
		free(c);
		return;
	}
	if (curl_ev_add(h->curl, c->easy, check_done, c) == -1) {
		curl_easy_cleanup(c->easy);
		curl_slist_free_all(c->connect_to);
		curl_slist_free_all(c->fields);
		free(c);
		return;
	}
	c->next = h->running;
	h->running = c;
	h->nrunning++;
	e->checking = 1;
}

/* Seconds between ticks for n entries: one entry per tick, or a batch every
 * HEALTH_TICK_MIN. */
static double tick_period(const struct health *h, size_t n)
{
	double t = h->opts.interval / (double)(n ? n : 1);

	return t < HEALTH_TICK_MIN ? HEALTH_TICK_MIN : t;
}

/* Visits entries at n per interval, starting a check on each published one
 * not being checked, while fewer than `concurrency` run; the cursor waits at
 * the limit, so a slow round takes longer instead of piling up checks. */
static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct health *h = w->data;
	struct registry *r = h->reg;
	double period = tick_period(h, r->n), now = ev_now(loop);
	(void)revents;

	/* by the time that passed: a late tick visits more */
	h->owed += (double)r->n * (now - h->last_tick) / h->opts.interval;
	h->last_tick = now;
	if (h->owed > (double)r->n)
		h->owed = (double)r->n;
	while (h->owed >= 1 && r->n && h->nrunning < h->opts.concurrency) {
		struct entry *e;

		if (h->cursor >= r->n)
			h->cursor = 0;
		e = &r->entries[h->cursor++];
		h->owed -= 1;
		if (registry_published(e) && !e->checking)
			start_check(h, e);
	}
	w->repeat = period;
	ev_timer_again(loop, w);
}

struct health *health_start(struct ev_loop *loop, struct registry *reg,
			    const struct health_options *opts, health_change_cb on_change,
			    void *data)
{
	struct health *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->curl = curl_ev_new(loop);
	if (!h->curl) {
		free(h);
		return NULL;
	}
	h->loop = loop;
	h->reg = reg;
	h->opts = *opts;
	h->on_change = on_change;
	h->data = data;
	h->last_tick = ev_now(loop);
	ev_init(&h->tick, on_tick);
	h->tick.repeat = tick_period(h, reg->n);
	h->tick.data = h;
	ev_timer_again(loop, &h->tick);
	return h;
}

void health_stop(struct health *h)
{
	if (!h)
		return;
	ev_timer_stop(h->loop, &h->tick);
	while (h->running) {
		struct check *c = h->running;

		h->running = c->next;
		curl_ev_remove(h->curl, c->easy);
		curl_easy_cleanup(c->easy);
		curl_slist_free_all(c->connect_to);
		curl_slist_free_all(c->fields);
		free(c);
	}
	curl_ev_free(h->curl);
	free(h);
}
