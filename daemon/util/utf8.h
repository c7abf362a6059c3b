#ifndef MCPCHAT_UTIL_UTF8_H
#define MCPCHAT_UTIL_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* UTF-8 as RFC 3629 defines it: no overlong forms, no surrogates (U+D800..U+DFFF), nothing
 * past U+10FFFF. The one implementation for the daemon (chat arguments, JSON output) and the
 * control protocol. Prefix utf8; pure, no state, nothing allocated. */

/* The length (1..4) of the well-formed sequence that starts s[0..left), left >= 1; 0 when
 * s does not start with one (a stray continuation byte, a bad lead byte, an overlong form,
 * a surrogate, a value past U+10FFFF, or a sequence cut short by left). */
size_t utf8_seq_len(const unsigned char *s, size_t left);

/* Is s[0..len) well-formed UTF-8? When it is and chars is not NULL, *chars is the number of
 * code points. ASCII runs go 8 bytes at a time. */
bool utf8_valid(const char *s, size_t len, size_t *chars);

/* The longest prefix of the NUL-terminated s of at most max bytes that does not cut a
 * character in two (for log lines that quote client text). It backs off over continuation
 * bytes only: it does not validate. */
size_t utf8_prefix(const char *s, size_t max);

#endif
