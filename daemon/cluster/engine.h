#ifndef MCPCHAT_CLUSTER_ENGINE_H
#define MCPCHAT_CLUSTER_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat/chat.h"
#include "config.h"
#include "mcp/mcp.h"
#include "net/ring.h"
#include "net/timer.h"

/* The cluster engine (issue 15): the six chat tools answered from the chat state in Redis,
 * so a chat_id works on any node. chat/tools.c parses and
 * checks the arguments as for the single node and hands each call here; the engine runs
 * the Lua scripts of daemon/cluster/README.md through the cluster_node's command client and
 * answers through a deferred answer (mcp_tool_defer), with the single node's results. A 2025
 * session (its id and push stream stay on the node that made it) has a chat of era legacy
 * whose events the node copies into the session's mailbox (engine_legacy.c), so its push
 * stream and wait_for_message work as on a single node.
 *
 * wait_for_message waits on the chat's wake-up channel (cluster/wake.h, one SUBSCRIBE per
 * chat on the node's subscriber client) with a deadline, and re-reads the chat's stream on
 * every wake-up; while calls wait, their chats are kept alive by a batched `touch`.
 *
 * Fail closed: any command not answered (Redis down, -ENOBUFS, -ETIMEDOUT, an error reply)
 * or answered in a shape the scripts never produce (-EPROTO, counted) makes the tool answer
 * `unavailable` with retry_after_ms, never a false success.
 *
 * Ownership: the engine owns its cluster_node; every deferred answer it takes is answered
 * exactly once (at the latest by cluster_engine_stop). Everything runs on the daemon's loop. */

struct cluster_engine;
struct chat;

/* Creates the node (connecting starts at once). cfg, timers, mcp and chat (for message ids)
 * must outlive the engine. NULL with *err (cluster_node_new's errors, -ENOMEM, or a
 * getrandom error). */
struct cluster_engine *cluster_engine_new(const struct config *cfg, struct ring *ring,
					  struct timer_heap *timers, struct mcp_server *mcp,
					  struct chat *chat, int *err);
/* Graceful stop: every waiting call is answered (with what it has), every call still on a
 * Redis round trip answers unavailable, then the node stops. Safe twice. */
void cluster_engine_stop(struct cluster_engine *e);
/* Stopped and nothing on the ring refers to it. */
bool cluster_engine_idle(const struct cluster_engine *e);
/* Stops if needed and frees; once idle, or after ring_exit. NULL is fine. */
void cluster_engine_free(struct cluster_engine *e);

/* The tools, after tools.c's argument parsing (strings borrowed for the call only). Each
 * returns what the tool returns: MCP_TOOL_DONE with the result in ctx (a refusal, or
 * unavailable), or MCP_TOOL_PENDING (answered later). chat_id NULL: enter_queue and
 * join_room start a new chat; the others are refused before they get here. */
enum mcp_tool_status cluster_engine_enter(struct cluster_engine *e, struct mcp_tool_ctx *ctx,
					  const char *chat_id, const char *name,
					  const char *const *tags, size_t n);
enum mcp_tool_status cluster_engine_join(struct cluster_engine *e, struct mcp_tool_ctx *ctx,
					 const char *chat_id, const char *room_id,
					 const char *name);
enum mcp_tool_status cluster_engine_send(struct cluster_engine *e, struct mcp_tool_ctx *ctx,
					 const char *chat_id, const char *room_id,
					 const char *text, size_t len);
enum mcp_tool_status cluster_engine_wait(struct cluster_engine *e, struct mcp_tool_ctx *ctx,
					 const char *chat_id, bool has_after, uint64_t after,
					 uint32_t timeout_ms);
enum mcp_tool_status cluster_engine_leave(struct cluster_engine *e, struct mcp_tool_ctx *ctx,
					  const char *chat_id, const char *room_id);
enum mcp_tool_status cluster_engine_status(struct cluster_engine *e, struct mcp_tool_ctx *ctx,
					   const char *chat_id);

/* 2025 sessions on a cluster node (engine_legacy.c): the chat tools' hooks of the session's
 * life. open: a session started (chat_id its chat's, from chat_user_id); its chat is made
 * in Redis and its events copied into the session's mailbox from then on. close: the session
 * ended (the partner hears reason). delivered: the session's mailbox has delivered every
 * event up to acked (acknowledged in Redis in turn). */
void cluster_engine_legacy_open(struct cluster_engine *e, struct mcp_session *s,
				const char *chat_id);
void cluster_engine_legacy_close(struct cluster_engine *e, const char *chat_id,
				 enum chat_reason reason);
void cluster_engine_legacy_delivered(struct cluster_engine *e, const char *chat_id,
				     uint64_t acked);

/* Counters for /metrics. */
struct cluster_engine_stats {
	bool redis_up;
	int redis_state;           /* enum redis_state of the command client */
	uint64_t rtt_ewma_us;      /* command client's round trip */
	uint64_t commands_failed;  /* no answer, refused, or an error reply */
	uint64_t malformed;        /* replies of a shape never produced (the calls' and the node's) */
	uint64_t wakeups;          /* pub/sub wake-ups received */
	uint64_t calls, unavailable; /* tool calls taken; answered unavailable */
	/* Pairs matched and messages relayed by this node's calls (and its fallback runs): the
	 * sums over the nodes are the cluster's, as a single node counts its own. */
	uint64_t matches, messages;
	uint32_t waiting;          /* wait_for_message calls waiting */
	size_t legacy_sessions;    /* 2025 sessions whose chats this node holds */
	size_t chats_listened;     /* chats subscribed to */
	size_t chats_lingering;    /* of those, kept after their last wait answered */
	uint64_t linger_reused;    /* waits that found their chat still subscribed */
	uint64_t reads_skipped;    /* of those, waits that knew nothing was new: `ack`, no read */
	uint64_t acks_owed;        /* of those, waits whose `ack` went with their next command */
	uint64_t doorbell_answers; /* waits answered with the event their doorbell carried */
	uint64_t kept_answers;     /* waits answered with events a lingering subscription kept */
	uint64_t epoch_changes, heartbeats, heartbeat_failures, sweeps, sweep_ended;
	uint64_t last_heartbeat_local_ms; /* timer_now_ms() of the last heartbeat stored; 0: never */
};
void cluster_engine_stats(const struct cluster_engine *e, struct cluster_engine_stats *st);
/* Adds the matches and messages this node's calls made to cs (the in-memory chat's counts,
 * empty on a cluster node): every report of them (/metrics, mcpchatctl stats) goes through
 * here, so the sums over the nodes are the cluster's. */
struct chat_stats;
void cluster_engine_add_counts(const struct cluster_engine *e, struct chat_stats *cs);
/* Serving: the heartbeat's address becomes addr (the bound listener) and its state running. */
void cluster_engine_running(struct cluster_engine *e, const char *addr);
/* The node (for `mcpchatctl nodes`: cluster_node_nodes). */
struct cluster_node *cluster_engine_node(struct cluster_engine *e);

/* Pure helpers (unit-tested). A fresh random id of n base64url characters (n % 4 != 1,
 * n <= 32) into out (n + 1 bytes); 0 or -errno from getrandom. */
int cluster_engine_random_id(char *out, size_t n);
/* A chat id as this build mints them: 22 base64url characters. */
bool cluster_engine_chat_id_valid(const char *id);
/* How often chats with waiting calls are touched: a third of the idle limit, at most 5 s,
 * at least 200 ms. */
uint32_t cluster_engine_touch_ms(uint32_t chat_idle_ms);

#endif
