#ifndef MCPCHAT_CONFORMANCE_FIXTURES_H
#define MCPCHAT_CONFORMANCE_FIXTURES_H

#include "mcp/mcp.h"

/* The MCP conformance suite's fixtures (tools test_*, resources test://..., prompts
 * test_*), offered next to the chat's by mcp-chatd-fixtures --conformance-fixtures only. */
void conformance_fixtures_register(struct mcp_server *srv);

#endif
