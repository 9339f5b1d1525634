/* buf: the one growable byte buffer of lb, with a read position for I/O queues. */
#ifndef LB_BUF_H
#define LB_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/types.h>

/*
 * Rules:
 * - `data` is NULL only while `cap` is 0 (a fresh or released buffer); once
 *   allocated it is reused until buf_release(): consuming never frees.
 * - Bytes [pos, len) are the unread content; [0, pos) was consumed and is
 *   reclaimed by buf_compact() or when the buffer empties (pos = len = 0).
 * - `len <= cap` always; the buffer is not NUL-terminated unless a function
 *   says so (buf_appendf keeps a NUL after `len` but does not count it).
 * - Pointers into `data` are invalidated by any call that may grow the buffer.
 */
struct buf {
	char *data;
	size_t pos;
	size_t len;
	size_t cap;
};

#define BUF_INIT { NULL, 0, 0, 0 }

void buf_init(struct buf *b);
/* Frees the storage; the buffer is again as after buf_init(). */
void buf_release(struct buf *b);
/* Ensures room for `n` more bytes after `len`; returns 0 or -1 on ENOMEM. */
int buf_reserve(struct buf *b, size_t n);
/* Appends n bytes; returns 0 or -1 on ENOMEM. Inline while they fit (a
 * request's head is built of dozens of small appends); buf_append_grow
 * makes room otherwise. */
int buf_append_grow(struct buf *b, const void *p, size_t n);
static inline int buf_append(struct buf *b, const void *p, size_t n)
{
	if (n == 0 || b->cap - b->len < n)
		return buf_append_grow(b, p, n);
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}
int buf_append_str(struct buf *b, const char *s);
/* printf-style append; returns 0 or -1. */
int buf_appendf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int buf_vappendf(struct buf *b, const char *fmt, va_list ap);
/* Appends `s` (n bytes) escaped for use inside a JSON string (no quotes). */
int buf_append_json_escaped(struct buf *b, const char *s, size_t n);
/* Appends the whole file at `path` and keeps a NUL after `len` (not counted),
 * so `data` is never NULL afterwards. Start-up and small files only (it
 * blocks). Returns 0, or -1 with errno set. */
int buf_read_file(struct buf *b, const char *path);
/* Marks `n` unread bytes as consumed; empties the buffer when all are. */
void buf_consume(struct buf *b, size_t n);
/* Writes b's unread bytes to the non-blocking fd and consumes what went
 * out. Returns 1 when all went out, 0 when fd would block (call again when
 * it is writable), -1 on another error (errno set). */
int buf_write_fd(struct buf *b, int fd);
/* Reads once from the non-blocking fd into at least `chunk` bytes of room
 * and appends what came. Returns the bytes read, 0 when the peer closed, or
 * -1 with errno (EAGAIN or EINTR: nothing now, call again when readable;
 * ENOMEM; another: the connection failed). */
ssize_t buf_read_fd(struct buf *b, int fd, size_t chunk);
/* Moves the unread bytes to the start of the storage. */
void buf_compact(struct buf *b);
/* Forgets the content, keeps the storage. */
static inline void buf_reset(struct buf *b) { b->pos = b->len = 0; }
static inline size_t buf_unread(const struct buf *b) { return b->len - b->pos; }
static inline char *buf_head(const struct buf *b) { return b->data + b->pos; }
static inline char *buf_tail(const struct buf *b) { return b->data + b->len; }
static inline size_t buf_room(const struct buf *b) { return b->cap - b->len; }

/*
 * A process-wide cache of BUF_CACHE_BLOCK-byte storage blocks: a connection
 * that goes idle gives its read buffers back, a busy one takes them, and
 * neither calls malloc. Single-threaded, like the programs.
 */
#define BUF_CACHE_BLOCK (32 * 1024)
/* Gives b (which must have no storage) a cached block, if there is one. */
void buf_cache_take(struct buf *b);
/* Takes b's storage back (a block is kept, anything else freed); b ends
 * up as after buf_init(). */
void buf_cache_give(struct buf *b);
/* Frees cached blocks beyond `keep`; returns how many it freed. */
size_t buf_cache_trim(size_t keep);
/* Frees the cached blocks (at exit). */
void buf_cache_release(void);

#endif
