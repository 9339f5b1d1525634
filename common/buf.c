/* buf: the one growable byte buffer of lb (see buf.h for its rules). */
#include "buf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void buf_init(struct buf *b)
{
	b->data = NULL;
	b->pos = b->len = b->cap = 0;
}

void buf_release(struct buf *b)
{
	free(b->data);
	buf_init(b);
}

int buf_reserve(struct buf *b, size_t n)
{
	size_t want, cap;
	char *p;

	if (b->cap - b->len >= n)
		return 0;
	if (b->pos > 0 && b->cap - (b->len - b->pos) >= n) {
		buf_compact(b);
		return 0;
	}
	want = b->len + n;
	if (want < n)
		return -1;
	cap = b->cap ? b->cap : 256;
	while (cap < want) {
		if (cap > ((size_t)-1) / 2)
			return -1;
		cap *= 2;
	}
	p = realloc(b->data, cap);
	if (!p)
		return -1;
	b->data = p;
	b->cap = cap;
	return 0;
}

int buf_append_grow(struct buf *b, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	if (buf_reserve(b, n) == -1)
		return -1;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

int buf_append_str(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int buf_vappendf(struct buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	if (buf_reserve(b, 64) == -1)
		return -1;
	va_copy(cp, ap);
	n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, cp);
	va_end(cp);
	if (n < 0)
		return -1;
	if ((size_t)n >= b->cap - b->len) {
		if (buf_reserve(b, (size_t)n + 1) == -1)
			return -1;
		n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
		if (n < 0)
			return -1;
	}
	b->len += (size_t)n;
	return 0;
}

int buf_appendf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = buf_vappendf(b, fmt, ap);
	va_end(ap);
	return rc;
}

int buf_append_json_escaped(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, start = 0;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[6];
		size_t elen = 2;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		if (buf_append(b, s + start, i - start) == -1)
			return -1;
		start = i + 1;
		esc[0] = '\\';
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			elen = 6;
		}
		if (buf_append(b, esc, elen) == -1)
			return -1;
	}
	return buf_append(b, s + start, n - start);
}

int buf_read_file(struct buf *b, const char *path)
{
	FILE *fp = fopen(path, "rb");
	int saved;

	if (!fp)
		return -1;
	for (;;) {
		size_t got;

		if (buf_reserve(b, 4096 + 1) == -1) {
			errno = ENOMEM;
			goto fail;
		}
		got = fread(b->data + b->len, 1, buf_room(b) - 1, fp);
		b->len += got;
		if (got == 0)
			break;
	}
	if (ferror(fp))
		goto fail;
	fclose(fp);
	b->data[b->len] = '\0';
	return 0;
fail:
	saved = errno;
	fclose(fp);
	errno = saved;
	return -1;
}

void buf_consume(struct buf *b, size_t n)
{
	b->pos += n;
	if (b->pos >= b->len)
		b->pos = b->len = 0;
}

void buf_compact(struct buf *b)
{
	if (b->pos == 0)
		return;
	memmove(b->data, b->data + b->pos, b->len - b->pos);
	b->len -= b->pos;
	b->pos = 0;
}

#define BUF_CACHE_MAX 512	/* blocks kept: 16 MiB at most */

static char *cache_blocks[BUF_CACHE_MAX];
static size_t cache_count;

void buf_cache_take(struct buf *b)
{
	if (b->cap != 0 || cache_count == 0)
		return;
	b->data = cache_blocks[--cache_count];
	b->cap = BUF_CACHE_BLOCK;
	b->pos = b->len = 0;
}

void buf_cache_give(struct buf *b)
{
	if (b->cap == BUF_CACHE_BLOCK && cache_count < BUF_CACHE_MAX) {
		cache_blocks[cache_count++] = b->data;
		buf_init(b);
		return;
	}
	buf_release(b);
}

size_t buf_cache_trim(size_t keep)
{
	size_t freed = 0;

	while (cache_count > keep) {
		free(cache_blocks[--cache_count]);
		freed++;
	}
	return freed;
}

void buf_cache_release(void)
{
	buf_cache_trim(0);
}

ssize_t buf_read_fd(struct buf *b, int fd, size_t chunk)
{
	ssize_t n;

	if (buf_reserve(b, chunk) == -1) {
		errno = ENOMEM;
		return -1;
	}
	n = read(fd, buf_tail(b), buf_room(b));
	if (n > 0)
		b->len += (size_t)n;
	return n;
}

int buf_write_fd(struct buf *b, int fd)
{
	while (buf_unread(b)) {
		ssize_t n = write(fd, buf_head(b), buf_unread(b));

		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			return -1;
		}
		buf_consume(b, (size_t)n);
	}
	return 1;
}
