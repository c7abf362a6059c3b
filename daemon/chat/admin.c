#include <string.h>

#include "chat/chat_int.h"

/* Views for the control socket and metrics: linear in what they list, never on a chat path,
 * and read-only. */

void chat_get_stats(const struct chat *c, struct chat_stats *st)
{
	st->users = c->users;
	st->waiting = c->queued + c->named_waiting;
	st->rooms = c->pairs;
	st->matches = c->matches;
	st->messages = c->messages;
}

void chat_user_view(const struct chat_user *u, struct chat_user_view *v)
{
	memset(v, 0, sizeof(*v));
	v->owner = u->owner;
	v->display_name = chat_user_name(u);
	v->state = u->state;
	v->room_id = u->room ? u->room->id : NULL;
	v->named = u->room && u->room->named;
	if (u->in_queue)
		v->waiting_since_ms = u->queued_at;
	else if (u->state == CHAT_WAITING && u->room)
		v->waiting_since_ms = u->room->created_ms;
	if (u->in_queue)
		for (uint32_t i = 0; i < u->ntags && i < CHAT_VIEW_MAX_TAGS; i++)
			v->interests[v->n_interests++] = u->tags[i].tag->name;
}

static void each_in_list(const struct list_link *head, chat_user_fn fn, void *ctx)
{
	for (const struct list_link *l = head->next; l != head; l = l->next)
		fn(ctx, chat_qnode_user(l));
}

void chat_each_waiting(const struct chat *c, chat_user_fn fn, void *ctx)
{
	each_in_list(&c->open, fn, ctx);
	each_in_list(&c->held, fn, ctx);
	for (struct htab_entry *e = htab_next(&c->rooms, NULL); e; e = htab_next(&c->rooms, e))
		if (!chat_room_of(e)->m[1])
			fn(ctx, chat_room_of(e)->m[0]);
}

void chat_each_room(const struct chat *c, chat_room_fn fn, void *ctx)
{
	for (struct htab_entry *e = htab_next(&c->rooms, NULL); e; e = htab_next(&c->rooms, e)) {
		const struct chat_room *room = chat_room_of(e);
		struct chat_room_view v = { room->id, room->named, room->created_ms, room->messages,
					    { room->m[0], room->m[1] } };

		fn(ctx, &v);
	}
}

size_t chat_room_members(const struct chat *c, const char *room_id, struct chat_user *out[2])
{
	const struct chat_room *room = chat_room_find(c, room_id);

	if (!room)
		return 0;
	out[0] = room->m[0];
	out[1] = room->m[1];
	return room->m[1] ? 2 : 1;
}
