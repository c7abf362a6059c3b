#include "lg_proc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static double tv_s(const struct timeval *tv)
{
	return (double)tv->tv_sec + tv->tv_usec / 1e6;
}

/* user + system seconds of this process, and of its reaped children (the idle workers) */
static double cpu_self_children(void)
{
	struct rusage self, kids;

	getrusage(RUSAGE_SELF, &self);
	getrusage(RUSAGE_CHILDREN, &kids);
	return tv_s(&self.ru_utime) + tv_s(&self.ru_stime) + tv_s(&kids.ru_utime) + tv_s(&kids.ru_stime);
}

/* A numeric field of /proc/PID/status ("VmRSS:"), or dflt when it cannot be read. */
static long status_field(int pid, const char *name, long dflt)
{
	char path[64], line[256];
	size_t n = strlen(name);
	long v = dflt;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (!(f = fopen(path, "r")))
		return dflt;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, name, n))
			v = strtol(line + n, NULL, 10);
	fclose(f);
	return v;
}

long lg_proc_rss_kb(int pid)
{
	return status_field(pid, "VmRSS:", -1);
}

double lg_proc_cpu(int pid)
{
	char path[64], buf[2048], *p;
	unsigned long ut, stt;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (!(f = fopen(path, "r")))
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	p = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
	if (!p)
		return -1;
	/* after ") ": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &stt) != 2)
		return -1;
	return (double)(ut + stt) / (double)sysconf(_SC_CLK_TCK);
}

static long preemptions(int pid)
{
	return status_field(pid, "nonvoluntary_ctxt_switches:", 0);
}

/* Seconds the process's main thread has waited on a run queue (/proc/PID/schedstat). */
static double runq_wait(int pid)
{
	char path[64];
	unsigned long long run, wait;
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "/proc/%d/schedstat", pid);
	if (!(f = fopen(path, "r")))
		return 0;
	ok = fscanf(f, "%llu %llu", &run, &wait) == 2;
	fclose(f);
	return ok ? (double)wait / 1e9 : 0;
}

/* user + nice + system + irq + softirq + steal of all CPUs, in seconds */
static double machine_busy(void)
{
	unsigned long long v[8] = { 0 };
	FILE *f = fopen("/proc/stat", "r");

	if (!f)
		return 0;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
		   &v[6], &v[7]) != 8)
		v[0] = v[1] = v[2] = v[5] = v[6] = v[7] = 0;
	fclose(f);
	return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / (double)sysconf(_SC_CLK_TCK);
}

void lg_proc_snap(struct lg_cpusnap *c, int server_pid, u64 idle_spin_ns)
{
	c->t = lg_now_ns();
	c->spin = idle_spin_ns;
	c->busy = machine_busy();
	c->self = cpu_self_children();
	c->server = server_pid ? lg_proc_cpu(server_pid) : 0;
	c->server_wait = server_pid ? runq_wait(server_pid) : 0;
	c->self_wait = runq_wait(getpid());
	c->server_preempt = server_pid ? preemptions(server_pid) : 0;
	c->self_preempt = preemptions(getpid());
}

void lg_proc_print_cpu(const struct lg_cpusnap *a, const struct lg_cpusnap *b, bool has_server)
{
	double wall = (b->t - a->t) / 1e9, busy = b->busy - a->busy, self = b->self - a->self;
	double server = b->server - a->server, foreign = busy - self - server;

	if (wall <= 0)
		wall = 1e-9;
	if (foreign < 0)
		foreign = 0;
	printf(",\"cpu\":{\"wall_s\":%.3f,\"server_pct\":%.1f,\"loadgen_pct\":%.1f,\"machine_busy_pct\":%.1f,"
	       "\"foreign_pct\":%.1f,\"server_runq_wait_pct\":%.2f,\"loadgen_runq_wait_pct\":%.2f,"
	       "\"loadgen_busy_pct\":%.1f,\"server_preemptions\":%ld,\"loadgen_preemptions\":%ld}",
	       wall, has_server ? 100 * server / wall : -1.0, 100 * self / wall, 100 * busy / wall, 100 * foreign / wall,
	       100 * (b->server_wait - a->server_wait) / wall, 100 * (b->self_wait - a->self_wait) / wall,
	       100 * (self - (b->spin - a->spin) / 1e9) / wall, b->server_preempt - a->server_preempt,
	       b->self_preempt - a->self_preempt);
}
