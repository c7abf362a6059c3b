#ifndef MCPCHAT_TOOLS_H
#define MCPCHAT_TOOLS_H

#include "config.h"
#include "mcp/mcp.h"
#include "net/timer.h"

/* The adapter between MCP and the chat: the six tools of CHAT-PROTOCOL.md, their schemas
 * (built from the live limits) and results, the guide resource and prompt, the instructions,
 * and the session hooks that make each MCP session a chat user. The one seam where another
 * chat engine (the cluster's) plugs in. */

struct chat;

/* Registers everything on srv. Returns the chat world (owned by the caller, freed with
 * chat_tools_free() after the server), or NULL when the chat cannot get its random keys. */
struct chat *chat_tools_register(struct mcp_server *srv, const struct config *cfg,
			    struct timer_heap *timers);
/* Applies the chat limits of cfg (at start and on SIGHUP). */
void chat_tools_configure(struct chat *c, const struct config *cfg);
void chat_tools_free(struct chat *c);

struct chat_limits;
/* The chat limits a configuration sets (the cluster engine checks arguments with them). */
void chat_tools_limits(const struct config *cfg, struct chat_limits *out);

/* The cluster engine (daemon/cluster/engine.h): when set (a [cluster] redis node), every
 * tool call goes to it after the argument parsing here. NULL: the single node. Borrowed. */
struct cluster_engine;
void chat_tools_set_engine(struct cluster_engine *e);

/* The results, built the same way for both engines (ctx is where the answer goes: the
 * tool's own, or a deferred answer's). */
struct chat_result;
struct chat_status;
enum mcp_tool_status chat_tools_refusal(struct mcp_tool_ctx *ctx, const struct chat_result *r);
enum mcp_tool_status chat_tools_matched(struct mcp_tool_ctx *ctx, const char *chat_id,
					const struct chat_result *r, bool named);
enum mcp_tool_status chat_tools_sent(struct mcp_tool_ctx *ctx, const char *message_id,
				     const char *timestamp);
enum mcp_tool_status chat_tools_left(struct mcp_tool_ctx *ctx);
enum mcp_tool_status chat_tools_status(struct mcp_tool_ctx *ctx, const struct chat_status *st,
				       uint32_t unread);

#endif
