/* The MCP 2026-07-28 ("modern") chat for rpc and relay (--era modern): no initialize and no
 * session. join_room without chat_id mints the chat (each pair of sessions shares a room) and
 * every later call names it; events come from wait_for_message long polls on the session's
 * second connection, each one acknowledging what the one before returned (after = its next).
 * Every request carries MCP-Protocol-Version, Mcp-Method and Mcp-Name (lg_http_post_tool) and
 * params._meta with the version and the client's capabilities. */
#ifndef LG_MODERN_H
#define LG_MODERN_H

#include <stdbool.h>
#include <stddef.h>

#include "lg_conn.h"
#include "lg_http.h"
#include "lg_mcp.h"

/* the params member every modern request ends with */
#define LG_MODERN_META                                                                                                 \
	",\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"" LG_MCP_MODERN                                     \
	"\",\"io.modelcontextprotocol/clientCapabilities\":{}}"

/* how long a wait_for_message waits for an event, in seconds */
#define LG_MODERN_WAIT_S 30

/* join_room minting a chat; then the wait loop, and the session is ready on chatroom.found */
void lg_modern_start(struct lg_session *s);
/* The answer to a modern join_room or wait_for_message. */
void lg_modern_response(struct lg_conn *c, struct lg_req *r, int status, const char *body, size_t blen);
/* The wait_for_message connection closed. */
void lg_modern_closed(struct lg_conn *c, bool had_outstanding);

#endif
