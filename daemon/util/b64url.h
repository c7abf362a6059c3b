#ifndef MCPCHAT_UTIL_B64URL_H
#define MCPCHAT_UTIL_B64URL_H

#include <stddef.h>

/* base64url (RFC 4648 section 5) without padding: ids that go into URLs, headers and shell
 * arguments. Prefix b64url; pure, nothing allocated: the caller provides the output. */

/* "A..Za..z0..9-_": the digit of each 6-bit value. */
extern const char b64url_alphabet[65];

/* Characters that n bytes encode to (no padding, no NUL). */
static inline size_t b64url_encoded_len(size_t n)
{
	return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

/* Bytes that len characters decode to; len % 4 == 1 is never a valid length. */
static inline size_t b64url_decoded_len(size_t len)
{
	return len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
}

/* Writes the encoding of in[0..n) and a NUL to out (b64url_encoded_len(n) + 1 bytes);
 * returns the number of characters. */
size_t b64url_encode(const void *in, size_t n, char *out);

/* Decodes in[0..len) into out (b64url_decoded_len(len) bytes) and stores that length in
 * *out_len (may be NULL). Returns 0, or -EINVAL for a character outside the alphabet, a
 * length of 4k + 1, or nonzero unused bits in the last character (only one spelling of
 * each byte string is accepted); out may be partly written then. */
int b64url_decode(const char *in, size_t len, void *out, size_t *out_len);
/* The same for standard base64 (RFC 4648 section 4: "+/", "=" padding optional but exact),
 * as MCP's "=?base64?...?=" header values carry it. */
int b64url_decode_std(const char *in, size_t len, void *out, size_t *out_len);

#endif
