#ifndef MCPCHAT_CLUSTER_ENGINE_INT_H
#define MCPCHAT_CLUSTER_ENGINE_INT_H

/* Inside the cluster engine: engine.c (tool calls, lifecycle) and engine_wait.c
 * (wait_for_message, wake-ups, touch). Not for other modules. */

#include "chat/chat.h"
#include "cluster/call.h"
#include "cluster/engine.h"
#include "cluster/node.h"
#include "cluster/wake.h"
#include "redis/resp.h"
#include "util/list.h"

struct cluster_engine {
	const struct config *cfg;
	struct timer_heap *timers;
	struct mcp_server *mcp;
	struct chat *chat; /* the single node's world: its message id generator */
	struct cluster_node *node; /* owned */
	struct cluster_wake *wake; /* owned */
	char prefix[CLUSTER_CALL_PREFIX_MAX];
	struct list_link ops; /* every eng_op not yet freed */
	struct timer touch;   /* keeps the chats with waiting calls alive */
	struct cluster_engine_stats st;
	bool stopping;
};

/* One tool call. Reference counted: one reference while unanswered (p set) and one per
 * Redis command or subscription whose callback is still due, so a callback never sees a
 * freed op; the last reference frees it. */
struct eng_op {
	struct cluster_engine *e;
	struct list_link link; /* e->ops */
	struct mcp_pending *p; /* NULL once answered */
	enum cluster_script script;
	int refs;
	char chat_id[CHAT_ID_LEN + 1];
	bool minted, new_failed; /* a chat made for this call; its chat_new failed */
	/* wait_for_message */
	bool is_wait, has_after, reading, again, expired;
	uint64_t after;
	uint32_t timeout_ms;
	struct cluster_wake_waiter w;
	struct timer deadline;
};

enum mcp_tool_status eng_unavailable(struct cluster_engine *e, struct mcp_tool_ctx *ctx,
				     const char *sentence);
void eng_answer(struct eng_op *op, struct mcp_tool_ctx *r);
void eng_answer_unavailable(struct eng_op *op);
void eng_unref(struct eng_op *op);
void eng_failed(struct cluster_engine *e, int err);
int eng_evalsha(struct cluster_engine *e, struct cluster_call_args *a, resp_reply_fn fn,
		void *ctx);
int eng_parse(struct cluster_engine *e, enum cluster_script s, int err, const redisReply *reply,
	      struct cluster_call_reply *out);
int eng_send(struct eng_op *op, struct cluster_call_args *a, resp_reply_fn fn);

/* engine_wait.c */
void eng_wait_init(struct eng_op *op);
void eng_wait_start(struct eng_op *op, bool has_after, uint64_t after, uint32_t timeout_ms);
/* The engine stops: a waiting call answers with what it has. */
void eng_wait_stop(struct eng_op *op);
/* The op goes: no registration or timer may be left behind. */
void eng_wait_forget(struct eng_op *op);
void eng_on_touch(struct timer *t);
void eng_wait_hooks(struct cluster_engine *e, struct cluster_node_hooks *hooks);

#endif
