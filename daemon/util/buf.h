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

/* None of these can fail: growth goes through util/xalloc.h, which aborts when memory
 * runs out (the policy is written there). So nothing is ever half appended. */
void buf_reserve(struct buf *b, size_t extra);
void buf_append_slow(struct buf *b, const void *data, size_t len);
/* Inline: most appends fit, and then they are a copy of a size often known here. */
static inline void buf_append(struct buf *b, const void *data, size_t len)
{
	if (b->len + len + 1 > b->cap) {
		buf_append_slow(b, data, len);
		return;
	}
	__builtin_memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
}
/* Inline so that the length of a literal is known at compile time. */
static inline void buf_puts(struct buf *b, const char *s)
{
	buf_append(b, s, __builtin_strlen(s));
}
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Decimal and lower-case hex, without printf (they are on every response). */
void buf_put_u64(struct buf *b, uint64_t v);
void buf_put_hex(struct buf *b, uint64_t v);
/* Writes v in decimal at out (room for 20 digits); returns the length. */
size_t buf_fmt_u64(char *out, uint64_t v);
/* Appends s as a JSON string literal, quotes included; bytes that are not UTF-8 are
 * escaped (see buf.c), so the result is always valid UTF-8. */
void buf_json_string(struct buf *b, const char *s, size_t len);
/* The longest prefix of s of at most max bytes that ends on a character boundary: the same
 * as utf8_prefix (util/utf8.h), kept under this name for its callers in mcp.c. */
size_t buf_utf8_prefix(const char *s, size_t max);
/* Hands the bytes to the caller (free() them) and empties b. Never NULL. */
char *buf_take(struct buf *b) __attribute__((returns_nonnull));
void buf_free(struct buf *b);

#endif
