#include "util/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void xalloc_fail(size_t n)
{
	char line[96];
	int len;

	/* No stdio buffering and no allocation on the way out: format on the stack, one
	 * write(2), so the line is whole even when nothing else can be had. The "<3>" is the
	 * sd-daemon prefix for error level, as log.c writes it. */
	len = snprintf(line, sizeof(line), "<3>out of memory: could not allocate %zu bytes; aborting\n", n);
	if (len > 0)
		(void)!write(STDERR_FILENO, line, (size_t)len < sizeof(line) ? (size_t)len : sizeof(line) - 1);
	abort();
}

/* malloc(0) may return NULL without failing; ask for one byte so NULL always means failure. */
void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		xalloc_fail(n);
	return p;
}

void *xcalloc(size_t count, size_t size)
{
	void *p = calloc(count ? count : 1, size ? size : 1);

	if (!p)
		xalloc_fail(count && size > (size_t)-1 / count ? (size_t)-1 : count * size);
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (!q)
		xalloc_fail(n);
	return q;
}

char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(xmalloc(n), s, n);
}

char *xvasprintf(const char *fmt, va_list ap)
{
	va_list copy;
	char *s;
	int n;

	va_copy(copy, ap);
	n = vsnprintf(NULL, 0, fmt, copy);
	va_end(copy);
	if (n < 0) /* only a bad format or a wide conversion: not an allocation failure */
		abort();
	s = xmalloc((size_t)n + 1);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	return s;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	return s;
}
