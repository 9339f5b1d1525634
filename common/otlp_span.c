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

static struct otlp_attr *next_attr(struct otlp_span *sp, const char *key,
				   enum otlp_value_type type)
{
	struct otlp_attr *a;

	if (sp->nattrs == OTLP_SPAN_ATTRS_MAX)
		return NULL;
	a = &sp->attrs[sp->nattrs++];
	a->key = key;
	a->key_len = (uint8_t)strlen(key);
	a->type = type;
	return a;
}

int otlp_span_strv(struct otlp_span *sp, const char *key, const struct iovec *parts, size_t n)
{
	struct otlp_attr *a = next_attr(sp, key, OTLP_VALUE_STRING);

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
		for (size_t j = 0; j < len && a->plain; j++)
			a->plain = (unsigned char)v[j] >= 0x20 && v[j] != '"' && v[j] != '\\';
		sp->text_len += otlp_utf8_copy(v, len, sp->text + sp->text_len);
	}
	a->len = (uint16_t)(sp->text_len - a->off);
	return 0;
}

int otlp_span_str(struct otlp_span *sp, const char *key, const char *v, size_t n)
{
	struct iovec one = { (void *)v, n };

	return otlp_span_strv(sp, key, &one, 1);
}

int otlp_span_int(struct otlp_span *sp, const char *key, long long v)
{
	struct otlp_attr *a = next_attr(sp, key, OTLP_VALUE_INT);

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
