#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp_harness.h"
#include "util/log.h"

/* The catalog a layer adds next to the chat's (mcp_server_add_catalog): tools with content
 * blocks of their own and streamed notifications, blob resources, templates, subscriptions,
 * prompts with arguments and completion. Without a catalog nothing of it shows. */

#define PNG "iVBORw0KGgo="

static enum mcp_tool_status t_image(struct mcp_tool_ctx *ctx)
{
	ctx->content = xstrdup("[{\"type\":\"image\",\"data\":\"" PNG "\",\"mimeType\":\"image/png\"}]");
	return MCP_TOOL_DONE;
}

static enum mcp_tool_status t_fail(struct mcp_tool_ctx *ctx)
{
	ctx->content = xstrdup("[{\"type\":\"text\",\"text\":\"nope\"}]");
	ctx->is_error = true;
	return MCP_TOOL_DONE;
}

static int progress_rc[5];
static int logs_sent;   /* what mcp_tool_log let through on x_stream's last run */
static bool log_asked;  /* mcp_tool_log_asked(info) there */

static enum mcp_tool_status t_stream(struct mcp_tool_ctx *ctx)
{
	progress_rc[0] = mcp_tool_progress(ctx, 0, 100, "start");
	progress_rc[1] = mcp_tool_progress(ctx, 50, 100, NULL);
	progress_rc[2] = mcp_tool_progress(ctx, 40, 100, NULL); /* going down: refused */
	progress_rc[3] = mcp_tool_progress(ctx, 100, 100, NULL);
	progress_rc[4] = mcp_tool_progress(ctx, 100, 100, NULL); /* the same again: refused */
	log_asked = mcp_tool_log_asked(ctx, MCP_LOG_INFO);
	logs_sent = mcp_tool_log(ctx, MCP_LOG_INFO, "unit", "\"info line\"");
	logs_sent += mcp_tool_log(ctx, MCP_LOG_DEBUG, "unit", "{\"k\":1}");
	logs_sent += mcp_tool_log(ctx, MCP_LOG_ERROR, NULL, "\"error line\"");
	ctx->content = xstrdup("[{\"type\":\"text\",\"text\":\"done\"}]");
	return MCP_TOOL_DONE;
}

static const struct mcp_tool tools[] = {
	{ "x_image", NULL, "image", "{\"type\":\"object\"}", NULL, t_image },
	{ "x_fail", NULL, "fails", "{\"type\":\"object\"}", NULL, t_fail },
	{ "x_stream", NULL, "streams", "{\"type\":\"object\"}", NULL, t_stream },
};

static const struct mcp_resource resources[] = {
	{ .uri = "x://text", .name = "text", .mime_type = "text/plain", .text = "hello" },
	{ .uri = "x://bin", .name = "bin", .mime_type = "image/png", .blob = PNG },
};

static int tmpl_read(const cJSON *vars, const char *uri, struct buf *out)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(vars, "id");

	if (strcmp(id->valuestring, "missing") == 0)
		return -ENOENT;
	buf_puts(out, "{\"uri\":");
	buf_json_string(out, uri, strlen(uri));
	buf_printf(out, ",\"text\":\"item %s\"}", id->valuestring);
	return 0;
}

static const struct mcp_resource_template templates[] = {
	{ "x://item/{id}/data", "item", NULL, "an item", "text/plain", tmpl_read },
};

static int p_get(const cJSON *args, struct buf *out)
{
	buf_printf(out, "{\"role\":\"user\",\"content\":{\"type\":\"text\",\"text\":\"%s+%s\"}}",
		   cJSON_GetObjectItemCaseSensitive(args, "a")->valuestring,
		   cJSON_GetObjectItemCaseSensitive(args, "b")->valuestring);
	return 0;
}

static const char *const a_values[] = { "park", "paris", "zoo", NULL };
static const struct mcp_prompt_arg p_args[] = {
	{ "a", "first", true, a_values },
	{ "b", "second", true, NULL },
	{ "c", "optional", false, NULL },
};
static const struct mcp_prompt prompts[] = {
	{ .name = "x_args", .description = "with arguments", .args = p_args, .n_args = 3,
	  .get = p_get },
	{ .name = "x_plain", .description = "plain", .text = "plain text" },
};

static const struct mcp_catalog catalog = {
	.tools = tools, .n_tools = 3, .resources = resources, .n_resources = 2,
	.templates = templates, .n_templates = 1, .prompts = prompts, .n_prompts = 2,
	.subscribe = true, .completions = true,
};

static void setup_catalog(void)
{
	world_up(100);
	mcp_server_add_catalog(W.srv, &catalog);
}

/* An answer as parsed JSON (plain JSON, or the last event of an SSE answer: *e keeps all). */
static cJSON *ask(const char *sid, const char *method, const char *params, struct sse *e)
{
	char body[1024];
	struct http_request req = req_new(HTTP_M_POST, sid);
	struct fake_sink *f = sink_new();
	struct resp r = { 0 };
	cJSON *j = NULL;

	snprintf(body, sizeof(body), "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"%s\"%s%s}", method,
		 params ? ",\"params\":" : "", params ? params : "");
	req_body(&req, body);
	memset(e, 0, sizeof(*e));
	CU_ASSERT_EQUAL(mcp_handle(W.srv, &req, &f->sink), MCP_DONE);
	take(f, &r, NULL);
	CU_ASSERT_EQUAL(r.status, 200);
	if (r.chunked) {
		CU_ASSERT_TRUE(r.ended);
		CU_ASSERT_TRUE(sse_parse(&r.body, e));
		if (e->n > 0)
			j = cJSON_Duplicate(e->msg[e->n - 1], 1);
	} else {
		j = cJSON_ParseWithLength(r.body.p, r.body.len);
	}
	resp_free(&r);
	sink_close(f);
	return j;
}

static void test_template_match(void)
{
	cJSON *v = mcp_uri_template_match("x://item/{id}/data", "x://item/123/data");

	CU_ASSERT_STRING_EQUAL(jstr(v, "id"), "123");
	cJSON_Delete(v);
	v = mcp_uri_template_match("a/{x}-{y}", "a/1-2");
	CU_ASSERT_STRING_EQUAL(jstr(v, "x"), "1");
	CU_ASSERT_STRING_EQUAL(jstr(v, "y"), "2");
	cJSON_Delete(v);
	CU_ASSERT_PTR_NULL(mcp_uri_template_match("x://item/{id}/data", "x://item//data"));
	CU_ASSERT_PTR_NULL(mcp_uri_template_match("x://item/{id}/data", "x://item/1/2/data"));
	CU_ASSERT_PTR_NULL(mcp_uri_template_match("x://item/{id}/data", "x://item/1/datax"));
	CU_ASSERT_PTR_NULL(mcp_uri_template_match("x://item/{id}", "y://item/1"));
	CU_ASSERT_PTR_NULL(mcp_uri_template_match("x://{}", "x://1"));
}

static void test_complete_values(void)
{
	static const char *many[202];
	struct buf b = BUF_INIT;
	cJSON *j;

	mcp_complete_values(a_values, "pa", &b);
	j = cJSON_Parse(b.p);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jget(j, "completion.values")), 2);
	CU_ASSERT_STRING_EQUAL(jstr(j, "completion.values.0"), "park");
	CU_ASSERT_EQUAL(jnum(j, "completion.total"), 2);
	CU_ASSERT_TRUE(cJSON_IsFalse(jget(j, "completion.hasMore")));
	cJSON_Delete(j);
	for (int i = 0; i < 201; i++)
		many[i] = "v";
	b.len = 0;
	mcp_complete_values(many, "", &b);
	j = cJSON_Parse(b.p);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jget(j, "completion.values")), 100);
	CU_ASSERT_EQUAL(jnum(j, "completion.total"), 201);
	CU_ASSERT_TRUE(cJSON_IsTrue(jget(j, "completion.hasMore")));
	cJSON_Delete(j);
	b.len = 0;
	mcp_complete_values(NULL, "x", &b);
	j = cJSON_Parse(b.p);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jget(j, "completion.values")), 0);
	cJSON_Delete(j);
	buf_free(&b);
}

/* The chat alone: capabilities and methods as before. */
static void test_without_catalog(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct reply rp;
	struct sse e;
	cJSON *j;

	init_version(NEWEST, id, &rp);
	CU_ASSERT_PTR_NULL(jget(rp.json, "result.capabilities.completions"));
	CU_ASSERT_PTR_NULL(jget(rp.json, "result.capabilities.resources.subscribe"));
	CU_ASSERT_PTR_NOT_NULL(jget(rp.json, "result.capabilities.logging"));
	reply_free(&rp);
	j = ask(id, "completion/complete", "{\"ref\":{\"type\":\"ref/prompt\",\"name\":\"x\"},"
		"\"argument\":{\"name\":\"a\",\"value\":\"\"}}", &e);
	CU_ASSERT_EQUAL(jnum(j, "error.code"), JSONRPC_METHOD_NOT_FOUND);
	cJSON_Delete(j);
	j = ask(id, "resources/subscribe", "{\"uri\":\"mcp-chat://guide\"}", &e);
	CU_ASSERT_EQUAL(jnum(j, "error.code"), JSONRPC_METHOD_NOT_FOUND);
	cJSON_Delete(j);
	j = ask(id, "resources/templates/list", NULL, &e);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jget(j, "result.resourceTemplates")), 0);
	cJSON_Delete(j);
	j = ask(id, "prompts/list", NULL, &e);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jget(j, "result.prompts")), 1);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jget(j, "result.prompts.0.arguments")), 0);
	cJSON_Delete(j);
}

static void test_capabilities_and_lists(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct reply rp;
	struct sse e;
	cJSON *j;
	int n;

	init_version(NEWEST, id, &rp);
	CU_ASSERT_PTR_NOT_NULL(jget(rp.json, "result.capabilities.completions"));
	CU_ASSERT_TRUE(cJSON_IsTrue(jget(rp.json, "result.capabilities.resources.subscribe")));
	reply_free(&rp);
	j = ask(id, "tools/list", NULL, &e);
	n = cJSON_GetArraySize(jget(j, "result.tools"));
	CU_ASSERT_TRUE(n > 3);
	CU_ASSERT_STRING_EQUAL(cJSON_GetArrayItem(jget(j, "result.tools"), n - 1)->child->valuestring,
			       "x_stream"); /* the catalog's come after the chat's */
	cJSON_Delete(j);
	j = ask(id, "resources/list", NULL, &e);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jget(j, "result.resources")), 3);
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.resources.2.uri"), "x://bin");
	cJSON_Delete(j);
	j = ask(id, "resources/templates/list", NULL, &e);
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.resourceTemplates.0.uriTemplate"), "x://item/{id}/data");
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.resourceTemplates.0.mimeType"), "text/plain");
	cJSON_Delete(j);
	j = ask(id, "prompts/list", NULL, &e);
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.prompts.1.arguments.0.name"), "a");
	CU_ASSERT_TRUE(cJSON_IsTrue(jget(j, "result.prompts.1.arguments.0.required")));
	CU_ASSERT_TRUE(cJSON_IsFalse(jget(j, "result.prompts.1.arguments.2.required")));
	cJSON_Delete(j);
}

static void test_tool_content(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	cJSON *j;

	init_session(id);
	j = call_tool(id, "x_image", "{}");
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.content.0.type"), "image");
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.content.0.data"), PNG);
	CU_ASSERT_PTR_NULL(jget(j, "result.structuredContent"));
	CU_ASSERT_PTR_NULL(jget(j, "result.isError"));
	cJSON_Delete(j);
	j = call_tool(id, "x_fail", "{}");
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.content.0.text"), "nope");
	CU_ASSERT_TRUE(cJSON_IsTrue(jget(j, "result.isError")));
	cJSON_Delete(j);
}

static const char *method_of(const cJSON *m)
{
	return jstr(m, "method");
}

/* Progress for the request's token (echoed exactly, never going down) and the logs the
 * session's level lets through, all before the result on the POST's SSE answer. */
static void test_tool_streams(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct sse e;
	cJSON *j;
	int logs = 0, progress = 0;

	init_session(id);
	/* Before logging/setLevel: the default level lets info through, but nobody asked. */
	j = ask(id, "tools/call", "{\"name\":\"x_stream\",\"arguments\":{}}", &e);
	CU_ASSERT_EQUAL(logs_sent, 2);
	CU_ASSERT_FALSE(log_asked);
	sse_free(&e);
	cJSON_Delete(j);
	j = ask(id, "logging/setLevel", "{\"level\":\"debug\"}", &e);
	cJSON_Delete(j);
	j = ask(id, "tools/call", "{\"name\":\"x_stream\",\"arguments\":{},"
		"\"_meta\":{\"progressToken\":\"tok-1\"}}", &e);
	CU_ASSERT_TRUE(log_asked);
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.content.0.text"), "done");
	CU_ASSERT_EQUAL(progress_rc[2], -ERANGE);
	CU_ASSERT_EQUAL(progress_rc[3], 0);
	CU_ASSERT_EQUAL(progress_rc[4], -ERANGE);
	for (int i = 0; i < e.n - 1; i++) {
		if (strcmp(method_of(e.msg[i]), "notifications/progress") == 0) {
			CU_ASSERT_STRING_EQUAL(jstr(e.msg[i], "params.progressToken"), "tok-1");
			CU_ASSERT_EQUAL(jnum(e.msg[i], "params.progress"), progress * 50);
			CU_ASSERT_EQUAL(jnum(e.msg[i], "params.total"), 100);
			progress++;
		} else if (strcmp(method_of(e.msg[i]), "notifications/message") == 0) {
			logs++;
		}
	}
	CU_ASSERT_EQUAL(progress, 3);
	CU_ASSERT_EQUAL(logs, 3);
	CU_ASSERT_STRING_EQUAL(jstr(e.msg[0], "params.message"), "start");
	CU_ASSERT_STRING_EQUAL(jstr(e.msg[4], "params.logger"), "unit");
	CU_ASSERT_EQUAL(jnum(e.msg[4], "params.data.k"), 1);
	sse_free(&e);
	cJSON_Delete(j);

	/* At "error" and without a token: only the error line, and no progress. */
	j = ask(id, "logging/setLevel", "{\"level\":\"error\"}", &e);
	cJSON_Delete(j);
	j = ask(id, "tools/call", "{\"name\":\"x_stream\",\"arguments\":{}}", &e);
	CU_ASSERT_EQUAL(progress_rc[0], -ENOENT);
	CU_ASSERT_EQUAL(e.n, 2);
	CU_ASSERT_FALSE(log_asked); /* asked, but for error and above */
	CU_ASSERT_STRING_EQUAL(jstr(e.msg[0], "params.level"), "error");
	CU_ASSERT_PTR_NULL(jget(e.msg[0], "params.logger"));
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.content.0.text"), "done");
	sse_free(&e);
	cJSON_Delete(j);
}

static void test_resources_read(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct sse e;
	cJSON *j;

	init_session(id);
	j = ask(id, "resources/read", "{\"uri\":\"x://bin\"}", &e);
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.contents.0.blob"), PNG);
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.contents.0.mimeType"), "image/png");
	CU_ASSERT_PTR_NULL(jget(j, "result.contents.0.text"));
	cJSON_Delete(j);
	j = ask(id, "resources/read", "{\"uri\":\"x://text\"}", &e);
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.contents.0.text"), "hello");
	cJSON_Delete(j);
	j = ask(id, "resources/read", "{\"uri\":\"x://item/42/data\"}", &e);
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.contents.0.uri"), "x://item/42/data");
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.contents.0.text"), "item 42");
	cJSON_Delete(j);
	j = ask(id, "resources/read", "{\"uri\":\"x://item/missing/data\"}", &e);
	CU_ASSERT_EQUAL(jnum(j, "error.code"), -32002);
	cJSON_Delete(j);
	j = ask(id, "resources/read", "{\"uri\":\"x://item/1/2/data\"}", &e);
	CU_ASSERT_EQUAL(jnum(j, "error.code"), -32002);
	cJSON_Delete(j);
}

/* Only what the session subscribed to comes on its push stream. */
static void updated_on_stream(const char *id)
{
	struct fake_sink *f = open_stream(id);
	struct sse e;
	bool ended;

	CU_ASSERT_EQUAL(mcp_resource_updated(W.srv, "x://text"), 0);
	CU_ASSERT_EQUAL(mcp_resource_updated(W.srv, "x://item/9/data"), 1);
	stream_events(f, &e, &ended);
	CU_ASSERT_FALSE(ended);
	CU_ASSERT_EQUAL_FATAL(e.n, 1);
	CU_ASSERT_STRING_EQUAL(jstr(e.msg[0], "method"), "notifications/resources/updated");
	CU_ASSERT_STRING_EQUAL(jstr(e.msg[0], "params.uri"), "x://item/9/data");
	sse_free(&e);
	sink_close(f);
}

static void test_subscribe(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct mcp_session *s = init_session(id);
	struct sse e;
	cJSON *j;

	j = ask(id, "resources/subscribe", "{\"uri\":\"x://text\"}", &e);
	CU_ASSERT_PTR_NOT_NULL(jget(j, "result"));
	cJSON_Delete(j);
	j = ask(id, "resources/subscribe", "{\"uri\":\"x://text\"}", &e); /* once is enough */
	cJSON_Delete(j);
	j = ask(id, "resources/subscribe", "{\"uri\":\"x://item/9/data\"}", &e);
	CU_ASSERT_PTR_NOT_NULL(jget(j, "result"));
	cJSON_Delete(j);
	CU_ASSERT_EQUAL(s->n_subs, 2);
	j = ask(id, "resources/subscribe", "{\"uri\":\"x://nothing\"}", &e);
	CU_ASSERT_EQUAL(jnum(j, "error.code"), -32002);
	cJSON_Delete(j);
	j = ask(id, "resources/subscribe", "{}", &e);
	CU_ASSERT_EQUAL(jnum(j, "error.code"), JSONRPC_INVALID_PARAMS);
	cJSON_Delete(j);
	j = ask(id, "resources/unsubscribe", "{\"uri\":\"x://text\"}", &e);
	CU_ASSERT_PTR_NOT_NULL(jget(j, "result"));
	cJSON_Delete(j);
	j = ask(id, "resources/unsubscribe", "{\"uri\":\"x://never\"}", &e);
	CU_ASSERT_PTR_NOT_NULL(jget(j, "result"));
	cJSON_Delete(j);
	CU_ASSERT_EQUAL(s->n_subs, 1);
	CU_ASSERT_STRING_EQUAL(s->subs[0], "x://item/9/data");
	updated_on_stream(id);
	/* the session's end frees them (ASan would say) */
}

static void test_prompts_and_completion(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct sse e;
	cJSON *j;

	init_session(id);
	j = ask(id, "prompts/get", "{\"name\":\"x_args\",\"arguments\":{\"a\":\"1\",\"b\":\"2\"}}", &e);
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.messages.0.content.text"), "1+2");
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.description"), "with arguments");
	cJSON_Delete(j);
	j = ask(id, "prompts/get", "{\"name\":\"x_args\",\"arguments\":{\"a\":\"1\"}}", &e);
	CU_ASSERT_EQUAL(jnum(j, "error.code"), JSONRPC_INVALID_PARAMS);
	cJSON_Delete(j);
	j = ask(id, "prompts/get", "{\"name\":\"x_args\",\"arguments\":{\"a\":\"1\",\"b\":\"2\",\"c\":3}}", &e);
	CU_ASSERT_EQUAL(jnum(j, "error.code"), JSONRPC_INVALID_PARAMS);
	cJSON_Delete(j);
	j = ask(id, "prompts/get", "{\"name\":\"x_plain\"}", &e);
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.messages.0.content.text"), "plain text");
	cJSON_Delete(j);
	j = ask(id, "completion/complete", "{\"ref\":{\"type\":\"ref/prompt\",\"name\":\"x_args\"},"
		"\"argument\":{\"name\":\"a\",\"value\":\"par\"}}", &e);
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.completion.values.0"), "park");
	CU_ASSERT_STRING_EQUAL(jstr(j, "result.completion.values.1"), "paris");
	CU_ASSERT_EQUAL(jnum(j, "result.completion.total"), 2);
	cJSON_Delete(j);
	j = ask(id, "completion/complete", "{\"ref\":{\"type\":\"ref/prompt\",\"name\":\"x_args\"},"
		"\"argument\":{\"name\":\"b\",\"value\":\"\"}}", &e);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jget(j, "result.completion.values")), 0);
	cJSON_Delete(j);
	j = ask(id, "completion/complete", "{\"ref\":{\"type\":\"ref/prompt\",\"name\":\"nope\"},"
		"\"argument\":{\"name\":\"a\",\"value\":\"\"}}", &e);
	CU_ASSERT_EQUAL(jnum(j, "error.code"), JSONRPC_INVALID_PARAMS);
	cJSON_Delete(j);
	j = ask(id, "completion/complete", "{\"ref\":{\"type\":\"ref/resource\",\"uri\":\"x://item/{id}/data\"},"
		"\"argument\":{\"name\":\"id\",\"value\":\"\"}}", &e);
	CU_ASSERT_TRUE(cJSON_IsArray(jget(j, "result.completion.values")));
	cJSON_Delete(j);
}

/* 2026-07-28: completions and logging (per request) yes; no subscriptions (subscriptions/listen instead);
 * the catalog's templated read and completion work without a session. */
static void test_modern(void)
{
	struct reply rp;

	mrpc("server/discover", NULL, NULL, &rp);
	CU_ASSERT_PTR_NOT_NULL(jget(rp.json, "result.capabilities.completions"));
	CU_ASSERT_PTR_NULL(jget(rp.json, "result.capabilities.resources.subscribe"));
	CU_ASSERT_PTR_NOT_NULL(jget(rp.json, "result.capabilities.logging"));
	reply_free(&rp);
	mrpc("resources/subscribe", "\"uri\":\"x://text\"", "x://text", &rp);
	expect_merror(&rp, 404, JSONRPC_METHOD_NOT_FOUND, 7);
	reply_free(&rp);
	mrpc("resources/read", "\"uri\":\"x://item/5/data\"", "x://item/5/data", &rp);
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "result.contents.0.text"), "item 5");
	reply_free(&rp);
	mrpc("completion/complete", "\"ref\":{\"type\":\"ref/prompt\",\"name\":\"x_args\"},"
	     "\"argument\":{\"name\":\"a\",\"value\":\"z\"}", NULL, &rp);
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "result.completion.values.0"), "zoo");
	reply_free(&rp);
}

/* 2026-07-28: logs only for a request whose _meta names a level, filtered by it. */
static void modern_stream(const char *meta, int want_sent, bool want_asked)
{
	struct mreq m;
	struct reply rp;

	mreq_init(&m, "7", "tools/call", meta, "\"name\":\"x_stream\",\"arguments\":{}", "x_stream");
	do_req(&m.req, &rp);
	CU_ASSERT_EQUAL(rp.r.status, 200);
	CU_ASSERT_EQUAL(logs_sent, want_sent);
	CU_ASSERT_EQUAL(log_asked, want_asked);
	reply_free(&rp);
}

static void test_modern_log_level(void)
{
	modern_stream(NULL, 0, false);
	modern_stream("\"io.modelcontextprotocol/logLevel\":\"info\"", 2, true);
	modern_stream("\"io.modelcontextprotocol/logLevel\":\"debug\"", 3, true);
	modern_stream("\"io.modelcontextprotocol/logLevel\":\"error\"", 1, false);
	modern_stream("\"io.modelcontextprotocol/logLevel\":\"loud\"", 0, false);
}

int main(void)
{
	static const struct unit_test pure[] = {
		{ "uri template matching", test_template_match },
		{ "completion values: prefix, at most 100", test_complete_values },
		{ "no catalog: the chat's capabilities", test_without_catalog },
		{ NULL, NULL },
	};
	static const struct unit_test tests[] = {
		{ "capabilities and lists", test_capabilities_and_lists },
		{ "tool content blocks", test_tool_content },
		{ "tool progress and logs before the result", test_tool_streams },
		{ "resources: blob, template", test_resources_read },
		{ "subscribe, unsubscribe", test_subscribe },
		{ "prompts with arguments, completion", test_prompts_and_completion },
		{ "2026-07-28: discover, no subscribe, read, complete", test_modern },
		{ "2026-07-28: log notifications per request (_meta logLevel)", test_modern_log_level },
		{ NULL, NULL },
	};
	static const struct unit_suite suites[] = {
		{ "mcp_catalog_plain", pure, NULL, NULL, setup, teardown },
		{ "mcp_catalog", tests, NULL, NULL, setup_catalog, teardown },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};

	log_set_level(LOG_LVL_WARNING);
	jsonrpc_init();
	return unit_main(suites);
}
