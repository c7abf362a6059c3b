#include "lg_mcp.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lg_http.h"
#include "lg_modern.h"
#include "lg_opt.h"
#include "lg_run.h"

struct lg_session *lg_sess;
int lg_n_sess, lg_n_ready, lg_n_failed;
bool lg_mcp_stopping;

static lg_mcp_answer_fn answered;
static char run_tag[32]; /* makes room names unique to this run */

/* ---------------------------------------------------------------- setup steps */

void lg_mcp_session_fail(struct lg_session *s, const char *why, int status, const char *b, size_t n)
{
	if (s->state == LG_S_FAILED)
		return;
	if (lg_opt.verbose)
		fprintf(stderr, "session %d failed: %s (HTTP %d) %.*s\n", s->idx, why, status, (int)n, b);
	lg_run_note_error(status, b, n);
	s->state = LG_S_FAILED;
	lg_n_failed++;
}

static void session_start(struct lg_session *s)
{
	static const char init[] =
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\""
		LG_MCP_PROTOCOL "\",\"capabilities\":{},\"clientInfo\":{\"name\":\"mcp-chat-loadgen\",\"version\":\"1.0\"}}}";

	if (lg_opt.modern) {
		lg_modern_start(s);
		return;
	}
	s->state = LG_S_INIT;
	if (!lg_http_post(s->post, NULL, init, sizeof(init) - 1, LG_T_INIT))
		lg_mcp_session_fail(s, "connect", 0, "", 0);
}

static void send_join(struct lg_session *s)
{
	char body[256];
	int n = snprintf(body, sizeof(body),
			 "{\"jsonrpc\":\"2.0\",\"id\":%" PRIu64 ",\"method\":\"tools/call\",\"params\":{\"name\":\"join_room\","
			 "\"arguments\":{\"room_id\":\"%s\",\"display_name\":\"lg%d\"}}}",
			 s->post->next_id++, s->room, s->idx);

	s->state = LG_S_JOIN;
	if (!lg_http_post(s->post, s->sid, body, (size_t)n, LG_T_JOIN))
		lg_mcp_session_fail(s, "connect", 0, "", 0);
}

static void on_initialized(struct lg_conn *c, struct lg_session *s, int status, const char *body, size_t blen)
{
	static const char notif[] = "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}";

	if (status != 200 || !c->sid[0]) {
		lg_mcp_session_fail(s, "initialize", status, body, blen);
		return;
	}
	memcpy(s->sid, c->sid, sizeof(s->sid));
	s->state = LG_S_NOTIF;
	lg_http_post(c, s->sid, notif, sizeof(notif) - 1, LG_T_NOTIF);
}

/* An idle session's stream shares its one connection; the others get one of their own. */
static void on_notified(struct lg_conn *c, struct lg_session *s, int status, const char *body, size_t blen)
{
	if (status != 202 && status != 200) {
		lg_mcp_session_fail(s, "notifications/initialized", status, body, blen);
		return;
	}
	s->state = LG_S_STREAM;
	if (c->kind == LG_K_IDLE) {
		lg_http_get(c, s->sid);
	} else {
		s->stream = lg_conn_new_to(LG_K_STREAM, s, lg_mcp_target(s));
		lg_http_get(s->stream, s->sid);
	}
}

void lg_mcp_session_ready(struct lg_session *s)
{
	s->state = LG_S_READY;
	lg_n_ready++;
}

bool lg_mcp_is_error_body(const char *b, size_t n)
{
	return memmem(b, n, "\"isError\":true", 14) || memmem(b, n, "\"error\":{", 9);
}

static void on_sent(struct lg_session *s, struct lg_req *r, int status, const char *body, size_t blen)
{
	if (status != 200 || lg_mcp_is_error_body(body, blen)) {
		s->send_err++;
		lg_run.errors++;
		lg_run_note_error(status, body, blen);
	} else {
		s->sent_ok++;
	}
	answered(s, r, lg_loop_now);
}

/* ---------------------------------------------------------------- connection handlers */

static void on_response(struct lg_conn *c, struct lg_req *r, int status, const char *body, size_t blen)
{
	struct lg_session *s = c->s;

	if (lg_opt.modern && (r->type == LG_T_JOIN || r->type == LG_T_WAIT)) {
		lg_modern_response(c, r, status, body, blen);
		return;
	}
	switch (r->type) {
	case LG_T_INIT:
		on_initialized(c, s, status, body, blen);
		return;
	case LG_T_NOTIF:
		on_notified(c, s, status, body, blen);
		return;
	case LG_T_GET:
		/* a push stream ended with a complete body: not expected while running */
		if (!lg_mcp_stopping && status == 200)
			lg_cstat.closed_streams++;
		return;
	case LG_T_JOIN:
		if (status != 200 || lg_mcp_is_error_body(body, blen)) {
			lg_mcp_session_fail(s, "join_room", status, body, blen);
			return;
		}
		lg_mcp_session_ready(s);
		return;
	case LG_T_SEND:
		on_sent(s, r, status, body, blen);
		return;
	default:
		return;
	}
}

static void on_stream_head(struct lg_conn *c, int status)
{
	struct lg_session *s = c->s;

	if (status != 200) {
		lg_mcp_session_fail(s, "GET push stream", status, "", 0);
		return;
	}
	if (c->kind == LG_K_IDLE) {
		lg_mcp_session_ready(s);
		return;
	}
	send_join(s);
}

void lg_mcp_check_message(struct lg_session *s, const char *text, u64 t)
{
	char *end;
	long sender = strtol(text, &end, 10);
	u64 j = strtoull(end, &end, 10), ts = strtoull(end, &end, 10), tsent = strtoull(end, &end, 10);

	if (sender != s->partner) {
		lg_run.unexpected_events++;
		return;
	}
	s->recv++;
	if (j == s->expect) {
		s->expect++;
	} else if (j > s->expect) {
		s->gap += j - s->expect;
		s->expect = j + 1;
	} else {
		/* seen already, or late after a gap */
		s->dup++;
	}
	if (lg_run_in_window(tsent) && t >= ts)
		lg_hist_add(&lg_run.delivery, t - ts);
}

/* A push stream's event: a message.received is checked, chatroom.found and the like are not. */
static void on_sse_event(struct lg_conn *c, const char *data, size_t len, u64 t)
{
	const char *m;

	if (!memmem(data, len, "\"message.received\"", 18))
		return;
	m = memmem(data, len, "\"message\":\"m ", 13);
	if (!m) {
		lg_run.unexpected_events++;
		return;
	}
	lg_mcp_check_message(c->s, m + 13, t);
}

static void on_closed(struct lg_conn *c, bool had_outstanding)
{
	struct lg_session *s = c->s;

	if (lg_mcp_stopping)
		return;
	if (lg_opt.modern && c->kind == LG_K_STREAM) {
		lg_modern_closed(c, had_outstanding);
		return;
	}
	if (c->kind == LG_K_STREAM || c->kind == LG_K_IDLE) {
		lg_cstat.closed_streams++;
		if (s && s->state != LG_S_READY)
			lg_mcp_session_fail(s, "connection closed during setup", 0, "", 0);
		return;
	}
	if (had_outstanding) {
		for (int i = 0; s && i < c->qn; i++)
			if (c->q[(c->qh + i) % LG_QMAX].type == LG_T_SEND)
				s->send_err++;
		lg_run_lost_requests(c);
		if (s && s->state != LG_S_READY)
			lg_mcp_session_fail(s, "connection closed during setup", 0, "", 0);
	}
	/* an idle keep-alive connection closed by the server: lg_http_post reconnects */
}

static const struct lg_conn_handlers handlers = {
	.response = on_response,
	.stream_head = on_stream_head,
	.sse_event = on_sse_event,
	.closed = on_closed,
};

/* ---------------------------------------------------------------- sessions */

const struct lg_target *lg_mcp_target(const struct lg_session *s)
{
	return &lg_opt.tgt[s->idx & 1]; /* tgt[1] is tgt[0] without --url-b */
}

void lg_mcp_init(lg_mcp_answer_fn on_answer)
{
	answered = on_answer;
	lg_conn_set_handlers(&handlers);
	if (!run_tag[0])
		snprintf(run_tag, sizeof(run_tag), "%x%x", (unsigned)getpid(), (unsigned)(lg_now_ns() & 0xffffff));
}

void lg_mcp_alloc(int n, int first_idx)
{
	lg_n_sess = n;
	lg_sess = lg_xcalloc((size_t)n, sizeof(*lg_sess));
	for (int i = 0; i < n; i++) {
		struct lg_session *s = &lg_sess[i];

		s->idx = first_idx + i;
		s->partner = i ^ 1;
		snprintf(s->room, sizeof(s->room), "lg-%s-%d", run_tag, (first_idx + i) / 2);
	}
}

bool lg_mcp_open(uint8_t kind, int conc, u64 deadline)
{
	int started = 0;

	while (lg_n_ready + lg_n_failed < lg_n_sess) {
		while (started < lg_n_sess && started - lg_n_ready - lg_n_failed < conc) {
			struct lg_session *s = &lg_sess[started++];

			s->post = lg_conn_new_to(kind, s, lg_mcp_target(s));
			if (s->post->dead)
				lg_mcp_session_fail(s, "connect", 0, "", 0);
			else
				session_start(s);
		}
		lg_loop_once(LG_NS / 100);
		if (lg_now_ns() > deadline)
			return lg_n_ready + lg_n_failed >= lg_n_sess;
	}
	return true;
}

void lg_mcp_setup(int n)
{
	lg_mcp_alloc(n, 0);
	if (!lg_mcp_open(LG_K_POST, lg_opt.concurrency, lg_now_ns() + (u64)(lg_opt.setup_timeout * 1e9)))
		lg_die("setup timed out: %d of %d sessions ready, %d failed", lg_n_ready, n, lg_n_failed);
	if (lg_n_failed)
		lg_die("%d of %d sessions failed to set up; first error: %s", lg_n_failed, n, lg_run.first_error);
}

/* ---------------------------------------------------------------- messages */

/* Message text: "m <sender> <j> <t_sched_ns> <t_sent_ns> <padding>". Latency is measured from
 * the scheduled time; the sample counts when the message was sent inside the measured window. */
void lg_mcp_send_message(struct lg_session *s, u64 t_sched)
{
	char body[8192];
	size_t n = 0, text;
	struct lg_req *r;

	n += lg_put_str(body + n, "{\"jsonrpc\":\"2.0\",\"id\":");
	n += lg_fmt_u64(body + n, s->post->next_id++);
	n += lg_put_str(body + n, ",\"method\":\"tools/call\",\"params\":{\"name\":\"send_message\",\"arguments\":{");
	if (lg_opt.modern) {
		n += lg_put_str(body + n, "\"chat_id\":\"");
		n += lg_put_str(body + n, s->chat);
		n += lg_put_str(body + n, "\",");
	}
	n += lg_put_str(body + n, "\"room_id\":\"");
	n += lg_put_str(body + n, s->room);
	n += lg_put_str(body + n, "\",\"message\":\"");
	text = n;
	n += lg_put_str(body + n, "m ");
	n += lg_fmt_u64(body + n, (u64)s->idx);
	body[n++] = ' ';
	n += lg_fmt_u64(body + n, s->j_next);
	body[n++] = ' ';
	n += lg_fmt_u64(body + n, t_sched);
	body[n++] = ' ';
	n += lg_fmt_u64(body + n, lg_now_ns());
	body[n++] = ' ';
	while (n - text < (size_t)lg_opt.msg_size && n - text < 4000)
		body[n++] = 'x';
	n += lg_put_str(body + n, "\"}");
	if (lg_opt.modern)
		n += lg_put_str(body + n, LG_MODERN_META);
	n += lg_put_str(body + n, "}}");
	r = lg_opt.modern ? lg_http_post_tool(s->post, "send_message", body, n, LG_T_SEND)
			  : lg_http_post(s->post, s->sid, body, n, LG_T_SEND);
	if (!r) {
		lg_mcp_session_fail(s, "reconnect", 0, "", 0);
		return;
	}
	r->t_sched = t_sched;
	r->j = s->j_next++;
	lg_run.sent++;
	if (lg_run_in_window(r->t_sent))
		lg_run.sent_window++;
}

struct lg_delivery lg_mcp_delivery(void)
{
	struct lg_delivery d = { 0 };

	for (int i = 0; i < lg_n_sess; i++) {
		struct lg_session *s = &lg_sess[i], *p = &lg_sess[s->partner];

		d.sent_ok += s->sent_ok;
		d.send_err += s->send_err;
		d.recv += s->recv;
		d.dup += s->dup;
		d.gap += s->gap;
		/* what the partner was told is sent but this stream has not seen */
		if (p->sent_ok > s->recv - s->dup)
			d.missing += p->sent_ok - (s->recv - s->dup);
	}
	return d;
}

void lg_mcp_drain(void)
{
	u64 deadline = lg_now_ns() + (u64)(lg_opt.drain_timeout * 1e9);

	for (;;) {
		int outstanding = 0;
		struct lg_delivery d;

		for (int i = 0; i < lg_n_sess; i++)
			outstanding += lg_sess[i].post->qn;
		d = lg_mcp_delivery();
		if (!outstanding && d.recv - d.dup >= d.sent_ok)
			return;
		if (lg_now_ns() > deadline)
			return;
		lg_loop_once(LG_NS / 1000);
	}
}
