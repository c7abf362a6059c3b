#include <stdint.h>

#include "net/linger.h"
#include "unit.h"

/* Who lingers: only a connection whose peer may still send, under the ceiling, while serving. */
static void test_wanted(void)
{
	CU_ASSERT_TRUE(linger_wanted(false, false, 1, 16));
	CU_ASSERT_TRUE(linger_wanted(false, false, 16, 16)); /* at the ceiling: counted already */
	CU_ASSERT_FALSE(linger_wanted(false, false, 17, 16)); /* let in only to be refused */
	CU_ASSERT_FALSE(linger_wanted(true, false, 1, 16));   /* the peer sent its FIN */
	CU_ASSERT_FALSE(linger_wanted(false, true, 1, 16));   /* stopping */
}

/* At the default head timeout the bounds are nginx's: 5 s idle, 30 s in all. */
static void test_default_bounds(void)
{
	struct linger_state lg;

	linger_start(&lg, 10000, 1000);
	CU_ASSERT_EQUAL(linger_deadline(&lg), 1000 + LINGER_IDLE_MS);
	CU_ASSERT_FALSE(linger_expired(&lg, 1000 + LINGER_IDLE_MS - 1));
	CU_ASSERT_TRUE(linger_expired(&lg, 1000 + LINGER_IDLE_MS));
	/* Data moves the idle bound on, never past the total one. */
	CU_ASSERT_TRUE(linger_data(&lg, 100, 4000));
	CU_ASSERT_EQUAL(linger_deadline(&lg), 4000 + LINGER_IDLE_MS);
	CU_ASSERT_TRUE(linger_data(&lg, 100, 28000));
	CU_ASSERT_EQUAL(linger_deadline(&lg), 1000 + LINGER_TOTAL_MS);
	CU_ASSERT_TRUE(linger_expired(&lg, 1000 + LINGER_TOTAL_MS));
}

/* A long head timeout does not lengthen them; a short one shortens both. */
static void test_bounds_follow_head_timeout(void)
{
	struct linger_state lg;

	linger_start(&lg, 3600 * 1000, 0);
	CU_ASSERT_EQUAL(linger_deadline(&lg), LINGER_IDLE_MS);
	CU_ASSERT_TRUE(linger_data(&lg, 1, 29000));
	CU_ASSERT_EQUAL(linger_deadline(&lg), LINGER_TOTAL_MS);

	linger_start(&lg, 1000, 0);
	CU_ASSERT_EQUAL(linger_deadline(&lg), 1000);
	CU_ASSERT_TRUE(linger_data(&lg, 1, 2500));
	CU_ASSERT_EQUAL(linger_deadline(&lg), 3000);

	linger_start(&lg, 100, 50);
	CU_ASSERT_EQUAL(linger_deadline(&lg), 150);
	CU_ASSERT_TRUE(linger_data(&lg, 1, 300));
	CU_ASSERT_EQUAL(linger_deadline(&lg), 350);
}

/* At most LINGER_MAX_BYTES are discarded; the chunk that passes it says close. */
static void test_byte_bound(void)
{
	struct linger_state lg;

	linger_start(&lg, 10000, 0);
	CU_ASSERT_TRUE(linger_data(&lg, LINGER_MAX_BYTES - 10, 1));
	CU_ASSERT_TRUE(linger_data(&lg, 10, 2));
	CU_ASSERT_FALSE(linger_data(&lg, 1, 3));
	CU_ASSERT_FALSE(linger_data(&lg, 1, 4));

	linger_start(&lg, 10000, 0);
	CU_ASSERT_FALSE(linger_data(&lg, (size_t)LINGER_MAX_BYTES + 1, 1));
	/* A new linger starts with the whole allowance. */
	linger_start(&lg, 10000, 0);
	CU_ASSERT_TRUE(linger_data(&lg, LINGER_MAX_BYTES, 1));
}

/* A reset only for a client cut off while sending; a FIN after the idle bound. */
static void test_reset(void)
{
	struct linger_state lg;

	linger_start(&lg, 10000, 0);
	CU_ASSERT_FALSE(linger_reset(&lg, LINGER_IDLE_MS)); /* idle from the start */
	CU_ASSERT_TRUE(linger_reset(&lg, LINGER_IDLE_MS - 1));
	/* Still sending when the total bound comes. */
	for (uint64_t t = 1000; t < LINGER_TOTAL_MS; t += 1000)
		CU_ASSERT_TRUE(linger_data(&lg, 10, t));
	CU_ASSERT_TRUE(linger_expired(&lg, LINGER_TOTAL_MS));
	CU_ASSERT_TRUE(linger_reset(&lg, LINGER_TOTAL_MS));
	/* Fell idle before it. */
	linger_start(&lg, 10000, 0);
	CU_ASSERT_TRUE(linger_data(&lg, 10, 1000));
	CU_ASSERT_TRUE(linger_expired(&lg, 1000 + LINGER_IDLE_MS));
	CU_ASSERT_FALSE(linger_reset(&lg, 1000 + LINGER_IDLE_MS));
	/* Over the byte bound: at once. */
	linger_start(&lg, 10000, 0);
	CU_ASSERT_FALSE(linger_data(&lg, (size_t)LINGER_MAX_BYTES + 1, 1));
	CU_ASSERT_TRUE(linger_reset(&lg, 1));
	CU_ASSERT_TRUE(linger_reset(&lg, 1 + LINGER_IDLE_MS));
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "who lingers", test_wanted },
		{ "default bounds: 5 s idle, 30 s in all", test_default_bounds },
		{ "bounds follow a shorter head timeout", test_bounds_follow_head_timeout },
		{ "byte bound", test_byte_bound },
		{ "reset only when cut off while sending", test_reset },
		{ NULL, NULL },
	};
	static const struct unit_suite suites[] = {
		{ "linger", tests, NULL, NULL, NULL, NULL },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};

	return unit_main(suites);
}
