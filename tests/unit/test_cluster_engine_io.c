/* The cluster engine's I/O (cluster/engine.c, engine_wait.c, engine_linger.c) and the node
 * under it (cluster/node.c) against the scripted fake Redis (fake_redis.h): tool calls go in
 * through mcp_handle as a 2026-07-28 client sends them, the commands the engine issues are
 * checked and answered by the test, and the deferred answers come out of the fake sinks.
 * Time is a fake clock (timer_clock_set) moved by the test, never a sleep.
 *
 * What is asserted: the script run and the arguments that make it the right one (KEYS[1]
 * "{mcpchat}", the chat id, message_id, after/ack), the answers, and the engine's counters.
 * What is not: the order of commands where the engine does not depend on it (the node's own
 * housekeeping is answered in bulk by chores()). */
#include "engine_harness.h"

/* send_message: one `send` with the chat's key prefix and arguments; its reply is the single
 * node's result. */
static void test_send(void)
{
	struct mcp_tool_ctx single = { 0 };
	struct fake_sink *f;
	struct fr_cmd *c;
	char mid[32];
	cJSON *msg = NULL, *want = NULL;

	up();
	f = send_hello(3);
	CU_ASSERT_EQUAL(fr_count(NULL), 1); /* the script alone: the chat is made already */
	c = fr_take("send");
	REQUIRE(c);
	CU_ASSERT_FALSE(c->sub);
	CU_ASSERT_EQUAL(c->argc, 8); /* KEYS[1], chat_id room_id message_id text rate burst cap */
	CU_ASSERT_STRING_EQUAL(fr_arg(c, 0), PFX);
	CU_ASSERT_STRING_EQUAL(fr_arg(c, 1), CHAT);
	CU_ASSERT_STRING_EQUAL(fr_arg(c, 2), "lobby");
	CU_ASSERT_TRUE(strlen(fr_arg(c, 3)) > 0);
	CU_ASSERT_STRING_EQUAL(fr_arg(c, 4), "hello");
	CU_ASSERT_STRING_EQUAL(fr_arg(c, 5), "5");
	CU_ASSERT_STRING_EQUAL(fr_arg(c, 6), "20");
	CU_ASSERT_STRING_EQUAL(fr_arg(c, 7), "256");
	snprintf(mid, sizeof(mid), "%s", fr_arg(c, 3));
	CU_ASSERT_TRUE(silent(f));
	reply_sent(c, mid);
	msg = answer(f, 3);
	CU_ASSERT_PTR_NULL(jget(msg, "result.isError"));
	chat_tools_sent(&single, mid, "2026-07-28T12:00:00.000Z");
	want = single.structured_text ? cJSON_Parse(single.structured_text) : single.structured;
	free(single.structured_text);
	CU_ASSERT_TRUE(cJSON_Compare(jget(msg, "result.structuredContent"), want, true));
	CU_ASSERT_EQUAL(est().messages, 1);
	CU_ASSERT_EQUAL(est().calls, 1);
	CU_ASSERT_EQUAL(est().unavailable, 0);
	CU_ASSERT_EQUAL(stats().calls_waiting, 0);
out:
	cJSON_Delete(msg);
	cJSON_Delete(want);
}

/* A script's refusal is the single node's refusal (not unavailable, not a failure). */
static void test_send_refusal(void)
{
	struct mcp_tool_ctx single = { 0 };
	struct chat_result r = { .error = CHAT_RATE_LIMITED, .message = "slow down",
				 .retry_after_ms = 1200 };
	struct fake_sink *f;
	cJSON *msg, *want;

	up();
	f = send_hello(19);
	fr_reply(fr_take("send"), "*4\r\n$3\r\nerr\r\n$12\r\nrate_limited\r\n$9\r\nslow down\r\n:1200\r\n");
	msg = answer(f, 19);
	CU_ASSERT_TRUE(cJSON_IsTrue(jget(msg, "result.isError")));
	chat_tools_refusal(&single, &r);
	want = single.structured_text ? cJSON_Parse(single.structured_text) : single.structured;
	free(single.structured_text);
	CU_ASSERT_TRUE(cJSON_Compare(jget(msg, "result.structuredContent"), want, true));
	CU_ASSERT_STRING_EQUAL(jstr(msg, "result.content.0.text"), "slow down");
	cJSON_Delete(want);
	cJSON_Delete(msg);
	CU_ASSERT_EQUAL(est().unavailable, 0);
	CU_ASSERT_EQUAL(est().commands_failed, 0);
	CU_ASSERT_EQUAL(est().messages, 0);
}

/* A send whose command failed one way: unavailable, and counted where it belongs. */
static void send_fails(const char *resp, int err, uint64_t want_failed, uint64_t want_malformed)
{
	struct cluster_engine_stats before = est();
	struct fake_sink *f = send_hello(4);
	struct fr_cmd *c = fr_take("send");
	cJSON *msg;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	if (resp)
		fr_reply(c, resp);
	else
		fr_fail(c, err);
	msg = answer(f, 4);
	expect_unavailable(msg);
	cJSON_Delete(msg);
	CU_ASSERT_EQUAL(est().unavailable, before.unavailable + 1);
	CU_ASSERT_EQUAL(est().commands_failed, before.commands_failed + want_failed);
	CU_ASSERT_EQUAL(est().malformed, before.malformed + want_malformed);
	CU_ASSERT_EQUAL(est().messages, 0);
	/* Not asked again: only a lost connection leaves the outcome open. */
	advance(5000);
	chores();
	CU_ASSERT_EQUAL(fr_count("send"), 0);
}

static void test_send_failures(void)
{
	up();
	send_fails("-ERR Error running script: boom\r\n", 0, 1, 0); /* an error reply */
	send_fails("*3\r\n$2\r\nok\r\n:5\r\n:6\r\n", 0, 0, 1);      /* wrong types */
	send_fails("$2\r\nok\r\n", 0, 0, 1);                        /* not an array */
	send_fails(NULL, -ETIMEDOUT, 1, 0);                         /* a hung Redis */
}

/* Refused at once (DOWN: -ENOTCONN; over the client's limits: -ENOBUFS): the call is
 * answered within itself, unavailable, and nothing is queued. */
static void test_send_refused(void)
{
	static const char args[] =
		"{\"chat_id\":\"" CHAT "\",\"room_id\":\"lobby\",\"message\":\"hello\"}";

	up();
	for (int i = 0; i < 2; i++) {
		if (i == 0)
			fr_set_state(fr_cmd_client(), REDIS_DOWN, -ECONNRESET);
		else {
			fr_set_state(fr_cmd_client(), REDIS_UP, 0);
			chores();
			fr_refuse(-ENOBUFS);
		}
		call_now_unavailable("send_message", args);
		CU_ASSERT_EQUAL(fr_count("send"), 0);
		CU_ASSERT_EQUAL(est().unavailable, (uint64_t)i + 1);
		CU_ASSERT_EQUAL(est().commands_failed, (uint64_t)i + 1);
	}
	fr_refuse(0);
	CU_ASSERT_EQUAL(stats().calls_waiting, 0);
}

/* The connection lost under a send (-ECONNRESET): it may have run, so it is asked again with
 * the same message_id, through Redis going down and coming back, and answered once. */
static void test_send_reset_resent(void)
{
	struct fake_sink *f;
	struct fr_cmd *c;
	char mid[32];
	cJSON *msg = NULL;

	up();
	f = send_hello(6);
	c = fr_take("send");
	REQUIRE(c);
	snprintf(mid, sizeof(mid), "%s", fr_arg(c, 3));
	fr_fail(c, -ECONNRESET);
	CU_ASSERT_TRUE(silent(f));
	CU_ASSERT_EQUAL(fr_count("send"), 0); /* not at once: after 250 ms */
	advance(300);
	c = fr_peek("send");
	REQUIRE(c);
	CU_ASSERT_STRING_EQUAL(fr_arg(c, 3), mid);
	CU_ASSERT_STRING_EQUAL(fr_arg(c, 4), "hello");
	/* Lost again, with the connection this time; asked again while Redis is down: refused,
	 * it waits longer (500, then 1000 ms). */
	fr_set_state(fr_cmd_client(), REDIS_DOWN, -ECONNRESET);
	CU_ASSERT_EQUAL(fr_count(NULL), 0);
	CU_ASSERT_TRUE(silent(f));
	advance(600);
	CU_ASSERT_TRUE(silent(f));
	fr_set_state(fr_cmd_client(), REDIS_UP, 0);
	chores();
	advance(1100);
	chores();
	c = fr_take("send");
	REQUIRE(c);
	CU_ASSERT_STRING_EQUAL(fr_arg(c, 3), mid);
	CU_ASSERT_TRUE(silent(f));
	reply_sent(c, mid);
	msg = answer(f, 6);
	CU_ASSERT_PTR_NULL(jget(msg, "result.isError"));
	CU_ASSERT_STRING_EQUAL(jstr(msg, "result.structuredContent.message_id"), mid);
	CU_ASSERT_EQUAL(est().messages, 1);
	/* Answered once: nothing more is asked, nothing more is said. */
	advance(5000);
	chores();
	CU_ASSERT_EQUAL(fr_count("send"), 0);
	CU_ASSERT_EQUAL(stats().calls_waiting, 0);
out:
	cJSON_Delete(msg);
}

/* Lost every time: asked again 4 times (250 ms, then doubling), then unavailable. */
static void test_send_reset_gives_up(void)
{
	struct fake_sink *f;
	struct fr_cmd *c;
	char mid[32] = "";
	cJSON *msg;

	up();
	f = send_hello(7);
	for (int i = 0; i < 5; i++) {
		c = fr_take("send");
		CU_ASSERT_PTR_NOT_NULL_FATAL(c);
		if (i == 0)
			snprintf(mid, sizeof(mid), "%s", fr_arg(c, 3));
		CU_ASSERT_STRING_EQUAL(fr_arg(c, 3), mid);
		fr_fail(c, -ECONNRESET);
		if (i < 4) {
			CU_ASSERT_TRUE(silent(f));
			advance((250u << i) + 50);
			chores();
		}
	}
	msg = answer(f, 7);
	expect_unavailable(msg);
	cJSON_Delete(msg);
	CU_ASSERT_EQUAL(fr_count("send"), 0);
	CU_ASSERT_EQUAL(est().commands_failed, 5);
}


/* A doorbell on the chat's channel makes the waiter read; events answer it. */
static void test_wait_doorbell(void)
{
	struct fake_sink *f;
	struct fr_cmd *c;
	cJSON *msg;

	up();
	f = start_wait(8, "", 30);
	fr_publish(WAKE, "1:1760000000000");
	CU_ASSERT_EQUAL(est().wakeups, 1);
	c = take_read("0");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	reply_events(c, 1, 1, 1);
	msg = answer(f, 8);
	expect_events(msg, 1, "m1", 1);
	cJSON_Delete(msg);
	/* The subscription lingers for the client's next wait: no UNSUBSCRIBE. */
	CU_ASSERT_EQUAL(fr_count(NULL), 0);
	CU_ASSERT_EQUAL(est().chats_lingering, 1);
	CU_ASSERT_EQUAL(est().waiting, 0);
	/* Another chat's doorbell, or a malformed one, wakes nobody here. */
	fr_publish(PFX ":wake:otherAAAAAAAAAAAAAAAAA", "5");
	fr_publish(WAKE, "five");
	CU_ASSERT_EQUAL(fr_count(NULL), 0);
	CU_ASSERT_EQUAL(est().malformed, 1);
}

/* Between two waits the lingering subscription notes the doorbells. A next wait whose after
 * is the newest it heard of does not read: `ack` acknowledges and it waits. A doorbell that
 * carries the very event a wait waits for is its answer, once `ack` moved the cursor. A
 * doorbell newer than the next wait's after, or one that skips a seq, makes it read. */
static void test_wait_seen_doorbell(void)
{
	struct fake_sink *f;
	struct fr_cmd *c;
	cJSON *msg;

	up();
	f = start_wait(9, "", 30);
	fr_publish(WAKE, "1");
	reply_events(take_read("0"), 1, 1, 1);
	cJSON_Delete(answer(f, 9));
	fr_publish(WAKE, "1:1760000000000"); /* late: the answer had it */
	CU_ASSERT_EQUAL(fr_count(NULL), 0);
	f = call("wait_for_message", "{\"chat_id\":\"" CHAT "\",\"after\":1}", 10);
	/* Parked on the lingering subscription: no read, no SUBSCRIBE, and its `ack` of 1 goes
	 * with the call's next command (1 is within a quarter of the bound past what the last
	 * wait acknowledged). */
	CU_ASSERT_EQUAL(fr_count("read") + fr_count("SUBSCRIBE") + ACKS(), 0);
	CU_ASSERT_EQUAL(est().linger_reused, 1);
	CU_ASSERT_EQUAL(est().reads_skipped, 1);
	CU_ASSERT_EQUAL(est().acks_owed, 1);
	CU_ASSERT_TRUE(silent(f));
	/* A doorbell without its event reads, which acknowledges 1: no ack besides. */
	fr_publish(WAKE, "2");
	reply_events(take_read("1"), 2, 2, 2);
	CU_ASSERT_EQUAL(ACKS(), 0);
	msg = answer(f, 10);
	expect_events(msg, 1, "m2", 2);
	cJSON_Delete(msg);
	/* The next wait skips its read again; the doorbell carrying 3 answers it: no read, one
	 * `ack` acknowledging 2 (the wait's own) and moving the cursor to 3 first. A late
	 * doorbell of 2 does nothing. */
	f = call("wait_for_message", "{\"chat_id\":\"" CHAT "\",\"after\":2}", 11);
	CU_ASSERT_EQUAL(ACKS(), 0);
	fr_publish(WAKE, "2");
	CU_ASSERT_EQUAL(fr_count(NULL), 0);
	fr_publish(WAKE, BELL("3"));
	CU_ASSERT_EQUAL(fr_count("read"), 0);
	c = take_ack("2", "3");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_TRUE(silent(f));
	fr_publish(WAKE, "4"); /* while the answer is on its way: the next wait's to read */
	fr_reply(c, ACKED);
	msg = answer(f, 11);
	expect_events(msg, 1, "m3", 3);
	cJSON_Delete(msg);
	CU_ASSERT_EQUAL(est().doorbell_answers, 1);
	/* 4 rang after the answer's event: the next wait reads. */
	f = call("wait_for_message", "{\"chat_id\":\"" CHAT "\",\"after\":3}", 12);
	CU_ASSERT_EQUAL(ACKS(), 0);
	reply_events(take_read("3"), 4, 4, 4);
	msg = answer(f, 12);
	expect_events(msg, 1, "m4", 4);
	cJSON_Delete(msg);
	/* A doorbell that skips a seq (6 when 5 is due) reads. */
	f = call("wait_for_message", "{\"chat_id\":\"" CHAT "\",\"after\":4}", 13);
	fr_publish(WAKE, BELL("6"));
	CU_ASSERT_EQUAL(ACKS(), 0);
	reply_events(take_read("4"), 5, 6, 6);
	msg = answer(f, 13);
	expect_events(msg, 2, "m5", 6);
	cJSON_Delete(msg);
	/* A doorbell newer than the next wait's after: it reads again. */
	fr_publish(WAKE, "7");
	f = call("wait_for_message", "{\"chat_id\":\"" CHAT "\",\"after\":6}", 14);
	c = take_read("6");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	reply_events(c, 7, 7, 7);
	msg = answer(f, 14);
	expect_events(msg, 1, "m7", 7);
	cJSON_Delete(msg);
	/* timeout_s 0 never parks: it reads, even where the subscription says nothing is new */
	f = call("wait_for_message", "{\"chat_id\":\"" CHAT "\",\"after\":7,\"timeout_s\":0}", 15);
	CU_ASSERT_EQUAL(ACKS(), 0);
	c = take_read("7");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	reply_none(c, 7);
	msg = answer(f, 15);
	expect_events(msg, 0, NULL, 7);
	cJSON_Delete(msg);
	CU_ASSERT_EQUAL(fr_count("SUBSCRIBE"), 0);
}

/* `ack` finding the chat gone makes the call read (chat_expired); a failed `ack` is a failed
 * read (the deadline answers unavailable); a doorbell's `ack` failing reads instead. */
static void test_wait_ack_gone_or_failed(void)
{
	struct fake_sink *f;
	struct fr_cmd *c;
	cJSON *msg;

	W.cfg.mailbox_events = 3; /* no ack waits: each parked call sends its own */
	up();
	f = start_wait(20, "5", 30);
	fr_publish(WAKE, BELL("6"));
	c = take_ack("", "6");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	fr_fail(c, -ECONNRESET);
	reply_events(take_read("5"), 6, 6, 6);
	msg = answer(f, 20);
	expect_events(msg, 1, "m6", 6);
	cJSON_Delete(msg);
	f = call("wait_for_message", "{\"chat_id\":\"" CHAT "\",\"after\":6,\"timeout_s\":1}", 21);
	fr_fail(take_ack("6", "6"), -ECONNRESET);
	CU_ASSERT_EQUAL(fr_count("read"), 0);
	advance(1100);
	msg = answer(f, 21);
	expect_unavailable(msg);
	cJSON_Delete(msg);
	/* the deadline while a doorbell's ack is out: the held event still answers */
	f = call("wait_for_message", "{\"chat_id\":\"" CHAT "\",\"after\":6,\"timeout_s\":1}", 23);
	ack_ok("6", "6");
	fr_publish(WAKE, BELL("7"));
	c = take_ack("", "7");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	advance(1100);
	CU_ASSERT_TRUE(silent(f));
	fr_reply(c, ACKED);
	msg = answer(f, 23);
	expect_events(msg, 1, "m7", 7);
	cJSON_Delete(msg);
	f = call("wait_for_message", "{\"chat_id\":\"" CHAT "\",\"after\":7}", 22);
	/* the placeholder the failed wait left is trusted still: doorbells never stopped */
	c = take_ack("7", "7");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	fr_reply(c, GONE);
	fr_reply(take_read("7"), "*3\r\n$3\r\nerr\r\n$12\r\nchat_expired\r\n$4\r\ngone\r\n");
	msg = answer(f, 22);
	CU_ASSERT_STRING_EQUAL(jstr(msg, "result.structuredContent.error"), "chat_expired");
	cJSON_Delete(msg);
}

/* A parked wait owes its ack only within a quarter of the mailbox bound past what the last
 * wait is known to have acknowledged (until it lands Redis counts those events against the
 * partner's sends). The answer's ack pays it; so does the deadline, fire and forget (then
 * not known: the next wait acknowledges at once). */
static void test_wait_owed_ack(void)
{
	struct fake_sink *f;
	cJSON *msg;

	W.cfg.mailbox_events = 16; /* a quarter: 4 */
	up();
	f = start_wait(40, "", 30);
	fr_publish(WAKE, "6");
	reply_events(take_read("0"), 1, 6, 6);
	cJSON_Delete(answer(f, 40));
	/* 6 past what is known acknowledged (nothing): the ack goes at once */
	f = call("wait_for_message", "{\"chat_id\":\"" CHAT "\",\"after\":6,\"timeout_s\":1}", 41);
	ack_ok("6", "6");
	CU_ASSERT_EQUAL(est().acks_owed, 0);
	advance(1100);
	msg = answer(f, 41);
	expect_events(msg, 0, NULL, 6);
	cJSON_Delete(msg);
	/* 6 known acknowledged: the next wait owes its ack, and its deadline pays it */
	f = call("wait_for_message", "{\"chat_id\":\"" CHAT "\",\"after\":6,\"timeout_s\":1}", 42);
	CU_ASSERT_EQUAL(ACKS(), 0);
	CU_ASSERT_EQUAL(est().acks_owed, 1);
	advance(1100);
	msg = answer(f, 42);
	expect_events(msg, 0, NULL, 6);
	cJSON_Delete(msg);
	ack_ok("6", "6");
	/* that ack was not waited for: the next one goes at once, then the doorbell's event */
	f = call("wait_for_message", "{\"chat_id\":\"" CHAT "\",\"after\":6}", 43);
	ack_ok("6", "6");
	fr_publish(WAKE, BELL("7"));
	ack_ok("", "7");
	msg = answer(f, 43);
	expect_events(msg, 1, "m7", 7);
	cJSON_Delete(msg);
	/* one past the 6 acknowledged: owed, and paid by the answer's ack */
	f = call("wait_for_message", "{\"chat_id\":\"" CHAT "\",\"after\":7}", 44);
	CU_ASSERT_EQUAL(ACKS(), 0);
	fr_publish(WAKE, BELL("8"));
	ack_ok("7", "8");
	msg = answer(f, 44);
	expect_events(msg, 1, "m8", 8);
	cJSON_Delete(msg);
	CU_ASSERT_EQUAL(est().acks_owed, 2);
	CU_ASSERT_EQUAL(ACKS(), 0);
}

/* Nothing comes: the deadline answers with no events. */
static void test_wait_deadline(void)
{
	struct fake_sink *f;
	cJSON *msg;

	up();
	f = start_wait(12, "4", 1);
	advance(500);
	chores();
	CU_ASSERT_TRUE(silent(f));
	advance(1001);
	chores();
	msg = answer(f, 12);
	expect_events(msg, 0, NULL, 4);
	cJSON_Delete(msg);
	CU_ASSERT_EQUAL(fr_count("read"), 0);
	CU_ASSERT_EQUAL(est().unavailable, 0);
}

/* timeout_s 0 answers after one read, events or not; a first read that fails answers
 * unavailable (nothing is known of the chat). */
static void test_wait_now(void)
{
	struct fake_sink *f;
	cJSON *msg;

	up();
	f = call("wait_for_message", "{\"chat_id\":\"" CHAT "\",\"timeout_s\":0}", 13);
	reply_none(take_read(""), 0);
	msg = answer(f, 13);
	expect_events(msg, 0, NULL, 0);
	cJSON_Delete(msg);
	CU_ASSERT_EQUAL(fr_count(NULL), 0);
	f = call("wait_for_message", "{\"chat_id\":\"" CHAT "\",\"after\":0}", 14);
	fr_fail(take_read("0"), -ETIMEDOUT);
	msg = answer(f, 14);
	expect_unavailable(msg);
	cJSON_Delete(msg);
	CU_ASSERT_EQUAL(fr_count(NULL), 0);
}

/* A waiter already listening keeps waiting through an outage; its deadline answers
 * unavailable if Redis never came back. */
static void test_wait_outage_deadline(void)
{
	struct fake_sink *f;
	cJSON *msg;

	up();
	f = start_wait(15, "0", 2);
	fr_set_state(fr_cmd_client(), REDIS_DOWN, -ECONNRESET);
	fr_publish(WAKE, "1"); /* its read is refused: still waiting */
	CU_ASSERT_TRUE(silent(f));
	advance(2001);
	msg = answer(f, 15);
	expect_unavailable(msg);
	cJSON_Delete(msg);
}

/* Redis back (the node's `connected`, once the epoch is read): every waiter reads again. */
static void test_wait_connected(void)
{
	struct fake_sink *f;
	struct fr_cmd *c;
	cJSON *msg;

	up();
	f = start_wait(16, "0", 30);
	fr_set_state(fr_cmd_client(), REDIS_DOWN, -ECONNRESET);
	fr_set_state(fr_cmd_client(), REDIS_UP, 0);
	CU_ASSERT_EQUAL(fr_count("read"), 0); /* not before the epoch is known */
	c = fr_take("GET");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_STRING_EQUAL(fr_arg(c, 1), PFX ":epoch");
	fr_reply(c, EPOCH);
	chores();
	CU_ASSERT_EQUAL(fr_count("chat_new"), 0); /* the same epoch: nothing was lost */
	c = take_read("0");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	reply_events(c, 1, 2, 2);
	msg = answer(f, 16);
	expect_events(msg, 2, "m1", 2);
	cJSON_Delete(msg);
}

/* The subscriber reconnected: the channel is subscribed again and the waiter reads again. */
static void test_wait_resubscribe(void)
{
	struct fake_sink *f;
	struct fr_cmd *c;
	cJSON *msg;

	up();
	f = start_wait(17, "0", 30);
	/* the loss rings unknown at once: a read (doorbells may be missed from now on) */
	fr_set_state(fr_sub_client(), REDIS_DOWN, -ECONNRESET);
	reply_none(take_read("0"), 0);
	CU_ASSERT_EQUAL(fr_count(NULL), 0);
	fr_set_state(fr_sub_client(), REDIS_UP, 0);
	c = fr_take("SUBSCRIBE");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_TRUE(c->sub);
	CU_ASSERT_STRING_EQUAL(fr_arg(c, 1), WAKE);
	subscribed(c);
	reply_events(take_read("0"), 1, 1, 1);
	msg = answer(f, 17);
	expect_events(msg, 1, "m1", 1);
	cJSON_Delete(msg);
	/* A lingering placeholder vouches for nothing once the subscriber went: the next wait
	 * reads (no owed ack), and the loss is told once however often the client retries. */
	fr_set_state(fr_sub_client(), REDIS_DOWN, -ECONNRESET);
	fr_set_state(fr_sub_client(), REDIS_CONNECTING, 0);
	fr_set_state(fr_sub_client(), REDIS_DOWN, -ECONNRESET);
	CU_ASSERT_EQUAL(fr_count(NULL), 0);
	f = call("wait_for_message", "{\"chat_id\":\"" CHAT "\",\"after\":1}", 19);
	CU_ASSERT_EQUAL(ACKS(), 0);
	reply_events(take_read("1"), 2, 2, 2);
	msg = answer(f, 19);
	expect_events(msg, 1, "m2", 2);
	cJSON_Delete(msg);
	CU_ASSERT_EQUAL(est().acks_owed, 0);
}

/* Redis lost its state (another epoch): the chat a call waits on is made again, its seqs
 * going on after the wait's `after`, before the waiter reads again. */
static void test_wait_epoch_change(void)
{
	struct fake_sink *f;
	struct fr_cmd *c;
	cJSON *msg;

	up();
	f = start_wait(18, "3", 30);
	fr_set_state(fr_cmd_client(), REDIS_DOWN, -ECONNRESET);
	fr_set_state(fr_cmd_client(), REDIS_UP, 0);
	c = fr_take("GET");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	fr_reply(c, EPOCH2);
	CU_ASSERT_EQUAL(est().epoch_changes, 1);
	fr_reply_all("SET", "+OK\r\n");
	fr_reply_all("SCRIPT", "+OK\r\n");
	fr_reply_all("FUNCTION", "+OK\r\n");
	/* In this order on the one connection: chat_new first, so the read finds the chat. */
	c = fr_take(NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_STRING_EQUAL(c->script ? c->script : "", "chat_new");
	CU_ASSERT_STRING_EQUAL(fr_arg(c, 0), PFX);
	CU_ASSERT_STRING_EQUAL(fr_arg(c, 1), CHAT);
	CU_ASSERT_STRING_EQUAL(fr_arg(c, 4), "modern");
	CU_ASSERT_STRING_EQUAL(fr_arg(c, 7), "3"); /* base: the client's after */
	fr_reply(c, "*2\r\n$2\r\nok\r\n$7\r\ncreated\r\n");
	c = fr_peek(NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_STRING_EQUAL(c->script ? c->script : "", "read");
	reply_none(take_read("3"), 3);
	chores();
	/* The node's `connected` came after the epoch: it may read once more (allowed, not
	 * required), then it waits again. */
	c = take_read("3");
	if (c)
		reply_none(c, 3);
	CU_ASSERT_EQUAL(fr_count(NULL), 0);
	CU_ASSERT_TRUE(silent(f));
	fr_publish(WAKE, "4");
	reply_events(take_read("3"), 4, 4, 4);
	msg = answer(f, 18);
	expect_events(msg, 1, "m4", 4);
	cJSON_Delete(msg);
}

/* The touch tick keeps the chats with waiting calls alive; one it reports gone wakes its
 * waiter, whose read answers chat_expired. The subscription left lingering goes at a later
 * tick (UNSUBSCRIBE). */
static void test_touch(void)
{
	struct fake_sink *f;
	struct fr_cmd *c;
	cJSON *msg;

	up();
	f = start_wait(27, "0", 60);
	advance(5000); /* touch every chat_idle / 3, at most 5 s */
	chores();
	c = fr_take("touch");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(c->argc, 2);
	CU_ASSERT_STRING_EQUAL(fr_arg(c, 0), PFX);
	CU_ASSERT_STRING_EQUAL(fr_arg(c, 1), CHAT);
	fr_reply(c, "*1\r\n$2\r\nok\r\n"); /* alive */
	CU_ASSERT_EQUAL(fr_count(NULL), 0);
	CU_ASSERT_TRUE(silent(f));
	advance(5000);
	chores();
	fr_reply(fr_take("touch"), "*2\r\n$2\r\nok\r\n$22\r\n" CHAT "\r\n"); /* gone */
	c = take_read("0");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	fr_reply(c, "*3\r\n$3\r\nerr\r\n$12\r\nchat_expired\r\n$8\r\nit ended\r\n");
	msg = answer(f, 27);
	CU_ASSERT_TRUE(cJSON_IsTrue(jget(msg, "result.isError")));
	CU_ASSERT_STRING_EQUAL(jstr(msg, "result.structuredContent.error"), "chat_expired");
	cJSON_Delete(msg);
	CU_ASSERT_EQUAL(fr_count("UNSUBSCRIBE"), 0);
	advance(5000);
	chores();
	c = fr_take("UNSUBSCRIBE");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_TRUE(c->sub);
	CU_ASSERT_STRING_EQUAL(fr_arg(c, 1), WAKE);
	fr_reply(c, "*3\r\n$11\r\nunsubscribe\r\n$37\r\n" WAKE "\r\n:0\r\n");
	CU_ASSERT_EQUAL(est().chats_listened, 0);
	CU_ASSERT_EQUAL(fr_count(NULL), 0);
}

/* The engine stops: every call still open is answered exactly once (a waiting one with what
 * it has, the others unavailable), a reply that comes later is dropped. */
static void test_stop(void)
{
	struct fake_sink *f[4];
	struct fr_cmd *c, *second;
	char mid[32];
	cJSON *msg;

	up();
	f[0] = send_hello(20); /* on a round trip */
	f[1] = start_wait(21, "2", 30);
	f[2] = call("get_status", "{\"chat_id\":\"" CHAT "\"}", 22);
	f[3] = send_hello(23); /* waiting to be asked again */
	c = fr_peek("send");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	snprintf(mid, sizeof(mid), "%s", fr_arg(c, 3));
	c = fr_peek("status");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_STRING_EQUAL(fr_arg(c, 1), CHAT);
	CU_ASSERT_EQUAL(c->argc, 2);
	/* f[3]'s send is the second one */
	c = fr_take("send");
	second = fr_take("send");
	CU_ASSERT_PTR_NOT_NULL_FATAL(second);
	fr_fail(second, -ECONNRESET);
	cluster_engine_stop(E);
	cluster_engine_stop(E); /* safe twice */
	CU_ASSERT_FALSE(cluster_engine_idle(E));
	/* Late: the first send's reply, then the node's HDEL lets the client stop. */
	reply_sent(c, mid);
	c = fr_take("HDEL");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_STRING_EQUAL(fr_arg(c, 1), PFX ":nodes");
	fr_reply(c, ":1\r\n");
	CU_ASSERT_EQUAL(fr_count(NULL), 0);
	CU_ASSERT_TRUE(cluster_engine_idle(E));
	for (int i = 0; i < 4; i++) {
		msg = answer(f[i], 20 + i);
		if (i == 1)
			expect_events(msg, 0, NULL, 2);
		else
			expect_unavailable(msg);
		cJSON_Delete(msg);
	}
	CU_ASSERT_EQUAL(stats().calls_waiting, 0);
	/* A call after the stop answers at once. */
	call_now_unavailable("get_status", "{\"chat_id\":\"" CHAT "\"}");
	CU_ASSERT_EQUAL(fr_count(NULL), 0);
}

/* enter_queue without chat_id: chat_new and enter_queue pipelined for a minted chat; a
 * chat_new that failed makes the call unavailable and ends the minted chat. */
static void test_enter_new_chat(void)
{
	struct fake_sink *f;
	struct fr_cmd *c, *n;
	char id[32];
	cJSON *msg;

	up();
	f = call("enter_queue", "{\"display_name\":\"Ann\",\"interests\":[\"Go\"]}", 25);
	n = fr_take(NULL);
	c = fr_take(NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(n);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_STRING_EQUAL(n->script ? n->script : "", "chat_new");
	CU_ASSERT_STRING_EQUAL(c->script ? c->script : "", "enter_queue");
	snprintf(id, sizeof(id), "%s", fr_arg(n, 1));
	CU_ASSERT_TRUE(cluster_engine_chat_id_valid(id));
	CU_ASSERT_STRING_EQUAL(fr_arg(c, 1), id);
	CU_ASSERT_STRING_EQUAL(fr_arg(c, 3), "Ann");
	fr_reply(n, "*2\r\n$2\r\nok\r\n$7\r\ncreated\r\n");
	fr_reply(c, "*3\r\n$2\r\nok\r\n$7\r\nwaiting\r\n:1\r\n");
	msg = answer(f, 25);
	CU_ASSERT_STRING_EQUAL(jstr(msg, "result.structuredContent.status"), "waiting");
	CU_ASSERT_STRING_EQUAL(jstr(msg, "result.structuredContent.chat_id"), id);
	CU_ASSERT_EQUAL(jnum(msg, "result.structuredContent.position"), 1);
	cJSON_Delete(msg);
	/* chat_new failed: unavailable, and the minted chat goes (it may exist after all). */
	f = call("enter_queue", "{}", 26);
	n = fr_take("chat_new");
	c = fr_take("enter_queue");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	snprintf(id, sizeof(id), "%s", fr_arg(n, 1));
	fr_reply(n, "-OOM command not allowed\r\n");
	fr_reply(c, "*3\r\n$2\r\nok\r\n$7\r\nwaiting\r\n:1\r\n");
	msg = answer(f, 26);
	expect_unavailable(msg);
	cJSON_Delete(msg);
	c = fr_take("end");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_STRING_EQUAL(fr_arg(c, 1), id);
	fr_reply(c, "*2\r\n$2\r\nok\r\n$5\r\nended\r\n");
	CU_ASSERT_EQUAL(fr_count(NULL), 0);
}

/* A pull of the 2025 session's chat: read ack 3 after `after`, acknowledging up to upto. */
static struct fr_cmd *take_pull(const char *chat, const char *after, const char *upto)
{
	struct fr_cmd *c = fr_take("read");

	if (!c)
		return NULL;
	CU_ASSERT_EQUAL(c->argc, 6);
	CU_ASSERT_STRING_EQUAL(fr_arg(c, 1), chat);
	CU_ASSERT_STRING_EQUAL(fr_arg(c, 2), after);
	CU_ASSERT_STRING_EQUAL(fr_arg(c, 3), "3");
	CU_ASSERT_STRING_EQUAL(fr_arg(c, 5), upto);
	return c;
}

/* A 2025 session on a cluster node: its chat (era legacy) is made and listened to when it
 * starts, a doorbell pulls the chat's events into the session's mailbox, what the session
 * delivered is acknowledged in the next pull, and its end runs `end` and UNSUBSCRIBEs. */
static void test_legacy_session(void)
{
	char sid[MCP_SESSION_ID_LEN + 1], chat[CHAT_ID_LEN + 1], wake[80];
	struct fr_cmd *n, *sub, *c;
	struct reply rp;
	cJSON *msg;
	char *text;

	up();
	init_session(sid);
	n = fr_take("chat_new");
	sub = fr_take("SUBSCRIBE");
	CU_ASSERT_PTR_NOT_NULL_FATAL(n);
	CU_ASSERT_PTR_NOT_NULL_FATAL(sub);
	snprintf(chat, sizeof(chat), "%s", fr_arg(n, 1));
	snprintf(wake, sizeof(wake), PFX ":wake:%s", chat);
	CU_ASSERT_STRING_EQUAL(fr_arg(n, 2), "15000"); /* idle: the reconnect grace */
	CU_ASSERT_STRING_EQUAL(fr_arg(n, 3), "n1");
	CU_ASSERT_STRING_EQUAL(fr_arg(n, 4), "legacy");
	CU_ASSERT_STRING_EQUAL(fr_arg(sub, 1), wake);
	CU_ASSERT_EQUAL(est().legacy_sessions, 1);
	fr_reply(n, "*2\r\n$2\r\nok\r\n$7\r\ncreated\r\n");
	fr_reply(sub, "*3\r\n$9\r\nsubscribe\r\n$1\r\nx\r\n:1\r\n");
	/* Made and listening: pulled (once, or twice: one pull in flight at a time). */
	while ((c = take_pull(chat, "0", "0")))
		reply_none(c, 0);
	fr_publish(wake, "1:1760000000000");
	c = take_pull(chat, "0", "0");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	reply_events(c, 1, 1, 1);
	CU_ASSERT_EQUAL(fr_count(NULL), 0);
	/* The session reads its mailbox as on a single node. */
	msg = call_tool(sid, "wait_for_message", "{\"timeout_s\":0}");
	text = cJSON_PrintUnformatted(msg);
	CHECKF(strstr(text, "\"text\":\"m1\""), "%s", text);
	free(text);
	cJSON_Delete(msg);
	/* Delivered: acknowledged in Redis by the next pull. */
	c = take_pull(chat, "1", "1");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	fr_reply(c, "*4\r\n$2\r\nok\r\n:1\r\n:1\r\n:0\r\n");
	/* The session ends (DELETE): its partner is told, the channel is left. */
	{
		struct http_request req = req_new(HTTP_M_DELETE, sid);

		do_req(&req, &rp);
		reply_free(&rp);
	}
	c = fr_take("end");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_STRING_EQUAL(fr_arg(c, 1), chat);
	CU_ASSERT_STRING_EQUAL(fr_arg(c, 2), "disconnected");
	fr_reply(c, "*2\r\n$2\r\nok\r\n$5\r\nended\r\n");
	c = fr_take("UNSUBSCRIBE");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_STRING_EQUAL(fr_arg(c, 1), wake);
	fr_cmd_free(c); /* fn NULL: nobody waits for the answer */
	CU_ASSERT_EQUAL(est().legacy_sessions, 0);
	CU_ASSERT_EQUAL(fr_count(NULL), 0);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "send_message runs send; the reply is the single node's result", test_send },
		{ "send refused by the script: the single node's refusal", test_send_refusal },
		{ "send: error reply, malformed reply, timeout answer unavailable", test_send_failures },
		{ "send refused at once (-ENOTCONN, -ENOBUFS): unavailable", test_send_refused },
		{ "send lost with the connection: asked again, same message_id", test_send_reset_resent },
		{ "send lost every time: unavailable after 4 more tries", test_send_reset_gives_up },
		{ "enter_queue for a new chat: chat_new pipelined", test_enter_new_chat },
		{ "wait: subscribe, doorbell, read, events", test_wait_doorbell },
		{ "wait: no read where the node knows (ack; the doorbell's event)", test_wait_seen_doorbell },
		{ "wait: ack gone or failed", test_wait_ack_gone_or_failed },
		{ "wait: an ack owed, paid by the answer or the deadline", test_wait_owed_ack },
		{ "wait: the deadline answers with nothing", test_wait_deadline },
		{ "wait: timeout 0, and a first read failing", test_wait_now },
		{ "wait: an outage until the deadline answers unavailable", test_wait_outage_deadline },
		{ "wait: Redis back, waiters read again", test_wait_connected },
		{ "wait: subscriber back, subscribed and read again", test_wait_resubscribe },
		{ "wait: epoch change re-asserts the chat, then reads", test_wait_epoch_change },
		{ "touch keeps waited-on chats alive; a gone one answers chat_expired", test_touch },
		{ "stop answers every open call once", test_stop },
		{ "a 2025 session's chat: made, pulled, acknowledged, ended", test_legacy_session },
		{ NULL, NULL },
	};
	static const struct unit_suite suites[] = {
		{ "cluster_engine_io", tests, NULL, NULL, setup_engine, teardown_engine },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};

	return unit_main(suites);
}
