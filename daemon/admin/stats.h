#ifndef MCPCHAT_STATS_H
#define MCPCHAT_STATS_H

#include <stdint.h>

/* Process-wide counters for admins and metrics. Plain increments on the loop's one thread. */

#define STATS_REFUSAL_CODES 16

struct stats {
	uint64_t sessions_started;
	uint64_t sessions_ended;
	uint64_t requests;
	uint64_t bytes_in;
	uint64_t bytes_out;
	uint64_t loop_iterations;
	uint64_t connections_accepted;
	uint64_t http_4xx;
	uint64_t http_5xx;
	uint64_t refusals[STATS_REFUSAL_CODES]; /* by enum chat_error */
};

extern struct stats stats;

#endif
