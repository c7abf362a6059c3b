#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/chat.h"
#include "chat_harness.h"
#include "mcp/jsonrpc.h"
#include "net/timer.h"
#include "unit.h"

/* The chat logic without sockets or MCP: a fake clock, fake deliveries (chat_harness.h). This
 * file: the events' JSON, message ids, UTF-8 and room id validation; 10 000
 * users. */

static void test_event_json(void)
{
	struct chat_user *a = user(), *b = user();
	struct chat_result r;
	const char *text = "He said \"hi\"\\\n\ttab \x01 caf\xc3\xa9 \xf0\x9f\x98\x80";
	cJSON *j, *sender;
	char *room;

	enter(a, "A \"quoted\" \\ name", &r, NULL);
	enter(b, "B\xc3\xa9", &r, NULL);
	room = room_of(a);
	j = params_of(last_for(a));
	CU_ASSERT_EQUAL(cJSON_GetArraySize(j), 2);
	CU_ASSERT_STRING_EQUAL(jstr(j, "room_id"), room);
	CU_ASSERT_STRING_EQUAL(jstr(cJSON_GetObjectItem(j, "partner"), "display_name"), "B\xc3\xa9");
	cJSON_Delete(j);
	j = params_of(last_for(b));
	CU_ASSERT_STRING_EQUAL(jstr(cJSON_GetObjectItem(j, "partner"), "display_name"),
			       "A \"quoted\" \\ name");
	cJSON_Delete(j);

	send_text(a, room, text, &r);
	CU_ASSERT_EQUAL_FATAL(r.error, CHAT_OK);
	CU_ASSERT_STRING_EQUAL(r.timestamp, "2026-11-24T13:05:01.123Z");
	CU_ASSERT_STRING_EQUAL(last_for(b)->method, "message.received");
	j = params_of(last_for(b));
	CU_ASSERT_EQUAL(cJSON_GetArraySize(j), 5);
	CU_ASSERT_STRING_EQUAL(jstr(j, "room_id"), room);
	CU_ASSERT_STRING_EQUAL(jstr(j, "message_id"), r.message_id);
	CU_ASSERT_STRING_EQUAL(jstr(j, "message"), text);
	CU_ASSERT_STRING_EQUAL(jstr(j, "timestamp"), r.timestamp);
	sender = cJSON_GetObjectItem(j, "sender");
	CU_ASSERT_EQUAL(cJSON_GetArraySize(sender), 1);
	CU_ASSERT_STRING_EQUAL(jstr(sender, "display_name"), "A \"quoted\" \\ name");
	cJSON_Delete(j);

	W.wall = 0;
	send_text(b, room, "back", &r);
	CU_ASSERT_STRING_EQUAL(r.timestamp, "1970-01-01T00:00:00.000Z");
	W.wall = 1700000000005LL;
	send_text(b, room, "back", &r);
	CU_ASSERT_STRING_EQUAL(r.timestamp, "2023-11-14T22:13:20.005Z");

	chat_leave(W.c, b, room, &r);
	j = params_of(last_for(a));
	CU_ASSERT_EQUAL(cJSON_GetArraySize(j), 2);
	CU_ASSERT_STRING_EQUAL(jstr(j, "room_id"), room);
	CU_ASSERT_STRING_EQUAL(jstr(j, "reason"), "left");
	cJSON_Delete(j);
	free(room);
}

static void test_message_ids(void)
{
	static struct chat_limits fast;
	struct chat_user *a, *b;
	struct chat_result r;
	char (*ids)[24] = calloc(2000, sizeof(*ids));
	char *room;

	teardown();
	fast = limits;
	fast.rate_per_second = 1e9;
	fast.rate_burst = 1e9;
	CU_ASSERT_PTR_NOT_NULL_FATAL(new_world(&fast));
	a = user();
	b = user();
	enter(a, NULL, &r, NULL);
	enter(b, NULL, &r, NULL);
	room = room_of(a);
	for (int i = 0; i < 2000; i++) {
		send_text(i % 2 ? a : b, room, "m", &r);
		CU_ASSERT_EQUAL(r.error, CHAT_OK);
		CU_ASSERT_TRUE(strlen(r.message_id) >= 8 && strlen(r.message_id) <= 23);
		CU_ASSERT_TRUE(chat_room_id_valid(r.message_id)); /* URL-safe */
		memcpy(ids[i], r.message_id, 24);
		for (int k = 0; k < i; k++)
			if (strcmp(ids[k], ids[i]) == 0)
				CU_FAIL("duplicate message id");
	}
	CU_ASSERT_EQUAL(stats().messages, 2000);
	free(ids);
	free(room);
}

static void test_utf8(void)
{
	static const struct {
		const char *s;
		size_t len;
		bool ok;
	} cases[] = {
		{ "", 0, true },
		{ "plain ascii", 11, true },
		{ "\xc3\xa9", 2, true },
		{ "\xe2\x82\xac", 3, true },
		{ "\xf0\x9f\x98\x80", 4, true },
		{ "\xf4\x8f\xbf\xbf", 4, true },   /* U+10FFFF */
		{ "\xed\x9f\xbf", 3, true },       /* U+D7FF */
		{ "\xee\x80\x80", 3, true },       /* U+E000 */
		{ "a\0b", 3, true },               /* U+0000 is valid UTF-8 */
		{ "\xc0\x80", 2, false },          /* overlong NUL */
		{ "\xc1\xbf", 2, false },          /* overlong */
		{ "\xe0\x80\x80", 3, false },      /* overlong */
		{ "\xe0\x9f\xbf", 3, false },      /* overlong */
		{ "\xf0\x80\x80\x80", 4, false },  /* overlong */
		{ "\xf0\x8f\xbf\xbf", 4, false },  /* overlong */
		{ "\xed\xa0\x80", 3, false },      /* U+D800 */
		{ "\xed\xbf\xbf", 3, false },      /* U+DFFF */
		{ "\xf4\x90\x80\x80", 4, false },  /* past U+10FFFF */
		{ "\xf5\x80\x80\x80", 4, false },
		{ "\xff", 1, false },
		{ "\x80", 1, false },              /* stray continuation */
		{ "\xc3", 1, false },              /* truncated */
		{ "\xe2\x82", 2, false },          /* truncated */
		{ "\xf0\x9f\x98", 3, false },      /* truncated */
		{ "\xc3\x28", 2, false },          /* bad continuation */
		{ "ok\xe2\x82\xac\xc3", 6, false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (chat_utf8_valid(cases[i].s, cases[i].len) != cases[i].ok) {
			fprintf(stderr, "utf8 case %zu\n", i);
			CU_FAIL("utf8 validation");
		}
}

static void test_room_id_valid(void)
{
	char id[70];

	CU_ASSERT_TRUE(chat_room_id_valid("abc-DEF_019"));
	CU_ASSERT_FALSE(chat_room_id_valid(""));
	CU_ASSERT_FALSE(chat_room_id_valid(NULL));
	CU_ASSERT_FALSE(chat_room_id_valid("a.b"));
	CU_ASSERT_FALSE(chat_room_id_valid("a=b"));
	memset(id, 'x', 64);
	id[64] = '\0';
	CU_ASSERT_TRUE(chat_room_id_valid(id));
	id[64] = 'x';
	id[65] = '\0';
	CU_ASSERT_FALSE(chat_room_id_valid(id));
}

static void test_many_users_plain(void)
{
	struct chat_result r;
	uint32_t matched = 0;

	for (int i = 0; i < 10000; i++) {
		enter(user(), NULL, &r, NULL);
		CU_ASSERT_EQUAL(r.error, CHAT_OK);
		matched += r.matched;
		CU_ASSERT_EQUAL(r.matched, i % 2 == 1);
	}
	CU_ASSERT_EQUAL(matched, 5000);
	CU_ASSERT_EQUAL(stats().users, 10000);
	CU_ASSERT_EQUAL(stats().rooms, 5000);
	CU_ASSERT_EQUAL(stats().matches, 5000);
	CU_ASSERT_EQUAL(stats().waiting, 0);
	CU_ASSERT_EQUAL(W.nev, 10000);
	for (int i = 0; i < 10000; i += 2)
		CU_ASSERT_TRUE(together(W.users[i], W.users[i + 1]));
	for (int i = 0; i < 10000; i += 2)
		gone(W.users[i], CHAT_DISCONNECTED);
	CU_ASSERT_EQUAL(stats().rooms, 0);
	CU_ASSERT_EQUAL(W.nev, 15000);
}

static void test_many_users_queue(void)
{
	struct chat_result r;
	char tag[16];

	/* 10 000 waiters who hold out for tags nobody else has. */
	for (int i = 0; i < 10000; i++) {
		snprintf(tag, sizeof(tag), "u%d", i);
		enter(user(), NULL, &r, tag, "Shared-Tag", NULL);
		CU_ASSERT_EQUAL(r.matched, i % 2 == 1);
		if (i % 1000 == 999)
			advance(1); /* spread the queue times */
	}
	/* "shared-tag" is shared by all: they pair off as they come. */
	CU_ASSERT_EQUAL(stats().waiting, 0);
	CU_ASSERT_EQUAL(stats().rooms, 5000);
	for (int i = 0; i < 10000; i++) {
		chat_user_free(W.c, W.users[i], CHAT_DISCONNECTED);
		W.users[i] = NULL;
	}
	CU_ASSERT_EQUAL(stats().users, 0);
	W.nusers = 0;
	for (int i = 0; i < 10000; i++) {
		snprintf(tag, sizeof(tag), "v%d", i);
		enter(user(), NULL, &r, tag, NULL);
		CU_ASSERT_EQUAL(r.position, (uint32_t)i + 1);
	}
	/* Everyone at an odd place leaves; the others close up. */
	for (int i = 1; i < 10000; i += 2)
		chat_leave(W.c, W.users[i], "q", &r);
	for (int i = 0; i < 10000; i += 2)
		CU_ASSERT_EQUAL(position(W.users[i]), (uint32_t)i / 2 + 1);
	CU_ASSERT_EQUAL(stats().waiting, 5000);
	/* Re-entering goes to the back, past the renumbering of the queue. */
	for (int i = 1; i < 10000; i += 2) {
		snprintf(tag, sizeof(tag), "w%d", i);
		enter(W.users[i], NULL, &r, tag, NULL);
		CU_ASSERT_EQUAL(r.position, 5000 + (uint32_t)i / 2 + 1);
	}
	CU_ASSERT_EQUAL(position(W.users[0]), 1);
	CU_ASSERT_EQUAL(position(W.users[9998]), 5000);
	/* After 10 s everyone falls back and pairs off. */
	advance(10000);
	CU_ASSERT_EQUAL(stats().waiting, 0);
	CU_ASSERT_EQUAL(stats().rooms, 5000);
	CU_ASSERT_EQUAL(stats().matches, 10000);
	CU_ASSERT_EQUAL(W.heap.n, 0);
}

static void test_many_users_mixed(void)
{
	struct chat_result r;
	char t1[16], t2[16];
	struct chat_stats st;
	uint32_t seed = 12345;

	for (int i = 0; i < 10000; i++) {
		struct chat_user *u = user();

		seed = seed * 1103515245 + 12345;
		snprintf(t1, sizeof(t1), "tag%u", (seed >> 16) % 50);
		snprintf(t2, sizeof(t2), "tag%u", (seed >> 8) % 50);
		if (seed % 3 == 0)
			enter(u, NULL, &r, NULL);
		else
			enter(u, NULL, &r, t1, t2, NULL);
		CU_ASSERT_EQUAL(r.error, CHAT_OK);
		if (i % 100 == 0)
			advance(100);
	}
	advance(10000);
	st = stats();
	CU_ASSERT_EQUAL(st.users, 10000);
	CU_ASSERT_TRUE(st.waiting <= 1);
	CU_ASSERT_EQUAL(st.rooms * 2 + st.waiting, 10000);
	CU_ASSERT_EQUAL(st.matches, st.rooms);
	CU_ASSERT_EQUAL(W.nev, 2 * st.rooms);
	/* Every found event names a room its receiver is in. */
	for (size_t i = 0; i < W.nev; i++) {
		char *room = room_of(W.ev[i].to);
		cJSON *j = params_of(&W.ev[i]);

		CU_ASSERT_STRING_EQUAL(jstr(j, "room_id"), room ? room : "");
		cJSON_Delete(j);
		free(room);
	}
}

static const struct unit_test format_tests[] = {
	{ "event params JSON", test_event_json },
	{ "message ids", test_message_ids },
	{ "utf8 validation", test_utf8 },
	{ "room id validation", test_room_id_valid },
	{ NULL, NULL },
};

static const struct unit_test scale_tests[] = {
	{ "10 000 users without interests", test_many_users_plain },
	{ "10 000 waiters, positions and fallback", test_many_users_queue },
	{ "10 000 users with mixed interests", test_many_users_mixed },
	{ NULL, NULL },
};

int main(void)
{
	static const struct unit_suite suites[] = {
		{ "format", format_tests, NULL, NULL, test_setup, test_teardown },
		{ "scale", scale_tests, NULL, NULL, test_setup, test_teardown },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};

	jsonrpc_init(); /* the daemon's cJSON hooks, as main() installs them */
	return unit_main(suites);
}
