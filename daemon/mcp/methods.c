#include "mcp/internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mcpchat/version.h>

#include "http/sse.h"

/* The JSON-RPC methods of an initialized session (tools, resources, prompts, logging), and of
 * the stateless revision (the same but logging and ping, plus server/discover). */

/* How long a 2026-07-28 client may reuse a list or discover result (server/utilities/caching).
 * The lists change only on a reload, which they then reflect within this. */
#define MCP_TTL_MS 60000

void mcp_answer_error(struct mcp_answer *a, int code, const char *fmt, ...)
{
	va_list ap;

	a->code = code;
	va_start(ap, fmt);
	vsnprintf(a->message, sizeof(a->message), fmt, ap);
	va_end(ap);
}

/* A 2026-07-28 result: resultType, the server's identity, and cache hints where they apply,
 * added inside the result object (always an object; its closing brace is replaced). */
static void append_modern_result(struct buf *out, const cJSON *id, const struct mcp_answer *a)
{
	const char *r = a->result.p;
	size_t len = a->result.len;

	while (len > 0 && r[len - 1] != '}')
		len--;
	if (len < 2) { /* no object: an empty one */
		r = "{}";
		len = 2;
	}
	/* Written straight into out: the result without its closing brace, then the members. */
	jsonrpc_append_result_open(out, id);
	buf_append(out, r, len - 1);
	if (len > 2)
		buf_puts(out, ",");
	buf_puts(out, a->input_required ? "\"resultType\":\"input_required\""
				       : "\"resultType\":\"complete\"");
	buf_puts(out, ",\"_meta\":{\"io.modelcontextprotocol/serverInfo\":"
		      "{\"name\":\"" MCPCHAT_NAME "\",\"version\":\"" MCPCHAT_VERSION "\"}}");
	if (a->cacheable)
		buf_printf(out, ",\"ttlMs\":%d,\"cacheScope\":\"public\"", MCP_TTL_MS);
	buf_puts(out, "}}");
}

void mcp_answer_append(struct buf *out, const cJSON *id, const struct mcp_answer *a)
{
	if (a->code)
		jsonrpc_append_error_data(out, id, a->code, a->message, a->error_data);
	else if (a->modern)
		append_modern_result(out, id, a);
	else
		jsonrpc_append_result(out, id, a->result.p ? a->result.p : "{}", a->result.len);
}

void mcp_answer_clear(struct mcp_answer *a)
{
	free(a->error_data);
	a->error_data = NULL;
	buf_free(&a->tool.notes);
	free(a->tool.ask);
	a->tool.ask = NULL;
	buf_free(&a->tool.inputs);
	free(a->tool.input_keep);
	a->tool.input_keep = NULL;
	free(a->tool.input_state);
	a->tool.input_state = NULL;
}

void mcp_methods_build_tools_list(struct mcp_server *srv)
{
	struct buf b = BUF_INIT;
	const struct mcp_tool *t;

	buf_puts(&b, "{\"tools\":[");
	for (size_t i = 0; (t = mcp_catalog_tool(srv, i)); i++) {
		buf_puts(&b, i ? ",{\"name\":" : "{\"name\":");
		buf_json_string(&b, t->name, strlen(t->name));
		if (t->title) {
			buf_puts(&b, ",\"title\":");
			buf_json_string(&b, t->title, strlen(t->title));
		}
		buf_puts(&b, ",\"description\":");
		buf_json_string(&b, t->description, strlen(t->description));
		buf_printf(&b, ",\"inputSchema\":%s", t->input_schema);
		if (t->output_schema)
			buf_printf(&b, ",\"outputSchema\":%s", t->output_schema);
		buf_puts(&b, "}");
	}
	buf_puts(&b, "]}");
	free(srv->tools_list);
	srv->tools_list = buf_take(&b);
	mcp_headers_build(srv);
}

void mcp_methods_run_tool(struct mcp_server *srv, struct mcp_session *s, const struct mcp_tool *t,
		     const cJSON *args, bool may_wait, struct mcp_answer *a)
{
	struct mcp_tool_ctx *ctx = &a->tool;
	enum mcp_tool_status st;

	buf_free(&ctx->notes);
	buf_free(&ctx->inputs);
	free(ctx->input_keep);
	free(ctx->input_state);
	memset(ctx, 0, sizeof(*ctx));
	ctx->progress_token = a->progress_token;
	ctx->log_meta = a->log_meta;
	ctx->asked = a->asked;
	ctx->reply = a->reply;
	ctx->srv = srv;
	ctx->session = s;
	ctx->args = args;
	ctx->may_wait = may_wait;
	ctx->modern = a->modern;
	a->t = t;
	if (a->modern && a->params && !mcp_input_begin(srv, t->name, args, a))
		return;
	st = t->call(ctx);
	if (st == MCP_TOOL_WAIT && may_wait) {
		a->wait = true;
		return;
	}
	if (st == MCP_TOOL_PENDING && ctx->pending) {
		a->pending = true;
		return;
	}
	if (st == MCP_TOOL_ASK && ctx->ask) {
		a->ask = true;
		return;
	}
	if (st == MCP_TOOL_ASK && ctx->inputs.len) { /* 2026-07-28: input_required */
		mcp_input_result(srv, t->name, args, a);
		return;
	}
	free(ctx->ask);
	ctx->ask = NULL;
	if (ctx->pending) {
		mcp_call_drop_pending(ctx->pending);
		ctx->pending = NULL;
	}
	if (ctx->missing_cap) { /* an error: whatever result the tool set goes */
		free(ctx->content);
		free(ctx->structured_text);
		cJSON_Delete(ctx->structured);
		ctx->content = ctx->structured_text = NULL;
		ctx->structured = NULL;
		mcp_input_missing(a);
		return;
	}
	mcp_methods_tool_result(ctx, t, a);
}

/* A tool's own content blocks, with its structured content when it gave one. */
static void tool_content_result(struct mcp_tool_ctx *ctx, struct mcp_answer *a)
{
	char *text = ctx->structured_text;

	if (!text && ctx->structured)
		text = cJSON_PrintUnformatted(ctx->structured);
	buf_puts(&a->result, "{\"content\":");
	buf_puts(&a->result, ctx->content);
	if (text)
		buf_printf(&a->result, ",\"structuredContent\":%s", text);
	buf_puts(&a->result, ctx->is_error ? ",\"isError\":true}" : "}");
	if (text != ctx->structured_text)
		cJSON_free(text);
	free(ctx->structured_text);
	free(ctx->content);
	cJSON_Delete(ctx->structured);
	ctx->structured_text = ctx->content = NULL;
	ctx->structured = NULL;
}

void mcp_methods_tool_result(struct mcp_tool_ctx *ctx, const struct mcp_tool *t,
			     struct mcp_answer *a)
{
	char *text;

	if (ctx->content) {
		tool_content_result(ctx, a);
		return;
	}
	if (!ctx->structured && !ctx->structured_text) {
		mcp_answer_error(a, JSONRPC_INTERNAL_ERROR, "Internal error in tool %s",
				 t ? t->name : "(deferred)");
		return;
	}
	/* One serialisation serves both: the text content is the JSON as a string. */
	text = ctx->structured_text ? ctx->structured_text : cJSON_PrintUnformatted(ctx->structured);
	ctx->structured_text = NULL;
	buf_puts(&a->result, "{\"content\":[{\"type\":\"text\",\"text\":");
	if (ctx->is_error && ctx->error_text)
		buf_json_string(&a->result, ctx->error_text, strlen(ctx->error_text));
	else if (text)
		buf_json_string(&a->result, text, strlen(text));
	else
		buf_puts(&a->result, "\"\"");
	buf_puts(&a->result, "}],\"structuredContent\":");
	buf_puts(&a->result, text ? text : "{}");
	buf_puts(&a->result, ctx->is_error ? ",\"isError\":true}" : "}");
	cJSON_free(text);
	cJSON_Delete(ctx->structured);
	ctx->structured = NULL;
}

int mcp_tool_progress(struct mcp_tool_ctx *ctx, double progress, double total,
		      const char *message)
{
	struct buf ev = BUF_INIT;
	char *token;

	if (!ctx->progress_token)
		return -ENOENT;
	if (ctx->progress_any && progress <= ctx->progress_sent)
		return -ERANGE; /* basic/utilities/progress: it MUST increase with each one */
	token = cJSON_PrintUnformatted(ctx->progress_token);
	buf_printf(&ev, "{\"progressToken\":%s,\"progress\":%.17g", token, progress);
	if (total > 0)
		buf_printf(&ev, ",\"total\":%.17g", total);
	if (message) {
		buf_puts(&ev, ",\"message\":");
		buf_json_string(&ev, message, strlen(message));
	}
	buf_puts(&ev, "}");
	sse_append_notification(&ctx->notes, 0, "notifications/progress", ev.p, ev.len);
	cJSON_free(token);
	buf_free(&ev);
	ctx->progress_sent = progress;
	ctx->progress_any = true;
	return 0;
}

/* The severities as logging/setLevel names them (RFC 5424), by enum mcp_log_level. */
static const char *const log_names[] = { "emergency", "alert",  "critical", "error",
					  "warning",   "notice", "info",     "debug" };

/* Only what logging/setLevel lets through (asked: and only once the client sent it); a
 * 2026-07-28 request only what its _meta logLevel does (changelog: none for a request
 * without one). A deferred answer has no session: log_meta holds what its request allowed
 * (mcp_pending_result_init). */
static bool log_passes(const struct mcp_tool_ctx *ctx, enum mcp_log_level level, bool asked)
{
	if (ctx->modern || !ctx->session)
		return (unsigned)level + 1 <= ctx->log_meta;
	return (!asked || ctx->session->log_asked) && (unsigned)level <= ctx->session->log_level;
}

int mcp_tool_log(struct mcp_tool_ctx *ctx, enum mcp_log_level level, const char *logger,
		 const char *data)
{
	struct buf ev = BUF_INIT;

	if (!log_passes(ctx, level, false))
		return 0;
	buf_printf(&ev, "{\"level\":\"%s\"", log_names[level]);
	if (logger) {
		buf_puts(&ev, ",\"logger\":");
		buf_json_string(&ev, logger, strlen(logger));
	}
	buf_printf(&ev, ",\"data\":%s}", data);
	sse_append_notification(&ctx->notes, 0, "notifications/message", ev.p, ev.len);
	buf_free(&ev);
	return 1;
}

bool mcp_tool_log_asked(const struct mcp_tool_ctx *ctx, enum mcp_log_level level)
{
	return log_passes(ctx, level, true);
}

/* 1 + the severity of params._meta["io.modelcontextprotocol/logLevel"], 0 when absent or
 * not a level (2026-07-28: logging is per request, opted into there). */
static uint8_t meta_log_level(const cJSON *params)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(params, "_meta"), "io.modelcontextprotocol/logLevel");

	for (uint8_t i = 0; cJSON_IsString(v) && i < 8; i++)
		if (strcmp(v->valuestring, log_names[i]) == 0)
			return i + 1;
	return 0;
}

static void call_tool(struct mcp_server *srv, struct mcp_session *s, const cJSON *params,
		      bool may_wait, struct mcp_answer *a)
{
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(params, "name");
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(params, "arguments");
	static cJSON empty = { .type = cJSON_Object };
	const struct mcp_tool *t;

	if (!cJSON_IsString(name)) {
		mcp_answer_error(a, JSONRPC_INVALID_PARAMS, "params.name must be the name of a tool");
		return;
	}
	if (args && !cJSON_IsObject(args)) {
		mcp_answer_error(a, JSONRPC_INVALID_PARAMS, "params.arguments must be an object");
		return;
	}
	/* A waiting call reports progress to a client that asked for it (basic/utilities). */
	a->method = "tools/call";
	a->params = params;
	a->progress_token = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(params, "_meta"), "progressToken");
	a->log_meta = a->modern ? meta_log_level(params) : 0;
	for (size_t i = 0; (t = mcp_catalog_tool(srv, i)); i++) {
		if (strcmp(t->name, name->valuestring) == 0) {
			mcp_methods_run_tool(srv, s, t, args ? args : &empty, may_wait, a);
			return;
		}
	}
	mcp_answer_error(a, JSONRPC_INVALID_PARAMS, "Unknown tool: %.*s; tools/list names the tools",
		     (int)buf_utf8_prefix(name->valuestring, 64), name->valuestring);
}

static void set_log_level(struct mcp_session *s, const cJSON *params, struct mcp_answer *a)
{
	const cJSON *level = cJSON_GetObjectItemCaseSensitive(params, "level");

	for (uint8_t i = 0; cJSON_IsString(level) && i < 8; i++) {
		if (strcmp(level->valuestring, log_names[i]) == 0) {
			s->log_level = i;
			s->log_asked = true;
			buf_puts(&a->result, "{}");
			return;
		}
	}
	mcp_answer_error(a, JSONRPC_INVALID_PARAMS,
		     "params.level must be one of debug, info, notice, warning, error, critical, alert, emergency");
}

/* server/discover (2026-07-28): what the initialize result said, for every request. */
static void discover(struct mcp_server *srv, struct mcp_answer *a)
{
	buf_puts(&a->result, "{\"supportedVersions\":[");
	for (int i = 0; i < MCP_N_VERSIONS; i++)
		buf_printf(&a->result, "%s\"%s\"", i ? "," : "", mcp_versions[i]);
	buf_puts(&a->result, "],\"capabilities\":");
	mcp_catalog_capabilities(srv, &a->result, false);
	if (srv->instructions) {
		buf_puts(&a->result, ",\"instructions\":");
		buf_json_string(&a->result, srv->instructions, strlen(srv->instructions));
	}
	buf_puts(&a->result, "}");
}

/* The methods of the stateless revision that are not those of a session. */
static bool dispatch_modern(struct mcp_server *srv, const char *method, struct mcp_answer *a)
{
	static const char *const cacheable[] = { "server/discover", "tools/list", "resources/list",
						 "resources/read", "resources/templates/list",
						 "prompts/list" };

	for (size_t i = 0; i < sizeof(cacheable) / sizeof(cacheable[0]); i++)
		if (strcmp(method, cacheable[i]) == 0)
			a->cacheable = true;
	if (strcmp(method, "server/discover") == 0) {
		discover(srv, a);
		return true;
	}
	/* Gone in 2026-07-28 (changelog: no ping, no setLevel, subscriptions/listen instead of
	 * subscribe): "not implemented" like any unknown method. */
	if (strcmp(method, "ping") == 0 || strcmp(method, "logging/setLevel") == 0 ||
	    strcmp(method, "initialize") == 0) {
		mcp_answer_error(a, JSONRPC_METHOD_NOT_FOUND,
				 "Method not found: %s is not part of MCP 2026-07-28", method);
		return true;
	}
	return false;
}

/* Runs one request of an initialized session or of the stateless revision (a->modern). */
void mcp_methods_dispatch(struct mcp_server *srv, struct mcp_session *s, const char *method,
		     const cJSON *params, bool may_wait, struct mcp_answer *a)
{
	static cJSON empty = { .type = cJSON_Object };

	if (!params)
		params = &empty;
	if (cJSON_IsArray(params))
		mcp_answer_error(a, JSONRPC_INVALID_PARAMS, "params must be an object");
	else if (a->modern && dispatch_modern(srv, method, a))
		return;
	else if (strcmp(method, "tools/call") == 0)
		call_tool(srv, s, params, may_wait, a);
	else if (strcmp(method, "ping") == 0)
		buf_puts(&a->result, "{}");
	else if (strcmp(method, "tools/list") == 0)
		buf_puts(&a->result, srv->tools_list);
	else if (strcmp(method, "logging/setLevel") == 0)
		set_log_level(s, params, a);
	else if (strcmp(method, "resources/list") == 0)
		mcp_catalog_list_resources(srv, &a->result);
	else if (strcmp(method, "resources/read") == 0)
		mcp_catalog_read(srv, params, a);
	else if (strcmp(method, "resources/templates/list") == 0)
		mcp_catalog_list_templates(srv, &a->result);
	else if (strcmp(method, "resources/subscribe") == 0)
		mcp_catalog_subscribe(srv, a->modern ? NULL : s, params, true, a);
	else if (strcmp(method, "resources/unsubscribe") == 0)
		mcp_catalog_subscribe(srv, a->modern ? NULL : s, params, false, a);
	else if (strcmp(method, "prompts/list") == 0)
		mcp_catalog_list_prompts(srv, &a->result);
	else if (strcmp(method, "prompts/get") == 0)
		mcp_catalog_get_prompt(srv, params, a);
	else if (strcmp(method, "completion/complete") == 0)
		mcp_catalog_complete(srv, params, a);
	else if (strcmp(method, "initialize") == 0)
		mcp_answer_error(a, JSONRPC_INVALID_REQUEST,
			     "This session is already initialized; send initialize without Mcp-Session-Id to start a new one");
	else
		mcp_answer_error(a, JSONRPC_METHOD_NOT_FOUND, "Method not found: %.*s",
			     (int)buf_utf8_prefix(method, 64), method);
}
