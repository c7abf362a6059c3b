#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/chat.h"
#include "mcp/jsonrpc.h"
#include "net/timer.h"
#include "unit.h"

/* 2026-11-24T13:05:01.123Z */
#define WALL_MS 1795525501123LL
#define MAX_USERS 20000

struct event {
	struct chat_user *to;
	const char *method;
	char *params;
};

/* One chat world per test: a fake clock, the timer heap and the events delivered. */
static struct {
	struct chat *c;
	struct timer_heap heap;
	uint64_t now;
	int64_t wall;
	struct event *ev;
	size_t nev, cap_ev;
	struct chat_user *refuse; /* deliver answers -ENOSPC to refusable events for this user */
	/* A mailbox model: with cap > 0, each user holds at most cap unread refusable events
	 * (unread[i] for users[i]); read() empties it. */
	uint32_t cap;
	uint32_t unread[MAX_USERS];
	struct chat_user *users[MAX_USERS];
	size_t nusers;
} W;

static const struct chat_limits limits = {
	.max_message_bytes = 4096,
	.max_display_name_chars = 32,
	.max_interests = 8,
	.max_interest_chars = 24,
	.rate_per_second = 5,
	.rate_burst = 20,
	.fallback_ms = 10000,
};

static int fake_deliver(void *ctx, struct chat_user *to, const char *method, const char *params,
			size_t len, bool refusable)
{
	uint32_t *unread = &W.unread[(struct chat_user **)chat_user_owner(to) - W.users];

	(void)ctx;
	if (refusable && (to == W.refuse || (W.cap && *unread >= W.cap)))
		return -ENOSPC;
	(*unread)++;
	if (W.nev == W.cap_ev) {
		W.cap_ev = W.cap_ev ? 2 * W.cap_ev : 64;
		W.ev = realloc(W.ev, W.cap_ev * sizeof(*W.ev));
	}
	W.ev[W.nev].to = to;
	W.ev[W.nev].method = method;
	W.ev[W.nev].params = strndup(params, len);
	CU_ASSERT_EQUAL(strlen(W.ev[W.nev].params), len);
	W.nev++;
	return 0;
}

static uint64_t fake_mono(void *ctx)
{
	(void)ctx;
	return W.now;
}

static int64_t fake_wall(void *ctx)
{
	(void)ctx;
	return W.wall;
}

static bool fake_mailbox_full(void *ctx, const struct chat_user *u)
{
	(void)ctx;
	return u == W.refuse ||
	       (W.cap && W.unread[(struct chat_user **)chat_user_owner(u) - W.users] >= W.cap);
}

static const struct chat_ops ops = { fake_deliver, fake_mono, fake_wall, NULL, fake_mailbox_full };

static struct chat *new_world(const struct chat_limits *l)
{
	memset(&W, 0, sizeof(W));
	W.now = 1000000;
	W.wall = WALL_MS;
	timer_heap_init(&W.heap);
	W.c = chat_new(l, &ops, &W.heap);
	return W.c;
}

static int setup(void)
{
	return new_world(&limits) ? 0 : -1;
}

static int teardown(void)
{
	for (size_t i = 0; i < W.nusers; i++)
		if (W.users[i])
			chat_user_free(W.c, W.users[i], CHAT_DISCONNECTED);
	CU_ASSERT_EQUAL(W.heap.n, 0);
	chat_free(W.c);
	timer_heap_free(&W.heap);
	for (size_t i = 0; i < W.nev; i++)
		free(W.ev[i].params);
	free(W.ev);
	return 0;
}

static void test_setup(void)
{
	setup();
}

static void test_teardown(void)
{
	teardown();
}

static struct chat_user *user(void)
{
	struct chat_user *u = chat_user_new(W.c, &W.users[W.nusers]);

	CU_ASSERT_PTR_NOT_NULL_FATAL(u);
	CU_ASSERT_PTR_EQUAL(chat_user_owner(u), &W.users[W.nusers]);
	W.users[W.nusers++] = u;
	return u;
}

static void gone(struct chat_user *u, enum chat_reason why)
{
	for (size_t i = 0; i < W.nusers; i++)
		if (W.users[i] == u)
			W.users[i] = NULL;
	chat_user_free(W.c, u, why);
}

static void advance(uint64_t ms)
{
	W.now += ms;
	timer_run(&W.heap, W.now);
}

static size_t count_for(const struct chat_user *u)
{
	size_t n = 0;

	for (size_t i = 0; i < W.nev; i++)
		n += W.ev[i].to == u;
	return n;
}

static struct event *last_for(const struct chat_user *u)
{
	for (size_t i = W.nev; i-- > 0;)
		if (W.ev[i].to == u)
			return &W.ev[i];
	return NULL;
}

/* enter_queue with up to 8 interests given as a NULL-terminated list. */
static void enter(struct chat_user *u, const char *name, struct chat_result *r, ...)
{
	const char *tags[16];
	size_t n = 0;
	va_list ap;

	va_start(ap, r);
	while (n < 16 && (tags[n] = va_arg(ap, const char *)))
		n++;
	va_end(ap);
	chat_enter_queue(W.c, u, name, tags, n, r);
}

static void send_text(struct chat_user *u, const char *room, const char *text, struct chat_result *r)
{
	chat_send(W.c, u, room, text, strlen(text), r);
}

static char *room_of(const struct chat_user *u)
{
	struct chat_status st;

	chat_get_status(W.c, u, &st);
	return st.room_id ? strdup(st.room_id) : NULL;
}

/* Are a and b in the same room? */
static bool together(const struct chat_user *a, const struct chat_user *b)
{
	struct chat_status sa, sb;

	chat_get_status(W.c, a, &sa);
	chat_get_status(W.c, b, &sb);
	return sa.state == CHAT_IN_ROOM && sb.state == CHAT_IN_ROOM &&
	       strcmp(sa.room_id, sb.room_id) == 0;
}

static uint32_t position(const struct chat_user *u)
{
	struct chat_status st;

	chat_get_status(W.c, u, &st);
	return st.position;
}

static struct chat_stats stats(void)
{
	struct chat_stats st;

	chat_get_stats(W.c, &st);
	return st;
}

static cJSON *params_of(const struct event *e)
{
	cJSON *j = e ? cJSON_Parse(e->params) : NULL;

	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	return j;
}

static const char *jstr(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : "<missing>";
}

static void test_fifo_matching(void)
{
	struct chat_user *a = user(), *b = user(), *c = user(), *d = user();
	struct chat_result r;

	enter(a, "Ann", &r, NULL);
	CU_ASSERT_EQUAL(r.error, CHAT_OK);
	CU_ASSERT_FALSE(r.matched);
	CU_ASSERT_EQUAL(r.position, 1);
	CU_ASSERT_EQUAL(W.nev, 0);
	enter(b, "Bob", &r, NULL);
	CU_ASSERT_TRUE(r.matched);
	CU_ASSERT_STRING_EQUAL(r.partner_name, "Ann");
	CU_ASSERT_EQUAL(strlen(r.room_id), 16);
	CU_ASSERT_TRUE(chat_room_id_valid(r.room_id));
	/* The waiter hears first, then the arrival. */
	CU_ASSERT_EQUAL_FATAL(W.nev, 2);
	CU_ASSERT_PTR_EQUAL(W.ev[0].to, a);
	CU_ASSERT_PTR_EQUAL(W.ev[1].to, b);
	CU_ASSERT_STRING_EQUAL(W.ev[0].method, "chatroom.found");
	CU_ASSERT_STRING_EQUAL(W.ev[1].method, "chatroom.found");
	CU_ASSERT_TRUE(together(a, b));
	enter(c, NULL, &r, NULL);
	CU_ASSERT_FALSE(r.matched);
	CU_ASSERT_EQUAL(r.position, 1);
	enter(d, NULL, &r, NULL);
	CU_ASSERT_TRUE(r.matched);
	CU_ASSERT_STRING_EQUAL(r.partner_name, "Stranger");
	CU_ASSERT_TRUE(together(c, d));
	CU_ASSERT_FALSE(together(a, c));
	CU_ASSERT_EQUAL(stats().rooms, 2);
	CU_ASSERT_EQUAL(stats().matches, 2);
	CU_ASSERT_EQUAL(stats().waiting, 0);
	CU_ASSERT_EQUAL(stats().users, 4);
}

static void test_fifo_oldest_first(void)
{
	struct chat_user *x = user(), *y = user(), *z = user(), *a = user();
	struct chat_result r;

	/* x and y hold out for their interests; z and a take anyone. */
	enter(x, NULL, &r, "x", NULL);
	enter(y, NULL, &r, "y", NULL);
	CU_ASSERT_EQUAL(r.position, 2);
	advance(10000); /* both fall back together: the older x takes y */
	CU_ASSERT_TRUE(together(x, y));
	CU_ASSERT_PTR_EQUAL(W.ev[0].to, y);
	CU_ASSERT_PTR_EQUAL(W.ev[1].to, x);
	enter(z, NULL, &r, NULL);
	enter(a, NULL, &r, NULL);
	CU_ASSERT_TRUE(together(z, a));
}

static void test_interests_preferred(void)
{
	struct chat_user *open = user(), *cat = user(), *dog = user(), *c2 = user(), *o2 = user();
	struct chat_result r;

	enter(open, NULL, &r, NULL);
	enter(cat, "Cat", &r, "cats", NULL);
	CU_ASSERT_FALSE(r.matched); /* holds out for cats although open takes anyone */
	CU_ASSERT_EQUAL(r.position, 2);
	enter(dog, NULL, &r, "dogs", NULL);
	CU_ASSERT_FALSE(r.matched);
	/* Shares "cats" (case-insensitively) with cat, who is not the oldest waiter. */
	enter(c2, NULL, &r, "Birds", "CATS", "birds", NULL);
	CU_ASSERT_TRUE(r.matched);
	CU_ASSERT_STRING_EQUAL(r.partner_name, "Cat");
	CU_ASSERT_TRUE(together(c2, cat));
	/* Without interests: the oldest who takes anyone, not dog who holds out. */
	enter(o2, NULL, &r, NULL);
	CU_ASSERT_TRUE(r.matched);
	CU_ASSERT_TRUE(together(o2, open));
	CU_ASSERT_EQUAL(position(dog), 1);
}

static void test_interest_earliest_sharing(void)
{
	struct chat_user *a = user(), *b = user(), *c = user(), *s = user();
	struct chat_result r;

	enter(a, NULL, &r, "x", NULL);
	enter(b, NULL, &r, "y", NULL);
	enter(c, NULL, &r, "x", "y", NULL);
	CU_ASSERT_TRUE(together(c, a)); /* a is older than b */
	enter(b, NULL, &r, NULL);       /* idempotent: b still waits */
	CU_ASSERT_EQUAL(r.position, 1);
	enter(s, NULL, &r, "z", "y", NULL);
	CU_ASSERT_TRUE(together(s, b));
}

static void test_interest_fallback(void)
{
	struct chat_user *a = user(), *b = user();
	struct chat_result r;

	enter(a, "A", &r, "chess", NULL);
	advance(5000);
	enter(b, "B", &r, NULL);
	CU_ASSERT_FALSE(r.matched);
	CU_ASSERT_EQUAL(r.position, 2);
	advance(4999);
	CU_ASSERT_EQUAL(W.nev, 0);
	CU_ASSERT_EQUAL(stats().waiting, 2);
	advance(1);
	/* a's timer fires at 10 s: it takes anyone now, and b, the partner, hears first. */
	CU_ASSERT_TRUE(together(a, b));
	CU_ASSERT_EQUAL_FATAL(W.nev, 2);
	CU_ASSERT_PTR_EQUAL(W.ev[0].to, b);
	CU_ASSERT_PTR_EQUAL(W.ev[1].to, a);
	CU_ASSERT_EQUAL(W.heap.n, 0);
}

static void test_fallback_both_with_interests(void)
{
	struct chat_user *a = user(), *b = user(), *c = user();
	struct chat_result r;

	enter(a, NULL, &r, "a", NULL);
	advance(3000);
	enter(b, NULL, &r, "b", NULL);
	advance(7000); /* a takes anyone, but b still holds out */
	CU_ASSERT_EQUAL(W.nev, 0);
	/* An arrival with interests holds out too, even for the expired a. */
	enter(c, NULL, &r, "c", NULL);
	CU_ASSERT_FALSE(r.matched);
	advance(2999);
	CU_ASSERT_EQUAL(W.nev, 0);
	advance(1); /* b falls back and takes a, the oldest who takes anyone */
	CU_ASSERT_TRUE(together(a, b));
	CU_ASSERT_PTR_EQUAL(W.ev[0].to, a);
	CU_ASSERT_EQUAL(position(c), 1);
	advance(3000);
	CU_ASSERT_EQUAL(position(c), 1);
	CU_ASSERT_EQUAL(stats().waiting, 1);
}

static void test_expired_waiter_takes_new_arrival(void)
{
	struct chat_user *a = user(), *b = user();
	struct chat_result r;

	enter(a, NULL, &r, "a", NULL);
	advance(20000);
	enter(b, NULL, &r, NULL);
	CU_ASSERT_TRUE(r.matched);
	CU_ASSERT_TRUE(together(a, b));
}

static void test_no_self_match(void)
{
	struct chat_user *a = user();
	struct chat_result r;

	enter(a, "A", &r, "solo", NULL);
	enter(a, "A2", &r, "solo", NULL);
	CU_ASSERT_EQUAL(r.error, CHAT_OK);
	CU_ASSERT_FALSE(r.matched);
	CU_ASSERT_EQUAL(r.position, 1);
	advance(60000);
	CU_ASSERT_EQUAL(W.nev, 0);
	CU_ASSERT_EQUAL(stats().waiting, 1);
	CU_ASSERT_EQUAL(stats().rooms, 0);
}

/* a and b meet and part; returns with both idle. */
static void meet_and_part(struct chat_user *a, struct chat_user *b)
{
	struct chat_result r;
	char *room;

	enter(a, NULL, &r, NULL);
	enter(b, NULL, &r, NULL);
	CU_ASSERT_TRUE_FATAL(together(a, b));
	room = room_of(a);
	chat_leave(W.c, a, room, &r);
	CU_ASSERT_EQUAL(r.error, CHAT_OK);
	free(room);
}

static void test_last_partner_only_one(void)
{
	struct chat_user *a = user(), *b = user();
	struct chat_result r;

	meet_and_part(a, b);
	enter(a, NULL, &r, NULL);
	enter(b, NULL, &r, NULL);
	CU_ASSERT_TRUE(r.matched); /* nobody else waits */
	CU_ASSERT_TRUE(together(a, b));
}

static void test_last_partner_avoided(void)
{
	struct chat_user *a = user(), *b = user(), *c = user(), *x = user(), *y = user();
	struct chat_result r;

	meet_and_part(a, b);
	enter(b, NULL, &r, NULL);
	enter(c, NULL, &r, NULL);
	CU_ASSERT_TRUE(together(b, c));
	gone(c, CHAT_DISCONNECTED);
	/* b last met c, but a last met b: a waiting must not get b while x waits. */
	enter(a, NULL, &r, "t1", NULL);
	enter(x, NULL, &r, "t2", NULL);
	enter(b, NULL, &r, "t1", "t2", NULL);
	CU_ASSERT_TRUE(r.matched);
	CU_ASSERT_TRUE(together(b, x));
	enter(y, NULL, &r, "t1", NULL);
	CU_ASSERT_TRUE(together(y, a));
}

static void test_last_partner_other_direction(void)
{
	struct chat_user *a = user(), *b = user(), *d = user(), *x = user();
	struct chat_result r;
	char *room;

	meet_and_part(a, b); /* a.last = b */
	enter(b, NULL, &r, NULL);
	enter(d, NULL, &r, NULL);
	CU_ASSERT_TRUE(together(b, d)); /* b.last = d, but a.last is still b */
	room = room_of(b);
	chat_leave(W.c, b, room, &r);
	free(room);
	enter(b, NULL, &r, "q", NULL);
	enter(x, NULL, &r, "p", NULL);
	enter(a, NULL, &r, "q", "p", NULL);
	CU_ASSERT_TRUE(together(a, x));
	CU_ASSERT_EQUAL(position(b), 1);
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

static void test_positions(void)
{
	struct chat_user *u[6];
	char tag[8];
	struct chat_result r;

	for (int i = 0; i < 6; i++) {
		u[i] = user();
		snprintf(tag, sizeof(tag), "t%d", i);
		enter(u[i], NULL, &r, tag, NULL);
		CU_ASSERT_EQUAL(r.position, (uint32_t)i + 1);
	}
	chat_leave(W.c, u[2], "x", &r);
	gone(u[4], CHAT_KICKED);
	CU_ASSERT_EQUAL(position(u[0]), 1);
	CU_ASSERT_EQUAL(position(u[1]), 2);
	CU_ASSERT_EQUAL(position(u[2]), 0);
	CU_ASSERT_EQUAL(position(u[3]), 3);
	CU_ASSERT_EQUAL(position(u[5]), 4);
	enter(u[3], NULL, &r, NULL); /* idempotent */
	CU_ASSERT_EQUAL(r.position, 3);
	enter(u[2], NULL, &r, "t2", NULL); /* back at the end */
	CU_ASSERT_EQUAL(r.position, 5);
	CU_ASSERT_EQUAL(stats().waiting, 5);
}

static void test_display_name_updates(void)
{
	struct chat_user *a = user(), *b = user();
	struct chat_result r;
	cJSON *j;

	enter(a, "First", &r, NULL);
	enter(a, "Second", &r, NULL);
	CU_ASSERT_EQUAL(r.position, 1);
	enter(b, NULL, &r, NULL);
	CU_ASSERT_STRING_EQUAL(r.partner_name, "Second");
	j = params_of(last_for(b));
	CU_ASSERT_STRING_EQUAL(jstr(cJSON_GetObjectItem(j, "partner"), "display_name"), "Second");
	cJSON_Delete(j);
	j = params_of(last_for(a));
	CU_ASSERT_STRING_EQUAL(jstr(cJSON_GetObjectItem(j, "partner"), "display_name"), "Stranger");
	cJSON_Delete(j);
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

static void test_free_cancels_timer(void)
{
	struct chat_user *a = user(), *b = user(), *c = user();
	struct chat_result r;

	enter(a, NULL, &r, "x", NULL);
	enter(b, NULL, &r, "y", NULL);
	CU_ASSERT_EQUAL(W.heap.n, 2);
	gone(a, CHAT_DISCONNECTED);
	CU_ASSERT_EQUAL(W.heap.n, 1);
	advance(10000);
	CU_ASSERT_EQUAL(W.nev, 0);
	enter(c, NULL, &r, NULL); /* b takes anyone now */
	CU_ASSERT_TRUE(together(b, c));
	CU_ASSERT_EQUAL(W.heap.n, 0);
	gone(b, CHAT_DISCONNECTED);
	gone(c, CHAT_DISCONNECTED);
	CU_ASSERT_EQUAL(stats().users, 0);
	CU_ASSERT_EQUAL(stats().rooms, 0);
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


/* A naive model of the peer's queue (pickPartner, compatible, takesAnyone, pair), run in
 * lockstep with the chat on random operations. */
#define M_SLOTS 24
#define M_TAGS 6

static struct model_user {
	struct chat_user *u;
	int id, last, partner; /* partner: a slot, or -1 */
	unsigned tags;
	uint64_t queued_at;
	bool waiting, fired;
} M[M_SLOTS];
static int Mq[M_SLOTS], Mqn, Mids;

static bool m_takes(int i, uint64_t t)
{
	return !M[i].tags || t - M[i].queued_at >= limits.fallback_ms;
}

static bool m_compatible(int a, int b, uint64_t t)
{
	return (M[a].tags & M[b].tags) || (m_takes(a, t) && m_takes(b, t));
}

static int m_pick(int s, uint64_t t)
{
	int fits[M_SLOTS], fresh[M_SLOTS], nf = 0, nfr = 0, *pool, n;

	for (int k = 0; k < Mqn; k++) {
		int w = Mq[k];

		if (w == s || !m_compatible(s, w, t))
			continue;
		fits[nf++] = w;
		if (M[w].id != M[s].last && M[w].last != M[s].id)
			fresh[nfr++] = w;
	}
	pool = nfr ? fresh : fits;
	n = nfr ? nfr : nf;
	for (int k = 0; k < n; k++)
		if (M[pool[k]].tags & M[s].tags)
			return pool[k];
	return n ? pool[0] : -1;
}

static void m_dequeue(int i)
{
	for (int k = 0; k < Mqn; k++)
		if (Mq[k] == i) {
			memmove(Mq + k, Mq + k + 1, (size_t)(Mqn - k - 1) * sizeof(*Mq));
			Mqn--;
			break;
		}
	M[i].waiting = false;
}

static void m_pair(int a, int b)
{
	m_dequeue(a);
	m_dequeue(b);
	M[a].partner = b;
	M[b].partner = a;
	M[a].last = M[b].id;
	M[b].last = M[a].id;
}

static void m_new(int i)
{
	M[i] = (struct model_user){ .u = user(), .id = ++Mids, .last = -1, .partner = -1 };
}

static void m_enter(int i, unsigned tags)
{
	static const char *const names[M_TAGS] = { "k0", "K1", "k2", "k3", "k4", "k5" };
	const char *list[M_TAGS];
	struct chat_result r;
	size_t n = 0;
	int p;

	for (int k = 0; k < M_TAGS; k++)
		if (tags & (1u << k))
			list[n++] = names[k];
	chat_enter_queue(W.c, M[i].u, NULL, list, n, &r);
	if (M[i].partner >= 0) {
		CU_ASSERT_EQUAL(r.error, CHAT_ALREADY_IN_ROOM);
		return;
	}
	CU_ASSERT_EQUAL(r.error, CHAT_OK);
	if (M[i].waiting)
		return;
	M[i].tags = tags;
	M[i].queued_at = W.now;
	M[i].fired = false;
	p = m_pick(i, W.now);
	CU_ASSERT_EQUAL(r.matched, p >= 0);
	if (p >= 0) {
		m_pair(p, i);
		return;
	}
	M[i].waiting = true;
	Mq[Mqn++] = i;
}

static void m_leave(int i)
{
	struct chat_result r;
	char *room = room_of(M[i].u);

	chat_leave(W.c, M[i].u, room ? room : "q", &r);
	free(room);
	if (M[i].waiting)
		m_dequeue(i);
	if (M[i].partner >= 0) {
		M[M[i].partner].partner = -1;
		M[i].partner = -1;
	}
}

static void m_free(int i)
{
	if (M[i].waiting)
		m_dequeue(i);
	if (M[i].partner >= 0)
		M[M[i].partner].partner = -1;
	gone(M[i].u, CHAT_DISCONNECTED);
	m_new(i);
}

/* Steps the clock from one fallback to the next, as a prompt loop would. */
static void m_advance(uint64_t ms)
{
	uint64_t target = W.now + ms;

	for (;;) {
		int next = -1;

		for (int k = 0; k < Mqn; k++) {
			int w = Mq[k];

			if (M[w].tags && !M[w].fired &&
			    (next < 0 || M[w].queued_at < M[next].queued_at))
				next = w;
		}
		if (next < 0 || M[next].queued_at + limits.fallback_ms > target)
			break;
		W.now = M[next].queued_at + limits.fallback_ms;
		timer_run(&W.heap, W.now);
		M[next].fired = true;
		if (m_pick(next, W.now) >= 0)
			m_pair(m_pick(next, W.now), next);
	}
	W.now = target;
	timer_run(&W.heap, W.now);
}

static int m_position(int i)
{
	for (int k = 0; k < Mqn; k++)
		if (Mq[k] == i)
			return k + 1;
	return 0;
}

/* Counts the users whose state differs between the chat and the model. */
static int m_mismatches(void)
{
	int bad = 0;

	for (int i = 0; i < M_SLOTS; i++) {
		struct chat_status st;

		chat_get_status(W.c, M[i].u, &st);
		if (M[i].waiting)
			bad += st.state != CHAT_WAITING || st.position != (uint32_t)m_position(i);
		else if (M[i].partner >= 0)
			bad += !together(M[i].u, M[M[i].partner].u);
		else
			bad += st.state != CHAT_IDLE;
	}
	return bad;
}

static void test_random_against_model(void)
{
	uint32_t seed = 2026;
	int bad = 0;

	Mqn = 0;
	Mids = 0;
	for (int i = 0; i < M_SLOTS; i++)
		m_new(i);
	for (int step = 0; step < 20000 && !bad; step++) {
		int i, op;

		seed = seed * 1103515245 + 12345;
		i = (int)((seed >> 8) % M_SLOTS);
		op = (int)((seed >> 20) % 10);
		W.now++; /* distinct queue times, so fallbacks fire in a known order */
		if (op < 5)
			m_enter(i, (seed >> 4) % 3 ? (seed >> 12) % (1u << M_TAGS) : 0);
		else if (op < 7)
			m_leave(i);
		else if (op < 8)
			m_free(i);
		else
			m_advance((seed >> 2) % 4000);
		bad = m_mismatches();
		if (bad)
			fprintf(stderr, "model mismatch at step %d (op %d, slot %d)\n", step, op, i);
	}
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_TRUE(stats().matches > 1000);
}

static const struct unit_test matching_tests[] = {
	{ "fifo matching", test_fifo_matching },
	{ "oldest first after fallback", test_fifo_oldest_first },
	{ "interests preferred", test_interests_preferred },
	{ "earliest sharing waiter", test_interest_earliest_sharing },
	{ "interest fallback after 10 s", test_interest_fallback },
	{ "fallback with interests on both sides", test_fallback_both_with_interests },
	{ "expired waiter takes an arrival", test_expired_waiter_takes_new_arrival },
	{ "no self match", test_no_self_match },
	{ "last partner when alone", test_last_partner_only_one },
	{ "last partner avoided", test_last_partner_avoided },
	{ "last partner, other direction", test_last_partner_other_direction },
	{ "positions", test_positions },
	{ "display name updates", test_display_name_updates },
	{ "free cancels the fallback", test_free_cancels_timer },
	{ "random operations against a model of the peer", test_random_against_model },
	{ NULL, NULL },
};

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
		{ "matching", matching_tests, NULL, NULL, test_setup, test_teardown },
		{ "rooms", room_tests, NULL, NULL, test_setup, test_teardown },
		{ "errors", error_tests, NULL, NULL, test_setup, test_teardown },
		{ "format", format_tests, NULL, NULL, test_setup, test_teardown },
		{ "scale", scale_tests, NULL, NULL, test_setup, test_teardown },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};

	jsonrpc_init(); /* the daemon's cJSON hooks, as main() installs them */
	return unit_main(suites);
}
