#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

void cli_oom(void)
{
	fputs(PROG ": out of memory\n", stderr);
	exit(EXIT_REFUSED);
}

/* Usage errors are one line ending in a pointer to the help. */
int cli_usage(const char *help_for, const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "; see '" PROG " %s%s--help'\n", help_for ? help_for : "", help_for ? " " : "");
	return EXIT_USAGE;
}

double cli_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
