#ifndef MCPCHAT_CONFORMANCE_INPUT_H
#define MCPCHAT_CONFORMANCE_INPUT_H

#include "mcp/mcp.h"

/* The fixtures of the input-required-result-* scenarios (MCP 2026-07-28, SEP-2322): tools
 * that ask the client for input through mcp_tool_input_*, listed in fixtures.c's table. */
enum mcp_tool_status conf_ir_elicitation(struct mcp_tool_ctx *ctx);
enum mcp_tool_status conf_ir_sampling(struct mcp_tool_ctx *ctx);
enum mcp_tool_status conf_ir_list_roots(struct mcp_tool_ctx *ctx);
enum mcp_tool_status conf_ir_request_state(struct mcp_tool_ctx *ctx);
enum mcp_tool_status conf_ir_multiple(struct mcp_tool_ctx *ctx);
enum mcp_tool_status conf_ir_multi_round(struct mcp_tool_ctx *ctx);
enum mcp_tool_status conf_ir_capabilities(struct mcp_tool_ctx *ctx);
enum mcp_tool_status conf_missing_capability(struct mcp_tool_ctx *ctx);
enum mcp_tool_status conf_streaming_elicitation(struct mcp_tool_ctx *ctx);
/* The prompt test_input_required_result_prompt (struct mcp_prompt's get_input). */
enum mcp_tool_status conf_ir_prompt(struct mcp_tool_ctx *ctx, struct buf *messages);

#endif
