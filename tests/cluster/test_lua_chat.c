/* The cluster's Lua scripts: rooms, messages, the rate bucket, the mailbox bound, reading
 * and acknowledging, leaving and ending, expiry, idempotence under retries, and the keys
 * they leave behind. Registered by test_lua.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua_world.h"
#include "unit.h"

static void test_named_room_lifecycle(void)
{
	redisReply *r;

	for (int i = 1; i <= 4; i++)
		lw_new(i);
	r = lw_join(1, "lobby", "Ann");
	CU_ASSERT_STRING_EQUAL(lh_str(r, 1), "waiting");
	CU_ASSERT_STRING_EQUAL(lh_str(r, 2), "lobby");
	r = lw_join(1, "lobby", NULL); /* again: harmless */
	CU_ASSERT_STRING_EQUAL(lh_str(r, 1), "waiting");
	r = lw_join(2, "lobby", "Bob");
	CU_ASSERT_STRING_EQUAL(lh_str(r, 1), "matched");
	CU_ASSERT_STRING_EQUAL(lh_str(r, 2), "lobby");
	CU_ASSERT_STRING_EQUAL(lh_str(r, 3), "Ann");
	CU_ASSERT_TRUE(lw_has(lw_last_params(1), "display_name", "Bob"));
	r = lw_join(3, "lobby", NULL);
	CU_ASSERT_STRING_EQUAL(lh_err(r), "room_full");
	CU_ASSERT_PTR_NOT_NULL(strstr(lh_str(r, 2), "lobby"));
	CU_ASSERT_TRUE(lh_ok(lw_leave(1, "lobby")));
	CU_ASSERT_STRING_EQUAL(lw_last_method(2), "partner.disconnected");
	CU_ASSERT_TRUE(lw_has(lw_last_params(2), "reason", "left"));
	CU_ASSERT_TRUE(lw_has(lw_last_params(2), "room_id", "lobby"));
	CU_ASSERT_EQUAL(lw_count(1), 1); /* the leaver hears nothing */
	CU_ASSERT_EQUAL(lh_cmd("EXISTS " LH_PREFIX ":room:lobby")->integer, 0);
	/* The id is free again. */
	CU_ASSERT_STRING_EQUAL(lh_str(lw_join(3, "lobby", NULL), 1), "waiting");
	CU_ASSERT_STRING_EQUAL(lh_str(lw_join(4, "lobby", NULL), 1), "matched");
	CU_ASSERT_TRUE(lw_together(3, 4));
	/* Waiting alone and leaving removes the room. */
	lw_join(1, "solo", NULL);
	CU_ASSERT_TRUE(lh_ok(lw_leave(1, "solo")));
	CU_ASSERT_STRING_EQUAL(lh_str(lw_join(2, "solo", NULL), 1), "waiting");
	CU_ASSERT_STRING_EQUAL(lh_cmd("HGET " LH_PREFIX ":stats named_waiting")->str, "1");
	/* A named waiter that ends leaves no room behind. */
	lw_end(2, "timeout");
	CU_ASSERT_STRING_EQUAL(lh_str(lw_join(1, "solo", NULL), 1), "waiting");
	CU_ASSERT_EQUAL(lw_count(1), 1);
}

static void test_state_errors(void)
{
	redisReply *r;
	const char *room;

	for (int i = 1; i <= 3; i++)
		lw_new(i);
	r = lw_send(1, "nowhere", "hi");
	CU_ASSERT_STRING_EQUAL(lh_err(r), "not_in_room");
	CU_ASSERT_PTR_NOT_NULL(strstr(lh_str(r, 2), "nowhere"));
	CU_ASSERT_STRING_EQUAL(lh_err(lw_leave(1, "nowhere")), "not_in_room");
	lw_enter(1, NULL, NULL);
	CU_ASSERT_STRING_EQUAL(lh_err(lw_join(1, "r", NULL)), "already_waiting");
	lw_enter(2, NULL, NULL);
	room = lw_room(1);
	r = lw_enter(1, NULL, NULL);
	CU_ASSERT_STRING_EQUAL(lh_err(r), "already_in_room");
	CU_ASSERT_PTR_NOT_NULL(strstr(lh_str(r, 2), room));
	CU_ASSERT_STRING_EQUAL(lh_err(lw_join(1, "r", NULL)), "already_in_room");
	CU_ASSERT_STRING_EQUAL(lh_err(lw_send(1, "wrong", "hi")), "not_in_room");
	lw_join(3, "r", NULL);
	r = lw_enter(3, NULL, NULL);
	CU_ASSERT_STRING_EQUAL(lh_err(r), "already_waiting");
	CU_ASSERT_PTR_NOT_NULL(strstr(lh_str(r, 2), "room r"));
	CU_ASSERT_STRING_EQUAL(lh_err(lw_join(3, "s", NULL)), "already_waiting");
}

static void test_send_and_refusals(void)
{
	static const char *const why[] = { "disconnected", "timeout", "kicked" };
	const char *room, *p;
	redisReply *r;

	lw_new(1);
	lw_new(2);
	lw_enter(1, "Ann", NULL);
	lw_enter(2, "Bob", NULL);
	room = lw_room(1);
	r = lw_send_ex(1, room, "mid1", "h\xc3\xa9 \"q\" \\ \n\x01 </x>", "5", "20");
	CU_ASSERT_TRUE_FATAL(lh_ok(r));
	CU_ASSERT_STRING_EQUAL(lh_str(r, 1), "mid1");
	CU_ASSERT_EQUAL(strlen(lh_str(r, 2)), 24); /* 2026-01-02T03:04:05.678Z */
	CU_ASSERT_EQUAL(lh_str(r, 2)[10], 'T');
	CU_ASSERT_EQUAL(lh_str(r, 2)[19], '.');
	CU_ASSERT_STRING_EQUAL(lw_last_method(2), "message.received");
	p = lw_last_params(2);
	CU_ASSERT_PTR_NOT_NULL(strstr(p, "\"message\":\"h\xc3\xa9 \\\"q\\\" \\\\ \\n\\u0001 </x>\""));
	CU_ASSERT_TRUE(lw_has(p, "message_id", "mid1"));
	CU_ASSERT_TRUE(lw_has(p, "display_name", "Ann"));
	CU_ASSERT_TRUE(lw_has(p, "timestamp", lh_str(r, 2)));
	CU_ASSERT_PTR_NOT_NULL(strstr(p, ",\"seq\":2}"));
	CU_ASSERT_EQUAL(lw_count(1), 1); /* the sender hears nothing */
	lw_leave(1, room);
	CU_ASSERT_STRING_EQUAL(lh_err(lw_send(2, room, "hello?")), "room_closed");
	CU_ASSERT_STRING_EQUAL(lh_err(lw_send(1, room, "hello?")), "room_closed");
	for (int i = 0; i < 3; i++) {
		int x = 10 + i;

		lw_new(x);
		lw_enter(x, NULL, NULL);
		lw_enter(2, NULL, NULL);
		CU_ASSERT_TRUE_FATAL(lw_together(x, 2));
		room = lw_room(2);
		lw_end(x, why[i]);
		CU_ASSERT_STRING_EQUAL(lw_last_method(2), "partner.disconnected");
		CU_ASSERT_TRUE(lw_has(lw_last_params(2), "reason", why[i]));
		CU_ASSERT_TRUE(lw_has(lw_last_params(2), "room_id", room));
		CU_ASSERT_STRING_EQUAL(lh_err(lw_send(2, room, "hello?")), "partner_gone");
		CU_ASSERT_TRUE(lh_ok(lw_leave(2, room))); /* the room that just closed: harmless */
	}
}

static void test_rate_limit(void)
{
	const char *room;
	redisReply *r;
	long long wait;

	room = lw_paired(1, 2);
	for (int i = 0; i < 20; i++)
		CU_ASSERT_TRUE(lh_ok(lw_send(1, room, "x")));
	r = lw_send(1, room, "x");
	CU_ASSERT_STRING_EQUAL(lh_err(r), "rate_limited");
	wait = lh_int(r, 3);
	CHECKF(wait > 0 && wait <= 200, "retry_after_ms %lld", wait);
	CU_ASSERT_PTR_NOT_NULL(strstr(lh_str(r, 2), "ms."));
	lh_sleep_ms((unsigned)wait);
	CU_ASSERT_TRUE(lh_ok(lw_send(1, room, "x")));
	/* b has its own bucket */
	CU_ASSERT_TRUE(lh_ok(lw_send(2, room, "y")));
	CU_ASSERT_EQUAL(lw_count(2), 1 + 21);
	/* 5 per second refill, capped at the burst */
	lh_sleep_ms(1000);
	for (int i = 0; i < 5; i++)
		CU_ASSERT_TRUE(lh_ok(lw_send(1, room, "x")));
	CU_ASSERT_STRING_EQUAL(lh_err(lw_send(1, room, "x")), "rate_limited");
}

/* 256 unacknowledged events: the 256th message is refused; room events still get in. */
static void test_mailbox_full(void)
{
	const char *room;
	redisReply *r;
	char id[16];
	int sent = 0;

	lw_new(1);
	lw_new(2);
	lw_enter(1, NULL, NULL);
	lw_enter(2, NULL, NULL); /* 2 holds chatroom.found */
	room = lw_room(1);
	for (int i = 0; i < 300; i++) {
		snprintf(id, sizeof(id), "big%d", i);
		r = lw_send_ex(1, room, id, "x", "1000", "1000");
		if (!lh_ok(r))
			break;
		sent++;
	}
	CU_ASSERT_EQUAL(sent, 255);
	CU_ASSERT_STRING_EQUAL(lh_err(r), "mailbox_full");
	CU_ASSERT_EQUAL(lw_unread(2), 256);
	/* reading without acknowledging frees nothing; acknowledging one frees one */
	lw_read(2, "0", "0", "10");
	CU_ASSERT_STRING_EQUAL(lh_err(lw_send_ex(1, room, "more", "x", "1000", "1000")), "mailbox_full");
	lw_read(2, "1", "1", "1");
	CU_ASSERT_TRUE(lh_ok(lw_send_ex(1, room, "more", "x", "1000", "1000")));
	CU_ASSERT_STRING_EQUAL(lh_err(lw_send_ex(1, room, "more2", "x", "1000", "1000")), "mailbox_full");
	lw_leave(1, room);
	CU_ASSERT_STRING_EQUAL(lw_last_method(2), "partner.disconnected");
	CU_ASSERT_EQUAL(lw_unread(2), 257);
	/* a full mailbox may start nothing new */
	CU_ASSERT_STRING_EQUAL(lh_err(lw_enter(2, NULL, NULL)), "mailbox_full");
	CU_ASSERT_STRING_EQUAL(lh_err(lw_join(2, "other", NULL)), "mailbox_full");
	r = lw_read(2, "", "1", "1000");
	lw_read(2, lh_str(r, 1), "1", "1000"); /* pass next back: all acknowledged */
	CU_ASSERT_EQUAL(lw_unread(2), 0);
	CU_ASSERT_TRUE(lh_ok(lw_enter(2, NULL, NULL)));
}

/* Two clients looping join / join / leave with nobody reading cannot push a mailbox past
 * the bound plus two (the denial of service of issue 12). */
static void test_mailbox_bound_all_events(void)
{
	int refused = 0;

	lw_cap = "16";
	lw_new(1);
	lw_new(2);
	for (int i = 0; i < 60; i++) {
		redisReply *r;

		r = lw_join(1, "loop", NULL);
		CHECKF(lh_ok(r), "round %d: %s %s", i, lh_err(r), lh_str(r, 2));
		r = lw_join(2, "loop", NULL);
		if (strcmp(lh_err(r), "mailbox_full") == 0)
			refused++;
		lw_leave(1, "loop");
		lw_leave(2, "loop");
	}
	CU_ASSERT(refused > 45);
	CU_ASSERT_EQUAL(lw_unread(2), 16); /* found and disconnected a round */
	CU_ASSERT_EQUAL(lw_unread(1), 8);  /* found a round */
	CU_ASSERT(lw_count(1) <= 18 && lw_count(2) <= 18);
}

static void test_read_after(void)
{
	const char *room;
	redisReply *r, *again;

	room = lw_paired(1, 2);
	for (int i = 0; i < 3; i++)
		lw_send(1, room, "m");
	r = lw_read(2, "0", "1", "100");
	CU_ASSERT_EQUAL(r->elements, 4 + 3 * 4);
	CU_ASSERT_EQUAL(lh_int(r, 1), 4); /* next */
	CU_ASSERT_EQUAL(lh_int(r, 2), 4); /* last */
	CU_ASSERT_EQUAL(lh_int(r, 3), 4); /* unread: after 0 acknowledged nothing */
	CU_ASSERT_STRING_EQUAL(lh_str(r, 5), "chatroom.found");
	again = lw_read(2, "0", "1", "100"); /* a lost answer: the same call, the same events */
	CU_ASSERT_EQUAL(again->elements, r->elements);
	CU_ASSERT_STRING_EQUAL(lh_str(again, again->elements - 1), lh_str(r, r->elements - 1));
	r = lw_read(2, "2", "1", "100"); /* acknowledges 1 and 2: they leave the stream */
	CU_ASSERT_EQUAL(lh_int(r, 0 + 4), 3);
	CU_ASSERT_EQUAL(lh_int(r, 3), 2);
	CU_ASSERT_EQUAL(lh_cmd("XLEN " LH_PREFIX ":mb:%s", lw_id(2))->integer, 2);
	r = lw_read(2, "0", "0", "100"); /* an old after: what is still held */
	CU_ASSERT_EQUAL(r->elements, 4 + 2 * 3);
	r = lw_read(2, "2", "0", "1"); /* max 1 */
	CU_ASSERT_EQUAL(r->elements, 4 + 3);
	CU_ASSERT_EQUAL(lh_int(r, 1), 3);
	r = lw_read(2, "", "0", "100"); /* "" = the last answer's next */
	CU_ASSERT_EQUAL(r->elements, 4 + 3);
	CU_ASSERT_EQUAL(lh_int(r, 1), 4);
	r = lw_read(2, "", "0", "100");
	CU_ASSERT_EQUAL(r->elements, 4);
	CU_ASSERT_EQUAL(lh_int(r, 1), 4);
	r = lw_read(2, "99", "1", "100"); /* past the newest: acknowledges up to it */
	CU_ASSERT_EQUAL(lh_int(r, 3), 0);
	CU_ASSERT_EQUAL(lh_cmd("XLEN " LH_PREFIX ":mb:%s", lw_id(2))->integer, 0);
	/* ack 2 (a 2025 session): what is returned counts as delivered */
	lw_send(1, room, "n");
	r = lw_read(1, "0", "2", "100");
	CU_ASSERT_EQUAL(lh_int(r, 3), 0);
	lw_send(2, room, "n");
	r = lw_read(1, "", "2", "100");
	CU_ASSERT_EQUAL(r->elements, 4 + 3);
	CU_ASSERT_EQUAL(lh_int(r, 3), 0);
}

/* ack: read's acknowledgement and cursor without the read, in plain commands (no script):
 * the trim is exact, clamps at the newest, and nothing is made for a chat that is gone. */
static void test_ack(void)
{
	const char *room;
	redisReply *r;
	bool gone = true;

	room = lw_paired(1, 2);
	for (int i = 0; i < 3; i++)
		lw_send(1, room, "m"); /* 2's events: found (1), three messages (2..4) */
	CU_ASSERT_EQUAL(lw_ack(2, true, 2, 2, &gone), 0);
	CU_ASSERT_FALSE(gone);
	CU_ASSERT_EQUAL(lw_unread(2), 2);
	CU_ASSERT_EQUAL(lh_cmd("XLEN " LH_PREFIX ":mb:%s", lw_id(2))->integer, 2);
	/* lower than before: nothing comes back */
	lw_ack(2, true, 1, 2, &gone);
	CU_ASSERT_EQUAL(lw_unread(2), 2);
	/* the cursor: a read without after goes on from there */
	lw_ack(2, false, 0, 3, &gone);
	r = lw_read(2, "", "0", "100");
	CU_ASSERT_EQUAL(r->elements, 4 + 3);
	CU_ASSERT_EQUAL(lh_int(r, 4), 4);
	/* the cursor keeps the chat's TTL */
	CU_ASSERT_TRUE(lh_cmd("PTTL " LH_PREFIX ":cur:%s", lw_id(2))->integer > 0);
	/* past the newest: up to it, as read clamps */
	lw_ack(2, true, 99, 4, &gone);
	CU_ASSERT_EQUAL(lw_unread(2), 0);
	CU_ASSERT_EQUAL(lh_cmd("XLEN " LH_PREFIX ":mb:%s", lw_id(2))->integer, 0);
	CU_ASSERT_STRING_EQUAL(lh_str(lw_send(1, room, "after"), 0), "ok");
	CU_ASSERT_EQUAL(lw_unread(2), 1); /* the clamp did not eat the next event */
	/* a chat that is gone is never made again by an ack */
	CU_ASSERT_EQUAL(lw_ack(7, true, 1, 1, &gone), 0);
	CU_ASSERT_TRUE(gone);
	CU_ASSERT_EQUAL(lh_cmd("EXISTS " LH_PREFIX ":chat:%s " LH_PREFIX ":cur:%s "
			       LH_PREFIX ":mb:%s", lw_id(7), lw_id(7), lw_id(7))->integer, 0);
}

/* Every event's doorbell carries it: "seq:ms:method\nparams", params as in the stream. */
static void test_doorbell_payload(void)
{
	redisContext *sub = lh_connect_other(NULL);
	redisReply *r, *m = NULL;
	const char *room;

	room = lw_paired(1, 2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(sub);
	r = redisCommand(sub, "SUBSCRIBE " LH_PREFIX ":wake:%s", lw_id(2));
	freeReplyObject(r);
	lw_send(1, room, "line\nbreak: \"quoted\"");
	CU_ASSERT_EQUAL(redisGetReply(sub, (void **)&m), REDIS_OK);
	CU_ASSERT_FATAL(m && m->type == REDIS_REPLY_ARRAY && m->elements == 3);
	CU_ASSERT_EQUAL(strncmp(m->element[2]->str, "2:", 2), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(m->element[2]->str, ":message.received\n{"));
	CU_ASSERT_STRING_EQUAL(strchr(m->element[2]->str, '\n') + 1, lw_last_params(2));
	freeReplyObject(m);
	redisFree(sub);
}

static void test_status(void)
{
	redisReply *r;

	lw_new(1);
	lw_new(2);
	r = lw_status(1);
	CU_ASSERT_STRING_EQUAL(lh_str(r, 1), "idle");
	CU_ASSERT_STRING_EQUAL(lh_str(r, 2), "");
	CU_ASSERT_EQUAL(lh_int(r, 4), 0);
	lw_enter(1, "Ann", "x", NULL);
	r = lw_status(1);
	CU_ASSERT_STRING_EQUAL(lh_str(r, 1), "waiting");
	CU_ASSERT_STRING_EQUAL(lh_str(r, 2), "");
	CU_ASSERT_EQUAL(lh_int(r, 4), 1);
	lw_join(2, "named", NULL);
	r = lw_status(2);
	CU_ASSERT_STRING_EQUAL(lh_str(r, 1), "waiting");
	CU_ASSERT_STRING_EQUAL(lh_str(r, 2), "named");
	CU_ASSERT_EQUAL(lh_int(r, 4), 0);
	lw_leave(2, "named");
	lw_enter(2, NULL, "x", NULL);
	r = lw_status(2);
	CU_ASSERT_STRING_EQUAL(lh_str(r, 1), "in_room");
	CU_ASSERT_STRING_EQUAL(lh_str(r, 3), "Ann");
	CU_ASSERT_EQUAL(strlen(lh_str(r, 2)), 16);
	CU_ASSERT_EQUAL(lh_int(r, 4), 0);
	CHECKF(lh_int(r, 5) == 1, "unread %lld", lh_int(r, 5)); /* chatroom.found */
}

static void test_end(void)
{
	static const char *const reasons[] = { "left", "disconnected", "timeout", "kicked" };
	redisReply *r;

	lw_new(1);
	for (int i = 0; i < 4; i++) {
		lw_new(2 + i);
		lw_enter(1, NULL, NULL);
		lw_enter(2 + i, NULL, NULL);
		CU_ASSERT_TRUE_FATAL(lw_together(1, 2 + i));
		r = lw_end(2 + i, reasons[i]);
		CU_ASSERT_STRING_EQUAL(lh_str(r, 1), "ended");
		CU_ASSERT_TRUE(lw_has(lw_last_params(1), "reason", reasons[i]));
		r = lw_end(2 + i, reasons[i]); /* again: nobody told twice */
		CU_ASSERT_STRING_EQUAL(lh_str(r, 1), "gone");
		CU_ASSERT_EQUAL(lw_count(1), 2 * (i + 1));
		CU_ASSERT_STRING_EQUAL(lh_err(lw_status(2 + i)), "chat_expired");
		CU_ASSERT_EQUAL(lh_cmd("EXISTS " LH_PREFIX ":chat:%s " LH_PREFIX ":mb:%s",
				       lw_id(2 + i), lw_id(2 + i))->integer, 0);
	}
	lw_enter(1, NULL, NULL); /* a waiter that ends leaves the queue */
	lw_end(1, "disconnected");
	CU_ASSERT_EQUAL(lh_cmd("EXISTS " LH_PREFIX ":q")->integer, 0);
	CU_ASSERT_STRING_EQUAL(lh_cmd("HGET " LH_PREFIX ":stats chats")->str, "0");
}

static void test_chat_expired(void)
{
	const char *a[] = { lw_id(9), "", "", "", "", "", "", "" };

	for (int s = CLUSTER_SCRIPT_ENTER_QUEUE; s <= CLUSTER_SCRIPT_STATUS; s++)
		CU_ASSERT_STRING_EQUAL(lh_err(lh_eval(NULL, s, 8, a)), "chat_expired");
	CU_ASSERT_STRING_EQUAL(lh_str(lw_touch(9), 1), lw_id(9)); /* listed as gone */
	CU_ASSERT_STRING_EQUAL(lh_str(lw_new(9), 1), "created");
	CU_ASSERT_STRING_EQUAL(lh_str(lw_new(9), 1), "exists");
	CU_ASSERT_EQUAL(lw_touch(9)->elements, 1);
}

const struct unit_test lua_chat_tests[] = {
	{ "named room lifecycle", test_named_room_lifecycle },
	{ "state errors", test_state_errors },
	{ "send, room_closed and partner_gone", test_send_and_refusals },
	{ "rate limit", test_rate_limit },
	{ "mailbox full at 256", test_mailbox_full },
	{ "mailbox bound for every event", test_mailbox_bound_all_events },
	{ "read with after", test_read_after },
	{ "ack without a read", test_ack },
	{ "the doorbell carries the event", test_doorbell_payload },
	{ "status", test_status },
	{ "end with each reason", test_end },
	{ "chat_expired", test_chat_expired },
	{ NULL, NULL },
};
