/* HTTP/1.1 on an lg_conn: requests (POST with the MCP headers, GET of a push stream) and the
 * response parser (Content-Length, chunked and close-delimited bodies, pipelining) with an SSE
 * parser for push streams (chunked or plain, multi-line data:) and for answers a POST gets as
 * text/event-stream (the JSON-RPC response event is the answer). Answers go to lg_conn_on. */
#ifndef LG_HTTP_H
#define LG_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "lg_conn.h"

#define LG_MCP_PROTOCOL "2025-11-25"
#define LG_MCP_MODERN "2026-07-28"

/* POST body to the --url path; sid may be NULL (initialize). Reopens a connection the server
 * closed while idle. Returns the queued request, or NULL when it could not reconnect. */
struct lg_req *lg_http_post(struct lg_conn *c, const char *sid, const char *body, size_t blen, uint8_t type);
/* 2026-07-28: POST of a tools/call of tool, without a session, with MCP-Protocol-Version,
 * Mcp-Method and Mcp-Name. */
struct lg_req *lg_http_post_tool(struct lg_conn *c, const char *tool, const char *body, size_t blen, uint8_t type);
/* GET of the session's push stream. */
void lg_http_get(struct lg_conn *c, const char *sid);

/* Parser state for a new socket. */
void lg_http_reset(struct lg_conn *c);
/* Parses what it can of p[0..n); returns the bytes consumed (the caller keeps the rest). */
size_t lg_http_parse(struct lg_conn *c, const char *p, size_t n);
/* The server closed the connection: a close-delimited body ends here. */
void lg_http_eof(struct lg_conn *c);

#endif
