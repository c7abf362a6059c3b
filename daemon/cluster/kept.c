/* Events kept from doorbells: one buffer of "method\0params\0" entries, contiguous by seq. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/kept.h"

void cluster_kept_init(struct cluster_kept *k, struct cluster_kept_budget *budget)
{
	memset(k, 0, sizeof(*k));
	k->budget = budget;
}

void cluster_kept_clear(struct cluster_kept *k)
{
	if (k->budget)
		k->budget->used -= k->cap;
	free(k->buf);
	k->buf = NULL;
	k->first = 0;
	k->n = 0;
	k->len = k->cap = 0;
}

int cluster_kept_push(struct cluster_kept *k, uint64_t seq, const char *method, size_t method_len,
		      const char *params, size_t params_len)
{
	size_t need = method_len + params_len + 2, cap;
	char *buf;

	if (k->n && seq != k->first + k->n)
		return -ERANGE;
	if (seq == 0 || memchr(method, '\0', method_len) || memchr(params, '\0', params_len))
		return -EINVAL;
	if (k->n >= CLUSTER_KEPT_EVENTS || need > CLUSTER_KEPT_BYTES - k->len)
		return -ENOSPC;
	if (k->len + need > k->cap) {
		/* doubling, within the list's own bound; the budget pays for what is allocated */
		cap = k->cap ? k->cap : 512;
		while (cap < k->len + need)
			cap *= 2;
		if (cap > CLUSTER_KEPT_BYTES)
			cap = CLUSTER_KEPT_BYTES;
		if (k->budget && cap - k->cap > k->budget->max - k->budget->used)
			return -ENOSPC;
		buf = realloc(k->buf, cap);
		if (!buf)
			return -ENOMEM;
		if (k->budget)
			k->budget->used += cap - k->cap;
		k->buf = buf;
		k->cap = cap;
	}
	memcpy(k->buf + k->len, method, method_len);
	k->buf[k->len + method_len] = '\0';
	memcpy(k->buf + k->len + method_len + 1, params, params_len);
	k->buf[k->len + need - 1] = '\0';
	k->len += need;
	if (!k->n)
		k->first = seq;
	k->n++;
	return 0;
}

/* Forgets the oldest event. */
static void drop_first(struct cluster_kept *k)
{
	size_t len = strlen(k->buf) + 1;

	len += strlen(k->buf + len) + 1;
	memmove(k->buf, k->buf + len, k->len - len);
	k->len -= len;
	k->first++;
	k->n--;
}

void cluster_kept_ring(struct cluster_kept *k, uint64_t seq, const char *method,
		       size_t method_len, const char *params, size_t params_len)
{
	int err;

	if (k->n && seq <= cluster_kept_last(k))
		return;
	if (k->n && seq != cluster_kept_last(k) + 1)
		cluster_kept_clear(k);
	if (!method) {
		cluster_kept_clear(k);
		return;
	}
	/* full: the newest run is what a next wait needs, the oldest goes first */
	while ((err = cluster_kept_push(k, seq, method, method_len, params, params_len)) ==
		       -ENOSPC &&
	       k->n)
		drop_first(k);
	if (err < 0)
		cluster_kept_clear(k);
}

uint64_t cluster_kept_last(const struct cluster_kept *k)
{
	return k->n ? k->first + k->n - 1 : 0;
}

void cluster_kept_get(const struct cluster_kept *k, uint32_t i, uint64_t *seq,
		      const char **method, const char **params)
{
	const char *p = k->buf;

	for (uint32_t j = 0; j < i; j++) {
		p += strlen(p) + 1;
		p += strlen(p) + 1;
	}
	*seq = k->first + i;
	*method = p;
	*params = p + strlen(p) + 1;
}

int cluster_kept_copy_after(struct cluster_kept *dst, const struct cluster_kept *src,
			    uint64_t after)
{
	const char *method, *params;
	uint64_t seq;
	int n = 0;

	cluster_kept_clear(dst);
	dst->budget = NULL;
	for (uint32_t i = 0; i < src->n; i++) {
		cluster_kept_get(src, i, &seq, &method, &params);
		if (seq <= after)
			continue;
		/* src held it within the same bounds: only memory can fail */
		if (cluster_kept_push(dst, seq, method, strlen(method), params, strlen(params)) < 0) {
			cluster_kept_clear(dst);
			return -ENOMEM;
		}
		n++;
	}
	return n;
}

void cluster_kept_move(struct cluster_kept *dst, struct cluster_kept *src)
{
	struct cluster_kept_budget *budget = dst->budget;

	cluster_kept_clear(dst);
	*dst = *src;
	/* the bytes change hands: so does their charge */
	if (src->budget)
		src->budget->used -= src->cap;
	dst->budget = budget;
	if (budget)
		budget->used += dst->cap;
	cluster_kept_init(src, src->budget);
}
