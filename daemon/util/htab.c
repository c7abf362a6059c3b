#include "util/htab.h"

#include <stdlib.h>
#include <string.h>

#include "util/siphash.h"
#include "util/xalloc.h"

#define HTAB_MIN_CAP 16

void htab_init(struct htab *t, const uint64_t seed[2])
{
	memset(t, 0, sizeof(*t));
	memcpy(t->seed, seed, sizeof(t->seed));
}

void htab_fini(struct htab *t)
{
	free(t->v);
	t->v = NULL;
	t->cap = t->n = 0;
}

uint64_t htab_hash(const struct htab *t, const char *key, size_t len)
{
	return siphash24(t->seed, key, len);
}

struct htab_entry *htab_find(const struct htab *t, const char *key, size_t len, uint64_t hash)
{
	if (!t->cap)
		return NULL;
	for (struct htab_entry *e = t->v[hash & (t->cap - 1)]; e; e = e->next)
		if (e->hash == hash && e->len == len && memcmp(e->key, key, len) == 0)
			return e;
	return NULL;
}

struct htab_entry *htab_lookup(const struct htab *t, const char *key, size_t len)
{
	return htab_find(t, key, len, htab_hash(t, key, len));
}

static void link_entry(struct htab_entry **v, size_t cap, struct htab_entry *e)
{
	struct htab_entry **slot = &v[e->hash & (cap - 1)];

	e->next = *slot;
	*slot = e;
}

static void grow(struct htab *t)
{
	size_t cap = t->cap ? t->cap * 2 : HTAB_MIN_CAP;
	struct htab_entry **v = xcalloc(cap, sizeof(*v));

	for (size_t i = 0; i < t->cap; i++) {
		struct htab_entry *e = t->v[i];

		while (e) {
			struct htab_entry *next = e->next;

			link_entry(v, cap, e);
			e = next;
		}
	}
	free(t->v);
	t->v = v;
	t->cap = cap;
}

void htab_add(struct htab *t, struct htab_entry *e, const char *key, size_t len, uint64_t hash)
{
	/* Load factor at most 1. */
	if (t->n >= t->cap)
		grow(t);
	e->hash = hash;
	e->key = key;
	e->len = len;
	link_entry(t->v, t->cap, e);
	t->n++;
}

void htab_del(struct htab *t, struct htab_entry *e)
{
	struct htab_entry **p = &t->v[e->hash & (t->cap - 1)];

	while (*p != e)
		p = &(*p)->next;
	*p = e->next;
	e->next = NULL;
	t->n--;
}

size_t htab_count(const struct htab *t)
{
	return t->n;
}

struct htab_entry *htab_next(const struct htab *t, const struct htab_entry *e)
{
	size_t i = 0;

	if (e) {
		if (e->next)
			return e->next;
		i = (e->hash & (t->cap - 1)) + 1;
	}
	for (; i < t->cap; i++)
		if (t->v[i])
			return t->v[i];
	return NULL;
}
