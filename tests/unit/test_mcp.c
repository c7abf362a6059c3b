#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mcpchat/version.h>

#include "mcp_harness.h"
#include "util/log.h"

/* The MCP layer without sockets (2025 sessions): hand-built requests, fake sinks capturing the
 * HTTP bytes (mcp_harness.h). This file: initialize, the transport's
 * refusals, the methods, batches, Host/Origin/path checks. */

/* Tests: initialize */

static void expect_initialize(const char *asked, const char *answered)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct reply rp;

	init_version(asked, id, &rp);
	CU_ASSERT_EQUAL(rp.d, MCP_DONE);
	CU_ASSERT_TRUE(header_is(&rp.r, "Content-Type", "application/json"));
	CU_ASSERT_EQUAL(strlen(id), MCP_SESSION_ID_LEN);
	CU_ASSERT_EQUAL(strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
			MCP_SESSION_ID_LEN);
	CU_ASSERT_PTR_NOT_NULL(sess(id));
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "jsonrpc"), "2.0");
	CU_ASSERT_EQUAL(jnum(rp.json, "id"), 1);
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "result.protocolVersion"), answered);
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "result.serverInfo.name"), MCPCHAT_NAME);
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "result.serverInfo.version"), MCPCHAT_VERSION);
	CU_ASSERT_TRUE(cJSON_IsObject(jget(rp.json, "result.capabilities.tools")));
	CU_ASSERT_TRUE(cJSON_IsObject(jget(rp.json, "result.capabilities.logging")));
	CU_ASSERT_TRUE(cJSON_IsObject(jget(rp.json, "result.capabilities.resources")));
	CU_ASSERT_TRUE(cJSON_IsObject(jget(rp.json, "result.capabilities.prompts")));
	CU_ASSERT_TRUE(cJSON_IsString(jget(rp.json, "result.instructions")));
	reply_free(&rp);
}

static void test_initialize(void)
{
	expect_initialize("2025-11-25", "2025-11-25");
	expect_initialize("2025-06-18", "2025-06-18");
	expect_initialize("2025-03-26", "2025-03-26");
	expect_initialize("1999-01-01", "2025-11-25");
	expect_initialize("2030-01-01", "2025-11-25");
	CU_ASSERT_EQUAL(stats().sessions, 5);
}

static void test_initialize_distinct_sessions(void)
{
	char a[MCP_SESSION_ID_LEN + 1], b[MCP_SESSION_ID_LEN + 1];

	init_session(a);
	init_session(b);
	CU_ASSERT_STRING_NOT_EQUAL(a, b);
	CU_ASSERT_PTR_NOT_EQUAL(sess(a), sess(b));
}

static void test_initialize_malformed(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct reply rp;

	/* No protocolVersion. */
	post(NULL, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{}}", &rp);
	expect_refusal(&rp, 400, -32602);
	reply_free(&rp);
	/* As a notification. */
	post(NULL, "{\"jsonrpc\":\"2.0\",\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"" NEWEST "\"}}", &rp);
	expect_refusal(&rp, 400, -32600);
	reply_free(&rp);
	CU_ASSERT_EQUAL(stats().sessions, 0);
	/* Again inside a session: refused at the HTTP level, as the SDK does. */
	init_session(id);
	rpc(id, "initialize", "{\"protocolVersion\":\"" NEWEST "\"}", 2, &rp);
	expect_refusal(&rp, 400, -32600);
	reply_free(&rp);
	CU_ASSERT_EQUAL(stats().sessions, 1);
}

/* Tests: transport refusals */

static void test_missing_session(void)
{
	struct reply rp;
	struct http_request get = req_new(HTTP_M_GET, NULL);
	struct http_request del = req_new(HTTP_M_DELETE, NULL);

	rpc(NULL, "tools/list", NULL, 1, &rp);
	expect_refusal(&rp, 400, -32000);
	reply_free(&rp);
	/* Without a session, GET and DELETE are the 2026-07-28 case: 405 (no stream, no DELETE). */
	do_req(&get, &rp);
	expect_refusal(&rp, 405, -32000);
	reply_free(&rp);
	do_req(&del, &rp);
	expect_refusal(&rp, 405, -32000);
	reply_free(&rp);
}

static void test_unknown_session(void)
{
	static const char *const ids[] = { "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "nope", "" };
	char id[MCP_SESSION_ID_LEN + 1];
	struct reply rp;

	init_session(id);
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		struct http_request get = req_new(HTTP_M_GET, ids[i]);
		struct http_request del = req_new(HTTP_M_DELETE, ids[i]);

		rpc(ids[i], "ping", NULL, 1, &rp);
		expect_refusal(&rp, 404, -32001);
		reply_free(&rp);
		do_req(&get, &rp);
		expect_refusal(&rp, 404, -32001);
		reply_free(&rp);
		do_req(&del, &rp);
		expect_refusal(&rp, 404, -32001);
		reply_free(&rp);
	}
	/* The admin handle is not a session id. */
	rpc(sess(id)->handle, "ping", NULL, 1, &rp);
	expect_refusal(&rp, 404, -32001);
	reply_free(&rp);
	CU_ASSERT_EQUAL(stats().sessions, 1);
}

static void test_protocol_version_header(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct http_request req;
	struct reply rp;

	init_session(id);
	req = req_new(HTTP_M_POST, id);
	req_body(&req, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");
	req.protocol_version = "2099-01-01";
	do_req(&req, &rp);
	/* UnsupportedProtocolVersionError: the request's id, every version spoken, the one asked. */
	CU_ASSERT_EQUAL(rp.r.status, 400);
	CU_ASSERT_EQUAL(jnum(rp.json, "id"), 1);
	CU_ASSERT_EQUAL(jnum(rp.json, "error.code"), -32022);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jget(rp.json, "error.data.supported")), 4);
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "error.data.requested"), "2099-01-01");
	reply_free(&rp);
	req.protocol_version = "2025-06-18";
	do_req(&req, &rp);
	CU_ASSERT_EQUAL(rp.r.status, 200);
	CU_ASSERT_TRUE(cJSON_IsObject(jget(rp.json, "result")));
	reply_free(&rp);
}

static void test_accept_required(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct http_request req;
	struct reply rp;

	init_session(id);
	req = req_new(HTTP_M_POST, id);
	req_body(&req, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");
	req.has_accept = req.accept_json = req.accept_sse = false;
	do_req(&req, &rp);
	expect_refusal(&rp, 406, -32000);
	reply_free(&rp);
	req.has_accept = req.accept_json = true; /* application/json only */
	do_req(&req, &rp);
	expect_refusal(&rp, 406, -32000);
	reply_free(&rp);
	req.accept_json = false, req.accept_sse = true; /* text/event-stream only */
	do_req(&req, &rp);
	expect_refusal(&rp, 406, -32000);
	reply_free(&rp);
	/* GET needs text/event-stream. */
	req = req_new(HTTP_M_GET, id);
	req.accept_sse = false, req.accept_json = true;
	do_req(&req, &rp);
	expect_refusal(&rp, 406, -32000);
	reply_free(&rp);
	CU_ASSERT_EQUAL(stats().streams, 0);
}

static void test_content_type(void)
{
	static const char *const bad[] = { "text/plain", "application/jsonx", "", NULL };
	char id[MCP_SESSION_ID_LEN + 1];
	struct http_request req;
	struct reply rp;

	init_session(id);
	req = req_new(HTTP_M_POST, id);
	req_body(&req, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		req.content_type = bad[i];
		do_req(&req, &rp);
		expect_refusal(&rp, 415, -32000);
		reply_free(&rp);
	}
	req.content_type = "Application/JSON; charset=utf-8";
	do_req(&req, &rp);
	CU_ASSERT_EQUAL(rp.r.status, 200);
	reply_free(&rp);
}

static void test_bad_json(void)
{
	static const char *const bad[] = { "{", "", "{\"jsonrpc\":\"2.0\",}", "nul" };
	char id[MCP_SESSION_ID_LEN + 1];
	struct reply rp;

	init_session(id);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		post(id, bad[i], &rp);
		expect_refusal(&rp, 400, -32700);
		reply_free(&rp);
	}
	/* Without a session too: parse errors come first. */
	post(NULL, "{", &rp);
	expect_refusal(&rp, 400, -32700);
	reply_free(&rp);
}

static void test_invalid_jsonrpc(void)
{
	static const char *const bad[] = {
		"{\"id\":1,\"method\":\"ping\"}",
		"{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"ping\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"ping\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"ping\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":7}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":5}",
		"{\"jsonrpc\":\"2.0\"}",
		"42",
	};
	char id[MCP_SESSION_ID_LEN + 1];
	struct reply rp;

	init_session(id);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		post(id, bad[i], &rp);
		expect_refusal(&rp, 400, -32600);
		reply_free(&rp);
	}
}

static void test_unknown_method(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct reply rp;

	init_session(id);
	rpc(id, "no/such/method", "{}", 7, &rp);
	expect_rpc_error(&rp, 7, -32601);
	reply_free(&rp);
}

static void test_ping(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct reply rp;

	init_session(id);
	post(id, "{\"jsonrpc\":\"2.0\",\"id\":\"abc\",\"method\":\"ping\"}", &rp);
	CU_ASSERT_EQUAL(rp.r.status, 200);
	CU_ASSERT_EQUAL(rp.d, MCP_DONE);
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "id"), "abc");
	CU_ASSERT_TRUE(cJSON_IsObject(jget(rp.json, "result")));
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jget(rp.json, "result")), 0);
	reply_free(&rp);
	/* params as an array is not an object. */
	rpc(id, "ping", "[]", 8, &rp);
	expect_rpc_error(&rp, 8, -32602);
	reply_free(&rp);
}

static void test_keep_alive_false_closes(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct http_request req;
	struct reply rp;

	init_session(id);
	req = req_new(HTTP_M_POST, id);
	req_body(&req, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");
	req.keep_alive = false;
	do_req(&req, &rp);
	CU_ASSERT_EQUAL(rp.r.status, 200);
	CU_ASSERT_EQUAL(rp.d, MCP_CLOSE);
	CU_ASSERT_TRUE(header_is(&rp.r, "Connection", "close"));
	reply_free(&rp);
}

/* Tests: methods */

static void test_tools_list(void)
{
	static const char *const names[] = { "enter_queue", "join_room", "send_message",
					     "wait_for_message", "leave_chat", "get_status" };
	char id[MCP_SESSION_ID_LEN + 1];
	const cJSON *tools, *t;
	struct reply rp;
	int seen = 0;

	init_session(id);
	rpc(id, "tools/list", NULL, 3, &rp);
	CU_ASSERT_EQUAL(rp.r.status, 200);
	tools = jget(rp.json, "result.tools");
	CU_ASSERT_TRUE_FATAL(cJSON_IsArray(tools));
	CU_ASSERT_EQUAL(cJSON_GetArraySize(tools), 6);
	cJSON_ArrayForEach(t, tools) {
		CU_ASSERT_STRING_EQUAL(jstr(t, "inputSchema.type"), "object");
		CU_ASSERT_TRUE(strlen(jstr(t, "description")) > 10);
		for (int i = 0; i < 6; i++)
			if (strcmp(jstr(t, "name"), names[i]) == 0)
				seen |= 1 << i;
	}
	CU_ASSERT_EQUAL(seen, 0x3f);
	reply_free(&rp);
}

static void test_tools_call_refusals(void)
{
	static const char *const bad[] = {
		"{\"name\":\"no_such_tool\",\"arguments\":{}}",
		"{\"name\":\"get_status\",\"arguments\":[1]}",
		"{\"name\":\"get_status\",\"arguments\":\"x\"}",
		"{\"name\":\"get_status\",\"arguments\":7}",
		"{\"arguments\":{}}",
		"{\"name\":5}",
	};
	char id[MCP_SESSION_ID_LEN + 1];
	struct reply rp;

	init_session(id);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rpc(id, "tools/call", bad[i], 9, &rp);
		expect_rpc_error(&rp, 9, -32602);
		reply_free(&rp);
	}
}

static void test_tools_call_result_shape(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct reply rp;
	cJSON *text;

	init_session(id);
	/* No arguments at all is an empty object. */
	rpc(id, "tools/call", "{\"name\":\"get_status\"}", 4, &rp);
	CU_ASSERT_EQUAL(rp.r.status, 200);
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "result.structuredContent.state"), "idle");
	CU_ASSERT_EQUAL(jnum(rp.json, "result.structuredContent.unread"), 0);
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "result.content.0.type"), "text");
	text = cJSON_Parse(jstr(rp.json, "result.content.0.text"));
	CU_ASSERT_STRING_EQUAL(jstr(text, "state"), "idle");
	CU_ASSERT_PTR_NULL(jget(rp.json, "result.isError"));
	cJSON_Delete(text);
	reply_free(&rp);
	/* A tool-level refusal is a result with isError. */
	rpc(id, "tools/call", "{\"name\":\"send_message\",\"arguments\":{\"room_id\":\"r1\",\"message\":\"hi\"}}", 5, &rp);
	CU_ASSERT_EQUAL(rp.r.status, 200);
	CU_ASSERT_TRUE(cJSON_IsTrue(jget(rp.json, "result.isError")));
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "result.structuredContent.error"), "not_in_room");
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "result.content.0.text"),
			       jstr(rp.json, "result.structuredContent.message"));
	reply_free(&rp);
}

static void test_logging_set_level(void)
{
	static const char *const bad[] = { "{\"level\":\"loud\"}", "{\"level\":3}", "{}",
					   "{\"level\":\"DEBUG\"}" };
	char id[MCP_SESSION_ID_LEN + 1];
	struct reply rp;

	init_session(id);
	rpc(id, "logging/setLevel", "{\"level\":\"debug\"}", 1, &rp);
	CU_ASSERT_EQUAL(rp.r.status, 200);
	CU_ASSERT_TRUE(cJSON_IsObject(jget(rp.json, "result")));
	CU_ASSERT_EQUAL(sess(id)->log_level, 7);
	reply_free(&rp);
	rpc(id, "logging/setLevel", "{\"level\":\"error\"}", 2, &rp);
	CU_ASSERT_EQUAL(sess(id)->log_level, 3);
	reply_free(&rp);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rpc(id, "logging/setLevel", bad[i], 3, &rp);
		expect_rpc_error(&rp, 3, -32602);
		reply_free(&rp);
	}
	CU_ASSERT_EQUAL(sess(id)->log_level, 3);
}

static void test_notifications_and_responses_202(void)
{
	static const char *const msgs[] = {
		"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":1}}",
		"{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{}}",
		"{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"error\":{\"code\":-1,\"message\":\"no\"}}",
	};
	char id[MCP_SESSION_ID_LEN + 1];
	struct reply rp;

	init_session(id);
	for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		post(id, msgs[i], &rp);
		CU_ASSERT_EQUAL(rp.r.status, 202);
		CU_ASSERT_EQUAL(rp.d, MCP_DONE);
		CU_ASSERT_EQUAL(rp.r.body.len, 0);
		CU_ASSERT_TRUE(header_is(&rp.r, "Content-Length", "0"));
		reply_free(&rp);
	}
}

static void post_batch(const char *sid, const char *version, const char *body, struct reply *rp)
{
	struct http_request req = req_new(HTTP_M_POST, sid);

	req_body(&req, body);
	req.protocol_version = version;
	do_req(&req, rp);
}

static void test_batch_2025_03_26(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct reply rp;

	init_session(id);
	post_batch(id, "2025-03-26",
		   "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"},"
		   "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"},"
		   "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"},"
		   "{\"jsonrpc\":\"2.0\",\"id\":9,\"result\":{}},"
		   "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"nope\"},"
		   "{\"id\":4}]",
		   &rp);
	CU_ASSERT_EQUAL(rp.r.status, 200);
	CU_ASSERT_TRUE_FATAL(cJSON_IsArray(rp.json));
	CU_ASSERT_EQUAL(cJSON_GetArraySize(rp.json), 4);
	CU_ASSERT_EQUAL(jnum(rp.json, "0.id"), 1);
	CU_ASSERT_TRUE(cJSON_IsObject(jget(rp.json, "0.result")));
	CU_ASSERT_EQUAL(jnum(rp.json, "1.id"), 2);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jget(rp.json, "1.result.tools")), 6);
	CU_ASSERT_EQUAL(jnum(rp.json, "2.id"), 3);
	CU_ASSERT_EQUAL(jnum(rp.json, "2.error.code"), -32601);
	CU_ASSERT_TRUE(cJSON_IsNull(jget(rp.json, "3.id")));
	CU_ASSERT_EQUAL(jnum(rp.json, "3.error.code"), -32600);
	reply_free(&rp);
	/* Only notifications: nothing to answer. */
	post_batch(id, "2025-03-26", "[{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}]", &rp);
	CU_ASSERT_EQUAL(rp.r.status, 202);
	reply_free(&rp);
}

static void test_batch_negotiated_version(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct reply rp;

	init_version("2025-03-26", id, &rp);
	reply_free(&rp);
	post_batch(id, NULL, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]", &rp);
	CU_ASSERT_EQUAL(rp.r.status, 200);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(rp.json), 1);
	reply_free(&rp);
	/* The header wins over the negotiated version. */
	post_batch(id, NEWEST, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]", &rp);
	expect_refusal(&rp, 400, -32600);
	reply_free(&rp);
}

static void test_batch_refused_on_newer(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct reply rp;

	init_session(id);
	post_batch(id, NEWEST, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]", &rp);
	expect_refusal(&rp, 400, -32600);
	reply_free(&rp);
	post_batch(id, "2025-06-18", "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]", &rp);
	expect_refusal(&rp, 400, -32600);
	reply_free(&rp);
	post_batch(id, NULL, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]", &rp);
	expect_refusal(&rp, 400, -32600);
	reply_free(&rp);
}

static void test_empty_batch(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct reply rp;

	init_session(id);
	post_batch(id, "2025-03-26", "[]", &rp);
	expect_refusal(&rp, 400, -32600);
	reply_free(&rp);
}

/* Nothing in a batch waits: wait_for_message answers at once. */
static void test_batch_never_waits(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct reply rp;

	init_session(id);
	post_batch(id, "2025-03-26",
		   "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":"
		   "{\"name\":\"wait_for_message\",\"arguments\":{\"timeout_s\":30}}}]",
		   &rp);
	CU_ASSERT_EQUAL(rp.r.status, 200);
	CU_ASSERT_EQUAL(rp.d, MCP_DONE);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jget(rp.json, "0.result.structuredContent.events")), 0);
	CU_ASSERT_EQUAL(stats().calls_waiting, 0);
	reply_free(&rp);
}

static void test_resources(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct reply rp;

	init_session(id);
	rpc(id, "resources/list", NULL, 1, &rp);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jget(rp.json, "result.resources")), 1);
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "result.resources.0.uri"), "mcp-chat://guide");
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "result.resources.0.mimeType"), "text/markdown");
	reply_free(&rp);
	rpc(id, "resources/read", "{\"uri\":\"mcp-chat://guide\"}", 2, &rp);
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "result.contents.0.uri"), "mcp-chat://guide");
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "result.contents.0.mimeType"), "text/markdown");
	CU_ASSERT_PTR_NOT_NULL(strstr(jstr(rp.json, "result.contents.0.text"), "enter_queue"));
	reply_free(&rp);
	rpc(id, "resources/read", "{\"uri\":\"mcp-chat://nope\"}", 3, &rp);
	expect_rpc_error(&rp, 3, -32002);
	reply_free(&rp);
	rpc(id, "resources/read", "{}", 4, &rp);
	expect_rpc_error(&rp, 4, -32002);
	reply_free(&rp);
	rpc(id, "resources/templates/list", NULL, 5, &rp);
	CU_ASSERT_TRUE(cJSON_IsArray(jget(rp.json, "result.resourceTemplates")));
	reply_free(&rp);
}

static void test_prompts(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct reply rp;

	init_session(id);
	rpc(id, "prompts/list", NULL, 1, &rp);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jget(rp.json, "result.prompts")), 1);
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "result.prompts.0.name"), "chat_with_stranger");
	CU_ASSERT_TRUE(cJSON_IsArray(jget(rp.json, "result.prompts.0.arguments")));
	reply_free(&rp);
	rpc(id, "prompts/get", "{\"name\":\"chat_with_stranger\"}", 2, &rp);
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "result.messages.0.role"), "user");
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "result.messages.0.content.type"), "text");
	CU_ASSERT_PTR_NOT_NULL(strstr(jstr(rp.json, "result.messages.0.content.text"), "enter_queue"));
	reply_free(&rp);
	rpc(id, "prompts/get", "{\"name\":\"nope\"}", 3, &rp);
	expect_rpc_error(&rp, 3, -32602);
	reply_free(&rp);
}

/* Tests: Host, Origin, path, method */

static int status_with(const char *host, const char *origin, const char *path,
		       enum http_method_id m)
{
	struct http_request req = req_new(m, NULL);
	struct reply rp;
	int status;

	req.host = host;
	req.origin = origin;
	req.path = path;
	req_body(&req, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":"
		       "{\"protocolVersion\":\"" NEWEST "\"}}");
	do_req(&req, &rp);
	status = rp.r.status;
	if (status != 200)
		CU_ASSERT_TRUE(cJSON_IsObject(jget(rp.json, "error")));
	reply_free(&rp);
	return status;
}

static void test_host_check(void)
{
	CU_ASSERT_EQUAL(status_with("localhost:8808", NULL, "/mcp", HTTP_M_POST), 200);
	CU_ASSERT_EQUAL(status_with("LOCALHOST", NULL, "/mcp", HTTP_M_POST), 200);
	CU_ASSERT_EQUAL(status_with("127.0.0.1:8808", NULL, "/mcp", HTTP_M_POST), 200);
	CU_ASSERT_EQUAL(status_with("[::1]:8808", NULL, "/mcp", HTTP_M_POST), 200);
	CU_ASSERT_EQUAL(status_with("evil.example", NULL, "/mcp", HTTP_M_POST), 403);
	CU_ASSERT_EQUAL(status_with("evil.example:8808", NULL, "/mcp", HTTP_M_POST), 403);
	CU_ASSERT_EQUAL(status_with("localhost.evil.example", NULL, "/mcp", HTTP_M_POST), 403);
	CU_ASSERT_EQUAL(status_with("[::1", NULL, "/mcp", HTTP_M_POST), 403);
	CU_ASSERT_EQUAL(status_with("", NULL, "/mcp", HTTP_M_POST), 403);
	CU_ASSERT_EQUAL(status_with(NULL, NULL, "/mcp", HTTP_M_POST), 400);
	CU_ASSERT_EQUAL(status_with("evil.example", NULL, "/mcp", HTTP_M_GET), 403);
	CU_ASSERT_EQUAL(stats().sessions, 4);
}

static void test_origin_check(void)
{
	CU_ASSERT_EQUAL(status_with("localhost", "http://evil.example", "/mcp", HTTP_M_POST), 403);
	CU_ASSERT_EQUAL(status_with("localhost", "http://evil.example:1234", "/mcp", HTTP_M_POST), 403);
	CU_ASSERT_EQUAL(status_with("localhost", "http://localhost.evil.example", "/mcp", HTTP_M_POST), 403);
	CU_ASSERT_EQUAL(status_with("localhost", "null", "/mcp", HTTP_M_POST), 403);
	CU_ASSERT_EQUAL(status_with("localhost", "localhost", "/mcp", HTTP_M_POST), 403);
	CU_ASSERT_EQUAL(status_with("localhost", "ftp://localhost", "/mcp", HTTP_M_POST), 403);
	CU_ASSERT_EQUAL(stats().sessions, 0);
	CU_ASSERT_EQUAL(status_with("localhost", "http://localhost:1234", "/mcp", HTTP_M_POST), 200);
	CU_ASSERT_EQUAL(status_with("localhost", "https://127.0.0.1", "/mcp", HTTP_M_POST), 200);
	CU_ASSERT_EQUAL(status_with("localhost", "http://[::1]:3000", "/mcp", HTTP_M_POST), 200);
	CU_ASSERT_EQUAL(stats().sessions, 3);
}

static void test_path_and_method(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct http_request req;
	struct reply rp;
	char allow[64];

	CU_ASSERT_EQUAL(status_with("localhost", NULL, "/other", HTTP_M_POST), 404);
	CU_ASSERT_EQUAL(status_with("localhost", NULL, "/mcp/", HTTP_M_POST), 404);
	CU_ASSERT_EQUAL(status_with("localhost", NULL, "/", HTTP_M_GET), 404);
	init_session(id);
	req = req_new(HTTP_M_OTHER, id);
	do_req(&req, &rp);
	expect_refusal(&rp, 405, -32000);
	CU_ASSERT_TRUE(header_get(&rp.r, "Allow", allow, sizeof(allow)));
	CU_ASSERT_STRING_EQUAL(allow, "GET, POST, DELETE");
	reply_free(&rp);
	CU_ASSERT_PTR_NOT_NULL(sess(id));
}

/* A HEAD answer is the head alone (RFC 9110 9.3.2): its Content-Length, no body bytes. */
static void test_head_has_no_body(void)
{
	struct http_request req = req_new(HTTP_M_HEAD, NULL);
	struct fake_sink *f = sink_new();
	size_t n;

	CU_ASSERT_EQUAL(mcp_handle(W.srv, &req, &f->sink), MCP_DONE);
	CU_ASSERT_TRUE(f->out.len > 12 && memcmp(f->out.p, "HTTP/1.1 405", 12) == 0);
	n = f->out.len;
	CU_ASSERT_TRUE(n >= 4 && memcmp(f->out.p + n - 4, "\r\n\r\n", 4) == 0);
	CU_ASSERT_PTR_NOT_NULL(memmem(f->out.p, n, "Allow: GET, POST, DELETE\r\n", 26));
	CU_ASSERT_PTR_NULL(memmem(f->out.p, n, "{", 1));
	drop_out(f);
	sink_close(f);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "initialize", test_initialize },
		{ "initialize makes distinct sessions", test_initialize_distinct_sessions },
		{ "initialize malformed", test_initialize_malformed },
		{ "missing session 400", test_missing_session },
		{ "unknown session 404", test_unknown_session },
		{ "MCP-Protocol-Version header", test_protocol_version_header },
		{ "Accept 406", test_accept_required },
		{ "Content-Type 415", test_content_type },
		{ "bad JSON -32700", test_bad_json },
		{ "invalid JSON-RPC -32600", test_invalid_jsonrpc },
		{ "unknown method -32601", test_unknown_method },
		{ "ping", test_ping },
		{ "keep-alive false closes", test_keep_alive_false_closes },
		{ "tools/list", test_tools_list },
		{ "tools/call refusals -32602", test_tools_call_refusals },
		{ "tools/call result shape", test_tools_call_result_shape },
		{ "logging/setLevel", test_logging_set_level },
		{ "notifications and responses 202", test_notifications_and_responses_202 },
		{ "batch on 2025-03-26", test_batch_2025_03_26 },
		{ "batch on negotiated 2025-03-26", test_batch_negotiated_version },
		{ "batch refused on newer versions", test_batch_refused_on_newer },
		{ "empty batch 400", test_empty_batch },
		{ "batch never waits", test_batch_never_waits },
		{ "resources", test_resources },
		{ "prompts", test_prompts },
		{ "Host check", test_host_check },
		{ "Origin check", test_origin_check },
		{ "path 404, method 405", test_path_and_method },
		{ "HEAD has no body", test_head_has_no_body },
		{ NULL, NULL },
	};
	static const struct unit_suite suites[] = {
		{ "mcp", tests, NULL, NULL, setup, teardown },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};

	log_set_level(LOG_LVL_WARNING);
	jsonrpc_init(); /* the daemon's cJSON hooks, as main() installs them */
	return unit_main(suites);
}
