#ifndef MCPCHAT_SHA256_H
#define MCPCHAT_SHA256_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

/* SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104), for integrity tags the daemon hands to
 * clients and checks when they come back (MCP requestState). Pure; nothing allocated. */

#define SHA256_LEN 32

struct sha256 {
	uint32_t h[8];
	uint8_t block[64];
	size_t fill;
	uint64_t bits;
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t len);
void sha256_final(struct sha256 *s, uint8_t out[SHA256_LEN]);
void sha256(const void *data, size_t len, uint8_t out[SHA256_LEN]);

/* HMAC-SHA256 of data under key (any length: longer than a block is hashed first). */
void hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
		 uint8_t out[SHA256_LEN]);

/* Compares n bytes in time independent of where they differ: true when equal. */
bool sha256_equal(const uint8_t *a, const uint8_t *b, size_t n);

#endif
