#ifndef MCPCHAT_CLUSTER_ENGINE_INT_H
#define MCPCHAT_CLUSTER_ENGINE_INT_H

/* Inside the cluster engine: engine.c (tool calls, lifecycle) and engine_wait.c
 * (wait_for_message, wake-ups, touch). Not for other modules. */

#include "chat/chat.h"
#include "cluster/call.h"
#include "cluster/engine.h"
#include "cluster/kept.h"
#include "cluster/node.h"
#include "cluster/wake.h"
#include "redis/resp.h"
#include "util/htab.h"
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
	struct timer touch;   /* keeps the chats with waiting calls or sessions alive */
	struct htab legacy;   /* the 2025 sessions' chats (struct eng_legacy) by chat id */
	struct htab lingers;  /* subscriptions kept after their last wait (engine_linger.c) */
	struct cluster_kept_budget kept; /* every event kept from doorbells (cluster/kept.h) */
	uint64_t reads_issued; /* wait reads sent: what rang before a read's stamp, it saw */
	struct cluster_engine_stats st;
	bool stopping;
};

/* engine_legacy.c: a 2025 session on this node and its chat in Redis. Reference counted:
 * one reference while the session lives (s set, in e->legacy) and one per command whose
 * callback is due. */
struct eng_seqmap {
	uint64_t local, remote; /* a copied event's seq in the session, and in the chat */
};
struct eng_legacy {
	struct cluster_engine *e;
	struct htab_entry entry;
	struct mcp_session *s; /* NULL once the session ended */
	char chat_id[CHAT_ID_LEN + 1];
	char handle[16];
	char room[65]; /* the room its client was last told it is in; "" none */
	int refs;
	bool created, reasserting, pulling, again;
	uint64_t last;       /* the chat's seq of the newest event copied */
	uint64_t upto;       /* the chat's events up to here were delivered to the client */
	uint64_t upto_sent;  /* acknowledged in Redis */
	uint64_t upto_asked; /* the pull in flight acknowledges up to here */
	struct eng_seqmap *map; /* a ring: the copied events not yet delivered */
	uint32_t map_head, map_n, map_cap;
	struct cluster_wake_waiter w;
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
	struct eng_legacy *leg;  /* a 2025 session's call (a reference) */
	/* wait_for_message */
	bool is_wait, has_after, reading, again, expired;
	bool read_failed; /* the last read failed (Redis away): the deadline answers unavailable */
	uint64_t after;
	/* Its `after` is acknowledged in Redis by the next command sent for it (the answer's
	 * `ack`, a read), or when it ends (engine_wait.c skip_read says why) */
	bool owes_ack;
	uint64_t trimmed; /* `after`, once an ack or a read acknowledged it (0: not yet) */
	uint64_t rung; /* the newest seq a doorbell announced to it or a read saw */
	/* Unknown wake-ups (a subscription made, a reconnect, an end) counted; the last one a
	 * successful read started after. They differ: something may be new beyond rung. */
	uint32_t gen, read_gen, known_gen;
	uint64_t read_stamp; /* e->reads_issued when its last read went */
	/* The events the answer holds while its `ack` moves the cursor past them: a doorbell's
	 * (held.n 1) or a lingering subscription's (engine_linger.c). */
	struct cluster_kept held;
	/* Answered or about to be: the newest run of events that rang on it since, for the
	 * linger it leaves behind (cluster_kept_ring). */
	struct cluster_kept extra;
	uint32_t timeout_ms;
	struct cluster_wake_waiter w;
	struct timer deadline;
	struct eng_resend *resend; /* send_message: what asking again needs (owned) */
};

/* A send whose reply was lost may have run: it is asked again with the same message_id, which
 * the script answers with the first outcome (or runs now), so the answer is the truth. */
struct eng_resend {
	struct eng_op *op;
	char room[65];
	char mid[24];
	char *text; /* owned */
	size_t len;
	uint32_t tries;
	struct timer timer; /* holds a reference of op while armed */
};

enum mcp_tool_status eng_unavailable(struct cluster_engine *e, struct mcp_tool_ctx *ctx,
				     const char *sentence);
/* An empty result of op's call that logs as its request asked (then eng_answer it). */
void eng_result(const struct eng_op *op, struct mcp_tool_ctx *res);
void eng_answer(struct eng_op *op, struct mcp_tool_ctx *r);
void eng_answer_unavailable(struct eng_op *op);
void eng_unref(struct eng_op *op);
void eng_failed(struct cluster_engine *e, int err);
int eng_evalsha(struct cluster_engine *e, struct cluster_call_args *a, resp_reply_fn fn,
		void *ctx);
int eng_parse(struct cluster_engine *e, enum cluster_script s, int err, const redisReply *reply,
	      struct cluster_call_reply *out);
/* cluster_call_ack's commands (fn gets the last one's reply: eng_parse_ack; NULL: nobody,
 * a failure is counted), and its parse. Returns as eng_evalsha. */
int eng_ack(struct cluster_engine *e, const char *chat_id, bool has_upto, uint64_t upto,
	    uint64_t cursor, resp_reply_fn fn, void *ctx);
int eng_parse_ack(struct cluster_engine *e, int err, const redisReply *reply, bool *gone);
int eng_send(struct eng_op *op, struct cluster_call_args *a, resp_reply_fn fn);

/* engine_legacy.c */
struct eng_legacy *eng_legacy_find(struct cluster_engine *e, const char *chat_id);
void eng_legacy_unref(struct eng_legacy *leg);
/* Before a legacy call's script: the chat is made first if it is not yet (pipelined, so the
 * script finds it; its failure sets op->new_failed). On error op is answered unavailable. */
int eng_legacy_ensure(struct eng_op *op);
/* A legacy call's result: the room its client is in; new events are pulled. */
void eng_legacy_note_result(struct eng_op *op, const struct cluster_call_reply *r);
/* get_status's unread for a legacy call, from the chat's (Redis') count. */
uint32_t eng_legacy_unread(const struct eng_op *op, uint32_t chat_unread);
/* Redis lost its state: every session's chat is made again. */
void eng_legacy_reassert(struct cluster_engine *e);
size_t eng_legacy_count(const struct cluster_engine *e);
/* The engine goes: the chats of sessions still open are dropped (nothing is sent). */
void eng_legacy_forget_all(struct cluster_engine *e);

/* How often the node touches its chats (cfg's idle limits). */
uint32_t eng_touch_ms(const struct config *cfg);

/* A wake-up of seq, with the event its doorbell carried or without (ev NULL), into a kept
 * run (cluster_kept_ring). */
static inline void eng_kept_ring(struct cluster_kept *k, uint64_t seq,
				 const struct cluster_wake_event *ev)
{
	cluster_kept_ring(k, seq, ev ? ev->method : NULL, ev ? ev->method_len : 0,
			  ev ? ev->params : NULL, ev ? ev->params_len : 0);
}

/* engine_linger.c. keep: the last waiter of chat_id answered; the subscription stays a few
 * seconds (false: it cannot, UNSUBSCRIBE now). take: a wait registers on chat_id after a
 * read that saw up to seq seen; -1 no linger was there, 0 nothing rang since (park), 1 read
 * again (rung: the newest seq announced to the last waiter, UINT64_MAX unknown). expire: placeholders past their time go (all: every one, the engine stops). */
/* kept (may be NULL): the run of events rung on the last waiter after what it answered;
 * taken when it reaches rung (emptied either way). */
bool eng_linger_keep(struct cluster_engine *e, const char *chat_id, uint64_t base,
		     uint64_t trimmed, uint64_t rung, struct cluster_kept *kept);
/* How far the last wait is known to have acknowledged chat_id's events (its `after`, once
 * Redis confirmed it; 0: not, or no placeholder). */
uint64_t eng_linger_trimmed(struct cluster_engine *e, const char *chat_id);
/* A wait with `after` may skip its read: a lingering subscription of chat_id heard of nothing
 * newer than after, and after is not behind what the last wait answered. */
bool eng_linger_fresh(struct cluster_engine *e, const char *chat_id, uint64_t after);
/* Or answer at once: the run a lingering subscription kept holds every event after `after`
 * up to the newest announced. Copies them into out (charged to nothing) and sets *rung
 * to that newest; the number of events (0: none to answer with this way). */
int eng_linger_events(struct cluster_engine *e, const char *chat_id, uint64_t after,
		      struct cluster_kept *out, uint64_t *rung);
/* Redis lost its state: every lingering chat is made again (its client is between two waits),
 * its events going on after the last answer's next. */
void eng_linger_reassert(struct cluster_engine *e);
int eng_linger_take(struct cluster_engine *e, const char *chat_id, uint64_t seen);
/* A wait on chat_id answered by a read, not listening (base: the answer's last seq; seen: the
 * newest the read saw; read_stamp: when it went): a lingering subscription there goes on
 * from that answer, unless it heard of something newer, or of something unknown after the
 * read went. */
void eng_linger_answered(struct cluster_engine *e, const char *chat_id, uint64_t base,
			 uint64_t seen, uint64_t read_stamp);
void eng_linger_expire(struct cluster_engine *e, bool all);
size_t eng_linger_count(const struct cluster_engine *e);

/* engine_wait.c */
/* chat_new for a 2026-07-28 chat an emptied Redis lost, its events going on after base. */
void eng_reassert_modern(struct cluster_engine *e, const char *chat_id, uint64_t base);
void eng_wait_init(struct eng_op *op);
void eng_wait_start(struct eng_op *op, bool has_after, uint64_t after, uint32_t timeout_ms);
/* The engine stops: a waiting call answers with what it has. */
void eng_wait_stop(struct eng_op *op);
/* The op goes: no registration or timer may be left behind. */
void eng_wait_forget(struct eng_op *op);
void eng_on_touch(struct timer *t);
void eng_wait_hooks(struct cluster_engine *e, struct cluster_node_hooks *hooks);

#endif
