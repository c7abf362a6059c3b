#ifndef MCPCHAT_NOTES_H
#define MCPCHAT_NOTES_H

#include <cjson/cJSON.h>

#include "mcp/mcp.h"

/* Log notifications (notifications/message, level info, logger "chat") of what a tool call
 * brought about, sent on the call's own answer before its result, and only to a client that
 * asked for them (logging/setLevel in a 2025 session, _meta logLevel in 2026-07-28). They
 * carry fixed sentences and counts only: never message text, display names, room ids,
 * chat ids or session ids. */

struct chat_result;

/* enter_queue or join_room (named) answered r (not a refusal). */
void chat_notes_matched(struct mcp_tool_ctx *ctx, const struct chat_result *r, bool named);
/* send_message: the message is in the partner's mailbox. */
void chat_notes_sent(struct mcp_tool_ctx *ctx);
/* leave_chat succeeded. */
void chat_notes_left(struct mcp_tool_ctx *ctx);
/* wait_for_message returns events (the result's array of {method, params}). */
void chat_notes_events(struct mcp_tool_ctx *ctx, const cJSON *events);

#endif
