#ifndef MCPCHAT_UTIL_HTAB_H
#define MCPCHAT_UTIL_HTAB_H

#include <stddef.h>
#include <stdint.h>

/* A chained hash table over entries the caller embeds in its own structs (find the struct
 * with container_of), keyed by byte strings and placed by a seeded SipHash-2-4, so keys that
 * come from users cannot be chosen to share a bucket. Prefix htab.
 *
 * Ownership: the table owns only its bucket array (htab_fini frees it). Entries, and the key
 * bytes each entry points to, belong to the caller and must outlive their membership: a key
 * usually lives in the struct that embeds the entry. The fields are the table's: read them
 * only through the functions below. */

struct htab_entry {
	struct htab_entry *next;
	uint64_t hash;
	const char *key;
	size_t len;
};

struct htab {
	struct htab_entry **v;
	size_t cap; /* 0 or a power of two */
	size_t n;
	uint64_t seed[2];
};

/* An empty table that hashes with seed (copied); allocates nothing until the first add. */
void htab_init(struct htab *t, const uint64_t seed[2]);
/* Frees the bucket array; the entries are the caller's. The table is empty afterwards. */
void htab_fini(struct htab *t);

/* The hash of key under the table's seed: compute it once, then find and add with it. */
uint64_t htab_hash(const struct htab *t, const char *key, size_t len);
/* The entry with this key (hash = htab_hash of it), or NULL. */
struct htab_entry *htab_find(const struct htab *t, const char *key, size_t len, uint64_t hash);
/* htab_hash and htab_find in one. */
struct htab_entry *htab_lookup(const struct htab *t, const char *key, size_t len);
/* Links e under key (not copied: key must stay valid while e is in the table), which must
 * not be there yet. Cannot fail: the bucket array grows through util/xalloc.h. */
void htab_add(struct htab *t, struct htab_entry *e, const char *key, size_t len, uint64_t hash);
/* Unlinks e, which must be in t. */
void htab_del(struct htab *t, struct htab_entry *e);
size_t htab_count(const struct htab *t);

/* Iteration in bucket order: htab_next(t, NULL) is the first entry, NULL follows the last.
 * The table must not change while it goes on. O(n + buckets) for a whole walk. */
struct htab_entry *htab_next(const struct htab *t, const struct htab_entry *e);

#endif
