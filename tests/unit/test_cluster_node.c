/* cluster/node_wire.c: the heartbeat JSON and the shape checks of Redis' replies. Replies are
 * built from RESP text with hiredis' redisReader, as Redis would send them. */
#include <errno.h>
#include <stdlib.h>

#include <string.h>

#include "admin/ctl_cluster.h"
#include "cluster/admin.h"
#include "cluster/node.h"
#include "unit.h"

/* The reply RESP text parses to (the caller frees it with freeReplyObject). */
static redisReply *reply(const char *resp)
{
	redisReader *rd = redisReaderCreate();
	void *r = NULL;

	redisReaderFeed(rd, resp, strlen(resp));
	if (redisReaderGetReply(rd, &r) != REDIS_OK)
		r = NULL;
	redisReaderFree(rd);
	return r;
}

static void test_heartbeat_roundtrip(void)
{
	struct cluster_heartbeat hb = { .addr = "10.0.0.1:8080", .version = "0.1.0",
					.state = "running", .pid = 4242,
					.heartbeat_ms = 1760000000123ull, .started_ms = 1760000000000ull };
	struct cluster_member m;
	char json[512], small[16];
	int len = cluster_heartbeat_json(&hb, json, sizeof(json));

	REQUIRE(len > 0);
	CU_ASSERT_EQUAL((size_t)len, strlen(json));
	CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"heartbeat_ms\":1760000000123"));
	CU_ASSERT_EQUAL(cluster_heartbeat_json(&hb, small, sizeof(small)), -ENOSPC);
	REQUIRE(cluster_member_parse("n1", 2, json, (size_t)len, 1760000001123ull, &m) == 0);
	CU_ASSERT_STRING_EQUAL(m.name, "n1");
	CU_ASSERT_STRING_EQUAL(m.addr, "10.0.0.1:8080");
	CU_ASSERT_STRING_EQUAL(m.state, "running");
	CU_ASSERT_STRING_EQUAL(m.version, "0.1.0");
	CU_ASSERT_EQUAL(m.pid, 4242);
	CU_ASSERT_EQUAL(m.started_ms, 1760000000000ull);
	CU_ASSERT_EQUAL(m.age_ms, 1000);
	CU_ASSERT_TRUE(m.alive);
	/* Stale after 3 intervals; a heartbeat from the future is age 0, not a wrap. */
	REQUIRE(cluster_member_parse("n1", 2, json, (size_t)len,
				     1760000000123ull + CLUSTER_NODE_STALE_MS, &m) == 0);
	CU_ASSERT_FALSE(m.alive);
	REQUIRE(cluster_member_parse("n1", 2, json, (size_t)len, 5, &m) == 0);
	CU_ASSERT_EQUAL(m.age_ms, 0);
	CU_ASSERT_TRUE(m.alive);
out:;
}

static void test_member_malformed(void)
{
	static const char *bad[] = {
		"", "[]", "{", "null", "{\"addr\":\"a\"}",
		"{\"addr\":1,\"heartbeat_ms\":1,\"pid\":1,\"version\":\"v\",\"started_ms\":1,\"state\":\"s\"}",
		"{\"addr\":\"a\",\"heartbeat_ms\":-1,\"pid\":1,\"version\":\"v\",\"started_ms\":1,\"state\":\"s\"}",
		"{\"addr\":\"a\",\"heartbeat_ms\":1.5,\"pid\":1,\"version\":\"v\",\"started_ms\":1,\"state\":\"s\"}",
		"{\"addr\":\"a\",\"heartbeat_ms\":1,\"pid\":1e300,\"version\":\"v\",\"started_ms\":1,\"state\":\"s\"}",
		"{\"addr\":\"a\\u001b[2J\",\"heartbeat_ms\":1,\"pid\":1,\"version\":\"v\",\"started_ms\":1,\"state\":\"s\"}",
		"{\"addr\":\"a\",\"heartbeat_ms\":1,\"pid\":1,\"version\":\"v\",\"started_ms\":1,\"state\":\"waaaaaaaaaaaaaaaaaaaay too long\"}",
		NULL,
	};
	const char *good = "{\"addr\":\"a\",\"heartbeat_ms\":1,\"pid\":1,\"version\":\"v\",\"started_ms\":1,\"state\":\"s\"}";
	struct cluster_member m;

	for (int i = 0; bad[i]; i++)
		CHECKF(cluster_member_parse("n", 1, bad[i], strlen(bad[i]), 10, &m) == -EPROTO, "%s", bad[i]);
	CU_ASSERT_EQUAL(cluster_member_parse("n", 1, good, strlen(good), 10, &m), 0);
	/* Names: the config's charset, 1-16. */
	CU_ASSERT_EQUAL(cluster_member_parse("", 0, good, strlen(good), 10, &m), -EPROTO);
	CU_ASSERT_EQUAL(cluster_member_parse("a b", 3, good, strlen(good), 10, &m), -EPROTO);
	CU_ASSERT_EQUAL(cluster_member_parse("n23456789abcdefgh", 17, good, strlen(good), 10, &m), -EPROTO);
	CU_ASSERT_EQUAL(cluster_member_parse("n\0x", 3, good, strlen(good), 10, &m), -EPROTO);
}

static void test_members_hgetall(void)
{
	const char *j = "{\"addr\":\"a:1\",\"heartbeat_ms\":1000,\"pid\":7,\"version\":\"v\",\"started_ms\":1,\"state\":\"running\"}";
	char resp[1024];
	struct cluster_member *v = NULL;
	size_t n = 9, bad = 9;
	redisReply *r;

	snprintf(resp, sizeof(resp), "*8\r\n$2\r\nzz\r\n$%zu\r\n%s\r\n$2\r\naa\r\n$%zu\r\n%s\r\n"
		 "$3\r\nbad\r\n$3\r\n{x}\r\n:1\r\n:2\r\n", strlen(j), j, strlen(j), j);
	r = reply(resp);
	REQUIRE(r);
	REQUIRE(cluster_members_parse(r, 2000, &v, &n, &bad) == 0);
	CU_ASSERT_EQUAL(n, 2);
	CU_ASSERT_EQUAL(bad, 2);
	REQUIRE(v);
	CU_ASSERT_STRING_EQUAL(v[0].name, "aa"); /* sorted */
	CU_ASSERT_STRING_EQUAL(v[1].name, "zz");
	CU_ASSERT_EQUAL(v[0].age_ms, 1000);
	free(v);
	freeReplyObject(r);
	v = NULL;
	r = reply("*0\r\n");
	REQUIRE(r);
	CU_ASSERT_EQUAL(cluster_members_parse(r, 1, &v, &n, &bad), 0);
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_PTR_NULL(v);
	freeReplyObject(r);
	r = reply("*1\r\n$1\r\nx\r\n"); /* odd */
	REQUIRE(r);
	CU_ASSERT_EQUAL(cluster_members_parse(r, 1, &v, &n, &bad), -EPROTO);
	freeReplyObject(r);
	r = reply("-WRONGTYPE x\r\n");
	REQUIRE(r);
	CU_ASSERT_EQUAL(cluster_members_parse(r, 1, &v, &n, &bad), -EPROTO);
out:
	freeReplyObject(r);
}

static void test_time(void)
{
	static const char *bad[] = { "*1\r\n$1\r\n1\r\n", "*2\r\n$1\r\n1\r\n$7\r\n1000000\r\n",
				     "*2\r\n$2\r\n-1\r\n$1\r\n0\r\n", "*2\r\n:1\r\n:2\r\n",
				     "$1\r\n1\r\n", "*2\r\n$0\r\n\r\n$1\r\n0\r\n", NULL };
	uint64_t ms = 0;
	redisReply *r = reply("*2\r\n$10\r\n1760000000\r\n$6\r\n123456\r\n");

	REQUIRE(r);
	CU_ASSERT_EQUAL(cluster_time_parse(r, &ms), 0);
	CU_ASSERT_EQUAL(ms, 1760000000123ull);
	freeReplyObject(r);
	for (int i = 0; bad[i]; i++) {
		r = reply(bad[i]);
		REQUIRE(r);
		CHECKF(cluster_time_parse(r, &ms) == -EPROTO, "%d", i);
		freeReplyObject(r);
	}
	r = NULL;
out:
	freeReplyObject(r);
}

static void test_sweep(void)
{
	static const char *bad[] = {
		"*2\r\n$2\r\nok\r\n:0\r\n",                               /* short */
		"*3\r\n$2\r\nOK\r\n:0\r\n:0\r\n",                         /* not "ok" */
		"*3\r\n+ok\r\n:-1\r\n:0\r\n",                             /* negative */
		"*3\r\n+ok\r\n:65\r\n:0\r\n",                             /* over max */
		"*3\r\n+ok\r\n:1\r\n:2\r\n",                              /* more not 0/1 */
		"*3\r\n+ok\r\n$1\r\n1\r\n:0\r\n",                         /* a string count */
		"*4\r\n+ok\r\n:0\r\n:0\r\n$1\r\na\r\n",                   /* more ids than fired */
		"*4\r\n+ok\r\n:1\r\n:0\r\n$3\r\na b\r\n",                 /* not an id */
		"*4\r\n+ok\r\n:1\r\n:0\r\n$0\r\n\r\n",                    /* empty id */
		"*4\r\n+ok\r\n:1\r\n:0\r\n:5\r\n",                        /* an integer id */
		"*4\r\n+ok\r\n:1\r\n:0\r\n*1\r\n$1\r\na\r\n",             /* nested */
		"$5\r\nhello\r\n", "-ERR x\r\n", ":1\r\n", NULL,
	};
	struct cluster_sweep sw;
	redisReply *r = reply("*5\r\n$2\r\nok\r\n:3\r\n:1\r\n$22\r\nAAAAAAAAAAAAAAAAAAAAA_\r\n$4\r\nb-.c\r\n");

	REQUIRE(r);
	REQUIRE(cluster_sweep_parse(r, &sw) == 0);
	CU_ASSERT_EQUAL(sw.fired, 3);
	CU_ASSERT_TRUE(sw.more);
	REQUIRE(sw.n_ended == 2);
	CU_ASSERT_STRING_EQUAL(sw.ended[0], "AAAAAAAAAAAAAAAAAAAAA_");
	CU_ASSERT_STRING_EQUAL(sw.ended[1], "b-.c");
	freeReplyObject(r);
	r = reply("*3\r\n+ok\r\n:0\r\n:0\r\n");
	REQUIRE(r);
	REQUIRE(cluster_sweep_parse(r, &sw) == 0);
	CU_ASSERT_EQUAL(sw.n_ended, 0);
	CU_ASSERT_FALSE(sw.more);
	freeReplyObject(r);
	for (int i = 0; bad[i]; i++) {
		r = reply(bad[i]);
		REQUIRE(r);
		CHECKF(cluster_sweep_parse(r, &sw) == -EPROTO, "case %d", i);
		CU_ASSERT_EQUAL(sw.n_ended, 0);
		CU_ASSERT_FALSE(sw.more);
		freeReplyObject(r);
	}
	r = NULL;
	CU_ASSERT_EQUAL(cluster_sweep_parse(NULL, &sw), -EPROTO);
out:
	freeReplyObject(r);
}

static void test_fallback(void)
{
	long long m = -1;
	bool more = false;
	redisReply *r = reply("*3\r\n$2\r\nok\r\n:2\r\n:1\r\n");

	REQUIRE(r);
	CU_ASSERT_EQUAL(cluster_fallback_parse(r, &m, &more), 0);
	CU_ASSERT_EQUAL(m, 2);
	CU_ASSERT_TRUE(more);
	freeReplyObject(r);
	r = reply("*4\r\n$2\r\nok\r\n:2\r\n:1\r\n$1\r\nx\r\n");
	REQUIRE(r);
	CU_ASSERT_EQUAL(cluster_fallback_parse(r, &m, &more), -EPROTO);
out:
	freeReplyObject(r);
}

static void test_epoch(void)
{
	char a[CLUSTER_NODE_EPOCH_LEN + 1], b[CLUSTER_NODE_EPOCH_LEN + 1], resp[64];
	redisReply *r = NULL;

	REQUIRE(cluster_epoch_new(a) == 0 && cluster_epoch_new(b) == 0);
	CU_ASSERT_EQUAL(strlen(a), CLUSTER_NODE_EPOCH_LEN);
	CU_ASSERT_STRING_NOT_EQUAL(a, b);
	snprintf(resp, sizeof(resp), "$%d\r\n%s\r\n", CLUSTER_NODE_EPOCH_LEN, a);
	r = reply(resp);
	REQUIRE(r);
	CU_ASSERT_EQUAL(cluster_epoch_judge("", r), CLUSTER_EPOCH_FIRST);
	CU_ASSERT_EQUAL(cluster_epoch_judge(a, r), CLUSTER_EPOCH_SAME);
	CU_ASSERT_EQUAL(cluster_epoch_judge(b, r), CLUSTER_EPOCH_CHANGED);
	freeReplyObject(r);
	r = reply("$-1\r\n");
	REQUIRE(r);
	CU_ASSERT_EQUAL(cluster_epoch_judge(a, r), CLUSTER_EPOCH_MISSING);
	freeReplyObject(r);
	r = reply("$3\r\na\nb\r\n");
	REQUIRE(r);
	CU_ASSERT_EQUAL(cluster_epoch_judge(a, r), CLUSTER_EPOCH_BAD);
	freeReplyObject(r);
	r = reply(":5\r\n");
	REQUIRE(r);
	CU_ASSERT_EQUAL(cluster_epoch_judge(a, r), CLUSTER_EPOCH_BAD);
	CU_ASSERT_EQUAL(cluster_epoch_judge(a, NULL), CLUSTER_EPOCH_BAD);
out:
	freeReplyObject(r);
}

/* `mcpchatctl nodes`' data: names in the given order, "stale" for a member not alive, the
 * heartbeat age in seconds; nothing else (no chat state). */
static void test_nodes_json(void)
{
	struct cluster_member v[2] = {
		{ .name = "a", .addr = "10.0.0.1:8808", .state = "running", .version = "1.0",
		  .pid = 12, .age_ms = 1500, .alive = true },
		{ .name = "b", .addr = "10.0.0.2:8808", .state = "draining", .version = "1.0",
		  .pid = 34, .age_ms = 9000, .alive = false },
	};
	cJSON *d = ctl_cluster_nodes_json(v, 2), *arr, *m;
	char *text;

	arr = cJSON_GetObjectItemCaseSensitive(d, "nodes");
	CU_ASSERT_EQUAL_FATAL(cJSON_GetArraySize(arr), 2);
	m = cJSON_GetArrayItem(arr, 0);
	CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItemCaseSensitive(m, "name")->valuestring, "a");
	CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItemCaseSensitive(m, "address")->valuestring, "10.0.0.1:8808");
	CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItemCaseSensitive(m, "state")->valuestring, "running");
	CU_ASSERT_DOUBLE_EQUAL(cJSON_GetObjectItemCaseSensitive(m, "heartbeat_age_s")->valuedouble, 1.5, 1e-9);
	CU_ASSERT_EQUAL(cJSON_GetObjectItemCaseSensitive(m, "pid")->valueint, 12);
	m = cJSON_GetArrayItem(arr, 1);
	CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItemCaseSensitive(m, "state")->valuestring, "stale");
	text = cJSON_PrintUnformatted(d);
	CU_ASSERT_STRING_EQUAL(text, "{\"nodes\":[{\"name\":\"a\",\"address\":\"10.0.0.1:8808\","
			       "\"heartbeat_age_s\":1.5,\"state\":\"running\",\"version\":\"1.0\",\"pid\":12},"
			       "{\"name\":\"b\",\"address\":\"10.0.0.2:8808\",\"heartbeat_age_s\":9,"
			       "\"state\":\"stale\",\"version\":\"1.0\",\"pid\":34}]}");
	free(text);
	cJSON_Delete(d);
	d = ctl_cluster_nodes_json(NULL, 0);
	text = cJSON_PrintUnformatted(d);
	CU_ASSERT_STRING_EQUAL(text, "{\"nodes\":[]}");
	free(text);
	cJSON_Delete(d);
}

/* HMGET P:stats chats rooms named_waiting. */
static void test_stats(void)
{
	uint64_t v[3];
	redisReply *r = reply("*3\r\n$1\r\n7\r\n$-1\r\n$2\r\n-1\r\n");
	static const char *bad[] = { "*2\r\n$1\r\n1\r\n$1\r\n1\r\n", "*3\r\n$1\r\n1\r\n$1\r\nx\r\n$1\r\n1\r\n",
				     "*3\r\n:1\r\n:1\r\n:1\r\n", "$1\r\n1\r\n" };

	CU_ASSERT_EQUAL(cluster_stats_parse(r, v), 0);
	CU_ASSERT_TRUE(v[0] == 7 && v[1] == 0 && v[2] == 0); /* nil 0; negative (a bug) 0 */
	freeReplyObject(r);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = reply(bad[i]);
		CHECKF(cluster_stats_parse(r, v) == -EPROTO, "%zu", i);
		freeReplyObject(r);
	}
}

static void test_wake_payload_lag(void)
{
	uint64_t ms = 0;
	struct cluster_lag l = { 0 };

	CU_ASSERT_EQUAL(cluster_wake_payload_ms("12:1760000000123", 16, &ms), 0);
	CU_ASSERT_EQUAL(ms, 1760000000123ull);
	/* with the event: its lag all the same (wake.c checks the event) */
	CU_ASSERT_EQUAL(cluster_wake_payload_ms("12:1760000000124:m\n{}", 21, &ms), 0);
	CU_ASSERT_EQUAL(ms, 1760000000124ull);
	CU_ASSERT_EQUAL(cluster_wake_payload_ms("12::m\n{}", 8, &ms), -EPROTO);
	CU_ASSERT_EQUAL(cluster_wake_payload_ms("12", 2, &ms), -ENOENT);
	CU_ASSERT_EQUAL(cluster_wake_payload_ms("end", 3, &ms), -ENOENT);
	CU_ASSERT_EQUAL(cluster_wake_payload_ms("12:", 3, &ms), -EPROTO);
	CU_ASSERT_EQUAL(cluster_wake_payload_ms("x:1", 3, &ms), -EPROTO);
	CU_ASSERT_EQUAL(cluster_wake_payload_ms("0:1", 3, &ms), -EPROTO);
	CU_ASSERT_EQUAL(cluster_wake_payload_ms(NULL, 0, &ms), -EPROTO);
	cluster_lag_add(&l, 0);
	cluster_lag_add(&l, 3);
	cluster_lag_add(&l, 1000);
	cluster_lag_add(&l, 99999);
	CU_ASSERT_EQUAL(l.count, 4);
	CU_ASSERT_EQUAL(l.max_ms, 99999);
	CU_ASSERT_EQUAL(l.sum_ms, 101002);
	CU_ASSERT_EQUAL(l.buckets[0], 1);                       /* <= 1 ms */
	CU_ASSERT_EQUAL(l.buckets[2], 1);                       /* <= 5 ms */
	CU_ASSERT_EQUAL(l.buckets[9], 1);                       /* <= 1 s */
	CU_ASSERT_EQUAL(l.buckets[CLUSTER_LAG_BUCKETS - 1], 1); /* +Inf */
	CU_ASSERT_DOUBLE_EQUAL(l.ewma_ms, ((0 * 0.9 + 0.3) * 0.9 + 100) * 0.9 + 9999.9, 1e-6);
}

/* admin_list's reply as control data: fields copied by type, ms ages as whole seconds, an
 * empty Lua table ({}) as an empty list, anything unexpected refused. */
static void test_admin_list_parse(void)
{
	static const char ok_rooms[] =
		"{\"rows\":[{\"room_id\":\"r1\",\"kind\":\"named\",\"age_ms\":2500,\"messages\":3,"
		"\"members\":[\"Ann\"],\"handles\":{},\"chat\":\"SECRET\"}],\"truncated\":false}";
	char buf[512];
	redisReply *r;
	cJSON *d;
	char *text;
	int err;

	snprintf(buf, sizeof(buf), "*2\r\n$2\r\nok\r\n$%zu\r\n%s\r\n", strlen(ok_rooms), ok_rooms);
	r = reply(buf);
	d = cluster_admin_list_parse(CLUSTER_LIST_ROOMS, r, &err);
	CU_ASSERT_EQUAL(err, 0);
	text = cJSON_PrintUnformatted(d);
	CU_ASSERT_STRING_EQUAL(text, "{\"rooms\":[{\"room_id\":\"r1\",\"kind\":\"named\",\"age_s\":2,"
			       "\"messages\":3,\"members\":[\"Ann\"],\"handles\":[]}],\"cluster\":true,"
			       "\"truncated\":false}");
	free(text);
	cJSON_Delete(d);
	/* The same rows are no sessions (fields missing). */
	CU_ASSERT_PTR_NULL(cluster_admin_list_parse(CLUSTER_LIST_SESSIONS, r, &err));
	CU_ASSERT_EQUAL(err, -EPROTO);
	freeReplyObject(r);
	r = reply("*2\r\n$2\r\nok\r\n$28\r\n{\"rows\":{},\"truncated\":true}\r\n");
	d = cluster_admin_list_parse(CLUSTER_LIST_QUEUES, r, &err);
	text = cJSON_PrintUnformatted(d);
	CU_ASSERT_STRING_EQUAL(text, "{\"waiting\":[],\"cluster\":true,\"truncated\":true}");
	free(text);
	cJSON_Delete(d);
	freeReplyObject(r);
	r = reply("-ERR boom\r\n");
	CU_ASSERT_PTR_NULL(cluster_admin_list_parse(CLUSTER_LIST_NODES, r, &err));
	CU_ASSERT_EQUAL(err, -EIO);
	freeReplyObject(r);
	r = reply("*2\r\n$2\r\nok\r\n$27\r\n{\"rows\":[{\"name\":1}],\"x\":1}\r\n");
	CU_ASSERT_PTR_NULL(cluster_admin_list_parse(CLUSTER_LIST_NODES, r, &err));
	CU_ASSERT_EQUAL(err, -EPROTO);
	freeReplyObject(r);
}

static void test_admin_kick_parse(void)
{
	const char *v[2];
	redisReply *r = reply("*3\r\n$2\r\nok\r\n$2\r\nh1\r\n$2\r\nh2\r\n");

	CU_ASSERT_EQUAL(cluster_admin_kick_parse(r, v, 2), 2);
	CU_ASSERT_STRING_EQUAL(v[1], "h2");
	CU_ASSERT_EQUAL(cluster_admin_kick_parse(r, v, 1), -EPROTO);
	freeReplyObject(r);
	r = reply("*1\r\n$2\r\nok\r\n");
	CU_ASSERT_EQUAL(cluster_admin_kick_parse(r, v, 2), 0);
	freeReplyObject(r);
	r = reply("*2\r\n$2\r\nok\r\n:1\r\n");
	CU_ASSERT_EQUAL(cluster_admin_kick_parse(r, v, 2), -EPROTO);
	freeReplyObject(r);
}

/* nodes: each member gets its counts (0 without a row), and truncated. */
static void test_nodes_counts(void)
{
	struct cluster_member v[2] = { { .name = "a", .alive = true }, { .name = "b", .alive = true } };
	cJSON *d = ctl_cluster_nodes_json(v, 2);
	cJSON *counts = cJSON_Parse("{\"nodes\":[{\"name\":\"a\",\"chats\":5,\"waiting\":1,\"rooms\":2},"
				    "{\"name\":\"gone\",\"chats\":9,\"waiting\":0,\"rooms\":0}],"
				    "\"truncated\":true}");
	cJSON *m;

	ctl_cluster_nodes_counts(d, counts);
	m = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(d, "nodes"), 0);
	CU_ASSERT_EQUAL(cJSON_GetObjectItemCaseSensitive(m, "chats")->valueint, 5);
	CU_ASSERT_EQUAL(cJSON_GetObjectItemCaseSensitive(m, "rooms")->valueint, 2);
	m = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(d, "nodes"), 1);
	CU_ASSERT_EQUAL(cJSON_GetObjectItemCaseSensitive(m, "chats")->valueint, 0);
	CU_ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d, "truncated")));
	cJSON_Delete(counts);
	cJSON_Delete(d);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "heartbeat JSON round trip, age and staleness", test_heartbeat_roundtrip },
		{ "a malformed member is refused", test_member_malformed },
		{ "HGETALL: sorted, malformed fields skipped and counted", test_members_hgetall },
		{ "TIME", test_time },
		{ "sweep reply shape checks", test_sweep },
		{ "fallback reply shape checks", test_fallback },
		{ "epoch verdicts", test_epoch },
		{ "nodes: the control command's data", test_nodes_json },
		{ "P:stats figures", test_stats },
		{ "wake-up payload time and the lag histogram", test_wake_payload_lag },
		{ "admin_list replies as control data", test_admin_list_parse },
		{ "kick replies", test_admin_kick_parse },
		{ "nodes: per-node counts merged", test_nodes_counts },
		{ NULL, NULL },
	};
	static const struct unit_suite suites[] = {
		{ .name = "cluster_node", .tests = tests },
		{ .name = NULL },
	};

	return unit_main(suites);
}
