#include "mcp/internal.h"

#include <stdio.h>

#include "admin/stats.h"
#include "http/request.h"
#include "http/response.h"
#include "http/sse.h"

/* The HTTP answers of /mcp: heads, JSON bodies, 202s and refusals. */

int mcp_reply_json(struct mcp_sink *sink, int status, const char *extra, const char *body,
		   size_t len, bool keep_alive)
{
	http_response(sink->ops->out(sink), status, "application/json", extra, body, len, keep_alive,
		      false);
	return sink->ops->commit(sink);
}

/* HEAD gets the head alone (RFC 9110 9.3.2). */
static int reply_head_only(struct mcp_sink *sink, int status, const char *extra, size_t len,
			   bool keep_alive)
{
	http_response(sink->ops->out(sink), status, "application/json", extra, NULL, len, keep_alive,
		      true);
	return sink->ops->commit(sink);
}

void mcp_reply_status(struct mcp_sink *sink, const struct http_request *req, int status,
		      const char *extra, const struct buf *body)
{
	bool keep = req ? req->keep_alive : false;

	if (status >= 500)
		stats.http_5xx++;
	else if (status >= 400)
		stats.http_4xx++;
	if (req && req->method == HTTP_M_HEAD)
		reply_head_only(sink, status, extra, body->len, keep);
	else
		mcp_reply_json(sink, status, extra, body->p ? body->p : "", body->len, keep);
}

/* An HTTP-level refusal: status plus a JSON-RPC error with no id, as the SDK answers. */
enum mcp_disposition mcp_refuse(struct mcp_sink *sink, const struct http_request *req,
				   int status, int code, const char *extra, const char *message)
{
	struct buf body = BUF_INIT;
	bool keep = req ? req->keep_alive : false;

	jsonrpc_append_error(&body, NULL, code, message);
	mcp_reply_status(sink, req, status, extra, &body);
	buf_free(&body);
	return keep ? MCP_DONE : MCP_CLOSE;
}

void mcp_reply_busy(struct mcp_sink *sink, const char *why)
{
	mcp_refuse(sink, NULL, 503, JSONRPC_SERVER_ERROR, "Retry-After: 1\r\n", why);
}

void mcp_reply_http_error(struct mcp_sink *sink, int status, const char *why)
{
	char message[192];

	snprintf(message, sizeof(message), "%s: %s", http_reason(status), why);
	mcp_refuse(sink, NULL, status, JSONRPC_SERVER_ERROR, NULL, message);
}

void mcp_reply_accepted(struct mcp_sink *sink, bool keep_alive)
{
	http_response_head(sink->ops->out(sink), 202, NULL, 0, NULL, keep_alive);
	sink->ops->commit(sink);
}

enum mcp_disposition mcp_reply_streamed(struct mcp_sink *sink, struct buf *notes,
					const char *msg, size_t len, bool keep_alive)
{
	struct buf *out = sink->ops->out(sink);

	http_response_head(out, 200, "text/event-stream", -1,
			   "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n", keep_alive);
	if (notes->len)
		buf_append(out, notes->p, notes->len);
	sse_append_event(out, 0, msg, len);
	sse_append_end(out);
	if (sink->ops->commit(sink) < 0)
		keep_alive = false;
	return keep_alive ? MCP_DONE : MCP_CLOSE;
}
