/* One measured run: its window (warm-up, then --duration seconds), the counters the scenarios
 * and the MCP layer share, and the pieces of the JSON line every mode prints. */
#ifndef LG_RUN_H
#define LG_RUN_H

#include <stdbool.h>
#include <stddef.h>

#include "lg_hist.h"
#include "lg_proc.h"
#include "lg_util.h"

struct lg_run {
	bool sending;   /* new requests may go out */
	u64 t_warm, t_end;
	u64 calls, errors;
	u64 sent, sent_window;
	u64 unexpected_events;
	struct lg_hist rtt, delivery;
	char first_error[256];
};

extern struct lg_run lg_run;

/* The measured window starts --warmup after t0 and lasts --duration. */
void lg_run_window(u64 t0);
static inline bool lg_run_in_window(u64 t)
{
	return t >= lg_run.t_warm && t < lg_run.t_end;
}
/* Keeps the first error for the JSON (quotes and control characters made harmless). */
void lg_run_note_error(int status, const char *b, size_t n);

struct lg_conn;
/* The connection closed with requests unanswered: each one is an error. */
void lg_run_lost_requests(struct lg_conn *c);

/* CPU snapshot with the servers (--pid, plus --pid-b and --redis-pid: their sum is the
 * snapshot's server time) and this process's idle polling. */
void lg_run_snap(struct lg_cpusnap *c);

/* The servers' CPU time over the measured window alone (warm-up and drain left out), for CPU
 * per call: unlike calls/s it barely moves when a shared machine steals time. Each process
 * given is sampled: the server (--pid), side B's (--pid-b) and a shared redis-server
 * (--redis-pid). */
enum { LG_CPU_SERVER, LG_CPU_SERVER_B, LG_CPU_REDIS, LG_CPU_N };

struct lg_run_cpu {
	double at_warm[LG_CPU_N], at_end[LG_CPU_N]; /* -1: not given or not readable */
	bool started;
};

/* Samples the servers when now has reached the window's start (the first call that sees it). */
void lg_run_cpu_tick(struct lg_run_cpu *w, u64 now);
/* Samples the end; call once the window is over. */
void lg_run_cpu_end(struct lg_run_cpu *w);
/* ,"server_cpu_us_per_<per>":µs per item (null without --pid or items), and the same for
 * server_b and redis when --pid-b and --redis-pid were given */
void lg_run_cpu_print(const char *per, const struct lg_run_cpu *w, u64 items);

/* {"mode":..,"label":..,"url":.. (the object stays open) */
void lg_run_print_head(const char *mode);
void lg_run_print_cpu(const struct lg_cpusnap *a, const struct lg_cpusnap *b);
/* connection counters and the first error */
void lg_run_print_conn_stats(void);
/* ,"ok":..} and the newline; returns the exit status: 0, or 3 when a check failed */
int lg_run_print_ok(bool ok);

#endif
