/* daemon/cluster/wake: subscribe on the first waiter, unsubscribe after the last, wake-ups
 * delivered once to each waiter (who may remove anyone meanwhile), the re-subscribe walk,
 * the cap, malformed messages. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/wake.h"
#include "unit.h"

#define ID1 "AAAAAAAAAAAAAAAAAAAAA1"
#define ID2 "BBBBBBBBBBBBBBBBBBBBB2"
#define CH1 "{mcpchat}:wake:" ID1
#define CH2 "{mcpchat}:wake:" ID2

static struct cluster_wake *wk;

/* A waiter that records its wake-ups and may act on others when woken. */
struct tw {
	struct cluster_wake_waiter w;
	int woken;
	uint64_t seq;
	bool end;
	char chat[32];
	char method[32], params[64]; /* the event the doorbell carried; "" none */
	struct tw *remove; /* removes this one (may be itself) when woken */
	struct tw *add;    /* adds this one to the same chat when woken */
	int unsub;         /* remove()'s answers inside the callback */
};

static void on_wake(struct cluster_wake_waiter *w, const char *chat_id, uint64_t seq, bool end,
		    const struct cluster_wake_event *ev)
{
	struct tw *t = w->ctx;
	char ch[CLUSTER_WAKE_CHANNEL_MAX];

	t->woken++;
	t->seq = seq;
	t->end = end;
	snprintf(t->chat, sizeof(t->chat), "%s", chat_id);
	t->method[0] = t->params[0] = '\0';
	if (ev) {
		snprintf(t->method, sizeof(t->method), "%.*s", (int)ev->method_len, ev->method);
		snprintf(t->params, sizeof(t->params), "%.*s", (int)ev->params_len, ev->params);
	}
	if (t->remove)
		t->unsub += cluster_wake_remove(wk, &t->remove->w, ch);
	if (t->add)
		CU_ASSERT(cluster_wake_add(wk, chat_id, &t->add->w, on_wake, t->add, ch) >= 0);
}

static int add(const char *id, struct tw *t)
{
	char ch[CLUSTER_WAKE_CHANNEL_MAX];

	return cluster_wake_add(wk, id, &t->w, on_wake, t, ch);
}

static void setup(void)
{
	wk = cluster_wake_new("{mcpchat}", 4);
}

static void teardown(void)
{
	cluster_wake_free(wk);
	wk = NULL;
}

static void test_refcount(void)
{
	struct tw a = { 0 }, b = { 0 }, c = { 0 };
	char ch[CLUSTER_WAKE_CHANNEL_MAX] = "";

	CU_ASSERT_PTR_NOT_NULL_FATAL(wk);
	CU_ASSERT_EQUAL(cluster_wake_add(wk, ID1, &a.w, on_wake, &a, ch), 1);
	CU_ASSERT_STRING_EQUAL(ch, CH1);
	ch[0] = '\0';
	CU_ASSERT_EQUAL(cluster_wake_add(wk, ID1, &b.w, on_wake, &b, ch), 0);
	CU_ASSERT_STRING_EQUAL(ch, ""); /* nothing to send */
	CU_ASSERT_EQUAL(cluster_wake_add(wk, ID1, &b.w, on_wake, &b, ch), -EALREADY);
	CU_ASSERT_EQUAL(cluster_wake_add(wk, ID2, &c.w, on_wake, &c, ch), 1);
	CU_ASSERT_STRING_EQUAL(ch, CH2);
	CU_ASSERT_EQUAL(cluster_wake_count(wk), 2);
	CU_ASSERT_EQUAL(cluster_wake_remove(wk, &a.w, ch), 0);
	CU_ASSERT_FALSE(cluster_wake_registered(&a.w));
	CU_ASSERT_EQUAL(cluster_wake_remove(wk, &a.w, ch), 0); /* twice: harmless */
	CU_ASSERT_EQUAL(cluster_wake_remove(wk, &b.w, ch), 1);
	CU_ASSERT_STRING_EQUAL(ch, CH1);
	CU_ASSERT_EQUAL(cluster_wake_count(wk), 1);
	CU_ASSERT_EQUAL(add(ID1, &a), 1); /* listened to again: subscribe again */
	CU_ASSERT_EQUAL(cluster_wake_remove(wk, &a.w, ch), 1);
	CU_ASSERT_EQUAL(cluster_wake_remove(wk, &c.w, ch), 1);
	CU_ASSERT_STRING_EQUAL(ch, CH2);
	CU_ASSERT_EQUAL(cluster_wake_count(wk), 0);
	CU_ASSERT_EQUAL(add("short", &a), -EINVAL);
	CU_ASSERT_EQUAL(add(ID1 "x", &a), -EINVAL);
	CU_ASSERT_EQUAL(add("AAAAAAAAAAAAAAAAAAAA:*", &a), -EINVAL);
	CU_ASSERT_EQUAL(cluster_wake_channel(wk, ID2, ch), 0);
	CU_ASSERT_STRING_EQUAL(ch, CH2);
	CU_ASSERT_PTR_NULL(cluster_wake_new("", 4));
}

static void test_deliver(void)
{
	struct tw a = { 0 }, b = { 0 }, c = { 0 };

	add(ID1, &a);
	add(ID1, &b);
	add(ID2, &c);
	CU_ASSERT_EQUAL(cluster_wake_deliver(wk, CH1, strlen(CH1), "42", 2), 2);
	CU_ASSERT_TRUE(a.woken == 1 && b.woken == 1 && c.woken == 0);
	CU_ASSERT_TRUE(a.seq == 42 && !a.end);
	CU_ASSERT_STRING_EQUAL(a.chat, ID1);
	CU_ASSERT_EQUAL(cluster_wake_deliver(wk, CH2, strlen(CH2), "end", 3), 1);
	CU_ASSERT_TRUE(c.end && c.seq == 0);
	CU_ASSERT_TRUE(cluster_wake_registered(&c.w)); /* the waiter decides when to go */
	CU_ASSERT_EQUAL(cluster_wake_deliver(wk, CH1, strlen(CH1), "18446744073709551615", 20), 2);
	CU_ASSERT_EQUAL(a.seq, UINT64_MAX);
	/* seq:ms (the publish time, for the node's lag metric) is a seq too. */
	CU_ASSERT_EQUAL(cluster_wake_deliver(wk, CH1, strlen(CH1), "43:1760000000123", 16), 2);
	CU_ASSERT_EQUAL(a.seq, 43);
	CU_ASSERT_STRING_EQUAL(a.method, "");
	/* seq:ms:method\nparams: the event itself, for a call waiting for exactly that seq. */
	{
		static const char p[] = "44:1760000000124:message.received\n{\"a\":\"x:y\\n\",\"seq\":44}";

		CU_ASSERT_EQUAL(cluster_wake_deliver(wk, CH1, strlen(CH1), p, strlen(p)), 2);
		CU_ASSERT_EQUAL(a.seq, 44);
		CU_ASSERT_STRING_EQUAL(a.method, "message.received");
		CU_ASSERT_STRING_EQUAL(a.params, "{\"a\":\"x:y\\n\",\"seq\":44}");
		CU_ASSERT_STRING_EQUAL(b.method, "message.received");
	}
	/* end never carries one */
	CU_ASSERT_EQUAL(cluster_wake_deliver(wk, CH1, strlen(CH1), "end", 3), 2);
	CU_ASSERT_TRUE(a.end && a.method[0] == '\0');
	/* nobody listens: 0, not an error */
	CU_ASSERT_EQUAL(cluster_wake_deliver(wk, "{mcpchat}:wake:CCCCCCCCCCCCCCCCCCCCC3", 37, "1", 1), 0);
}

static void test_deliver_malformed(void)
{
	struct tw a = { 0 };
	static const char *const bad_payloads[] = { "", "0", "01", "-1", "+1", "1x", "End", "end ",
						    "18446744073709551616", "99999999999999999999",
						    "1:", ":1", "1:x", "1:2:3", "0:1", "1:01", "end:1",
						    "1:2:", "1:2:m", "1:2:m\n", "1:2:\n{}", "1:2:m\n{",
						    "1:2:m\nx}", "1::m\n{}", "1:2:m\n[]" };

	add(ID1, &a);
	for (size_t i = 0; i < sizeof(bad_payloads) / sizeof(bad_payloads[0]); i++)
		CHECKF(cluster_wake_deliver(wk, CH1, strlen(CH1), bad_payloads[i],
					    strlen(bad_payloads[i])) == -EPROTO, "\"%s\"", bad_payloads[i]);
	CU_ASSERT_EQUAL(cluster_wake_deliver(wk, CH1, strlen(CH1), "1\0", 2), -EPROTO);
	CU_ASSERT_EQUAL(cluster_wake_deliver(wk, CH1, strlen(CH1), NULL, 0), -EPROTO);
	CU_ASSERT_EQUAL(cluster_wake_deliver(wk, CH1, strlen(CH1) - 1, "1", 1), -EPROTO);
	CU_ASSERT_EQUAL(cluster_wake_deliver(wk, "{other}:wake:" ID1, 35, "1", 1), -EPROTO);
	CU_ASSERT_EQUAL(cluster_wake_deliver(wk, "{mcpchat}:woke:" ID1, 37, "1", 1), -EPROTO);
	CU_ASSERT_EQUAL(cluster_wake_deliver(wk, "{mcpchat}:wake:AAAAAAAAAAAAAAAAAAAAA\0", 37, "1", 1), -EPROTO);
	CU_ASSERT_EQUAL(cluster_wake_deliver(wk, CH1 "x", strlen(CH1) + 1, "1", 1), -EPROTO);
	CU_ASSERT_EQUAL(a.woken, 0);
}

/* Callbacks that remove themselves, others already woken, others not yet woken, and add. */
static void test_reentrant(void)
{
	struct tw a = { 0 }, b = { 0 }, c = { 0 }, d = { 0 }, e = { 0 };

	add(ID1, &a);
	add(ID1, &b);
	add(ID1, &c);
	add(ID1, &d);
	a.remove = &a; /* itself */
	b.remove = &d; /* one not woken yet: d never is */
	c.remove = &b; /* one woken already */
	c.add = &e;    /* added during the delivery: waits for the next */
	CU_ASSERT_EQUAL(cluster_wake_chat(wk, ID1, 7, false), 3);
	CU_ASSERT_TRUE(a.woken == 1 && b.woken == 1 && c.woken == 1 && d.woken == 0 && e.woken == 0);
	CU_ASSERT_TRUE(!cluster_wake_registered(&a.w) && !cluster_wake_registered(&b.w) &&
		       cluster_wake_registered(&c.w) && !cluster_wake_registered(&d.w) &&
		       cluster_wake_registered(&e.w));
	CU_ASSERT_EQUAL(a.unsub + b.unsub + c.unsub, 0);
	c.add = NULL;
	c.remove = &e;
	e.remove = &c;
	CU_ASSERT_EQUAL(cluster_wake_chat(wk, ID1, 8, false), 1); /* c removes e before e's turn */
	CU_ASSERT_TRUE(c.woken == 2 && e.woken == 0);
	/* c's turn again: it removes e (gone already) — then the last one removes itself */
	c.remove = &c;
	CU_ASSERT_EQUAL(cluster_wake_chat(wk, ID1, 9, false), 1);
	CU_ASSERT_EQUAL(c.unsub, 1); /* the last waiter gone inside the callback: unsubscribe */
	CU_ASSERT_EQUAL(cluster_wake_count(wk), 0);
	CU_ASSERT_EQUAL(cluster_wake_chat(wk, ID1, 10, false), 0);
}

/* Everybody in the batch removed by the first callback: the record goes, nothing is touched. */
static void test_remove_all_in_callback(void)
{
	struct tw a = { 0 }, b = { 0 };

	add(ID1, &a);
	add(ID1, &b);
	a.remove = &b;
	CU_ASSERT_EQUAL(cluster_wake_chat(wk, ID1, 1, false), 1);
	a.remove = &a;
	CU_ASSERT_EQUAL(cluster_wake_chat(wk, ID1, 2, false), 1);
	CU_ASSERT_EQUAL(a.unsub, 1);
	CU_ASSERT_EQUAL(cluster_wake_count(wk), 0);
}

static void collect(void *ctx, const char *chat_id, const char *channel)
{
	int *seen = ctx;

	if (strcmp(chat_id, ID1) == 0 && strcmp(channel, CH1) == 0)
		seen[0]++;
	else if (strcmp(chat_id, ID2) == 0 && strcmp(channel, CH2) == 0)
		seen[1]++;
	else
		seen[2]++;
}

static void test_resubscribe_and_cap(void)
{
	struct tw t[6] = { 0 };
	int seen[3] = { 0 };
	char id[32];

	add(ID1, &t[0]);
	add(ID1, &t[1]);
	add(ID2, &t[2]);
	CU_ASSERT_EQUAL(cluster_wake_each(wk, collect, seen), 2);
	CU_ASSERT_TRUE(seen[0] == 1 && seen[1] == 1 && seen[2] == 0);
	for (int i = 3; i < 5; i++) {
		snprintf(id, sizeof(id), "CCCCCCCCCCCCCCCCCCCCC%d", i);
		CU_ASSERT_EQUAL(add(id, &t[i]), 1);
	}
	CU_ASSERT_EQUAL(cluster_wake_count(wk), 4);
	CU_ASSERT_EQUAL(add("DDDDDDDDDDDDDDDDDDDDDD", &t[5]), -ENOSPC);
	CU_ASSERT_FALSE(cluster_wake_registered(&t[5].w));
	CU_ASSERT_EQUAL(add(ID1, &t[5]), 0); /* a listened chat takes more waiters */
	/* teardown frees the registry with waiters still in it: they are left unlinked */
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "subscribe on the first, unsubscribe after the last", test_refcount },
		{ "deliver a seq or end to the chat's waiters", test_deliver },
		{ "malformed channels and payloads", test_deliver_malformed },
		{ "callbacks remove and add waiters", test_reentrant },
		{ "every waiter removed in a callback", test_remove_all_in_callback },
		{ "re-subscribe walk and the cap", test_resubscribe_and_cap },
		{ NULL, NULL },
	};
	static const struct unit_suite suites[] = {
		{ "cluster_wake", tests, NULL, NULL, setup, teardown },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};

	return unit_main(suites);
}
