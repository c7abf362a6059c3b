#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp_harness.h"
#include "util/log.h"

/* Server-to-client requests (mcp_tool_ask) without sockets: the request on the call's own
 * SSE answer, the client's response matched and answered 202, the tool run again with it;
 * the capability check, the deadline, cancellation, a closed connection, a batch. */

static int ask_rc;
static int reruns;

/* Asks elicitation/create; run again, says what came back ("none": no reply). */
static enum mcp_tool_status t_ask(struct mcp_tool_ctx *ctx)
{
	struct buf b = BUF_INIT;
	const cJSON *v;

	if (ctx->asked) {
		reruns++;
		v = cJSON_GetObjectItemCaseSensitive(ctx->reply, "action");
		buf_puts(&b, "[{\"type\":\"text\",\"text\":");
		buf_puts(&b, cJSON_IsString(v) ? "\"got\"" : "\"none\"");
		buf_puts(&b, "}]");
		ctx->content = buf_take(&b);
		ctx->is_error = !ctx->reply;
		return MCP_TOOL_DONE;
	}
	ask_rc = mcp_tool_ask(ctx, "elicitation/create", "{\"message\":\"who?\"}", 1000);
	if (ask_rc == 0) {
		mcp_tool_log(ctx, MCP_LOG_ERROR, NULL, "\"asking\""); /* goes out before the ask */
		return MCP_TOOL_ASK;
	}
	ctx->content = xstrdup("[{\"type\":\"text\",\"text\":\"cannot ask\"}]");
	ctx->is_error = true;
	return MCP_TOOL_DONE;
}

static const struct mcp_tool tools[] = {
	{ "x_ask", NULL, "asks", "{\"type\":\"object\"}", NULL, t_ask },
};
static const struct mcp_catalog catalog = { .tools = tools, .n_tools = 1 };

static void setup_ask(void)
{
	world_up(100);
	mcp_server_add_catalog(W.srv, &catalog);
	ask_rc = 1;
	reruns = 0;
}

/* A session whose client declared caps (JSON object text); version as given. */
static struct mcp_session *init_caps(const char *version, const char *caps,
				     char id[MCP_SESSION_ID_LEN + 1])
{
	char body[512];
	struct reply rp;

	snprintf(body, sizeof(body),
		 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
		 "\"protocolVersion\":\"%s\",\"capabilities\":%s,"
		 "\"clientInfo\":{\"name\":\"unit\",\"version\":\"1\"}}}", version, caps);
	post(NULL, body, &rp);
	CU_ASSERT_TRUE_FATAL(header_get(&rp.r, "Mcp-Session-Id", id, MCP_SESSION_ID_LEN + 1));
	reply_free(&rp);
	return sess(id);
}

/* POSTs tools/call x_ask (id 9) on a sink of its own and leaves it open. */
static struct fake_sink *call_ask(const char *sid, enum mcp_disposition *d)
{
	static const char body[] = "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/call\","
				   "\"params\":{\"name\":\"x_ask\",\"arguments\":{}}}";
	struct http_request req = req_new(HTTP_M_POST, sid);
	struct fake_sink *f = sink_new();

	req_body(&req, body);
	*d = mcp_handle(W.srv, &req, &f->sink);
	return f;
}

/* The parked call's head and its events: the log line, then the request; its id. */
static double expect_ask(struct fake_sink *f)
{
	struct resp r;
	struct sse e;
	double id;

	take(f, &r, &e);
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT_TRUE(header_is(&r, "Content-Type", "text/event-stream"));
	CU_ASSERT_FALSE(r.ended);
	CU_ASSERT_EQUAL_FATAL(e.n, 2);
	CU_ASSERT_STRING_EQUAL(jstr(e.msg[0], "method"), "notifications/message");
	CU_ASSERT_STRING_EQUAL(jstr(e.msg[1], "method"), "elicitation/create");
	CU_ASSERT_STRING_EQUAL(jstr(e.msg[1], "params.message"), "who?");
	CU_ASSERT_TRUE(cJSON_IsNumber(jget(e.msg[1], "id")));
	id = jnum(e.msg[1], "id");
	sse_free(&e);
	resp_free(&r);
	return id;
}

/* POSTs a JSON-RPC message (a response) on the session: must be 202. */
static void post_202(const char *sid, const char *body)
{
	struct reply rp;

	post(sid, body, &rp);
	CU_ASSERT_EQUAL(rp.r.status, 202);
	CU_ASSERT_EQUAL(rp.d, MCP_DONE);
	reply_free(&rp);
}

static void respond(const char *sid, double id, const char *result_or_error)
{
	char body[256];

	snprintf(body, sizeof(body), "{\"jsonrpc\":\"2.0\",\"id\":%.0f,%s}", id, result_or_error);
	post_202(sid, body);
}

static void test_ask_answered(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	enum mcp_disposition d;
	struct fake_sink *f;
	double rid;
	cJSON *msg;

	init_caps(NEWEST, "{\"elicitation\":{}}", id);
	f = call_ask(id, &d);
	CU_ASSERT_EQUAL(d, MCP_PENDING);
	CU_ASSERT_EQUAL(ask_rc, 0);
	rid = expect_ask(f);
	CU_ASSERT_EQUAL(stats().calls_waiting, 1);
	respond(id, rid + 1000, "\"result\":{\"action\":\"accept\"}"); /* not its id: ignored */
	CU_ASSERT_EQUAL(reruns, 0);
	CU_ASSERT_EQUAL(f->resumes, 0);
	respond(id, rid, "\"result\":{\"action\":\"accept\",\"content\":{}}");
	CU_ASSERT_EQUAL(reruns, 1);
	msg = expect_deferred_answer(f, 9);
	CU_ASSERT_STRING_EQUAL(jstr(msg, "result.content.0.text"), "got");
	CU_ASSERT_PTR_NULL(jget(msg, "result.isError"));
	cJSON_Delete(msg);
	CU_ASSERT_EQUAL(stats().calls_waiting, 0);
	respond(id, rid, "\"result\":{\"action\":\"accept\"}"); /* twice: nobody waits */
	CU_ASSERT_EQUAL(reruns, 1);
	sink_close(f);

	/* An error answer: the tool runs again without a reply. */
	f = call_ask(id, &d);
	rid = expect_ask(f);
	respond(id, rid, "\"error\":{\"code\":-1,\"message\":\"declined\"}");
	msg = expect_deferred_answer(f, 9);
	CU_ASSERT_STRING_EQUAL(jstr(msg, "result.content.0.text"), "none");
	CU_ASSERT_TRUE(cJSON_IsTrue(jget(msg, "result.isError")));
	cJSON_Delete(msg);
	sink_close(f);
}

/* Only what the client declared; never in a batch. */
static void test_ask_refused(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	cJSON *j;

	init_caps(NEWEST, "{\"sampling\":{}}", id);
	j = call_tool(id, "x_ask", "{}");
	CU_ASSERT_EQUAL(ask_rc, -EOPNOTSUPP);
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.content.0.text"), "cannot ask");
	cJSON_Delete(j);
	CU_ASSERT_EQUAL(stats().calls_waiting, 0);

	init_caps("2025-03-26", "{\"elicitation\":{}}", id);
	{
		struct http_request req = req_new(HTTP_M_POST, id);
		struct reply rp;

		req.protocol_version = "2025-03-26";
		req_body(&req, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
			       "\"params\":{\"name\":\"x_ask\",\"arguments\":{}}}]");
		do_req(&req, &rp);
		CU_ASSERT_EQUAL(ask_rc, -EAGAIN);
		CU_ASSERT_STRING_EQUAL(jstr(rp.json, "0.result.content.0.text"), "cannot ask");
		reply_free(&rp);
	}
}

/* No answer within the deadline: the tool runs again without one. */
static void test_ask_deadline(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	enum mcp_disposition d;
	struct fake_sink *f;
	double rid;
	cJSON *msg;

	init_caps(NEWEST, "{\"elicitation\":{}}", id);
	f = call_ask(id, &d);
	rid = expect_ask(f);
	timer_run(&W.heap, timer_now_ms() + 500);
	CU_ASSERT_EQUAL(reruns, 0);
	timer_run(&W.heap, timer_now_ms() + 1500);
	CU_ASSERT_EQUAL(reruns, 1);
	msg = expect_deferred_answer(f, 9);
	CU_ASSERT_STRING_EQUAL(jstr(msg, "result.content.0.text"), "none");
	cJSON_Delete(msg);
	respond(id, rid, "\"result\":{\"action\":\"accept\"}"); /* late: ignored */
	CU_ASSERT_EQUAL(reruns, 1);
	sink_close(f);
}

/* Cancelled, or its connection closed: no rerun; a late answer matches nothing. */
static void test_ask_cancelled_and_closed(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	enum mcp_disposition d;
	struct fake_sink *f;
	struct resp r;
	double rid;

	init_caps(NEWEST, "{\"elicitation\":{}}", id);
	f = call_ask(id, &d);
	rid = expect_ask(f);
	post_202(id, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\","
		     "\"params\":{\"requestId\":9}}");
	take(f, &r, NULL);
	CU_ASSERT_TRUE(r.ended);
	CU_ASSERT_EQUAL(r.body.len, 0);
	resp_free(&r);
	CU_ASSERT_EQUAL(f->resumes, 1);
	CU_ASSERT_EQUAL(stats().calls_waiting, 0);
	respond(id, rid, "\"result\":{\"action\":\"accept\"}");
	CU_ASSERT_EQUAL(reruns, 0);
	sink_close(f);

	f = call_ask(id, &d);
	rid = expect_ask(f);
	sink_close(f);
	CU_ASSERT_EQUAL(stats().calls_waiting, 0);
	respond(id, rid, "\"result\":{\"action\":\"accept\"}");
	CU_ASSERT_EQUAL(reruns, 0);
}

/* The session ends under the call: it answers (no reply) and goes. */
static void test_ask_session_end(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct mcp_session *s = init_caps(NEWEST, "{\"elicitation\":{}}", id);
	enum mcp_disposition d;
	struct fake_sink *f = call_ask(id, &d);
	cJSON *msg;

	expect_ask(f);
	mcp_session_end(W.srv, s, MCP_END_DELETED);
	CU_ASSERT_EQUAL(reruns, 1);
	msg = expect_deferred_answer(f, 9);
	CU_ASSERT_TRUE(cJSON_IsTrue(jget(msg, "result.isError")));
	cJSON_Delete(msg);
	CU_ASSERT_EQUAL(stats().calls_waiting, 0);
	sink_close(f);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "answered, matched by id, 202", test_ask_answered },
		{ "undeclared capability, batch", test_ask_refused },
		{ "deadline", test_ask_deadline },
		{ "cancelled, connection closed", test_ask_cancelled_and_closed },
		{ "session end", test_ask_session_end },
		{ NULL, NULL },
	};
	static const struct unit_suite suites[] = {
		{ "mcp_ask", tests, NULL, NULL, setup_ask, teardown },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};

	log_set_level(LOG_LVL_WARNING);
	jsonrpc_init();
	return unit_main(suites);
}
