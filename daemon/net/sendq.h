#ifndef MCPCHAT_SENDQ_H
#define MCPCHAT_SENDQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/ring.h"
#include "util/buf.h"

/* A connection's outgoing bytes. Writers append to `out`; one send at a time goes from
 * `inflight` (the two swap), so bytes never reorder and a short send goes on from where it
 * stopped. Used by client connections and control connections alike. */
struct sendq {
	struct buf out;      /* appended, not yet handed to the kernel */
	struct buf inflight; /* being sent */
	size_t sent;         /* bytes of inflight already sent */
	uint64_t sent_total; /* bytes ever sent */
	bool sending;
};

/* Starts a send of what waits in out, unless one is in flight or nothing waits. */
void sendq_start(struct sendq *q, struct ring *r, int fd, uint64_t tag);
/* A send completed with res >= 0 bytes: goes on with a short send, else empties inflight.
 * Returns true when a send is in flight again. */
bool sendq_sent(struct sendq *q, struct ring *r, int fd, uint64_t tag, int res);
/* Bytes queued and not yet sent (inflight's rest and out). */
static inline size_t sendq_waiting(const struct sendq *q)
{
	return q->inflight.len - q->sent + q->out.len;
}
static inline bool sendq_idle(const struct sendq *q)
{
	return !q->sending && q->out.len == 0;
}
void sendq_free(struct sendq *q);

#endif
