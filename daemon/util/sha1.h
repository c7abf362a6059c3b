#ifndef MCPCHAT_SHA1_H
#define MCPCHAT_SHA1_H

#include <stddef.h>

/* SHA-1 (FIPS 180-4), for Redis script names only: EVALSHA needs a script's digest before
 * Redis has answered its SCRIPT LOAD. Not for anything that needs a secure hash. */

#define SHA1_HEX_LEN 40

/* The digest of data as 40 lower-case hex digits and a NUL (out has 41 bytes). */
void sha1_hex(const void *data, size_t len, char out[SHA1_HEX_LEN + 1]);

#endif
