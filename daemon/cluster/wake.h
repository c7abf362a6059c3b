#ifndef MCPCHAT_CLUSTER_WAKE_H
#define MCPCHAT_CLUSTER_WAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/list.h"

/* Which chats this node listens to, and who is waiting on each: a node with a waiting call
 * or an open 2025 push stream for a chat subscribes to its wake-up channel P:wake:<chat_id>
 * (daemon/cluster/README.md); a PUBLISH there (payload the new event's seq, or "end") wakes
 * those waiters, which then read the stream. Pure bookkeeping, no socket: the calls say when
 * the I/O layer must SUBSCRIBE (the chat's first waiter) and UNSUBSCRIBE (after its last),
 * so each channel is subscribed exactly once however many waiters share it. Prefix
 * cluster_wake. Memory is bounded: at most max_chats chats (-ENOSPC beyond).
 *
 * Ownership: the registry owns its chat records; a waiter is the caller's struct (embed
 * it), linked while registered: it must stay valid until removed. */

#define CLUSTER_WAKE_CHANNEL_MAX 72 /* "P:wake:<22-character chat id>" and a NUL */

struct cluster_wake;
struct cluster_wake_waiter;

/* The event a doorbell carries (the `send`, room and end scripts publish the event they
 * appended: "seq:ms:method\nparams"), so a call waiting for exactly that seq is answered
 * without reading the stream. Borrowed for the callback only; not NUL-terminated. */
struct cluster_wake_event {
	const char *method, *params;
	size_t method_len, params_len;
};

/* A wake-up: seq is the chat's new newest event (0 with end: the chat ended); ev that event
 * when the doorbell carried it, else NULL (a reconnect, a subscription, an end). */
typedef void (*cluster_wake_fn)(struct cluster_wake_waiter *w, const char *chat_id,
				uint64_t seq, bool end, const struct cluster_wake_event *ev);

/* The fields are the registry's; set them with cluster_wake_add. */
struct cluster_wake_waiter {
	struct list_link link;
	struct wake_chat *chat; /* NULL: not registered */
	cluster_wake_fn fn;
	void *ctx; /* the caller's (e.g. the waiting call or the stream) */
};

/* prefix: KEYS[1], "{mcpchat}" (copied; shorter than 40 bytes). NULL when the prefix is too
 * long or getrandom fails (the table's seed). */
struct cluster_wake *cluster_wake_new(const char *prefix, uint32_t max_chats);
/* Frees the records; waiters still registered are left unlinked (chat NULL). */
void cluster_wake_free(struct cluster_wake *wk);

/* Registers w for chat_id (a 22-character chat id) with fn and ctx. Returns 1 when this is
 * the chat's first waiter: the caller now SUBSCRIBEs channel (written here); 0 when the
 * chat was already listened to; -EINVAL for a malformed chat id, -EALREADY when w is
 * registered, -ENOSPC when max_chats chats are listened to already. */
int cluster_wake_add(struct cluster_wake *wk, const char *chat_id, struct cluster_wake_waiter *w,
		     cluster_wake_fn fn, void *ctx, char channel[CLUSTER_WAKE_CHANNEL_MAX]);
/* Unregisters w (harmless when it is not). Returns 1 when it was the chat's last waiter:
 * the caller now UNSUBSCRIBEs channel (written here); else 0. Safe inside a wake-up. */
int cluster_wake_remove(struct cluster_wake *wk, struct cluster_wake_waiter *w,
			char channel[CLUSTER_WAKE_CHANNEL_MAX]);
bool cluster_wake_registered(const struct cluster_wake_waiter *w);

/* Wakes every waiter of chat_id once, in the order they were added. A callback may remove
 * itself or any other waiter, or add waiters (those wait for the next wake-up); it must not
 * free the registry. Returns how many were woken (0: nobody listens to that chat). */
int cluster_wake_chat(struct cluster_wake *wk, const char *chat_id, uint64_t seq, bool end);
/* The same with the event the doorbell carried (ev may be NULL). */
int cluster_wake_chat_event(struct cluster_wake *wk, const char *chat_id, uint64_t seq,
			    const struct cluster_wake_event *ev);
/* A doorbell's payload, parsed: "end", a seq (decimal, 1 or more), "seq:ms" or
 * "seq:ms:method\nparams" (ms: the publish time on Redis' clock; the event itself). The event
 * points into p. 0, or -EPROTO for anything else. The one parser of the format: the wake-up
 * (cluster_wake_deliver) and the node's lag (cluster_wake_payload_ms) both read it here. */
struct cluster_wake_payload {
	bool end, has_ms, has_event;
	uint64_t seq, ms;
	struct cluster_wake_event ev;
};
int cluster_wake_payload_parse(const char *p, size_t len, struct cluster_wake_payload *out);

/* A pub/sub message: channel must be this prefix's P:wake:<chat_id> and payload "end", a
 * seq (decimal, 1 or more), "seq:ms", or "seq:ms:method\nparams" (the event itself). Returns how many were woken, or -EPROTO for anything else
 * (the I/O layer counts it; nobody is woken). Lengths explicit: the bytes are not
 * NUL-terminated. */
int cluster_wake_deliver(struct cluster_wake *wk, const char *channel, size_t channel_len,
			 const char *payload, size_t payload_len);

/* After a reconnect the subscriptions are gone: fn gets every listened chat and its
 * channel, to SUBSCRIBE again (and to re-read what may have been missed). The registry
 * must not change during the walk. Returns the number of chats. */
typedef void (*cluster_wake_each_fn)(void *ctx, const char *chat_id, const char *channel);
size_t cluster_wake_each(const struct cluster_wake *wk, cluster_wake_each_fn fn, void *ctx);
/* Chats listened to. */
size_t cluster_wake_count(const struct cluster_wake *wk);
/* Writes chat_id's channel name; -EINVAL for a malformed chat id. */
int cluster_wake_channel(const struct cluster_wake *wk, const char *chat_id,
			 char channel[CLUSTER_WAKE_CHANNEL_MAX]);

#endif
