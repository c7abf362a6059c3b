#ifndef MCPCHAT_CLUSTER_CALL_H
#define MCPCHAT_CLUSTER_CALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "chat/chat.h"
#include "cluster/scripts.h"
#include "config.h"

/* The glue between the tools and the cluster's Lua scripts (daemon/cluster/README.md has
 * their ARGV and replies): builders that make a script's EVALSHA arguments from tool inputs,
 * and a parser that turns its reply into the single node's results (struct chat_result,
 * struct chat_status) or a read's events. Pure: no socket, no clock, no global state, so
 * the engine that sends them is thin I/O and everything here is tested with canned replies.
 *
 * Trust: the inputs of a builder are the tools' arguments after the checks of chat.h
 * (chat_valid_* and cluster_call_check_*); the builders re-check only what could put the
 * wrong key in Redis (chat ids, room ids, the prefix) and answer -EINVAL. A reply is never
 * trusted: any shape the scripts do not produce is refused (-EPROTO). */

/* KEYS[1]: "{" key_prefix "}", the hash tag every key lives under. */
#define CLUSTER_CALL_PREFIX_MAX 40
/* enter_queue's tags (the tools take at most 16; config caps max_interests lower). */
#define CLUSTER_CALL_MAX_TAGS 16
/* chat ids in one touch. */
#define CLUSTER_CALL_TOUCH_MAX 128
/* events in one read answer (a builder's max is clamped to it). */
#define CLUSTER_CALL_READ_MAX 512
#define CLUSTER_CALL_MAX_ARGS (1 + CLUSTER_CALL_TOUCH_MAX)
/* A reply's limits: elements, one string's bytes, all strings' bytes. */
#define CLUSTER_CALL_MAX_ELEMENTS (4 + 3 * CLUSTER_CALL_READ_MAX)
#define CLUSTER_CALL_MAX_STRING (256u << 10)
#define CLUSTER_CALL_MAX_REPLY (8u << 20)

/* Writes "{key_prefix}" to out (CLUSTER_CALL_PREFIX_MAX bytes). 0, or -EINVAL when the
 * prefix is empty, too long, or holds a brace (it would move the hash tag). */
int cluster_call_prefix(const char *key_prefix, char *out);

/* One script call: what resp_pipe_evalsha takes,
 *   resp_pipe_evalsha(pipe, script_of[a.script], 1, a.argc, a.argv, a.argvlen, ...)
 * argv[0] is KEYS[1] (the prefix), the rest the script's ARGV.
 * Ownership: nothing is allocated. argv points into the strings the builder was given
 * (prefix, ids, names, tags, the message: borrowed, not copied) and into num[] here, so
 * the struct and those inputs must stay as they are until the command is queued
 * (resp_pipe_evalsha formats it at once; after that both may go). Lengths are explicit:
 * a message with a NUL inside goes whole. */
struct cluster_call_args {
	enum cluster_script script;
	int argc;
	const char *argv[CLUSTER_CALL_MAX_ARGS];
	size_t argvlen[CLUSTER_CALL_MAX_ARGS];
	char num[4][24]; /* the numeric arguments as decimal text */
};

/* Builders: 0, or -EINVAL (a malformed chat id or room id, too many tags or ids; a is then
 * unusable). req is the node's id of the tool call, the same on a retry ("" or NULL: none);
 * name NULL keeps the chat's display name. Limits come from cfg: interest_fallback_ms,
 * mailbox_events, rate_per_second, rate_burst. */
int cluster_call_chat_new(struct cluster_call_args *a, const char *prefix, const char *chat_id,
			  uint32_t idle_ms, const char *node, bool legacy, const char *handle,
			  const char *nonce);
/* Appends chat_new's base (a's builder was cluster_call_chat_new): the chat's events continue
 * after seq base (re-asserting a chat an emptied Redis lost). */
int cluster_call_chat_base(struct cluster_call_args *a, uint64_t base);
int cluster_call_enter_queue(struct cluster_call_args *a, const char *prefix,
			     const char *chat_id, const char *req, const char *name,
			     const char *const *tags, size_t n, const struct config *cfg);
int cluster_call_join_room(struct cluster_call_args *a, const char *prefix, const char *chat_id,
			   const char *req, const char *room_id, const char *name,
			   const struct config *cfg);
/* message_id: unique, made by the node (the idempotence key of a retried send). */
int cluster_call_send(struct cluster_call_args *a, const char *prefix, const char *chat_id,
		      const char *room_id, const char *message_id, const char *text, size_t len,
		      const struct config *cfg);

enum cluster_call_ack {
	CLUSTER_ACK_NONE = 0,     /* acknowledges nothing */
	CLUSTER_ACK_AFTER = 1,    /* `after` acknowledges up to it (MCP 2026-07-28) */
	CLUSTER_ACK_RETURNED = 2, /* and what is returned (a 2025 session) */
};
/* has_after false: from the chat's cursor (the next of its last read). max: 1 ..
 * CLUSTER_CALL_READ_MAX (clamped). */
int cluster_call_read(struct cluster_call_args *a, const char *prefix, const char *chat_id,
		      bool has_after, uint64_t after, enum cluster_call_ack ack, uint32_t max);
/* A 2025 session's copy on a node: acknowledges the events up to upto (its client has them)
 * and returns at most max (0: none) after `after` (the copy's newest), leaving the chat's
 * cursor alone. */
int cluster_call_pull(struct cluster_call_args *a, const char *prefix, const char *chat_id,
		      uint64_t after, uint64_t upto, uint32_t max);

/* wait_for_message without a read (the node knows what is new), in plain commands: no
 * script, whose run costs Redis several times what these do, and this comes twice per
 * relayed message. XTRIM of the chat's stream MINID upto + 1 (has_upto: acknowledges the
 * events up to upto; exact, and past the newest it removes only what is there), then SET of
 * its cursor to cursor, XX KEEPTTL: nothing is made for a chat that is gone. Send cmd[0..n)
 * in order on one connection: the last one's reply is the answer (cluster_call_parse_ack).
 * Ownership as struct cluster_call_args: argv points into keys[] and num[] here and into
 * nothing else; the struct must stay as it is until the commands are queued. */
struct cluster_call_cmd {
	int argc;
	const char *argv[6];
	size_t argvlen[6];
};
struct cluster_call_ack_cmds {
	size_t n;
	struct cluster_call_cmd cmd[2];
	char keys[2][CLUSTER_CALL_PREFIX_MAX + 8 + CHAT_ID_LEN];
	char num[2][24];
};
int cluster_call_ack(struct cluster_call_ack_cmds *a, const char *prefix, const char *chat_id,
		     bool has_upto, uint64_t upto, uint64_t cursor);
/* The SET's reply: 0 with *gone false (moved) or true (nil: the chat is gone), -EIO an error
 * reply, -EPROTO anything else. */
int cluster_call_parse_ack(const redisReply *reply, bool *gone);
int cluster_call_leave(struct cluster_call_args *a, const char *prefix, const char *chat_id,
		       const char *req, const char *room_id);
int cluster_call_status(struct cluster_call_args *a, const char *prefix, const char *chat_id);
/* ids: 1 .. CLUSTER_CALL_TOUCH_MAX chat ids. */
int cluster_call_touch(struct cluster_call_args *a, const char *prefix, const char *const *ids,
		       size_t n);
int cluster_call_end(struct cluster_call_args *a, const char *prefix, const char *chat_id,
		     enum chat_reason reason);
int cluster_call_sweep(struct cluster_call_args *a, const char *prefix, uint32_t max);
int cluster_call_fallback(struct cluster_call_args *a, const char *prefix, uint32_t max);

/* The tools' argument checks, with the cluster's limits (from cfg): true when valid, else r
 * holds CHAT_INVALID_ARGUMENTS, the field and the single node's sentence, written into msg
 * (CHAT_SENTENCE_MAX bytes, the caller's). The same code as the single node's (chat.h). */
bool cluster_call_check_enter(const struct config *cfg, const char *name,
			      const char *const *tags, size_t n, struct chat_result *r, char *msg);
bool cluster_call_check_join(const char *room_id, const char *name, const struct config *cfg,
			     struct chat_result *r, char *msg);
bool cluster_call_check_send(const char *room_id, const char *text, size_t len,
			     const struct config *cfg, struct chat_result *r, char *msg);
bool cluster_call_check_room(const char *room_id, struct chat_result *r, char *msg);

/* One event of a read: params is the JSON object text (with "seq" last), NUL-terminated. */
struct cluster_call_event {
	uint64_t seq;
	const char *method;
	const char *params;
	size_t params_len;
};

/* A parsed reply. Which fields mean something depends on the script; the rest are zero.
 * Every string points into the reply's arena (one allocation, owned by this struct) and
 * lives until cluster_call_reply_free: the hiredis reply may be freed once parsed. */
struct cluster_call_reply {
	enum cluster_script script;
	/* enter_queue, join_room, send, leave: as chat_enter_queue... fill it. Every script that
	 * answers err (any script acting for a chat: chat_expired) fills error and message,
	 * and retry_after_ms for rate_limited. */
	struct chat_result chat;
	struct chat_status status; /* status */
	uint32_t unread;           /* status, read: events not yet acknowledged */
	bool created;              /* chat_new: made now (false: it existed, refreshed) */
	bool ended;                /* end: ended now (false: it was gone already) */
	uint64_t next, last;       /* read: the last seq returned (after when none), the newest */
	struct cluster_call_event *events; /* read, in seq order */
	size_t n_events;
	const char **ids; /* touch: the chats that are gone; sweep: the chats it ended */
	size_t n_ids;
	uint32_t fired, matched; /* sweep: timers fired; fallback: pairs made */
	bool more;               /* sweep, fallback: max fired, call again */
	char *arena;
};

/* Parses script s's reply into out (which needs no preparation). 0: a well-formed answer,
 * out->chat.error CHAT_OK or the refusal; -EIO: Redis answered an error (the script
 * failed: a bug, OOM, BUSY...), nothing else filled; -EPROTO: a reply of any other shape
 * (wrong types, a missing or extra element, an unknown or unexpected code, a string over
 * the limits), nothing filled. On any return out may be given to cluster_call_reply_free. */
int cluster_call_parse(enum cluster_script s, const redisReply *reply,
		       struct cluster_call_reply *out);
void cluster_call_reply_free(struct cluster_call_reply *out);

/* An event's params without the chat's "seq" (the last member, as the scripts write it):
 * the length n such that params[0..n) followed by "}" is the object without it
 * ({"a":1,"seq":5} -> {"a":1; {"seq":5} -> {). Without a trailing seq: len - 1. */
size_t cluster_call_strip_seq(const char *params, size_t len);

#endif
