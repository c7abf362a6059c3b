/* Small helpers every part of the load generator uses: time, fatal errors, growable byte
 * buffers and decimal formatting without printf. */
#ifndef LG_UTIL_H
#define LG_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef uint64_t u64;

#define LG_NS 1000000000ull

/* Inline: it is read several times per request. */
static inline u64 lg_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * LG_NS + (u64)ts.tv_nsec;
}

/* Prints "loadgen: ..." on stderr and exits with status 1. */
void lg_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void *lg_xrealloc(void *p, size_t n);
void *lg_xcalloc(size_t n, size_t size);
/* Appends p[0..n) to the buffer *b of *len bytes in *cap, growing it. */
void lg_buf_add(char **b, size_t *len, size_t *cap, const char *p, size_t n);
/* Decimal digits of v into out (room for 20); returns the count. */
size_t lg_fmt_u64(char *out, u64 v);
/* Copies s without its NUL; returns its length. */
size_t lg_put_str(char *out, const char *s);
void lg_sleep_s(double s);

#endif
