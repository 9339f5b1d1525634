/* metrics_merge: several workers' /metrics as one proxy's (see metrics_merge.h).
 * Once per scrape, off the request path: it allocates freely. */
#include "metrics_merge.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How the workers' values of one series make the proxy's. */
enum merge_rule {
	MERGE_SUM = 0,	/* counters, histograms, load gauges: each worker holds its share */
	MERGE_MAX,	/* state every worker holds alike, or "in at least one worker" */
	MERGE_MEAN,	/* ratios */
};

/* The gauges that are not a load: everything else is summed. */
static const struct {
	const char *family;
	enum merge_rule rule;
} rules[] = {
	{ "lb_proxy_backend_breaker_state", MERGE_MAX },	/* open in some worker */
	{ "lb_proxy_backend_up", MERGE_MAX },
	{ "lb_proxy_listener_info", MERGE_MAX },
	{ "lb_proxy_panic", MERGE_MAX },
	{ "lb_proxy_rate_limit_proxies", MERGE_MAX },
	{ "lb_proxy_set_generation", MERGE_MAX },
	{ "lb_proxy_set_stale", MERGE_MAX },
	{ "lb_proxy_tls_cert_expiry_seconds", MERGE_MAX },
	{ "lb_proxy_uptime_seconds", MERGE_MAX },
	{ "lb_proxy_tls_resumption_ratio", MERGE_MEAN },
};

#define NONE UINT32_MAX

struct entry {
	const char *text;	/* a comment line (without '\n'), or a series' name{labels} */
	uint32_t len;
	uint32_t family;
	uint32_t next;		/* the entry after this one in the output, NONE at the end */
	uint32_t count;		/* workers that reported the series */
	double value;
	unsigned char comment;
};

struct family {
	const char *name;
	uint32_t len;
	uint32_t last;		/* its last entry so far: a new series goes after it */
	enum merge_rule rule;
	unsigned char help, type;	/* its HELP / TYPE line is in */
};

/* One open-addressing table for both kinds of names (kind 0 family, 1 series). */
struct slot {
	const char *key;
	uint32_t len;
	uint32_t idx;
	unsigned char kind;
};

struct merge {
	struct entry *e;
	size_t ne, ce;
	struct family *f;
	size_t nf, cf;
	struct slot *slots;
	size_t nslots, used;
	uint32_t head, tail;
};

static uint64_t hash(const char *s, size_t n, unsigned char kind)
{
	uint64_t h = 1469598103934665603ull ^ kind;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return h;
}

static struct slot *slot_find(struct merge *m, const char *k, size_t n, unsigned char kind)
{
	size_t mask = m->nslots - 1, i = (size_t)hash(k, n, kind) & mask;

	for (;; i = (i + 1) & mask) {
		struct slot *s = &m->slots[i];

		if (!s->key || (s->kind == kind && s->len == n && memcmp(s->key, k, n) == 0))
			return s;
	}
}

static int slots_grow(struct merge *m)
{
	struct slot *old = m->slots;
	size_t nold = m->nslots;

	m->nslots = nold ? nold * 2 : 1024;
	m->slots = calloc(m->nslots, sizeof(*m->slots));
	if (!m->slots) {
		m->slots = old;
		m->nslots = nold;
		return -1;
	}
	for (size_t i = 0; i < nold; i++)
		if (old[i].key)
			*slot_find(m, old[i].key, old[i].len, old[i].kind) = old[i];
	free(old);
	return 0;
}

/* The slot of (k, kind): found, or empty and reserved (idx NONE). NULL: no memory. */
static struct slot *slot_take(struct merge *m, const char *k, size_t n, unsigned char kind)
{
	struct slot *s;

	if ((m->used + 1) * 2 > m->nslots && slots_grow(m) == -1)
		return NULL;
	s = slot_find(m, k, n, kind);
	if (!s->key) {
		s->key = k;
		s->len = (uint32_t)n;
		s->kind = kind;
		s->idx = NONE;
		m->used++;
	}
	return s;
}

static int grow(void **p, size_t *cap, size_t size)
{
	size_t ncap = *cap ? *cap * 2 : 256;
	void *q = realloc(*p, ncap * size);

	if (!q)
		return -1;
	*p = q;
	*cap = ncap;
	return 0;
}

/* A new entry after `after` (NONE: at the end). Returns its index or NONE. */
static uint32_t entry_add(struct merge *m, uint32_t after, const char *text, size_t len,
			  uint32_t family, int comment)
{
	struct entry *e;
	uint32_t i;

	if (m->ne == m->ce && grow((void **)&m->e, &m->ce, sizeof(*m->e)) == -1)
		return NONE;
	i = (uint32_t)m->ne++;
	e = &m->e[i];
	memset(e, 0, sizeof(*e));
	e->text = text;
	e->len = (uint32_t)len;
	e->family = family;
	e->comment = (unsigned char)comment;
	if (after == NONE)
		after = m->tail;
	if (after == NONE) {
		e->next = NONE;
		m->head = m->tail = i;
	} else {
		e->next = m->e[after].next;
		m->e[after].next = i;
		if (m->tail == after)
			m->tail = i;
	}
	return i;
}

/* The family called name (made, at the end of the output, when new). Returns its index or NONE. */
static uint32_t family_of(struct merge *m, const char *name, size_t len)
{
	struct slot *s = slot_take(m, name, len, 0);
	struct family *f;

	if (!s)
		return NONE;
	if (s->idx != NONE)
		return s->idx;
	if (m->nf == m->cf && grow((void **)&m->f, &m->cf, sizeof(*m->f)) == -1)
		return NONE;
	s->idx = (uint32_t)m->nf++;
	f = &m->f[s->idx];
	memset(f, 0, sizeof(*f));
	f->name = name;
	f->len = (uint32_t)len;
	f->last = NONE;
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		if (strlen(rules[i].family) == len && memcmp(rules[i].family, name, len) == 0)
			f->rule = rules[i].rule;
	return s->idx;
}

/* Puts an entry at the end of family fi's (at the end of the output for its first). */
static uint32_t family_append(struct merge *m, uint32_t fi, const char *text, size_t len,
			      int comment)
{
	uint32_t i = entry_add(m, m->f[fi].last, text, len, fi, comment);

	if (i != NONE)
		m->f[fi].last = i;
	return i;
}

static size_t name_len(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && (s[i] == '_' || s[i] == ':' || (s[i] >= 'a' && s[i] <= 'z') ||
			 (s[i] >= 'A' && s[i] <= 'Z') || (i && s[i] >= '0' && s[i] <= '9')))
		i++;
	return i;
}

/* "# HELP name ..." or "# TYPE name ...": kept once per family, whose
 * index goes to *fam (the next samples are its); other comments are dropped.
 * Returns 0, or -1 out of memory. */
static int comment_line(struct merge *m, const char *s, size_t n, uint32_t *fam)
{
	int help = n > 7 && memcmp(s, "# HELP ", 7) == 0;
	int type = n > 7 && memcmp(s, "# TYPE ", 7) == 0;
	size_t nl;
	uint32_t fi;

	if (!help && !type)
		return 0;
	nl = name_len(s + 7, n - 7);
	if (nl == 0)
		return 0;
	fi = family_of(m, s + 7, nl);
	if (fi == NONE)
		return -1;
	*fam = fi;
	if ((help && m->f[fi].help) || (type && m->f[fi].type))
		return 0;
	if (family_append(m, fi, s, n, 1) == NONE)
		return -1;
	if (help)
		m->f[fi].help = 1;
	else
		m->f[fi].type = 1;
	return 0;
}

/* Where a series' key (name{labels}) ends in s[0..n), 0 when malformed. */
static size_t key_len(const char *s, size_t n)
{
	size_t i = name_len(s, n);
	int quoted = 0;

	if (i == 0 || i == n)
		return 0;
	if (s[i] != '{')
		return i;
	for (i++; i < n; i++) {
		if (quoted && s[i] == '\\')
			i++;
		else if (s[i] == '"')
			quoted = !quoted;
		else if (!quoted && s[i] == '}')
			return i + 1;
	}
	return 0;
}

static void combine(struct entry *e, enum merge_rule rule, double v)
{
	if (e->count++ == 0)
		e->value = v;
	else if (rule == MERGE_MAX)
		e->value = v > e->value ? v : e->value;
	else
		e->value += v;
}

/* One sample line of a part; *requests gathers lb_proxy_requests_total. */
static int sample_line(struct merge *m, const char *s, size_t n, uint32_t *fam, double *requests)
{
	size_t k = key_len(s, n), nl = name_len(s, n);
	char num[64], *end;
	const char *v;
	struct slot *slot;
	uint32_t fi = *fam;
	size_t vl;
	double d;

	if (k == 0 || k >= n || s[k] != ' ')
		return 0;
	for (v = s + k; v < s + n && *v == ' '; v++)
		;
	for (vl = 0; v + vl < s + n && v[vl] != ' '; vl++)
		;
	if (vl == 0 || vl >= sizeof(num))
		return 0;
	memcpy(num, v, vl);
	num[vl] = '\0';
	d = strtod(num, &end);
	if (*end)
		return 0;
	if (nl == 23 && memcmp(s, "lb_proxy_requests_total", 23) == 0)
		*requests += d;
	/* a sample of another family than the last TYPE's (none, or a mismatch):
	 * its own family, by its name without a histogram's suffix */
	if (fi == NONE || nl < m->f[fi].len || memcmp(s, m->f[fi].name, m->f[fi].len) != 0) {
		fi = family_of(m, s, nl);
		if (fi == NONE)
			return -1;
		*fam = fi;
	}
	slot = slot_take(m, s, k, 1);
	if (!slot)
		return -1;
	if (slot->idx == NONE) {
		if (m->ne >= METRICS_MERGE_SERIES_MAX)
			return 0;
		slot->idx = family_append(m, fi, s, k, 0);
		if (slot->idx == NONE)
			return -1;
	}
	combine(&m->e[slot->idx], m->f[m->e[slot->idx].family].rule, d);
	return 0;
}

static int part_read(struct merge *m, const struct metrics_part *p, double *requests)
{
	const char *s = p->text, *end = p->text + p->len;
	uint32_t fam = NONE;

	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);
		int rc = 0;

		if (n && s[n - 1] == '\r')
			n--;
		if (n && s[0] == '#')
			rc = comment_line(m, s, n, &fam);
		else if (n)
			rc = sample_line(m, s, n, &fam, requests);
		if (rc == -1)
			return -1;
		s += (nl ? (size_t)(nl - s) + 1 : n);
		if (!nl)
			break;
	}
	return 0;
}

static int value_append(struct buf *out, double v)
{
	if (isnan(v))
		return buf_append_str(out, "NaN");
	if (isinf(v))
		return buf_append_str(out, v > 0 ? "+Inf" : "-Inf");
	if (v == floor(v) && fabs(v) < 9007199254740992.0)
		return buf_appendf(out, "%.0f", v);
	return buf_appendf(out, "%.17g", v);
}

static int render(struct merge *m, struct buf *out, const struct metrics_part *parts, size_t n,
		  const double *requests)
{
	for (uint32_t i = m->head; i != NONE; i = m->e[i].next) {
		const struct entry *e = &m->e[i];
		double v = e->value;

		if (buf_append(out, e->text, e->len) == -1)
			return -1;
		if (!e->comment) {
			if (m->f[e->family].rule == MERGE_MEAN && e->count)
				v /= e->count;
			if (buf_append(out, " ", 1) == -1 || value_append(out, v) == -1)
				return -1;
		}
		if (buf_append(out, "\n", 1) == -1)
			return -1;
	}
	if (buf_append_str(out, "# HELP lb_proxy_worker_requests_total Requests each worker "
			   "answered (its lb_proxy_requests_total).\n"
			   "# TYPE lb_proxy_worker_requests_total counter\n") == -1)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (buf_appendf(out, "lb_proxy_worker_requests_total{worker=\"%u\",pid=\"%ld\"} ",
				parts[i].worker, (long)parts[i].pid) == -1 ||
		    value_append(out, requests[i]) == -1 || buf_append(out, "\n", 1) == -1)
			return -1;
	return 0;
}

int metrics_merge(struct buf *out, const struct metrics_part *parts, size_t n)
{
	struct merge m;
	double *requests = calloc(n ? n : 1, sizeof(*requests));
	int rc = -1;

	memset(&m, 0, sizeof(m));
	m.head = m.tail = NONE;
	if (!requests || slots_grow(&m) == -1)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (part_read(&m, &parts[i], &requests[i]) == -1)
			goto out;
	rc = render(&m, out, parts, n, requests);
out:
	free(requests);
	free(m.e);
	free(m.f);
	free(m.slots);
	return rc;
}
