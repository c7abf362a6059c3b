#include "mcp/internal.h"

#include <stdio.h>

#include "admin/stats.h"
#include "http/request.h"

/* The HTTP answers of /mcp: heads, JSON bodies, 202s and refusals. */

void mcp_reply_head(struct buf *out, int status, const char *ctype, long length,
		       const char *extra, bool keep_alive)
{
	char head[1024];
	int n = http_format_head(head, sizeof(head), status, ctype, length, extra, keep_alive);

	if (n > 0)
		buf_append(out, head, (size_t)n);
}

int mcp_reply_json(struct mcp_sink *sink, int status, const char *extra, const char *body,
		      size_t len, bool keep_alive)
{
	struct buf *out = sink->ops->out(sink);

	mcp_reply_head(out, status, "application/json", (long)len, extra, keep_alive);
	buf_append(out, body, len);
	return sink->ops->commit(sink);
}

/* HEAD gets the head alone (RFC 9110 9.3.2). */
static int reply_head_only(struct mcp_sink *sink, int status, const char *extra, size_t len,
			   bool keep_alive)
{
	mcp_reply_head(sink->ops->out(sink), status, "application/json", (long)len, extra, keep_alive);
	return sink->ops->commit(sink);
}

/* An HTTP-level refusal: status plus a JSON-RPC error with no id, as the SDK answers. */
enum mcp_disposition mcp_refuse(struct mcp_sink *sink, const struct http_request *req,
				   int status, int code, const char *extra, const char *message)
{
	struct buf body = BUF_INIT;
	bool keep = req ? req->keep_alive : false;

	if (status >= 500)
		stats.http_5xx++;
	else if (status >= 400)
		stats.http_4xx++;
	jsonrpc_append_error(&body, NULL, code, message);
	if (req && req->method == HTTP_M_HEAD)
		reply_head_only(sink, status, extra, body.len, keep);
	else
		mcp_reply_json(sink, status, extra, body.p ? body.p : "", body.len, keep);
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
	mcp_reply_head(sink->ops->out(sink), 202, NULL, 0, NULL, keep_alive);
	sink->ops->commit(sink);
}
