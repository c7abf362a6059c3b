#include "lg_hist.h"

#include <inttypes.h>
#include <stdio.h>

/* The middle of bucket i. */
static u64 bucket_value(int i)
{
	int e;
	u64 sub, w;

	if (i < LG_HIST_SUB)
		return (u64)i;
	e = i / LG_HIST_SUB + 6;
	sub = (u64)(i % LG_HIST_SUB);
	w = 1ull << (e - 7);
	return ((LG_HIST_SUB + sub) << (e - 7)) + w / 2;
}

u64 lg_hist_pct(const struct lg_hist *h, double q)
{
	u64 want, seen = 0;

	if (!h->n)
		return 0;
	want = (u64)(q * (double)h->n + 0.999999);
	if (want < 1)
		want = 1;
	for (int i = 0; i < LG_HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= want) {
			u64 v = bucket_value(i);
			return v > h->max ? h->max : v;
		}
	}
	return h->max;
}

void lg_hist_print(const char *name, const struct lg_hist *h)
{
	printf("\"%s\":{\"n\":%" PRIu64 ",\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f,\"mean\":%.1f}",
	       name, h->n, lg_hist_pct(h, 0.50) / 1e3, lg_hist_pct(h, 0.90) / 1e3, lg_hist_pct(h, 0.99) / 1e3,
	       lg_hist_pct(h, 0.999) / 1e3, h->max / 1e3, h->n ? (double)h->sum / (double)h->n / 1e3 : 0.0);
}
