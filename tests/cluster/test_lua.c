/* The cluster's Lua scripts against a real redis-server: the random queue (this file) and
 * rooms, messages and mailboxes (test_lua_chat.c), expiry, idempotence and keys
 * (test_lua_life.c). The expectations
 * are those of tests/unit/test_chat*.c for the single-node chat, on Redis time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua_world.h"
#include "unit.h"

extern const struct unit_test lua_chat_tests[];
extern const struct unit_test lua_life_tests[];
extern const struct unit_test lua_call_tests[];
extern const struct unit_test lua_admin_tests[];
void lua_call_setup(void);
void lua_call_teardown(void);

static void test_setup(void)
{
	lh_cmd("FLUSHALL");
	lw_fallback_ms = "10000";
	lw_cap = "256";
}

static void test_teardown(void)
{
	lh_free_replies();
}

static struct lh_server server;

/* r holds the string s at any depth (a FUNCTION LIST reply). */
static bool has_string(const redisReply *r, const char *s)
{
	if (!r)
		return false;
	if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS)
		return strcmp(r->str, s) == 0;
	for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++)
		if (has_string(r->element[i], s))
			return true;
	return false;
}

/* The generated library: named by its hash, every script a function of it, named. */
static void test_table(void)
{
	const char *lib = cluster_scripts_library_name();
	char head[64];

	CU_ASSERT_EQUAL(strncmp(lib, "mcpchat_", 8), 0);
	CU_ASSERT_EQUAL(strlen(lib), 8 + 16);
	snprintf(head, sizeof(head), "#!lua name=%s\n", lib);
	CU_ASSERT_EQUAL(strncmp(cluster_scripts_library(), head, strlen(head)), 0);
	CU_ASSERT_EQUAL(strlen(cluster_scripts_library()), cluster_scripts_library_len());
	for (int i = 0; i < CLUSTER_SCRIPT_COUNT; i++) {
		char fn[96];

		CU_ASSERT_PTR_NOT_NULL_FATAL(cluster_script_name(i));
		snprintf(fn, sizeof(fn), "%s_%s", lib, cluster_script_name(i));
		CU_ASSERT_STRING_EQUAL(cluster_script_function(i), fn);
		CHECKF(has_string(lh_cmd("FUNCTION LIST LIBRARYNAME %s", lib), fn),
		       "%s is not in the library Redis loaded", fn);
	}
	CU_ASSERT_STRING_EQUAL(cluster_script_name(CLUSTER_SCRIPT_SEND), "send");
	CU_ASSERT_PTR_NULL(cluster_script_function(CLUSTER_SCRIPT_COUNT));
	CU_ASSERT_PTR_NULL(cluster_script_name(CLUSTER_SCRIPT_COUNT));
}

/* A Redis that lost the library (FUNCTION FLUSH: a restart without persistence) answers
 * "Function not found" until it is loaded again; the call then runs as before. */
static void test_library_lost(void)
{
	redisReply *r;

	lh_cmd("FUNCTION FLUSH");
	r = lw_new(1);
	CU_ASSERT_EQUAL(r->type, REDIS_REPLY_ERROR);
	CU_ASSERT_PTR_NOT_NULL(r->str && strstr(r->str, "Function not found"));
	lh_disconnect();
	CU_ASSERT_EQUAL_FATAL(lh_connect(&server), 0);
	CU_ASSERT_STRING_EQUAL(lh_str(lw_new(1), 1), "created");
}

static void test_fifo_matching(void)
{
	redisReply *r;

	for (int i = 1; i <= 4; i++)
		lw_new(i);
	r = lw_enter(1, "Ann", NULL);
	CU_ASSERT_STRING_EQUAL(lh_str(r, 1), "waiting");
	CU_ASSERT_EQUAL(lh_int(r, 2), 1);
	CU_ASSERT_EQUAL(lw_count(1), 0);
	r = lw_enter(2, "Bob", NULL);
	CU_ASSERT_STRING_EQUAL(lh_str(r, 1), "matched");
	CU_ASSERT_STRING_EQUAL(lh_str(r, 3), "Ann");
	CU_ASSERT_EQUAL(strlen(lh_str(r, 2)), 16);
	CU_ASSERT_NOT_EQUAL(lh_str(r, 2)[0], '-');
	CU_ASSERT_TRUE(lw_together(1, 2));
	CU_ASSERT_STRING_EQUAL(lw_last_method(1), "chatroom.found");
	CU_ASSERT_TRUE(lw_has(lw_last_params(1), "display_name", "Bob"));
	CU_ASSERT_TRUE(lw_has(lw_last_params(2), "display_name", "Ann"));
	CU_ASSERT_PTR_NOT_NULL(strstr(lw_last_params(2), ",\"seq\":1}"));
	r = lw_enter(3, NULL, NULL);
	CU_ASSERT_EQUAL(lh_int(r, 2), 1);
	r = lw_enter(4, NULL, NULL);
	CU_ASSERT_STRING_EQUAL(lh_str(r, 3), "Stranger");
	CU_ASSERT_TRUE(lw_together(3, 4));
	CU_ASSERT_FALSE(lw_together(1, 3));
	r = lh_cmd("HGET " LH_PREFIX ":stats matches");
	CU_ASSERT_STRING_EQUAL(r->str, "2");
}

static void test_interests_preferred(void)
{
	enum { OPEN = 1, CAT, DOG, C2, O2 };
	redisReply *r;

	for (int i = OPEN; i <= O2; i++)
		lw_new(i);
	lw_enter(OPEN, NULL, NULL);
	r = lw_enter(CAT, "Cat", "cats", NULL);
	CU_ASSERT_STRING_EQUAL(lh_str(r, 1), "waiting"); /* holds out although OPEN takes anyone */
	CU_ASSERT_EQUAL(lh_int(r, 2), 2);
	r = lw_enter(DOG, NULL, "dogs", NULL);
	CU_ASSERT_STRING_EQUAL(lh_str(r, 1), "waiting");
	/* Shares "cats" (case-insensitively) with CAT, who is not the oldest waiter. */
	r = lw_enter(C2, NULL, "Birds", "CATS", "birds", NULL);
	CU_ASSERT_STRING_EQUAL(lh_str(r, 1), "matched");
	CU_ASSERT_STRING_EQUAL(lh_str(r, 3), "Cat");
	CU_ASSERT_TRUE(lw_together(C2, CAT));
	r = lw_enter(O2, NULL, NULL);
	CU_ASSERT_STRING_EQUAL(lh_str(r, 1), "matched");
	CU_ASSERT_TRUE(lw_together(O2, OPEN));
	CU_ASSERT_EQUAL(lw_position(DOG), 1);
}

static void test_interest_earliest_sharing(void)
{
	redisReply *r;

	for (int i = 1; i <= 4; i++)
		lw_new(i);
	lw_enter(1, NULL, "x", NULL);
	lw_enter(2, NULL, "y", NULL);
	lw_enter(3, NULL, "x", "y", NULL);
	CU_ASSERT_TRUE(lw_together(3, 1)); /* 1 is older than 2 */
	r = lw_enter(2, NULL, NULL);       /* idempotent: 2 still waits */
	CU_ASSERT_STRING_EQUAL(lh_str(r, 1), "waiting");
	CU_ASSERT_EQUAL(lh_int(r, 2), 1);
	lw_enter(4, NULL, "z", "y", NULL);
	CU_ASSERT_TRUE(lw_together(4, 2));
}

/* With a 600 ms fallback: 1 (chess) holds out; 2 (anyone) waits behind; once 1's fallback
 * passes, the timer pairs them without any call for them (sweep), 2 hearing first. */
static void test_interest_fallback(void)
{
	redisReply *r;

	lw_fallback_ms = "600";
	lw_new(1);
	lw_new(2);
	lw_enter(1, "A", "chess", NULL);
	r = lw_enter(2, "B", NULL);
	CU_ASSERT_STRING_EQUAL(lh_str(r, 1), "waiting");
	CU_ASSERT_EQUAL(lh_int(r, 2), 2);
	r = lw_sweep("10");
	CU_ASSERT_EQUAL(lh_int(r, 1), 0);
	lh_sleep_ms(700);
	r = lh_eval(NULL, CLUSTER_SCRIPT_FALLBACK, 1, (const char *[]){ "10" });
	CU_ASSERT_TRUE(lh_ok(r));
	CU_ASSERT_EQUAL(lh_int(r, 1), 1);
	CU_ASSERT_TRUE(lw_together(1, 2));
	CU_ASSERT_TRUE(lw_has(lw_last_params(2), "display_name", "A"));
	r = lh_cmd("ZCARD " LH_PREFIX ":q:due");
	CU_ASSERT_EQUAL(r->integer, 0);
}

/* A due fallback also fires lazily, first thing in any script: here in 2's status. */
static void test_fallback_fires_lazily(void)
{
	lw_fallback_ms = "300";
	lw_new(1);
	lw_new(2);
	lw_enter(1, NULL, "chess", NULL);
	lw_enter(2, NULL, NULL);
	lh_sleep_ms(400);
	CU_ASSERT_STRING_EQUAL(lw_state(2), "in_room");
	CU_ASSERT_TRUE(lw_together(1, 2));
}

/* 1 (a) at 0 and 2 (b) at 500 with a 1000 ms fallback: at 1100 1 takes anyone but 2 still
 * holds out, and an arrival with interests holds out too; at 1600 2 falls back and takes
 * 1, the oldest who takes anyone. */
static void test_fallback_both_with_interests(void)
{
	redisReply *r;

	lw_fallback_ms = "1000";
	for (int i = 1; i <= 3; i++)
		lw_new(i);
	lw_enter(1, NULL, "a", NULL);
	lh_sleep_ms(500);
	lw_enter(2, NULL, "b", NULL);
	lh_sleep_ms(600);
	r = lw_sweep("10");
	CU_ASSERT_EQUAL(lh_int(r, 1), 1); /* 1's fallback fired: nobody for it */
	CU_ASSERT_STRING_EQUAL(lw_state(1), "waiting");
	r = lw_enter(3, NULL, "c", NULL);
	CU_ASSERT_STRING_EQUAL(lh_str(r, 1), "waiting");
	lh_sleep_ms(500);
	lw_sweep("10");
	CU_ASSERT_TRUE(lw_together(1, 2));
	CU_ASSERT_EQUAL(lw_position(3), 1);
}

static void test_expired_waiter_takes_arrival(void)
{
	redisReply *r;

	lw_fallback_ms = "200";
	lw_new(1);
	lw_new(2);
	lw_enter(1, NULL, "a", NULL);
	lh_sleep_ms(300);
	lw_sweep("10"); /* its fallback fired with nobody there */
	r = lw_enter(2, NULL, NULL);
	CU_ASSERT_STRING_EQUAL(lh_str(r, 1), "matched");
	CU_ASSERT_TRUE(lw_together(1, 2));
}

static void test_no_self_match(void)
{
	redisReply *r;

	lw_fallback_ms = "200";
	lw_new(1);
	lw_enter(1, "A", "solo", NULL);
	r = lw_enter(1, "A2", "solo", NULL);
	CU_ASSERT_TRUE(lh_ok(r));
	CU_ASSERT_EQUAL(lh_int(r, 2), 1);
	lh_sleep_ms(300);
	lw_sweep("10");
	CU_ASSERT_STRING_EQUAL(lw_state(1), "waiting");
	CU_ASSERT_EQUAL(lw_count(1), 0);
	r = lh_cmd("HGET " LH_PREFIX ":chat:%s name", lw_id(1));
	CU_ASSERT_STRING_EQUAL(r->str, "A2");
}

/* a and b meet and part; both idle after. */
static void meet_and_part(int a, int b)
{
	lw_enter(a, NULL, NULL);
	lw_enter(b, NULL, NULL);
	CU_ASSERT_TRUE_FATAL(lw_together(a, b));
	CU_ASSERT_TRUE(lh_ok(lw_leave(a, lw_room(a))));
}

static void test_last_partner_only_one(void)
{
	redisReply *r;

	lw_new(1);
	lw_new(2);
	meet_and_part(1, 2);
	lw_enter(1, NULL, NULL);
	r = lw_enter(2, NULL, NULL);
	CU_ASSERT_STRING_EQUAL(lh_str(r, 1), "matched"); /* nobody else waits */
	CU_ASSERT_TRUE(lw_together(1, 2));
}

static void test_last_partner_avoided(void)
{
	enum { A = 1, B, C, X, Y };

	for (int i = A; i <= Y; i++)
		lw_new(i);
	meet_and_part(A, B);
	lw_enter(B, NULL, NULL);
	lw_enter(C, NULL, NULL);
	CU_ASSERT_TRUE(lw_together(B, C));
	lw_end(C, "disconnected");
	/* B last met C, but A last met B: A waiting must not get B while X waits. */
	lw_enter(A, NULL, "t1", NULL);
	lw_enter(X, NULL, "t2", NULL);
	lw_enter(B, NULL, "t1", "t2", NULL);
	CU_ASSERT_TRUE(lw_together(B, X));
	lw_enter(Y, NULL, "t1", NULL);
	CU_ASSERT_TRUE(lw_together(Y, A));
}

static void test_last_partner_other_direction(void)
{
	enum { A = 1, B, D, X };

	for (int i = A; i <= X; i++)
		lw_new(i);
	meet_and_part(A, B); /* A.last = B */
	lw_enter(B, NULL, NULL);
	lw_enter(D, NULL, NULL);
	CU_ASSERT_TRUE(lw_together(B, D)); /* B.last = D, but A.last is still B */
	lw_leave(B, lw_room(B));
	lw_enter(B, NULL, "q", NULL);
	lw_enter(X, NULL, "p", NULL);
	lw_enter(A, NULL, "q", "p", NULL);
	CU_ASSERT_TRUE(lw_together(A, X));
	CU_ASSERT_EQUAL(lw_position(B), 1);
}

static void test_positions(void)
{
	static const char *const tags[] = { "t1", "t2", "t3", "t4", "t5" };
	redisReply *r;

	for (int i = 1; i <= 5; i++) {
		lw_new(i);
		r = lw_enter(i, NULL, tags[i - 1], NULL); /* nobody shares: all wait */
		CU_ASSERT_EQUAL(lh_int(r, 2), i);
	}
	lw_leave(2, "anything"); /* any room id leaves the random queue */
	CU_ASSERT_STRING_EQUAL(lw_state(2), "idle");
	CU_ASSERT_EQUAL(lw_position(1), 1);
	CU_ASSERT_EQUAL(lw_position(3), 2);
	CU_ASSERT_EQUAL(lw_position(5), 4);
	r = lw_enter(5, NULL, NULL); /* idempotent while waiting: tags stay */
	CU_ASSERT_EQUAL(lh_int(r, 2), 4);
	r = lw_enter(2, NULL, NULL); /* back at the end, and takes anyone, but nobody does */
	CU_ASSERT_STRING_EQUAL(lh_str(r, 1), "waiting");
	CU_ASSERT_EQUAL(lh_int(r, 2), 5);
}

const struct unit_test lua_queue_tests[] = {
	{ "generated function library", test_table },
	{ "library lost, loaded again", test_library_lost },
	{ "fifo matching", test_fifo_matching },
	{ "interests preferred", test_interests_preferred },
	{ "earliest sharing waiter", test_interest_earliest_sharing },
	{ "interest fallback by the timer", test_interest_fallback },
	{ "a due fallback fires in any script", test_fallback_fires_lazily },
	{ "fallback with interests on both sides", test_fallback_both_with_interests },
	{ "expired waiter takes an arrival", test_expired_waiter_takes_arrival },
	{ "no self match", test_no_self_match },
	{ "last partner when alone", test_last_partner_only_one },
	{ "last partner avoided", test_last_partner_avoided },
	{ "last partner, other direction", test_last_partner_other_direction },
	{ "positions", test_positions },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	const struct unit_suite suites[] = {
		{ "lua queue", lua_queue_tests, NULL, NULL, test_setup, test_teardown },
		{ "lua chat", lua_chat_tests, NULL, NULL, test_setup, test_teardown },
		{ "lua life", lua_life_tests, NULL, NULL, test_setup, test_teardown },
		{ "lua call", lua_call_tests, NULL, NULL, lua_call_setup, lua_call_teardown },
		{ "lua admin", lua_admin_tests, NULL, NULL, test_setup, test_teardown },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};
	int rc = 1;

	if (lh_server_start(&server) == 0 && lh_connect(&server) == 0)
		rc = unit_main_only(suites, argc > 1 ? argv[1] : NULL);
	lh_disconnect();
	lh_server_stop(&server);
	return rc;
}
