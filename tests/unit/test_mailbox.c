#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mcp/jsonrpc.h"
#include "mcp/mailbox.h"
#include "unit.h"

/* Adds params (a C string) and returns the seq or the negative error. */
static int64_t add(struct mailbox *mb, const char *params, bool refusable)
{
	return mailbox_add(mb, "test.event", params, strlen(params), refusable);
}

/* Adds n events {"i":k} and checks each gets the next seq. */
static void add_n(struct mailbox *mb, int n, bool refusable)
{
	for (int i = 0; i < n; i++) {
		char params[32];
		uint64_t want = mb->last + 1;

		snprintf(params, sizeof(params), "{\"i\":%d}", i);
		CU_ASSERT_EQUAL_FATAL(add(mb, params, refusable), (int64_t)want);
	}
}

/* The stored params of seq parse as an object whose "seq" is seq. */
static bool seq_is_appended(const struct mailbox *mb, uint64_t seq)
{
	const struct mailbox_event *ev = mailbox_get(mb, seq);
	cJSON *o, *s;
	bool ok;

	if (!ev || ev->seq != seq || strlen(ev->params) != ev->params_len)
		return false;
	o = cJSON_Parse(ev->params);
	s = cJSON_GetObjectItemCaseSensitive(o, "seq");
	ok = cJSON_IsObject(o) && cJSON_IsNumber(s) && (uint64_t)s->valuedouble == seq;
	cJSON_Delete(o);
	return ok;
}

static void test_add_assigns_seq_from_one(void)
{
	struct mailbox mb;
	const struct mailbox_event *ev;

	mailbox_init(&mb, 8);
	CU_ASSERT_EQUAL(mailbox_unread(&mb), 0);
	CU_ASSERT_PTR_NULL(mailbox_get(&mb, 1));
	CU_ASSERT_EQUAL(add(&mb, "{\"a\":1}", true), 1);
	CU_ASSERT_EQUAL(add(&mb, "{\"b\":\"x\"}", false), 2);
	CU_ASSERT_EQUAL(add(&mb, "{\"c\":[1,2]}", true), 3);
	CU_ASSERT_EQUAL(mb.last, 3);
	CU_ASSERT_EQUAL(mb.count, 3);
	ev = mailbox_get(&mb, 2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
	CU_ASSERT_EQUAL(ev->seq, 2);
	CU_ASSERT_STRING_EQUAL(ev->method, "test.event");
	CU_ASSERT_STRING_EQUAL(ev->params, "{\"b\":\"x\",\"seq\":2}");
	CU_ASSERT_EQUAL(ev->params_len, strlen("{\"b\":\"x\",\"seq\":2}"));
	CU_ASSERT_STRING_EQUAL(mailbox_get(&mb, 1)->params, "{\"a\":1,\"seq\":1}");
	CU_ASSERT_STRING_EQUAL(mailbox_get(&mb, 3)->params, "{\"c\":[1,2],\"seq\":3}");
	CU_ASSERT_PTR_NULL(mailbox_get(&mb, 0));
	CU_ASSERT_PTR_NULL(mailbox_get(&mb, 4));
	mailbox_free(&mb);
}

/* The method is stored with the event: the caller's string may go away. */
static void test_method_is_kept(void)
{
	char method[32] = "message.received";
	struct mailbox mb;

	mailbox_init(&mb, 4);
	CU_ASSERT_EQUAL(mailbox_add(&mb, method, "{}", 2, false), 1);
	strcpy(method, "overwritten");
	CU_ASSERT_STRING_EQUAL(mailbox_get(&mb, 1)->method, "message.received");
	CU_ASSERT_STRING_EQUAL(mailbox_get(&mb, 1)->params, "{\"seq\":1}");
	CU_ASSERT_EQUAL(mailbox_add(&mb, method, "{\"a\":1}", 7, false), 2);
	CU_ASSERT_STRING_EQUAL(mailbox_get(&mb, 2)->method, "overwritten");
	CU_ASSERT_STRING_EQUAL(mailbox_get(&mb, 1)->method, "message.received");
	mailbox_free(&mb);
}

static void test_empty_object_gets_seq(void)
{
	struct mailbox mb;
	const struct mailbox_event *ev;

	mailbox_init(&mb, 4);
	CU_ASSERT_EQUAL(add(&mb, "{}", true), 1);
	ev = mailbox_get(&mb, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
	CU_ASSERT_STRING_EQUAL(ev->params, "{\"seq\":1}");
	CU_ASSERT_EQUAL(ev->params_len, 9);
	CU_ASSERT_TRUE(seq_is_appended(&mb, 1));
	mailbox_free(&mb);
}

static void test_params_not_nul_terminated(void)
{
	const char text[] = "{\"a\":1}GARBAGE";
	struct mailbox mb;

	mailbox_init(&mb, 4);
	CU_ASSERT_EQUAL(mailbox_add(&mb, "m", text, 7, false), 1);
	CU_ASSERT_STRING_EQUAL(mailbox_get(&mb, 1)->params, "{\"a\":1,\"seq\":1}");
	mailbox_free(&mb);
}

/* A JSON object with whitespace inside must still come out as a valid JSON object. */
static void test_whitespace_object_stays_valid_json(void)
{
	struct mailbox mb;

	mailbox_init(&mb, 4);
	CU_ASSERT_EQUAL(add(&mb, "{ \"a\": 1 }", false), 1);
	CU_ASSERT_TRUE(seq_is_appended(&mb, 1));
	CU_ASSERT_EQUAL(add(&mb, "{ }", false), 2);
	CU_ASSERT_TRUE(seq_is_appended(&mb, 2));
	mailbox_free(&mb);
}

static void test_non_object_params_refused(void)
{
	static const char *const bad[] = { "", "{", "}", "[]", "[1]", "\"s\"", "42", "null", "{\"a\":1} " };
	struct mailbox mb;

	mailbox_init(&mb, 4);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CU_ASSERT_EQUAL(add(&mb, bad[i], false), -EINVAL);
	CU_ASSERT_EQUAL(mailbox_add(&mb, "m", "{}", 0, false), -EINVAL);
	CU_ASSERT_EQUAL(mailbox_add(&mb, "m", "{}", 1, false), -EINVAL);
	CU_ASSERT_EQUAL(mb.last, 0);
	CU_ASSERT_EQUAL(mb.count, 0);
	/* A refusal takes no seq. */
	CU_ASSERT_EQUAL(add(&mb, "{}", false), 1);
	mailbox_free(&mb);
}

static void test_refused_only_when_capacity_undelivered(void)
{
	struct mailbox mb;

	mailbox_init(&mb, 4);
	add_n(&mb, 3, true);
	CU_ASSERT_EQUAL(add(&mb, "{}", true), 4); /* 3 undelivered < 4: accepted */
	CU_ASSERT_EQUAL(add(&mb, "{}", true), -ENOSPC);
	CU_ASSERT_EQUAL(add(&mb, "{}", true), -ENOSPC);
	CU_ASSERT_EQUAL(mb.last, 4);
	CU_ASSERT_EQUAL(mailbox_unread(&mb), 4);
	/* One delivered: room again for one undelivered; the delivered one is kept (4 held is
	 * far from 2 * capacity). */
	mailbox_ack(&mb, 1);
	CU_ASSERT_EQUAL(add(&mb, "{}", true), 5);
	CU_ASSERT_TRUE(seq_is_appended(&mb, 1));
	CU_ASSERT_EQUAL(mb.count, 5);
	CU_ASSERT_EQUAL(mailbox_unread(&mb), 4);
	CU_ASSERT_EQUAL(add(&mb, "{}", true), -ENOSPC);
	CU_ASSERT_EQUAL(mb.last, 5);
	CU_ASSERT_EQUAL(mb.count, 5);
	mailbox_free(&mb);
}

/* The bound is on undelivered events, not on what is held: delivered ones kept for replay do
 * not make a refusable event bounce. */
static void test_refusal_ignores_delivered_held(void)
{
	struct mailbox mb;

	mailbox_init(&mb, 4);
	add_n(&mb, 4, true);
	mailbox_ack(&mb, 4);
	add_n(&mb, 4, true); /* 8 held, 4 of them undelivered */
	CU_ASSERT_EQUAL(mb.count, 8);
	CU_ASSERT_EQUAL(mb.first, 1);
	CU_ASSERT_EQUAL(mailbox_unread(&mb), 4);
	/* Every delivered event is there to replay. */
	for (uint64_t seq = 1; seq <= 8; seq++)
		CU_ASSERT_TRUE(seq_is_appended(&mb, seq));
	CU_ASSERT_EQUAL(add(&mb, "{}", true), -ENOSPC);
	CU_ASSERT_EQUAL(mb.last, 8);
	CU_ASSERT_EQUAL(mailbox_unread(&mb), 4);
	/* (At 2 * capacity the eviction runs before the refusal check, so the refused add may
	 * have let the oldest delivered one go; everything after it is still held.) */
	CU_ASSERT_TRUE(mb.count >= 7);
	for (uint64_t seq = 2; seq <= 8; seq++)
		CU_ASSERT_TRUE(seq_is_appended(&mb, seq));
	/* 3 of 4 undelivered: one more fits, within 2 * capacity. */
	mailbox_ack(&mb, 5);
	CU_ASSERT_EQUAL(add(&mb, "{}", true), 9);
	CU_ASSERT_EQUAL(mb.count, 8);
	CU_ASSERT_EQUAL(mb.first, 2);
	CU_ASSERT_PTR_NULL(mailbox_get(&mb, 1));
	CU_ASSERT_EQUAL(add(&mb, "{}", true), -ENOSPC);
	CU_ASSERT_EQUAL(mb.last, 9);
	for (uint64_t seq = 6; seq <= 9; seq++) /* the undelivered ones are never evicted */
		CU_ASSERT_TRUE(seq_is_appended(&mb, seq));
	mailbox_free(&mb);
}

static void test_unrefusable_always_gets_in(void)
{
	struct mailbox mb;

	mailbox_init(&mb, 2);
	add_n(&mb, 2, true);
	CU_ASSERT_EQUAL(add(&mb, "{}", true), -ENOSPC);
	add_n(&mb, 10, false); /* room events never lost */
	CU_ASSERT_EQUAL(mb.count, 12);
	CU_ASSERT_EQUAL(mailbox_unread(&mb), 12);
	for (uint64_t seq = 1; seq <= 12; seq++)
		CU_ASSERT_TRUE(seq_is_appended(&mb, seq));
	CU_ASSERT_EQUAL(add(&mb, "{}", true), -ENOSPC);
	mailbox_free(&mb);
}

static void test_delivered_evicted_first(void)
{
	struct mailbox mb;

	mailbox_init(&mb, 3);
	add_n(&mb, 6, false); /* 2 * capacity held */
	mailbox_ack(&mb, 2);
	CU_ASSERT_EQUAL(add(&mb, "{}", false), 7);
	/* Only seq 1 had to go to get under 2 * capacity; 2 (delivered) is kept while there is
	 * room. */
	CU_ASSERT_PTR_NULL(mailbox_get(&mb, 1));
	for (uint64_t seq = 2; seq <= 7; seq++)
		CU_ASSERT_PTR_NOT_NULL(mailbox_get(&mb, seq));
	CU_ASSERT_EQUAL(mb.count, 6);
	CU_ASSERT_EQUAL(add(&mb, "{}", false), 8);
	CU_ASSERT_PTR_NULL(mailbox_get(&mb, 2));
	CU_ASSERT_EQUAL(mb.count, 6);
	/* Nothing delivered left: undelivered ones are never evicted, the mailbox grows past
	 * 2 * capacity instead. */
	CU_ASSERT_EQUAL(add(&mb, "{}", false), 9);
	CU_ASSERT_EQUAL(mb.count, 7);
	for (uint64_t seq = 3; seq <= 9; seq++)
		CU_ASSERT_TRUE(seq_is_appended(&mb, seq));
	CU_ASSERT_EQUAL(mb.first, 3);
	mailbox_free(&mb);
}

/* Below 2 * capacity nothing goes, however much of it was delivered. */
static void test_delivered_kept_below_twice_capacity(void)
{
	struct mailbox mb;

	mailbox_init(&mb, 4);
	for (uint64_t seq = 1; seq <= 7; seq++) {
		CU_ASSERT_EQUAL(add(&mb, "{}", true), (int64_t)seq);
		mailbox_ack(&mb, seq); /* delivered at once, as on a draining stream */
	}
	CU_ASSERT_EQUAL(mb.count, 7);
	CU_ASSERT_EQUAL(mb.first, 1);
	CU_ASSERT_EQUAL(add(&mb, "{}", true), 8);
	CU_ASSERT_EQUAL(mb.count, 8);
	CU_ASSERT_EQUAL(mb.first, 1);
	/* From here each add evicts exactly the oldest one. */
	CU_ASSERT_EQUAL(add(&mb, "{}", true), 9);
	CU_ASSERT_EQUAL(mb.count, 8);
	CU_ASSERT_EQUAL(mb.first, 2);
	CU_ASSERT_PTR_NULL(mailbox_get(&mb, 1));
	CU_ASSERT_EQUAL(mailbox_next_after(&mb, 0), 2);
	mailbox_free(&mb);
}

/* Eviction stops at the oldest undelivered event even when delivered ones would follow it
 * (acked is a prefix, so that cannot happen; the loop must still stop at first > acked). */
static void test_eviction_stops_at_undelivered(void)
{
	struct mailbox mb;

	mailbox_init(&mb, 2);
	add_n(&mb, 4, false);
	mailbox_ack(&mb, 1);
	CU_ASSERT_EQUAL(add(&mb, "{}", false), 5); /* 4 held: evicts 1 only */
	CU_ASSERT_EQUAL(mb.first, 2);
	CU_ASSERT_EQUAL(mb.count, 4);
	CU_ASSERT_EQUAL(add(&mb, "{}", false), 6); /* 2 undelivered: kept */
	CU_ASSERT_EQUAL(mb.first, 2);
	CU_ASSERT_EQUAL(mb.count, 5);
	CU_ASSERT_EQUAL(mailbox_unread(&mb), 5);
	mailbox_free(&mb);
}

static void test_full_of_delivered_accepts_refusable(void)
{
	struct mailbox mb;

	mailbox_init(&mb, 4);
	add_n(&mb, 4, true);
	mailbox_ack(&mb, 4);
	add_n(&mb, 4, true);
	CU_ASSERT_EQUAL(mb.count, 8);
	CU_ASSERT_EQUAL(mb.last, 8);
	mailbox_ack(&mb, 8); /* 2 * capacity held, all delivered */
	add_n(&mb, 4, true); /* each evicts the oldest delivered */
	CU_ASSERT_EQUAL(mb.count, 8);
	CU_ASSERT_EQUAL(mb.first, 5);
	for (uint64_t seq = 5; seq <= 12; seq++)
		CU_ASSERT_TRUE(seq_is_appended(&mb, seq));
	CU_ASSERT_EQUAL(add(&mb, "{}", true), -ENOSPC); /* 4 undelivered */
	CU_ASSERT_EQUAL(mb.last, 12);
	mailbox_free(&mb);
}

static void test_ack_monotonic_and_bounded(void)
{
	struct mailbox mb;

	mailbox_init(&mb, 16);
	mailbox_ack(&mb, 5); /* nothing yet: stays 0 */
	CU_ASSERT_EQUAL(mb.acked, 0);
	add_n(&mb, 6, false);
	mailbox_ack(&mb, 3);
	CU_ASSERT_EQUAL(mb.acked, 3);
	mailbox_ack(&mb, 1);
	CU_ASSERT_EQUAL(mb.acked, 3);
	mailbox_ack(&mb, 0);
	CU_ASSERT_EQUAL(mb.acked, 3);
	mailbox_ack(&mb, 1000);
	CU_ASSERT_EQUAL(mb.acked, 6);
	mailbox_ack(&mb, UINT64_MAX);
	CU_ASSERT_EQUAL(mb.acked, 6);
	CU_ASSERT_EQUAL(mailbox_unread(&mb), 0);
	CU_ASSERT_EQUAL(add(&mb, "{}", false), 7);
	CU_ASSERT_EQUAL(mailbox_unread(&mb), 1);
	mailbox_free(&mb);
}

static void test_unread_counts(void)
{
	struct mailbox mb;

	mailbox_init(&mb, 16);
	add_n(&mb, 5, true);
	CU_ASSERT_EQUAL(mailbox_unread(&mb), 5);
	mailbox_ack(&mb, 2);
	CU_ASSERT_EQUAL(mailbox_unread(&mb), 3);
	add_n(&mb, 2, false);
	CU_ASSERT_EQUAL(mailbox_unread(&mb), 5);
	mailbox_ack(&mb, 7);
	CU_ASSERT_EQUAL(mailbox_unread(&mb), 0);
	CU_ASSERT_EQUAL(add(&mb, "[]", false), -EINVAL);
	CU_ASSERT_EQUAL(mailbox_unread(&mb), 0);
	mailbox_free(&mb);
}

static void test_next_after(void)
{
	struct mailbox mb;

	mailbox_init(&mb, 3);
	CU_ASSERT_EQUAL(mailbox_next_after(&mb, 0), 0);
	add_n(&mb, 3, false);
	CU_ASSERT_EQUAL(mailbox_next_after(&mb, 0), 1);
	CU_ASSERT_EQUAL(mailbox_next_after(&mb, 1), 2);
	CU_ASSERT_EQUAL(mailbox_next_after(&mb, 2), 3);
	CU_ASSERT_EQUAL(mailbox_next_after(&mb, 3), 0);
	CU_ASSERT_EQUAL(mailbox_next_after(&mb, 99), 0);
	mailbox_ack(&mb, 3);
	add_n(&mb, 3, false); /* 6 held: 2 * capacity, nothing evicted yet */
	CU_ASSERT_EQUAL(mb.first, 1);
	CU_ASSERT_EQUAL(mailbox_next_after(&mb, 0), 1);
	add_n(&mb, 2, false); /* evicts 1 and 2 */
	CU_ASSERT_EQUAL(mb.first, 3);
	CU_ASSERT_EQUAL(mailbox_next_after(&mb, 0), 3); /* oldest held, not an evicted one */
	CU_ASSERT_EQUAL(mailbox_next_after(&mb, 1), 3);
	CU_ASSERT_EQUAL(mailbox_next_after(&mb, 3), 4);
	CU_ASSERT_EQUAL(mailbox_next_after(&mb, 7), 8);
	CU_ASSERT_EQUAL(mailbox_next_after(&mb, 8), 0);
	CU_ASSERT_PTR_NOT_NULL(mailbox_get(&mb, mailbox_next_after(&mb, 0)));
	mailbox_free(&mb);
}

/* A small capacity, delivered as it goes: the ring wraps thousands of times and stays small. */
static void test_wraps_around(void)
{
	struct mailbox mb;

	mailbox_init(&mb, 5);
	for (uint64_t seq = 1; seq <= 5000; seq++) {
		char params[32];

		snprintf(params, sizeof(params), "{\"n\":%llu}", (unsigned long long)seq);
		CU_ASSERT_EQUAL_FATAL(add(&mb, params, true), (int64_t)seq);
		CU_ASSERT_TRUE_FATAL(seq_is_appended(&mb, seq));
		CU_ASSERT_TRUE(mb.count <= 10); /* 2 * capacity */
		CU_ASSERT_TRUE(mailbox_unread(&mb) <= 3);
		if (seq % 3 == 0)
			mailbox_ack(&mb, seq);
	}
	CU_ASSERT_EQUAL(mb.count, 10);
	CU_ASSERT_EQUAL(mb.first, 4991);
	CU_ASSERT_TRUE(mb.mask + 1 <= 16);
	for (uint64_t seq = mb.first; seq <= mb.last; seq++)
		CU_ASSERT_TRUE(seq_is_appended(&mb, seq));
	CU_ASSERT_PTR_NULL(mailbox_get(&mb, mb.first - 1));
	mailbox_free(&mb);
}

/* Thousands of undelivered events: the ring doubles and every event keeps its place. */
static void test_grows_keeping_order(void)
{
	struct mailbox mb;

	/* Unrefusable, so undelivered ones pile up past capacity; 2 * capacity is 6000. */
	mailbox_init(&mb, 3000);
	add_n(&mb, 1800, false);
	mailbox_ack(&mb, 600);
	add_n(&mb, 4200, false); /* 6000 held, 5400 undelivered: nothing evicted yet */
	CU_ASSERT_EQUAL(mb.last, 6000);
	CU_ASSERT_EQUAL(mb.count, 6000);
	CU_ASSERT_EQUAL(mb.first, 1);
	CU_ASSERT_TRUE(mb.mask + 1 >= mb.count);
	for (uint64_t seq = mb.first; seq <= mb.last; seq++)
		CU_ASSERT_TRUE_FATAL(seq_is_appended(&mb, seq));
	CU_ASSERT_EQUAL(mailbox_unread(&mb), 5400);
	CU_ASSERT_EQUAL(add(&mb, "{}", true), -ENOSPC); /* 5400 undelivered >= 3000 */
	add_n(&mb, 600, false); /* evicts exactly the 600 delivered */
	CU_ASSERT_EQUAL(mb.first, 601);
	CU_ASSERT_EQUAL(mb.count, 6000);
	add_n(&mb, 1, false); /* none delivered left: kept, past 2 * capacity */
	CU_ASSERT_EQUAL(mb.first, 601);
	CU_ASSERT_EQUAL(mb.count, 6001);
	CU_ASSERT_EQUAL(add(&mb, "{}", true), -ENOSPC);
	CU_ASSERT_EQUAL(mailbox_next_after(&mb, 0), 601);
	for (uint64_t seq = 601; seq <= 6601; seq++)
		CU_ASSERT_TRUE_FATAL(seq_is_appended(&mb, seq));
	mailbox_free(&mb);
}

/* Refusable only: the ring holds at most 2 * capacity and grows no further than that. */
static void test_refusable_ring_bounded(void)
{
	struct mailbox mb;

	mailbox_init(&mb, 1000);
	for (int round = 0; round < 10; round++) {
		uint64_t before = mb.last;

		add_n(&mb, 1000 - (int)mailbox_unread(&mb), true);
		CU_ASSERT_EQUAL(mailbox_unread(&mb), 1000);
		CU_ASSERT_TRUE(mb.count <= 2000);
		if (round >= 2) /* 1000 + 990 held after round 1; at the bound from then on */
			CU_ASSERT_EQUAL(mb.count, 2000);
		CU_ASSERT_EQUAL_FATAL(add(&mb, "{}", true), -ENOSPC);
		/* The client takes all but the last few. */
		mailbox_ack(&mb, mb.last - 10);
		CU_ASSERT_TRUE(mb.last > before);
	}
	CU_ASSERT_TRUE(mb.count >= 1999 && mb.count <= 2000);
	CU_ASSERT_EQUAL(mb.mask + 1, 2048);
	for (uint64_t seq = mb.first; seq <= mb.last; seq++)
		CU_ASSERT_TRUE_FATAL(seq_is_appended(&mb, seq));
	mailbox_free(&mb);
}

/* Growth while the held window is not at ring index 0 (first > 1, wrapped). */
static void test_grows_after_wrap(void)
{
	struct mailbox mb;

	mailbox_init(&mb, 1000);
	add_n(&mb, 3, false);
	mailbox_ack(&mb, 3);
	mb.capacity = 2; /* 2 * capacity = 4: the delivered ones go on the next adds */
	add_n(&mb, 3, false);
	CU_ASSERT_EQUAL(mb.first, 3);
	CU_ASSERT_EQUAL(mb.count, 4);
	CU_ASSERT_EQUAL(mb.mask, 3); /* full ring, held window 3..6 wraps past slot 0 */
	CU_ASSERT_NOT_EQUAL(mb.first & mb.mask, 0);
	mb.capacity = 1000;
	add_n(&mb, 200, false);
	for (uint64_t seq = 3; seq <= mb.last; seq++)
		CU_ASSERT_TRUE_FATAL(seq_is_appended(&mb, seq));
	CU_ASSERT_EQUAL(mb.count, 204);
	CU_ASSERT_EQUAL(mb.first, 3);
	mailbox_free(&mb);
}

#define BIG_SEQ (UINT64_C(1) << 52)

static void test_big_seq_fits(void)
{
	struct mailbox mb;

	mailbox_init(&mb, 4);
	mb.last = mb.acked = BIG_SEQ; /* as if that many were added and delivered */
	CU_ASSERT_EQUAL(add(&mb, "{\"k\":\"v\"}", true), (int64_t)BIG_SEQ + 1);
	CU_ASSERT_STRING_EQUAL(mailbox_get(&mb, BIG_SEQ + 1)->params,
			       "{\"k\":\"v\",\"seq\":4503599627370497}");
	CU_ASSERT_TRUE(seq_is_appended(&mb, BIG_SEQ + 1));
	mailbox_free(&mb);
	/* The largest seq the int64 return can carry: 19 digits still fit. */
	mailbox_init(&mb, 4);
	mb.last = mb.acked = INT64_MAX - 1;
	CU_ASSERT_EQUAL(add(&mb, "{\"k\":\"v\"}", false), INT64_MAX);
	CU_ASSERT_STRING_EQUAL(mailbox_get(&mb, INT64_MAX)->params,
			       "{\"k\":\"v\",\"seq\":9223372036854775807}");
	CU_ASSERT_EQUAL(mailbox_get(&mb, INT64_MAX)->params_len, 35);
	mailbox_free(&mb);
}

static void test_free_twice_and_reuse(void)
{
	struct mailbox mb;

	mailbox_init(&mb, 4);
	mailbox_free(&mb); /* never added */
	mailbox_init(&mb, 4);
	add_n(&mb, 9, false);
	mailbox_free(&mb);
	mailbox_free(&mb);
	CU_ASSERT_PTR_NULL(mb.ring);
	CU_ASSERT_EQUAL(mb.count, 0);
}

static void test_zero_capacity_holds_one(void)
{
	struct mailbox mb;

	mailbox_init(&mb, 0);
	CU_ASSERT_EQUAL(mb.capacity, 1);
	CU_ASSERT_EQUAL(add(&mb, "{}", true), 1);
	CU_ASSERT_EQUAL(add(&mb, "{}", true), -ENOSPC);
	mailbox_ack(&mb, 1);
	CU_ASSERT_EQUAL(add(&mb, "{}", true), 2);
	CU_ASSERT_PTR_NOT_NULL(mailbox_get(&mb, 1)); /* one delivered kept for replay */
	CU_ASSERT_EQUAL(add(&mb, "{}", true), -ENOSPC);
	mailbox_ack(&mb, 2);
	CU_ASSERT_EQUAL(add(&mb, "{}", true), 3); /* 2 held: 1 goes */
	CU_ASSERT_PTR_NULL(mailbox_get(&mb, 1));
	CU_ASSERT_PTR_NOT_NULL(mailbox_get(&mb, 2));
	CU_ASSERT_EQUAL(mb.count, 2);
	mailbox_free(&mb);
}

/* wire_end starts at 0, is writable through mailbox_get and survives ring growth. */
/* A byte window keeps small delivered events past 2x capacity, counting their bytes; big
 * ones go sooner; nothing is held past MAILBOX_MAX_EVENTS. */
static void test_byte_window(void)
{
	struct mailbox mb;
	size_t each;
	uint64_t n = 0;

	mailbox_init(&mb, 4);
	mailbox_set_window(&mb, 1000);
	/* Deliver as we go: small events (about 20 bytes) pile up to the window. */
	for (int i = 0; i < 200; i++) {
		n = (uint64_t)add(&mb, "{\"a\":1}", true);
		mailbox_ack(&mb, n);
	}
	each = mailbox_get(&mb, n)->params_len;
	CU_ASSERT_TRUE(mb.count > 8);
	CU_ASSERT_TRUE(mb.acked_bytes <= 1000 + each);
	CU_ASSERT_TRUE(mb.acked_bytes > 1000 - 2 * each);
	CU_ASSERT_EQUAL(mb.acked_bytes, (size_t)mb.count * each);
	/* The oldest held is the one just after what the window had to drop. */
	CU_ASSERT_EQUAL(mb.first, n - mb.count + 1);
	mailbox_free(&mb);

	/* Without a window, 2x capacity as before. */
	mailbox_init(&mb, 4);
	for (int i = 0; i < 50; i++)
		mailbox_ack(&mb, (uint64_t)add(&mb, "{\"a\":1}", true));
	CU_ASSERT_TRUE(mb.count <= 8);
	mailbox_free(&mb);

	/* A huge window is still capped in events. */
	mailbox_init(&mb, 16);
	mailbox_set_window(&mb, 64u << 20);
	for (int i = 0; i < MAILBOX_MAX_EVENTS + 100; i++)
		mailbox_ack(&mb, (uint64_t)add(&mb, "{}", true));
	CU_ASSERT_EQUAL(mb.count, MAILBOX_MAX_EVENTS);
	mailbox_free(&mb);
}

static void test_wire_end(void)
{
	struct mailbox mb;
	struct mailbox_event *ev;

	mailbox_init(&mb, 100);
	add_n(&mb, 4, false);
	for (uint64_t seq = 1; seq <= 4; seq++) {
		ev = mailbox_get(&mb, seq);
		CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
		CU_ASSERT_EQUAL(ev->wire_end, 0);
		ev->wire_end = seq * 100;
	}
	CU_ASSERT_EQUAL(mb.mask, 3);
	add_n(&mb, 20, false); /* grows twice */
	CU_ASSERT_TRUE(mb.mask + 1 >= 24);
	for (uint64_t seq = 1; seq <= 4; seq++)
		CU_ASSERT_EQUAL(mailbox_get(&mb, seq)->wire_end, seq * 100);
	for (uint64_t seq = 5; seq <= 24; seq++)
		CU_ASSERT_EQUAL(mailbox_get(&mb, seq)->wire_end, 0);
	/* Setting wire_end is not delivery. */
	CU_ASSERT_EQUAL(mailbox_unread(&mb), 24);
	mailbox_free(&mb);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "add assigns seq from 1", test_add_assigns_seq_from_one },
		{ "method is copied", test_method_is_kept },
		{ "empty object gets seq", test_empty_object_gets_seq },
		{ "params need not be NUL-terminated", test_params_not_nul_terminated },
		{ "object with whitespace stays valid JSON", test_whitespace_object_stays_valid_json },
		{ "non-object params -EINVAL", test_non_object_params_refused },
		{ "refused only at capacity undelivered", test_refused_only_when_capacity_undelivered },
		{ "refusal ignores delivered ones held", test_refusal_ignores_delivered_held },
		{ "unrefusable always gets in", test_unrefusable_always_gets_in },
		{ "delivered evicted first", test_delivered_evicted_first },
		{ "delivered kept below 2x capacity", test_delivered_kept_below_twice_capacity },
		{ "eviction stops at undelivered", test_eviction_stops_at_undelivered },
		{ "full of delivered accepts refusable", test_full_of_delivered_accepts_refusable },
		{ "ack monotonic and bounded", test_ack_monotonic_and_bounded },
		{ "unread counts", test_unread_counts },
		{ "next_after", test_next_after },
		{ "ring wraps around", test_wraps_around },
		{ "ring grows keeping order", test_grows_keeping_order },
		{ "refusable ring bounded by 2x capacity", test_refusable_ring_bounded },
		{ "ring grows after wrap", test_grows_after_wrap },
		{ "big seq fits", test_big_seq_fits },
		{ "free twice and reuse", test_free_twice_and_reuse },
		{ "zero capacity holds one", test_zero_capacity_holds_one },
		{ "wire_end", test_wire_end },
		{ "byte window", test_byte_window },
		{ NULL, NULL },
	};
	static const struct unit_suite suites[] = {
		{ "mailbox", tests, NULL, NULL, NULL, NULL },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};

	jsonrpc_init(); /* the daemon's cJSON hooks, as main() installs them */
	return unit_main(suites);
}
