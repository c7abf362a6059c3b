/* Unit tests of deferred tool answers (mcp_tool_defer / mcp_pending_done): the seam an engine
 * that waits on a round trip (the cluster's Redis) answers through. Test tools stand in for
 * the engine; both protocol eras; the client leaving before the answer; an answer that comes
 * within the call; a tool that changes its mind; batches, which cannot wait. */
#include "mcp_harness.h"

static struct mcp_pending *held; /* the handle the "slow" tool took */

/* Takes a handle and answers later (the test calls done). */
static enum mcp_tool_status slow_tool(struct mcp_tool_ctx *ctx)
{
	held = mcp_tool_defer(ctx);
	if (!held) {
		ctx->structured = cJSON_CreateObject();
		cJSON_AddStringToObject(ctx->structured, "error", "unavailable");
		ctx->is_error = true;
		ctx->error_text = "this call cannot wait here";
		return MCP_TOOL_DONE;
	}
	return MCP_TOOL_PENDING;
}

/* Takes a handle and answers within the call (a cached answer, say). */
static enum mcp_tool_status quick_tool(struct mcp_tool_ctx *ctx)
{
	struct mcp_pending *p = mcp_tool_defer(ctx);
	struct mcp_tool_ctx r = { .structured_text = strdup("{\"quick\":true}") };

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	mcp_pending_done(p, &r);
	return MCP_TOOL_PENDING;
}

/* Takes a handle, then answers now after all: the handle must go without a leak. */
static enum mcp_tool_status fickle_tool(struct mcp_tool_ctx *ctx)
{
	CU_ASSERT_PTR_NOT_NULL(mcp_tool_defer(ctx));
	ctx->structured = cJSON_CreateObject();
	cJSON_AddBoolToObject(ctx->structured, "now", true);
	return MCP_TOOL_DONE;
}

static const struct mcp_tool tools[] = {
	{ "slow", NULL, "answers later", "{\"type\":\"object\"}", NULL, slow_tool },
	{ "quick", NULL, "answers within the call", "{\"type\":\"object\"}", NULL, quick_tool },
	{ "fickle", NULL, "defers, then answers now", "{\"type\":\"object\"}", NULL, fickle_tool },
};

static void setup_tools(void)
{
	world_up(100);
	mcp_server_set_tools(W.srv, tools, sizeof(tools) / sizeof(tools[0]));
	held = NULL;
}

/* Sends tools/call NAME of a 2025 session on f; returns the disposition. */
static enum mcp_disposition call_on(struct fake_sink *f, const char *sid, const char *name, int id)
{
	char body[256];
	struct http_request req = req_new(HTTP_M_POST, sid);

	snprintf(body, sizeof(body),
		 "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/call\",\"params\":{\"name\":\"%s\","
		 "\"arguments\":{},\"_meta\":{\"progressToken\":\"p-1\"}}}", id, name);
	req_body(&req, body);
	return mcp_handle(W.srv, &req, &f->sink);
}

static void done_with(struct mcp_pending *p, const char *key, bool error)
{
	struct mcp_tool_ctx r = { 0 };

	r.structured = cJSON_CreateObject();
	if (error) {
		cJSON_AddStringToObject(r.structured, "error", "unavailable");
		r.error_text = "the store cannot be reached; try again";
		r.is_error = true;
	} else {
		cJSON_AddNumberToObject(r.structured, key, 1);
	}
	mcp_pending_done(p, &r);
}

static void test_session_answer_later(void)
{
	char sid[MCP_SESSION_ID_LEN + 1];
	struct fake_sink *f;
	cJSON *msg;

	init_session(sid);
	f = sink_new();
	CU_ASSERT_EQUAL(call_on(f, sid, "slow", 5), MCP_PENDING);
	CU_ASSERT_PTR_NOT_NULL_FATAL(held);
	expect_pending_head(f);
	CU_ASSERT_EQUAL(stats().calls_waiting, 1);
	CU_ASSERT_FALSE(mcp_pending_abandoned(held));
	done_with(held, "answer", false);
	msg = expect_deferred_answer(f, 5);
	CU_ASSERT_EQUAL(jnum(msg, "result.structuredContent.answer"), 1);
	CU_ASSERT_PTR_NULL(jget(msg, "result.isError"));
	CU_ASSERT_PTR_NULL(jget(msg, "result.resultType")); /* a 2025 result */
	CU_ASSERT_EQUAL(stats().calls_waiting, 0);
	cJSON_Delete(msg);
	sink_close(f);
}

static void test_modern_answer_later(void)
{
	struct fake_sink *f = sink_new();
	struct mreq m;
	cJSON *msg;

	mreq_init(&m, "9", "tools/call", NULL, "\"name\":\"slow\",\"arguments\":{}", "slow");
	CU_ASSERT_EQUAL(mcp_handle(W.srv, &m.req, &f->sink), MCP_PENDING);
	expect_pending_head(f);
	done_with(held, "answer", true);
	msg = expect_deferred_answer(f, 9);
	expect_modern_result(msg);
	CU_ASSERT_TRUE(cJSON_IsTrue(jget(msg, "result.isError")));
	CU_ASSERT_STRING_EQUAL(jstr(msg, "result.structuredContent.error"), "unavailable");
	CU_ASSERT_STRING_EQUAL(jstr(msg, "result.content.0.text"), "the store cannot be reached; try again");
	cJSON_Delete(msg);
	sink_close(f);
}

/* The client left: the handle stays valid, says so, and the late answer goes nowhere. */
static void test_client_gone(void)
{
	char sid[MCP_SESSION_ID_LEN + 1];
	struct fake_sink *f;

	init_session(sid);
	f = sink_new();
	CU_ASSERT_EQUAL(call_on(f, sid, "slow", 6), MCP_PENDING);
	expect_pending_head(f);
	sink_close(f);
	CU_ASSERT_TRUE(mcp_pending_abandoned(held));
	CU_ASSERT_EQUAL(stats().calls_waiting, 1); /* until its owner says done */
	done_with(held, "late", false);
	CU_ASSERT_EQUAL(stats().calls_waiting, 0);
	CU_ASSERT_EQUAL(f->out.len, 0);
	/* The session goes on. */
	cJSON_Delete(call_tool(sid, "quick", "{}"));
}

/* An answer given within the call is a plain JSON answer, no stream. */
static void test_answer_within_call(void)
{
	char sid[MCP_SESSION_ID_LEN + 1];
	cJSON *msg;
	struct reply rp;
	struct mreq m;

	init_session(sid);
	msg = call_tool(sid, "quick", "{}");
	CU_ASSERT_TRUE(cJSON_IsTrue(jget(msg, "result.structuredContent.quick")));
	cJSON_Delete(msg);
	mreq_init(&m, "3", "tools/call", NULL, "\"name\":\"quick\",\"arguments\":{}", "quick");
	do_req(&m.req, &rp);
	CU_ASSERT_EQUAL(rp.r.status, 200);
	CU_ASSERT_TRUE(header_is(&rp.r, "Content-Type", "application/json"));
	expect_modern_result(rp.json);
	CU_ASSERT_TRUE(cJSON_IsTrue(jget(rp.json, "result.structuredContent.quick")));
	reply_free(&rp);
	CU_ASSERT_EQUAL(stats().calls_waiting, 0);
}

static void test_fickle_tool(void)
{
	char sid[MCP_SESSION_ID_LEN + 1];
	cJSON *msg;

	init_session(sid);
	msg = call_tool(sid, "fickle", "{}");
	CU_ASSERT_TRUE(cJSON_IsTrue(jget(msg, "result.structuredContent.now")));
	cJSON_Delete(msg);
	CU_ASSERT_EQUAL(stats().calls_waiting, 0);
}

/* A batch (2025-03-26) cannot wait: the tool gets no handle and answers now. */
static void test_batch_cannot_wait(void)
{
	char sid[MCP_SESSION_ID_LEN + 1];
	struct reply rp;
	const cJSON *first;

	init_version("2025-03-26", sid, &rp);
	reply_free(&rp);
	post(sid, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"slow\"}}]", &rp);
	CU_ASSERT_EQUAL(rp.r.status, 200);
	first = cJSON_GetArrayItem(rp.json, 0);
	CU_ASSERT_TRUE(cJSON_IsTrue(jget(first, "result.isError")));
	CU_ASSERT_STRING_EQUAL(jstr(first, "result.structuredContent.error"), "unavailable");
	CU_ASSERT_PTR_NULL(held);
	reply_free(&rp);
}

/* While it waits the stream carries keep-alives: progress for a progressToken. */
static void test_keepalive_while_pending(void)
{
	char sid[MCP_SESSION_ID_LEN + 1];
	struct fake_sink *f;
	struct resp r;
	cJSON *msg;

	W.cfg.sse_keepalive_ms = 1;
	init_session(sid);
	f = sink_new();
	CU_ASSERT_EQUAL(call_on(f, sid, "slow", 8), MCP_PENDING);
	expect_pending_head(f);
	usleep(3000);
	timer_run(&W.heap, timer_now_ms());
	take(f, &r, NULL);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.body.p ? r.body.p : "", "notifications/progress"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.body.p ? r.body.p : "", "\"progressToken\":\"p-1\""));
	resp_free(&r);
	done_with(held, "answer", false);
	msg = expect_deferred_answer(f, 8);
	CU_ASSERT_EQUAL(jnum(msg, "result.structuredContent.answer"), 1);
	cJSON_Delete(msg);
	sink_close(f);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "2025 session: answered later", test_session_answer_later },
		{ "2026-07-28: answered later", test_modern_answer_later },
		{ "client gone before the answer", test_client_gone },
		{ "answer within the call", test_answer_within_call },
		{ "a tool that answers now after all", test_fickle_tool },
		{ "a batch cannot wait", test_batch_cannot_wait },
		{ "keep-alive progress while pending", test_keepalive_while_pending },
		{ NULL, NULL },
	};
	static const struct unit_suite suites[] = {
		{ "deferred", tests, NULL, NULL, setup_tools, teardown },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};

	return unit_main(suites);
}
