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
 * file: named rooms, leaving and re-queueing, status; every refusal (invalid
 * arguments, state errors, rate limit, full mailboxes, shutting down). */

static size_t count_for(const struct chat_user *u)
{
	size_t n = 0;

	for (size_t i = 0; i < W.nev; i++)
		n += W.ev[i].to == u;
	return n;
}

static void test_named_room_lifecycle(void)
{
	struct chat_user *a = user(), *b = user(), *c = user(), *d = user();
	struct chat_result r;
	struct event *e;
	cJSON *j;

	chat_join_room(W.c, a, "lobby", "Ann", &r);
	CU_ASSERT_EQUAL(r.error, CHAT_OK);
	CU_ASSERT_FALSE(r.matched);
	CU_ASSERT_STRING_EQUAL(r.room_id, "lobby");
	CU_ASSERT_EQUAL(stats().waiting, 1);
	chat_join_room(W.c, a, "lobby", NULL, &r);
	CU_ASSERT_EQUAL(r.error, CHAT_OK);
	CU_ASSERT_FALSE(r.matched);
	CU_ASSERT_STRING_EQUAL(r.room_id, "lobby");
	chat_join_room(W.c, b, "lobby", "Bob", &r);
	CU_ASSERT_TRUE(r.matched);
	CU_ASSERT_STRING_EQUAL(r.room_id, "lobby");
	CU_ASSERT_STRING_EQUAL(r.partner_name, "Ann");
	CU_ASSERT_EQUAL_FATAL(W.nev, 2);
	CU_ASSERT_PTR_EQUAL(W.ev[0].to, a);
	CU_ASSERT_PTR_EQUAL(W.ev[1].to, b);
	chat_join_room(W.c, c, "lobby", NULL, &r);
	CU_ASSERT_EQUAL(r.error, CHAT_ROOM_FULL);
	CU_ASSERT_STRING_EQUAL(chat_error_code(r.error), "room_full");
	CU_ASSERT_PTR_NOT_NULL(strstr(r.message, "lobby"));
	chat_leave(W.c, a, "lobby", &r);
	CU_ASSERT_EQUAL(r.error, CHAT_OK);
	e = last_for(b);
	CU_ASSERT_STRING_EQUAL(e->method, "partner.disconnected");
	j = params_of(e);
	CU_ASSERT_STRING_EQUAL(jstr(j, "room_id"), "lobby");
	CU_ASSERT_STRING_EQUAL(jstr(j, "reason"), "left");
	cJSON_Delete(j);
	CU_ASSERT_EQUAL(count_for(a), 1); /* the leaver hears nothing */
	CU_ASSERT_EQUAL(stats().rooms, 0);
	/* The id is free again. */
	chat_join_room(W.c, c, "lobby", NULL, &r);
	CU_ASSERT_EQUAL(r.error, CHAT_OK);
	CU_ASSERT_FALSE(r.matched);
	chat_join_room(W.c, d, "lobby", NULL, &r);
	CU_ASSERT_TRUE(r.matched);
	CU_ASSERT_TRUE(together(c, d));
	/* Waiting alone and leaving removes the room. */
	chat_join_room(W.c, a, "solo", NULL, &r);
	chat_leave(W.c, a, "solo", &r);
	CU_ASSERT_EQUAL(r.error, CHAT_OK);
	CU_ASSERT_EQUAL(stats().waiting, 0);
	chat_join_room(W.c, b, "solo", NULL, &r);
	CU_ASSERT_FALSE(r.matched);
	CU_ASSERT_EQUAL(r.error, CHAT_OK);
}

static void test_named_room_waiter_disconnects(void)
{
	struct chat_user *a = user(), *b = user();
	struct chat_result r;

	chat_join_room(W.c, a, "r1", NULL, &r);
	gone(a, CHAT_TIMEOUT);
	CU_ASSERT_EQUAL(stats().waiting, 0);
	chat_join_room(W.c, b, "r1", NULL, &r);
	CU_ASSERT_FALSE(r.matched);
	CU_ASSERT_EQUAL(W.nev, 0);
}

static void test_leave_and_requeue(void)
{
	struct chat_user *a = user(), *b = user(), *c = user();
	struct chat_result r;
	struct chat_status st;
	char *room;

	enter(a, NULL, &r, NULL);
	chat_leave(W.c, a, "anything", &r); /* the queue has no room id: any valid id leaves it */
	CU_ASSERT_EQUAL(r.error, CHAT_OK);
	chat_get_status(W.c, a, &st);
	CU_ASSERT_EQUAL(st.state, CHAT_IDLE);
	CU_ASSERT_EQUAL(stats().waiting, 0);
	enter(b, NULL, &r, NULL);
	CU_ASSERT_EQUAL(r.position, 1);
	enter(a, NULL, &r, NULL);
	CU_ASSERT_TRUE(together(a, b));
	room = room_of(a);
	chat_leave(W.c, b, room, &r);
	CU_ASSERT_EQUAL(r.error, CHAT_OK);
	chat_leave(W.c, b, room, &r); /* a closed room: no-op */
	CU_ASSERT_EQUAL(r.error, CHAT_OK);
	chat_leave(W.c, a, room, &r); /* the partner too */
	CU_ASSERT_EQUAL(r.error, CHAT_OK);
	chat_leave(W.c, a, "other", &r);
	CU_ASSERT_EQUAL(r.error, CHAT_NOT_IN_ROOM);
	enter(a, NULL, &r, NULL);
	enter(c, NULL, &r, NULL);
	CU_ASSERT_TRUE(together(a, c));
	free(room);
}

static void test_status(void)
{
	struct chat_user *a = user(), *b = user();
	struct chat_result r;
	struct chat_status st;

	chat_get_status(W.c, a, &st);
	CU_ASSERT_EQUAL(st.state, CHAT_IDLE);
	CU_ASSERT_PTR_NULL(st.room_id);
	CU_ASSERT_EQUAL(st.position, 0);
	enter(a, "Ann", &r, "x", NULL);
	chat_get_status(W.c, a, &st);
	CU_ASSERT_EQUAL(st.state, CHAT_WAITING);
	CU_ASSERT_PTR_NULL(st.room_id);
	CU_ASSERT_EQUAL(st.position, 1);
	chat_join_room(W.c, b, "named", NULL, &r);
	chat_get_status(W.c, b, &st);
	CU_ASSERT_EQUAL(st.state, CHAT_WAITING);
	CU_ASSERT_STRING_EQUAL(st.room_id, "named");
	CU_ASSERT_EQUAL(st.position, 0);
	chat_leave(W.c, b, "named", &r);
	enter(b, NULL, &r, "x", NULL);
	chat_get_status(W.c, b, &st);
	CU_ASSERT_EQUAL(st.state, CHAT_IN_ROOM);
	CU_ASSERT_STRING_EQUAL(st.partner_name, "Ann");
	CU_ASSERT_EQUAL(strlen(st.room_id), 16);
	CU_ASSERT_EQUAL(st.position, 0);
}

static void expect_invalid(const struct chat_result *r, const char *field)
{
	CU_ASSERT_EQUAL(r->error, CHAT_INVALID_ARGUMENTS);
	CU_ASSERT_STRING_EQUAL(chat_error_code(r->error), "invalid_arguments");
	CU_ASSERT_PTR_NOT_NULL_FATAL(r->field);
	CU_ASSERT_STRING_EQUAL(r->field, field);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r->message);
	CU_ASSERT_PTR_NOT_NULL(strstr(r->message, field));
}

static void test_invalid_display_name(void)
{
	struct chat_user *a = user();
	struct chat_result r;
	char name[200];

	enter(a, "", &r, NULL);
	expect_invalid(&r, "display_name");
	memset(name, 'n', 33);
	name[33] = '\0';
	enter(a, name, &r, NULL);
	expect_invalid(&r, "display_name");
	name[32] = '\0';
	enter(a, name, &r, NULL);
	CU_ASSERT_EQUAL(r.error, CHAT_OK);
	chat_leave(W.c, a, "q", &r);
	/* 32 two-byte characters are 64 bytes but 32 characters. */
	for (int i = 0; i < 32; i++)
		memcpy(name + 2 * i, "\xc3\xa9", 2);
	name[64] = '\0';
	enter(a, name, &r, NULL);
	CU_ASSERT_EQUAL(r.error, CHAT_OK);
	chat_leave(W.c, a, "q", &r);
	enter(a, "bad\xc3", &r, NULL);
	expect_invalid(&r, "display_name");
	chat_join_room(W.c, a, "room", "\xed\xa0\x80", &r);
	expect_invalid(&r, "display_name");
	/* Control characters would reach the partner's terminal: refused. */
	enter(a, "bell\a", &r, NULL);
	expect_invalid(&r, "display_name");
	enter(a, "\x1b[31mred", &r, NULL);
	expect_invalid(&r, "display_name");
	enter(a, "tab\tname", &r, NULL);
	expect_invalid(&r, "display_name");
	enter(a, "del\x7f", &r, NULL);
	expect_invalid(&r, "display_name");
	CU_ASSERT_EQUAL(stats().waiting, 0);
}

static void test_invalid_interests(void)
{
	struct chat_user *a = user();
	struct chat_result r;
	const char *nine[9] = { "a", "b", "c", "d", "e", "f", "g", "h", "i" };
	const char *with_null[2] = { "a", NULL };

	chat_enter_queue(W.c, a, NULL, nine, 9, &r);
	expect_invalid(&r, "interests");
	chat_enter_queue(W.c, a, NULL, nine, 8, &r);
	CU_ASSERT_EQUAL(r.error, CHAT_OK);
	chat_leave(W.c, a, "q", &r);
	enter(a, NULL, &r, "ok", "", NULL);
	expect_invalid(&r, "interests");
	enter(a, NULL, &r, "abcdefghijklmnopqrstuvwxy", NULL); /* 25 */
	expect_invalid(&r, "interests");
	enter(a, NULL, &r, "abcdefghijklmnopqrstuvwx", NULL); /* 24 */
	CU_ASSERT_EQUAL(r.error, CHAT_OK);
	chat_leave(W.c, a, "q", &r);
	enter(a, NULL, &r, "\xc0\x80", NULL);
	expect_invalid(&r, "interests");
	enter(a, NULL, &r, "new\nline", NULL);
	expect_invalid(&r, "interests");
	chat_enter_queue(W.c, a, NULL, with_null, 2, &r);
	expect_invalid(&r, "interests");
	chat_enter_queue(W.c, a, NULL, NULL, 1, &r);
	expect_invalid(&r, "interests");
	CU_ASSERT_EQUAL(stats().waiting, 0);
}

static void test_invalid_room_id_and_message(void)
{
	struct chat_user *a = user(), *b = user();
	struct chat_result r;
	char id[70], *big;

	memset(id, 'r', 65);
	id[65] = '\0';
	chat_join_room(W.c, a, id, NULL, &r);
	expect_invalid(&r, "room_id");
	chat_join_room(W.c, a, "", NULL, &r);
	expect_invalid(&r, "room_id");
	chat_join_room(W.c, a, NULL, NULL, &r);
	expect_invalid(&r, "room_id");
	chat_join_room(W.c, a, "has space", NULL, &r);
	expect_invalid(&r, "room_id");
	send_text(a, "a/b", "hi", &r);
	expect_invalid(&r, "room_id");
	chat_leave(W.c, a, "ümlaut", &r);
	expect_invalid(&r, "room_id");
	id[64] = '\0';
	chat_join_room(W.c, a, id, NULL, &r);
	CU_ASSERT_EQUAL(r.error, CHAT_OK);
	chat_join_room(W.c, b, id, NULL, &r);
	CU_ASSERT_TRUE(r.matched);
	send_text(a, id, "", &r);
	expect_invalid(&r, "message");
	chat_send(W.c, a, id, "\xe2\x82", 2, &r);
	expect_invalid(&r, "message");
	chat_send(W.c, a, id, NULL, 3, &r);
	expect_invalid(&r, "message");
	big = malloc(4097);
	memset(big, 'm', 4097);
	chat_send(W.c, a, id, big, 4097, &r);
	expect_invalid(&r, "message");
	chat_send(W.c, a, id, big, 4096, &r);
	CU_ASSERT_EQUAL(r.error, CHAT_OK);
	free(big);
	CU_ASSERT_EQUAL(stats().messages, 1);
}

static void test_state_errors(void)
{
	struct chat_user *a = user(), *b = user(), *c = user();
	struct chat_result r;
	char *room;

	send_text(a, "nowhere", "hi", &r);
	CU_ASSERT_EQUAL(r.error, CHAT_NOT_IN_ROOM);
	CU_ASSERT_STRING_EQUAL(chat_error_code(r.error), "not_in_room");
	CU_ASSERT_PTR_NOT_NULL(strstr(r.message, "nowhere"));
	chat_leave(W.c, a, "nowhere", &r);
	CU_ASSERT_EQUAL(r.error, CHAT_NOT_IN_ROOM);
	enter(a, NULL, &r, NULL);
	chat_join_room(W.c, a, "r", NULL, &r);
	CU_ASSERT_EQUAL(r.error, CHAT_ALREADY_WAITING);
	CU_ASSERT_STRING_EQUAL(chat_error_code(r.error), "already_waiting");
	enter(b, NULL, &r, NULL);
	room = room_of(a);
	enter(a, NULL, &r, NULL);
	CU_ASSERT_EQUAL(r.error, CHAT_ALREADY_IN_ROOM);
	CU_ASSERT_STRING_EQUAL(chat_error_code(r.error), "already_in_room");
	CU_ASSERT_PTR_NOT_NULL(strstr(r.message, room));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.message, "leave_chat"));
	chat_join_room(W.c, a, "r", NULL, &r);
	CU_ASSERT_EQUAL(r.error, CHAT_ALREADY_IN_ROOM);
	send_text(a, "wrong", "hi", &r);
	CU_ASSERT_EQUAL(r.error, CHAT_NOT_IN_ROOM);
	chat_join_room(W.c, c, "r", NULL, &r);
	enter(c, NULL, &r, NULL);
	CU_ASSERT_EQUAL(r.error, CHAT_ALREADY_WAITING);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.message, "r"));
	chat_join_room(W.c, c, "s", NULL, &r);
	CU_ASSERT_EQUAL(r.error, CHAT_ALREADY_WAITING);
	CU_ASSERT_EQUAL(stats().waiting, 1);
	free(room);
}

static void test_room_closed_and_partner_gone(void)
{
	static const enum chat_reason why[] = { CHAT_DISCONNECTED, CHAT_TIMEOUT, CHAT_KICKED };
	static const char *const names[] = { "disconnected", "timeout", "kicked" };
	struct chat_user *a = user(), *b = user();
	struct chat_result r;
	char *room;
	cJSON *j;

	enter(a, NULL, &r, NULL);
	enter(b, NULL, &r, NULL);
	room = room_of(a);
	chat_leave(W.c, a, room, &r);
	send_text(b, room, "hello?", &r);
	CU_ASSERT_EQUAL(r.error, CHAT_ROOM_CLOSED);
	CU_ASSERT_STRING_EQUAL(chat_error_code(r.error), "room_closed");
	send_text(a, room, "hello?", &r);
	CU_ASSERT_EQUAL(r.error, CHAT_ROOM_CLOSED);
	free(room);
	for (int i = 0; i < 3; i++) {
		struct chat_user *x = user();

		enter(x, NULL, &r, NULL);
		enter(b, NULL, &r, NULL);
		CU_ASSERT_TRUE_FATAL(together(x, b));
		room = room_of(b);
		gone(x, why[i]);
		j = params_of(last_for(b));
		CU_ASSERT_STRING_EQUAL(last_for(b)->method, "partner.disconnected");
		CU_ASSERT_STRING_EQUAL(jstr(j, "reason"), names[i]);
		CU_ASSERT_STRING_EQUAL(jstr(j, "room_id"), room);
		cJSON_Delete(j);
		send_text(b, room, "hello?", &r);
		CU_ASSERT_EQUAL(r.error, CHAT_PARTNER_GONE);
		CU_ASSERT_STRING_EQUAL(chat_error_code(r.error), "partner_gone");
		chat_leave(W.c, b, room, &r);
		CU_ASSERT_EQUAL(r.error, CHAT_OK);
		free(room);
	}
}

static void test_rate_limit(void)
{
	struct chat_user *a = user(), *b = user();
	struct chat_result r;
	char *room;

	enter(a, NULL, &r, NULL);
	enter(b, NULL, &r, NULL);
	room = room_of(a);
	for (int i = 0; i < 20; i++) {
		send_text(a, room, "x", &r);
		CU_ASSERT_EQUAL(r.error, CHAT_OK);
	}
	send_text(a, room, "x", &r);
	CU_ASSERT_EQUAL(r.error, CHAT_RATE_LIMITED);
	CU_ASSERT_STRING_EQUAL(chat_error_code(r.error), "rate_limited");
	CU_ASSERT_EQUAL(r.retry_after_ms, 200);
	CU_ASSERT_STRING_EQUAL(r.message_id, "");
	advance(150);
	send_text(a, room, "x", &r);
	CU_ASSERT_EQUAL(r.error, CHAT_RATE_LIMITED);
	CU_ASSERT_EQUAL(r.retry_after_ms, 50);
	advance(50);
	send_text(a, room, "x", &r);
	CU_ASSERT_EQUAL(r.error, CHAT_OK);
	/* 5 per second refill. */
	advance(1000);
	for (int i = 0; i < 5; i++) {
		send_text(a, room, "x", &r);
		CU_ASSERT_EQUAL(r.error, CHAT_OK);
	}
	send_text(a, room, "x", &r);
	CU_ASSERT_EQUAL(r.error, CHAT_RATE_LIMITED);
	/* The bucket holds at most the burst. */
	advance(60000);
	for (int i = 0; i < 20; i++)
		send_text(a, room, "x", &r);
	CU_ASSERT_EQUAL(r.error, CHAT_OK);
	send_text(a, room, "x", &r);
	CU_ASSERT_EQUAL(r.error, CHAT_RATE_LIMITED);
	/* b has its own bucket. */
	send_text(b, room, "y", &r);
	CU_ASSERT_EQUAL(r.error, CHAT_OK);
	CU_ASSERT_EQUAL(stats().messages, 20 + 1 + 5 + 20 + 1);
	CU_ASSERT_EQUAL(count_for(b), 1 + 46);
	free(room);
}

static void test_mailbox_full(void)
{
	struct chat_user *a = user(), *b = user();
	struct chat_result r;
	char *room;
	size_t before;

	enter(a, NULL, &r, NULL);
	enter(b, NULL, &r, NULL);
	room = room_of(a);
	before = W.nev;
	W.refuse = b;
	send_text(a, room, "x", &r);
	CU_ASSERT_EQUAL(r.error, CHAT_MAILBOX_FULL);
	CU_ASSERT_STRING_EQUAL(chat_error_code(r.error), "mailbox_full");
	CU_ASSERT_PTR_NOT_NULL(r.message);
	CU_ASSERT_EQUAL(W.nev, before);
	CU_ASSERT_EQUAL(stats().messages, 0);
	/* Room events are not refusable: b still hears that a left. */
	chat_leave(W.c, a, room, &r);
	CU_ASSERT_STRING_EQUAL(last_for(b)->method, "partner.disconnected");
	W.refuse = NULL;
	free(room);
}

/* A user who reads nothing cannot be made to hold more than cap + 2 events: two clients
 * looping join_room / join_room / leave_chat with nobody reading (the denial of service of
 * issue 12) are refused with mailbox_full once their mailboxes are full. */
static void test_mailbox_bound_all_events(void)
{
	struct chat_user *a = user(), *b = user(), *c = user();
	size_t ia = 0, ib = 1, refused = 0; /* a and b are users[0] and users[1] */
	struct chat_result r;

	W.cap = 16;
	for (int i = 0; i < 20000; i++) {
		chat_join_room(W.c, a, "loop", NULL, &r);
		CU_ASSERT_EQUAL(r.error, CHAT_OK);
		chat_join_room(W.c, b, "loop", NULL, &r);
		if (r.error == CHAT_MAILBOX_FULL) {
			refused++;
			CU_ASSERT_PTR_NOT_NULL(strstr(r.message, "read your events first"));
		}
		chat_leave(W.c, a, "loop", &r);
		chat_leave(W.c, b, "loop", &r);
	}
	CU_ASSERT(refused > 19000);
	CU_ASSERT(W.unread[ia] <= W.cap + 2);
	CU_ASSERT(W.unread[ib] <= W.cap + 2);
	CU_ASSERT(count_for(a) <= W.cap + 2);
	CU_ASSERT(count_for(b) <= W.cap + 2);
	/* b hears two events a round (found, disconnected) and a one (found): b filled up. */
	CU_ASSERT_EQUAL(W.unread[ib], W.cap);
	CU_ASSERT_EQUAL(W.unread[ia], W.cap / 2);
	/* enter_queue too; while already waiting it stays idempotent. */
	chat_enter_queue(W.c, b, NULL, NULL, 0, &r);
	CU_ASSERT_EQUAL(r.error, CHAT_MAILBOX_FULL);
	CU_ASSERT_STRING_EQUAL(chat_error_code(r.error), "mailbox_full");
	W.unread[ib] = 0; /* b reads its events */
	chat_enter_queue(W.c, b, NULL, NULL, 0, &r);
	CU_ASSERT_EQUAL(r.error, CHAT_OK);
	W.unread[ib] = W.cap;
	chat_enter_queue(W.c, b, NULL, NULL, 0, &r);
	CU_ASSERT_EQUAL(r.error, CHAT_OK);
	CU_ASSERT_EQUAL(r.position, 1);
	/* Its queue entry may still bring found and then disconnected past the bound. */
	chat_enter_queue(W.c, c, NULL, NULL, 0, &r);
	CU_ASSERT_TRUE(r.matched);
	CU_ASSERT_STRING_EQUAL(last_for(b)->method, "chatroom.found");
	gone(c, CHAT_LEFT);
	CU_ASSERT_STRING_EQUAL(last_for(b)->method, "partner.disconnected");
	CU_ASSERT_EQUAL(W.unread[ib], W.cap + 2);
	/* A full mailbox is refused a named room too. */
	chat_join_room(W.c, b, "other", NULL, &r);
	CU_ASSERT_EQUAL(r.error, CHAT_MAILBOX_FULL);
	(void)ia;
	W.cap = 0;
}

/* Every user has a chat_id: 22 base64url characters, unique, found by lookup while the user
 * lives and never after. */
static void test_chat_ids(void)
{
	struct chat_user *a = user(), *b = user();
	char old[CHAT_ID_LEN + 1], wrong[CHAT_ID_LEN + 1];

	CU_ASSERT_EQUAL(strlen(chat_user_id(a)), CHAT_ID_LEN);
	CU_ASSERT_EQUAL(strspn(chat_user_id(a), "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
			CHAT_ID_LEN);
	CU_ASSERT_STRING_NOT_EQUAL(chat_user_id(a), chat_user_id(b));
	CU_ASSERT_PTR_EQUAL(chat_find(W.c, chat_user_id(a)), a);
	CU_ASSERT_PTR_EQUAL(chat_find(W.c, chat_user_id(b)), b);
	snprintf(wrong, sizeof(wrong), "%s", chat_user_id(a));
	wrong[CHAT_ID_LEN - 1] = wrong[CHAT_ID_LEN - 1] == 'A' ? 'B' : 'A';
	CU_ASSERT_PTR_NULL(chat_find(W.c, wrong));
	CU_ASSERT_PTR_NULL(chat_find(W.c, "short"));
	CU_ASSERT_PTR_NULL(chat_find(W.c, NULL));
	snprintf(old, sizeof(old), "%s", chat_user_id(a));
	gone(a, CHAT_LEFT);
	CU_ASSERT_PTR_NULL(chat_find(W.c, old));
	CU_ASSERT_PTR_EQUAL(chat_find(W.c, chat_user_id(b)), b);
	for (int i = 0; i < 200; i++) /* many at once stay unique and findable */
		CU_ASSERT_PTR_NOT_NULL(chat_find(W.c, chat_user_id(user())));
	CU_ASSERT_STRING_EQUAL(chat_error_code(CHAT_EXPIRED), "chat_expired");
}

static void test_shutting_down(void)
{
	struct chat_user *a = user(), *b = user(), *c = user();
	struct chat_result r;
	char *room;

	enter(a, NULL, &r, NULL);
	enter(b, NULL, &r, NULL);
	room = room_of(a);
	chat_shutdown(W.c);
	enter(c, NULL, &r, NULL);
	CU_ASSERT_EQUAL(r.error, CHAT_SHUTTING_DOWN);
	CU_ASSERT_STRING_EQUAL(chat_error_code(r.error), "shutting_down");
	chat_join_room(W.c, c, "r", NULL, &r);
	CU_ASSERT_EQUAL(r.error, CHAT_SHUTTING_DOWN);
	send_text(a, room, "x", &r);
	CU_ASSERT_EQUAL(r.error, CHAT_SHUTTING_DOWN);
	chat_leave(W.c, a, room, &r);
	CU_ASSERT_EQUAL(r.error, CHAT_OK);
	CU_ASSERT_EQUAL(stats().rooms, 0);
	free(room);
}

static void test_error_names(void)
{
	CU_ASSERT_PTR_NULL(chat_error_code(CHAT_OK));
	CU_ASSERT_STRING_EQUAL(chat_error_code(CHAT_ALREADY_WAITING), "already_waiting");
	CU_ASSERT_STRING_EQUAL(chat_error_code(CHAT_PARTNER_GONE), "partner_gone");
	CU_ASSERT_STRING_EQUAL(chat_reason_name(CHAT_LEFT), "left");
	CU_ASSERT_STRING_EQUAL(chat_reason_name(CHAT_DISCONNECTED), "disconnected");
	CU_ASSERT_STRING_EQUAL(chat_reason_name(CHAT_TIMEOUT), "timeout");
	CU_ASSERT_STRING_EQUAL(chat_reason_name(CHAT_KICKED), "kicked");
}

static const struct unit_test room_tests[] = {
	{ "named room lifecycle", test_named_room_lifecycle },
	{ "named room waiter disconnects", test_named_room_waiter_disconnects },
	{ "leave and re-queue", test_leave_and_requeue },
	{ "status", test_status },
	{ NULL, NULL },
};

static const struct unit_test error_tests[] = {
	{ "invalid display_name", test_invalid_display_name },
	{ "invalid interests", test_invalid_interests },
	{ "invalid room_id and message", test_invalid_room_id_and_message },
	{ "state errors", test_state_errors },
	{ "room_closed and partner_gone", test_room_closed_and_partner_gone },
	{ "rate limit", test_rate_limit },
	{ "mailbox full", test_mailbox_full },
	{ "mailbox bound for every event", test_mailbox_bound_all_events },
	{ "chat ids", test_chat_ids },
	{ "shutting down", test_shutting_down },
	{ "error and reason names", test_error_names },
	{ NULL, NULL },
};

int main(void)
{
	static const struct unit_suite suites[] = {
		{ "rooms", room_tests, NULL, NULL, test_setup, test_teardown },
		{ "errors", error_tests, NULL, NULL, test_setup, test_teardown },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};

	jsonrpc_init(); /* the daemon's cJSON hooks, as main() installs them */
	return unit_main(suites);
}
