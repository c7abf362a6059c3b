/* The events a lingering subscription keeps from doorbells (cluster/engine_linger.c,
 * engine_wait.c), on the scripted fake Redis as in test_cluster_engine_io.c: a next wait
 * whose `after` they all follow is answered from them with an `ack` (upto = after, cursor =
 * the last one), never a read; what rings while an answer's ack is out goes to the linger
 * left behind; a wait whose `after` the kept run does not cover (a doorbell without its
 * event, one missed, past the bound, a retried older `after`, an unknown wake-up) reads. */
#include "engine_harness.h"

#include "cluster/kept.h"

/* A wait answered by a read of event 1 (the linger's base 1). */
static void first_answer(int id)
{
	struct fake_sink *f = start_wait(id, "", 30);

	fr_publish(WAKE, "1");
	reply_events(take_read("0"), 1, 1, 1);
	cJSON_Delete(answer(f, id));
}

/* The wait after `after`, answered from kept events up to `last` after its ack; `bell`
 * rings while that ack is out ("" none). */
static void kept_answer(int id, const char *after, const char *last, const char *first_text,
			int n, const char *bell)
{
	char args[128];
	struct fake_sink *f;
	struct fr_cmd *c;
	cJSON *msg;

	snprintf(args, sizeof(args), "{\"chat_id\":\"" CHAT "\",\"after\":%s}", after);
	f = call("wait_for_message", args, id);
	CU_ASSERT_EQUAL(fr_count("read"), 0);
	c = take_ack(after, last);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_TRUE(silent(f)); /* the cursor moves first */
	if (*bell)
		fr_publish(WAKE, bell);
	fr_reply(c, ACKED);
	msg = answer(f, id);
	expect_events(msg, n, first_text, strtod(last, NULL));
	cJSON_Delete(msg);
}

/* A wait after `after` that reads events from .. to (none acknowledged without it). */
static void expect_read(int id, const char *after, uint64_t from, uint64_t to)
{
	char args[128];
	struct fake_sink *f;
	cJSON *msg;

	snprintf(args, sizeof(args), "{\"chat_id\":\"" CHAT "\",\"after\":%s}", after);
	f = call("wait_for_message", args, id);
	CU_ASSERT_EQUAL(ACKS(), 0);
	reply_events(take_read(after), from, to, to);
	msg = answer(f, id);
	expect_events(msg, (int)(to - from + 1), NULL, (double)to);
	cJSON_Delete(msg);
}

static void test_kept_answers(void)
{
	struct fake_sink *f;
	struct fr_cmd *c;
	cJSON *msg;

	up();
	first_answer(20);
	/* Between the waits two doorbells ring with their events: the next wait has them. */
	fr_publish(WAKE, BELL("2"));
	fr_publish(WAKE, BELL("3"));
	CU_ASSERT_EQUAL(fr_count(NULL), 0);
	kept_answer(21, "1", "3", "m2", 2, BELL("4")); /* 4 rings while the ack is out */
	CU_ASSERT_EQUAL(est().kept_answers, 1);
	CU_ASSERT_EQUAL(est().chats_lingering, 1);
	/* 4 rang on the answering call: its linger kept it */
	kept_answer(22, "3", "4", "m4", 1, "");
	CU_ASSERT_EQUAL(est().kept_answers, 2);
	/* Nothing new: the wait parks, its ack owed; the doorbell's event answers it after one
	 * ack (4 acknowledged, the cursor at 5), and 6, ringing while that ack is out, is the
	 * next wait's. */
	f = call("wait_for_message", "{\"chat_id\":\"" CHAT "\",\"after\":4}", 23);
	CU_ASSERT_EQUAL(ACKS(), 0);
	fr_publish(WAKE, BELL("5"));
	c = take_ack("4", "5");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	fr_publish(WAKE, BELL("6"));
	fr_reply(c, ACKED);
	msg = answer(f, 23);
	expect_events(msg, 1, "m5", 5);
	cJSON_Delete(msg);
	kept_answer(24, "5", "6", "m6", 1, "");
	/* A retry of an older `after` (its answer lost): the kept ones start later; it reads. */
	expect_read(25, "5", 6, 6);
	CU_ASSERT_EQUAL(est().kept_answers, 3);
	CU_ASSERT_EQUAL(fr_count("SUBSCRIBE") + fr_count("UNSUBSCRIBE"), 0);
}

/* What the kept run lacks reads: after a doorbell without its event, one out of line, an
 * unknown wake-up (a reconnect), more than CLUSTER_KEPT_EVENTS (the newest are kept). */
static void test_kept_gaps(void)
{
	char bell[128];

	up();
	first_answer(30);
	fr_publish(WAKE, BELL("2"));
	fr_publish(WAKE, "3"); /* without its event */
	expect_read(31, "1", 2, 3);
	fr_publish(WAKE, BELL("5")); /* 4 missed */
	expect_read(32, "3", 4, 5);
	fr_publish(WAKE, BELL("6"));
	/* the subscriber reconnects: something may have rung meanwhile */
	fr_set_state(fr_sub_client(), REDIS_DOWN, -ECONNRESET);
	fr_set_state(fr_sub_client(), REDIS_UP, 0);
	subscribed(fr_take("SUBSCRIBE"));
	expect_read(33, "5", 6, 6);
	for (int s = 7; s <= 7 + CLUSTER_KEPT_EVENTS; s++) {
		snprintf(bell, sizeof(bell), "%d:1760000000000:chatroom.message\n{\"seq\":%d}", s,
			 s);
		fr_publish(WAKE, bell);
	}
	expect_read(34, "6", 7, 7 + CLUSTER_KEPT_EVENTS);
	/* and the line starts again after a read: kept once more */
	fr_publish(WAKE, BELL("40"));
	kept_answer(35, "39", "40", "m40", 1, "");
	/* The newest run is kept: 41 never rang here (its client read it on another node), 42
	 * starts a run that answers a wait after 41. */
	fr_publish(WAKE, BELL("42"));
	kept_answer(36, "41", "42", "m42", 1, "");
	CU_ASSERT_EQUAL(est().kept_answers, 2);
}

/* A read that saw further than the run (its doorbells not here yet) leaves the run short of
 * the newest: a wait reads until they come, then the run answers it. */
static void test_kept_short_of_read(void)
{
	up();
	first_answer(40);
	fr_publish(WAKE, BELL("2"));
	expect_read(41, "0", 1, 3); /* a retried older after: 1 is not kept; the read sees 3 */
	expect_read(42, "1", 2, 3); /* 2 is kept, 3 not yet: not the newest */
	fr_publish(WAKE, BELL("3"));
	kept_answer(43, "1", "3", "m2", 2, "");
	CU_ASSERT_EQUAL(est().kept_answers, 1);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "next waits answered from kept events: ack, no read", test_kept_answers },
		{ "a doorbell without its event, out of line, unknown, past the bound: read",
		  test_kept_gaps },
		{ "a read that saw further: read until the run catches up", test_kept_short_of_read },
		{ NULL, NULL },
	};
	static const struct unit_suite suites[] = {
		{ "cluster_engine_kept", tests, NULL, NULL, setup_engine, teardown_engine },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};

	return unit_main(suites);
}
