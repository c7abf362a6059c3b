#include "net/timer.h"

#include <stdlib.h>
#include <time.h>

#include "util/xalloc.h"

void timer_heap_init(struct timer_heap *h)
{
	h->v = NULL;
	h->n = h->cap = 0;
}

void timer_heap_free(struct timer_heap *h)
{
	for (uint32_t i = 0; i < h->n; i++)
		h->v[i]->slot = 0;
	free(h->v);
	timer_heap_init(h);
}

void timer_init(struct timer *t, timer_fn fn)
{
	t->when = t->due = 0;
	t->slot = 0;
	t->fn = fn;
}

static void place(struct timer_heap *h, uint32_t i, struct timer *t)
{
	h->v[i] = t;
	t->slot = i + 1;
}

static void sift_up(struct timer_heap *h, uint32_t i)
{
	struct timer *t = h->v[i];

	while (i > 0) {
		uint32_t parent = (i - 1) / 2;
		if (h->v[parent]->when <= t->when)
			break;
		place(h, i, h->v[parent]);
		i = parent;
	}
	place(h, i, t);
}

static void sift_down(struct timer_heap *h, uint32_t i)
{
	struct timer *t = h->v[i];

	for (;;) {
		uint32_t c = 2 * i + 1;
		if (c >= h->n)
			break;
		if (c + 1 < h->n && h->v[c + 1]->when < h->v[c]->when)
			c++;
		if (t->when <= h->v[c]->when)
			break;
		place(h, i, h->v[c]);
		i = c;
	}
	place(h, i, t);
}

static void remove_at(struct timer_heap *h, uint32_t i)
{
	struct timer *t = h->v[i];
	struct timer *last = h->v[--h->n];

	t->slot = 0;
	if (i == h->n)
		return;
	place(h, i, last);
	if (i > 0 && h->v[(i - 1) / 2]->when > last->when)
		sift_up(h, i);
	else
		sift_down(h, i);
}

void timer_arm(struct timer_heap *h, struct timer *t, uint64_t due)
{
	if (t->slot) {
		if (due >= t->when) {
			t->due = due;
			return;
		}
		remove_at(h, t->slot - 1);
	}
	if (h->n == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 64;
		h->v = xrealloc(h->v, h->cap * sizeof(*h->v));
	}
	t->when = t->due = due;
	h->v[h->n++] = t;
	sift_up(h, h->n - 1);
}

void timer_cancel(struct timer_heap *h, struct timer *t)
{
	if (t->slot)
		remove_at(h, t->slot - 1);
}

uint64_t timer_next(const struct timer_heap *h)
{
	return h->n ? h->v[0]->when : UINT64_MAX;
}

void timer_run(struct timer_heap *h, uint64_t now)
{
	while (h->n && h->v[0]->when <= now) {
		struct timer *t = h->v[0];

		/* A postponed timer takes its place again before anything fires, so timers
		 * due in the same run fire in deadline order. */
		if (t->due != t->when) {
			t->when = t->due;
			sift_down(h, 0);
			continue;
		}
		remove_at(h, 0);
		t->fn(t);
	}
}

static uint64_t cached_ms;

static uint64_t clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void timer_clock_tick(void)
{
	cached_ms = clock_ms();
}

void timer_clock_set(uint64_t ms)
{
	cached_ms = ms;
}

uint64_t timer_now_ms(void)
{
	return cached_ms ? cached_ms : clock_ms();
}
