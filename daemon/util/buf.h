#ifndef MCPCHAT_BUF_H
#define MCPCHAT_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* A growable byte buffer; p is NUL-terminated whenever len > 0 or after buf_cstr(). */
struct buf {
	char *p;
	size_t len, cap;
};

#define BUF_INIT { NULL, 0, 0 }

/* All return 0 or -ENOMEM (the buffer is left as it was). */
int buf_reserve(struct buf *b, size_t extra);
int buf_append_slow(struct buf *b, const void *data, size_t len);
/* Inline: most appends fit, and then they are a copy of a size often known here. */
static inline int buf_append(struct buf *b, const void *data, size_t len)
{
	if (b->len + len + 1 > b->cap)
		return buf_append_slow(b, data, len);
	__builtin_memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
	return 0;
}
/* Inline so that the length of a literal is known at compile time. */
static inline int buf_puts(struct buf *b, const char *s)
{
	return buf_append(b, s, __builtin_strlen(s));
}
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Decimal and lower-case hex, without printf (they are on every response). */
int buf_put_u64(struct buf *b, uint64_t v);
int buf_put_hex(struct buf *b, uint64_t v);
/* Writes v in decimal at out (room for 20 digits); returns the length. */
size_t buf_fmt_u64(char *out, uint64_t v);
/* Appends s as a JSON string literal, quotes included; bytes that are not UTF-8 are
 * escaped (see buf.c), so the result is always valid UTF-8. */
int buf_json_string(struct buf *b, const char *s, size_t len);
/* The longest prefix of s of at most max bytes that ends on a character boundary: the same
 * as utf8_prefix (util/utf8.h), kept under this name for its callers in mcp.c. */
size_t buf_utf8_prefix(const char *s, size_t max);
/* Hands the bytes to the caller (free() them) and empties b. Never NULL on success. */
char *buf_take(struct buf *b);
void buf_free(struct buf *b);

#endif
