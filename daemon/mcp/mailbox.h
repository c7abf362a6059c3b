#ifndef MCPCHAT_MAILBOX_H
#define MCPCHAT_MAILBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A session's events in sequence: the replay window for Last-Event-ID and the store that
 * wait_for_message reads. seq starts at 1. An event is "delivered" once its bytes were sent
 * on an open stream, it was returned by wait_for_message or covered by a Last-Event-ID
 * (seq <= acked). At most `capacity` events are undelivered (a refusable event is refused
 * past that, so nothing is lost); delivered events are kept as a replay window until the
 * mailbox holds 2 * capacity and their bytes pass window_bytes, then the oldest go. */

struct mailbox_event {
	uint64_t seq;
	uint64_t wire_end; /* on the open stream: its bytes end at this offset (0: not pushed) */
	const char *method; /* stored inside the event */
	size_t params_len;
	char params[]; /* the notification's params as JSON text, NUL-terminated */
};

struct mailbox {
	struct mailbox_event **ring; /* grows by doubling, from a few slots */
	uint32_t mask;               /* ring size - 1, or 0 with no ring */
	uint32_t count;
	uint32_t capacity; /* events kept before eviction / refusal */
	uint32_t window_bytes; /* delivered events kept past 2 * capacity while they fit */
	size_t acked_bytes;    /* params bytes of the delivered events held */
	uint64_t first;    /* seq of the oldest event held (valid when count > 0) */
	uint64_t last;     /* seq of the newest event ever added */
	uint64_t acked;    /* highest delivered seq */
	uint64_t cursor;   /* last seq returned by wait_for_message */
};

void mailbox_init(struct mailbox *mb, uint32_t capacity);
/* Keeps delivered events past 2 * capacity while they hold at most bytes (a client's kernel
 * buffers may hold many small events it never read; this lets it resume past them). Never
 * more than MAILBOX_MAX_EVENTS are held. */
void mailbox_set_window(struct mailbox *mb, uint32_t bytes);
#define MAILBOX_MAX_EVENTS 8192
void mailbox_free(struct mailbox *mb);

/* Adds an event. params is JSON text without the seq; the stored params are params with
 * "seq": N appended (params must be a JSON object). A refusable event is refused with -ENOSPC
 * when capacity events are undelivered; others always get in. Returns the new seq (> 0) or
 * -ENOSPC / -EINVAL. */
int64_t mailbox_add(struct mailbox *mb, const char *method, const char *params, size_t len,
		    bool refusable);

/* The event with this seq, or NULL when it is not held. */
struct mailbox_event *mailbox_get(const struct mailbox *mb, uint64_t seq);
/* Marks everything up to seq delivered (never moves backwards, never past last). */
void mailbox_ack(struct mailbox *mb, uint64_t seq);
uint32_t mailbox_unread(const struct mailbox *mb);
/* Are capacity events undelivered (a refusable event would be refused)? */
bool mailbox_full(const struct mailbox *mb);
/* Oldest seq greater than after that is still held, or 0 when there is none. */
uint64_t mailbox_next_after(const struct mailbox *mb, uint64_t after);

#endif
