#ifndef MCPCHAT_TIMER_H
#define MCPCHAT_TIMER_H

#include <stddef.h>
#include <stdint.h>

#include "util/list.h" /* container_of, for timer callbacks */

/* Deadlines in a binary min-heap, run by the loop between waits: no syscall per timer.
 * Pushing a deadline later (the common case: activity on a connection) is lazy and O(1);
 * the heap corrects itself when the old deadline comes up. Times are milliseconds. */

struct timer;
typedef void (*timer_fn)(struct timer *t);

struct timer {
	uint64_t when; /* key in the heap */
	uint64_t due;  /* the deadline wanted; >= when */
	uint32_t slot; /* 1 + index in the heap, 0 when not armed */
	timer_fn fn;
};

struct timer_heap {
	struct timer **v;
	uint32_t n, cap;
};


void timer_heap_init(struct timer_heap *h);
void timer_heap_free(struct timer_heap *h);

void timer_init(struct timer *t, timer_fn fn);
/* Arms (or re-arms) t to fire at due. Cannot fail: the heap grows through util/xalloc.h. */
void timer_arm(struct timer_heap *h, struct timer *t, uint64_t due);
void timer_cancel(struct timer_heap *h, struct timer *t);
static inline int timer_armed(const struct timer *t)
{
	return t->slot != 0;
}
/* Earliest key in the heap, UINT64_MAX when empty (may be earlier than a lazy deadline). */
uint64_t timer_next(const struct timer_heap *h);
/* Fires every timer due at or before now; a callback may arm or cancel any timer. */
void timer_run(struct timer_heap *h, uint64_t now);

/* CLOCK_MONOTONIC in milliseconds. Once timer_clock_tick() has been called it is the time
 * of the last tick: the loop ticks once per wake-up, since a request asks for the time
 * several times and a millisecond clock needs no more. */
uint64_t timer_now_ms(void);
void timer_clock_tick(void);
/* Tests: the clock reads ms until the next tick (a fake clock, so timers that re-arm
 * themselves relative to timer_now_ms() can be driven without sleeping). */
void timer_clock_set(uint64_t ms);

#endif
