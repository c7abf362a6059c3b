#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mcp_harness.h"
#include "util/log.h"

/* The MCP layer without sockets: POST streams that outlive their connection (SSE polling,
 * 2025-11-25, SEP-1699). A test tool polls; its POST stream gets a priming event and ends, and
 * GET with that Last-Event-ID carries the answer, or replays it once when it came meanwhile. */

/* Polls when it can (and notes the refusal), waits 1 ms, then answers "done". */
static int poll_err;
static enum mcp_tool_status t_poll(struct mcp_tool_ctx *ctx)
{
	if (ctx->may_wait && (poll_err = mcp_tool_poll(ctx, 700)) == 0) {
		mcp_tool_log(ctx, MCP_LOG_INFO, "unit", "\"before\"");
		ctx->wait_after = UINT64_MAX;
		ctx->wait_ms = 1;
		return MCP_TOOL_WAIT;
	}
	if (!ctx->may_wait) /* the run after the wait: a notification kept with the answer */
		mcp_tool_log(ctx, MCP_LOG_INFO, "unit", "\"after\"");
	ctx->content = xstrdup("[{\"type\":\"text\",\"text\":\"done\"}]");
	return MCP_TOOL_DONE;
}

/* Answers with a text of ~80 KB: too large to keep whole. */
static enum mcp_tool_status t_big(struct mcp_tool_ctx *ctx)
{
	struct buf b = BUF_INIT;

	if (ctx->may_wait && mcp_tool_poll(ctx, 700) == 0) {
		ctx->wait_after = UINT64_MAX;
		ctx->wait_ms = 1;
		return MCP_TOOL_WAIT;
	}
	buf_puts(&b, "[{\"type\":\"text\",\"text\":\"");
	for (int i = 0; i < 8000; i++)
		buf_puts(&b, "0123456789");
	buf_puts(&b, "\"}]");
	ctx->content = buf_take(&b);
	return MCP_TOOL_DONE;
}

static const struct mcp_tool tools[] = {
	{ "x_poll", NULL, "polls", "{\"type\":\"object\"}", NULL, t_poll },
	{ "x_big", NULL, "polls, answers big", "{\"type\":\"object\"}", NULL, t_big },
};
static const struct mcp_catalog catalog = { .tools = tools, .n_tools = 2 };

static void setup_resume(void)
{
	world_up(100);
	W.cfg.sse_keepalive_ms = 1;
	mcp_server_add_catalog(W.srv, &catalog);
}

/* POSTs tools/call name (id rpc_id) on a new sink; the HTTP answer goes to r. */
static struct fake_sink *post_call(const char *sid, const char *name, int rpc_id,
				   enum mcp_disposition *d, struct resp *r)
{
	struct fake_sink *f = sink_new();
	struct http_request req = req_new(HTTP_M_POST, sid);
	char body[256];

	snprintf(body, sizeof(body), "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/call\","
		 "\"params\":{\"name\":\"%s\",\"arguments\":{}}}", rpc_id, name);
	req_body(&req, body);
	*d = mcp_handle(W.srv, &req, &f->sink);
	take(f, r, NULL);
	return f;
}

/* The polled POST: its stream is the priming event alone, and it ended; the id goes to eid. */
static void expect_polled(const char *sid, const char *name, int rpc_id, char eid[32])
{
	enum mcp_disposition d;
	struct resp r;
	struct fake_sink *f = post_call(sid, name, rpc_id, &d, &r);
	const char *body;

	CU_ASSERT_EQUAL(d, MCP_DONE);
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT_TRUE(header_is(&r, "Content-Type", "text/event-stream"));
	CU_ASSERT_TRUE(r.ended);
	body = r.body.p ? r.body.p : "";
	CU_ASSERT_EQUAL(sscanf(body, "id: %31[0-9-]\nretry: 700\ndata: \n\n", eid), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(body, "\ndata: \n\n"));
	CU_ASSERT_PTR_NULL(strstr(body, "\"result\"")); /* the answer is not on it */
	CU_ASSERT_PTR_NULL(f->sink.call);
	CU_ASSERT_EQUAL(f->resumes, 0);
	resp_free(&r);
	sink_close(f);
}

/* logging/setLevel info, so the tool's notifications go out. */
static void log_info_level(const char *sid)
{
	struct reply rp;

	rpc(sid, "logging/setLevel", "{\"level\":\"info\"}", 2, &rp);
	CU_ASSERT_EQUAL(rp.r.status, 200);
	reply_free(&rp);
}

static void let_call_finish(void)
{
	usleep(3000);
	timer_run(&W.heap, timer_now_ms());
}

/* The answer frame of a resumed stream: id: N-1, the result "done" for rpc_id. */
static void expect_answer(const struct buf *body, const char *eid, int rpc_id)
{
	char want[40], *data;
	cJSON *msg;
	const char *p = body->p ? body->p : "";

	snprintf(want, sizeof(want), "id: %.*s1\ndata: ", (int)(strchr(eid, '-') + 1 - eid), eid);
	data = strstr(p, want);
	CU_ASSERT_PTR_NOT_NULL_FATAL(data);
	msg = cJSON_ParseWithLength(data + strlen(want), strcspn(data + strlen(want), "\n"));
	CU_ASSERT_EQUAL(jnum(msg, "id"), rpc_id);
	CU_ASSERT_STRING_EQUAL(jstr(msg, "result.content.0.text"), "done");
	cJSON_Delete(msg);
	/* Only the notification of the run after the wait precedes it: nothing of the
	 * push stream, no second priming event. */
	CU_ASSERT_PTR_NOT_NULL(strstr(p, "\"after\""));
	CU_ASSERT_PTR_NULL(strstr(p, "\"before\""));
	CU_ASSERT_PTR_NULL(strstr(p, "retry:"));
}

static void expect_400(const char *sid, const char *last_event_id)
{
	enum mcp_disposition d;
	struct fake_sink *f = open_get(sid, last_event_id, &d);
	struct reply rp = { 0 };

	take(f, &rp.r, NULL);
	rp.d = d;
	rp.json = cJSON_ParseWithLength(rp.r.body.p, rp.r.body.len);
	expect_refusal(&rp, 400, JSONRPC_SERVER_ERROR);
	CU_ASSERT_PTR_NULL(f->sink.call);
	CU_ASSERT_PTR_NULL(f->sink.stream_of);
	reply_free(&rp);
	sink_close(f);
}

/* The client comes back while the call still runs: that GET carries its answer. */
static void test_resume_live(void)
{
	char id[MCP_SESSION_ID_LEN + 1], eid[32];
	struct mcp_session *s = init_session(id);
	struct fake_sink *g;
	enum mcp_disposition d;
	struct resp r;

	log_info_level(id);
	expect_polled(id, "x_poll", 5, eid);
	CU_ASSERT_EQUAL(strcmp(eid, "1-0"), 0);
	CU_ASSERT_EQUAL(s->n_pstreams, 1);
	g = open_get(id, eid, &d);
	CU_ASSERT_EQUAL(d, MCP_PENDING);
	CU_ASSERT_PTR_NOT_NULL(g->sink.call);
	CU_ASSERT_PTR_NULL(s->stream); /* not the session's push stream */
	expect_pending_head(g);
	let_call_finish();
	take(g, &r, NULL);
	CU_ASSERT_TRUE(r.ended);
	expect_answer(&r.body, eid, 5);
	resp_free(&r);
	CU_ASSERT_EQUAL(g->resumes, 1);
	CU_ASSERT_TRUE(g->resume_keep_alive);
	CU_ASSERT_PTR_NULL(g->sink.call);
	CU_ASSERT_EQUAL(s->n_pstreams, 0); /* read: gone */
	sink_release(g);
	expect_400(id, eid); /* exactly once */
}

/* The answer came while no connection was there: kept, replayed once. */
static void test_resume_kept(void)
{
	char id[MCP_SESSION_ID_LEN + 1], eid[32];
	struct mcp_session *s = init_session(id);
	struct fake_sink *g;
	enum mcp_disposition d;
	struct resp r;

	log_info_level(id);
	expect_polled(id, "x_poll", 6, eid);
	let_call_finish();
	CU_ASSERT_PTR_NULL(s->calls);
	CU_ASSERT_EQUAL(s->busy, 0);
	CU_ASSERT_EQUAL(s->n_pstreams, 1);
	CU_ASSERT_TRUE(s->pstream_bytes > 0);
	g = open_get(id, eid, &d);
	CU_ASSERT_EQUAL(d, MCP_DONE);
	take(g, &r, NULL);
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT_TRUE(header_is(&r, "Content-Type", "text/event-stream"));
	CU_ASSERT_TRUE(r.ended);
	expect_answer(&r.body, eid, 6);
	resp_free(&r);
	CU_ASSERT_PTR_NULL(g->sink.call);
	sink_close(g);
	CU_ASSERT_EQUAL(s->n_pstreams, 0);
	CU_ASSERT_EQUAL(s->pstream_bytes, 0);
	expect_400(id, eid);
}

/* Kept with no notification before it (the tool's log filtered out): the answer alone. */
static void test_resume_kept_alone(void)
{
	char id[MCP_SESSION_ID_LEN + 1], eid[32];
	struct mcp_session *s = init_session(id);
	struct fake_sink *g;
	enum mcp_disposition d;
	struct resp r;
	struct reply rp;

	rpc(id, "logging/setLevel", "{\"level\":\"error\"}", 2, &rp);
	reply_free(&rp);
	expect_polled(id, "x_poll", 11, eid);
	let_call_finish();
	CU_ASSERT_EQUAL(s->n_pstreams, 1);
	g = open_get(id, eid, &d);
	CU_ASSERT_EQUAL(d, MCP_DONE);
	take(g, &r, NULL);
	CU_ASSERT_TRUE(r.ended);
	CU_ASSERT_EQUAL(strncmp(r.body.p, "id: 1-1\ndata: {", 15), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.body.p, "\"id\":11"));
	CU_ASSERT_PTR_NULL(strstr(r.body.p, "\"after\""));
	resp_free(&r);
	sink_close(g);
}

/* A resuming connection that drops leaves the call resumable; the newest GET wins. */
static void test_resume_again(void)
{
	char id[MCP_SESSION_ID_LEN + 1], eid[32];
	struct mcp_session *s = init_session(id);
	struct fake_sink *g, *h, *k;
	enum mcp_disposition d;
	struct resp r;

	expect_polled(id, "x_poll", 7, eid);
	g = open_get(id, eid, &d);
	CU_ASSERT_EQUAL(d, MCP_PENDING);
	sink_close(g);
	CU_ASSERT_PTR_NOT_NULL(s->calls); /* the call goes on */
	h = open_get(id, eid, &d);
	CU_ASSERT_EQUAL(d, MCP_PENDING);
	k = open_get(id, eid, &d);
	CU_ASSERT_EQUAL(d, MCP_PENDING);
	CU_ASSERT_EQUAL(h->aborts, 1);
	CU_ASSERT_PTR_NULL(h->sink.call);
	sink_close(h);
	CU_ASSERT_PTR_NOT_NULL(s->calls);
	/* The keep-alive goes to the connection that carries it now. */
	drop_out(k);
	let_call_finish();
	take(k, &r, NULL);
	CU_ASSERT_TRUE(r.ended);
	resp_free(&r);
	CU_ASSERT_EQUAL(k->resumes, 1);
	sink_release(k);
	CU_ASSERT_EQUAL(s->n_pstreams, 0);
}

/* Ids that name no resumable stream: 400 (never 404, which would end the client's session);
 * a plain number still resumes the push stream. */
static void test_resume_bad_ids(void)
{
	char id[MCP_SESSION_ID_LEN + 1], other[MCP_SESSION_ID_LEN + 1], eid[32];
	struct mcp_session *s = init_session(id);
	struct fake_sink *f;
	enum mcp_disposition d;
	struct reply rp;

	init_session(other);
	expect_polled(id, "x_poll", 8, eid);
	expect_400(id, "1-x");
	expect_400(id, "0-0");
	expect_400(id, "-0");
	expect_400(id, "1-");
	expect_400(id, "1--0");
	expect_400(id, "99999999999-0");
	expect_400(id, "2-0");   /* no such stream */
	expect_400(id, "1-1");   /* past the priming event: the client read the answer */
	expect_400(other, eid);  /* another session's stream */
	CU_ASSERT_EQUAL(s->n_pstreams, 1);
	f = open_get(id, "0", &d);
	CU_ASSERT_EQUAL(d, MCP_STREAMING);
	CU_ASSERT_PTR_EQUAL(s->stream, &f->sink);
	sink_close(f);
	/* A cancelled call's stream goes with it. */
	post(id, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\","
		 "\"params\":{\"requestId\":8}}", &rp);
	CU_ASSERT_EQUAL(rp.r.status, 202);
	reply_free(&rp);
	CU_ASSERT_PTR_NULL(s->calls);
	CU_ASSERT_EQUAL(s->n_pstreams, 0);
	expect_400(id, eid);
}

/* Only a 2025-11-25 session polls; older ones just answer (no empty-data event for them). */
static void test_resume_old_version(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct reply rp;
	cJSON *j;

	init_version("2025-06-18", id, &rp);
	reply_free(&rp);
	j = call_tool(id, "x_poll", "{}");
	CU_ASSERT_EQUAL(poll_err, -EAGAIN);
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.content.0.text"), "done");
	cJSON_Delete(j);
	CU_ASSERT_EQUAL(sess(id)->n_pstreams, 0);
}

/* Bounded: 8 streams a session (the oldest kept answer makes room; live calls never go, the
 * 9th then waits on its open stream), kept answers expire, a too large one becomes an error. */
static void test_resume_bounds(void)
{
	char id[MCP_SESSION_ID_LEN + 1], eid[32];
	struct mcp_session *s = init_session(id);
	enum mcp_disposition d;
	struct fake_sink *f, *g;
	struct resp r;

	for (int i = 0; i < MCP_RESUME_STREAMS; i++)
		expect_polled(id, "x_poll", 100 + i, eid);
	CU_ASSERT_EQUAL(s->n_pstreams, MCP_RESUME_STREAMS);
	f = post_call(id, "x_poll", 200, &d, &r);
	CU_ASSERT_EQUAL(d, MCP_PENDING); /* no room: a plain wait */
	CU_ASSERT_FALSE(r.ended);
	CU_ASSERT_PTR_NULL(strstr(r.body.p ? r.body.p : "", "retry:"));
	resp_free(&r);
	let_call_finish();
	sink_release(f);
	CU_ASSERT_EQUAL(s->n_pstreams, MCP_RESUME_STREAMS); /* all kept now */
	expect_polled(id, "x_poll", 300, eid); /* the oldest kept answer made room */
	CU_ASSERT_EQUAL(s->n_pstreams, MCP_RESUME_STREAMS);
	expect_400(id, "1-0");
	let_call_finish();
	/* Expiry: a kept answer past its time goes at the next look. */
	for (struct mcp_pstream *ps = s->pstreams; ps; ps = ps->next)
		ps->expires_ms = 0;
	expect_400(id, eid);
	CU_ASSERT_EQUAL(s->n_pstreams, 0);
	CU_ASSERT_EQUAL(s->pstream_bytes, 0);
	/* Too large to keep: an error for the call's id instead, never silence. */
	expect_polled(id, "x_big", 400, eid);
	let_call_finish();
	CU_ASSERT_TRUE(s->pstream_bytes < 1024);
	g = open_get(id, eid, &d);
	CU_ASSERT_EQUAL(d, MCP_DONE);
	take(g, &r, NULL);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.body.p, "\"id\":400"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.body.p, "\"code\":-32603"));
	resp_free(&r);
	sink_close(g);
}

/* The session ends with a polled call and kept answers: everything is freed (ASan). */
static void test_resume_session_end(void)
{
	char id[MCP_SESSION_ID_LEN + 1], eid[32];
	struct reply rp;
	struct http_request req = req_new(HTTP_M_DELETE, NULL);

	init_session(id);
	expect_polled(id, "x_poll", 1, eid);
	let_call_finish();
	expect_polled(id, "x_poll", 2, eid);
	req.session_id = id;
	do_req(&req, &rp);
	CU_ASSERT_EQUAL(rp.r.status, 200);
	reply_free(&rp);
	CU_ASSERT_PTR_NULL(sess(id));
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "resumed while the call runs", test_resume_live },
		{ "answer kept, replayed once", test_resume_kept },
		{ "answer kept alone, no notification", test_resume_kept_alone },
		{ "resumed again, newest wins", test_resume_again },
		{ "bad, foreign and used ids", test_resume_bad_ids },
		{ "sessions before 2025-11-25 do not poll", test_resume_old_version },
		{ "bounds, expiry, too large", test_resume_bounds },
		{ "session end frees all", test_resume_session_end },
		{ NULL, NULL },
	};
	static const struct unit_suite suites[] = {
		{ "mcp_resume", tests, NULL, NULL, setup_resume, teardown },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};

	log_set_level(LOG_LVL_WARNING);
	jsonrpc_init();
	return unit_main(suites);
}
