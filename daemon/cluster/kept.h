/* Events a node keeps from doorbells. A wake-up's payload carries the event itself (the
 * bytes of its stream entry), so a node that heard every event of a chat since its client's
 * last answer can answer that client's next wait_for_message from memory, with an `ack`
 * instead of a `read` (engine_linger.c). The list is contiguous by seq, and bounded: at most
 * CLUSTER_KEPT_EVENTS events and CLUSTER_KEPT_BYTES bytes each, and, through a shared
 * counter, a node-wide budget. Pure: no I/O, tested in unit_cluster_kept. */
#ifndef MCPCHAT_CLUSTER_KEPT_H
#define MCPCHAT_CLUSTER_KEPT_H

#include <stddef.h>
#include <stdint.h>

#define CLUSTER_KEPT_EVENTS 32
#define CLUSTER_KEPT_BYTES (64u * 1024u)

/* The node-wide bound: every list charged to it counts its bytes there. */
struct cluster_kept_budget {
	size_t used, max;
};

/* Fields private to kept.c. */
struct cluster_kept {
	uint64_t first; /* seq of the first event (n 0: none) */
	uint32_t n;
	size_t len, cap; /* bytes used in buf / allocated */
	char *buf;       /* n entries "method\0params\0" (owned) */
	struct cluster_kept_budget *budget; /* charged, or NULL */
};

/* An empty list charged to budget (NULL: only its own bounds). */
void cluster_kept_init(struct cluster_kept *k, struct cluster_kept_budget *budget);
/* Empties k and frees its memory; k stays usable. */
void cluster_kept_clear(struct cluster_kept *k);
/* Appends event seq when it follows the last one kept (any seq when k is empty). 0, or:
 * -ERANGE not next in line, -EINVAL a NUL inside, -ENOSPC a bound, -ENOMEM; k is unchanged
 * then. The bytes are copied. */
int cluster_kept_push(struct cluster_kept *k, uint64_t seq, const char *method, size_t method_len,
		      const char *params, size_t params_len);
/* A doorbell of seq, with its event (method non-NULL) or without: the list goes on with it,
 * starts again from it when it does not follow the last one (one was missed: what is kept
 * is then the newest run), or empties when it comes without its event or past a bound. A
 * seq not newer than the last kept changes nothing (a late doorbell). */
void cluster_kept_ring(struct cluster_kept *k, uint64_t seq, const char *method,
		       size_t method_len, const char *params, size_t params_len);
/* The newest seq kept (0 when empty). */
uint64_t cluster_kept_last(const struct cluster_kept *k);
/* Event i (0 .. n-1): its seq, method and params (NUL-terminated, in k). */
void cluster_kept_get(const struct cluster_kept *k, uint32_t i, uint64_t *seq,
		      const char **method, const char **params);
/* Copies into dst (cleared first, charged to nothing) the events of src after seq `after`.
 * The number copied, or -ENOMEM (dst empty then). */
int cluster_kept_copy_after(struct cluster_kept *dst, const struct cluster_kept *src,
			    uint64_t after);
/* dst takes src's events and its charge (dst cleared first); src is left empty. */
void cluster_kept_move(struct cluster_kept *dst, struct cluster_kept *src);

#endif
