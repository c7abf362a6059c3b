#include "chat/chat.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "chat/chat_int.h"
#include "util/b64url.h"
#include "util/utf8.h"

/* The world and its users, the results and refusals every operation shares, and the checks
 * of the tools' arguments. The operations live in queue.c (enter_queue), room.c (join_room,
 * leave), message.c (send) and admin.c (views for the control socket). */

static const char default_name[] = "Stranger";

bool chat_utf8_valid(const char *s, size_t len)
{
	return utf8_valid(s, len, NULL);
}

bool chat_room_id_valid(const char *id)
{
	size_t n = 0;

	if (!id)
		return false;
	for (; id[n]; n++) {
		char ch = id[n];

		if (n == CHAT_ROOM_ID_MAX)
			return false;
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		      ch == '_' || ch == '-'))
			return false;
	}
	return n > 0;
}

const char *chat_error_code(enum chat_error e)
{
	switch (e) {
	case CHAT_OK: return NULL;
	case CHAT_INVALID_ARGUMENTS: return "invalid_arguments";
	case CHAT_NOT_IN_ROOM: return "not_in_room";
	case CHAT_ALREADY_IN_ROOM: return "already_in_room";
	case CHAT_ALREADY_WAITING: return "already_waiting";
	case CHAT_ROOM_FULL: return "room_full";
	case CHAT_ROOM_CLOSED: return "room_closed";
	case CHAT_RATE_LIMITED: return "rate_limited";
	case CHAT_PARTNER_GONE: return "partner_gone";
	case CHAT_MAILBOX_FULL: return "mailbox_full";
	case CHAT_SHUTTING_DOWN: return "shutting_down";
	case CHAT_EXPIRED: return "chat_expired";
	case CHAT_UNAVAILABLE: return "unavailable";
	case CHAT_ERROR_COUNT: break;
	}
	return "internal_error";
}

const char *chat_reason_name(enum chat_reason r)
{
	switch (r) {
	case CHAT_LEFT: return "left";
	case CHAT_DISCONNECTED: return "disconnected";
	case CHAT_TIMEOUT: return "timeout";
	case CHAT_KICKED: return "kicked";
	}
	return "disconnected";
}

void chat_result_begin(struct chat_result *r)
{
	memset(r, 0, sizeof(*r));
}

enum chat_error chat_refuse(struct chat *c, struct chat_result *r, enum chat_error e,
			    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->msg, sizeof(c->msg), fmt, ap);
	va_end(ap);
	r->error = e;
	r->message = c->msg;
	return e;
}

enum chat_error chat_refuse_shutdown(struct chat *c, struct chat_result *r)
{
	return chat_refuse(c, r, CHAT_SHUTTING_DOWN,
			   "The chat server is shutting down; try again later.");
}

enum chat_error chat_refuse_in_room(struct chat *c, const struct chat_user *u,
				    struct chat_result *r)
{
	return chat_refuse(c, r, CHAT_ALREADY_IN_ROOM,
			   "You are already in room %s; call leave_chat first.", u->room->id);
}

/* Read first: a full mailbox may take no new room or queue entry (see chat_ops.mailbox_full). */
bool chat_refuse_full_mailbox(struct chat *c, const struct chat_user *u, struct chat_result *r)
{
	if (!c->ops.mailbox_full || !c->ops.mailbox_full(c->ops.ctx, u))
		return false;
	chat_refuse(c, r, CHAT_MAILBOX_FULL,
		    "You have too many unread events; read your events first: wait_for_message or open the push stream.");
	return true;
}

/* Names and tags are shown on other people's screens: no control characters in them. */
static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7F)
			return true;
	return false;
}

/* Is s 1..max code points of UTF-8 without control characters? */
static bool printable_chars(const char *s, uint32_t max)
{
	size_t chars;

	return utf8_valid(s, strlen(s), &chars) && chars >= 1 && chars <= max && !has_control(s);
}

/* A refusal of an argument: the sentence goes to msg, which r->message then names. */
__attribute__((format(printf, 4, 5))) static bool invalid(struct chat_result *r, char *msg,
							   const char *field, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, CHAT_SENTENCE_MAX, fmt, ap);
	va_end(ap);
	r->error = CHAT_INVALID_ARGUMENTS;
	r->message = msg;
	r->field = field;
	return false;
}

bool chat_valid_name(const struct chat_limits *l, const char *name, struct chat_result *r,
		     char *msg)
{
	if (!name || printable_chars(name, l->max_display_name_chars))
		return true;
	return invalid(r, msg, "display_name",
		       "display_name must be 1 to %u characters of valid UTF-8 without control characters; pick another name.",
		       l->max_display_name_chars);
}

bool chat_valid_interests(const struct chat_limits *l, const char *const *tags, size_t n,
			  struct chat_result *r, char *msg)
{
	size_t i;

	if (n <= l->max_interests && (tags || n == 0)) {
		for (i = 0; i < n; i++)
			if (!tags[i] || !printable_chars(tags[i], l->max_interest_chars))
				break;
		if (i == n)
			return true;
	}
	return invalid(r, msg, "interests",
		       "interests must be at most %u tags of 1 to %u characters of valid UTF-8 each.",
		       l->max_interests, l->max_interest_chars);
}

bool chat_valid_room_id(const char *id, struct chat_result *r, char *msg)
{
	if (chat_room_id_valid(id))
		return true;
	return invalid(r, msg, "room_id",
		       "room_id must be 1 to %d characters of A-Z, a-z, 0-9, _ or -.", CHAT_ROOM_ID_MAX);
}

bool chat_valid_message(const struct chat_limits *l, const char *text, size_t len,
			struct chat_result *r, char *msg)
{
	if (text && len >= 1 && len <= l->max_message_bytes && utf8_valid(text, len, NULL))
		return true;
	return invalid(r, msg, "message", "message must be 1 to %zu bytes of valid UTF-8.",
		       l->max_message_bytes);
}

bool chat_check_name(struct chat *c, const char *name, struct chat_result *r)
{
	return chat_valid_name(&c->limits, name, r, c->msg);
}

bool chat_check_interests(struct chat *c, const char *const *tags, size_t n,
			  struct chat_result *r)
{
	return chat_valid_interests(&c->limits, tags, n, r, c->msg);
}

bool chat_check_room_id(struct chat *c, const char *id, struct chat_result *r)
{
	return chat_valid_room_id(id, r, c->msg);
}

bool chat_check_message(struct chat *c, const char *text, size_t len, struct chat_result *r)
{
	return chat_valid_message(&c->limits, text, len, r, c->msg);
}

const char *chat_user_name(const struct chat_user *u)
{
	return u->name ? u->name : default_name;
}

void chat_user_set_name(struct chat_user *u, const char *name)
{
	if (!name || (u->name && strcmp(u->name, name) == 0))
		return;
	free(u->name);
	u->name = xstrdup(name);
}

struct chat_user *chat_partner_of(const struct chat_user *u)
{
	const struct chat_room *room = u->room;

	return room->m[0] == u ? room->m[1] : room->m[0];
}

struct chat *chat_new(const struct chat_limits *limits, const struct chat_ops *ops,
		      struct timer_heap *timers)
{
	struct chat *c = xcalloc(1, sizeof(*c));
	uint64_t keys[4];

	if (getrandom(keys, sizeof(keys), 0) != (ssize_t)sizeof(keys))
		goto fail;
	c->limits = *limits;
	c->ops = *ops;
	c->timers = timers;
	memcpy(c->hash_key, keys, sizeof(c->hash_key));
	memcpy(c->id_key, keys + 2, sizeof(c->id_key));
	chat_room_init(c);
	chat_queue_init(c);
	htab_init(&c->ids, c->hash_key);
	return c;
fail:
	free(c);
	return NULL;
}

void chat_free(struct chat *c)
{
	if (!c)
		return;
	chat_room_fini(c);
	chat_queue_fini(c);
	htab_fini(&c->ids);
	buf_free(&c->ev);
	buf_free(&c->tmp);
	free(c);
}

void chat_shutdown(struct chat *c)
{
	c->shutting_down = true;
}

void chat_set_limits(struct chat *c, const struct chat_limits *limits)
{
	c->limits = *limits;
}

/* A fresh chat_id, unique among live users (a repeat of 128 random bits is not expected,
 * but costs one lookup to rule out). */
static void new_id(struct chat *c, struct chat_user *u)
{
	unsigned char raw[16];
	uint64_t h;

	do {
		chat_random_bytes(c, raw, sizeof(raw));
		b64url_encode(raw, sizeof(raw), u->id);
		h = htab_hash(&c->ids, u->id, CHAT_ID_LEN);
	} while (htab_find(&c->ids, u->id, CHAT_ID_LEN, h));
	htab_add(&c->ids, &u->id_h, u->id, CHAT_ID_LEN, h);
}

const char *chat_user_id(const struct chat_user *u)
{
	return u->id;
}

struct chat_user *chat_find(const struct chat *c, const char *chat_id)
{
	struct htab_entry *e;
	struct chat_user *u;
	unsigned char diff = 0;

	if (!chat_id || strlen(chat_id) != CHAT_ID_LEN)
		return NULL;
	e = htab_lookup(&c->ids, chat_id, CHAT_ID_LEN);
	if (!e)
		return NULL;
	u = container_of(e, struct chat_user, id_h);
	/* The table compared with memcmp; a credential is compared once more, evenly. */
	for (size_t i = 0; i < CHAT_ID_LEN; i++)
		diff |= (unsigned char)(u->id[i] ^ chat_id[i]);
	return diff ? NULL : u;
}

struct chat_user *chat_user_new(struct chat *c, void *owner)
{
	struct chat_user *u = xcalloc(1, sizeof(*u));

	u->c = c;
	u->owner = owner;
	u->serial = ++c->serial;
	u->state = CHAT_IDLE;
	u->tokens = c->limits.rate_burst;
	u->tokens_at = chat_mono_ms(c);
	chat_queue_user_init(u);
	new_id(c, u);
	c->users++;
	return u;
}

void chat_user_free(struct chat *c, struct chat_user *u, enum chat_reason reason)
{
	if (!u)
		return;
	if (u->in_queue)
		chat_queue_dequeue(c, u);
	else if (u->room)
		chat_room_close(c, u->room, u, reason);
	timer_cancel(c->timers, &u->fallback);
	htab_del(&c->ids, &u->id_h);
	c->users--;
	free(u->name);
	free(u);
}

void *chat_user_owner(const struct chat_user *u)
{
	return u->owner;
}

void chat_get_status(struct chat *c, const struct chat_user *u, struct chat_status *st)
{
	memset(st, 0, sizeof(*st));
	st->state = u->state;
	if (u->room)
		st->room_id = u->room->id;
	if (u->state == CHAT_IN_ROOM)
		st->partner_name = chat_user_name(chat_partner_of(u));
	if (u->in_queue)
		st->position = chat_queue_position(c, u);
}
