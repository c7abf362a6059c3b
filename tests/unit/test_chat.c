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
 * file: matching (FIFO, interests, fallback, last partner, positions) and random
 * operations against a model of the peer. */

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

int main(void)
{
	static const struct unit_suite suites[] = {
		{ "matching", matching_tests, NULL, NULL, test_setup, test_teardown },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};

	jsonrpc_init(); /* the daemon's cJSON hooks, as main() installs them */
	return unit_main(suites);
}
