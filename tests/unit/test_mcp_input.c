#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp/state.h"
#include "mcp_harness.h"
#include "util/log.h"

/* Input from the client, one API for both eras (mcp_tool_input_*), without sockets: the
 * sealed requestState (state.c) and the input_required round trip of MCP 2026-07-28 (the
 * retry with inputResponses, tampered, foreign and malformed retries refused), the
 * capability check, and the same tool on a 2025 session, where it asks the client. */

/* Tests: requestState */

static const uint8_t key[MCP_STATE_KEY_LEN] = { 1, 2, 3 };

static void test_state_round_trip(void)
{
	cJSON *args = cJSON_Parse("{\"a\":1,\"b\":[true]}");
	char *tok = mcp_state_seal(key, "tools/call", "t", args, "round-1", 1000), *data;

	CU_ASSERT_PTR_NOT_NULL_FATAL(tok);
	CU_ASSERT_EQUAL(mcp_state_open(key, "tools/call", "t", args, tok, 1000, NULL, &data), 0);
	CU_ASSERT_STRING_EQUAL(data, "round-1");
	free(data);
	/* The last moment it is valid, and the first after. */
	CU_ASSERT_EQUAL(mcp_state_open(key, "tools/call", "t", args, tok, 1000 + MCP_STATE_TTL_MS,
				       NULL, &data), 0);
	free(data);
	CU_ASSERT_EQUAL(mcp_state_open(key, "tools/call", "t", args, tok,
				       1001 + MCP_STATE_TTL_MS, NULL, &data), -ETIMEDOUT);
	CU_ASSERT_PTR_NULL(data);
	free(tok);
	tok = mcp_state_seal(key, "prompts/get", "p", NULL, "", 5);
	CU_ASSERT_EQUAL(mcp_state_open(key, "prompts/get", "p", NULL, tok, 5, NULL, &data), 0);
	CU_ASSERT_STRING_EQUAL(data, "");
	free(data);
	free(tok);
	cJSON_Delete(args);
}

/* The arguments' members may come in another order, at any depth; their values may not
 * change, nor may array order. Two seals of one call differ (a nonce each). */
static void test_state_canonical(void)
{
	cJSON *args = cJSON_Parse("{\"b\":{\"y\":1,\"x\":[2,{\"q\":1,\"p\":2}]},\"a\":\"s\"}");
	cJSON *same = cJSON_Parse("{\"a\":\"s\",\"b\":{\"x\":[2,{\"p\":2,\"q\":1}],\"y\":1}}");
	cJSON *swapped = cJSON_Parse("{\"a\":\"s\",\"b\":{\"x\":[{\"p\":2,\"q\":1},2],\"y\":1}}");
	cJSON *other = cJSON_Parse("{\"a\":\"s\",\"b\":{\"x\":[2,{\"p\":2,\"q\":3}],\"y\":1}}");
	char *tok = mcp_state_seal(key, "tools/call", "t", args, "d", 0), *data;
	char *tok2 = mcp_state_seal(key, "tools/call", "t", args, "d", 0);

	CU_ASSERT_PTR_NOT_NULL_FATAL(tok);
	CU_ASSERT_PTR_NOT_NULL_FATAL(tok2);
	CU_ASSERT_STRING_NOT_EQUAL(tok, tok2);
	CU_ASSERT_EQUAL(mcp_state_open(key, "tools/call", "t", same, tok, 0, NULL, &data), 0);
	free(data);
	CU_ASSERT_EQUAL(mcp_state_open(key, "tools/call", "t", swapped, tok, 0, NULL, &data), -EXDEV);
	CU_ASSERT_EQUAL(mcp_state_open(key, "tools/call", "t", other, tok, 0, NULL, &data), -EXDEV);
	/* the caller's arguments are left as they were */
	CU_ASSERT_STRING_EQUAL(cJSON_GetArrayItem(args, 0)->string, "b");
	free(tok);
	free(tok2);
	cJSON_Delete(args);
	cJSON_Delete(same);
	cJSON_Delete(swapped);
	cJSON_Delete(other);
}

/* With a used set a state opens once (-EALREADY after), whatever failed before it; expired
 * ones leave the set, and a full set forgets its oldest. */
static void test_state_once(void)
{
	struct mcp_state_used *u = mcp_state_used_new(2);
	char *a = mcp_state_seal(key, "tools/call", "t", NULL, "a", 0), *data;
	char *b = mcp_state_seal(key, "tools/call", "t", NULL, "b", 10);
	char *c = mcp_state_seal(key, "tools/call", "t", NULL, "c", 20);

	CU_ASSERT_PTR_NOT_NULL_FATAL(u);
	/* a refusal for another reason does not use it up */
	CU_ASSERT_EQUAL(mcp_state_open(key, "tools/call", "u", NULL, a, 30, u, &data), -EXDEV);
	CU_ASSERT_EQUAL(mcp_state_used_count(u), 0);
	CU_ASSERT_EQUAL(mcp_state_open(key, "tools/call", "t", NULL, a, 30, u, &data), 0);
	CU_ASSERT_STRING_EQUAL(data, "a");
	free(data);
	CU_ASSERT_EQUAL(mcp_state_open(key, "tools/call", "t", NULL, a, 31, u, &data), -EALREADY);
	CU_ASSERT_PTR_NULL(data);
	CU_ASSERT_EQUAL(mcp_state_open(key, "tools/call", "t", NULL, b, 31, u, &data), 0);
	free(data);
	CU_ASSERT_EQUAL(mcp_state_used_count(u), 2);
	/* full: c's use forgets a, the oldest */
	CU_ASSERT_EQUAL(mcp_state_open(key, "tools/call", "t", NULL, c, 32, u, &data), 0);
	free(data);
	CU_ASSERT_EQUAL(mcp_state_used_count(u), 2);
	CU_ASSERT_EQUAL(mcp_state_open(key, "tools/call", "t", NULL, b, 33, u, &data), -EALREADY);
	CU_ASSERT_EQUAL(mcp_state_open(key, "tools/call", "t", NULL, c, 33, u, &data), -EALREADY);
	/* b has expired: it leaves the set at the next use (and is refused as expired) */
	CU_ASSERT_EQUAL(mcp_state_open(key, "tools/call", "t", NULL, b, 11 + MCP_STATE_TTL_MS, u,
				       &data), -ETIMEDOUT);
	CU_ASSERT_EQUAL(mcp_state_open(key, "tools/call", "t", NULL, c, 11 + MCP_STATE_TTL_MS, u,
				       &data), -EALREADY);
	CU_ASSERT_EQUAL(mcp_state_used_count(u), 1);
	free(a);
	free(b);
	free(c);
	mcp_state_used_free(u);
}

/* Altered anywhere, another key, garbage: -EBADMSG; another call: -EXDEV. */
static void test_state_refused(void)
{
	static const uint8_t other[MCP_STATE_KEY_LEN] = { 9 };
	cJSON *args = cJSON_Parse("{\"a\":1}"), *args2 = cJSON_Parse("{\"a\":2}");
	char *tok = mcp_state_seal(key, "tools/call", "t", args, "x", 0), *data, *t2;
	size_t n = strlen(tok);
	char big[MCP_STATE_MAX_DATA + 2];

	for (size_t i = 0; i < n; i++) {
		t2 = strdup(tok);
		t2[i] = t2[i] == 'A' ? 'B' : 'A';
		CHECKF(mcp_state_open(key, "tools/call", "t", args, t2, 0, NULL, &data) == -EBADMSG,
		       "altered at %zu", i);
		free(t2);
	}
	t2 = malloc(n + 10);
	snprintf(t2, n + 10, "%s-TAMPERED", tok);
	CU_ASSERT_EQUAL(mcp_state_open(key, "tools/call", "t", args, t2, 0, NULL, &data), -EBADMSG);
	free(t2);
	CU_ASSERT_EQUAL(mcp_state_open(other, "tools/call", "t", args, tok, 0, NULL, &data), -EBADMSG);
	CU_ASSERT_EQUAL(mcp_state_open(key, "tools/call", "t", args, "", 0, NULL, &data), -EBADMSG);
	CU_ASSERT_EQUAL(mcp_state_open(key, "tools/call", "t", args, "!!", 0, NULL, &data), -EBADMSG);
	CU_ASSERT_EQUAL(mcp_state_open(key, "tools/call", "u", args, tok, 0, NULL, &data), -EXDEV);
	CU_ASSERT_EQUAL(mcp_state_open(key, "prompts/get", "t", args, tok, 0, NULL, &data), -EXDEV);
	CU_ASSERT_EQUAL(mcp_state_open(key, "tools/call", "t", args2, tok, 0, NULL, &data), -EXDEV);
	CU_ASSERT_EQUAL(mcp_state_open(key, "tools/call", "t", NULL, tok, 0, NULL, &data), -EXDEV);
	CU_ASSERT_PTR_NULL(data);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CU_ASSERT_PTR_NULL(mcp_state_seal(key, "tools/call", "t", args, big, 0));
	free(tok);
	cJSON_Delete(args);
	cJSON_Delete(args2);
}

/* Tests: the round trip */

/* Asks "who" (elicitation) and, with sampling declared, "llm"; keeps "r1". With the
 * answers: "<name> state=<state>". */
static enum mcp_tool_status t_in(struct mcp_tool_ctx *ctx)
{
	const cJSON *who = mcp_tool_input_response(ctx, "who");
	struct buf b = BUF_INIT;
	int err;

	if (who) {
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(who, "content"), "name");

		buf_printf(&b, "[{\"type\":\"text\",\"text\":\"%s state=%s\"}]",
			   cJSON_IsString(n) ? n->valuestring : "?",
			   ctx->input_state ? ctx->input_state : "none");
		ctx->content = buf_take(&b);
		return MCP_TOOL_DONE;
	}
	err = mcp_tool_input_request(ctx, "who", "elicitation/create", "{\"message\":\"who?\"}", 1000);
	if (err == 0 && ctx->modern) {
		CU_ASSERT_EQUAL(mcp_tool_input_request(ctx, "x", "tools/list", "{}", 1000), -EINVAL);
		CU_ASSERT_EQUAL(mcp_tool_input_request(ctx, "x", "roots/list", "[]", 1000), -EINVAL);
		mcp_tool_input_request(ctx, "llm", "sampling/createMessage", "{\"maxTokens\":1}", 1000);
		CU_ASSERT_EQUAL(mcp_tool_input_keep(ctx, "r1"), 0);
	}
	if (err == 0)
		return MCP_TOOL_ASK;
	ctx->content = xstrdup(err == -EOPNOTSUPP ? "[{\"type\":\"text\",\"text\":\"undeclared\"}]"
						  : "[{\"type\":\"text\",\"text\":\"cannot\"}]");
	ctx->is_error = true;
	return MCP_TOOL_DONE;
}

/* Needs sampling: -32021 without it (its content is dropped), a text with it. */
static enum mcp_tool_status t_need(struct mcp_tool_ctx *ctx)
{
	ctx->content = xstrdup("[{\"type\":\"text\",\"text\":\"partial\"}]");
	if (!(ctx->input_caps & 1u))
		mcp_tool_missing_capability(ctx, "sampling");
	return MCP_TOOL_DONE;
}

static const struct mcp_tool tools[] = {
	{ "x_in", NULL, "asks", "{\"type\":\"object\"}", NULL, t_in },
	{ "x_need", NULL, "needs sampling", "{\"type\":\"object\"}", NULL, t_need },
};
/* A prompt that asks for "ctx" first; one message "ctx=<answer>" ("none": could not ask). */
static enum mcp_tool_status p_in(struct mcp_tool_ctx *ctx, struct buf *messages)
{
	const cJSON *r = mcp_tool_input_response(ctx, "ctx");

	if (!r && mcp_tool_input_request(ctx, "ctx", "elicitation/create", "{\"message\":\"c?\"}",
					 1000) == 0)
		return MCP_TOOL_ASK;
	buf_printf(messages, "{\"role\":\"user\",\"content\":{\"type\":\"text\",\"text\":"
		   "\"ctx=%s\"}}", r ? "given" : "none");
	return MCP_TOOL_DONE;
}

static const struct mcp_prompt prompts[] = {
	{ .name = "x_p", .description = "asks", .get_input = p_in },
};
static const struct mcp_catalog catalog = { .tools = tools, .n_tools = 2, .prompts = prompts,
					    .n_prompts = 1 };

static void setup_in(void)
{
	world_up(100);
	mcp_server_add_catalog(W.srv, &catalog);
}

#define CAPS_ALL "{\"elicitation\":{},\"sampling\":{}}"

/* tools/call x_in of the revision with caps, arguments and more params; the answer. */
static void call_in(const char *caps, const char *args, const char *extra, struct reply *rp)
{
	char body[2048];
	struct mreq m;

	snprintf(body, sizeof(body),
		 "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"_meta\":{\""
		 META_VERSION "\":\"" MODERN "\",\"" META_CAPS "\":%s},\"name\":\"x_in\","
		 "\"arguments\":%s%s%s}}", caps, args, extra ? "," : "", extra ? extra : "");
	mreq_raw(&m, body, "tools/call", "x_in");
	do_req(&m.req, rp);
	CU_ASSERT_EQUAL(rp->r.status, 200);
}

/* The first round's requestState (malloc'd). */
static char *first_round(const char *args)
{
	struct reply rp;
	char *st;

	call_in(CAPS_ALL, args, NULL, &rp);
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "result.resultType"), "input_required");
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "result.inputRequests.who.method"), "elicitation/create");
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "result.inputRequests.who.params.message"), "who?");
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "result.inputRequests.llm.method"),
			       "sampling/createMessage");
	CU_ASSERT_PTR_NULL(jget(rp.json, "result.inputRequests.x"));
	CU_ASSERT_PTR_NULL(jget(rp.json, "result.content"));
	CU_ASSERT_PTR_NOT_NULL(mserver_info(rp.json));
	st = strdup(jstr(rp.json, "result.requestState"));
	reply_free(&rp);
	return st;
}

#define ANSWER "\"inputResponses\":{\"who\":{\"action\":\"accept\",\"content\":{\"name\":\"Ann\"}}}"

static void test_round_trip(void)
{
	char *st = first_round("{\"q\":1}"), extra[1024];
	struct reply rp;

	snprintf(extra, sizeof(extra), ANSWER ",\"requestState\":\"%s\"", st);
	call_in(CAPS_ALL, "{\"q\":1}", extra, &rp);
	expect_modern_result(rp.json);
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "result.content.0.text"), "Ann state=r1");
	reply_free(&rp);
	/* The same state again (a replay): refused, the tool does not run. */
	call_in(CAPS_ALL, "{\"q\":1}", extra, &rp);
	expect_merror(&rp, 200, JSONRPC_INVALID_PARAMS, 7);
	CU_ASSERT_PTR_NOT_NULL(strstr(jstr(rp.json, "error.message"), "used already"));
	reply_free(&rp);
	/* Without the state (mrtr lets the first round's answers come alone), extra keys ignored. */
	call_in(CAPS_ALL, "{\"q\":1}", ANSWER, &rp);
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "result.content.0.text"), "Ann state=none");
	reply_free(&rp);
	/* Answers without the one asked for: asked again. */
	call_in(CAPS_ALL, "{\"q\":1}", "\"inputResponses\":{\"other\":{}}", &rp);
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "result.resultType"), "input_required");
	reply_free(&rp);
	free(st);
}

/* Tampered, another call's, malformed: -32602 before the tool runs. */
static void test_refused(void)
{
	char *st = first_round("{\"q\":1}"), extra[1024];
	struct reply rp;

	snprintf(extra, sizeof(extra), ANSWER ",\"requestState\":\"%s-TAMPERED\"", st);
	call_in(CAPS_ALL, "{\"q\":1}", extra, &rp);
	expect_merror(&rp, 200, JSONRPC_INVALID_PARAMS, 7);
	CU_ASSERT_PTR_NOT_NULL(strstr(jstr(rp.json, "error.message"), "verification"));
	reply_free(&rp);
	snprintf(extra, sizeof(extra), ANSWER ",\"requestState\":\"%s\"", st);
	call_in(CAPS_ALL, "{\"q\":2}", extra, &rp);
	expect_merror(&rp, 200, JSONRPC_INVALID_PARAMS, 7);
	CU_ASSERT_PTR_NOT_NULL(strstr(jstr(rp.json, "error.message"), "another request"));
	reply_free(&rp);
	/* Refusals do not use it up: the right call still opens it. */
	call_in(CAPS_ALL, "{\"q\":1}", extra, &rp);
	expect_modern_result(rp.json);
	reply_free(&rp);
	call_in(CAPS_ALL, "{}", ANSWER ",\"requestState\":5", &rp);
	expect_merror(&rp, 200, JSONRPC_INVALID_PARAMS, 7);
	reply_free(&rp);
	call_in(CAPS_ALL, "{}", "\"inputResponses\":null", &rp);
	expect_merror(&rp, 200, JSONRPC_INVALID_PARAMS, 7);
	reply_free(&rp);
	call_in(CAPS_ALL, "{}", "\"inputResponses\":{\"who\":12345}", &rp);
	expect_merror(&rp, 200, JSONRPC_INVALID_PARAMS, 7);
	CU_ASSERT_PTR_NOT_NULL(strstr(jstr(rp.json, "error.message"), "who"));
	reply_free(&rp);
	free(st);
}

/* Only what the request's clientCapabilities declare is asked for. */
static void test_capabilities(void)
{
	struct reply rp;

	call_in("{\"elicitation\":{}}", "{}", NULL, &rp);
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "result.resultType"), "input_required");
	CU_ASSERT_PTR_NOT_NULL(jget(rp.json, "result.inputRequests.who"));
	CU_ASSERT_PTR_NULL(jget(rp.json, "result.inputRequests.llm"));
	reply_free(&rp);
	call_in("{\"sampling\":{}}", "{}", NULL, &rp);
	expect_modern_result(rp.json);
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "result.content.0.text"), "undeclared");
	reply_free(&rp);
}

/* On a 2025 session the same tool sends elicitation/create on its POST's SSE answer. */
static void test_session_asks(void)
{
	static const char init[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
				   "\"protocolVersion\":\"" NEWEST "\",\"capabilities\":{\"elicitation\":{}},"
				   "\"clientInfo\":{\"name\":\"unit\",\"version\":\"1\"}}}";
	static const char call[] = "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/call\","
				   "\"params\":{\"name\":\"x_in\",\"arguments\":{}}}";
	char id[MCP_SESSION_ID_LEN + 1];
	struct http_request req;
	struct fake_sink *f;
	struct reply rp;
	struct resp r;
	struct sse e;

	post(NULL, init, &rp);
	CU_ASSERT_TRUE_FATAL(header_get(&rp.r, "Mcp-Session-Id", id, sizeof(id)));
	reply_free(&rp);
	req = req_new(HTTP_M_POST, id);
	req_body(&req, call);
	f = sink_new();
	CU_ASSERT_EQUAL(mcp_handle(W.srv, &req, &f->sink), MCP_PENDING);
	take(f, &r, &e);
	CU_ASSERT_EQUAL_FATAL(e.n, 1);
	CU_ASSERT_STRING_EQUAL(jstr(e.msg[0], "method"), "elicitation/create");
	CU_ASSERT_TRUE(cJSON_IsNumber(jget(e.msg[0], "id")));
	sse_free(&e);
	resp_free(&r);
	sink_close(f);
}

/* MissingRequiredClientCapabilityError: 400, -32021, data.requiredCapabilities. */
static void test_missing_capability(void)
{
	struct reply rp;
	struct mreq m;

	mreq_init(&m, "7", "tools/call", NULL, "\"name\":\"x_need\",\"arguments\":{}", "x_need");
	do_req(&m.req, &rp);
	expect_merror(&rp, 400, -32021, 7);
	CU_ASSERT_TRUE(cJSON_IsObject(jget(rp.json, "error.data.requiredCapabilities.sampling")));
	reply_free(&rp);
}

/* A 2025 session's prompts/get cannot wait for the client: the prompt answers without. */
static void rpc_session_prompt(void)
{
	char id[MCP_SESSION_ID_LEN + 1];
	struct reply rp;

	init_version(NEWEST, id, &rp);
	reply_free(&rp);
	rpc(id, "prompts/get", "{\"name\":\"x_p\"}", 3, &rp);
	CU_ASSERT_EQUAL(rp.r.status, 200);
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "result.messages.0.content.text"), "ctx=none");
	reply_free(&rp);
}

/* prompts/get asks too (at 2026-07-28); on a 2025 session it answers without. */
static void test_prompt(void)
{
	char extra[1024], *st;
	struct mreq m;
	struct reply rp;

	mreq_init(&m, "7", "prompts/get", NULL, "\"name\":\"x_p\"", "x_p");
	do_req(&m.req, &rp);
	CU_ASSERT_PTR_NULL_FATAL(jget(rp.json, "error")); /* caps {}: no elicitation declared */
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "result.messages.0.content.text"), "ctx=none");
	reply_free(&rp);
	snprintf(extra, sizeof(extra), "\"name\":\"x_p\"");
	mreq_raw(&m, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"prompts/get\",\"params\":{\"_meta\":"
		 "{\"" META_VERSION "\":\"" MODERN "\",\"" META_CAPS "\":{\"elicitation\":{}}},"
		 "\"name\":\"x_p\"}}", "prompts/get", "x_p");
	do_req(&m.req, &rp);
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "result.resultType"), "input_required");
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "result.inputRequests.ctx.method"), "elicitation/create");
	CU_ASSERT_PTR_NULL(jget(rp.json, "result.messages"));
	st = strdup(jstr(rp.json, "result.requestState"));
	reply_free(&rp);
	snprintf(extra, sizeof(extra), "\"name\":\"x_p\",\"inputResponses\":{\"ctx\":{\"action\":"
		 "\"accept\"}},\"requestState\":\"%s\"", st);
	mreq_init(&m, "7", "prompts/get", NULL, extra, "x_p");
	do_req(&m.req, &rp);
	expect_modern_result(rp.json);
	CU_ASSERT_STRING_EQUAL(jstr(rp.json, "result.messages.0.content.text"), "ctx=given");
	reply_free(&rp);
	/* The state of a prompt is no tool's. */
	snprintf(extra, sizeof(extra), "\"name\":\"x_in\",\"arguments\":{},\"requestState\":\"%s\"", st);
	mreq_init(&m, "7", "tools/call", NULL, extra, "x_in");
	do_req(&m.req, &rp);
	expect_merror(&rp, 200, JSONRPC_INVALID_PARAMS, 7);
	reply_free(&rp);
	free(st);
	rpc_session_prompt();
}

int main(void)
{
	static const struct unit_test state_tests[] = {
		{ "seal, open, expiry", test_state_round_trip },
		{ "altered, foreign key, another call, too long", test_state_refused },
		{ "arguments in any member order", test_state_canonical },
		{ "each opens once; the set is bounded", test_state_once },
		{ NULL, NULL },
	};
	static const struct unit_test flow_tests[] = {
		{ "input_required, retry with responses and state", test_round_trip },
		{ "tampered, foreign, malformed retries", test_refused },
		{ "only declared capabilities", test_capabilities },
		{ "2025 session: a request to the client", test_session_asks },
		{ "prompts/get asks too", test_prompt },
		{ "missing capability: -32021", test_missing_capability },
		{ NULL, NULL },
	};
	static const struct unit_suite suites[] = {
		{ "mcp_state", state_tests, NULL, NULL, NULL, NULL },
		{ "mcp_input", flow_tests, NULL, NULL, setup_in, teardown },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};

	log_set_level(LOG_LVL_WARNING);
	jsonrpc_init();
	return unit_main(suites);
}
