/* otlp_span: a finished span's fixed-size record (see otlp_span.h). */
#include "otlp_span.h"

#include <string.h>

void otlp_span_reset(struct otlp_span *sp)
{
	sp->has_parent = 0;
	sp->kind = OTLP_KIND_UNSPECIFIED;
	sp->status = OTLP_STATUS_UNSET;
	sp->name[0] = '\0';
	sp->start_ns = sp->end_ns = 0;
	sp->nattrs = sp->nevents = 0;
	sp->text_len = 0;
}

void otlp_span_name(struct otlp_span *sp, const char *name, size_t n)
{
	if (n >= sizeof(sp->name))
		n = sizeof(sp->name) - 1;
	n = otlp_utf8_copy(name, n, sp->name);
	sp->name[n] = '\0';
}

/* The length of the UTF-8 character at s (n bytes left), or 0 when it is
 * not one (RFC 3629: no overlong forms, no surrogates, at most U+10FFFF). */
static size_t utf8_char(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

size_t otlp_utf8_copy(const char *s, size_t n, char *repair)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		size_t len;

		if (u[i] < 0x80) {	/* ASCII: most of it, copied byte by byte */
			if (repair)
				repair[i] = s[i];
			i++;
			continue;
		}
		len = utf8_char(u + i, n - i);
		if (len == 0) {
			if (!repair)
				return i;
			repair[i++] = '?';
			continue;
		}
		if (repair)
			memcpy(repair + i, s + i, len);
		i += len;
	}
	return i;
}

static struct otlp_attr *next_attr(struct otlp_span *sp, const char *key, size_t key_len,
				   enum otlp_value_type type)
{
	struct otlp_attr *a;

	if (sp->nattrs == OTLP_SPAN_ATTRS_MAX)
		return NULL;
	a = &sp->attrs[sp->nattrs++];
	a->key = key;
	a->key_len = (uint8_t)key_len;
	a->type = type;
	return a;
}

/* 1 when the 8 bytes of w are all printable ASCII other than '"' and '\\':
 * copied as they are and written into JSON unescaped. Word at a time (the
 * classic "has a byte less than" tests): the text of a span is mostly such
 * bytes, and checking them one by one was most of a span's cost. */
static int word_plain(uint64_t w)
{
	const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
	uint64_t quote = w ^ (ones * '"'), backslash = w ^ (ones * '\\');

	return !((w | ((w - ones * 0x20) & ~w) | ((quote - ones) & ~quote) |
		  ((backslash - ones) & ~backslash)) & high);
}

/* 1 when s[0, n) is all plain bytes (as word_plain). */
static int text_plain(const char *s, size_t n)
{
	uint64_t w;
	size_t i = 0;

	if (n < 8) {
		w = 0x2020202020202020ULL;	/* spaces: plain */
		for (; i < n; i++)
			w = w << 8 | (unsigned char)s[i];
		return word_plain(w);
	}
	for (; i + 8 < n; i += 8) {
		memcpy(&w, s + i, 8);
		if (!word_plain(w))
			return 0;
	}
	memcpy(&w, s + n - 8, 8);	/* the last word, overlapping the one before */
	return word_plain(w);
}

int otlp_span_add_strv(struct otlp_span *sp, const char *key, size_t key_len,
		       const struct iovec *parts, size_t n)
{
	struct otlp_attr *a = next_attr(sp, key, key_len, OTLP_VALUE_STRING);

	if (!a)
		return -1;
	a->off = (uint16_t)sp->text_len;
	a->plain = 1;
	for (size_t i = 0; i < n; i++) {
		const char *v = parts[i].iov_base;
		size_t len = parts[i].iov_len, room = sizeof(sp->text) - sp->text_len;

		if (len > room) {
			/* cut on a character's boundary */
			len = room;
			while (len > 0 && ((unsigned char)v[len] & 0xc0) == 0x80)
				len--;
		}
		if (text_plain(v, len)) {	/* the common case: one copy */
			memcpy(sp->text + sp->text_len, v, len);
			sp->text_len += len;
			continue;
		}
		a->plain = 0;
		sp->text_len += otlp_utf8_copy(v, len, sp->text + sp->text_len);
	}
	a->len = (uint16_t)(sp->text_len - a->off);
	return 0;
}

int otlp_span_add_str(struct otlp_span *sp, const char *key, size_t key_len, const char *v,
		      size_t n)
{
	struct iovec one = { (void *)v, n };

	return otlp_span_add_strv(sp, key, key_len, &one, 1);
}

int otlp_span_add_int(struct otlp_span *sp, const char *key, size_t key_len, long long v)
{
	struct otlp_attr *a = next_attr(sp, key, key_len, OTLP_VALUE_INT);

	if (!a)
		return -1;
	a->i = v;
	return 0;
}

int otlp_span_event(struct otlp_span *sp, const char *name, uint64_t time_ns)
{
	if (sp->nevents == OTLP_SPAN_EVENTS_MAX)
		return -1;
	sp->events[sp->nevents].name = name;
	sp->events[sp->nevents].time_ns = time_ns;
	sp->nevents++;
	return 0;
}
