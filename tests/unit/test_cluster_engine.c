/* Unit tests of the cluster engine's pure parts (cluster/engine.h) and of the result
 * builders both engines share (chat/tools.h): random ids, the chat id shape, the touch
 * interval, and the JSON a cluster reply becomes (the same as the single node's). The
 * engine's I/O is test_cluster_engine_io.c's (a scripted fake Redis), and end to end
 * tests/e2e/cluster*.test.mjs. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "chat/chat.h"
#include "chat/tools.h"
#include "cluster/engine.h"
#include "unit.h"

static void test_random_id(void)
{
	char a[33], b[33];

	CU_ASSERT_EQUAL(cluster_engine_random_id(a, 22), 0);
	CU_ASSERT_EQUAL(strlen(a), 22);
	CU_ASSERT_TRUE(cluster_engine_chat_id_valid(a));
	CU_ASSERT_EQUAL(cluster_engine_random_id(b, 22), 0);
	CU_ASSERT_STRING_NOT_EQUAL(a, b);
	CU_ASSERT_EQUAL(cluster_engine_random_id(a, 11), 0);
	CU_ASSERT_EQUAL(strlen(a), 11);
	CU_ASSERT_EQUAL(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), 11);
	CU_ASSERT_EQUAL(cluster_engine_random_id(a, 32), 0);
	CU_ASSERT_EQUAL(cluster_engine_random_id(a, 33), -EINVAL);
	CU_ASSERT_EQUAL(cluster_engine_random_id(a, 21), -EINVAL); /* 4k + 1: no byte count */
	CU_ASSERT_EQUAL(cluster_engine_random_id(a, 0), -EINVAL);
}

static void test_chat_id_shape(void)
{
	CU_ASSERT_TRUE(cluster_engine_chat_id_valid("AAAAAAAAAAAAAAAAAAAAA_"));
	CU_ASSERT_TRUE(cluster_engine_chat_id_valid("abcdefghij-_0123456789"));
	CU_ASSERT_FALSE(cluster_engine_chat_id_valid(NULL));
	CU_ASSERT_FALSE(cluster_engine_chat_id_valid(""));
	CU_ASSERT_FALSE(cluster_engine_chat_id_valid("AAAAAAAAAAAAAAAAAAAAA"));   /* 21 */
	CU_ASSERT_FALSE(cluster_engine_chat_id_valid("AAAAAAAAAAAAAAAAAAAAAAA")); /* 23 */
	CU_ASSERT_FALSE(cluster_engine_chat_id_valid("AAAAAAAAAA:AAAAAAAAAAA"));  /* a key separator */
	CU_ASSERT_FALSE(cluster_engine_chat_id_valid("AAAAAAAAAA}AAAAAAAAAAA"));  /* a hash tag */
	CU_ASSERT_FALSE(cluster_engine_chat_id_valid("AAAAAAAAAA AAAAAAAAAAA"));
}

static void test_touch_interval(void)
{
	CU_ASSERT_EQUAL(cluster_engine_touch_ms(2000), 666);
	CU_ASSERT_EQUAL(cluster_engine_touch_ms(300000), 5000);
	CU_ASSERT_EQUAL(cluster_engine_touch_ms(15000), 5000);
	CU_ASSERT_EQUAL(cluster_engine_touch_ms(300), 200);
	CU_ASSERT_EQUAL(cluster_engine_touch_ms(0), 200);
}

static cJSON *take(struct mcp_tool_ctx *ctx)
{
	cJSON *o = ctx->structured;

	if (ctx->structured_text) {
		o = cJSON_Parse(ctx->structured_text);
		free(ctx->structured_text);
	}
	memset(ctx, 0, sizeof(*ctx));
	return o;
}

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* A cluster reply's struct chat_result becomes the single node's JSON. */
static void test_results(void)
{
	struct mcp_tool_ctx ctx = { 0 };
	struct chat_result r = { .position = 3 };
	struct chat_status st = { .state = CHAT_IN_ROOM, .room_id = "r1", .partner_name = "Bob" };
	cJSON *o;

	chat_tools_matched(&ctx, "AAAAAAAAAAAAAAAAAAAAAA", &r, false);
	o = take(&ctx);
	CU_ASSERT_STRING_EQUAL(str(o, "status"), "waiting");
	CU_ASSERT_EQUAL(cJSON_GetObjectItem(o, "position")->valueint, 3);
	CU_ASSERT_STRING_EQUAL(str(o, "chat_id"), "AAAAAAAAAAAAAAAAAAAAAA");
	CU_ASSERT_PTR_NULL(cJSON_GetObjectItem(o, "room_id"));
	cJSON_Delete(o);

	r = (struct chat_result){ .matched = true, .room_id = "r1", .partner_name = "Bob" };
	chat_tools_matched(&ctx, "AAAAAAAAAAAAAAAAAAAAAA", &r, true);
	o = take(&ctx);
	CU_ASSERT_STRING_EQUAL(str(o, "status"), "matched");
	CU_ASSERT_STRING_EQUAL(str(o, "room_id"), "r1");
	CU_ASSERT_STRING_EQUAL(str(cJSON_GetObjectItem(o, "partner"), "display_name"), "Bob");
	cJSON_Delete(o);

	chat_tools_sent(&ctx, "abcdefghijk", "2026-07-28T00:00:00.000Z");
	o = take(&ctx);
	CU_ASSERT_STRING_EQUAL(str(o, "message_id"), "abcdefghijk");
	CU_ASSERT_STRING_EQUAL(str(o, "timestamp"), "2026-07-28T00:00:00.000Z");
	cJSON_Delete(o);

	chat_tools_status(&ctx, &st, 2);
	o = take(&ctx);
	CU_ASSERT_STRING_EQUAL(str(o, "state"), "in_room");
	CU_ASSERT_STRING_EQUAL(str(o, "room_id"), "r1");
	CU_ASSERT_EQUAL(cJSON_GetObjectItem(o, "unread")->valueint, 2);
	CU_ASSERT_PTR_NULL(cJSON_GetObjectItem(o, "position"));
	cJSON_Delete(o);
	/* The status script answers "" for no room and no partner: left out, as the single node. */
	st = (struct chat_status){ .state = CHAT_WAITING, .room_id = "", .partner_name = "", .position = 1 };
	chat_tools_status(&ctx, &st, 0);
	o = take(&ctx);
	CU_ASSERT_STRING_EQUAL(str(o, "state"), "waiting");
	CU_ASSERT_PTR_NULL(cJSON_GetObjectItem(o, "room_id"));
	CU_ASSERT_PTR_NULL(cJSON_GetObjectItem(o, "partner"));
	CU_ASSERT_EQUAL(cJSON_GetObjectItem(o, "position")->valueint, 1);
	cJSON_Delete(o);
}

/* unavailable carries retry_after_ms and is an error. */
static void test_unavailable(void)
{
	struct mcp_tool_ctx ctx = { 0 };
	struct chat_result r = { .error = CHAT_UNAVAILABLE, .message = "down",
				 .retry_after_ms = 1000 };
	cJSON *o;

	chat_tools_refusal(&ctx, &r);
	CU_ASSERT_TRUE(ctx.is_error);
	CU_ASSERT_STRING_EQUAL(ctx.error_text, "down");
	o = take(&ctx);
	CU_ASSERT_STRING_EQUAL(str(o, "error"), "unavailable");
	CU_ASSERT_EQUAL(cJSON_GetObjectItem(o, "retry_after_ms")->valueint, 1000);
	cJSON_Delete(o);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "random ids", test_random_id },
		{ "chat id shape", test_chat_id_shape },
		{ "touch interval", test_touch_interval },
		{ "results as the single node's", test_results },
		{ "unavailable", test_unavailable },
		{ NULL, NULL },
	};
	static const struct unit_suite suites[] = {
		{ "cluster_engine", tests, NULL, NULL, NULL, NULL },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};

	return unit_main(suites);
}
