#ifndef MCPCHAT_LINGER_H
#define MCPCHAT_LINGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Lingering close (RFC 9112 section 9.6, nginx's lingering_close): after an answer that ends a
 * connection, the daemon shuts its write side and reads and discards what still arrives before
 * it closes. Closing with unread input makes the kernel send a reset, which fails the client's
 * send in mid-request and can destroy the answer before it is read. Pure: no sockets here. */

/* The bounds at the default head timeout (10 s), those of nginx: 30 s in all, 5 s without
 * data; and at most 4 MiB discarded. A shorter head timeout shortens them (see linger_start). */
#define LINGER_TOTAL_MS 30000u
#define LINGER_IDLE_MS 5000u
#define LINGER_MAX_BYTES (4u * 1024 * 1024)

struct linger_state {
	uint64_t end_ms;  /* the total bound */
	uint64_t last_ms; /* when data last came (or the linger began) */
	uint32_t idle_ms;
	uint64_t left;    /* bytes that may still be discarded */
	bool over;        /* more than that came */
};

/* Does a connection linger when it closes after an answer? Not when the peer has ended its
 * side (nothing more can come), not while the daemon stops (its exit closes everything), and
 * not when it was let in over the ceiling to be refused (lingering must not pin more than the
 * ceiling's worth of descriptors). */
bool linger_wanted(bool peer_done, bool stopping, uint32_t n_conns, uint32_t max_conns);

/* Starts lingering at now. A client is given no more patience than to send a request: idle
 * at most min(LINGER_IDLE_MS, head_timeout_ms), in all min(LINGER_TOTAL_MS, 3 x that). */
void linger_start(struct linger_state *lg, uint32_t head_timeout_ms, uint64_t now);
/* n bytes were discarded at now. False when the byte bound is passed: close now. */
bool linger_data(struct linger_state *lg, size_t n, uint64_t now);
/* When to close if nothing more arrives. */
uint64_t linger_deadline(const struct linger_state *lg);
/* Is it time to close? */
static inline bool linger_expired(const struct linger_state *lg, uint64_t now)
{
	return now >= linger_deadline(lg);
}
/* Closing at now: with a reset rather than a FIN? Yes when the client is cut off while still
 * sending (the byte bound, or the total bound before it fell idle): a plain close can leave
 * the closed socket advertising a zero window, and the client's send then hangs instead of
 * failing. Not after the idle bound: what is left of the answer still goes out. */
bool linger_reset(const struct linger_state *lg, uint64_t now);

#endif
