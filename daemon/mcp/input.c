#include "mcp/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

/* Input from the client in both eras (mcp_tool_input_*): on a 2025 session a server-to-client
 * request (mcp_tool_ask); on a 2026-07-28 request an input_required result whose
 * requestState comes back sealed (state.c), so the retry needs nothing kept here. */

#define META_CAPS "io.modelcontextprotocol/clientCapabilities"

static const struct {
	const char *method;
	uint8_t cap;
} needs[] = { { "sampling/createMessage", MCP_CAP_SAMPLING },
	      { "elicitation/create", MCP_CAP_ELICITATION },
	      { "roots/list", MCP_CAP_ROOTS } };

int mcp_tool_input_request(struct mcp_tool_ctx *ctx, const char *key, const char *method,
			   const char *params, uint32_t timeout_ms)
{
	cJSON *p;
	size_t i;

	if (!ctx->modern)
		return mcp_tool_ask(ctx, method, params, timeout_ms);
	for (i = 0; i < sizeof(needs) / sizeof(needs[0]); i++)
		if (strcmp(method, needs[i].method) == 0)
			break;
	if (i == sizeof(needs) / sizeof(needs[0]) || !*key)
		return -EINVAL; /* basic/patterns/mrtr: only these three go in inputRequests */
	p = cJSON_Parse(params);
	if (!cJSON_IsObject(p)) {
		cJSON_Delete(p);
		return -EINVAL;
	}
	cJSON_Delete(p);
	if (!(ctx->input_caps & needs[i].cap))
		return -EOPNOTSUPP;
	buf_puts(&ctx->inputs, ctx->inputs.len ? "," : "");
	buf_json_string(&ctx->inputs, key, strlen(key));
	buf_puts(&ctx->inputs, ":{\"method\":");
	buf_json_string(&ctx->inputs, method, strlen(method));
	buf_printf(&ctx->inputs, ",\"params\":%s}", params);
	return 0;
}

const cJSON *mcp_tool_input_response(const struct mcp_tool_ctx *ctx, const char *key)
{
	if (!ctx->modern)
		return ctx->asked ? ctx->reply : NULL;
	return cJSON_GetObjectItemCaseSensitive(ctx->input_responses, key);
}

void mcp_tool_missing_capability(struct mcp_tool_ctx *ctx, const char *capability)
{
	ctx->missing_cap = capability;
}

/* The -32021 answer of a tool that called mcp_tool_missing_capability(). */
void mcp_input_missing(struct mcp_answer *a)
{
	const char *cap = a->tool.missing_cap;
	struct buf d = BUF_INIT;

	mcp_answer_error(a, MCP_MISSING_CAPABILITY,
			 "Missing required client capability: this call needs %.*s; declare it in "
			 "params._meta." META_CAPS, (int)buf_utf8_prefix(cap, 32), cap);
	buf_puts(&d, "{\"requiredCapabilities\":{");
	buf_json_string(&d, cap, strlen(cap));
	buf_puts(&d, ":{}}}");
	free(a->error_data);
	a->error_data = buf_take(&d);
}

int mcp_tool_input_keep(struct mcp_tool_ctx *ctx, const char *state)
{
	if (strlen(state) > MCP_STATE_MAX_DATA)
		return -E2BIG;
	free(ctx->input_keep);
	ctx->input_keep = xstrdup(state);
	return 0;
}

/* params.inputResponses: an object of the client's results, each an object (mrtr, Error
 * Handling: a malformed one is a protocol error; unknown keys are ignored). */
static const char *check_responses(const cJSON *r, const char **key)
{
	const cJSON *v;

	*key = NULL;
	if (!r)
		return NULL;
	if (!cJSON_IsObject(r))
		return "params.inputResponses must be an object mapping the keys of inputRequests to the client's results";
	cJSON_ArrayForEach(v, r) {
		if (!cJSON_IsObject(v)) {
			*key = v->string;
			return "each of params.inputResponses must be an object (the client's result for that request)";
		}
	}
	return NULL;
}

static const char *state_refusal(int err)
{
	switch (err) {
	case -EXDEV:
		return "params.requestState belongs to another request (its method, name or arguments differ); retry with the arguments of the call that returned it";
	case -ETIMEDOUT:
		return "params.requestState has expired; call again without it to start over";
	case -EALREADY:
		return "params.requestState was used already (each opens once); call again without it to start over";
	default:
		return "params.requestState failed verification (it was altered, or not issued by this server); call again without it to start over";
	}
}

bool mcp_input_begin(const struct mcp_server *srv, const char *name, const cJSON *args,
		     struct mcp_answer *a)
{
	struct mcp_tool_ctx *ctx = &a->tool;
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(a->params, "_meta");
	const cJSON *r = cJSON_GetObjectItemCaseSensitive(a->params, "inputResponses");
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(a->params, "requestState");
	const char *why, *key;
	char *data;
	int err;

	ctx->input_caps = mcp_client_caps(cJSON_GetObjectItemCaseSensitive(meta, META_CAPS));
	if ((why = check_responses(r, &key))) {
		mcp_answer_error(a, JSONRPC_INVALID_PARAMS, "Invalid params: %s%s%.*s", why,
				 key ? "; not so for " : "", key ? (int)buf_utf8_prefix(key, 64) : 0,
				 key ? key : "");
		return false;
	}
	ctx->input_responses = r;
	if (!st)
		return true;
	if (!cJSON_IsString(st)) {
		mcp_answer_error(a, JSONRPC_INVALID_PARAMS,
				 "Invalid params: params.requestState must be the string the server returned");
		return false;
	}
	err = srv->state_keyed ? mcp_state_open(srv->state_key, a->method, name, args,
						st->valuestring, timer_now_ms(), srv->state_used,
						&data)
			       : -EBADMSG;
	if (err) {
		mcp_answer_error(a, JSONRPC_INVALID_PARAMS, "Invalid params: %s", state_refusal(err));
		return false;
	}
	ctx->input_state = data; /* freed by mcp_answer_clear */
	return true;
}

void mcp_input_result(const struct mcp_server *srv, const char *name, const cJSON *args,
		      struct mcp_answer *a)
{
	struct mcp_tool_ctx *ctx = &a->tool;
	char *token = NULL;

	if (srv->state_keyed)
		token = mcp_state_seal(srv->state_key, a->method, name, args,
				       ctx->input_keep ? ctx->input_keep : "", timer_now_ms());
	if (!token) {
		mcp_answer_error(a, JSONRPC_INTERNAL_ERROR,
				 "Internal error: cannot seal the requestState of %s", name);
		return;
	}
	buf_puts(&a->result, "{\"inputRequests\":{");
	buf_append(&a->result, ctx->inputs.p, ctx->inputs.len);
	buf_puts(&a->result, "},\"requestState\":");
	buf_json_string(&a->result, token, strlen(token));
	buf_puts(&a->result, "}");
	a->input_required = true;
	free(token);
}
