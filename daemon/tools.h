#ifndef MCPCHAT_TOOLS_H
#define MCPCHAT_TOOLS_H

#include "config.h"
#include "mcp/mcp.h"
#include "timer.h"

/* The chat as MCP: the six tools of CHAT-PROTOCOL.md, their schemas and results, the guide
 * resource and prompt, and the session hooks that make each MCP session a chat user. */

struct chat;

/* Registers everything on srv. Returns the chat world (owned by the caller, freed with
 * tools_free() after the server), or NULL when the chat cannot get its random keys. */
struct chat *tools_register(struct mcp_server *srv, const struct config *cfg,
			    struct timer_heap *timers);
/* Applies the chat limits of cfg (at start and on SIGHUP). */
void tools_configure(struct chat *c, const struct config *cfg);
void tools_free(struct chat *c);

#endif
