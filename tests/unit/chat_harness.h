#ifndef MCPCHAT_TESTS_CHAT_HARNESS_H
#define MCPCHAT_TESTS_CHAT_HARNESS_H

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

/* The world the test_chat*.c suites share (header-only, like unit.h: each suite is one
 * executable of one file): one chat per test with a fake clock, the timer heap, the events
 * delivered and a mailbox model; users, queue entry, messages and the getters on events. */

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

static inline int fake_deliver(void *ctx, struct chat_user *to, const char *method, const char *params,
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

static inline uint64_t fake_mono(void *ctx)
{
	(void)ctx;
	return W.now;
}

static inline int64_t fake_wall(void *ctx)
{
	(void)ctx;
	return W.wall;
}

static inline bool fake_mailbox_full(void *ctx, const struct chat_user *u)
{
	(void)ctx;
	return u == W.refuse ||
	       (W.cap && W.unread[(struct chat_user **)chat_user_owner(u) - W.users] >= W.cap);
}

static const struct chat_ops ops = { fake_deliver, fake_mono, fake_wall, NULL, fake_mailbox_full };

static inline struct chat *new_world(const struct chat_limits *l)
{
	memset(&W, 0, sizeof(W));
	W.now = 1000000;
	W.wall = WALL_MS;
	timer_heap_init(&W.heap);
	W.c = chat_new(l, &ops, &W.heap);
	return W.c;
}

static inline int setup(void)
{
	return new_world(&limits) ? 0 : -1;
}

static inline int teardown(void)
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

static inline void test_setup(void)
{
	setup();
}

static inline void test_teardown(void)
{
	teardown();
}

static inline struct chat_user *user(void)
{
	struct chat_user *u = chat_user_new(W.c, &W.users[W.nusers]);

	CU_ASSERT_PTR_NOT_NULL_FATAL(u);
	CU_ASSERT_PTR_EQUAL(chat_user_owner(u), &W.users[W.nusers]);
	W.users[W.nusers++] = u;
	return u;
}

static inline void gone(struct chat_user *u, enum chat_reason why)
{
	for (size_t i = 0; i < W.nusers; i++)
		if (W.users[i] == u)
			W.users[i] = NULL;
	chat_user_free(W.c, u, why);
}

static inline void advance(uint64_t ms)
{
	W.now += ms;
	timer_run(&W.heap, W.now);
}

static inline struct event *last_for(const struct chat_user *u)
{
	for (size_t i = W.nev; i-- > 0;)
		if (W.ev[i].to == u)
			return &W.ev[i];
	return NULL;
}

/* enter_queue with up to 8 interests given as a NULL-terminated list. */
static inline void enter(struct chat_user *u, const char *name, struct chat_result *r, ...)
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

static inline void send_text(struct chat_user *u, const char *room, const char *text, struct chat_result *r)
{
	chat_send(W.c, u, room, text, strlen(text), r);
}

static inline char *room_of(const struct chat_user *u)
{
	struct chat_status st;

	chat_get_status(W.c, u, &st);
	return st.room_id ? strdup(st.room_id) : NULL;
}

/* Are a and b in the same room? */
static inline bool together(const struct chat_user *a, const struct chat_user *b)
{
	struct chat_status sa, sb;

	chat_get_status(W.c, a, &sa);
	chat_get_status(W.c, b, &sb);
	return sa.state == CHAT_IN_ROOM && sb.state == CHAT_IN_ROOM &&
	       strcmp(sa.room_id, sb.room_id) == 0;
}

static inline uint32_t position(const struct chat_user *u)
{
	struct chat_status st;

	chat_get_status(W.c, u, &st);
	return st.position;
}

static inline struct chat_stats stats(void)
{
	struct chat_stats st;

	chat_get_stats(W.c, &st);
	return st;
}

static inline cJSON *params_of(const struct event *e)
{
	cJSON *j = e ? cJSON_Parse(e->params) : NULL;

	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	return j;
}

static inline const char *jstr(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : "<missing>";
}

#endif
