#include "util/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/utf8.h"
#include "util/xalloc.h"

void buf_reserve(struct buf *b, size_t extra)
{
	size_t need = b->len + extra + 1;
	size_t cap;

	if (need <= b->cap)
		return;
	if (need < extra) /* wrapped: no such size can be had */
		xalloc_fail(SIZE_MAX);
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	b->p = xrealloc(b->p, cap);
	b->cap = cap;
}

void buf_append_slow(struct buf *b, const void *data, size_t len)
{
	buf_reserve(b, len);
	memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) /* a format our own callers got wrong, not a lack of memory */
		abort();
	buf_reserve(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

static void put_u_escape(struct buf *b, unsigned v)
{
	static const char hex[] = "0123456789abcdef";
	char *p = b->p + b->len;

	memcpy(p, "\\u", 2);
	p[2] = hex[v >> 12 & 15];
	p[3] = hex[v >> 8 & 15];
	p[4] = hex[v >> 4 & 15];
	p[5] = hex[v & 15];
	b->len += 6;
}

/* Bytes that are not UTF-8 never reach the output: the forms jsonrpc_fix_escapes makes
 * (C0 80 for NUL, ED xx xx for a lone surrogate) go back to their escapes, anything else
 * becomes U+FFFD. So every JSON text we write is valid UTF-8. */
static size_t escape_bad(struct buf *b, const unsigned char *s, size_t left)
{
	if (left >= 2 && s[0] == 0xc0 && s[1] == 0x80) {
		put_u_escape(b, 0);
		return 2;
	}
	if (left >= 3 && s[0] == 0xed && s[1] >= 0xa0 && (s[2] & 0xc0) == 0x80) {
		put_u_escape(b, 0xd000u | (unsigned)(s[1] & 0x3f) << 6 | (s[2] & 0x3f));
		return 3;
	}
	put_u_escape(b, 0xfffd);
	return 1;
}

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* Nonzero when one of the 8 bytes in w needs more than a copy: a control character, '"',
 * '\\', or a byte of a multi-byte sequence (which is checked). Text is mostly plain, so it
 * goes 8 bytes at a time. */
static inline uint64_t json_special(uint64_t w)
{
	uint64_t quote = w ^ (ONES * '"'), bslash = w ^ (ONES * '\\');

	return (((w - ONES * 0x20) & ~w) | ((quote - ONES) & ~quote) | ((bslash - ONES) & ~bslash) |
		w) & HIGHS;
}

void buf_json_string(struct buf *b, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;

	buf_reserve(b, len * 6 + 2);
	b->p[b->len++] = '"';
	for (size_t i = 0; i < len;) {
		unsigned char c;
		size_t n;
		uint64_t w;

		if (len - i >= 8 && (memcpy(&w, u + i, 8), !json_special(w))) {
			memcpy(b->p + b->len, &w, 8);
			b->len += 8;
			i += 8;
			continue;
		}
		c = u[i];
		if (c == '"' || c == '\\') {
			b->p[b->len++] = '\\';
			b->p[b->len++] = (char)c;
			i++;
		} else if (c < 0x20) {
			const char *esc = c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;

			if (esc) {
				memcpy(b->p + b->len, esc, 2);
				b->len += 2;
			} else {
				put_u_escape(b, c);
			}
			i++;
		} else if (c < 0x80) {
			b->p[b->len++] = (char)c;
			i++;
		} else if ((n = utf8_seq_len(u + i, len - i))) {
			memcpy(b->p + b->len, u + i, n);
			b->len += n;
			i += n;
		} else {
			i += escape_bad(b, u + i, len - i);
		}
	}
	b->p[b->len++] = '"';
	b->p[b->len] = '\0';
}

size_t buf_utf8_prefix(const char *s, size_t max)
{
	return utf8_prefix(s, max);
}

char *buf_take(struct buf *b)
{
	char *p = b->p;

	if (!p)
		p = xcalloc(1, 1);
	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}

void buf_free(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

size_t buf_fmt_u64(char *out, uint64_t v)
{
	char tmp[20];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

void buf_put_u64(struct buf *b, uint64_t v)
{
	char digits[20];

	buf_append(b, digits, buf_fmt_u64(digits, v));
}

void buf_put_hex(struct buf *b, uint64_t v)
{
	char tmp[16];
	size_t n = 0;
	char out[16];

	do {
		tmp[n++] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	buf_append(b, out, n);
}
