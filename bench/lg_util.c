#include "lg_util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void lg_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "loadgen: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

void *lg_xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p && n)
		lg_die("out of memory");
	return p;
}

void *lg_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (!p && n && size)
		lg_die("out of memory");
	return p;
}

void lg_buf_add(char **b, size_t *len, size_t *cap, const char *p, size_t n)
{
	if (*len + n > *cap) {
		*cap = (*len + n) * 2 + 256;
		*b = lg_xrealloc(*b, *cap);
	}
	memcpy(*b + *len, p, n);
	*len += n;
}

/* Formatting is on every request: without printf the load generator keeps up with faster
 * servers. */
size_t lg_fmt_u64(char *out, u64 v)
{
	char tmp[20];
	size_t n = 0, i;

	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10));
	for (i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

size_t lg_put_str(char *out, const char *s)
{
	size_t n = strlen(s);

	memcpy(out, s, n);
	return n;
}

void lg_sleep_s(double s)
{
	struct timespec ts = { .tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}
