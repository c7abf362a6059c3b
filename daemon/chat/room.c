#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "chat/chat_int.h"
#include "util/b64url.h"
#include "util/siphash.h"

/* Rooms: named ones (join_room; the first one in waits there) and random ones (made for a
 * match from the queue), pairing two users, closing with partner.disconnected, and
 * leave_chat. */

#define RANDOM_ROOM_BYTES 12 /* 96 bits: 16 base64url characters */

void chat_room_init(struct chat *c)
{
	htab_init(&c->rooms, c->hash_key);
	c->rnd_pos = sizeof(c->rnd); /* empty: the first room id fills it */
}

void chat_room_fini(struct chat *c)
{
	htab_fini(&c->rooms);
}

/* Room ids and chat ids by the 128 bytes: one getrandom call per several ids. */
void chat_random_bytes(struct chat *c, void *out, size_t n)
{
	if (c->rnd_pos + n > sizeof(c->rnd)) {
		ssize_t got = getrandom(c->rnd, sizeof(c->rnd), 0);

		/* getrandom does not fail on a sane kernel; if it does, stir the old pool. */
		if (got != (ssize_t)sizeof(c->rnd)) {
			for (size_t i = 0; i < sizeof(c->rnd); i += 8) {
				uint64_t x = siphash24(c->hash_key, c->rnd, sizeof(c->rnd)) + i;

				memcpy(c->rnd + i, &x, 8);
			}
		}
		c->rnd_pos = 0;
	}
	memcpy(out, c->rnd + c->rnd_pos, n);
	c->rnd_pos += n;
}

struct chat_room *chat_room_find(const struct chat *c, const char *id)
{
	return chat_room_of(htab_lookup(&c->rooms, id, strlen(id)));
}

/* A named room with no members yet. */
static struct chat_room *room_new(struct chat *c, const char *id)
{
	struct chat_room *room = xcalloc(1, sizeof(*room));
	size_t len = strlen(id);

	memcpy(room->id, id, len + 1);
	room->named = true;
	room->created_ms = chat_mono_ms(c);
	htab_add(&c->rooms, &room->h, room->id, len, htab_hash(&c->rooms, id, len));
	return room;
}

struct chat_room *chat_room_new_random(struct chat *c)
{
	unsigned char raw[RANDOM_ROOM_BYTES];
	char id[RANDOM_ROOM_BYTES / 3 * 4 + 1];
	struct chat_room *room;

	do {
		chat_random_bytes(c, raw, sizeof(raw));
		b64url_encode(raw, sizeof(raw), id);
	} while (id[0] == '-' || chat_room_find(c, id)); /* '-' would read as an option in a shell */
	room = room_new(c, id);
	room->named = false;
	return room;
}

/* Room events cannot be refused: deliver and move on. */
static void deliver_event(struct chat *c, struct chat_user *to, const char *method)
{
	c->ops.deliver(c->ops.ctx, to, method, c->ev.p, c->ev.len, false);
}

static void build_found(struct chat *c, const struct chat_room *room,
			const struct chat_user *other)
{
	const char *name = chat_user_name(other);

	c->ev.len = 0;
	buf_puts(&c->ev, "{\"room_id\":");
	buf_json_string(&c->ev, room->id, strlen(room->id));
	buf_puts(&c->ev, ",\"partner\":{\"display_name\":");
	buf_json_string(&c->ev, name, strlen(name));
	buf_puts(&c->ev, "}}");
}

/* The peer's pair(): a is the one who waited and hears first. */
void chat_room_pair(struct chat *c, struct chat_room *room, struct chat_user *a,
		    struct chat_user *b)
{
	struct chat_user *m[2] = { a, b };

	room->m[0] = a;
	room->m[1] = b;
	for (int i = 0; i < 2; i++) {
		if (m[i]->in_queue)
			chat_queue_dequeue(c, m[i]);
		else if (m[i]->room)
			c->named_waiting--;
		m[i]->state = CHAT_IN_ROOM;
		m[i]->room = room;
		m[i]->last_partner = m[1 - i]->serial;
	}
	c->pairs++;
	c->matches++;
	for (int i = 0; i < 2; i++) {
		build_found(c, room, m[1 - i]);
		deliver_event(c, m[i], "chatroom.found");
	}
}

static void build_disconnected(struct chat *c, const struct chat_room *room,
			       enum chat_reason reason)
{
	c->ev.len = 0;
	buf_puts(&c->ev, "{\"room_id\":");
	buf_json_string(&c->ev, room->id, strlen(room->id));
	buf_printf(&c->ev, ",\"reason\":\"%s\"}", chat_reason_name(reason));
}

void chat_room_close(struct chat *c, struct chat_room *room, struct chat_user *leaver,
		     enum chat_reason reason)
{
	struct chat_user *other = room->m[0] == leaver ? room->m[1] : room->m[0];

	if (room->m[1])
		c->pairs--;
	else
		c->named_waiting--;
	for (int i = 0; i < 2; i++) {
		struct chat_user *m = room->m[i];

		if (!m)
			continue;
		m->state = CHAT_IDLE;
		m->room = NULL;
		memcpy(m->closed_id, room->id, sizeof(m->closed_id));
		m->closed_gone = m != leaver && reason != CHAT_LEFT;
	}
	if (other)
		build_disconnected(c, room, reason);
	htab_del(&c->rooms, &room->h);
	free(room);
	if (other)
		deliver_event(c, other, "partner.disconnected");
}

/* The first one in waits in the new room; the second is paired with them. */
static enum chat_error enter_room(struct chat *c, struct chat_user *u, const char *room_id,
				  struct chat_result *r)
{
	struct chat_room *room = chat_room_find(c, room_id);

	if (room && room->m[1])
		return chat_refuse(c, r, CHAT_ROOM_FULL,
				   "Room %s already has two people; pick another room id.", room_id);
	if (room) {
		chat_room_pair(c, room, room->m[0], u);
		r->matched = true;
		r->room_id = room->id;
		r->partner_name = chat_user_name(room->m[0]);
		return CHAT_OK;
	}
	room = room_new(c, room_id);
	room->m[0] = u;
	u->room = room;
	u->state = CHAT_WAITING;
	c->named_waiting++;
	r->room_id = room->id;
	return CHAT_OK;
}

static enum chat_error join_room(struct chat *c, struct chat_user *u, const char *room_id,
				 const char *display_name, struct chat_result *r)
{
	if (c->shutting_down)
		return chat_refuse_shutdown(c, r);
	if (!chat_check_room_id(c, room_id, r) || !chat_check_name(c, display_name, r))
		return r->error;
	if (u->state == CHAT_IN_ROOM)
		return chat_refuse_in_room(c, u, r);
	if (u->room && strcmp(u->room->id, room_id) == 0) {
		r->room_id = u->room->id; /* joining again is harmless, as in the peer */
		return CHAT_OK;
	}
	if (u->room)
		return chat_refuse(c, r, CHAT_ALREADY_WAITING,
				   "You are waiting in room %s; call leave_chat first.", u->room->id);
	if (u->in_queue)
		return chat_refuse(c, r, CHAT_ALREADY_WAITING,
				   "You are waiting in the queue for a partner; call leave_chat first.");
	if (chat_refuse_full_mailbox(c, u, r))
		return r->error;
	chat_user_set_name(u, display_name);
	return enter_room(c, u, room_id, r);
}

void chat_join_room(struct chat *c, struct chat_user *u, const char *room_id,
		    const char *display_name, struct chat_result *r)
{
	chat_result_begin(r);
	join_room(c, u, room_id, display_name, r);
}

enum chat_error chat_room_refuse_not_in(struct chat *c, const struct chat_user *u,
					const char *room_id, struct chat_result *r)
{
	if (strcmp(u->closed_id, room_id) != 0)
		return chat_refuse(c, r, CHAT_NOT_IN_ROOM,
				   "You are not in room %s; call enter_queue or join_room first.", room_id);
	if (u->closed_gone)
		return chat_refuse(c, r, CHAT_PARTNER_GONE,
				   "Your partner in room %s is gone; call enter_queue to meet someone new.",
				   room_id);
	return chat_refuse(c, r, CHAT_ROOM_CLOSED,
			   "Room %s is closed; call enter_queue or join_room to chat again.", room_id);
}

void chat_leave(struct chat *c, struct chat_user *u, const char *room_id, struct chat_result *r)
{
	chat_result_begin(r);
	if (!chat_check_room_id(c, room_id, r))
		return;
	if (u->in_queue) /* the random queue has no room id yet: any id leaves it */
		chat_queue_dequeue(c, u);
	else if (u->room && strcmp(u->room->id, room_id) == 0)
		chat_room_close(c, u->room, u, CHAT_LEFT);
	else if (strcmp(u->closed_id, room_id) != 0)
		chat_room_refuse_not_in(c, u, room_id, r);
}
