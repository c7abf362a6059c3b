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

#endif
