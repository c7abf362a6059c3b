/* The cluster's Lua scripts: liveness (touch, the sweep, what expiry tells the partner),
 * idempotence under retried calls, state that vanished under the scripts, and the keys they
 * leave behind (all under the hash tag, with TTLs). Registered by test_lua.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua_world.h"
#include "unit.h"

/* 2 (idle 300 ms) expires while 1 (idle 60 s) waits in the room: the sweep ends it and 1
 * hears timeout, once, whoever sweeps and however often. */
static void test_sweep(void)
{
	redisContext *other = lh_connect_other(NULL);
	const char *max = "100", *room;
	redisReply *r;

	CU_ASSERT_PTR_NOT_NULL_FATAL(other);
	lw_new(1);
	lw_new_ex(2, "300", "modern");
	lw_enter(1, NULL, NULL);
	lw_enter(2, NULL, NULL);
	CU_ASSERT_TRUE_FATAL(lw_together(1, 2));
	room = lw_room(1);
	lh_sleep_ms(400);
	r = lh_eval(other, CLUSTER_SCRIPT_SWEEP, 1, &max);
	CU_ASSERT_EQUAL(lh_int(r, 1), 1);
	CU_ASSERT_EQUAL(lh_int(r, 2), 0);
	CU_ASSERT_STRING_EQUAL(lh_str(r, 3), lw_id(2));
	r = lw_sweep(max); /* a second node right after: nothing left */
	CU_ASSERT_EQUAL(r->elements, 3);
	CU_ASSERT_EQUAL(lh_int(r, 1), 0);
	r = lh_eval(other, CLUSTER_SCRIPT_SWEEP, 1, &max);
	CU_ASSERT_EQUAL(r->elements, 3);
	CU_ASSERT_EQUAL(lw_count(1), 2);
	CU_ASSERT_STRING_EQUAL(lw_last_method(1), "partner.disconnected");
	CU_ASSERT_TRUE(lw_has(lw_last_params(1), "reason", "timeout"));
	CU_ASSERT_STRING_EQUAL(lh_err(lw_status(2)), "chat_expired");
	CU_ASSERT_STRING_EQUAL(lh_err(lw_send(1, room, "x")), "partner_gone");
	redisFree(other);
}

/* A chat kept alive by touch (a node's open wait) does not expire; one whose own call
 * comes too late finds it has: chat_expired. */
static void test_touch(void)
{
	redisReply *r;

	lw_new_ex(1, "300", "modern");
	lw_new_ex(2, "300", "modern");
	for (int i = 0; i < 4; i++) {
		lh_sleep_ms(150);
		r = lw_touch(1);
		CU_ASSERT_EQUAL(r->elements, 1); /* nothing gone */
	}
	CU_ASSERT_TRUE(lh_ok(lw_status(1)));
	CU_ASSERT_STRING_EQUAL(lh_err(lw_status(2)), "chat_expired");
	r = lw_touch(2);
	CU_ASSERT_STRING_EQUAL(lh_str(r, 1), lw_id(2));
}

/* A 2025 session whose node stopped refreshing it: the partner hears disconnected, and
 * hears it as soon as anyone calls anything (the timer fires lazily). */
static void test_legacy_expiry(void)
{
	lw_new(1);
	lw_new_ex(2, "300", "legacy");
	lw_join(1, "r", NULL);
	lw_join(2, "r", NULL);
	lh_sleep_ms(400);
	CU_ASSERT_STRING_EQUAL(lw_state(1), "idle");
	CU_ASSERT_TRUE(lw_has(lw_last_params(1), "reason", "disconnected"));
	CU_ASSERT_EQUAL(lh_cmd("EXISTS " LH_PREFIX ":room:r")->integer, 0);
}

static void test_idempotent_send(void)
{
	const char *room;
	redisReply *r, *again;

	room = lw_paired(1, 2);
	r = lw_send_ex(1, room, "dup", "hello", "5", "20");
	lh_sleep_ms(5);
	again = lw_send_ex(1, room, "dup", "hello", "5", "20");
	CU_ASSERT_TRUE(lh_ok(again));
	CU_ASSERT_STRING_EQUAL(lh_str(again, 2), lh_str(r, 2));
	CU_ASSERT_EQUAL(lw_count(2), 2);
	lw_leave(2, room); /* the retry still gets the first answer once the room is gone */
	again = lw_send_ex(1, room, "dup", "hello", "5", "20");
	CU_ASSERT_TRUE(lh_ok(again));
	CU_ASSERT_STRING_EQUAL(lh_str(again, 2), lh_str(r, 2));
	CU_ASSERT_EQUAL(lw_count(2), 2);
	CU_ASSERT_STRING_EQUAL(lh_err(lw_send_ex(1, room, "new", "x", "5", "20")), "room_closed");
}

static void test_idempotent_enter_join_leave(void)
{
	redisReply *r, *again;

	for (int i = 1; i <= 5; i++)
		lw_new(i);
	lw_enter_req(1, "e1", "Ann", NULL);
	r = lw_enter_req(2, "e2", NULL, NULL);
	CU_ASSERT_STRING_EQUAL(lh_str(r, 1), "matched");
	again = lw_enter_req(2, "e2", NULL, NULL); /* the reply was lost: ask again */
	CU_ASSERT_STRING_EQUAL(lh_str(again, 1), "matched");
	CU_ASSERT_STRING_EQUAL(lh_str(again, 2), lh_str(r, 2));
	CU_ASSERT_STRING_EQUAL(lh_str(again, 3), "Ann");
	CU_ASSERT_EQUAL(lw_count(1), 1);
	CU_ASSERT_EQUAL(lw_count(2), 1);
	CU_ASSERT_STRING_EQUAL(lh_cmd("HGET " LH_PREFIX ":stats matches")->str, "1");
	CU_ASSERT_STRING_EQUAL(lh_err(lw_enter(2, NULL, NULL)), "already_in_room");
	/* leave, twice with one request id: one partner.disconnected, both answers ok */
	CU_ASSERT_TRUE(lh_ok(lw_leave_req(2, "l1", lh_str(r, 2))));
	CU_ASSERT_TRUE(lh_ok(lw_leave_req(2, "l1", lh_str(r, 2))));
	CU_ASSERT_EQUAL(lw_count(1), 2);
	/* leaving the queue, retried: ok, where a fresh call would be not_in_room */
	lw_enter(3, NULL, "t", NULL);
	CU_ASSERT_TRUE(lh_ok(lw_leave_req(3, "l2", "x")));
	CU_ASSERT_TRUE(lh_ok(lw_leave_req(3, "l2", "x")));
	CU_ASSERT_STRING_EQUAL(lh_err(lw_leave(3, "x")), "not_in_room");
	/* join: the waiter's retry says waiting, the matched one's matched */
	lw_join_req(4, "j1", "jr", "Dee");
	lw_join_req(5, "j2", "jr", NULL);
	r = lw_join_req(5, "j2", "jr", NULL);
	CU_ASSERT_STRING_EQUAL(lh_str(r, 1), "matched");
	CU_ASSERT_STRING_EQUAL(lh_str(r, 3), "Dee");
	CU_ASSERT_STRING_EQUAL(lh_str(lw_join_req(4, "j1", "jr", NULL), 1), "waiting");
	CU_ASSERT_EQUAL(lw_count(4), 1);
	CU_ASSERT_EQUAL(lw_count(5), 1);
}

/* Keys that vanished under the scripts (their TTL ran out before a sweep ended the chat):
 * a stale waiter is skipped and dropped, a stale partner counts as gone. */
/* send keeps TTLs without a PEXPIRE per message: the sent set gets one when a send makes it,
 * the mailbox when its first event does, and both from every touch after. A touch that
 * prunes the set to nothing (its ids more than a minute old) makes the next send give the
 * new set its TTL again. */
static void test_ttls_kept_by_flags(void)
{
	const char *room;

	room = lw_paired(1, 2);
	CU_ASSERT_TRUE(lh_ok(lw_send_ex(1, room, "m1", "a", "5", "20")));
	CU_ASSERT(lh_cmd("PTTL " LH_PREFIX ":sent:%s", lw_id(1))->integer > 0);
	CU_ASSERT(lh_cmd("PTTL " LH_PREFIX ":mb:%s", lw_id(2))->integer > 0);
	/* m1 sent long ago, and 1 not seen for as long: its next script touches it */
	lh_cmd("ZADD " LH_PREFIX ":sent:%s 1000 m1", lw_id(1));
	lh_cmd("HSET " LH_PREFIX ":chat:%s seen 1000", lw_id(1));
	CU_ASSERT_TRUE(lh_ok(lw_send_ex(1, room, "m2", "b", "5", "20")));
	CU_ASSERT_EQUAL(lh_cmd("ZSCORE " LH_PREFIX ":sent:%s m1", lw_id(1))->type, REDIS_REPLY_NIL);
	CU_ASSERT(lh_cmd("PTTL " LH_PREFIX ":sent:%s", lw_id(1))->integer > 0);
	CU_ASSERT_STRING_EQUAL(lh_err(lw_send_ex(1, room, "m2", "b", "5", "20")), "");
	CU_ASSERT_EQUAL(lw_count(2), 3); /* found, a, b: the retried m2 delivered nothing */
	/* an emptied mailbox keeps its TTL */
	CU_ASSERT_TRUE(lh_ok(lw_read(2, "3", "1", "10")));
	CU_ASSERT_TRUE(lh_ok(lw_send_ex(1, room, "m3", "c", "5", "20")));
	CU_ASSERT(lh_cmd("PTTL " LH_PREFIX ":mb:%s", lw_id(2))->integer > 0);
}

static void test_stale_state(void)
{
	redisReply *r;

	for (int i = 1; i <= 4; i++)
		lw_new(i);
	lw_enter(1, NULL, NULL);
	lh_cmd("DEL " LH_PREFIX ":chat:%s", lw_id(1));
	r = lw_enter(2, NULL, NULL);
	CU_ASSERT_STRING_EQUAL(lh_str(r, 1), "waiting");
	CU_ASSERT_EQUAL(lh_int(r, 2), 1);
	lw_leave(2, "x");
	lw_enter(3, NULL, NULL);
	lw_enter(4, NULL, NULL);
	CU_ASSERT_TRUE_FATAL(lw_together(3, 4));
	lh_cmd("DEL " LH_PREFIX ":chat:%s", lw_id(4));
	CU_ASSERT_STRING_EQUAL(lh_err(lw_send(3, lw_room(3), "hi")), "partner_gone");
	CU_ASSERT_TRUE(lw_has(lw_last_params(3), "reason", "timeout"));
}

static bool shared_key(const char *k)
{
	static const char *const names[] = { "q", "q:open", "q:held", "q:due", "expiry",
					      "ticket", "roomctr", "secret", "stats", "handles",
					      "handles:cursor" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(k, names[i]) == 0)
			return true;
	return strncmp(k, "q:tag:", 6) == 0;
}

static bool per_chat_key(const char *k)
{
	return strncmp(k, "chat:", 5) == 0 || strncmp(k, "mb:", 3) == 0 ||
	       strncmp(k, "sent:", 5) == 0 || strncmp(k, "room:", 5) == 0 ||
	       strncmp(k, "cur:", 4) == 0;
}

/* Every key under the hash tag: per chat and per room with a TTL, the shared ones known. */
static void test_keys_and_ttls(void)
{
	const size_t plen = strlen(LH_PREFIX ":");
	redisReply *keys;
	int per_chat = 0;

	for (int i = 1; i <= 7; i++)
		lw_new(i);
	lw_enter(1, NULL, "books", NULL);
	lw_enter(2, NULL, NULL);
	lw_enter(3, NULL, "books", "films", NULL);
	lw_send(1, lw_room(1), "hi");
	lw_join(4, "named", NULL);
	lw_enter(5, NULL, "rare", NULL);
	lw_join(6, "pair", NULL);
	lw_join(7, "pair", NULL);
	lw_end(6, "kicked");
	keys = lh_cmd("KEYS *");
	CU_ASSERT(keys->elements > 10);
	for (size_t i = 0; i < keys->elements; i++) {
		const char *k = keys->element[i]->str;
		long long ttl;

		CHECKF(strncmp(k, LH_PREFIX ":", plen) == 0, "key %s", k);
		if (strncmp(k, LH_PREFIX ":", plen) != 0)
			continue;
		ttl = lh_cmd("PTTL %s", k)->integer;
		if (per_chat_key(k + plen)) {
			per_chat++;
			CHECKF(ttl > 0 && ttl <= 180000, "key %s ttl %lld", k, ttl);
		} else {
			CHECKF(shared_key(k + plen), "unexpected key %s", k);
		}
	}
	/* 6 chats and their cursors; the streams of 1, 3 and 7 (the others heard nothing); 1's
	 * sent ids; the rooms "named" and 1's with 3; 6 ended: none of its keys is left */
	CHECKF(per_chat == 6 + 6 + 3 + 1 + 2, "%d per-chat keys", per_chat);
	CU_ASSERT_EQUAL(lh_cmd("EXISTS " LH_PREFIX ":cur:%s", lw_id(6))->integer, 0);
	CU_ASSERT_EQUAL(lh_cmd("EXISTS " LH_PREFIX ":room:pair")->integer, 0);
}

const struct unit_test lua_life_tests[] = {
	{ "sweep by two nodes", test_sweep },
	{ "touch keeps a chat", test_touch },
	{ "a 2025 session expires as disconnected", test_legacy_expiry },
	{ "send retried", test_idempotent_send },
	{ "TTLs kept by flags, not per message", test_ttls_kept_by_flags },
	{ "enter, join and leave retried", test_idempotent_enter_join_leave },
	{ "state that vanished", test_stale_state },
	{ "keys under the hash tag, with TTLs", test_keys_and_ttls },
	{ NULL, NULL },
};
