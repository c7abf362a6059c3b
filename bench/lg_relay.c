#include "lg_relay.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "lg_opt.h"
#include "lg_scenarios.h"

/* the schedule: message k is due at t0 + k / rate */
static struct {
	u64 t0, k_sched, k_limit;
	double rate;
} rl;

#define STALL_REPORTED (1ull << 63) /* in lg_req.j: --stall-ms told about it already */

static u64 due_time(u64 k)
{
	return rl.t0 + (u64)((double)k * 1e9 / rl.rate);
}

/* Sends what is due from s while its connection has room. */
static void relay_try_send(struct lg_session *s)
{
	while (lg_run.sending && s->state == LG_S_READY && s->post->qn < lg_opt.depth &&
	       s->j_next * (u64)lg_n_sess + (u64)s->idx < rl.k_sched) {
		u64 k = s->j_next * (u64)lg_n_sess + (u64)s->idx;
		lg_mcp_send_message(s, due_time(k));
	}
}

static void relay_advance(u64 now)
{
	while (rl.k_sched < rl.k_limit && due_time(rl.k_sched) <= now) {
		struct lg_session *s = &lg_sess[rl.k_sched % (u64)lg_n_sess];
		rl.k_sched++;
		relay_try_send(s);
	}
}

static void relay_answered(struct lg_session *s, struct lg_req *r, u64 t)
{
	if (lg_run_in_window(r->t_sent))
		lg_hist_add(&lg_run.rtt, t - r->t_sent);
	if (lg_opt.stall_ms > 0 && (r->j & STALL_REPORTED))
		fprintf(stderr, "stall: session %d answered after %.1f ms\n", s->idx, (t - r->t_sent) / 1e6);
	relay_try_send(s);
}

void lg_relay_init(void)
{
	lg_mcp_init(relay_answered);
}

/* ---------------------------------------------------------------- --stall-ms */

static void stall_report(int i, struct lg_conn *c, struct lg_req *r, u64 now)
{
	struct tcp_info ti;
	struct sockaddr_in a;
	socklen_t l = sizeof(ti), al = sizeof(a);
	int outq = 0, inq = 0;

	memset(&ti, 0, sizeof(ti));
	getsockopt(c->fd, IPPROTO_TCP, TCP_INFO, &ti, &l);
	getsockname(c->fd, (struct sockaddr *)&a, &al);
	ioctl(c->fd, SIOCOUTQ, &outq);
	ioctl(c->fd, SIOCINQ, &inq);
	fprintf(stderr,
		"stall: t=%.3f session %d request %d of %d unanswered for %.1f ms; client %s:%d outq %d inq %d "
		"unacked %u retrans %u/%u backoff %u rto %u ms rtt %u us probes %u%s\n",
		now / 1e9, i, 1, c->qn, (now - r->t_sent) / 1e6, inet_ntoa(a.sin_addr), ntohs(a.sin_port), outq, inq,
		ti.tcpi_unacked, ti.tcpi_retransmits, ti.tcpi_total_retrans, ti.tcpi_backoff, ti.tcpi_rto / 1000,
		ti.tcpi_rtt, ti.tcpi_probes, inq ? " (the answer is here: the load generator is late)" : "");
}

/* Debug aid: a POST unanswered for long, with the client socket's TCP state (the answer
 * already in our socket buffer means the load generator was late, not the server). */
static void stall_check(u64 now)
{
	static u64 last;

	if (lg_opt.stall_ms <= 0 || now - last < LG_NS / 100)
		return;
	last = now;
	for (int i = 0; i < lg_n_sess; i++) {
		struct lg_conn *c = lg_sess[i].post;
		struct lg_req *r;

		if (!c || c->dead || !c->qn)
			continue;
		r = &c->q[c->qh];
		if (now - r->t_sent < (u64)(lg_opt.stall_ms * 1e6) || (r->j & STALL_REPORTED))
			continue;
		r->j |= STALL_REPORTED;
		stall_report(i, c, r, now);
	}
}

/* ---------------------------------------------------------------- one step */

/* Starts the schedule where the per-session sequence numbers are: every session's next
 * message is the same j, and each receiver expects that j from its partner. */
static void schedule_from_here(double rate, u64 t_start)
{
	u64 maxj = 0;

	rl.rate = rate;
	for (int i = 0; i < lg_n_sess; i++)
		if (lg_sess[i].j_next > maxj)
			maxj = lg_sess[i].j_next;
	for (int i = 0; i < lg_n_sess; i++) {
		lg_sess[i].j_next = maxj;
		lg_sess[i].expect = maxj;
	}
	rl.k_sched = maxj * (u64)lg_n_sess;
	rl.t0 = t_start - (u64)((double)rl.k_sched * 1e9 / rate);
	rl.k_limit = rl.k_sched + (u64)(rate * (lg_opt.warmup + lg_opt.duration));
}

/* Sends on schedule until the last message is due. Short gaps are spun (CPU 1 is ours):
 * sleeping on a timer costs more than it saves and wakes late. Time spun with nothing to do
 * is left out of loadgen_busy_pct. */
static void send_schedule(struct lg_run_cpu *server)
{
	u64 spin = lg_opt.spin_us * 1000;

	while (rl.k_sched < rl.k_limit) {
		u64 now = lg_now_ns(), next;

		lg_run_cpu_tick(server, now);
		relay_advance(now);
		if (rl.k_sched >= rl.k_limit)
			break;
		next = due_time(rl.k_sched);
		now = lg_now_ns();
		stall_check(now);
		lg_loop_once(next > now + spin ? next - now - spin : 0);
		if (now > lg_run.t_end + 2 * LG_NS)
			break;
	}
	/* what is due but still unsent (the server could not keep up) is abandoned */
	lg_run.sending = false;
	lg_run_cpu_end(server);
}

/* The step's figures: counters since sent0 / err0 / d0, the window's histograms. */
static void step_collect(struct lg_relay_step *out, u64 sent0, u64 err0, const struct lg_delivery *d0)
{
	struct lg_delivery d1 = lg_mcp_delivery();
	u64 sent_sum = 0;

	for (int i = 0; i < lg_n_sess; i++)
		sent_sum += lg_sess[i].j_next;
	out->duration = lg_opt.duration;
	out->sent = lg_run.sent - sent0;
	out->unsent = rl.k_limit > sent_sum ? rl.k_limit - sent_sum : 0;
	out->errors = lg_run.errors - err0;
	out->d.sent_ok = d1.sent_ok - d0->sent_ok;
	out->d.recv = d1.recv - d0->recv;
	out->d.dup = d1.dup - d0->dup;
	out->d.gap = d1.gap - d0->gap;
	out->d.missing = d1.missing;
	out->sent_window = lg_run.sent_window;
	out->achieved = lg_run.sent_window / lg_opt.duration;
	lg_run.sent_window = 0;
	out->lat = lg_run.delivery;
	out->rtt = lg_run.rtt;
	out->correct = !out->errors && !out->d.missing && !out->d.dup && !out->d.gap && !lg_cstat.closed_streams;
	out->sustained = out->correct && out->achieved >= 0.97 * out->rate &&
			 lg_hist_pct(&out->lat, 0.99) < (u64)(lg_opt.p99_limit_ms * 1e6);
}

void lg_relay_step(double rate, struct lg_relay_step *out)
{
	u64 sent0 = lg_run.sent, err0 = lg_run.errors, t_start;
	struct lg_delivery d0 = lg_mcp_delivery();

	lg_run_snap(&out->c0);
	memset(&out->server, 0, sizeof(out->server));
	memset(&lg_run.delivery, 0, sizeof(lg_run.delivery));
	memset(&lg_run.rtt, 0, sizeof(lg_run.rtt));
	out->rate = rate;
	t_start = lg_now_ns();
	schedule_from_here(rate, t_start);
	lg_run_window(t_start);
	lg_run.sending = true;
	send_schedule(&out->server);
	lg_run_snap(&out->c1);
	lg_mcp_drain();
	step_collect(out, sent0, err0, &d0);
}

void lg_relay_print_step_fields(const struct lg_relay_step *s)
{
	printf("\"rate\":%.0f,\"step_s\":%.3f,\"achieved_rate\":%.1f,\"sent\":%" PRIu64 ",\"sent_ok\":%" PRIu64 ",\"unsent\":%" PRIu64
	       ",\"errors\":%" PRIu64 ",\"delivered\":%" PRIu64 ",\"missing\":%" PRIu64 ",\"dup\":%" PRIu64
	       ",\"gap\":%" PRIu64 ",",
	       s->rate, s->duration, s->achieved, s->sent, s->d.sent_ok, s->unsent, s->errors, s->d.recv, s->d.missing, s->d.dup,
	       s->d.gap);
	lg_hist_print("lat_us", &s->lat);
	printf(",");
	lg_hist_print("post_rtt_us", &s->rtt);
	lg_run_print_cpu(&s->c0, &s->c1);
	lg_run_cpu_print("msg", &s->server, s->sent_window);
	printf(",\"correct\":%s,\"sustained\":%s", s->correct ? "true" : "false", s->sustained ? "true" : "false");
}

/* ---------------------------------------------------------------- the relay mode */

static void print_step(const struct lg_relay_step *s)
{
	printf("{");
	lg_relay_print_step_fields(s);
	printf("}");
}

/* A p99 over a few dozen messages is the maximum of a handful: a find-max step lasts long
 * enough for --find-samples messages at its rate. */
static void find_step(double rate, struct lg_relay_step *out)
{
	double set = lg_opt.duration;

	if (lg_opt.duration * rate < lg_opt.find_samples)
		lg_opt.duration = lg_opt.find_samples / rate;
	lg_relay_step(rate, out);
	lg_opt.duration = set;
}

/* The listed rates (doubling) until one is not sustained, then two bisection steps between
 * the last pass and the first failure. Returns the highest rate sustained. */
static double find_max(struct lg_relay_step *steps, int *ns, bool *correct)
{
	double lo = 0, hi = 0;
	char *save, *tok, buf[512];

	snprintf(buf, sizeof(buf), "%s", lg_opt.rates[0] ? lg_opt.rates : "5000,10000,20000,40000,80000,160000");
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		double r = atof(tok);
		struct lg_relay_step *s = &steps[*ns];

		find_step(r, s);
		if (lg_opt.verbose)
			fprintf(stderr, "relay %.0f/s: p99 %.1f us, achieved %.0f, %s\n", r, lg_hist_pct(&s->lat, 0.99) / 1e3,
				s->achieved, s->sustained ? "sustained" : "not sustained");
		*correct &= s->correct;
		++*ns;
		if (!s->sustained) {
			hi = r;
			break;
		}
		lo = r;
	}
	for (int b = 0; b < 2 && hi > 0 && lo > 0 && *correct; b++) {
		double r = (lo + hi) / 2;

		find_step(r, &steps[*ns]);
		*correct &= steps[*ns].correct;
		if (steps[(*ns)++].sustained)
			lo = r;
		else
			hi = r;
	}
	return lo;
}

int lg_relay_run(void)
{
	static struct lg_relay_step steps[64];
	int ns = 0;
	bool correct = true;

	lg_relay_init();
	lg_mcp_setup(lg_opt.pairs * 2);
	if (!lg_opt.find_max) {
		lg_relay_step(lg_opt.rate, &steps[0]);
		correct = steps[0].correct;
		lg_run_print_head("relay");
		printf(",\"pairs\":%d,\"duration_s\":%.3f,\"depth\":%d,", lg_opt.pairs, lg_opt.duration, lg_opt.depth);
		lg_relay_print_step_fields(&steps[0]);
	} else {
		double max = find_max(steps, &ns, &correct);

		lg_run_print_head("relay");
		printf(",\"find_max\":true,\"pairs\":%d,\"duration_s\":%.3f,\"depth\":%d,\"p99_limit_ms\":%.3f,"
		       "\"max_rate\":%.0f,\"steps\":[",
		       lg_opt.pairs, lg_opt.duration, lg_opt.depth, lg_opt.p99_limit_ms, max);
		for (int i = 0; i < ns; i++) {
			if (i)
				printf(",");
			print_step(&steps[i]);
		}
		printf("]");
	}
	lg_run_print_conn_stats();
	return lg_run_print_ok(correct);
}
