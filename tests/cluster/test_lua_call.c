/* The round trip the cluster engine makes: ARGV built by cluster_call -> EVALSHA on the real
 * redis-server -> the reply parsed by cluster_call, compared with what the single-node chat
 * (chat.h) answers for the same story, step by step. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/call.h"
#include "config.h"
#include "lua_world.h"
#include "net/timer.h"
#include "unit.h"

#define NUSERS 2

/* The single node: a fake clock that stands still (the tests' Redis time moves little), and
 * a mailbox model of cap unread refusable events per user. */
static struct {
	struct chat *c;
	struct timer_heap heap;
	struct chat_user *u[NUSERS];
	uint32_t unread[NUSERS], cap;
	char last_params[NUSERS][8192];
} S;

static struct config cfg;
static const char prefix[] = LH_PREFIX;

static int user_no(const struct chat_user *u)
{
	return u == S.u[0] ? 0 : 1;
}

static int s_deliver(void *ctx, struct chat_user *to, const char *method, const char *params,
		     size_t len, bool refusable)
{
	int i = user_no(to);

	(void)ctx;
	(void)method;
	if (refusable && S.cap && S.unread[i] >= S.cap)
		return -ENOSPC;
	S.unread[i]++;
	snprintf(S.last_params[i], sizeof(S.last_params[i]), "%.*s", (int)len, params);
	return 0;
}

static uint64_t s_mono(void *ctx)
{
	(void)ctx;
	return 1000000;
}

static int64_t s_wall(void *ctx)
{
	(void)ctx;
	return 1785000000000LL;
}

static void world_start(void)
{
	static const struct chat_ops ops = { s_deliver, s_mono, s_wall, NULL, NULL };
	struct chat_limits l = {
		.max_message_bytes = cfg.max_message_bytes,
		.max_display_name_chars = cfg.max_display_name_chars,
		.max_interests = cfg.max_interests,
		.max_interest_chars = cfg.max_interest_chars,
		.rate_per_second = cfg.rate_per_second,
		.rate_burst = cfg.rate_burst,
		.fallback_ms = cfg.interest_fallback_ms,
	};

	memset(&S, 0, sizeof(S));
	timer_heap_init(&S.heap);
	S.c = chat_new(&l, &ops, &S.heap);
	for (int i = 0; i < NUSERS; i++) {
		S.u[i] = chat_user_new(S.c, NULL);
		CU_ASSERT_PTR_NOT_NULL(lw_new(i + 1));
	}
}

static void world_stop(void)
{
	for (int i = 0; i < NUSERS; i++)
		chat_user_free(S.c, S.u[i], CHAT_DISCONNECTED);
	chat_free(S.c);
	timer_heap_free(&S.heap);
}

/* Sends a built call and parses its answer into out (0 or the parser's error). */
static int run(const struct cluster_call_args *a, struct cluster_call_reply *out)
{
	redisReply *r = lh_evalv(NULL, a->script, a->argc, a->argv, a->argvlen);
	int err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	err = cluster_call_parse(a->script, r, out);
	freeReplyObject(r); /* the parsed strings must not need it */
	return err;
}

/* The cluster's answer is the single node's: same code, sentence, and fields. */
static void same(const struct chat_result *c, const struct chat_result *s, bool same_room)
{
	CHECKF(c->error == s->error, "cluster %s, single %s", chat_error_code(c->error) ?: "ok",
	       chat_error_code(s->error) ?: "ok");
	if (c->error && s->error)
		CHECKF(strcmp(c->message, s->message) == 0, "cluster \"%s\", single \"%s\"",
		       c->message, s->message);
	CU_ASSERT_EQUAL(c->matched, s->matched);
	CU_ASSERT_EQUAL(c->position, s->position);
	CU_ASSERT_EQUAL(!c->room_id, !s->room_id);
	if (same_room && c->room_id && s->room_id)
		CU_ASSERT_STRING_EQUAL(c->room_id, s->room_id);
	CU_ASSERT_EQUAL(!c->partner_name, !s->partner_name);
	if (c->partner_name && s->partner_name)
		CU_ASSERT_STRING_EQUAL(c->partner_name, s->partner_name);
}

static void enter(int i, const char *name, struct chat_result *s, struct cluster_call_reply *c)
{
	struct cluster_call_args a;

	chat_enter_queue(S.c, S.u[i], name, NULL, 0, s);
	CU_ASSERT_EQUAL_FATAL(cluster_call_enter_queue(&a, prefix, lw_id(i + 1), "", name, NULL, 0, &cfg), 0);
	CU_ASSERT_EQUAL_FATAL(run(&a, c), 0);
}

static void join(int i, const char *room, const char *name, struct chat_result *s,
		 struct cluster_call_reply *c)
{
	struct cluster_call_args a;

	chat_join_room(S.c, S.u[i], room, name, s);
	CU_ASSERT_EQUAL_FATAL(cluster_call_join_room(&a, prefix, lw_id(i + 1), "", room, name, &cfg), 0);
	CU_ASSERT_EQUAL_FATAL(run(&a, c), 0);
}

static void send(int i, const char *room, const char *text, size_t len, struct chat_result *s,
		 struct cluster_call_reply *c)
{
	static int n;
	char mid[16];
	struct cluster_call_args a;

	snprintf(mid, sizeof(mid), "m%d", ++n);
	chat_send(S.c, S.u[i], room, text, len, s);
	CU_ASSERT_EQUAL_FATAL(cluster_call_send(&a, prefix, lw_id(i + 1), room, mid, text, len, &cfg), 0);
	CU_ASSERT_EQUAL_FATAL(run(&a, c), 0);
}

static void leave(int i, const char *room, struct chat_result *s, struct cluster_call_reply *c)
{
	struct cluster_call_args a;

	chat_leave(S.c, S.u[i], room, s);
	CU_ASSERT_EQUAL_FATAL(cluster_call_leave(&a, prefix, lw_id(i + 1), "", room), 0);
	CU_ASSERT_EQUAL_FATAL(run(&a, c), 0);
}

/* The random queue: waiting with a position, then matched with the waiter's name. */
static void test_call_queue(void)
{
	struct cluster_call_reply c = { 0 };
	struct cluster_call_args a;
	struct chat_result s;
	struct chat_status st;

	world_start();
	enter(0, "Ann", &s, &c);
	same(&c.chat, &s, false);
	CU_ASSERT_EQUAL(c.chat.position, 1);
	cluster_call_reply_free(&c);
	enter(1, "Bob", &s, &c);
	same(&c.chat, &s, false);
	CU_ASSERT_TRUE(c.chat.matched);
	CU_ASSERT_STRING_EQUAL(c.chat.partner_name, "Ann");
	cluster_call_reply_free(&c);
	enter(1, NULL, &s, &c); /* already in a room: the sentence names the room, ids differ */
	CU_ASSERT_EQUAL(c.chat.error, CHAT_ALREADY_IN_ROOM);
	CU_ASSERT_EQUAL(s.error, CHAT_ALREADY_IN_ROOM);
	cluster_call_reply_free(&c);

	chat_get_status(S.c, S.u[0], &st);
	CU_ASSERT_EQUAL_FATAL(cluster_call_status(&a, prefix, lw_id(1)), 0);
	CU_ASSERT_EQUAL_FATAL(run(&a, &c), 0);
	CU_ASSERT_EQUAL(c.status.state, st.state);
	CU_ASSERT_STRING_EQUAL(c.status.partner_name, st.partner_name);
	CU_ASSERT_EQUAL(c.unread, 1); /* chatroom.found */
	cluster_call_reply_free(&c);
	world_stop();
}

/* A named room: messages (a NUL inside survives), reads, leave, then partner's refusals. */
static void test_call_room_story(void)
{
	static const char text[] = "hi\0there";
	struct cluster_call_reply c = { 0 };
	struct cluster_call_args a;
	struct chat_result s;

	world_start();
	join(0, "lobby", "Ann", &s, &c);
	same(&c.chat, &s, true);
	cluster_call_reply_free(&c);
	join(1, "lobby", "Bob", &s, &c);
	same(&c.chat, &s, true);
	cluster_call_reply_free(&c);
	send(0, "lobby", text, sizeof(text) - 1, &s, &c);
	same(&c.chat, &s, true);
	CU_ASSERT_EQUAL(strlen(c.chat.timestamp), 24);
	cluster_call_reply_free(&c);

	CU_ASSERT_EQUAL_FATAL(cluster_call_read(&a, prefix, lw_id(2), true, 0, CLUSTER_ACK_AFTER, 10), 0);
	CU_ASSERT_EQUAL_FATAL(run(&a, &c), 0);
	CU_ASSERT_EQUAL_FATAL(c.n_events, 2);
	CU_ASSERT_TRUE(c.next == 2 && c.last == 2 && c.unread == 2);
	CU_ASSERT_STRING_EQUAL(c.events[0].method, "chatroom.found");
	CU_ASSERT_STRING_EQUAL(c.events[1].method, "message.received");
	CU_ASSERT_PTR_NOT_NULL(strstr(c.events[1].params, "\"message\":\"hi\\u0000there\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(S.last_params[1], "\"message\":\"hi\\u0000there\""));
	cluster_call_reply_free(&c);
	/* after 2 acknowledges both; nothing more */
	CU_ASSERT_EQUAL_FATAL(cluster_call_read(&a, prefix, lw_id(2), true, 2, CLUSTER_ACK_AFTER, 10), 0);
	CU_ASSERT_EQUAL_FATAL(run(&a, &c), 0);
	CU_ASSERT_TRUE(c.n_events == 0 && c.next == 2 && c.unread == 0);
	cluster_call_reply_free(&c);

	leave(0, "lobby", &s, &c);
	same(&c.chat, &s, true);
	cluster_call_reply_free(&c);
	leave(0, "lobby", &s, &c); /* the room that just closed on one: ok again */
	same(&c.chat, &s, true);
	cluster_call_reply_free(&c);
	send(1, "lobby", "x", 1, &s, &c); /* the partner left: room_closed */
	same(&c.chat, &s, true);
	CU_ASSERT_EQUAL(c.chat.error, CHAT_ROOM_CLOSED);
	cluster_call_reply_free(&c);
	send(0, "elsewhere", "x", 1, &s, &c);
	same(&c.chat, &s, true);
	CU_ASSERT_EQUAL(c.chat.error, CHAT_NOT_IN_ROOM);
	cluster_call_reply_free(&c);
	join(0, "lobby", NULL, &s, &c); /* the id is free again */
	same(&c.chat, &s, true);
	cluster_call_reply_free(&c);
	join(1, "other", NULL, &s, &c);
	same(&c.chat, &s, true);
	cluster_call_reply_free(&c);
	join(1, "lobby", NULL, &s, &c); /* waiting elsewhere */
	same(&c.chat, &s, true);
	CU_ASSERT_EQUAL(c.chat.error, CHAT_ALREADY_WAITING);
	cluster_call_reply_free(&c);
	world_stop();
}

static void test_call_rate_limited(void)
{
	struct cluster_call_reply c = { 0 };
	struct chat_result s;

	cfg.rate_per_second = 1;
	cfg.rate_burst = 1;
	world_start();
	join(0, "r1", NULL, &s, &c);
	cluster_call_reply_free(&c);
	join(1, "r1", NULL, &s, &c);
	cluster_call_reply_free(&c);
	send(0, "r1", "one", 3, &s, &c);
	same(&c.chat, &s, true);
	cluster_call_reply_free(&c);
	send(0, "r1", "two", 3, &s, &c);
	CU_ASSERT_EQUAL(c.chat.error, CHAT_RATE_LIMITED);
	CU_ASSERT_EQUAL(s.error, CHAT_RATE_LIMITED);
	/* Redis' clock moved a little since the first send; the single node's stood still */
	CU_ASSERT_TRUE(c.chat.retry_after_ms > 500 && c.chat.retry_after_ms <= s.retry_after_ms);
	CU_ASSERT_PTR_NOT_NULL(strstr(c.chat.message, "You are sending too fast; try again in"));
	cluster_call_reply_free(&c);
	world_stop();
}

static void test_call_mailbox_full(void)
{
	struct cluster_call_reply c = { 0 };
	struct chat_result s;

	cfg.mailbox_events = 2;
	world_start();
	S.cap = 2;
	join(0, "r2", "Ann", &s, &c);
	cluster_call_reply_free(&c);
	join(1, "r2", "Bob", &s, &c); /* Ann hears found: 1 unread */
	cluster_call_reply_free(&c);
	send(1, "r2", "a", 1, &s, &c);
	same(&c.chat, &s, true);
	cluster_call_reply_free(&c);
	send(1, "r2", "b", 1, &s, &c);
	same(&c.chat, &s, true);
	CU_ASSERT_EQUAL(c.chat.error, CHAT_MAILBOX_FULL);
	cluster_call_reply_free(&c);
	world_stop();
}

/* An ended chat: every call answers chat_expired, as tools.c does for an unknown chat_id. */
static void test_call_expired(void)
{
	struct cluster_call_reply c = { 0 };
	struct cluster_call_args a;

	world_start();
	CU_ASSERT_EQUAL_FATAL(cluster_call_end(&a, prefix, lw_id(1), CHAT_LEFT), 0);
	CU_ASSERT_EQUAL_FATAL(run(&a, &c), 0);
	CU_ASSERT_TRUE(c.ended);
	cluster_call_reply_free(&c);
	CU_ASSERT_EQUAL_FATAL(run(&a, &c), 0);
	CU_ASSERT_FALSE(c.ended);
	cluster_call_reply_free(&c);
	CU_ASSERT_EQUAL_FATAL(cluster_call_status(&a, prefix, lw_id(1)), 0);
	CU_ASSERT_EQUAL_FATAL(run(&a, &c), 0);
	CU_ASSERT_EQUAL(c.chat.error, CHAT_EXPIRED);
	CU_ASSERT_STRING_EQUAL(c.chat.field, "chat_id");
	cluster_call_reply_free(&c);
	CU_ASSERT_EQUAL_FATAL(cluster_call_read(&a, prefix, lw_id(1), false, 0, CLUSTER_ACK_NONE, 5), 0);
	CU_ASSERT_EQUAL_FATAL(run(&a, &c), 0);
	CU_ASSERT_EQUAL(c.chat.error, CHAT_EXPIRED);
	cluster_call_reply_free(&c);
	CU_ASSERT_EQUAL_FATAL(cluster_call_sweep(&a, prefix, 16), 0);
	CU_ASSERT_EQUAL_FATAL(run(&a, &c), 0);
	CU_ASSERT_FALSE(c.more);
	cluster_call_reply_free(&c);
	world_stop();
}

/* A 2025 session's copy on its node (read ack mode 3): pulls leave the cursor alone and
 * acknowledge only up to what the client was delivered, so the bound counts the copy. */
static void test_call_pull(void)
{
	struct cluster_call_reply c = { 0 };
	struct cluster_call_args a;
	struct chat_result s;

	world_start();
	join(0, "copy", "Ann", &s, &c);
	cluster_call_reply_free(&c);
	join(1, "copy", "Bob", &s, &c);
	cluster_call_reply_free(&c);
	send(0, "copy", "one", 3, &s, &c);
	cluster_call_reply_free(&c);
	send(0, "copy", "two", 3, &s, &c);
	cluster_call_reply_free(&c);
	/* Bob's copy: found + two messages; nothing acknowledged yet. */
	CU_ASSERT_EQUAL_FATAL(cluster_call_pull(&a, prefix, lw_id(2), 0, 0, 10), 0);
	CU_ASSERT_EQUAL_FATAL(run(&a, &c), 0);
	CU_ASSERT_TRUE(c.n_events == 3 && c.next == 3 && c.last == 3 && c.unread == 3);
	CU_ASSERT_EQUAL(cluster_call_strip_seq(c.events[2].params, c.events[2].params_len),
			c.events[2].params_len - strlen(",\"seq\":3}"));
	cluster_call_reply_free(&c);
	/* The client had two of them: acknowledged, nothing returned (max 0). */
	CU_ASSERT_EQUAL_FATAL(cluster_call_pull(&a, prefix, lw_id(2), 3, 2, 0), 0);
	CU_ASSERT_EQUAL_FATAL(run(&a, &c), 0);
	CU_ASSERT_TRUE(c.n_events == 0 && c.next == 3 && c.unread == 1);
	cluster_call_reply_free(&c);
	/* The cursor was left alone: a plain read from it starts at the beginning. */
	CU_ASSERT_EQUAL_FATAL(cluster_call_read(&a, prefix, lw_id(2), false, 0, CLUSTER_ACK_NONE, 10), 0);
	CU_ASSERT_EQUAL_FATAL(run(&a, &c), 0);
	CU_ASSERT_TRUE(c.n_events == 1 && c.events[0].seq == 3); /* 1 and 2 were trimmed */
	cluster_call_reply_free(&c);
	/* An acknowledgement past the newest event stops at it. */
	CU_ASSERT_EQUAL_FATAL(cluster_call_pull(&a, prefix, lw_id(2), 3, 99, 10), 0);
	CU_ASSERT_EQUAL_FATAL(run(&a, &c), 0);
	CU_ASSERT_TRUE(c.n_events == 0 && c.unread == 0 && c.last == 3);
	cluster_call_reply_free(&c);
	world_stop();
}

/* A chat re-asserted after Redis lost it: its events go on after the base seq. */
static void test_call_chat_base(void)
{
	struct cluster_call_reply c = { 0 };
	struct cluster_call_args a;
	struct chat_result s;

	world_start();
	CU_ASSERT_EQUAL_FATAL(cluster_call_end(&a, prefix, lw_id(2), CHAT_LEFT), 0);
	CU_ASSERT_EQUAL_FATAL(run(&a, &c), 0);
	cluster_call_reply_free(&c);
	CU_ASSERT_EQUAL_FATAL(cluster_call_chat_new(&a, prefix, lw_id(2), 60000, "n1", true, "h",
						    "nonce"), 0);
	CU_ASSERT_EQUAL_FATAL(cluster_call_chat_base(&a, 41), 0);
	CU_ASSERT_EQUAL(cluster_call_chat_base(&a, 41), -EINVAL); /* once */
	CU_ASSERT_EQUAL_FATAL(run(&a, &c), 0);
	CU_ASSERT_TRUE(c.created);
	cluster_call_reply_free(&c);
	join(0, "again", "Ann", &s, &c);
	cluster_call_reply_free(&c);
	join(1, "again", "Bob", &s, &c);
	cluster_call_reply_free(&c);
	CU_ASSERT_EQUAL_FATAL(cluster_call_read(&a, prefix, lw_id(2), true, 41, CLUSTER_ACK_AFTER, 10), 0);
	CU_ASSERT_EQUAL_FATAL(run(&a, &c), 0);
	CU_ASSERT_TRUE(c.n_events == 1 && c.events[0].seq == 42 && c.last == 42 && c.unread == 1);
	cluster_call_reply_free(&c);
	world_stop();
}

static void call_setup(void)
{
	lh_cmd("FLUSHALL");
	config_defaults(&cfg);
}

static void call_teardown(void)
{
	lh_free_replies();
}

/* test_lua.c's suite table names these. */
extern const struct unit_test lua_call_tests[];
void lua_call_setup(void);
void lua_call_teardown(void);

const struct unit_test lua_call_tests[] = {
	{ "call: queue matched, status", test_call_queue },
	{ "call: room story, binary message, read, leave", test_call_room_story },
	{ "call: rate_limited", test_call_rate_limited },
	{ "call: mailbox_full", test_call_mailbox_full },
	{ "call: chat_expired after end", test_call_expired },
	{ "call: a 2025 session's pull (ack mode 3)", test_call_pull },
	{ "call: chat_new with a base seq", test_call_chat_base },
	{ NULL, NULL },
};

void lua_call_setup(void)
{
	call_setup();
}

void lua_call_teardown(void)
{
	call_teardown();
}
