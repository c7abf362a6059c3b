#include "util/b64url.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

const char b64url_alphabet[65] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t b64url_encode(const void *in, size_t n, char *out)
{
	const unsigned char *p = in;
	size_t o = 0, i;

	for (i = 0; i + 3 <= n; i += 3) {
		uint32_t x = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];

		for (int j = 0; j < 4; j++)
			out[o++] = b64url_alphabet[(x >> (18 - 6 * j)) & 63];
	}
	if (i < n) {
		/* One or two bytes left: two or three digits, the unused low bits zero. */
		uint32_t x = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);

		for (size_t j = 0; j <= n - i; j++)
			out[o++] = b64url_alphabet[(x >> (18 - 6 * j)) & 63];
	}
	out[o] = '\0';
	return o;
}

/* The 6-bit value of digit ch, or -1; std picks RFC 4648 section 4's "+/" for 62 and 63. */
static int digit_value(unsigned char ch, bool std)
{
	if (std)
		return ch == '+' ? 62 : ch == '/' ? 63 : ch == '-' || ch == '_' ? -1 : digit_value(ch, false);
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '-')
		return 62;
	if (ch == '_')
		return 63;
	return -1;
}

static int decode(const char *in, size_t len, void *out, size_t *out_len, bool std)
{
	unsigned char *o = out;
	size_t n = 0;
	uint32_t acc = 0;
	unsigned bits = 0;

	if (len % 4 == 1)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		int d = digit_value((unsigned char)in[i], std);

		if (d < 0)
			return -EINVAL;
		acc = acc << 6 | (uint32_t)d;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			o[n++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (acc) /* the bits left over must be zero padding */
		return -EINVAL;
	if (out_len)
		*out_len = n;
	return 0;
}

int b64url_decode(const char *in, size_t len, void *out, size_t *out_len)
{
	return decode(in, len, out, out_len, false);
}

int b64url_decode_std(const char *in, size_t len, void *out, size_t *out_len)
{
	/* Padding, when present, must make whole quanta of four. */
	if (len >= 1 && in[len - 1] == '=') {
		if (len % 4)
			return -EINVAL;
		len -= len >= 2 && in[len - 2] == '=' ? 2 : 1;
	}
	return decode(in, len, out, out_len, true);
}
