#ifndef MCPCHAT_UTIL_SIPHASH_H
#define MCPCHAT_UTIL_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

/* SipHash-2-4 (Aumasson and Bernstein, 2012): a keyed 64-bit hash. Keys that come from users
 * (room ids, interest tags) must not land in buckets an attacker can predict, which a fast
 * unkeyed hash would allow. Prefix siphash; pure, no state. */

/* The hash of data[0..len) under key: key[0] and key[1] are the two halves k0, k1 of the
 * 128-bit key, read little-endian as in the reference implementation. */
uint64_t siphash24(const uint64_t key[2], const void *data, size_t len);

#endif
