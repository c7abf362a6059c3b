#include "mcp/internal.h"

#include <stdlib.h>
#include <sys/random.h>

#include "mcp/jsonrpc.h"
#include "util/log.h"
#include "util/xalloc.h"

/* The server: configuration, what it offers (tools, documents, instructions), hooks,
 * counters and the graceful stop. */

struct mcp_server *mcp_server_new(const struct config *cfg, struct timer_heap *timers)
{
	struct mcp_server *srv = xcalloc(1, sizeof(*srv));

	/* Here as well as in main(): the tests and fuzzers start from this server. */
	jsonrpc_init();
	srv->cfg = cfg;
	srv->timers = timers;
	mcp_sessions_init(&srv->sessions, cfg->max_sessions);
	mcp_sessions_set_node(&srv->sessions, cfg->cluster_node);
	mcp_methods_build_tools_list(srv);
	/* No key, no input_required: such a tool then answers an internal error. */
	srv->state_keyed = getrandom(srv->state_key, sizeof(srv->state_key), 0) ==
			   (ssize_t)sizeof(srv->state_key);
	srv->state_used = mcp_state_used_new(MCP_STATE_USED_MAX);
	if (!srv->state_used)
		srv->state_keyed = false; /* a state that could be replayed is not issued */
	if (!srv->state_keyed)
		log_err("cannot key requestState: getrandom failed");
	return srv;
}

void mcp_server_reconfigure(struct mcp_server *srv)
{
	srv->sessions.max = srv->cfg->max_sessions;
}

void mcp_server_set_tools(struct mcp_server *srv, const struct mcp_tool *tools, size_t n)
{
	srv->tools = tools;
	srv->n_tools = n;
	mcp_methods_build_tools_list(srv);
}

void mcp_server_set_documents(struct mcp_server *srv, const struct mcp_resource *res, size_t n_res,
			      const struct mcp_prompt *prompts, size_t n_prompts)
{
	srv->resources = res;
	srv->n_resources = n_res;
	srv->prompts = prompts;
	srv->n_prompts = n_prompts;
}

void mcp_server_add_catalog(struct mcp_server *srv, const struct mcp_catalog *cat)
{
	srv->catalog = cat;
	mcp_methods_build_tools_list(srv);
}

void mcp_server_set_hooks(struct mcp_server *srv, const struct mcp_hooks *hooks)
{
	srv->hooks = *hooks;
}

void mcp_server_set_instructions(struct mcp_server *srv, const char *text)
{
	srv->instructions = text;
}

void mcp_server_free(struct mcp_server *srv)
{
	if (!srv)
		return;
	while (srv->sessions.all)
		mcp_session_end(srv, srv->sessions.all, MCP_END_SHUTDOWN);
	mcp_sessions_free(&srv->sessions);
	buf_free(&srv->scratch_result);
	buf_free(&srv->scratch_body);
	free(srv->tools_list);
	mcp_state_used_free(srv->state_used);
	mcp_headers_free(srv->param_headers, srv->n_param_headers);
	free(srv);
}

void mcp_server_stats(const struct mcp_server *srv, struct mcp_stats *st)
{
	st->sessions = srv->sessions.count;
	st->streams = srv->streams;
	st->calls_waiting = srv->calls;
}

void mcp_server_shutdown(struct mcp_server *srv)
{
	srv->shutting_down = true;
	if (srv->hooks.shutdown)
		srv->hooks.shutdown(srv->hooks.ctx);
	while (srv->sessions.all)
		mcp_session_end(srv, srv->sessions.all, MCP_END_SHUTDOWN);
}

bool mcp_server_idle(const struct mcp_server *srv)
{
	return srv->sessions.count == 0 && srv->calls == 0;
}

void mcp_scratch_take(struct mcp_server *srv, struct buf *result, struct buf *body)
{
	*result = srv->scratch_result;
	*body = srv->scratch_body;
	result->len = body->len = 0;
	srv->scratch_result = srv->scratch_body = (struct buf)BUF_INIT;
}

void mcp_scratch_give(struct mcp_server *srv, struct buf *result, struct buf *body)
{
	/* Big ones are freed: one huge answer must not pin its memory. */
	if (result->cap > 65536)
		buf_free(result);
	if (body->cap > 65536)
		buf_free(body);
	buf_free(&srv->scratch_result);
	buf_free(&srv->scratch_body);
	srv->scratch_result = *result;
	srv->scratch_body = *body;
	*result = *body = (struct buf)BUF_INIT;
}
