#ifndef MCPCHATCTL_CLI_H
#define MCPCHATCTL_CLI_H

#include <stdbool.h>

/* What every part of mcpchatctl shares: its name, exit statuses, the parsed options. */

#define PROG "mcpchatctl"

enum { EXIT_REFUSED = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3 };

struct opts {
	const char *socket; /* NULL: the default path */
	bool json, help, all, cluster;
	double timeout_s;
	const char *reason;
	const char *command;
	char **pos; /* arguments after the command */
	int npos;
};

/* Says so and exits (EXIT_REFUSED): mcpchatctl is short-lived, nothing to unwind. */
void cli_oom(void) __attribute__((noreturn));
/* Prints "mcpchatctl: WHAT; see 'mcpchatctl [CMD ]--help'" and returns EXIT_USAGE. */
int cli_usage(const char *help_for, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Monotonic seconds. */
double cli_now_s(void);

#endif
