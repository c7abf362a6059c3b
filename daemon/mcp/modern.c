#include "mcp/internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

/* The stateless revision, MCP 2026-07-28, on the same /mcp as the 2025 sessions: each POST
 * carries its version and capabilities in params._meta, mirrored into headers
 * (basic/transports/streamable-http: Request Metadata, Server Validation). No session: a tool
 * finds the state it acts for by its own argument (chat_id) and binds it (mcp_tool_bind). */

#define META_VERSION "io.modelcontextprotocol/protocolVersion"
#define META_CAPS "io.modelcontextprotocol/clientCapabilities"

static const cJSON *meta_of(const cJSON *msg)
{
	const cJSON *params = cJSON_GetObjectItemCaseSensitive(msg, "params");

	return cJSON_GetObjectItemCaseSensitive(params, "_meta");
}

/* The dual-era rule (basic/versioning, Backward Compatibility): a request that says it speaks
 * 2026-07-28, or that carries per-request _meta (or an unknown version) and neither a session
 * nor initialize, is served statelessly; everything else as its 2025 session. */
bool mcp_modern_claims(const struct http_request *req, const cJSON *msg)
{
	const cJSON *method;
	int v = mcp_version_index(req->protocol_version);

	if (v == MCP_VERSION_MODERN)
		return true;
	if (req->session_id || !cJSON_IsObject(msg))
		return false;
	method = cJSON_GetObjectItemCaseSensitive(msg, "method");
	if (cJSON_IsString(method) && strcmp(method->valuestring, "initialize") == 0)
		return false;
	if (req->protocol_version && v < 0)
		return true;
	return cJSON_GetObjectItemCaseSensitive(meta_of(msg), META_VERSION) != NULL;
}

/* An error answer with the request's id (NULL before one is known), at an HTTP status. */
static enum mcp_disposition fail(struct mcp_sink *sink, const struct http_request *req, int status,
				 const cJSON *id, int code, const char *data, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));

static enum mcp_disposition fail(struct mcp_sink *sink, const struct http_request *req, int status,
				 const cJSON *id, int code, const char *data, const char *fmt, ...)
{
	struct buf body = BUF_INIT;
	char message[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	jsonrpc_append_error_data(&body, id, code, message, data);
	mcp_reply_status(sink, req, status, NULL, &body);
	buf_free(&body);
	return req->keep_alive ? MCP_DONE : MCP_CLOSE;
}

/* The request's _meta: -32602 for a missing required field (basic/index, _meta). */
static const char *check_meta(const cJSON *params, const char **version)
{
	const cJSON *meta, *v;

	*version = NULL;
	if (params && !cJSON_IsObject(params))
		return "params must be an object";
	meta = cJSON_GetObjectItemCaseSensitive(params, "_meta");
	if (!cJSON_IsObject(meta))
		return "params._meta is required in MCP 2026-07-28: it carries " META_VERSION
		       " and " META_CAPS " on every request";
	v = cJSON_GetObjectItemCaseSensitive(meta, META_VERSION);
	if (!cJSON_IsString(v))
		return "params._meta." META_VERSION " is required (a string such as \"2026-07-28\")";
	if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(meta, META_CAPS)))
		return "params._meta." META_CAPS " is required (an object; {} declares none)";
	*version = v->valuestring;
	return NULL;
}

/* Validates the envelope of one request; on a refusal *d is set and false returned. */
static bool valid_request(const struct mcp_server *srv, const struct http_request *req,
			  struct mcp_sink *sink, const struct jsonrpc_fields *f,
			  enum mcp_disposition *d)
{
	const char *version, *why;
	char text[256];

	if ((why = check_meta(f->params, &version))) {
		*d = fail(sink, req, 400, f->id, JSONRPC_INVALID_PARAMS, NULL, "Invalid params: %s", why);
		return false;
	}
	if (!req->protocol_version || strcmp(req->protocol_version, version) != 0) {
		*d = fail(sink, req, 400, f->id, MCP_HEADER_MISMATCH, NULL,
			  "Header mismatch: the MCP-Protocol-Version header %s params._meta." META_VERSION,
			  req->protocol_version ? "does not match" : "is required and must equal");
		return false;
	}
	if (mcp_version_index(version) != MCP_VERSION_MODERN) {
		char *data = mcp_version_error_data(version);

		*d = fail(sink, req, 400, f->id, MCP_UNSUPPORTED_VERSION, data,
			  "Unsupported protocol version for a request without a session: use %s, or "
			  "initialize a session for %s, %s or %s", mcp_versions[0], mcp_versions[1],
			  mcp_versions[2], mcp_versions[3]);
		free(data);
		return false;
	}
	if ((why = mcp_headers_check(srv, req, f->method->valuestring, f->params, text,
				     sizeof(text)))) {
		*d = fail(sink, req, 400, f->id, MCP_HEADER_MISMATCH, NULL, "%s", why);
		return false;
	}
	return true;
}

/* After a tools/call: a chat minted by a refused call is dropped again; one that was used is
 * alive (its idle clock restarts). */
static void after_tool(struct mcp_server *srv, struct mcp_answer *a)
{
	struct mcp_session *s = a->tool.session;

	if (!s)
		return;
	if (a->tool.minted && !a->wait && (a->code || a->tool.is_error)) {
		mcp_session_end(srv, s, MCP_END_DELETED);
		return;
	}
	mcp_session_touch(s);
	if (!a->wait)
		mcp_session_arm_idle(srv, s);
}

static int status_of(int code)
{
	switch (code) {
	case JSONRPC_METHOD_NOT_FOUND:
		return 404; /* streamable-http: Protocol Version Header */
	case MCP_HEADER_MISMATCH:
	case MCP_MISSING_CAPABILITY:
	case MCP_UNSUPPORTED_VERSION:
		return 400;
	default:
		return 200;
	}
}

static enum mcp_disposition answer(struct mcp_server *srv, const struct http_request *req,
				   struct mcp_sink *sink, const struct jsonrpc_fields *f)
{
	struct mcp_answer a = { .modern = true };
	struct buf body;
	enum mcp_disposition d;

	mcp_scratch_take(srv, &a.result, &body);
	mcp_methods_dispatch(srv, NULL, f->method->valuestring, f->params, true, &a);
	after_tool(srv, &a);
	if (a.wait && a.tool.session) {
		d = mcp_call_park(srv, a.tool.session, sink, f->id, &a, req->keep_alive);
		goto out;
	}
	if (a.pending) {
		d = mcp_call_park_pending(srv, sink, f->id, &a, req->keep_alive);
		goto out;
	}
	if (a.wait) /* a tool that waits without naming its state: a bug, answered as such */
		mcp_answer_error(&a, JSONRPC_INTERNAL_ERROR, "Internal error in tool %s", a.t->name);
	mcp_answer_append(&body, f->id, &a);
	d = req->keep_alive ? MCP_DONE : MCP_CLOSE;
	if (a.tool.notes.len && !a.code) /* notifications first: an SSE answer */
		d = mcp_reply_streamed(sink, &a.tool.notes, body.p, body.len, req->keep_alive);
	else
		mcp_reply_status(sink, req, status_of(a.code), NULL, &body);
out:
	mcp_scratch_give(srv, &a.result, &body);
	mcp_answer_clear(&a);
	return d;
}

enum mcp_disposition mcp_modern_post(struct mcp_server *srv, const struct http_request *req,
				     struct mcp_sink *sink, const cJSON *msg)
{
	struct jsonrpc_fields f;
	const char *why;
	enum jsonrpc_kind kind;
	enum mcp_disposition d;

	if (cJSON_IsArray(msg))
		return fail(sink, req, 400, NULL, JSONRPC_INVALID_REQUEST, NULL,
			    "Invalid request: MCP 2026-07-28 has no JSON-RPC batches; send one request per POST");
	kind = jsonrpc_classify_fields(msg, &f, &why);
	if (kind == JSONRPC_INVALID)
		return fail(sink, req, 400, f.id, JSONRPC_INVALID_REQUEST, NULL, "Invalid request: %s", why);
	if (kind == JSONRPC_RESPONSE)
		return fail(sink, req, 400, f.id, JSONRPC_INVALID_REQUEST, NULL,
			    "Invalid request: clients send no JSON-RPC responses in MCP 2026-07-28");
	if (kind == JSONRPC_NOTIFICATION) {
		/* None is defined on this transport (closing a stream cancels): accepted, unused. */
		mcp_reply_accepted(sink, req->keep_alive);
		return req->keep_alive ? MCP_DONE : MCP_CLOSE;
	}
	if (!valid_request(srv, req, sink, &f, &d))
		return d;
	return answer(srv, req, sink, &f);
}
