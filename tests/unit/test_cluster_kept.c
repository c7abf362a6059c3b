/* daemon/cluster/kept: events kept in seq order without gaps, their bounds (count, bytes,
 * the node-wide budget), copies after a seq, moves between lists with their charge. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/kept.h"
#include "unit.h"

static int push(struct cluster_kept *k, uint64_t seq, const char *params)
{
	return cluster_kept_push(k, seq, "message.received", 16, params, strlen(params));
}

static void test_order(void)
{
	struct cluster_kept k;
	const char *m, *p;
	uint64_t seq;

	cluster_kept_init(&k, NULL);
	CU_ASSERT_EQUAL(cluster_kept_last(&k), 0);
	CU_ASSERT_EQUAL(push(&k, 7, "{\"a\":1}"), 0);
	CU_ASSERT_EQUAL(push(&k, 9, "{}"), -ERANGE); /* a gap */
	CU_ASSERT_EQUAL(push(&k, 7, "{}"), -ERANGE); /* again */
	CU_ASSERT_EQUAL(push(&k, 8, "{\"b\":2}"), 0);
	CU_ASSERT_EQUAL(k.n, 2);
	CU_ASSERT_EQUAL(cluster_kept_last(&k), 8);
	cluster_kept_get(&k, 1, &seq, &m, &p);
	CU_ASSERT_EQUAL(seq, 8);
	CU_ASSERT_STRING_EQUAL(m, "message.received");
	CU_ASSERT_STRING_EQUAL(p, "{\"b\":2}");
	CU_ASSERT_EQUAL(cluster_kept_push(&k, 9, "x", 1, "a\0b", 3), -EINVAL);
	CU_ASSERT_EQUAL(cluster_kept_push(&k, 9, "x\0", 2, "{}", 2), -EINVAL);
	CU_ASSERT_EQUAL(k.n, 2);
	cluster_kept_clear(&k);
	CU_ASSERT_EQUAL(k.n, 0);
	CU_ASSERT_EQUAL(push(&k, 100, "{}"), 0); /* empty again: any seq starts it */
	CU_ASSERT_EQUAL(k.first, 100);
	cluster_kept_clear(&k);
}

static void test_bounds(void)
{
	struct cluster_kept_budget budget = { 0, 4096 };
	struct cluster_kept k, other;
	char *big = malloc(CLUSTER_KEPT_BYTES);
	int i;

	REQUIRE(big);
	cluster_kept_init(&k, NULL);
	for (i = 0; i < CLUSTER_KEPT_EVENTS; i++)
		CU_ASSERT_EQUAL(push(&k, 1 + i, "{}"), 0);
	CU_ASSERT_EQUAL(push(&k, 1 + i, "{}"), -ENOSPC);
	cluster_kept_clear(&k);
	memset(big, 'x', CLUSTER_KEPT_BYTES);
	CU_ASSERT_EQUAL(cluster_kept_push(&k, 1, "m", 1, big, CLUSTER_KEPT_BYTES - 3), 0);
	CU_ASSERT_EQUAL(cluster_kept_push(&k, 2, "m", 1, "", 0), -ENOSPC); /* 64 KiB each */
	cluster_kept_clear(&k);

	/* the budget: what is allocated is charged, and freed when cleared */
	cluster_kept_init(&k, &budget);
	cluster_kept_init(&other, &budget);
	CU_ASSERT_EQUAL(cluster_kept_push(&k, 1, "m", 1, big, 3000), 0);
	CU_ASSERT(budget.used >= 3002 && budget.used <= 4096);
	CU_ASSERT_EQUAL(cluster_kept_push(&other, 1, "m", 1, big, 3000), -ENOSPC);
	CU_ASSERT_EQUAL(other.n, 0);
	cluster_kept_clear(&k);
	CU_ASSERT_EQUAL(budget.used, 0);
	CU_ASSERT_EQUAL(cluster_kept_push(&other, 1, "m", 1, big, 3000), 0);
	cluster_kept_clear(&other);
	CU_ASSERT_EQUAL(budget.used, 0);
out:
	free(big);
}

static void test_copy_and_move(void)
{
	struct cluster_kept_budget budget = { 0, 1 << 20 };
	struct cluster_kept a, b, c;
	const char *m, *p;
	uint64_t seq;

	cluster_kept_init(&a, &budget);
	cluster_kept_init(&b, NULL);
	cluster_kept_init(&c, &budget);
	for (int i = 0; i < 5; i++)
		CU_ASSERT_EQUAL(push(&a, 10 + i, i % 2 ? "{\"odd\":true}" : "{}"), 0);
	CU_ASSERT_EQUAL(cluster_kept_copy_after(&b, &a, 11), 3);
	CU_ASSERT_EQUAL(b.first, 12);
	CU_ASSERT_EQUAL(cluster_kept_last(&b), 14);
	cluster_kept_get(&b, 1, &seq, &m, &p);
	CU_ASSERT_EQUAL(seq, 13);
	CU_ASSERT_STRING_EQUAL(p, "{\"odd\":true}");
	CU_ASSERT_EQUAL(cluster_kept_copy_after(&b, &a, 14), 0);
	CU_ASSERT_EQUAL(b.n, 0);
	CU_ASSERT_EQUAL(cluster_kept_copy_after(&b, &a, 0), 5);
	/* a's bytes move to c with their charge; a is left empty */
	{
		size_t used = budget.used;

		cluster_kept_move(&c, &a);
		CU_ASSERT_EQUAL(budget.used, used);
		CU_ASSERT_EQUAL(a.n, 0);
		CU_ASSERT_EQUAL(c.n, 5);
		CU_ASSERT_EQUAL(c.first, 10);
		/* into a list charged to nothing: the charge goes */
		cluster_kept_move(&b, &c);
		CU_ASSERT_EQUAL(budget.used, 0);
		CU_ASSERT_EQUAL(b.n, 5);
	}
	cluster_kept_clear(&a);
	cluster_kept_clear(&b);
	cluster_kept_clear(&c);
	CU_ASSERT_EQUAL(budget.used, 0);
}

static void ring(struct cluster_kept *k, uint64_t seq, bool with_event)
{
	cluster_kept_ring(k, seq, with_event ? "m" : NULL, 1, "{}", 2);
}

/* The newest run: in line it grows, a gap starts it again, a ring without its event empties
 * it, a late one changes nothing, a full one forgets its oldest. */
static void test_ring(void)
{
	struct cluster_kept k;

	cluster_kept_init(&k, NULL);
	ring(&k, 3, true);
	ring(&k, 4, true);
	CU_ASSERT_TRUE(k.first == 3 && k.n == 2);
	ring(&k, 4, true);
	ring(&k, 2, false); /* late: nothing */
	CU_ASSERT_TRUE(k.first == 3 && k.n == 2);
	ring(&k, 7, true); /* 5, 6 missed */
	CU_ASSERT_TRUE(k.first == 7 && k.n == 1);
	ring(&k, 8, false);
	CU_ASSERT_EQUAL(k.n, 0);
	for (uint64_t s = 10; s < 10 + CLUSTER_KEPT_EVENTS + 5; s++)
		ring(&k, s, true);
	CU_ASSERT_EQUAL(k.n, CLUSTER_KEPT_EVENTS);
	CU_ASSERT_EQUAL(cluster_kept_last(&k), 10 + CLUSTER_KEPT_EVENTS + 4);
	CU_ASSERT_EQUAL(k.first, 15);
	cluster_kept_clear(&k);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "seq order, no gaps, no NUL", test_order },
		{ "count, size and node-wide budget", test_bounds },
		{ "copies after a seq, moves with the charge", test_copy_and_move },
		{ "the newest run of rings", test_ring },
		{ NULL, NULL },
	};
	static const struct unit_suite suites[] = {
		{ "cluster_kept", tests, NULL, NULL, NULL, NULL },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};

	return unit_main(suites);
}
