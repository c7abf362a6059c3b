#include "lg_run.h"

#include <inttypes.h>
#include <stdio.h>

#include "lg_conn.h"
#include "lg_opt.h"

struct lg_run lg_run;

void lg_run_window(u64 t0)
{
	lg_run.t_warm = t0 + (u64)(lg_opt.warmup * 1e9);
	lg_run.t_end = lg_run.t_warm + (u64)(lg_opt.duration * 1e9);
}

void lg_run_note_error(int status, const char *b, size_t n)
{
	if (lg_run.first_error[0])
		return;
	snprintf(lg_run.first_error, sizeof(lg_run.first_error), "HTTP %d: %.*s", status,
		 (int)(n > 180 ? 180 : n), b);
	for (char *p = lg_run.first_error; *p; p++)
		if (*p == '"' || *p == '\\' || (unsigned char)*p < 32)
			*p = '\'';
}

void lg_run_lost_requests(struct lg_conn *c)
{
	lg_run.errors += (u64)c->qn;
	c->qn = 0;
	lg_run_note_error(0, "connection closed with requests outstanding", 43);
}

/* the pid of each LG_CPU_* process, 0 when not given */
static int cpu_pid(int i)
{
	return i == LG_CPU_SERVER ? lg_opt.pid : i == LG_CPU_SERVER_B ? lg_opt.pid_b : lg_opt.redis_pid;
}

static void cpu_sample(double *at)
{
	for (int i = 0; i < LG_CPU_N; i++)
		at[i] = cpu_pid(i) ? lg_proc_cpu(cpu_pid(i)) : -1;
}

void lg_run_snap(struct lg_cpusnap *c)
{
	lg_proc_snap(c, lg_opt.pid, lg_loop_idle_ns());
	for (int i = LG_CPU_SERVER_B; i < LG_CPU_N; i++)
		if (cpu_pid(i))
			c->server += lg_proc_cpu(cpu_pid(i));
}

void lg_run_cpu_tick(struct lg_run_cpu *w, u64 now)
{
	if (w->started || now < lg_run.t_warm)
		return;
	w->started = true;
	cpu_sample(w->at_warm);
}

void lg_run_cpu_end(struct lg_run_cpu *w)
{
	lg_run_cpu_tick(w, lg_run.t_warm);
	cpu_sample(w->at_end);
}

void lg_run_cpu_print(const char *per, const struct lg_run_cpu *w, u64 items)
{
	static const char *const names[LG_CPU_N] = { "server", "server_b", "redis" };

	for (int i = 0; i < LG_CPU_N; i++) {
		if (i != LG_CPU_SERVER && !cpu_pid(i))
			continue;
		if (w->at_warm[i] < 0 || w->at_end[i] < 0 || !items)
			printf(",\"%s_cpu_us_per_%s\":null", names[i], per);
		else
			printf(",\"%s_cpu_us_per_%s\":%.3f", names[i], per,
			       (w->at_end[i] - w->at_warm[i]) * 1e6 / (double)items);
	}
}

void lg_run_print_head(const char *mode)
{
	printf("{\"mode\":\"%s\",\"era\":\"%s\",\"label\":\"%s\",\"url\":\"%s\"", mode, lg_opt.modern ? "modern" : "2025",
	       lg_opt.label ? lg_opt.label : "", lg_opt.url);
	if (lg_opt.url_b)
		printf(",\"url_b\":\"%s\"", lg_opt.url_b);
}

void lg_run_print_cpu(const struct lg_cpusnap *a, const struct lg_cpusnap *b)
{
	lg_proc_print_cpu(a, b, lg_opt.pid != 0);
}

void lg_run_print_conn_stats(void)
{
	printf(",\"connect_errors\":%" PRIu64 ",\"reconnects\":%" PRIu64 ",\"closed_streams\":%" PRIu64
	       ",\"protocol_errors\":%" PRIu64,
	       lg_cstat.connect_errors, lg_cstat.reconnects, lg_cstat.closed_streams, lg_cstat.proto_errors);
	if (lg_run.first_error[0])
		printf(",\"first_error\":\"%s\"", lg_run.first_error);
}

int lg_run_print_ok(bool ok)
{
	printf(",\"ok\":%s}\n", ok ? "true" : "false");
	return ok ? 0 : 3;
}
