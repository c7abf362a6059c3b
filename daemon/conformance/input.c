#include "conformance/input.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

/* Each tool asks on the first round and answers once the client's inputResponses (or, on a
 * 2025 session, the reply to its request) carry what it asked for; a retry that lacks it is
 * asked again (basic/patterns/mrtr, Error Handling). */

#define ASK_MS 30000
#define ELICIT_NAME(msg)                                                                 \
	"{\"message\":\"" msg "\",\"requestedSchema\":{\"type\":\"object\",\"properties\":" \
	"{\"name\":{\"type\":\"string\"}},\"required\":[\"name\"]}}"
#define ELICIT_OK                                                                        \
	"{\"message\":\"Please confirm\",\"requestedSchema\":{\"type\":\"object\","       \
	"\"properties\":{\"ok\":{\"type\":\"boolean\"}},\"required\":[\"ok\"]}}"
#define SAMPLE(text, max)                                                                \
	"{\"messages\":[{\"role\":\"user\",\"content\":{\"type\":\"text\",\"text\":\"" text \
	"\"}}],\"maxTokens\":" #max "}"

/* One text block as the result. */
static enum mcp_tool_status text(struct mcp_tool_ctx *ctx, const char *s)
{
	struct buf b = BUF_INIT;

	buf_puts(&b, "[{\"type\":\"text\",\"text\":");
	buf_json_string(&b, s, strlen(s));
	buf_puts(&b, "}]");
	ctx->content = buf_take(&b);
	return MCP_TOOL_DONE;
}

/* The outcome of asking: ASK, or an error result saying why it could not. */
static enum mcp_tool_status asked(struct mcp_tool_ctx *ctx, int err)
{
	if (err == 0)
		return MCP_TOOL_ASK;
	ctx->is_error = true;
	return text(ctx, err == -EOPNOTSUPP ? "The client did not declare the capability this tool needs"
					    : "This call cannot ask the client for input");
}

static enum mcp_tool_status ask(struct mcp_tool_ctx *ctx, const char *key, const char *method,
				const char *params)
{
	return asked(ctx, mcp_tool_input_request(ctx, key, method, params, ASK_MS));
}

/* A string member of the elicited content (or of the response itself), or fallback. */
static const char *elicited(const cJSON *r, const char *field, const char *fallback)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(r, "content"), field);

	return cJSON_IsString(v) ? v->valuestring : fallback;
}

enum mcp_tool_status conf_ir_elicitation(struct mcp_tool_ctx *ctx)
{
	const cJSON *r = mcp_tool_input_response(ctx, "user_name");
	struct buf b = BUF_INIT;
	enum mcp_tool_status st;

	if (!r)
		return ask(ctx, "user_name", "elicitation/create", ELICIT_NAME("What is your name?"));
	buf_printf(&b, "Hello, %s!", elicited(r, "name", "stranger"));
	st = text(ctx, b.p);
	buf_free(&b);
	return st;
}

enum mcp_tool_status conf_ir_sampling(struct mcp_tool_ctx *ctx)
{
	const cJSON *r = mcp_tool_input_response(ctx, "capital_question");
	struct buf b = BUF_INIT;
	enum mcp_tool_status st;

	if (!r)
		return ask(ctx, "capital_question", "sampling/createMessage",
			   SAMPLE("What is the capital of France?", 100));
	buf_printf(&b, "LLM response: %s", elicited(r, "text", ""));
	st = text(ctx, b.p);
	buf_free(&b);
	return st;
}

enum mcp_tool_status conf_ir_list_roots(struct mcp_tool_ctx *ctx)
{
	const cJSON *r = mcp_tool_input_response(ctx, "client_roots"), *root, *uri;
	struct buf b = BUF_INIT;
	enum mcp_tool_status st;
	int n = 0;

	if (!r)
		return ask(ctx, "client_roots", "roots/list", "{}");
	buf_puts(&b, "Client roots:");
	cJSON_ArrayForEach(root, cJSON_GetObjectItemCaseSensitive(r, "roots")) {
		uri = cJSON_GetObjectItemCaseSensitive(root, "uri");
		if (cJSON_IsString(uri))
			buf_printf(&b, "%s %s", n++ ? "," : "", uri->valuestring);
	}
	if (!n)
		buf_puts(&b, " none");
	st = text(ctx, b.p);
	buf_free(&b);
	return st;
}

/* request_state and tampered_state: the answer counts only with the state the first round
 * sealed (the MCP layer has already refused one that fails verification). */
enum mcp_tool_status conf_ir_request_state(struct mcp_tool_ctx *ctx)
{
	const cJSON *r = mcp_tool_input_response(ctx, "confirm");

	if (r && ctx->input_state && strcmp(ctx->input_state, "round-1") == 0)
		return text(ctx, "state-ok: the requestState came back intact");
	if (ctx->modern)
		mcp_tool_input_keep(ctx, "round-1");
	else if (r || ctx->asked) /* 2025: no requestState; the reply alone answers */
		return text(ctx, "state-ok: answered on the session");
	return ask(ctx, "confirm", "elicitation/create", ELICIT_OK);
}

enum mcp_tool_status conf_ir_multiple(struct mcp_tool_ctx *ctx)
{
	static const char *const keys[] = { "user_name", "greeting", "client_roots" };
	int missing = 0, err = 0;

	for (size_t i = 0; i < 3; i++)
		missing += !mcp_tool_input_response(ctx, keys[i]);
	if (!missing || (!ctx->modern && ctx->asked))
		return text(ctx, "Received every input: name, greeting and roots");
	/* Asks again for all three: the ones answered already cost the client nothing. */
	if (!mcp_tool_input_response(ctx, keys[0]))
		err = mcp_tool_input_request(ctx, keys[0], "elicitation/create",
					     ELICIT_NAME("What is your name?"), ASK_MS);
	if (!err && !mcp_tool_input_response(ctx, keys[1]))
		err = mcp_tool_input_request(ctx, keys[1], "sampling/createMessage",
					     SAMPLE("Generate a greeting", 50), ASK_MS);
	if (!err && !mcp_tool_input_response(ctx, keys[2]))
		err = mcp_tool_input_request(ctx, keys[2], "roots/list", "{}", ASK_MS);
	return asked(ctx, err == -EAGAIN && !ctx->modern ? 0 : err);
}

/* Three rounds: the name, then the colour; the state carries the round and the name. */
enum mcp_tool_status conf_ir_multi_round(struct mcp_tool_ctx *ctx)
{
	const char *state = ctx->input_state ? ctx->input_state : "";
	const cJSON *r1 = mcp_tool_input_response(ctx, "step1");
	const cJSON *r2 = mcp_tool_input_response(ctx, "step2");
	struct buf b = BUF_INIT;
	enum mcp_tool_status st;

	if (strncmp(state, "step2:", 6) == 0 && r2) {
		buf_printf(&b, "Hello, %s! Your favorite color is %s.", state + 6,
			   elicited(r2, "color", "unknown"));
		st = text(ctx, b.p);
	} else if (r1 || strncmp(state, "step2:", 6) == 0) {
		buf_printf(&b, "step2:%s", r1 ? elicited(r1, "name", "stranger") : state + 6);
		if (mcp_tool_input_keep(ctx, b.p) != 0)
			mcp_tool_input_keep(ctx, "step2:stranger");
		st = ask(ctx, "step2", "elicitation/create",
			 "{\"message\":\"Step 2: What is your favorite color?\",\"requestedSchema\":"
			 "{\"type\":\"object\",\"properties\":{\"color\":{\"type\":\"string\"}},"
			 "\"required\":[\"color\"]}}");
	} else {
		st = ask(ctx, "step1", "elicitation/create", ELICIT_NAME("Step 1: What is your name?"));
	}
	buf_free(&b);
	return st;
}

/* Asks only for what the request's clientCapabilities declare (mrtr: Server Requirements). */
enum mcp_tool_status conf_ir_capabilities(struct mcp_tool_ctx *ctx)
{
	int es, ee;

	if (mcp_tool_input_response(ctx, "sample") || mcp_tool_input_response(ctx, "confirm") ||
	    ctx->asked)
		return text(ctx, "Received the input the client could give");
	es = mcp_tool_input_request(ctx, "sample", "sampling/createMessage",
				    SAMPLE("Say hello", 20), ASK_MS);
	ee = es == -EAGAIN ? es : mcp_tool_input_request(ctx, "confirm", "elicitation/create",
							 ELICIT_OK, ASK_MS);
	if (es == 0 || ee == 0)
		return MCP_TOOL_ASK;
	if (es == -EOPNOTSUPP && ee == -EOPNOTSUPP)
		return text(ctx, "The client declared neither sampling nor elicitation: nothing to ask");
	return asked(ctx, es);
}

/* prompts/get may ask too (mrtr, Supported Requests): the context goes into the message. */
enum mcp_tool_status conf_ir_prompt(struct mcp_tool_ctx *ctx, struct buf *messages)
{
	const cJSON *r = mcp_tool_input_response(ctx, "user_context");
	struct buf t = BUF_INIT;

	if (!r && mcp_tool_input_request(ctx, "user_context", "elicitation/create",
					 "{\"message\":\"What context should the prompt use?\","
					 "\"requestedSchema\":{\"type\":\"object\",\"properties\":"
					 "{\"context\":{\"type\":\"string\"}},\"required\":[\"context\"]}}",
					 ASK_MS) == 0)
		return MCP_TOOL_ASK;
	buf_printf(&t, "Answer using this context: %s",
		   r ? elicited(r, "context", "(none given)") : "(the client could not be asked)");
	buf_puts(messages, "{\"role\":\"user\",\"content\":{\"type\":\"text\",\"text\":");
	buf_json_string(messages, t.p, t.len);
	buf_puts(messages, "}}");
	buf_free(&t);
	return MCP_TOOL_DONE;
}

/* server-stateless's diagnostics (SEP-2575). test_missing_capability needs sampling: a
 * client that did not declare it gets -32021 rather than a tool result. */
enum mcp_tool_status conf_missing_capability(struct mcp_tool_ctx *ctx)
{
	const cJSON *r = mcp_tool_input_response(ctx, "llm");
	int err;

	if (r || ctx->asked)
		return text(ctx, "Sampled with the client's declared capability");
	err = mcp_tool_input_request(ctx, "llm", "sampling/createMessage", SAMPLE("Say hello", 20),
				     ASK_MS);
	if (err == -EOPNOTSUPP) {
		mcp_tool_missing_capability(ctx, "sampling");
		return MCP_TOOL_DONE;
	}
	return asked(ctx, err);
}

/* test_streaming_elicitation: at 2026-07-28 the question travels in the result
 * (input_required), never as a request of the server's on the response stream. */
enum mcp_tool_status conf_streaming_elicitation(struct mcp_tool_ctx *ctx)
{
	if (mcp_tool_input_response(ctx, "confirm") || ctx->asked)
		return text(ctx, "Elicited through input_required");
	return ask(ctx, "confirm", "elicitation/create", ELICIT_OK);
}
