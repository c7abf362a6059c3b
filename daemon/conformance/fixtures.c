#include "conformance/fixtures.h"
#include "conformance/input.h"

#include <errno.h>
#include <string.h>

#include "util/xalloc.h"

/* The fixtures the conformance suite (v0.1.16) calls by name, with the shapes its reference
 * everything-server gives them. Built into mcp-chatd-fixtures only: never packaged. */

#define PNG_1X1 "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
#define WAV_8 "UklGRjQAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YRAAAAAAAAAAAAAAAAAAAAAAAAAA"
#define NO_ARGS "{\"type\":\"object\",\"properties\":{}}"

#define TEXT_BLOCK(t) "{\"type\":\"text\",\"text\":\"" t "\"}"
#define IMAGE_BLOCK "{\"type\":\"image\",\"data\":\"" PNG_1X1 "\",\"mimeType\":\"image/png\"}"
#define RESOURCE_BLOCK                                                                         \
	"{\"type\":\"resource\",\"resource\":{\"uri\":\"test://embedded-resource\","           \
	"\"mimeType\":\"text/plain\",\"text\":\"This is an embedded resource content.\"}}"

static enum mcp_tool_status content(struct mcp_tool_ctx *ctx, const char *json)
{
	ctx->content = xstrdup(json);
	return MCP_TOOL_DONE;
}

static enum mcp_tool_status simple_text(struct mcp_tool_ctx *ctx)
{
	return content(ctx, "[" TEXT_BLOCK("This is a simple text response for testing.") "]");
}

static enum mcp_tool_status image(struct mcp_tool_ctx *ctx)
{
	return content(ctx, "[" IMAGE_BLOCK "]");
}

static enum mcp_tool_status audio(struct mcp_tool_ctx *ctx)
{
	return content(ctx, "[{\"type\":\"audio\",\"data\":\"" WAV_8 "\",\"mimeType\":\"audio/wav\"}]");
}

static enum mcp_tool_status embedded(struct mcp_tool_ctx *ctx)
{
	return content(ctx, "[" RESOURCE_BLOCK "]");
}

static enum mcp_tool_status mixed(struct mcp_tool_ctx *ctx)
{
	return content(ctx, "[" TEXT_BLOCK("Multiple content types test:") "," IMAGE_BLOCK ","
			    RESOURCE_BLOCK "]");
}

static enum mcp_tool_status error_handling(struct mcp_tool_ctx *ctx)
{
	ctx->is_error = true;
	return content(ctx, "[" TEXT_BLOCK("This tool intentionally returns an error for testing") "]");
}

static enum mcp_tool_status with_logging(struct mcp_tool_ctx *ctx)
{
	mcp_tool_log(ctx, MCP_LOG_INFO, "conformance", "\"Tool execution started\"");
	mcp_tool_log(ctx, MCP_LOG_INFO, "conformance", "\"Tool processing data\"");
	mcp_tool_log(ctx, MCP_LOG_INFO, "conformance", "\"Tool execution completed\"");
	return content(ctx, "[" TEXT_BLOCK("Tool with logging executed successfully") "]");
}

static enum mcp_tool_status with_progress(struct mcp_tool_ctx *ctx)
{
	for (int p = 0; p <= 100; p += 50)
		mcp_tool_progress(ctx, p, 100, NULL);
	return content(ctx, "[" TEXT_BLOCK("Tool with progress executed successfully") "]");
}

/* SSE polling (SEP-1699): the server closes the call's POST stream after the priming event and
 * answers a little later; the client reads the answer on a GET with Last-Event-ID. Where the
 * stream cannot be resumed (a session before 2025-11-25) it just answers. */
#define RECONNECT_RETRY_MS 500
#define RECONNECT_AFTER_MS 300
static enum mcp_tool_status reconnection(struct mcp_tool_ctx *ctx)
{
	if (mcp_tool_poll(ctx, RECONNECT_RETRY_MS) == 0) {
		ctx->wait_after = UINT64_MAX; /* no event ends it: only the time */
		ctx->wait_ms = RECONNECT_AFTER_MS;
		return MCP_TOOL_WAIT;
	}
	return content(ctx, "[" TEXT_BLOCK("Reconnection test completed successfully") "]");
}

static enum mcp_tool_status schema_2020_12(struct mcp_tool_ctx *ctx)
{
	return content(ctx, "[" TEXT_BLOCK("JSON Schema 2020-12 tool called") "]");
}

/* Input from the client (mcp_tool_input_*, either era): ask on the first run, answer with
 * the response on the next (a 2025 session's reply, or a 2026-07-28 retry's inputResponses). */
#define ASK_MS 30000
#define KEY "input"

/* Answered, or a 2025 ask that got no reply: either way this run answers. */
static bool answered(const struct mcp_tool_ctx *ctx)
{
	return ctx->asked || mcp_tool_input_response(ctx, KEY);
}

static enum mcp_tool_status ask_or_fail(struct mcp_tool_ctx *ctx, const char *method,
					const char *params)
{
	int err = mcp_tool_input_request(ctx, KEY, method, params, ASK_MS);

	if (err == 0)
		return MCP_TOOL_ASK;
	ctx->is_error = true;
	return content(ctx, err == -EOPNOTSUPP
			    ? "[" TEXT_BLOCK("The client did not declare the capability this tool needs") "]"
			    : "[" TEXT_BLOCK("This call cannot ask the client (a batch, or it asked already)") "]");
}

/* [{"type":"text","text":prefix + json}] as content. */
static enum mcp_tool_status reply_text(struct mcp_tool_ctx *ctx, const char *prefix,
				       const char *text)
{
	struct buf b = BUF_INIT, t = BUF_INIT;

	if (!mcp_tool_input_response(ctx, KEY)) {
		ctx->is_error = true;
		return content(ctx, "[" TEXT_BLOCK("The client gave no answer") "]");
	}
	buf_printf(&t, "%s%s", prefix, text);
	buf_puts(&b, "[{\"type\":\"text\",\"text\":");
	buf_json_string(&b, t.p, t.len);
	buf_puts(&b, "}]");
	ctx->content = buf_take(&b);
	buf_free(&t);
	return MCP_TOOL_DONE;
}

static enum mcp_tool_status elicited(struct mcp_tool_ctx *ctx, const char *prefix)
{
	const cJSON *reply = mcp_tool_input_response(ctx, KEY);
	const cJSON *action = cJSON_GetObjectItemCaseSensitive(reply, "action");
	char *json = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(reply, "content"));
	struct buf t = BUF_INIT;
	enum mcp_tool_status st;

	buf_printf(&t, "action=%s, content=%s", cJSON_IsString(action) ? action->valuestring : "?",
		   json ? json : "{}");
	st = reply_text(ctx, prefix, t.p);
	cJSON_free(json);
	buf_free(&t);
	return st;
}

static enum mcp_tool_status sampling(struct mcp_tool_ctx *ctx)
{
	const cJSON *prompt = cJSON_GetObjectItemCaseSensitive(ctx->args, "prompt");
	const cJSON *text;
	struct buf p = BUF_INIT;
	enum mcp_tool_status st;

	if (answered(ctx)) {
		text = cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(mcp_tool_input_response(ctx, KEY), "content"),
			"text");
		return reply_text(ctx, "LLM response: ", cJSON_IsString(text) ? text->valuestring : "");
	}
	buf_puts(&p, "{\"messages\":[{\"role\":\"user\",\"content\":{\"type\":\"text\",\"text\":");
	if (cJSON_IsString(prompt))
		buf_json_string(&p, prompt->valuestring, strlen(prompt->valuestring));
	else
		buf_puts(&p, "\"\"");
	buf_puts(&p, "}}],\"maxTokens\":100}");
	st = ask_or_fail(ctx, "sampling/createMessage", p.p);
	buf_free(&p);
	return st;
}

static enum mcp_tool_status elicitation(struct mcp_tool_ctx *ctx)
{
	const cJSON *message = cJSON_GetObjectItemCaseSensitive(ctx->args, "message");
	struct buf p = BUF_INIT;
	enum mcp_tool_status st;

	if (answered(ctx))
		return elicited(ctx, "User response: ");
	buf_puts(&p, "{\"message\":");
	if (cJSON_IsString(message))
		buf_json_string(&p, message->valuestring, strlen(message->valuestring));
	else
		buf_puts(&p, "\"Please provide your information\"");
	buf_puts(&p, ",\"requestedSchema\":{\"type\":\"object\",\"properties\":{"
		      "\"username\":{\"type\":\"string\",\"description\":\"User's response\"},"
		      "\"email\":{\"type\":\"string\",\"description\":\"User's email address\"}},"
		      "\"required\":[\"username\",\"email\"]}}");
	st = ask_or_fail(ctx, "elicitation/create", p.p);
	buf_free(&p);
	return st;
}

static enum mcp_tool_status elicit_defaults(struct mcp_tool_ctx *ctx)
{
	if (answered(ctx))
		return elicited(ctx, "Elicitation completed: ");
	return ask_or_fail(ctx, "elicitation/create",
		"{\"message\":\"Please review and update the form fields with defaults\","
		"\"requestedSchema\":{\"type\":\"object\",\"properties\":{"
		"\"name\":{\"type\":\"string\",\"description\":\"User name\",\"default\":\"John Doe\"},"
		"\"age\":{\"type\":\"integer\",\"description\":\"User age\",\"default\":30},"
		"\"score\":{\"type\":\"number\",\"description\":\"User score\",\"default\":95.5},"
		"\"status\":{\"type\":\"string\",\"description\":\"User status\","
		"\"enum\":[\"active\",\"inactive\",\"pending\"],\"default\":\"active\"},"
		"\"verified\":{\"type\":\"boolean\",\"description\":\"Verification status\",\"default\":true}},"
		"\"required\":[]}}");
}

static enum mcp_tool_status elicit_enums(struct mcp_tool_ctx *ctx)
{
	if (answered(ctx))
		return elicited(ctx, "Elicitation completed: ");
	return ask_or_fail(ctx, "elicitation/create",
		"{\"message\":\"Please select options from the enum fields\","
		"\"requestedSchema\":{\"type\":\"object\",\"properties\":{"
		"\"untitledSingle\":{\"type\":\"string\",\"description\":\"Select one option\","
		"\"enum\":[\"option1\",\"option2\",\"option3\"]},"
		"\"titledSingle\":{\"type\":\"string\",\"description\":\"Select one option with titles\","
		"\"oneOf\":[{\"const\":\"value1\",\"title\":\"First Option\"},"
		"{\"const\":\"value2\",\"title\":\"Second Option\"},"
		"{\"const\":\"value3\",\"title\":\"Third Option\"}]},"
		"\"legacyEnum\":{\"type\":\"string\",\"description\":\"Select one option (legacy)\","
		"\"enum\":[\"opt1\",\"opt2\",\"opt3\"],"
		"\"enumNames\":[\"Option One\",\"Option Two\",\"Option Three\"]},"
		"\"untitledMulti\":{\"type\":\"array\",\"description\":\"Select multiple options\","
		"\"minItems\":1,\"maxItems\":3,\"items\":{\"type\":\"string\","
		"\"enum\":[\"option1\",\"option2\",\"option3\"]}},"
		"\"titledMulti\":{\"type\":\"array\",\"description\":\"Select multiple options with titles\","
		"\"minItems\":1,\"maxItems\":3,\"items\":{\"anyOf\":["
		"{\"const\":\"value1\",\"title\":\"First Choice\"},"
		"{\"const\":\"value2\",\"title\":\"Second Choice\"},"
		"{\"const\":\"value3\",\"title\":\"Third Choice\"}]}}},"
		"\"required\":[]}}");
}

/* SEP-2243 (2026-07-28): parameters mirrored into Mcp-Param-* headers, one of each type a
 * header may carry; the server checks them against the arguments before the tool runs. */
static enum mcp_tool_status custom_headers(struct mcp_tool_ctx *ctx)
{
	return content(ctx, "[" TEXT_BLOCK("The Mcp-Param headers matched the arguments.") "]");
}

#define HEADER_ARGS                                                                            \
	"{\"type\":\"object\",\"properties\":{"                                                   \
	"\"region\":{\"type\":\"string\",\"description\":\"Where to run\","                      \
	"\"x-mcp-header\":\"Region\"},"                                                          \
	"\"priority\":{\"type\":\"integer\",\"x-mcp-header\":\"Priority\"},"                      \
	"\"dry_run\":{\"type\":\"boolean\",\"x-mcp-header\":\"Dry-Run\"},"                        \
	"\"query\":{\"type\":\"string\",\"description\":\"Not mirrored\"}},"                     \
	"\"required\":[\"region\"]}"

#define STRING_ARG(n, d)                                                                       \
	"{\"type\":\"object\",\"properties\":{\"" n "\":{\"type\":\"string\",\"description\":\"" d \
	"\"}},\"required\":[\"" n "\"]}"

static const struct mcp_tool tools[] = {
	{ "test_sampling", NULL, "Asks the client's LLM (sampling/createMessage)",
	  STRING_ARG("prompt", "The prompt to send to the LLM"), NULL, sampling },
	{ "test_elicitation", NULL, "Asks the user (elicitation/create)",
	  STRING_ARG("message", "The message to show the user"), NULL, elicitation },
	{ "test_elicitation_sep1034_defaults", NULL, "Elicits with a default for every primitive type",
	  NO_ARGS, NULL, elicit_defaults },
	{ "test_elicitation_sep1330_enums", NULL, "Elicits with the five enum schema variants",
	  NO_ARGS, NULL, elicit_enums },
	{ "test_input_required_result_elicitation", NULL, "Asks the user's name (input_required)",
	  NO_ARGS, NULL, conf_ir_elicitation },
	{ "test_input_required_result_sampling", NULL, "Asks the client's LLM (input_required)",
	  NO_ARGS, NULL, conf_ir_sampling },
	{ "test_input_required_result_list_roots", NULL, "Asks the client's roots (input_required)",
	  NO_ARGS, NULL, conf_ir_list_roots },
	{ "test_input_required_result_request_state", NULL,
	  "Checks that its requestState comes back", NO_ARGS, NULL, conf_ir_request_state },
	{ "test_input_required_result_tampered_state", NULL,
	  "Refuses a requestState that was altered", NO_ARGS, NULL, conf_ir_request_state },
	{ "test_input_required_result_multiple_inputs", NULL,
	  "Asks for a name, a greeting and the roots at once", NO_ARGS, NULL, conf_ir_multiple },
	{ "test_input_required_result_multi_round", NULL, "Asks in two rounds, then answers",
	  NO_ARGS, NULL, conf_ir_multi_round },
	{ "test_input_required_result_capabilities", NULL,
	  "Asks only for what the client declared", NO_ARGS, NULL, conf_ir_capabilities },
	{ "test_missing_capability", NULL, "Needs sampling: -32021 when it is not declared",
	  NO_ARGS, NULL, conf_missing_capability },
	{ "test_streaming_elicitation", NULL, "Elicits through input_required, not the stream",
	  NO_ARGS, NULL, conf_streaming_elicitation },
	{ "test_logging_tool", NULL, "Logs only at a level the request asked for", NO_ARGS, NULL,
	  with_logging },
	{ "test_simple_text", NULL, "Returns simple text content", NO_ARGS, NULL, simple_text },
	{ "test_image_content", NULL, "Returns image content", NO_ARGS, NULL, image },
	{ "test_audio_content", NULL, "Returns audio content", NO_ARGS, NULL, audio },
	{ "test_embedded_resource", NULL, "Returns an embedded resource", NO_ARGS, NULL, embedded },
	{ "test_multiple_content_types", NULL, "Returns text, image and resource content", NO_ARGS,
	  NULL, mixed },
	{ "test_tool_with_logging", NULL, "Sends log messages while it runs", NO_ARGS, NULL,
	  with_logging },
	{ "test_reconnection", NULL,
	  "Closes its SSE stream mid-call; the answer comes on a GET with Last-Event-ID",
	  NO_ARGS, NULL, reconnection },
	{ "test_error_handling", NULL, "Always returns an error", NO_ARGS, NULL, error_handling },
	{ "test_tool_with_progress", NULL, "Reports progress while it runs", NO_ARGS, NULL,
	  with_progress },
	{ "test_custom_headers", NULL, "Mirrors region, priority and dry_run into Mcp-Param-* "
	  "headers (x-mcp-header)", HEADER_ARGS, NULL, custom_headers },
	{ "json_schema_2020_12_tool", NULL, "A tool whose input schema uses JSON Schema 2020-12",
	  "{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"type\":\"object\","
	  "\"$defs\":{\"address\":{\"type\":\"object\",\"properties\":{\"street\":{\"type\":\"string\"},"
	  "\"city\":{\"type\":\"string\"}}}},\"properties\":{\"name\":{\"type\":\"string\"},"
	  "\"address\":{\"$ref\":\"#/$defs/address\"}},\"additionalProperties\":false}",
	  NULL, schema_2020_12 },
};

static const struct mcp_resource resources[] = {
	{ .uri = "test://static-text", .name = "Static Text Resource",
	  .description = "A static text resource for testing", .mime_type = "text/plain",
	  .text = "This is the content of the static text resource." },
	{ .uri = "test://static-binary", .name = "Static Binary Resource",
	  .description = "A static binary resource (image) for testing", .mime_type = "image/png",
	  .blob = PNG_1X1 },
	{ .uri = "test://watched-resource", .name = "Watched Resource",
	  .description = "A resource that can be subscribed to", .mime_type = "text/plain",
	  .text = "Watched resource content" },
};

/* test://template/{id}/data: a JSON document naming the id. */
static int template_read(const cJSON *vars, const char *uri, struct buf *out)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(vars, "id");
	struct buf data = BUF_INIT;
	cJSON *doc;
	char *json;

	if (!cJSON_IsString(id))
		return -ENOENT;
	buf_printf(&data, "Data for ID: %s", id->valuestring);
	doc = cJSON_CreateObject();
	cJSON_AddStringToObject(doc, "id", id->valuestring);
	cJSON_AddBoolToObject(doc, "templateTest", true);
	cJSON_AddStringToObject(doc, "data", data.p);
	json = cJSON_PrintUnformatted(doc);
	buf_puts(out, "{\"uri\":");
	buf_json_string(out, uri, strlen(uri));
	buf_puts(out, ",\"mimeType\":\"application/json\",\"text\":");
	buf_json_string(out, json, strlen(json));
	buf_puts(out, "}");
	cJSON_free(json);
	cJSON_Delete(doc);
	buf_free(&data);
	return 0;
}

static const struct mcp_resource_template templates[] = {
	{ "test://template/{id}/data", "Resource Template",
	  NULL, "A resource template with an id parameter", "application/json", template_read },
};

static void user_text(struct buf *out, const char *text)
{
	buf_puts(out, "{\"role\":\"user\",\"content\":{\"type\":\"text\",\"text\":");
	buf_json_string(out, text, strlen(text));
	buf_puts(out, "}}");
}

static int prompt_args(const cJSON *args, struct buf *out)
{
	struct buf text = BUF_INIT;

	buf_printf(&text, "Prompt with arguments: arg1='%s', arg2='%s'",
		   cJSON_GetObjectItemCaseSensitive(args, "arg1")->valuestring,
		   cJSON_GetObjectItemCaseSensitive(args, "arg2")->valuestring);
	user_text(out, text.p);
	buf_free(&text);
	return 0;
}

static int prompt_embedded(const cJSON *args, struct buf *out)
{
	const char *uri = cJSON_GetObjectItemCaseSensitive(args, "resourceUri")->valuestring;

	buf_puts(out, "{\"role\":\"user\",\"content\":{\"type\":\"resource\",\"resource\":{\"uri\":");
	buf_json_string(out, uri, strlen(uri));
	buf_puts(out, ",\"mimeType\":\"text/plain\",\"text\":\"Embedded resource content for "
		      "testing.\"}}},");
	user_text(out, "Please process the embedded resource above.");
	return 0;
}

static int prompt_image(const cJSON *args, struct buf *out)
{
	(void)args;
	buf_puts(out, "{\"role\":\"user\",\"content\":" IMAGE_BLOCK "},");
	user_text(out, "Please analyze the image above.");
	return 0;
}

static const char *const arg1_values[] = { "paris", "park", "party", "test", "test-value",
					   "testing", NULL };
static const struct mcp_prompt_arg with_args[] = {
	{ "arg1", "First test argument", true, arg1_values },
	{ "arg2", "Second test argument", true, NULL },
};
static const struct mcp_prompt_arg with_uri[] = {
	{ "resourceUri", "URI of the resource to embed", true, NULL },
};

static const struct mcp_prompt prompts[] = {
	{ .name = "test_simple_prompt", .description = "A simple prompt without arguments",
	  .text = "This is a simple prompt for testing." },
	{ .name = "test_prompt_with_arguments", .description = "A prompt with required arguments",
	  .args = with_args, .n_args = 2, .get = prompt_args },
	{ .name = "test_prompt_with_embedded_resource",
	  .description = "A prompt that includes an embedded resource", .args = with_uri,
	  .n_args = 1, .get = prompt_embedded },
	{ .name = "test_prompt_with_image", .description = "A prompt that includes image content",
	  .get = prompt_image },
	{ .name = "test_input_required_result_prompt",
	  .description = "A prompt that asks the user for its context first (input_required)",
	  .get_input = conf_ir_prompt },
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct mcp_catalog catalog = {
	.tools = tools, .n_tools = N(tools),
	.resources = resources, .n_resources = N(resources),
	.templates = templates, .n_templates = N(templates),
	.prompts = prompts, .n_prompts = N(prompts),
	.subscribe = true, .completions = true,
};

void conformance_fixtures_register(struct mcp_server *srv)
{
	mcp_server_add_catalog(srv, &catalog);
}
