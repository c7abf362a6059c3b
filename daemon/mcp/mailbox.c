#include "mcp/mailbox.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/xalloc.h"

void mailbox_init(struct mailbox *mb, uint32_t capacity)
{
	memset(mb, 0, sizeof(*mb));
	mb->capacity = capacity ? capacity : 1;
}

void mailbox_free(struct mailbox *mb)
{
	for (uint32_t i = 0; i < mb->count; i++)
		free(mb->ring[(mb->first + i) & mb->mask]);
	free(mb->ring);
	mb->ring = NULL;
	mb->count = 0;
	mb->mask = 0;
}

void mailbox_set_window(struct mailbox *mb, uint32_t bytes)
{
	mb->window_bytes = bytes;
}

static void evict_oldest(struct mailbox *mb)
{
	struct mailbox_event *ev = mb->ring[mb->first & mb->mask];

	if (ev->seq <= mb->acked)
		mb->acked_bytes -= ev->params_len;
	free(ev);
	mb->first++;
	mb->count--;
}

static void grow(struct mailbox *mb)
{
	uint32_t size = mb->ring ? (mb->mask + 1) * 2 : 4;
	struct mailbox_event **ring = xcalloc(size, sizeof(*ring));

	/* Slots are indexed by seq & mask, so re-place every event under the new mask. */
	for (uint32_t i = 0; i < mb->count; i++) {
		uint64_t seq = mb->first + i;
		ring[seq & (size - 1)] = mb->ring[seq & mb->mask];
	}
	free(mb->ring);
	mb->ring = ring;
	mb->mask = size - 1;
}

static bool empty_object(const char *params, size_t len)
{
	size_t i = len - 1;

	while (i > 0 && (params[i - 1] == ' ' || params[i - 1] == '\t' || params[i - 1] == '\n' ||
			 params[i - 1] == '\r'))
		i--;
	return i == 1;
}

int64_t mailbox_add(struct mailbox *mb, const char *method, const char *params, size_t len,
		    bool refusable)
{
	struct mailbox_event *ev;
	uint64_t seq = mb->last + 1;
	size_t mlen, n;

	if (len < 2 || params[0] != '{' || params[len - 1] != '}')
		return -EINVAL;
	/* Delivered events stay as a replay window of another `capacity`: an event counts as
	 * delivered once sent, and a client may resume from one it never read. */
	if (refusable && mailbox_full(mb))
		return -ENOSPC;
	while (mb->first <= mb->acked &&
	       ((mb->count >= 2 * mb->capacity && mb->acked_bytes > mb->window_bytes) ||
		mb->count >= MAILBOX_MAX_EVENTS))
		evict_oldest(mb);
	if (!mb->ring || mb->count > mb->mask)
		grow(mb);
	mlen = strlen(method) + 1;
	ev = xmalloc(sizeof(*ev) + len + 32 + mlen);
	/* {..., "seq":N} — or {"seq":N} when params is an empty object. */
	memcpy(ev->params, params, len - 1);
	n = len - 1;
	if (!empty_object(params, len))
		ev->params[n++] = ',';
	memcpy(ev->params + n, "\"seq\":", 6);
	n += 6;
	n += buf_fmt_u64(ev->params + n, seq);
	ev->params[n++] = '}';
	ev->params[n] = '\0';
	ev->params_len = n;
	ev->seq = seq;
	ev->wire_end = 0;
	/* The method is kept after the params: injected notifications name their own. */
	ev->method = memcpy(ev->params + ev->params_len + 1, method, mlen);
	if (mb->count == 0)
		mb->first = seq;
	mb->ring[seq & mb->mask] = ev;
	mb->count++;
	mb->last = seq;
	return (int64_t)seq;
}

struct mailbox_event *mailbox_get(const struct mailbox *mb, uint64_t seq)
{
	if (mb->count == 0 || seq < mb->first || seq >= mb->first + mb->count)
		return NULL;
	return mb->ring[seq & mb->mask];
}

void mailbox_ack(struct mailbox *mb, uint64_t seq)
{
	if (seq > mb->last)
		seq = mb->last;
	for (uint64_t s = mb->acked + 1; s <= seq; s++) {
		const struct mailbox_event *ev = mailbox_get(mb, s);

		if (ev)
			mb->acked_bytes += ev->params_len;
	}
	if (seq > mb->acked)
		mb->acked = seq;
}

uint32_t mailbox_unread(const struct mailbox *mb)
{
	return (uint32_t)(mb->last - mb->acked);
}

bool mailbox_full(const struct mailbox *mb)
{
	return mb->last - mb->acked >= mb->capacity;
}

uint64_t mailbox_next_after(const struct mailbox *mb, uint64_t after)
{
	if (mb->count == 0 || after >= mb->last)
		return 0;
	return after + 1 < mb->first ? mb->first : after + 1;
}
