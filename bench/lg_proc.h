/* What /proc and getrusage say about the server (--pid), this process and the machine: RSS,
 * CPU time, run-queue wait and preemptions, sampled before and after a measured window. */
#ifndef LG_PROC_H
#define LG_PROC_H

#include <stdbool.h>

#include "lg_util.h"

/* A snapshot for one side of a window. "Foreign" CPU is everything else on the machine: other
 * people's jobs; it should be ~0 for a clean measurement. */
struct lg_cpusnap {
	u64 t, spin;
	double busy, self, server;
	double server_wait, self_wait;     /* run-queue wait (runnable, not running) of the main threads */
	long server_preempt, self_preempt; /* involuntary context switches of the main threads */
};

/* VmRSS of pid in KiB, -1 when it cannot be read. */
long lg_proc_rss_kb(int pid);
/* utime + stime of the whole process (every thread), in seconds; -1 when it cannot be read. */
double lg_proc_cpu(int pid);
/* server_pid 0: no server figures; idle_spin_ns: the loop's idle polling so far. */
void lg_proc_snap(struct lg_cpusnap *c, int server_pid, u64 idle_spin_ns);
/* ,"cpu":{...} in percent of one CPU; has_server: the snapshots carry a server */
void lg_proc_print_cpu(const struct lg_cpusnap *a, const struct lg_cpusnap *b, bool has_server);

#endif
