/* The admin scripts against a real redis-server (issue 15): the handle index chat_new and
 * end keep (P:handles), kick by handle and by room id, admin_list's listings (read-only,
 * capped, never a chat id), and the wake-up payload "seq:ms". */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cluster/admin.h"
#include "cluster/node.h"
#include "lua_world.h"
#include "unit.h"

static char handles[8][16];

/* Chat n with handle "hN" on node nodeN (nodes 1 and 2 alternate). */
static void new_chat(int n, const char *node)
{
	const char *a[] = { lw_id(n), "60000", node, "modern", handles[n % 8], "nonce" };

	snprintf(handles[n % 8], sizeof(handles[0]), "h%d", n);
	CU_ASSERT_STRING_EQUAL(lh_str(lh_eval(NULL, CLUSTER_SCRIPT_CHAT_NEW, 6, a), 1), "created");
}

static redisReply *kick(const char *target)
{
	const char *a[] = { target };

	return lh_eval(NULL, CLUSTER_SCRIPT_KICK, 1, a);
}

/* admin_list's JSON, parsed; the caller deletes it. No chat id anywhere in it. */
static cJSON *list(const char *what, const char *max, const char *scan)
{
	const char *a[] = { what, max, scan };
	redisReply *r = lh_eval(NULL, CLUSTER_SCRIPT_ADMIN_LIST, 3, a);

	CU_ASSERT_TRUE_FATAL(lh_ok(r));
	for (int i = 1; i <= 7; i++)
		CHECKF(!strstr(lh_str(r, 1), lw_id(i)), "chat id %d in %s", i, lh_str(r, 1));
	return cJSON_Parse(lh_str(r, 1));
}

static const cJSON *rows(const cJSON *j)
{
	return cJSON_GetObjectItemCaseSensitive(j, "rows");
}

static const char *field(const cJSON *row, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(row, k);

	return cJSON_IsString(v) ? v->valuestring : "";
}

static void test_handle_index(void)
{
	new_chat(1, "node1");
	new_chat(2, "node2");
	CU_ASSERT_STRING_EQUAL(lh_cmd("HGET " LH_PREFIX ":handles h1")->str, lw_id(1));
	lw_end(1, "left");
	CU_ASSERT_EQUAL(lh_cmd("HEXISTS " LH_PREFIX ":handles h1")->integer, 0);
	CU_ASSERT_EQUAL(lh_cmd("HEXISTS " LH_PREFIX ":handles h2")->integer, 1);
	/* An entry whose chat vanished (keys expired before a sweep): kick prunes it. */
	lh_cmd("HSET " LH_PREFIX ":handles ghost %s", lw_id(5));
	CU_ASSERT_EQUAL(kick("ghost")->elements, 1);
	CU_ASSERT_EQUAL(lh_cmd("HEXISTS " LH_PREFIX ":handles ghost")->integer, 0);
}

/* A chat whose keys' TTL ran out before any timer ended it never reaches end_chat: the sweep
 * prunes its handle (a slice of the index per run, from a cursor kept in Redis), and leaves
 * the live chats' alone, a clash's newer chat included. */
static void test_handle_pruned_by_sweep(void)
{
	redisReply *r;

	for (int i = 1; i <= 4; i++)
		new_chat(i, "node1");
	/* What the TTL leaves behind: the chat's keys gone, its expiry entry and handle not
	 * (the expiry entry is not due yet: only the index can drop the handle). */
	lh_cmd("DEL " LH_PREFIX ":chat:%s " LH_PREFIX ":mb:%s " LH_PREFIX ":sent:%s", lw_id(2),
	       lw_id(2), lw_id(2));
	lh_cmd("HSET " LH_PREFIX ":handles ghost %s", lw_id(6)); /* never had keys here */
	lh_cmd("HSET " LH_PREFIX ":handles h4 %s", lw_id(4));   /* still its own */
	r = lw_sweep("64");
	CU_ASSERT_TRUE(lh_ok(r));
	CU_ASSERT_EQUAL(r->elements, 3); /* nothing ended: the sweep's reply is as before */
	CU_ASSERT_EQUAL(lh_cmd("HEXISTS " LH_PREFIX ":handles h2")->integer, 0);
	CU_ASSERT_EQUAL(lh_cmd("HEXISTS " LH_PREFIX ":handles ghost")->integer, 0);
	for (int i = 1; i <= 4; i++)
		CHECKF(lh_cmd("HEXISTS " LH_PREFIX ":handles h%d", i)->integer == (i != 2), "h%d", i);
	/* A pass over the whole (small) index ends at once: no cursor is left behind. */
	CU_ASSERT_EQUAL(lh_cmd("EXISTS " LH_PREFIX ":handles:cursor")->integer, 0);
}

/* A big index is walked a slice per sweep: the cursor persists between runs, and the stale
 * entries are all gone after enough runs, the live one kept. */
static void test_handle_prune_bounded(void)
{
	long long left = -1;
	int runs = 0;

	new_chat(1, "node1");
	/* Past hash-max-listpack-entries (128): a real hash table, which HSCAN walks in slices. */
	for (int i = 0; i < 600; i++)
		lh_cmd("HSET " LH_PREFIX ":handles stale%d %s", i, lw_id(7));
	lw_sweep("16");
	CU_ASSERT_TRUE(lh_cmd("HLEN " LH_PREFIX ":handles")->integer > 1); /* not all in one run */
	CU_ASSERT_EQUAL(lh_cmd("EXISTS " LH_PREFIX ":handles:cursor")->integer, 1);
	while (runs++ < 200 && (left = lh_cmd("HLEN " LH_PREFIX ":handles")->integer) > 1)
		lw_sweep("16");
	CU_ASSERT_EQUAL(left, 1);
	CU_ASSERT_EQUAL(lh_cmd("HEXISTS " LH_PREFIX ":handles h1")->integer, 1);
}

static void test_kick_handle(void)
{
	redisReply *r;

	new_chat(1, "node1");
	new_chat(2, "node2");
	lw_enter(1, "Ann", NULL);
	lw_enter(2, "Bob", NULL);
	CU_ASSERT_TRUE(lw_together(1, 2));
	r = kick("h2");
	CU_ASSERT_EQUAL(r->elements, 2);
	CU_ASSERT_STRING_EQUAL(lh_str(r, 1), "h2");
	CU_ASSERT_STRING_EQUAL(lw_last_method(1), "partner.disconnected");
	CU_ASSERT_TRUE(lw_has(lw_last_params(1), "reason", "kicked"));
	CU_ASSERT_STRING_EQUAL(lh_err(lw_status(2)), "chat_expired");
	CU_ASSERT_STRING_EQUAL(lw_state(1), "idle");
	CU_ASSERT_EQUAL(kick("h2")->elements, 1); /* gone: nobody */
	CU_ASSERT_EQUAL(kick("nobody")->elements, 1);
	CU_ASSERT_EQUAL(lh_cmd("HGET " LH_PREFIX ":stats rooms")->str[0], '0');
}

static void test_kick_room(void)
{
	redisReply *r;

	new_chat(1, "node1");
	new_chat(2, "node2");
	new_chat(3, "node1");
	lw_join(1, "pair", "Ann");
	lw_join(2, "pair", "Bob");
	lw_join(3, "alone", "Cy");
	r = kick("pair");
	CU_ASSERT_EQUAL(r->elements, 3);
	CU_ASSERT_STRING_EQUAL(lh_str(r, 1), "h1");
	CU_ASSERT_STRING_EQUAL(lh_str(r, 2), "h2");
	CU_ASSERT_STRING_EQUAL(lh_err(lw_status(1)), "chat_expired");
	CU_ASSERT_STRING_EQUAL(lh_err(lw_status(2)), "chat_expired");
	CU_ASSERT_EQUAL(lh_cmd("EXISTS " LH_PREFIX ":room:pair")->integer, 0);
	/* A named room's lone waiter. */
	r = kick("alone");
	CU_ASSERT_EQUAL(r->elements, 2);
	CU_ASSERT_STRING_EQUAL(lh_cmd("HGET " LH_PREFIX ":stats named_waiting")->str, "0");
	CU_ASSERT_STRING_EQUAL(lh_cmd("HGET " LH_PREFIX ":stats chats")->str, "0");
}

static void test_list_sessions_rooms(void)
{
	cJSON *j;
	const cJSON *row;

	for (int i = 1; i <= 4; i++)
		new_chat(i, i % 2 ? "node1" : "node2");
	lw_join(1, "pair", "Ann");
	lw_join(2, "pair", "Bob");
	lw_send(1, "pair", "hi");
	lw_join(3, "alone", "Cy");
	j = list("sessions", "1000", "10000");
	CU_ASSERT_EQUAL(cJSON_GetArraySize(rows(j)), 4);
	CU_ASSERT_TRUE(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(j, "truncated")));
	cJSON_ArrayForEach(row, rows(j)) {
		if (strcmp(field(row, "handle"), "h1") == 0) {
			CU_ASSERT_STRING_EQUAL(field(row, "display_name"), "Ann");
			CU_ASSERT_STRING_EQUAL(field(row, "node"), "node1");
			CU_ASSERT_STRING_EQUAL(field(row, "state"), "in_room");
			CU_ASSERT_STRING_EQUAL(field(row, "room_id"), "pair");
			CU_ASSERT_STRING_EQUAL(field(row, "era"), "modern");
		}
		if (strcmp(field(row, "handle"), "h3") == 0) {
			CU_ASSERT_STRING_EQUAL(field(row, "state"), "waiting");
			CU_ASSERT_STRING_EQUAL(field(row, "room_id"), "alone");
		}
		if (strcmp(field(row, "handle"), "h4") == 0)
			CU_ASSERT_PTR_NULL(cJSON_GetObjectItemCaseSensitive(row, "room_id"));
	}
	cJSON_Delete(j);
	j = list("rooms", "1000", "10000");
	CU_ASSERT_EQUAL_FATAL(cJSON_GetArraySize(rows(j)), 2);
	row = cJSON_GetArrayItem(rows(j), 0);
	CU_ASSERT_STRING_EQUAL(field(row, "room_id"), "pair");
	CU_ASSERT_EQUAL(cJSON_GetObjectItemCaseSensitive(row, "messages")->valueint, 1);
	CU_ASSERT_STRING_EQUAL(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(row, "handles"), 1)->valuestring, "h2");
	CU_ASSERT_STRING_EQUAL(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(row, "members"), 0)->valuestring, "Ann");
	CU_ASSERT_STRING_EQUAL(field(cJSON_GetArrayItem(rows(j), 1), "kind"), "named");
	cJSON_Delete(j);
	/* The caps: 2 rows of 4, 3 chats of 4 looked at. */
	j = list("sessions", "2", "10000");
	CU_ASSERT_EQUAL(cJSON_GetArraySize(rows(j)), 2);
	CU_ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "truncated")));
	cJSON_Delete(j);
	j = list("sessions", "1000", "3");
	CU_ASSERT_EQUAL(cJSON_GetArraySize(rows(j)), 3);
	CU_ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "truncated")));
	cJSON_Delete(j);
}

static void test_list_queues_nodes(void)
{
	cJSON *j;
	const cJSON *row, *it;
	int n = 0;

	for (int i = 1; i <= 4; i++)
		new_chat(i, i % 2 ? "node1" : "node2");
	lw_enter(1, "Ann", "Chess", "go", NULL);
	lw_enter(2, "Bob", "rare", NULL);
	lw_join(3, "named", "Cy");
	j = list("queues", "1000", "10000");
	CU_ASSERT_EQUAL_FATAL(cJSON_GetArraySize(rows(j)), 3);
	row = cJSON_GetArrayItem(rows(j), 0);
	CU_ASSERT_STRING_EQUAL(field(row, "handle"), "h1");
	CU_ASSERT_STRING_EQUAL(field(row, "kind"), "queue");
	CU_ASSERT_STRING_EQUAL(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(row, "interests"), 0)->valuestring, "chess");
	CU_ASSERT_STRING_EQUAL(field(cJSON_GetArrayItem(rows(j), 1), "handle"), "h2");
	row = cJSON_GetArrayItem(rows(j), 2);
	CU_ASSERT_STRING_EQUAL(field(row, "kind"), "named");
	CU_ASSERT_STRING_EQUAL(field(row, "room_id"), "named");
	cJSON_Delete(j);
	j = list("nodes", "1000", "10000");
	cJSON_ArrayForEach(it, rows(j)) {
		bool one = strcmp(field(it, "name"), "node1") == 0;

		n++;
		CU_ASSERT_EQUAL(cJSON_GetObjectItemCaseSensitive(it, "chats")->valueint, 2);
		CU_ASSERT_EQUAL(cJSON_GetObjectItemCaseSensitive(it, "waiting")->valueint, one ? 2 : 1);
		CU_ASSERT_EQUAL(cJSON_GetObjectItemCaseSensitive(it, "rooms")->valueint, 0);
	}
	CU_ASSERT_EQUAL(n, 2);
	cJSON_Delete(j);
	CU_ASSERT_STRING_EQUAL(lh_err(lh_eval(NULL, CLUSTER_SCRIPT_ADMIN_LIST, 3,
					      (const char *[]){ "bogus", "1", "1" })), "bad_arguments");
}

/* Listings never fire timers or write: an expired chat is still listed, still there. */
static void test_list_read_only(void)
{
	cJSON *j;
	redisReply *d;

	lw_new_ex(1, "50", "modern");
	lh_sleep_ms(120);
	d = lh_cmd("DEBUG DIGEST");
	j = list("sessions", "1000", "10000");
	CU_ASSERT_EQUAL(cJSON_GetArraySize(rows(j)), 1);
	cJSON_Delete(j);
	cJSON_Delete(list("rooms", "1000", "10000"));
	cJSON_Delete(list("queues", "1000", "10000"));
	cJSON_Delete(list("nodes", "1000", "10000"));
	if (d->type == REDIS_REPLY_STRING) /* DEBUG may be disabled */
		CU_ASSERT_STRING_EQUAL(lh_cmd("DEBUG DIGEST")->str, d->str);
	CU_ASSERT_EQUAL(lh_cmd("EXISTS " LH_PREFIX ":chat:%s", lw_id(1))->integer, 1);
}

/* Each event's wake-up says when it was published, on Redis' clock. */
static void test_wake_payload(void)
{
	redisContext *sub = lh_connect_other(NULL);
	redisReply *r = NULL, *t;
	char channel[96];
	unsigned long long seq, ms, now;
	uint64_t pub = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(sub);
	lw_new(1);
	lw_new(2);
	snprintf(channel, sizeof(channel), LH_PREFIX ":wake:%s", lw_id(1));
	freeReplyObject(redisCommand(sub, "SUBSCRIBE %s", channel));
	lw_enter(1, "Ann", NULL);
	lw_enter(2, "Bob", NULL);
	CU_ASSERT_EQUAL_FATAL(redisGetReply(sub, (void **)&r), REDIS_OK);
	CU_ASSERT_EQUAL_FATAL(r->elements, 3);
	CU_ASSERT_EQUAL(sscanf(r->element[2]->str, "%llu:%llu", &seq, &ms), 2);
	CU_ASSERT_EQUAL(seq, 1);
	t = lh_cmd("TIME");
	now = strtoull(t->element[0]->str, NULL, 10) * 1000;
	CHECKF(ms <= now + 1000 && ms + 5000 >= now, "published %llu, now %llu", ms, now);
	CU_ASSERT_EQUAL(cluster_wake_payload_ms(r->element[2]->str, r->element[2]->len, &pub), 0);
	CU_ASSERT_EQUAL(pub, ms);
	freeReplyObject(r);
	redisFree(sub);
}

const struct unit_test lua_admin_tests[] = {
	{ "the handle index", test_handle_index },
	{ "an expired chat's handle is pruned by a sweep", test_handle_pruned_by_sweep },
	{ "handles are pruned a slice per sweep", test_handle_prune_bounded },
	{ "kick by handle", test_kick_handle },
	{ "kick a room", test_kick_room },
	{ "list sessions and rooms, capped", test_list_sessions_rooms },
	{ "list queues and node counts", test_list_queues_nodes },
	{ "listings are read-only", test_list_read_only },
	{ "wake-ups carry their publish time", test_wake_payload },
	{ NULL, NULL },
};
