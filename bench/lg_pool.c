#include "lg_pool.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lg_conn.h"
#include "lg_mcp.h"
#include "lg_opt.h"
#include "lg_run.h"

static void say(int fd, const char *line)
{
	if (write(fd, line, strlen(line)) < 0)
		_exit(1);
}

/* A worker: sets up n idle sessions, reports "ready <ok> <failed> <ms>", holds them until its
 * control pipe closes, then reports "done <closed_streams>". */
static void idle_worker(int n, int first, int conc, int report_fd, int ctl_fd)
{
	u64 t0 = lg_now_ns();
	char line[128];

	lg_loop_init();
	lg_mcp_init(NULL);
	lg_mcp_alloc(n, first);
	lg_conn_source_from((unsigned)first);
	lg_mcp_open(LG_K_IDLE, conc, t0 + (u64)(lg_opt.setup_timeout * 1e9));
	snprintf(line, sizeof(line), "ready %d %d %.1f %s\n", lg_n_ready, n - lg_n_ready, (lg_now_ns() - t0) / 1e6,
		 lg_run.first_error[0] ? "error" : "-");
	say(report_fd, line);
	if (lg_run.first_error[0]) {
		snprintf(line, sizeof(line), "error %.100s\n", lg_run.first_error);
		say(report_fd, line);
	}
	/* hold: drain pings, notice closes, stop when the parent closes the control pipe */
	lg_loop_until_readable(ctl_fd);
	snprintf(line, sizeof(line), "done %" PRIu64 "\n", lg_cstat.closed_streams);
	say(report_fd, line);
	lg_mcp_stopping = true;
	_exit(0);
}

static int read_line(int fd, char *buf, size_t cap)
{
	size_t n = 0;

	while (n + 1 < cap) {
		ssize_t k = read(fd, buf + n, 1);
		if (k <= 0)
			return -1;
		if (buf[n] == '\n')
			break;
		n++;
	}
	buf[n] = 0;
	return (int)n;
}

/* Forks worker w for cnt sessions from first; the child never returns. */
static void fork_worker(struct lg_pool *p, int w, int first, int cnt)
{
	int rp[2], cp[2], conc = lg_opt.concurrency / p->workers;

	if (conc < 8)
		conc = 8;
	if (pipe2(rp, O_CLOEXEC) < 0 || pipe2(cp, O_CLOEXEC) < 0)
		lg_die("pipe: %s", strerror(errno));
	p->pid[w] = fork();
	if (p->pid[w] < 0)
		lg_die("fork: %s", strerror(errno));
	if (p->pid[w] == 0) {
		close(rp[0]);
		close(cp[1]);
		for (int k = 0; k < w; k++) {
			close(p->rep[k]);
			close(p->ctl[k]);
		}
		idle_worker(cnt, first, conc, rp[1], cp[0]);
	}
	close(rp[1]);
	close(cp[0]);
	p->rep[w] = rp[0];
	p->ctl[w] = cp[1];
}

static void read_ready(struct lg_pool *p, int w)
{
	char line[256];
	int ok = 0, bad = 0;

	if (read_line(p->rep[w], line, sizeof(line)) < 0)
		lg_die("idle worker %d died", w);
	sscanf(line, "ready %d %d", &ok, &bad);
	p->opened += ok;
	p->failed += bad;
	if (strstr(line, " error")) {
		if (read_line(p->rep[w], line, sizeof(line)) >= 0 && !p->first_error[0])
			snprintf(p->first_error, sizeof(p->first_error), "%.150s", line + 6);
	}
}

void lg_pool_open(struct lg_pool *p, int n)
{
	u64 t0 = lg_now_ns();
	int per;

	memset(p, 0, sizeof(*p));
	p->n = n;
	p->workers = lg_opt.workers ? lg_opt.workers : (n + lg_opt.per_worker - 1) / lg_opt.per_worker;
	if (p->workers < 1)
		p->workers = 1;
	if (p->workers > LG_POOL_MAX_WORKERS)
		lg_die("too many workers");
	per = (n + p->workers - 1) / p->workers;
	fflush(stdout);
	for (int w = 0; w < p->workers; w++) {
		int first = w * per;

		fork_worker(p, w, first, n - first < per ? n - first : per);
	}
	for (int w = 0; w < p->workers; w++)
		read_ready(p, w);
	p->open_s = (lg_now_ns() - t0) / 1e9;
}

void lg_pool_close(struct lg_pool *p)
{
	for (int w = 0; w < p->workers; w++)
		close(p->ctl[w]);
	for (int w = 0; w < p->workers; w++) {
		char line[128];
		u64 closed = 0;

		if (read_line(p->rep[w], line, sizeof(line)) >= 0 && sscanf(line, "done %" SCNu64, &closed) == 1)
			p->closed_streams += closed;
		close(p->rep[w]);
		waitpid(p->pid[w], NULL, 0);
	}
}
