#ifndef MCPCHAT_CHAT_H
#define MCPCHAT_CHAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/timer.h"

/* Chat logic: users, the waiting queue, rooms, messages, rate limits. Pure: no sockets, no
 * MCP, no JSON parsing. Events for a user leave through chat_ops.deliver as a method name
 * and the params object as JSON text (without "seq": the mailbox adds it). Every operation is
 * O(1) or O(log n) in the number of users; nothing scans all users or rooms. */

struct chat;
struct chat_user;

enum chat_error {
	CHAT_OK = 0,
	CHAT_INVALID_ARGUMENTS,
	CHAT_NOT_IN_ROOM,
	CHAT_ALREADY_IN_ROOM,
	CHAT_ALREADY_WAITING,
	CHAT_ROOM_FULL,
	CHAT_ROOM_CLOSED,
	CHAT_RATE_LIMITED,
	CHAT_PARTNER_GONE,
	CHAT_MAILBOX_FULL,
	CHAT_SHUTTING_DOWN,
	CHAT_EXPIRED, /* a chat_id that names no chat (never issued, or its chat ended) */
	CHAT_UNAVAILABLE, /* nothing was done: no room for a new chat, or (a cluster) no store */
	CHAT_ERROR_COUNT, /* not an error: how many codes there are */
};

/* "invalid_arguments", "not_in_room", ... as in CHAT-PROTOCOL.md; NULL for CHAT_OK. */
const char *chat_error_code(enum chat_error e);

enum chat_state { CHAT_IDLE, CHAT_WAITING, CHAT_IN_ROOM };

/* Why a partner left, as sent in partner.disconnected. */
enum chat_reason { CHAT_LEFT, CHAT_DISCONNECTED, CHAT_TIMEOUT, CHAT_KICKED };
const char *chat_reason_name(enum chat_reason r);

struct chat_ops {
	/* Appends an event to the user's mailbox and pushes it. A refusable event (a message) may
	 * be refused: return -ENOSPC when the mailbox is full of undelivered events. Room events
	 * are never refusable. Returns 0 on success; it cannot fail otherwise (allocation
	 * failure aborts, util/xalloc.h). */
	int (*deliver)(void *ctx, struct chat_user *to, const char *method, const char *params,
		       size_t len, bool refusable);
	uint64_t (*mono_ms)(void *ctx); /* monotonic clock, ms: rate limits, fallback */
	int64_t (*wall_ms)(void *ctx);  /* Unix time, ms: event timestamps */
	void *ctx;
	/* Is the user's mailbox full of undelivered events? Such a user may not start anything
	 * that brings new events (enter_queue, join_room), so every mailbox stays bounded: only
	 * the queue entry or room it already has can add its found and disconnected. NULL: never. */
	bool (*mailbox_full)(void *ctx, const struct chat_user *u);
};

struct chat_limits {
	size_t max_message_bytes;        /* 4096 */
	uint32_t max_display_name_chars; /* 32 (code points) */
	uint32_t max_interests;          /* 8 */
	uint32_t max_interest_chars;     /* 24 (code points) */
	double rate_per_second;          /* 5 */
	double rate_burst;               /* 20 */
	uint32_t fallback_ms;            /* 10000 */
};

/* The chat world. timers: the loop's heap, for interest fallback. Returns NULL when
 * getrandom fails (the hash and id keys). */
struct chat *chat_new(const struct chat_limits *limits, const struct chat_ops *ops,
		      struct timer_heap *timers);
/* New limits (SIGHUP); they apply from the next operation on. */
void chat_set_limits(struct chat *c, const struct chat_limits *limits);
/* Frees the world; all users must have been removed first. */
void chat_free(struct chat *c);
/* After this, entering the queue, joining rooms and sending answer CHAT_SHUTTING_DOWN. */
void chat_shutdown(struct chat *c);

/* A user; owner is the caller's (the MCP session), returned by chat_user_owner(). Never
 * NULL. */
struct chat_user *chat_user_new(struct chat *c, void *owner);
/* Ends the user: leaves queue or room; a partner gets partner.disconnected with reason. */
void chat_user_free(struct chat *c, struct chat_user *u, enum chat_reason reason);
void *chat_user_owner(const struct chat_user *u);

/* Each user's chat_id: 128 bits from getrandom, base64url (22 characters). It names the
 * chat across protocol eras: a credential, never logged, never shown to admins. It lives
 * as long as the user. */
#define CHAT_ID_LEN 22
const char *chat_user_id(const struct chat_user *u);
/* The user with this chat_id (compared in constant time after the lookup), or NULL. */
struct chat_user *chat_find(const struct chat *c, const char *chat_id);

/* Results of the tools. Strings in results point into chat-owned memory valid until the next
 * chat call. */
struct chat_result {
	enum chat_error error;
	const char *message;   /* a sentence a person can act on, when error != CHAT_OK */
	const char *field;     /* the offending argument, with CHAT_INVALID_ARGUMENTS */
	bool matched;          /* enter_queue/join_room: matched now (else waiting) */
	uint32_t position;     /* enter_queue while waiting: 1-based place in the queue */
	const char *room_id;
	const char *partner_name;
	char message_id[24];   /* send_message */
	char timestamp[32];    /* send_message: RFC 3339 UTC with milliseconds */
	uint32_t retry_after_ms; /* CHAT_RATE_LIMITED */
};

/* display_name may be NULL (keep the current one, default "Stranger"); interests is an array
 * of n tags (compared case-insensitively). Validates lengths (display name 1..32 chars, at
 * most 8 tags of 1..24 chars, valid UTF-8) and answers CHAT_INVALID_ARGUMENTS naming the field. */
void chat_enter_queue(struct chat *c, struct chat_user *u, const char *display_name,
		      const char *const *interests, size_t n, struct chat_result *r);
void chat_join_room(struct chat *c, struct chat_user *u, const char *room_id,
		    const char *display_name, struct chat_result *r);
void chat_send(struct chat *c, struct chat_user *u, const char *room_id, const char *text,
	       size_t len, struct chat_result *r);
void chat_leave(struct chat *c, struct chat_user *u, const char *room_id, struct chat_result *r);

struct chat_status {
	enum chat_state state;
	const char *room_id;      /* waiting in a named room, or in a room */
	const char *partner_name; /* in a room */
	uint32_t position;        /* waiting in the queue */
};
void chat_get_status(struct chat *c, const struct chat_user *u, struct chat_status *st);

/* The checks of the tools' arguments, shared by the single node (chat_enter_queue...) and
 * the cluster engine (daemon/cluster/call.h), so both refuse the same inputs with the same
 * sentence. Each returns true when the argument is valid; else it fills r: error
 * CHAT_INVALID_ARGUMENTS, field (a static string), and message, which it writes into msg
 * (CHAT_SENTENCE_MAX bytes, the caller's: r->message points there). A NULL name is valid
 * (keep the current one). */
#define CHAT_SENTENCE_MAX 256
bool chat_valid_name(const struct chat_limits *l, const char *name, struct chat_result *r,
		     char *msg);
bool chat_valid_interests(const struct chat_limits *l, const char *const *tags, size_t n,
			  struct chat_result *r, char *msg);
bool chat_valid_room_id(const char *id, struct chat_result *r, char *msg);
bool chat_valid_message(const struct chat_limits *l, const char *text, size_t len,
			struct chat_result *r, char *msg);

/* Is this a valid room id (1..64 of [A-Za-z0-9_-])? */
bool chat_room_id_valid(const char *id);
/* Is s valid UTF-8 (no overlongs, no surrogates)? */
bool chat_utf8_valid(const char *s, size_t len);

/* Counters for admins and metrics. */
struct chat_stats {
	uint32_t users, waiting, rooms;
	uint64_t matches, messages;
};
void chat_get_stats(const struct chat *c, struct chat_stats *st);

/* Admin views, for the control socket: linear in what they list, never on a chat path. */
#define CHAT_VIEW_MAX_TAGS 8
struct chat_user_view {
	void *owner;
	const char *display_name;
	enum chat_state state;
	const char *room_id; /* in a room, or waiting in a named one */
	bool named;
	uint64_t waiting_since_ms; /* mono_ms when it started waiting (state waiting) */
	const char *interests[CHAT_VIEW_MAX_TAGS];
	size_t n_interests;
};
void chat_user_view(const struct chat_user *u, struct chat_user_view *v);

typedef void (*chat_user_fn)(void *ctx, const struct chat_user *u);
/* Every waiter: the random queue in order, then those alone in named rooms. */
void chat_each_waiting(const struct chat *c, chat_user_fn fn, void *ctx);

struct chat_room_view {
	const char *room_id;
	bool named;
	uint64_t created_ms; /* mono_ms */
	uint64_t messages;
	const struct chat_user *members[2]; /* members[1] NULL while one waits */
};
typedef void (*chat_room_fn)(void *ctx, const struct chat_room_view *r);
void chat_each_room(const struct chat *c, chat_room_fn fn, void *ctx);
/* The users in a room (1 or 2, stored in out); 0 when there is no such room. */
size_t chat_room_members(const struct chat *c, const char *room_id, struct chat_user *out[2]);

#endif
