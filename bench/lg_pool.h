/* Idle sessions held by forked workers: one process cannot hold 18k sessions (its descriptor
 * limit is 20k, hard), so each worker holds up to --per-worker of them and reports back on a
 * pipe. */
#ifndef LG_POOL_H
#define LG_POOL_H

#include <sys/types.h>

#include "lg_util.h"

#define LG_POOL_MAX_WORKERS 64

struct lg_pool {
	int n, workers, opened, failed;
	pid_t pid[LG_POOL_MAX_WORKERS];
	int rep[LG_POOL_MAX_WORKERS], ctl[LG_POOL_MAX_WORKERS];
	double open_s;
	char first_error[160];
	u64 closed_streams;
};

/* Opens n idle sessions; returns once every worker has reported them ready (or failed). */
void lg_pool_open(struct lg_pool *p, int n);
/* Tells the workers to stop, collects their counts of streams closed early, reaps them. */
void lg_pool_close(struct lg_pool *p);

#endif
