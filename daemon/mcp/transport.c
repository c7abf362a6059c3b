#include "mcp/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <mcpchat/version.h>

#include "util/log.h"

/* The Streamable HTTP rules of /mcp: POST (initialize, requests, notifications, batches on
 * 2025-03-26), GET (the push stream), DELETE; versions, Host and Origin. */

const char *const mcp_versions[] = { "2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26" };

int mcp_version_index(const char *v)
{
	for (size_t i = 0; v && i < MCP_N_VERSIONS; i++)
		if (strcmp(v, mcp_versions[i]) == 0)
			return (int)i;
	return -1;
}

char *mcp_version_error_data(const char *requested)
{
	struct buf b = BUF_INIT;

	buf_puts(&b, "{\"supported\":[");
	for (int i = 0; i < MCP_N_VERSIONS; i++)
		buf_printf(&b, "%s\"%s\"", i ? "," : "", mcp_versions[i]);
	buf_puts(&b, "],\"requested\":");
	buf_json_string(&b, requested, strlen(requested));
	buf_puts(&b, "}");
	return buf_take(&b);
}

/* 400 with UnsupportedProtocolVersionError: both eras name every version spoken, so a client
 * of either can pick one (basic/versioning). id is echoed when the body had one. */
static enum mcp_disposition refuse_version(struct mcp_sink *sink, const struct http_request *req,
					   const cJSON *id, const char *requested)
{
	char *data = mcp_version_error_data(requested);
	char message[200];
	struct buf body = BUF_INIT;

	snprintf(message, sizeof(message),
		 "Unsupported protocol version; supported: %s, %s, %s, %s (2026-07-28 without a "
		 "session, the others through initialize)",
		 mcp_versions[0], mcp_versions[1], mcp_versions[2], mcp_versions[3]);
	jsonrpc_append_error_data(&body, id, MCP_UNSUPPORTED_VERSION, message, data);
	mcp_reply_status(sink, req, 400, NULL, &body);
	buf_free(&body);
	free(data);
	return req->keep_alive ? MCP_DONE : MCP_CLOSE;
}

static bool host_allowed(const struct config *cfg, const char *host, size_t len)
{
	for (int i = 0; i < cfg->n_allowed_hosts; i++)
		if (strlen(cfg->allowed_hosts[i]) == len &&
		    strncasecmp(cfg->allowed_hosts[i], host, len) == 0)
			return true;
	return false;
}

/* "name", "name:port", "[v6]:port" → the length of the name part, or -1 when malformed. */
static int host_name_len(const char *h)
{
	const char *colon;

	if (h[0] == '[') {
		const char *end = strchr(h, ']');
		if (!end || (end[1] && end[1] != ':'))
			return -1;
		return (int)(end - h + 1);
	}
	colon = strchr(h, ':');
	return colon ? (int)(colon - h) : (int)strlen(h);
}

/* DNS-rebinding protection: Host, and Origin when sent, must name an allowed host. */
static const char *check_origin(const struct config *cfg, const struct http_request *req)
{
	int n;

	if (!req->host)
		return "Host header is required";
	n = host_name_len(req->host);
	if (n <= 0 || !host_allowed(cfg, req->host, (size_t)n))
		return "Host is not allowed (DNS-rebinding protection); connect through an allowed host name";
	if (req->origin) {
		const char *o = req->origin;
		const char *h = strncmp(o, "http://", 7) == 0	 ? o + 7
				: strncmp(o, "https://", 8) == 0 ? o + 8
								 : NULL;
		if (!h || (n = host_name_len(h)) <= 0 || !host_allowed(cfg, h, (size_t)n))
			return "Origin is not allowed (DNS-rebinding protection)";
	}
	return NULL;
}

/* What the client can be asked (client/sampling, client/elicitation, client/roots). */
uint8_t mcp_client_caps(const cJSON *caps)
{
	uint8_t c = 0;

	if (cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(caps, "sampling")))
		c |= MCP_CAP_SAMPLING;
	if (cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(caps, "elicitation")))
		c |= MCP_CAP_ELICITATION;
	if (cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(caps, "roots")))
		c |= MCP_CAP_ROOTS;
	return c;
}

static enum mcp_disposition initialize(struct mcp_server *srv, const struct http_request *req,
				       struct mcp_sink *sink, const cJSON *msg)
{
	const cJSON *params = cJSON_GetObjectItemCaseSensitive(msg, "params");
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");
	const cJSON *pv = cJSON_GetObjectItemCaseSensitive(params, "protocolVersion");
	struct buf body = BUF_INIT, result = BUF_INIT;
	char extra[96];
	struct mcp_session *s;
	int v, err;

	if (!cJSON_IsString(pv))
		return mcp_refuse(sink, req, 400, JSONRPC_INVALID_PARAMS, NULL,
			      "initialize needs params.protocolVersion (a string such as \"2025-11-25\")");
	err = mcp_session_start(srv, false, &s);
	if (err == -EAGAIN)
		return mcp_refuse(sink, req, 503, JSONRPC_SERVER_ERROR, "Retry-After: 5\r\n",
			      "Too many sessions; try again in a few seconds");
	if (err < 0)
		return mcp_refuse(sink, req, 503, JSONRPC_INTERNAL_ERROR, "Retry-After: 1\r\n",
			      "Cannot start a session right now; try again");
	s->client_caps = mcp_client_caps(cJSON_GetObjectItemCaseSensitive(params, "capabilities"));
	/* Answer with the client's version when we speak it through initialize, else our newest
	 * that does (2026-07-28 has no initialize). */
	v = mcp_version_index(pv->valuestring);
	s->version = (uint8_t)(v < MCP_VERSION_LEGACY ? MCP_VERSION_LEGACY : v);
	buf_printf(&result, "{\"protocolVersion\":\"%s\",\"capabilities\":", mcp_versions[s->version]);
	mcp_catalog_capabilities(srv, &result, true);
	buf_puts(&result, ",\"serverInfo\":{\"name\":\"" MCPCHAT_NAME "\",\"title\":\"mcp-chat\","
		 "\"version\":\"" MCPCHAT_VERSION "\"}");
	if (srv->instructions) {
		buf_puts(&result, ",\"instructions\":");
		buf_json_string(&result, srv->instructions, strlen(srv->instructions));
	}
	buf_puts(&result, "}");
	jsonrpc_append_result(&body, id, result.p, result.len);
	snprintf(extra, sizeof(extra), "Mcp-Session-Id: %s\r\n", s->id);
	mcp_reply_json(sink, 200, extra, body.p, body.len, req->keep_alive);
	buf_free(&body);
	buf_free(&result);
	mcp_session_arm_idle(srv, s);
	log_info("session %s started (protocol %s)", s->handle, mcp_versions[s->version]);
	return req->keep_alive ? MCP_DONE : MCP_CLOSE;
}

static enum mcp_disposition post_single(struct mcp_server *srv, const struct http_request *req,
					struct mcp_sink *sink, struct mcp_session *s, const cJSON *msg)
{
	struct jsonrpc_fields f;
	const char *why;
	enum jsonrpc_kind kind = jsonrpc_classify_fields(msg, &f, &why);
	const cJSON *id = f.id;
	struct mcp_answer a = { 0 };
	struct buf body;
	uint64_t cursor;
	enum mcp_disposition d;

	mcp_scratch_take(srv, &a.result, &body);
	if (kind == JSONRPC_INVALID || kind != JSONRPC_REQUEST) {
		mcp_scratch_give(srv, &a.result, &body);
		if (kind == JSONRPC_INVALID)
			return mcp_refuse(sink, req, 400, JSONRPC_INVALID_REQUEST, NULL, why);
		if (kind == JSONRPC_NOTIFICATION)
			mcp_call_notification(s, &f);
		else /* the answer to a call's request to the client, if one asked it */
			mcp_call_response(s, &f);
		mcp_reply_accepted(sink, req->keep_alive);
		return req->keep_alive ? MCP_DONE : MCP_CLOSE;
	}
	cursor = s->mbox.cursor;
	s->busy++;
	mcp_methods_dispatch(srv, s, f.method->valuestring, f.params, true, &a);
	s->busy--;
	mcp_call_note_answer(s, id, cursor);
	if (a.wait || a.ask) {
		mcp_scratch_give(srv, &a.result, &body);
		return mcp_call_park(srv, s, sink, id, &a, req->keep_alive);
	}
	if (a.pending) {
		mcp_scratch_give(srv, &a.result, &body);
		mcp_session_arm_idle(srv, s);
		return mcp_call_park_pending(srv, sink, id, &a, req->keep_alive);
	}
	mcp_answer_append(&body, id, &a);
	d = req->keep_alive ? MCP_DONE : MCP_CLOSE;
	if (a.tool.notes.len) /* notifications first, then the result: an SSE answer */
		d = mcp_reply_streamed(sink, &a.tool.notes, body.p, body.len, req->keep_alive);
	else
		mcp_reply_json(sink, 200, NULL, body.p, body.len, req->keep_alive);
	mcp_answer_clear(&a);
	mcp_scratch_give(srv, &a.result, &body);
	mcp_session_arm_idle(srv, s);
	return d;
}

/* JSON-RPC batches exist only in protocol 2025-03-26; nothing in a batch waits. */
static enum mcp_disposition post_batch(struct mcp_server *srv, const struct http_request *req,
				       struct mcp_sink *sink, struct mcp_session *s, const cJSON *arr)
{
	int v = req->protocol_version ? mcp_version_index(req->protocol_version) : s->version;
	struct buf out = BUF_INIT;
	const cJSON *msg;
	size_t answers = 0;

	if (v != MCP_VERSION_BATCHES)
		return mcp_refuse(sink, req, 400, JSONRPC_INVALID_REQUEST, NULL,
			      "JSON-RPC batches are only supported in protocol version 2025-03-26; send one message per request");
	if (cJSON_GetArraySize(arr) == 0)
		return mcp_refuse(sink, req, 400, JSONRPC_INVALID_REQUEST, NULL, "Empty batch");
	buf_puts(&out, "[");
	s->busy++;
	cJSON_ArrayForEach(msg, arr) {
		struct mcp_answer a = { .result = BUF_INIT };
		struct jsonrpc_fields f;
		const char *why;
		enum jsonrpc_kind kind = jsonrpc_classify_fields(msg, &f, &why);
		const cJSON *id = f.id;

		if (kind == JSONRPC_NOTIFICATION)
			mcp_call_notification(s, &f);
		else if (kind == JSONRPC_RESPONSE)
			mcp_call_response(s, &f);
		if (kind == JSONRPC_NOTIFICATION || kind == JSONRPC_RESPONSE)
			continue;
		if (kind == JSONRPC_INVALID) {
			mcp_answer_error(&a, JSONRPC_INVALID_REQUEST, "%s", why);
		} else {
			uint64_t cursor = s->mbox.cursor;

			mcp_methods_dispatch(srv, s, f.method->valuestring, f.params, false, &a);
			mcp_call_note_answer(s, id, cursor);
		}
		if (answers++)
			buf_puts(&out, ",");
		mcp_answer_append(&out, kind == JSONRPC_INVALID ? NULL : id, &a);
		buf_free(&a.result);
		mcp_answer_clear(&a);
	}
	s->busy--;
	buf_puts(&out, "]");
	if (answers)
		mcp_reply_json(sink, 200, NULL, out.p, out.len, req->keep_alive);
	else
		mcp_reply_accepted(sink, req->keep_alive);
	buf_free(&out);
	mcp_session_arm_idle(srv, s);
	return req->keep_alive ? MCP_DONE : MCP_CLOSE;
}

static bool is_initialize(const cJSON *msg)
{
	const cJSON *method = cJSON_GetObjectItemCaseSensitive(msg, "method");

	return cJSON_IsString(method) && strcmp(method->valuestring, "initialize") == 0;
}

static bool has_u_escape(const char *p, size_t len)
{
	const char *end = p + len, *bs;

	while ((bs = memchr(p, '\\', (size_t)(end - p))) && bs + 1 < end) {
		if (bs[1] == 'u')
			return true;
		p = bs + 2;
	}
	return false;
}

/* Escapes cJSON cannot carry (\u0000, lone surrogates) are rare: only then is the body copied
 * and rewritten (jsonrpc_fix_escapes). */
static cJSON *parse_body(const struct http_request *req)
{
	char *copy;
	cJSON *msg;

	if (!has_u_escape(req->body, req->body_len))
		return jsonrpc_parse(req->body, req->body_len);
	copy = xmalloc(req->body_len + 1);
	memcpy(copy, req->body, req->body_len);
	msg = jsonrpc_parse(copy, jsonrpc_fix_escapes(copy, req->body_len));
	free(copy);
	return msg;
}

static enum mcp_disposition handle_post(struct mcp_server *srv, const struct http_request *req,
					struct mcp_sink *sink)
{
	enum mcp_disposition d;
	struct mcp_session *s;
	cJSON *msg;

	if (!req->accept_json || !req->accept_sse)
		return mcp_refuse(sink, req, 406, JSONRPC_SERVER_ERROR, NULL,
			      "Not Acceptable: Accept must list both application/json and text/event-stream");
	if (!http_media_is(req->content_type, "application/json"))
		return mcp_refuse(sink, req, 415, JSONRPC_SERVER_ERROR, NULL,
			      "Unsupported Media Type: Content-Type must be application/json");
	msg = parse_body(req);
	if (!msg)
		return mcp_refuse(sink, req, 400, JSONRPC_PARSE_ERROR, NULL,
			      "Parse error: the request body is not valid JSON");
	if (mcp_modern_claims(req, msg)) {
		d = mcp_modern_post(srv, req, sink, msg);
	} else if (req->protocol_version && mcp_version_index(req->protocol_version) < 0) {
		d = refuse_version(sink, req, cJSON_GetObjectItemCaseSensitive(msg, "id"),
				   req->protocol_version);
	} else if (!req->session_id && cJSON_IsObject(msg) && is_initialize(msg)) {
		const char *why;

		d = jsonrpc_classify(msg, &why) == JSONRPC_REQUEST
			    ? initialize(srv, req, sink, msg)
			    : mcp_refuse(sink, req, 400, JSONRPC_INVALID_REQUEST, NULL,
				     "initialize must be a request with an id");
	} else if (!(s = mcp_session_require(srv, req, sink, &d))) {
		/* d is set */
	} else if (cJSON_IsObject(msg) && is_initialize(msg)) {
		d = mcp_refuse(sink, req, 400, JSONRPC_INVALID_REQUEST, NULL,
			   "This session is already initialized; send initialize without Mcp-Session-Id to start a new one");
	} else {
		mcp_session_touch(s);
		d = cJSON_IsArray(msg) ? post_batch(srv, req, sink, s, msg)
				       : post_single(srv, req, sink, s, msg);
	}
	jsonrpc_release(msg);
	return d;
}

static enum mcp_disposition end_session(struct mcp_server *srv, const struct http_request *req,
					struct mcp_sink *sink)
{
	enum mcp_disposition d;
	struct mcp_session *s = mcp_session_require(srv, req, sink, &d);

	if (!s)
		return d;
	log_info("session %s ended by the client", s->handle);
	mcp_session_end(srv, s, MCP_END_DELETED);
	mcp_reply_json(sink, 200, NULL, "", 0, req->keep_alive);
	return req->keep_alive ? MCP_DONE : MCP_CLOSE;
}

enum mcp_disposition mcp_handle(struct mcp_server *srv, const struct http_request *req,
				struct mcp_sink *sink)
{
	const char *why;

	if (strcmp(req->path, "/mcp") != 0)
		return mcp_refuse(sink, req, 404, JSONRPC_SERVER_ERROR, NULL,
			      "Not Found: the MCP endpoint is /mcp");
	if ((why = check_origin(srv->cfg, req)))
		return mcp_refuse(sink, req, req->host ? 403 : 400, JSONRPC_SERVER_ERROR, NULL, why);
	if (req->method != HTTP_M_GET && req->method != HTTP_M_POST && req->method != HTTP_M_DELETE)
		return mcp_refuse(sink, req, 405, JSONRPC_SERVER_ERROR, "Allow: GET, POST, DELETE\r\n",
			      "Method Not Allowed: /mcp takes POST, GET and DELETE");
	if (req->method != HTTP_M_POST && req->protocol_version &&
	    mcp_version_index(req->protocol_version) < 0)
		return refuse_version(sink, req, NULL, req->protocol_version);
	/* 2026-07-28 has no GET stream and no DELETE; a 2025 session still has both. */
	if (req->method != HTTP_M_POST && !req->session_id)
		return mcp_refuse(sink, req, 405, JSONRPC_SERVER_ERROR, "Allow: POST\r\n",
			      "Method Not Allowed: GET and DELETE need the Mcp-Session-Id of a 2025 MCP "
			      "session; MCP 2026-07-28 has neither (POST only)");
	if (srv->shutting_down)
		return mcp_refuse(sink, NULL, 503, JSONRPC_SERVER_ERROR, "Retry-After: 5\r\n",
			      "Service Unavailable: the server is shutting down");
	switch (req->method) {
	case HTTP_M_POST:
		return handle_post(srv, req, sink);
	case HTTP_M_GET:
		return mcp_stream_open(srv, req, sink);
	default:
		return end_session(srv, req, sink);
	}
}
