/* Log-linear latency histogram: exact below 128, then 128 sub-buckets per power of two
 * (under 0.8 % error), fixed size, no allocation. Values are nanoseconds. */
#ifndef LG_HIST_H
#define LG_HIST_H

#include "lg_util.h"

#define LG_HIST_SUB 128
#define LG_HIST_BUCKETS ((64 - 6) * LG_HIST_SUB)

struct lg_hist {
	u64 n, sum, max;
	u64 b[LG_HIST_BUCKETS];
};

static inline int lg_hist_index(u64 v)
{
	int e;

	if (v < LG_HIST_SUB)
		return (int)v;
	e = 63 - __builtin_clzll(v);
	return (e - 6) * LG_HIST_SUB + (int)((v >> (e - 7)) & (LG_HIST_SUB - 1));
}

/* Inline: one per call or message. */
static inline void lg_hist_add(struct lg_hist *h, u64 v)
{
	h->b[lg_hist_index(v)]++;
	h->n++;
	h->sum += v;
	if (v > h->max)
		h->max = v;
}

/* The q quantile (0..1), never above the maximum seen; 0 when empty. */
u64 lg_hist_pct(const struct lg_hist *h, double q);
/* "name":{"n":..,"p50":..,"p90":..,"p99":..,"p999":..,"max":..,"mean":..} in microseconds */
void lg_hist_print(const char *name, const struct lg_hist *h);

#endif
