#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/timer.h"
#include "unit.h"

#define NRANDOM 10000

/* A timer with what the tests need to see: when it fired and what its callback does. */
struct tt {
	struct timer t;
	int id;
	uint64_t due;       /* the deadline the test expects it to fire at */
	uint64_t fired_at;  /* the clock when it fired */
	int fires;
	struct tt *other;   /* for callbacks that act on another timer */
	uint64_t rearm_due; /* for callbacks that re-arm */
	int rearms_left;
};

static struct {
	struct timer_heap h;
	uint64_t now;
	struct tt *order[NRANDOM + 16];
	size_t nfired;
} W;

static int setup(void)
{
	memset(&W, 0, sizeof(W));
	timer_heap_init(&W.h);
	return 0;
}

static void teardown(void)
{
	timer_heap_free(&W.h);
}

static struct tt *tt_of(struct timer *t)
{
	return container_of(t, struct tt, t);
}

static void record(struct tt *x)
{
	x->fires++;
	x->fired_at = W.now;
	if (W.nfired < sizeof(W.order) / sizeof(W.order[0]))
		W.order[W.nfired] = x;
	W.nfired++;
}

static void on_fire(struct timer *t)
{
	CU_ASSERT_FALSE(timer_armed(t));
	record(tt_of(t));
}

static void on_fire_cancel_other(struct timer *t)
{
	struct tt *x = tt_of(t);

	record(x);
	timer_cancel(&W.h, &x->other->t);
}

static void on_fire_arm_other(struct timer *t)
{
	struct tt *x = tt_of(t);

	record(x);
	timer_arm(&W.h, &x->other->t, x->rearm_due);
}

static void on_fire_rearm_self(struct timer *t)
{
	struct tt *x = tt_of(t);

	record(x);
	if (x->rearms_left-- > 0) {
		timer_arm(&W.h, t, x->rearm_due);
	}
}

static void tt_init(struct tt *x, int id, timer_fn fn)
{
	memset(x, 0, sizeof(*x));
	x->id = id;
	timer_init(&x->t, fn);
}

static void run_at(uint64_t now)
{
	W.now = now;
	timer_run(&W.h, now);
}

static void test_init_state(void)
{
	struct tt a;

	setup();
	tt_init(&a, 1, on_fire);
	CU_ASSERT_FALSE(timer_armed(&a.t));
	CU_ASSERT_EQUAL(timer_next(&W.h), UINT64_MAX);
	run_at(UINT64_MAX - 1);
	CU_ASSERT_EQUAL(W.nfired, 0);
	timer_cancel(&W.h, &a.t); /* cancelling an unarmed timer is harmless */
	CU_ASSERT_FALSE(timer_armed(&a.t));
	teardown();
}

static void test_fires_at_due(void)
{
	struct tt a;

	setup();
	tt_init(&a, 1, on_fire);
	timer_arm(&W.h, &a.t, 100);
	CU_ASSERT_TRUE(timer_armed(&a.t));
	CU_ASSERT_EQUAL(timer_next(&W.h), 100);
	run_at(99);
	CU_ASSERT_EQUAL(a.fires, 0);
	CU_ASSERT_TRUE(timer_armed(&a.t));
	run_at(100);
	CU_ASSERT_EQUAL(a.fires, 1);
	CU_ASSERT_EQUAL(a.fired_at, 100);
	CU_ASSERT_FALSE(timer_armed(&a.t));
	CU_ASSERT_EQUAL(timer_next(&W.h), UINT64_MAX);
	run_at(1000);
	CU_ASSERT_EQUAL(a.fires, 1); /* one-shot */
	teardown();
}

static void test_firing_order(void)
{
	static const uint64_t due[] = { 50, 10, 40, 30, 20, 10, 60 };
	struct tt x[7];

	setup();
	for (int i = 0; i < 7; i++) {
		tt_init(&x[i], i, on_fire);
		timer_arm(&W.h, &x[i].t, due[i]);
	}
	CU_ASSERT_EQUAL(timer_next(&W.h), 10);
	run_at(45);
	CU_ASSERT_EQUAL_FATAL(W.nfired, 5);
	for (size_t i = 1; i < W.nfired; i++)
		CU_ASSERT_TRUE(due[W.order[i - 1]->id] <= due[W.order[i]->id]);
	CU_ASSERT_EQUAL(due[W.order[4]->id], 40);
	CU_ASSERT_EQUAL(timer_next(&W.h), 50);
	run_at(100);
	CU_ASSERT_EQUAL(W.nfired, 7);
	CU_ASSERT_EQUAL(W.order[5]->id, 0);
	CU_ASSERT_EQUAL(W.order[6]->id, 6);
	teardown();
}

/* Pushing a deadline later is lazy: the heap key stays, the timer fires at the new due. */
static void test_postpone_lazy(void)
{
	struct tt a;

	setup();
	tt_init(&a, 1, on_fire);
	timer_arm(&W.h, &a.t, 100);
	timer_arm(&W.h, &a.t, 300);
	CU_ASSERT_TRUE(timer_armed(&a.t));
	CU_ASSERT_EQUAL(timer_next(&W.h), 100); /* documented: may be earlier than the deadline */
	run_at(100);
	CU_ASSERT_EQUAL(a.fires, 0);
	CU_ASSERT_TRUE(timer_armed(&a.t));
	CU_ASSERT_EQUAL(timer_next(&W.h), 300); /* corrected when the old key came up */
	run_at(299);
	CU_ASSERT_EQUAL(a.fires, 0);
	run_at(300);
	CU_ASSERT_EQUAL(a.fires, 1);
	teardown();
}

/* Postponed, then pulled back but still after the old key: the latest arm wins. */
static void test_postpone_then_earlier(void)
{
	struct tt a;

	setup();
	tt_init(&a, 1, on_fire);
	timer_arm(&W.h, &a.t, 100);
	timer_arm(&W.h, &a.t, 500);
	timer_arm(&W.h, &a.t, 200);
	run_at(199);
	CU_ASSERT_EQUAL(a.fires, 0);
	run_at(200);
	CU_ASSERT_EQUAL(a.fires, 1);
	CU_ASSERT_EQUAL(a.fired_at, 200);
	teardown();
}

/* Re-arming earlier than the heap key moves the timer forward at once. */
static void test_rearm_earlier(void)
{
	struct tt a, b;

	setup();
	tt_init(&a, 1, on_fire);
	tt_init(&b, 2, on_fire);
	timer_arm(&W.h, &a.t, 500);
	timer_arm(&W.h, &b.t, 300);
	timer_arm(&W.h, &a.t, 100);
	CU_ASSERT_EQUAL(timer_next(&W.h), 100);
	run_at(100);
	CU_ASSERT_EQUAL(a.fires, 1);
	CU_ASSERT_EQUAL(b.fires, 0);
	run_at(500);
	CU_ASSERT_EQUAL(a.fires, 1);
	CU_ASSERT_EQUAL(b.fires, 1);
	teardown();
}

/* Lazy postponement: a late run still fires each timer once, and in deadline order (a was
 * pushed from 10 to 30, so b at 20 goes first even though a's heap key is earlier). */
static void test_postponed_order(void)
{
	struct tt a, b;

	setup();
	tt_init(&a, 1, on_fire);
	tt_init(&b, 2, on_fire);
	timer_arm(&W.h, &a.t, 10);
	timer_arm(&W.h, &b.t, 20);
	timer_arm(&W.h, &a.t, 30); /* a now after b */
	run_at(1000);
	CU_ASSERT_EQUAL_FATAL(W.nfired, 2);
	CU_ASSERT_PTR_EQUAL(W.order[0], &b);
	CU_ASSERT_PTR_EQUAL(W.order[1], &a);
	teardown();
}

static void test_cancel(void)
{
	struct tt x[5];

	setup();
	for (int i = 0; i < 5; i++) {
		tt_init(&x[i], i, on_fire);
		timer_arm(&W.h, &x[i].t, 10 * (uint64_t)(i + 1));
	}
	timer_cancel(&W.h, &x[0].t); /* the root */
	timer_cancel(&W.h, &x[3].t); /* an inner one */
	timer_cancel(&W.h, &x[3].t); /* twice */
	CU_ASSERT_FALSE(timer_armed(&x[0].t));
	CU_ASSERT_FALSE(timer_armed(&x[3].t));
	CU_ASSERT_EQUAL(W.h.n, 3);
	CU_ASSERT_EQUAL(timer_next(&W.h), 20);
	run_at(100);
	CU_ASSERT_EQUAL(W.nfired, 3);
	CU_ASSERT_EQUAL(x[0].fires + x[3].fires, 0);
	CU_ASSERT_EQUAL(x[1].fires + x[2].fires + x[4].fires, 3);
	teardown();
}

/* A cancelled timer can be armed again; a postponed one can be cancelled. */
static void test_cancel_postponed_and_rearm(void)
{
	struct tt a;

	setup();
	tt_init(&a, 1, on_fire);
	timer_arm(&W.h, &a.t, 10);
	timer_arm(&W.h, &a.t, 50);
	timer_cancel(&W.h, &a.t);
	run_at(60);
	CU_ASSERT_EQUAL(a.fires, 0);
	timer_arm(&W.h, &a.t, 70);
	run_at(70);
	CU_ASSERT_EQUAL(a.fires, 1);
	teardown();
}

static void test_callback_cancels_other(void)
{
	struct tt a, b;

	setup();
	tt_init(&a, 1, on_fire_cancel_other);
	tt_init(&b, 2, on_fire);
	a.other = &b;
	timer_arm(&W.h, &a.t, 10);
	timer_arm(&W.h, &b.t, 10); /* due in the same run, but a goes first and cancels it */
	run_at(10);
	CU_ASSERT_EQUAL(a.fires + b.fires, 1);
	CU_ASSERT_FALSE(timer_armed(&b.t));
	CU_ASSERT_EQUAL(W.h.n, 0);
	teardown();
}

static void test_callback_cancels_later_other(void)
{
	struct tt a, b;

	setup();
	tt_init(&a, 1, on_fire_cancel_other);
	tt_init(&b, 2, on_fire);
	a.other = &b;
	timer_arm(&W.h, &a.t, 10);
	timer_arm(&W.h, &b.t, 20);
	run_at(30);
	CU_ASSERT_EQUAL(a.fires, 1);
	CU_ASSERT_EQUAL(b.fires, 0);
	teardown();
}

static void test_callback_arms_other(void)
{
	struct tt a, b, c;

	setup();
	tt_init(&a, 1, on_fire_arm_other);
	tt_init(&b, 2, on_fire);
	tt_init(&c, 3, on_fire);
	a.other = &b;
	a.rearm_due = 15; /* within this run */
	timer_arm(&W.h, &a.t, 10);
	timer_arm(&W.h, &c.t, 20);
	run_at(20);
	CU_ASSERT_EQUAL_FATAL(W.nfired, 3);
	CU_ASSERT_PTR_EQUAL(W.order[0], &a);
	CU_ASSERT_PTR_EQUAL(W.order[1], &b);
	CU_ASSERT_PTR_EQUAL(W.order[2], &c);
	/* Arming for the future from a callback waits for its time. */
	a.rearm_due = 100;
	timer_arm(&W.h, &a.t, 30);
	run_at(30);
	CU_ASSERT_EQUAL(b.fires, 1);
	CU_ASSERT_TRUE(timer_armed(&b.t));
	CU_ASSERT_EQUAL(timer_next(&W.h), 100);
	run_at(100);
	CU_ASSERT_EQUAL(b.fires, 2);
	teardown();
}

/* A callback postpones a timer that is also due in this run: it waits for the new due. */
static void test_callback_postpones_due_other(void)
{
	struct tt a, b;

	setup();
	tt_init(&a, 1, on_fire_arm_other);
	tt_init(&b, 2, on_fire);
	a.other = &b;
	a.rearm_due = 80;
	timer_arm(&W.h, &a.t, 10);
	timer_arm(&W.h, &b.t, 20);
	run_at(50);
	CU_ASSERT_EQUAL(a.fires, 1);
	CU_ASSERT_EQUAL(b.fires, 0);
	CU_ASSERT_TRUE(timer_armed(&b.t));
	run_at(80);
	CU_ASSERT_EQUAL(b.fires, 1);
	CU_ASSERT_EQUAL(b.fired_at, 80);
	teardown();
}

static void test_callback_rearms_self(void)
{
	struct tt a;

	setup();
	tt_init(&a, 1, on_fire_rearm_self);
	a.rearms_left = 1;
	a.rearm_due = 200;
	timer_arm(&W.h, &a.t, 100);
	run_at(150);
	CU_ASSERT_EQUAL(a.fires, 1);
	CU_ASSERT_TRUE(timer_armed(&a.t));
	CU_ASSERT_EQUAL(timer_next(&W.h), 200);
	run_at(200);
	CU_ASSERT_EQUAL(a.fires, 2);
	CU_ASSERT_FALSE(timer_armed(&a.t));
	teardown();
}

/* Re-arming itself for a time already past fires again within the same run. */
static void test_callback_rearms_self_due(void)
{
	struct tt a;

	setup();
	tt_init(&a, 1, on_fire_rearm_self);
	a.rearms_left = 3;
	a.rearm_due = 100;
	timer_arm(&W.h, &a.t, 100);
	run_at(100);
	CU_ASSERT_EQUAL(a.fires, 4);
	CU_ASSERT_FALSE(timer_armed(&a.t));
	teardown();
}

static void test_heap_free_disarms(void)
{
	struct tt x[100];

	setup();
	for (int i = 0; i < 100; i++) {
		tt_init(&x[i], i, on_fire);
		timer_arm(&W.h, &x[i].t, (uint64_t)(100 - i));
	}
	CU_ASSERT_EQUAL(W.h.n, 100);
	timer_heap_free(&W.h);
	for (int i = 0; i < 100; i++)
		CU_ASSERT_FALSE(timer_armed(&x[i].t));
	CU_ASSERT_EQUAL(timer_next(&W.h), UINT64_MAX);
	teardown();
}

static void test_now_ms_monotonic(void)
{
	uint64_t a = timer_now_ms(), b = timer_now_ms();

	CU_ASSERT_TRUE(a > 0);
	CU_ASSERT_TRUE(b >= a);
}

/* ---- many random timers ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(uint64_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state % n;
}

/* Checks the heap property and that every slot points back at its index. */
static void check_heap(void)
{
	for (uint32_t i = 0; i < W.h.n; i++) {
		CU_ASSERT_EQUAL(W.h.v[i]->slot, i + 1);
		if (i > 0)
			CU_ASSERT_TRUE(W.h.v[(i - 1) / 2]->when <= W.h.v[i]->when);
		CU_ASSERT_TRUE(W.h.v[i]->due >= W.h.v[i]->when);
	}
}

/* Arms each timer, then postpones a third (lazily), re-arms some earlier, cancels a tenth. */
static void arm_random(struct tt *x, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		tt_init(&x[i], (int)i, on_fire);
		x[i].due = 1 + rnd(100000);
		timer_arm(&W.h, &x[i].t, x[i].due);
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t r = rnd(10);

		if (r < 3)
			x[i].due += rnd(50000);
		else if (r == 3 && x[i].due > 1)
			x[i].due = 1 + rnd(x[i].due - 1);
		else if (r == 4)
			x[i].due = 0; /* cancelled */
		if (!x[i].due) {
			timer_cancel(&W.h, &x[i].t);
			continue;
		}
		timer_arm(&W.h, &x[i].t, x[i].due);
	}
	check_heap();
}

/* Each timer fired once, at the first run at or after its due, and in deadline order. */
static void check_random(struct tt *x, size_t n, uint64_t step)
{
	size_t expect = 0;

	for (size_t i = 0; i < n; i++) {
		if (!x[i].due) {
			CU_ASSERT_EQUAL(x[i].fires, 0);
			continue;
		}
		expect++;
		CU_ASSERT_EQUAL(x[i].fires, 1);
		CU_ASSERT_TRUE(x[i].fired_at >= x[i].due && x[i].fired_at < x[i].due + step);
	}
	CU_ASSERT_EQUAL_FATAL(W.nfired, expect);
	for (size_t i = 1; i < W.nfired; i++)
		CU_ASSERT_TRUE(W.order[i - 1]->due <= W.order[i]->due);
}

static void test_random_timers(void)
{
	static struct tt x[NRANDOM];
	const uint64_t step = 37;

	setup();
	arm_random(x, NRANDOM);
	for (uint64_t now = 0; W.h.n; now += step) {
		run_at(now);
		CU_ASSERT_TRUE(timer_next(&W.h) > now); /* nothing due is left behind */
		if (now % (step * 100) == 0)
			check_heap();
		CU_ASSERT_TRUE_FATAL(now < 1000000);
	}
	check_random(x, NRANDOM, step);
	teardown();
}

/* The same timers run one millisecond at a time: each fires exactly at its due. */
static void test_random_timers_exact(void)
{
	static struct tt x[NRANDOM];

	setup();
	arm_random(x, NRANDOM);
	for (uint64_t now = 0; W.h.n; now++) {
		run_at(now);
		CU_ASSERT_TRUE_FATAL(now < 1000000);
	}
	check_random(x, NRANDOM, 1);
	teardown();
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "initial state", test_init_state },
		{ "fires at due", test_fires_at_due },
		{ "firing order", test_firing_order },
		{ "postpone is lazy", test_postpone_lazy },
		{ "postpone then earlier", test_postpone_then_earlier },
		{ "re-arm earlier", test_rearm_earlier },
		{ "postponed order", test_postponed_order },
		{ "cancel", test_cancel },
		{ "cancel postponed, re-arm", test_cancel_postponed_and_rearm },
		{ "callback cancels a due timer", test_callback_cancels_other },
		{ "callback cancels a later timer", test_callback_cancels_later_other },
		{ "callback arms another", test_callback_arms_other },
		{ "callback postpones a due timer", test_callback_postpones_due_other },
		{ "callback re-arms itself", test_callback_rearms_self },
		{ "callback re-arms itself, due", test_callback_rearms_self_due },
		{ "heap free disarms", test_heap_free_disarms },
		{ "timer_now_ms", test_now_ms_monotonic },
		{ "10000 random timers", test_random_timers },
		{ "10000 random timers, exact", test_random_timers_exact },
		{ NULL, NULL },
	};
	static const struct unit_suite suites[] = {
		{ "timer", tests, NULL, NULL, NULL, NULL },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};

	return unit_main(suites);
}
