/* idle and scale: sessions held by forked workers (lg_pool), measured from the server's side. */
#include <inttypes.h>
#include <stdio.h>

#include "lg_conn.h"
#include "lg_mcp.h"
#include "lg_opt.h"
#include "lg_pool.h"
#include "lg_proc.h"
#include "lg_relay.h"
#include "lg_run.h"
#include "lg_scenarios.h"

int lg_idle_run(void)
{
	struct lg_pool p;
	long before = -1, after = -1;
	struct lg_cpusnap c0, c1;
	bool ok;

	if (lg_opt.pid)
		before = lg_proc_rss_kb(lg_opt.pid);
	lg_run_snap(&c0);
	lg_pool_open(&p, lg_opt.sessions);
	lg_sleep_s(lg_opt.hold);
	if (lg_opt.pid)
		after = lg_proc_rss_kb(lg_opt.pid);
	lg_pool_close(&p);
	lg_run_snap(&c1); /* after the workers are reaped, so their CPU counts as ours */
	ok = p.opened == lg_opt.sessions && !p.closed_streams;
	lg_run_print_head("idle");
	printf(",\"sessions\":%d,\"workers\":%d,\"opened\":%d,\"failed\":%d,\"open_s\":%.3f,\"sessions_per_s\":%.1f,"
	       "\"closed_streams\":%" PRIu64,
	       lg_opt.sessions, p.workers, p.opened, p.failed, p.open_s, p.opened / p.open_s, p.closed_streams);
	if (lg_opt.pid)
		printf(",\"pid\":%d,\"rss_before_kb\":%ld,\"rss_after_kb\":%ld,\"bytes_per_session\":%.0f", lg_opt.pid,
		       before, after, p.opened ? (after - before) * 1024.0 / p.opened : 0.0);
	if (p.first_error[0])
		printf(",\"first_error\":\"%s\"", p.first_error);
	lg_run_print_cpu(&c0, &c1);
	return lg_run_print_ok(ok);
}

/* ---------------------------------------------------------------- scale */

/* The server's CPU over the whole step (warm-up and drain included) per message delivered. */
static void print_scale(const struct lg_pool *p, long rss, double cpu0, double cpu1)
{
	struct lg_delivery d = lg_mcp_delivery();

	printf(",\"idle_sessions\":%d,\"idle_opened\":%d,\"idle_open_s\":%.3f,\"server_rss_kb\":%ld,"
	       "\"server_cpu_s\":%.3f,\"relayed\":%" PRIu64 ",\"cpu_us_per_msg\":%.3f",
	       p->n, p->opened, p->open_s, rss, cpu1 - cpu0, d.recv, d.recv ? (cpu1 - cpu0) * 1e6 / (double)d.recv : 0.0);
}

int lg_scale_run(void)
{
	static struct lg_pool p;
	static struct lg_relay_step s;
	double cpu0, cpu1;
	long rss;
	bool ok;

	if (!lg_opt.pid)
		lg_die("scale needs --pid");
	/* idle sessions first, in forked workers (before this process opens its own sockets) */
	lg_pool_open(&p, lg_opt.sessions);
	if (p.opened != lg_opt.sessions)
		fprintf(stderr, "loadgen: scale: only %d of %d idle sessions opened (%s)\n", p.opened, lg_opt.sessions,
			p.first_error);
	lg_loop_init();
	lg_relay_init();
	lg_mcp_setup(lg_opt.pairs * 2);
	lg_sleep_s(0.5);
	rss = lg_proc_rss_kb(lg_opt.pid);
	cpu0 = lg_proc_cpu(lg_opt.pid);
	lg_relay_step(lg_opt.rate, &s);
	cpu1 = lg_proc_cpu(lg_opt.pid);
	lg_run_print_head("scale");
	printf(",\"pairs\":%d,\"duration_s\":%.3f,\"depth\":%d,", lg_opt.pairs, lg_opt.duration, lg_opt.depth);
	lg_relay_print_step_fields(&s);
	print_scale(&p, rss, cpu0, cpu1);
	lg_mcp_stopping = true;
	lg_pool_close(&p);
	lg_cstat.closed_streams += p.closed_streams;
	lg_run_print_conn_stats();
	ok = s.correct && p.opened == lg_opt.sessions && !p.closed_streams;
	return lg_run_print_ok(ok);
}
