#include "chat/chat.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "buf.h"

#define ROOM_ID_MAX 64
#define RANDOM_ROOM_BYTES 12 /* 96 bits: 16 base64url characters */
/* Waiters passed over per list when looking for someone other than a recent partner: bounds
 * the work of a match when many waiters just left the arriving user. */
#define SKIP_MAX 4

static const char default_name[] = "Stranger";
static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

struct link {
	struct link *prev, *next;
};

/* An entry of a queue list; u is the waiter it stands for. */
struct qnode {
	struct link link;
	struct chat_user *u;
};

/* Chained hash table over caller-embedded entries, keyed by a seeded SipHash. */
struct hent {
	struct hent *next;
	uint64_t hash;
	const char *key;
	size_t len;
};

struct htab {
	struct hent **v;
	size_t cap; /* 0 or a power of two */
	size_t n;
};

/* An interest tag with the queue's waiters that named it, oldest first. Tags and rooms put
 * their hent first, so a found entry (or NULL) converts to them by a cast. */
struct tag {
	struct hent h;
	struct link waiters;
	char name[];
};

struct tagnode {
	struct qnode q;
	struct tag *tag;
};

struct room {
	struct hent h;
	struct chat_user *m[2]; /* m[1] is NULL while the first one waits in a named room */
	bool named;
	uint64_t created_ms;
	uint64_t messages;
	char id[ROOM_ID_MAX + 1];
};

struct chat_user {
	struct chat *c;
	void *owner;
	uint64_t serial;
	uint64_t last_partner; /* serial, not a pointer: the partner may be gone */
	char *name;            /* NULL: default_name */
	enum chat_state state;
	bool in_queue;
	bool closed_gone;
	struct room *room; /* in a room, or waiting in a named one */
	/* Random queue: the open or held list, one node per interest tag, a Fenwick ticket. */
	struct qnode kind;
	struct tagnode *tags;
	uint32_t ntags;
	uint32_t ticket;
	uint64_t queued_at;
	struct timer fallback;
	double tokens;
	uint64_t tokens_at;
	char closed_id[ROOM_ID_MAX + 1]; /* the last room that closed on this user */
};

struct chat {
	struct chat_limits limits;
	struct chat_ops ops;
	struct timer_heap *timers;
	uint64_t hash_key[2];
	uint64_t id_key[2];
	uint64_t msg_counter;
	uint64_t serial;
	struct htab rooms, tags;
	/* Waiters without interests, and waiters with interests; both in queue order. Because
	 * the fallback delay is constant, the held waiters who take anyone are a prefix. */
	struct link open, held;
	uint32_t *fen; /* Fenwick tree over tickets 1..fcap: queue positions */
	uint32_t fcap, next_ticket;
	uint32_t users, queued, named_waiting, pairs;
	uint64_t matches, messages;
	bool shutting_down;
	unsigned char rnd[128];
	size_t rnd_pos;
	struct buf ev, tmp;
	char msg[256];
};

static void clist_init(struct link *h)
{
	h->prev = h->next = h;
}

static void clist_append(struct link *h, struct link *n)
{
	n->prev = h->prev;
	n->next = h;
	h->prev->next = n;
	h->prev = n;
}

static void clist_unlink(struct link *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->prev = n->next = n;
}

static struct chat_user *link_user(struct link *l)
{
	return container_of(l, struct qnode, link)->u;
}

static uint64_t rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

static void sipround(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = rotl(v[1], 13) ^ v[0];
	v[0] = rotl(v[0], 32);
	v[2] += v[3];
	v[3] = rotl(v[3], 16) ^ v[2];
	v[0] += v[3];
	v[3] = rotl(v[3], 21) ^ v[0];
	v[2] += v[1];
	v[1] = rotl(v[1], 17) ^ v[2];
	v[2] = rotl(v[2], 32);
}

static void sipmix(uint64_t v[4], uint64_t m, int rounds)
{
	v[3] ^= m;
	for (int i = 0; i < rounds; i++)
		sipround(v);
	v[0] ^= m;
}

/* SipHash-2-4: room ids come from users, so bucket placement must not be predictable. */
static uint64_t siphash(const uint64_t k[2], const char *s, size_t len)
{
	uint64_t v[4] = { 0x736f6d6570736575ULL ^ k[0], 0x646f72616e646f6dULL ^ k[1],
			  0x6c7967656e657261ULL ^ k[0], 0x7465646279746573ULL ^ k[1] };
	const unsigned char *p = (const unsigned char *)s;
	uint64_t m, last = (uint64_t)len << 56;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		memcpy(&m, p + i, 8);
		sipmix(v, m, 2);
	}
	for (size_t j = 0; i + j < len; j++)
		last |= (uint64_t)p[i + j] << (8 * j);
	sipmix(v, last, 2);
	v[2] ^= 0xff;
	for (int r = 0; r < 4; r++)
		sipround(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

static struct hent *htab_find(const struct htab *t, const char *key, size_t len, uint64_t h)
{
	if (!t->cap)
		return NULL;
	for (struct hent *e = t->v[h & (t->cap - 1)]; e; e = e->next)
		if (e->hash == h && e->len == len && memcmp(e->key, key, len) == 0)
			return e;
	return NULL;
}

static void htab_link(struct hent **v, size_t cap, struct hent *e)
{
	struct hent **slot = &v[e->hash & (cap - 1)];

	e->next = *slot;
	*slot = e;
}

static int htab_grow(struct htab *t)
{
	size_t cap = t->cap ? t->cap * 2 : 16;
	struct hent **v = calloc(cap, sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < t->cap; i++) {
		struct hent *e = t->v[i];

		while (e) {
			struct hent *next = e->next;

			htab_link(v, cap, e);
			e = next;
		}
	}
	free(t->v);
	t->v = v;
	t->cap = cap;
	return 0;
}

static int htab_add(struct htab *t, struct hent *e)
{
	/* A failed grow only lengthens the chains, unless there is no table yet. */
	if (t->n >= t->cap && htab_grow(t) < 0 && !t->cap)
		return -ENOMEM;
	htab_link(t->v, t->cap, e);
	t->n++;
	return 0;
}

static void htab_del(struct htab *t, struct hent *e)
{
	struct hent **p = &t->v[e->hash & (t->cap - 1)];

	while (*p != e)
		p = &(*p)->next;
	*p = e->next;
	t->n--;
}

static void random_bytes(struct chat *c, void *out, size_t n)
{
	if (c->rnd_pos + n > sizeof(c->rnd)) {
		ssize_t got = getrandom(c->rnd, sizeof(c->rnd), 0);

		/* getrandom does not fail on a sane kernel; if it does, stir the old pool. */
		if (got != (ssize_t)sizeof(c->rnd)) {
			for (size_t i = 0; i < sizeof(c->rnd); i += 8) {
				uint64_t x = siphash(c->hash_key, (const char *)c->rnd, sizeof(c->rnd)) + i;

				memcpy(c->rnd + i, &x, 8);
			}
		}
		c->rnd_pos = 0;
	}
	memcpy(out, c->rnd + c->rnd_pos, n);
	c->rnd_pos += n;
}

/* Appends base64url of n bytes (n a multiple of 3) to out, NUL-terminated. */
static void b64url_encode(const unsigned char *in, size_t n, char *out)
{
	for (size_t i = 0; i < n; i += 3) {
		uint32_t x = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		for (int j = 0; j < 4; j++)
			*out++ = b64url[(x >> (18 - 6 * j)) & 63];
	}
	*out = '\0';
}

static bool utf8_scan(const char *s, size_t len, size_t *chars)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n = 0;

	while (i < len) {
		unsigned c, lo = 0x80, hi = 0xbf;
		size_t k;
		uint64_t w;

		/* ASCII runs go 8 bytes at a time. */
		if (len - i >= 8 && (memcpy(&w, p + i, 8), !(w & 0x8080808080808080ull))) {
			i += 8;
			n += 8;
			continue;
		}
		c = p[i];
		if (c < 0x80)
			k = 0;
		else if (c >= 0xc2 && c <= 0xdf)
			k = 1;
		else if (c >= 0xe0 && c <= 0xef)
			k = 2;
		else if (c >= 0xf0 && c <= 0xf4)
			k = 3;
		else
			return false;
		/* Second-byte bounds rule out overlongs, surrogates and code points past U+10FFFF. */
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
		else if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
		if (len - i - 1 < k)
			return false;
		for (size_t j = 1; j <= k; j++) {
			unsigned d = p[i + j];

			if (d < (j == 1 ? lo : 0x80) || d > (j == 1 ? hi : 0xbf))
				return false;
		}
		i += k + 1;
		n++;
	}
	if (chars)
		*chars = n;
	return true;
}

bool chat_utf8_valid(const char *s, size_t len)
{
	return utf8_scan(s, len, NULL);
}

bool chat_room_id_valid(const char *id)
{
	size_t n = 0;

	if (!id)
		return false;
	for (; id[n]; n++) {
		char ch = id[n];

		if (n == ROOM_ID_MAX)
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
	case CHAT_NO_MEMORY: return "internal_error";
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

static void begin(struct chat_result *r)
{
	memset(r, 0, sizeof(*r));
}

__attribute__((format(printf, 4, 5))) static enum chat_error
refuse(struct chat *c, struct chat_result *r, enum chat_error e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->msg, sizeof(c->msg), fmt, ap);
	va_end(ap);
	r->error = e;
	r->message = c->msg;
	return e;
}

static enum chat_error refuse_shutdown(struct chat *c, struct chat_result *r)
{
	return refuse(c, r, CHAT_SHUTTING_DOWN, "The chat server is shutting down; try again later.");
}

static enum chat_error refuse_memory(struct chat *c, struct chat_result *r)
{
	return refuse(c, r, CHAT_NO_MEMORY,
		      "The chat server is out of memory; try again in a moment.");
}

/* Names and tags are shown on other people's screens: no control characters in them. */
static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7F)
			return true;
	return false;
}

static bool check_name(struct chat *c, const char *name, struct chat_result *r)
{
	size_t chars;

	if (!name || (utf8_scan(name, strlen(name), &chars) && chars >= 1 &&
		      chars <= c->limits.max_display_name_chars && !has_control(name)))
		return true;
	refuse(c, r, CHAT_INVALID_ARGUMENTS,
	       "display_name must be 1 to %u characters of valid UTF-8 without control characters; pick another name.",
	       c->limits.max_display_name_chars);
	r->field = "display_name";
	return false;
}

static bool check_interests(struct chat *c, const char *const *tags, size_t n,
			    struct chat_result *r)
{
	size_t chars;
	size_t i;

	if (n <= c->limits.max_interests && (tags || n == 0)) {
		for (i = 0; i < n; i++)
			if (!tags[i] || !utf8_scan(tags[i], strlen(tags[i]), &chars) || chars < 1 ||
			    chars > c->limits.max_interest_chars || has_control(tags[i]))
				break;
		if (i == n)
			return true;
	}
	refuse(c, r, CHAT_INVALID_ARGUMENTS,
	       "interests must be at most %u tags of 1 to %u characters of valid UTF-8 each.",
	       c->limits.max_interests, c->limits.max_interest_chars);
	r->field = "interests";
	return false;
}

static bool check_room_id(struct chat *c, const char *id, struct chat_result *r)
{
	if (chat_room_id_valid(id))
		return true;
	refuse(c, r, CHAT_INVALID_ARGUMENTS,
	       "room_id must be 1 to %d characters of A-Z, a-z, 0-9, _ or -.", ROOM_ID_MAX);
	r->field = "room_id";
	return false;
}

static bool check_message(struct chat *c, const char *text, size_t len, struct chat_result *r)
{
	if (text && len >= 1 && len <= c->limits.max_message_bytes && utf8_scan(text, len, NULL))
		return true;
	refuse(c, r, CHAT_INVALID_ARGUMENTS, "message must be 1 to %zu bytes of valid UTF-8.",
	       c->limits.max_message_bytes);
	r->field = "message";
	return false;
}

static const char *user_name(const struct chat_user *u)
{
	return u->name ? u->name : default_name;
}

static int set_name(struct chat_user *u, const char *name)
{
	char *copy;

	if (!name || (u->name && strcmp(u->name, name) == 0))
		return 0;
	copy = strdup(name);
	if (!copy)
		return -ENOMEM;
	free(u->name);
	u->name = copy;
	return 0;
}

static struct chat_user *partner_of(const struct chat_user *u)
{
	struct room *room = u->room;

	return room->m[0] == u ? room->m[1] : room->m[0];
}

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
static int fen_rebuild(struct chat *c)
{
	uint32_t cap = 2 * c->queued + 64, t = 0;
	uint32_t *fen = calloc((size_t)cap + 1, sizeof(*fen));
	struct link *a = c->open.next, *b = c->held.next;

	if (!fen)
		return -ENOMEM;
	while (a != &c->open || b != &c->held) {
		struct chat_user *ua = a != &c->open ? link_user(a) : NULL;
		struct chat_user *ub = b != &c->held ? link_user(b) : NULL;
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
	return 0;
}

static void tag_release(struct chat *c, struct tag *tag)
{
	if (tag->waiters.next != &tag->waiters)
		return;
	htab_del(&c->tags, &tag->h);
	free(tag);
}

static void dequeue(struct chat *c, struct chat_user *u)
{
	timer_cancel(c->timers, &u->fallback);
	for (uint32_t i = 0; i < u->ntags; i++) {
		clist_unlink(&u->tags[i].q.link);
		tag_release(c, u->tags[i].tag);
	}
	free(u->tags);
	u->tags = NULL;
	u->ntags = 0;
	clist_unlink(&u->kind.link);
	fen_add(c, u->ticket, (uint32_t)-1);
	c->queued--;
	u->in_queue = false;
	u->state = CHAT_IDLE;
}

/* Lower-cases the tag, finds or creates it, and links u into its list unless u has it. */
static int add_tag(struct chat *c, struct chat_user *u, const char *raw)
{
	struct tag *tag;
	uint64_t h;

	c->tmp.len = 0;
	if (buf_puts(&c->tmp, raw) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < c->tmp.len; i++)
		if (c->tmp.p[i] >= 'A' && c->tmp.p[i] <= 'Z')
			c->tmp.p[i] = (char)(c->tmp.p[i] - 'A' + 'a');
	h = siphash(c->hash_key, c->tmp.p, c->tmp.len);
	tag = (struct tag *)htab_find(&c->tags, c->tmp.p, c->tmp.len, h);
	for (uint32_t i = 0; tag && i < u->ntags; i++)
		if (u->tags[i].tag == tag)
			return 0;
	if (!tag) {
		tag = malloc(sizeof(*tag) + c->tmp.len + 1);
		if (!tag)
			return -ENOMEM;
		memcpy(tag->name, c->tmp.p, c->tmp.len + 1);
		tag->h = (struct hent){ .hash = h, .key = tag->name, .len = c->tmp.len };
		clist_init(&tag->waiters);
		if (htab_add(&c->tags, &tag->h) < 0) {
			free(tag);
			return -ENOMEM;
		}
	}
	u->tags[u->ntags] = (struct tagnode){ .q.u = u, .tag = tag };
	clist_append(&tag->waiters, &u->tags[u->ntags++].q.link);
	return 0;
}

static int enqueue(struct chat *c, struct chat_user *u, const char *const *tags, size_t n,
		   uint64_t now)
{
	int err = -ENOMEM;

	if (c->next_ticket > c->fcap && fen_rebuild(c) < 0)
		return -ENOMEM;
	if (n && !(u->tags = calloc(n, sizeof(*u->tags))))
		return -ENOMEM;
	u->ticket = c->next_ticket++;
	fen_add(c, u->ticket, 1);
	c->queued++;
	u->in_queue = true;
	u->state = CHAT_WAITING;
	u->queued_at = now;
	u->kind.u = u;
	clist_append(n ? &c->held : &c->open, &u->kind.link);
	for (size_t i = 0; i < n; i++)
		if ((err = add_tag(c, u, tags[i])) < 0)
			goto fail;
	if (n && timer_arm(c->timers, &u->fallback, now + c->limits.fallback_ms) < 0)
		goto fail;
	return 0;
fail:
	dequeue(c, u);
	return err;
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
static void scan(const struct chat *c, struct link *head, const struct chat_user *s, uint64_t now,
		 bool expired_only, struct pick *p)
{
	unsigned skipped = 0;

	for (struct link *l = head->next; l != head; l = l->next) {
		struct chat_user *w = link_user(l);

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

static struct room *room_find(struct chat *c, const char *id)
{
	size_t len = strlen(id);

	return (struct room *)htab_find(&c->rooms, id, len, siphash(c->hash_key, id, len));
}

static struct room *room_new(struct chat *c, const char *id)
{
	struct room *room = calloc(1, sizeof(*room));
	size_t len = strlen(id);

	if (!room)
		return NULL;
	memcpy(room->id, id, len + 1);
	room->named = true;
	room->created_ms = c->ops.mono_ms(c->ops.ctx);
	room->h = (struct hent){ .hash = siphash(c->hash_key, id, len), .key = room->id, .len = len };
	if (htab_add(&c->rooms, &room->h) < 0) {
		free(room);
		return NULL;
	}
	return room;
}

static struct room *room_new_random(struct chat *c)
{
	unsigned char raw[RANDOM_ROOM_BYTES];
	char id[RANDOM_ROOM_BYTES / 3 * 4 + 1];
	struct room *room;

	do {
		random_bytes(c, raw, sizeof(raw));
		b64url_encode(raw, sizeof(raw), id);
	} while (id[0] == '-' || room_find(c, id)); /* '-' would read as an option in a shell */
	room = room_new(c, id);
	if (room)
		room->named = false;
	return room;
}

/* Room events cannot be refused and a failure leaves nothing to undo: deliver and move on. */
static void deliver_event(struct chat *c, struct chat_user *to, const char *method)
{
	c->ops.deliver(c->ops.ctx, to, method, c->ev.p, c->ev.len, false);
}

static int build_found(struct chat *c, const struct room *room, const struct chat_user *other)
{
	const char *name = user_name(other);

	c->ev.len = 0;
	if (buf_puts(&c->ev, "{\"room_id\":") < 0 ||
	    buf_json_string(&c->ev, room->id, strlen(room->id)) < 0 ||
	    buf_puts(&c->ev, ",\"partner\":{\"display_name\":") < 0 ||
	    buf_json_string(&c->ev, name, strlen(name)) < 0 || buf_puts(&c->ev, "}}") < 0)
		return -ENOMEM;
	return 0;
}

/* The peer's pair(): a is the one who waited and hears first. */
static void pair(struct chat *c, struct room *room, struct chat_user *a, struct chat_user *b)
{
	struct chat_user *m[2] = { a, b };

	room->m[0] = a;
	room->m[1] = b;
	for (int i = 0; i < 2; i++) {
		if (m[i]->in_queue)
			dequeue(c, m[i]);
		else if (m[i]->room)
			c->named_waiting--;
		m[i]->state = CHAT_IN_ROOM;
		m[i]->room = room;
		m[i]->last_partner = m[1 - i]->serial;
	}
	c->pairs++;
	c->matches++;
	for (int i = 0; i < 2; i++)
		if (build_found(c, room, m[1 - i]) == 0)
			deliver_event(c, m[i], "chatroom.found");
}

static struct room *match_from_queue(struct chat *c, struct chat_user *s, uint64_t now)
{
	struct chat_user *partner = pick_partner(c, s, now);
	struct room *room;

	if (!partner)
		return NULL;
	room = room_new_random(c);
	if (room) /* else both keep waiting: the next arrival or fallback tries again */
		pair(c, room, partner, s);
	return room;
}

static void on_fallback(struct timer *t)
{
	struct chat_user *u = container_of(t, struct chat_user, fallback);

	if (u->in_queue)
		match_from_queue(u->c, u, u->c->ops.mono_ms(u->c->ops.ctx));
}

/* Closes a room; leaver caused it, and the other member (if any) learns why. */
static void close_room(struct chat *c, struct room *room, struct chat_user *leaver,
		       enum chat_reason reason)
{
	struct chat_user *other = room->m[0] == leaver ? room->m[1] : room->m[0];
	const char *why = chat_reason_name(reason);
	int built = -ENOMEM;

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
	if (other) {
		c->ev.len = 0;
		built = buf_puts(&c->ev, "{\"room_id\":");
		if (!built && !(built = buf_json_string(&c->ev, room->id, strlen(room->id))))
			built = buf_printf(&c->ev, ",\"reason\":\"%s\"}", why);
	}
	htab_del(&c->rooms, &room->h);
	free(room);
	if (other && built == 0)
		deliver_event(c, other, "partner.disconnected");
}

struct chat *chat_new(const struct chat_limits *limits, const struct chat_ops *ops,
		      struct timer_heap *timers)
{
	struct chat *c = calloc(1, sizeof(*c));
	uint64_t keys[4];

	if (!c)
		return NULL;
	if (getrandom(keys, sizeof(keys), 0) != (ssize_t)sizeof(keys))
		goto fail;
	c->limits = *limits;
	c->ops = *ops;
	c->timers = timers;
	memcpy(c->hash_key, keys, sizeof(c->hash_key));
	memcpy(c->id_key, keys + 2, sizeof(c->id_key));
	c->rnd_pos = sizeof(c->rnd); /* empty: the first room id fills it */
	c->next_ticket = 1;
	clist_init(&c->open);
	clist_init(&c->held);
	return c;
fail:
	free(c);
	return NULL;
}

void chat_free(struct chat *c)
{
	if (!c)
		return;
	free(c->rooms.v);
	free(c->tags.v);
	free(c->fen);
	buf_free(&c->ev);
	buf_free(&c->tmp);
	free(c);
}

void chat_shutdown(struct chat *c)
{
	c->shutting_down = true;
}

struct chat_user *chat_user_new(struct chat *c, void *owner)
{
	struct chat_user *u = calloc(1, sizeof(*u));

	if (!u)
		return NULL;
	u->c = c;
	u->owner = owner;
	u->serial = ++c->serial;
	u->state = CHAT_IDLE;
	u->tokens = c->limits.rate_burst;
	u->tokens_at = c->ops.mono_ms(c->ops.ctx);
	clist_init(&u->kind.link);
	timer_init(&u->fallback, on_fallback);
	c->users++;
	return u;
}

void chat_user_free(struct chat *c, struct chat_user *u, enum chat_reason reason)
{
	if (!u)
		return;
	if (u->in_queue)
		dequeue(c, u);
	else if (u->room)
		close_room(c, u->room, u, reason);
	timer_cancel(c->timers, &u->fallback);
	c->users--;
	free(u->name);
	free(u);
}

void *chat_user_owner(const struct chat_user *u)
{
	return u->owner;
}

/* Read first: a full mailbox may take no new room or queue entry (see chat_ops.mailbox_full). */
static bool refuse_full_mailbox(struct chat *c, const struct chat_user *u, struct chat_result *r)
{
	if (!c->ops.mailbox_full || !c->ops.mailbox_full(c->ops.ctx, u))
		return false;
	refuse(c, r, CHAT_MAILBOX_FULL,
	       "You have too many unread events; read your events first: wait_for_message or open the push stream.");
	return true;
}

static enum chat_error refuse_in_room(struct chat *c, struct chat_user *u,
				      struct chat_result *r)
{
	return refuse(c, r, CHAT_ALREADY_IN_ROOM, "You are already in room %s; call leave_chat first.",
	       u->room->id);
}

static enum chat_error enter_queue(struct chat *c, struct chat_user *u, const char *display_name,
				   const char *const *interests, size_t n, struct chat_result *r)
{
	uint64_t now = c->ops.mono_ms(c->ops.ctx);
	struct room *room;

	if (c->shutting_down)
		return refuse_shutdown(c, r);
	if (!check_name(c, display_name, r) || !check_interests(c, interests, n, r))
		return r->error;
	if (u->state == CHAT_IN_ROOM)
		return refuse_in_room(c, u, r);
	if (u->room)
		return refuse(c, r, CHAT_ALREADY_WAITING,
			      "You are waiting in room %s; call leave_chat first.", u->room->id);
	if (!u->in_queue && refuse_full_mailbox(c, u, r))
		return r->error;
	if (set_name(u, display_name) < 0)
		return refuse_memory(c, r);
	if (!u->in_queue) {
		if (enqueue(c, u, interests, n, now) < 0)
			return refuse_memory(c, r);
		room = match_from_queue(c, u, now);
		if (room) {
			r->matched = true;
			r->room_id = room->id;
			r->partner_name = user_name(partner_of(u));
			return CHAT_OK;
		}
	}
	r->position = fen_sum(c, u->ticket);
	return CHAT_OK;
}

void chat_enter_queue(struct chat *c, struct chat_user *u, const char *display_name,
		      const char *const *interests, size_t n, struct chat_result *r)
{
	begin(r);
	enter_queue(c, u, display_name, interests, n, r);
}

/* The first one in waits in the new room; the second is paired with them. */
static enum chat_error enter_room(struct chat *c, struct chat_user *u, const char *room_id,
				  struct chat_result *r)
{
	struct room *room = room_find(c, room_id);

	if (room && room->m[1])
		return refuse(c, r, CHAT_ROOM_FULL,
			      "Room %s already has two people; pick another room id.", room_id);
	if (room) {
		pair(c, room, room->m[0], u);
		r->matched = true;
		r->room_id = room->id;
		r->partner_name = user_name(room->m[0]);
		return CHAT_OK;
	}
	if (!(room = room_new(c, room_id)))
		return refuse_memory(c, r);
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
		return refuse_shutdown(c, r);
	if (!check_room_id(c, room_id, r) || !check_name(c, display_name, r))
		return r->error;
	if (u->state == CHAT_IN_ROOM)
		return refuse_in_room(c, u, r);
	if (u->room && strcmp(u->room->id, room_id) == 0) {
		r->room_id = u->room->id; /* joining again is harmless, as in the peer */
		return CHAT_OK;
	}
	if (u->room)
		return refuse(c, r, CHAT_ALREADY_WAITING,
			      "You are waiting in room %s; call leave_chat first.", u->room->id);
	if (u->in_queue)
		return refuse(c, r, CHAT_ALREADY_WAITING,
			      "You are waiting in the queue for a partner; call leave_chat first.");
	if (refuse_full_mailbox(c, u, r))
		return r->error;
	if (set_name(u, display_name) < 0)
		return refuse_memory(c, r);
	return enter_room(c, u, room_id, r);
}

void chat_join_room(struct chat *c, struct chat_user *u, const char *room_id,
		    const char *display_name, struct chat_result *r)
{
	begin(r);
	join_room(c, u, room_id, display_name, r);
}

/* The peer's notInRoom(): a room that just closed on u says why. */
static enum chat_error refuse_not_in_room(struct chat *c, struct chat_user *u,
					  const char *room_id, struct chat_result *r)
{
	if (strcmp(u->closed_id, room_id) != 0)
		return refuse(c, r, CHAT_NOT_IN_ROOM,
			      "You are not in room %s; call enter_queue or join_room first.", room_id);
	if (u->closed_gone)
		return refuse(c, r, CHAT_PARTNER_GONE,
			      "Your partner in room %s is gone; call enter_queue to meet someone new.",
			      room_id);
	return refuse(c, r, CHAT_ROOM_CLOSED,
		      "Room %s is closed; call enter_queue or join_room to chat again.", room_id);
}

/* Token bucket: 0 when a message may go now (and takes its token), else ms until it may. */
static uint32_t take_token(struct chat *c, struct chat_user *u, uint64_t now)
{
	const struct chat_limits *l = &c->limits;
	double wait;
	uint32_t ms;

	if (now > u->tokens_at) {
		u->tokens += (double)(now - u->tokens_at) * l->rate_per_second / 1000.0;
		if (u->tokens > l->rate_burst)
			u->tokens = l->rate_burst;
		u->tokens_at = now;
	}
	if (u->tokens >= 1) {
		u->tokens -= 1;
		return 0;
	}
	if (l->rate_per_second <= 0)
		return UINT32_MAX;
	wait = (1 - u->tokens) * 1000.0 / l->rate_per_second;
	if (wait >= (double)UINT32_MAX)
		return UINT32_MAX;
	ms = (uint32_t)wait;
	return ms < wait || ms == 0 ? ms + 1 : ms;
}

/* Unique within this chat (a bijective mix of a counter), unpredictable across runs. */
static void make_message_id(struct chat *c, char out[24])
{
	uint64_t x = ++c->msg_counter + c->id_key[0];

	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	x = (x ^ (x >> 31)) ^ c->id_key[1];
	for (int i = 0; i < 11; i++, x >>= 6)
		out[i] = b64url[x & 63];
	out[11] = '\0';
}

static void format_time(int64_t ms, char out[32])
{
	static int64_t cached_sec = INT64_MIN;
	static char cached[24];
	static size_t cached_len;
	int64_t sec = ms / 1000, rem = ms % 1000;
	time_t t;
	struct tm tm;
	size_t n;

	if (rem < 0) {
		rem += 1000;
		sec--;
	}
	/* The date part changes once a second; messages come faster than that. */
	if (sec != cached_sec) {
		t = (time_t)sec;
		if (!gmtime_r(&t, &tm))
			memset(&tm, 0, sizeof(tm));
		cached_len = strftime(cached, sizeof(cached), "%Y-%m-%dT%H:%M:%S", &tm);
		cached_sec = sec;
	}
	memcpy(out, cached, cached_len);
	n = cached_len;
	out[n++] = '.';
	out[n++] = (char)('0' + rem / 100);
	out[n++] = (char)('0' + rem / 10 % 10);
	out[n++] = (char)('0' + rem % 10);
	out[n++] = 'Z';
	out[n] = '\0';
}

static int build_message(struct chat *c, const struct chat_user *u, const char *text,
			 size_t len, const struct chat_result *r)
{
	const char *name = user_name(u);

	c->ev.len = 0;
	if (buf_puts(&c->ev, "{\"room_id\":") < 0 ||
	    buf_json_string(&c->ev, u->room->id, strlen(u->room->id)) < 0 ||
	    buf_puts(&c->ev, ",\"message_id\":\"") < 0 || buf_puts(&c->ev, r->message_id) < 0 ||
	    buf_puts(&c->ev, "\",\"message\":") < 0 ||
	    buf_json_string(&c->ev, text, len) < 0 ||
	    buf_puts(&c->ev, ",\"sender\":{\"display_name\":") < 0 ||
	    buf_json_string(&c->ev, name, strlen(name)) < 0 ||
	    buf_puts(&c->ev, "},\"timestamp\":\"") < 0 || buf_puts(&c->ev, r->timestamp) < 0 ||
	    buf_puts(&c->ev, "\"}") < 0)
		return -ENOMEM;
	return 0;
}

static enum chat_error send_message(struct chat *c, struct chat_user *u, const char *room_id,
				    const char *text, size_t len, struct chat_result *r)
{
	uint32_t wait;
	int err;

	if (c->shutting_down)
		return refuse_shutdown(c, r);
	if (!check_room_id(c, room_id, r) || !check_message(c, text, len, r))
		return r->error;
	if (u->state != CHAT_IN_ROOM || strcmp(u->room->id, room_id) != 0)
		return refuse_not_in_room(c, u, room_id, r);
	wait = take_token(c, u, c->ops.mono_ms(c->ops.ctx));
	if (wait) {
		r->retry_after_ms = wait;
		return refuse(c, r, CHAT_RATE_LIMITED,
			      "You are sending too fast; try again in %u ms.", wait);
	}
	make_message_id(c, r->message_id);
	format_time(c->ops.wall_ms(c->ops.ctx), r->timestamp);
	if (build_message(c, u, text, len, r) < 0)
		return refuse_memory(c, r);
	err = c->ops.deliver(c->ops.ctx, partner_of(u), "message.received", c->ev.p, c->ev.len,
			     true);
	if (err == -ENOSPC)
		return refuse(c, r, CHAT_MAILBOX_FULL,
			      "Your partner has too many unread events; wait a moment and send again.");
	if (err < 0)
		return refuse_memory(c, r);
	c->messages++;
	u->room->messages++;
	return CHAT_OK;
}

void chat_send(struct chat *c, struct chat_user *u, const char *room_id, const char *text,
	       size_t len, struct chat_result *r)
{
	begin(r);
	if (send_message(c, u, room_id, text, len, r) != CHAT_OK) {
		r->message_id[0] = '\0';
		r->timestamp[0] = '\0';
	}
}

void chat_leave(struct chat *c, struct chat_user *u, const char *room_id, struct chat_result *r)
{
	begin(r);
	if (!check_room_id(c, room_id, r))
		return;
	if (u->in_queue) /* the random queue has no room id yet: any id leaves it */
		dequeue(c, u);
	else if (u->room && strcmp(u->room->id, room_id) == 0)
		close_room(c, u->room, u, CHAT_LEFT);
	else if (strcmp(u->closed_id, room_id) != 0)
		refuse_not_in_room(c, u, room_id, r);
}

void chat_get_status(struct chat *c, const struct chat_user *u, struct chat_status *st)
{
	memset(st, 0, sizeof(*st));
	st->state = u->state;
	if (u->room)
		st->room_id = u->room->id;
	if (u->state == CHAT_IN_ROOM)
		st->partner_name = user_name(partner_of(u));
	if (u->in_queue)
		st->position = fen_sum(c, u->ticket);
}

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
	v->display_name = user_name(u);
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

static void each_in_list(const struct link *head, chat_user_fn fn, void *ctx)
{
	for (const struct link *l = head->next; l != head; l = l->next)
		fn(ctx, ((const struct qnode *)l)->u);
}

void chat_each_waiting(const struct chat *c, chat_user_fn fn, void *ctx)
{
	each_in_list(&c->open, fn, ctx);
	each_in_list(&c->held, fn, ctx);
	for (size_t i = 0; i < c->rooms.cap; i++)
		for (const struct hent *e = c->rooms.v[i]; e; e = e->next)
			if (!((const struct room *)e)->m[1])
				fn(ctx, ((const struct room *)e)->m[0]);
}

void chat_each_room(const struct chat *c, chat_room_fn fn, void *ctx)
{
	for (size_t i = 0; i < c->rooms.cap; i++) {
		for (const struct hent *e = c->rooms.v[i]; e; e = e->next) {
			const struct room *room = (const struct room *)e;
			struct chat_room_view v = { room->id, room->named, room->created_ms,
						    room->messages, { room->m[0], room->m[1] } };
			fn(ctx, &v);
		}
	}
}

size_t chat_room_members(const struct chat *c, const char *room_id, struct chat_user *out[2])
{
	size_t len = strlen(room_id);
	const struct room *room =
		(const struct room *)htab_find(&c->rooms, room_id, len, siphash(c->hash_key, room_id, len));

	if (!room)
		return 0;
	out[0] = room->m[0];
	out[1] = room->m[1];
	return room->m[1] ? 2 : 1;
}

void chat_set_limits(struct chat *c, const struct chat_limits *limits)
{
	c->limits = *limits;
}
