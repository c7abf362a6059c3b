/* rpc and raw: closed loops, one request outstanding per connection. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "lg_conn.h"
#include "lg_http.h"
#include "lg_mcp.h"
#include "lg_opt.h"
#include "lg_run.h"
#include "lg_scenarios.h"

#define RAW_SESSION "bench-raw-session-id-0000000000000"

/* Every answer inside the window is a call; the next one goes out at once. */
static void rpc_answered(struct lg_session *s, struct lg_req *r, u64 t)
{
	if (lg_run_in_window(t)) {
		lg_run.calls++;
		lg_hist_add(&lg_run.rtt, t - r->t_sent);
	}
	if (lg_run.sending && t < lg_run.t_end)
		lg_mcp_send_message(s, t);
}

/* Runs the loop to the end of the window, sampling the server's CPU at its edges. */
static void closed_loop(struct lg_run_cpu *w)
{
	u64 now;

	while ((now = lg_now_ns()) < lg_run.t_end) {
		lg_run_cpu_tick(w, now);
		lg_loop_once(LG_NS / 100);
	}
	lg_run.sending = false;
	lg_run_cpu_end(w);
}

static void print_calls(const char *mode)
{
	lg_run_print_head(mode);
	printf(",\"conns\":%d,\"duration_s\":%.3f,\"calls\":%" PRIu64 ",\"calls_per_s\":%.1f,\"errors\":%" PRIu64 ",",
	       lg_opt.conns, lg_opt.duration, lg_run.calls, lg_run.calls / lg_opt.duration, lg_run.errors);
	lg_hist_print("lat_us", &lg_run.rtt);
}

static void print_cpu(const struct lg_cpusnap *c0, const struct lg_cpusnap *c1, const struct lg_run_cpu *w)
{
	lg_run_print_cpu(c0, c1);
	lg_run_cpu_print("call", w, lg_run.calls);
}

int lg_rpc_run(void)
{
	struct lg_cpusnap c0, c1;
	struct lg_run_cpu w = { 0 };
	struct lg_delivery d;
	bool ok;

	if (lg_opt.conns < 2 || lg_opt.conns % 2)
		lg_die("rpc needs an even number of connections (pairs)");
	lg_mcp_init(rpc_answered);
	lg_mcp_setup(lg_opt.conns);
	lg_run_window(lg_now_ns());
	lg_run.sending = true;
	lg_run_snap(&c0);
	for (int i = 0; i < lg_n_sess; i++)
		lg_mcp_send_message(&lg_sess[i], lg_now_ns());
	closed_loop(&w);
	lg_run_snap(&c1);
	lg_mcp_drain();
	d = lg_mcp_delivery();
	ok = !lg_run.errors && !d.missing && !d.dup && !d.gap && !lg_n_failed && !lg_cstat.closed_streams;
	print_calls("rpc");
	printf(",");
	lg_hist_print("delivery_us", &lg_run.delivery);
	printf(",\"sent_ok\":%" PRIu64 ",\"delivered\":%" PRIu64 ",\"missing\":%" PRIu64 ",\"dup\":%" PRIu64
	       ",\"gap\":%" PRIu64,
	       d.sent_ok, d.recv, d.missing, d.dup, d.gap);
	print_cpu(&c0, &c1, &w);
	lg_run_print_conn_stats();
	return lg_run_print_ok(ok);
}

/* ---------------------------------------------------------------- raw */

static void raw_response(struct lg_conn *c, struct lg_req *r, int status, const char *body, size_t blen)
{
	u64 t = lg_loop_now;
	bool bad = status != 200;

	if (bad) {
		lg_cstat.bad_status++;
		lg_run_note_error(status, body, blen);
	}
	if (lg_run_in_window(t)) {
		lg_run.calls++;
		if (bad)
			lg_run.errors++;
		lg_hist_add(&lg_run.rtt, t - r->t_sent);
	}
	if (lg_run.sending && t < lg_run.t_end)
		lg_http_post(c, RAW_SESSION, lg_opt.body, strlen(lg_opt.body), LG_T_RAW);
}

static void raw_closed(struct lg_conn *c, bool had_outstanding)
{
	if (had_outstanding)
		lg_run_lost_requests(c);
}

static const struct lg_conn_handlers raw_handlers = { .response = raw_response, .closed = raw_closed };

/* Up to a second for the last answers. */
static void raw_drain(struct lg_conn **cs)
{
	u64 deadline = lg_now_ns() + LG_NS;

	for (;;) {
		int out = 0;

		for (int i = 0; i < lg_opt.conns; i++)
			out += cs[i]->qn;
		if (!out || lg_now_ns() > deadline)
			break;
		lg_loop_once(LG_NS / 1000);
	}
}

int lg_raw_run(void)
{
	struct lg_conn **cs = lg_xcalloc((size_t)lg_opt.conns, sizeof(*cs));
	struct lg_cpusnap c0, c1;
	struct lg_run_cpu w = { 0 };
	bool ok;

	if (!lg_opt.body)
		lg_opt.body = "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"send_message\","
			      "\"arguments\":{\"room_id\":\"lg-raw-0\",\"message\":\"m 0 0 0 xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}}}";
	lg_conn_set_handlers(&raw_handlers);
	lg_run_window(lg_now_ns());
	lg_run.sending = true;
	lg_run_snap(&c0);
	for (int i = 0; i < lg_opt.conns; i++) {
		cs[i] = lg_conn_new(LG_K_RAW, NULL);
		lg_http_post(cs[i], RAW_SESSION, lg_opt.body, strlen(lg_opt.body), LG_T_RAW);
	}
	closed_loop(&w);
	lg_run_snap(&c1);
	raw_drain(cs);
	ok = !lg_run.errors && !lg_cstat.connect_errors;
	print_calls("raw");
	print_cpu(&c0, &c1, &w);
	lg_run_print_conn_stats();
	return lg_run_print_ok(ok);
}
