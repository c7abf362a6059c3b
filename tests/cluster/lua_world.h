#ifndef MCPCHAT_TESTS_LUA_WORLD_H
#define MCPCHAT_TESTS_LUA_WORLD_H

#include <stdbool.h>
#include <stdint.h>

#include "lua_harness.h"

/* Chat-level helpers over the scripts: chats are numbered (chat n has a fixed 22-character
 * id), requests and message ids are made unique, and replies live until the teardown. */

extern const char *lw_fallback_ms; /* enter_queue's fallback_ms ("10000") */
extern const char *lw_cap;         /* mailbox_events ("256") */

const char *lw_id(int n);
redisReply *lw_new(int n); /* modern, idle 60 s */
redisReply *lw_new_ex(int n, const char *idle_ms, const char *era);

/* enter_queue with tags (NULL-terminated); _req with a chosen request id. */
redisReply *lw_enter(int n, const char *name, ...) __attribute__((sentinel));
/* New chats a and b (modern, idle 60 s) paired by the queue; a's room id. */
const char *lw_paired(int a, int b);
redisReply *lw_enter_req(int n, const char *req, const char *name, ...) __attribute__((sentinel));
redisReply *lw_join(int n, const char *room, const char *name);
redisReply *lw_join_req(int n, const char *req, const char *room, const char *name);
/* send at 5/s, burst 20 with a fresh message id; _ex with all of them chosen. */
redisReply *lw_send(int n, const char *room, const char *text);
redisReply *lw_send_ex(int n, const char *room, const char *msg_id, const char *text,
		       const char *rate, const char *burst);
redisReply *lw_leave(int n, const char *room);
redisReply *lw_leave_req(int n, const char *req, const char *room);
redisReply *lw_status(int n);
redisReply *lw_read(int n, const char *after, const char *ack, const char *max);
redisReply *lw_end(int n, const char *reason);
redisReply *lw_sweep(const char *max);
redisReply *lw_touch(int n);

/* From status: */
const char *lw_state(int n);
const char *lw_room(int n);
long long lw_position(int n);
long long lw_unread(int n);
/* The engine's ack for n (cluster_call_ack's commands, in order, on the main connection):
 * 0 and *gone, or the parse's error (-EIO for a failed command). */
int lw_ack(int n, bool has_upto, uint64_t upto, uint64_t cursor, bool *gone);
bool lw_together(int a, int b);
/* The events still in n's stream (read after 0, nothing acknowledged). */
int lw_count(int n);
const char *lw_last_method(int n);
const char *lw_last_params(int n);
/* Does params (JSON text) contain "key":"value"? */
bool lw_has(const char *params, const char *key, const char *value);

#endif
