#include <stdlib.h>
#include <string.h>

#include "chat/chat_int.h"

/* The random queue: waiters without interests (open) and with them (held), interest tags
 * with their waiters, queue positions from a Fenwick tree over arrival tickets, matching
 * (the peer's pickPartner) and the interest fallback timer. */

/* Waiters passed over per list when looking for someone other than a recent partner: bounds
 * the work of a match when many waiters just left the arriving user. */
#define SKIP_MAX 4

static void fen_add(struct chat *c, uint32_t i, uint32_t delta)
{
	for (; i <= c->fcap; i += i & (~i + 1))
		c->fen[i] += delta; /* delta may be (uint32_t)-1: wraps to a decrement */
}

static uint32_t fen_sum(const struct chat *c, uint32_t i)
{
	uint32_t s = 0;

	for (; i; i -= i & (~i + 1))
		s += c->fen[i];
	return s;
}

/* Renumbers the queue 1..n in order into a fresh tree with room for as many arrivals again:
 * O(n) once per at least n + 64 arrivals. */
static void fen_rebuild(struct chat *c)
{
	uint32_t cap = 2 * c->queued + 64, t = 0;
	uint32_t *fen = xcalloc((size_t)cap + 1, sizeof(*fen));
	struct list_link *a = c->open.next, *b = c->held.next;

	while (a != &c->open || b != &c->held) {
		struct chat_user *ua = a != &c->open ? chat_qnode_user(a) : NULL;
		struct chat_user *ub = b != &c->held ? chat_qnode_user(b) : NULL;
		struct chat_user *w = !ub || (ua && ua->ticket < ub->ticket) ? ua : ub;

		if (w == ua)
			a = a->next;
		else
			b = b->next;
		w->ticket = ++t;
	}
	for (uint32_t i = 1; i <= cap; i++) {
		uint32_t j = i + (i & (~i + 1));

		fen[i] += i <= t;
		if (j <= cap)
			fen[j] += fen[i];
	}
	free(c->fen);
	c->fen = fen;
	c->fcap = cap;
	c->next_ticket = t + 1;
}

uint32_t chat_queue_position(const struct chat *c, const struct chat_user *u)
{
	return fen_sum(c, u->ticket);
}

static void tag_release(struct chat *c, struct chat_tag *tag)
{
	if (!list_empty(&tag->waiters))
		return;
	htab_del(&c->tags, &tag->h);
	free(tag);
}

void chat_queue_dequeue(struct chat *c, struct chat_user *u)
{
	timer_cancel(c->timers, &u->fallback);
	for (uint32_t i = 0; i < u->ntags; i++) {
		list_del(&u->tags[i].q.link);
		tag_release(c, u->tags[i].tag);
	}
	free(u->tags);
	u->tags = NULL;
	u->ntags = 0;
	list_del(&u->kind.link);
	fen_add(c, u->ticket, (uint32_t)-1);
	c->queued--;
	u->in_queue = false;
	u->state = CHAT_IDLE;
}

/* The tag named key (len bytes, lower-cased), created when no waiter names it yet. */
static struct chat_tag *tag_get(struct chat *c, const char *key, size_t len, uint64_t h)
{
	struct htab_entry *e = htab_find(&c->tags, key, len, h);
	struct chat_tag *tag;

	if (e)
		return container_of(e, struct chat_tag, h);
	tag = xmalloc(sizeof(*tag) + len + 1);
	memcpy(tag->name, key, len + 1);
	list_head_init(&tag->waiters);
	htab_add(&c->tags, &tag->h, tag->name, len, h);
	return tag;
}

/* Lower-cases the tag, finds or creates it, and links u into its list unless u has it. */
static void add_tag(struct chat *c, struct chat_user *u, const char *raw)
{
	struct chat_tag *tag;

	c->tmp.len = 0;
	buf_puts(&c->tmp, raw);
	for (size_t i = 0; i < c->tmp.len; i++)
		if (c->tmp.p[i] >= 'A' && c->tmp.p[i] <= 'Z')
			c->tmp.p[i] = (char)(c->tmp.p[i] - 'A' + 'a');
	tag = tag_get(c, c->tmp.p, c->tmp.len, htab_hash(&c->tags, c->tmp.p, c->tmp.len));
	for (uint32_t i = 0; i < u->ntags; i++)
		if (u->tags[i].tag == tag)
			return;
	u->tags[u->ntags] = (struct chat_tagnode){ .q.u = u, .tag = tag };
	list_append(&tag->waiters, &u->tags[u->ntags++].q.link);
}

static void enqueue(struct chat *c, struct chat_user *u, const char *const *tags, size_t n,
		    uint64_t now)
{
	if (c->next_ticket > c->fcap)
		fen_rebuild(c);
	if (n)
		u->tags = xcalloc(n, sizeof(*u->tags));
	u->ticket = c->next_ticket++;
	fen_add(c, u->ticket, 1);
	c->queued++;
	u->in_queue = true;
	u->state = CHAT_WAITING;
	u->queued_at = now;
	u->kind.u = u;
	list_append(n ? &c->held : &c->open, &u->kind.link);
	for (size_t i = 0; i < n; i++)
		add_tag(c, u, tags[i]);
	if (n)
		timer_arm(c->timers, &u->fallback, now + c->limits.fallback_ms);
}

static bool takes_anyone(const struct chat *c, const struct chat_user *w, uint64_t now)
{
	return w->ntags == 0 || now - w->queued_at >= c->limits.fallback_ms;
}

/* Did s and w just part? Then they meet again only when nobody else fits. */
static bool recent(const struct chat_user *s, const struct chat_user *w)
{
	return w->last_partner == s->serial || s->last_partner == w->serial;
}

struct pick {
	struct chat_user *fresh; /* earliest waiter that is not a recent partner */
	struct chat_user *fit;   /* earliest waiter at all */
};

static void earliest(struct chat_user **best, struct chat_user *w)
{
	if (!*best || w->ticket < (*best)->ticket)
		*best = w;
}

/* Looks at the head of one queue list for s; in the held list only the prefix that has
 * waited out the fallback takes anyone. */
static void scan(const struct chat *c, const struct list_link *head, const struct chat_user *s,
		 uint64_t now, bool expired_only, struct pick *p)
{
	unsigned skipped = 0;

	for (const struct list_link *l = head->next; l != head; l = l->next) {
		struct chat_user *w = chat_qnode_user(l);

		if (w == s)
			continue;
		if (expired_only && !takes_anyone(c, w, now))
			return;
		earliest(&p->fit, w);
		if (!recent(s, w)) {
			earliest(&p->fresh, w);
			return;
		}
		if (++skipped == SKIP_MAX)
			return;
	}
}

/* The peer's pickPartner(): a fresh waiter sharing an interest, else a fresh one that takes
 * anyone; a recent partner only when nobody fresh fits. s itself is in the queue. */
static struct chat_user *pick_partner(struct chat *c, struct chat_user *s, uint64_t now)
{
	struct pick share = { NULL, NULL }, any = { NULL, NULL };

	for (uint32_t i = 0; i < s->ntags; i++)
		scan(c, &s->tags[i].tag->waiters, s, now, false, &share);
	if (takes_anyone(c, s, now)) {
		scan(c, &c->open, s, now, false, &any);
		scan(c, &c->held, s, now, true, &any);
	}
	if (share.fresh || any.fresh)
		return share.fresh ? share.fresh : any.fresh;
	return share.fit ? share.fit : any.fit;
}

static struct chat_room *match_from_queue(struct chat *c, struct chat_user *s, uint64_t now)
{
	struct chat_user *partner = pick_partner(c, s, now);
	struct chat_room *room;

	if (!partner)
		return NULL;
	room = chat_room_new_random(c);
	chat_room_pair(c, room, partner, s);
	return room;
}

static void on_fallback(struct timer *t)
{
	struct chat_user *u = container_of(t, struct chat_user, fallback);

	if (u->in_queue)
		match_from_queue(u->c, u, chat_mono_ms(u->c));
}

void chat_queue_init(struct chat *c)
{
	htab_init(&c->tags, c->hash_key);
	list_head_init(&c->open);
	list_head_init(&c->held);
	c->next_ticket = 1;
}

void chat_queue_fini(struct chat *c)
{
	htab_fini(&c->tags);
	free(c->fen);
	c->fen = NULL;
}

void chat_queue_user_init(struct chat_user *u)
{
	list_head_init(&u->kind.link);
	timer_init(&u->fallback, on_fallback);
}

static enum chat_error enter_queue(struct chat *c, struct chat_user *u, const char *display_name,
				   const char *const *interests, size_t n, struct chat_result *r)
{
	uint64_t now = chat_mono_ms(c);
	struct chat_room *room;

	if (c->shutting_down)
		return chat_refuse_shutdown(c, r);
	if (!chat_check_name(c, display_name, r) || !chat_check_interests(c, interests, n, r))
		return r->error;
	if (u->state == CHAT_IN_ROOM)
		return chat_refuse_in_room(c, u, r);
	if (u->room)
		return chat_refuse(c, r, CHAT_ALREADY_WAITING,
				   "You are waiting in room %s; call leave_chat first.", u->room->id);
	if (!u->in_queue && chat_refuse_full_mailbox(c, u, r))
		return r->error;
	chat_user_set_name(u, display_name);
	if (!u->in_queue) {
		enqueue(c, u, interests, n, now);
		room = match_from_queue(c, u, now);
		if (room) {
			r->matched = true;
			r->room_id = room->id;
			r->partner_name = chat_user_name(chat_partner_of(u));
			return CHAT_OK;
		}
	}
	r->position = chat_queue_position(c, u);
	return CHAT_OK;
}

void chat_enter_queue(struct chat *c, struct chat_user *u, const char *display_name,
		      const char *const *interests, size_t n, struct chat_result *r)
{
	chat_result_begin(r);
	enter_queue(c, u, display_name, interests, n, r);
}
