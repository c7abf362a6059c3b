#ifndef MCPCHAT_CHAT_INT_H
#define MCPCHAT_CHAT_INT_H

/* Private to daemon/chat/: the structs its files share and their cross-file functions, each
 * named for the file that defines it (chat_ for chat.c, chat_queue_, chat_room_). Nothing
 * outside daemon/chat/ includes this; the public API is chat/chat.h.
 *
 * Ownership: the world (struct chat) owns its rooms, interest tags, the Fenwick array and
 * its two scratch buffers; a user owns its name and its array of tag nodes; a room belongs
 * to the world from its first member until it closes, and tags live while a waiter names
 * them. Users are the caller's to create and free (chat_user_new, chat_user_free). */

#include "util/buf.h"
#include "chat/chat.h"
#include "net/timer.h"
#include "util/htab.h"
#include "util/list.h"
#include "util/xalloc.h"

#define CHAT_ROOM_ID_MAX 64

/* An entry of a queue list; u is the waiter it stands for. */
struct chat_qnode {
	struct list_link link;
	struct chat_user *u;
};

/* An interest tag (lower-cased) with the queue's waiters that named it, oldest first. */
struct chat_tag {
	struct htab_entry h;
	struct list_link waiters;
	char name[];
};

struct chat_tagnode {
	struct chat_qnode q;
	struct chat_tag *tag;
};

struct chat_room {
	struct htab_entry h;
	struct chat_user *m[2]; /* m[1] is NULL while the first one waits in a named room */
	bool named;
	uint64_t created_ms;
	uint64_t messages;
	char id[CHAT_ROOM_ID_MAX + 1];
};

struct chat_user {
	struct chat *c;
	void *owner;
	uint64_t serial;
	uint64_t last_partner; /* serial, not a pointer: the partner may be gone */
	char *name;            /* NULL: the default name */
	enum chat_state state;
	bool in_queue;
	bool closed_gone;
	struct chat_room *room; /* in a room, or waiting in a named one */
	/* Random queue: the open or held list, one node per interest tag, a Fenwick ticket. */
	struct chat_qnode kind;
	struct chat_tagnode *tags;
	uint32_t ntags;
	uint32_t ticket;
	uint64_t queued_at;
	struct timer fallback;
	double tokens;
	uint64_t tokens_at;
	char closed_id[CHAT_ROOM_ID_MAX + 1]; /* the last room that closed on this user */
	struct htab_entry id_h; /* in c->ids */
	char id[CHAT_ID_LEN + 1];
};

struct chat {
	struct chat_limits limits;
	struct chat_ops ops;
	struct timer_heap *timers;
	uint64_t hash_key[2];
	uint64_t id_key[2];
	uint64_t msg_counter;
	uint64_t serial;
	struct htab rooms, tags, ids;
	/* Waiters without interests, and waiters with interests; both in queue order. Because
	 * the fallback delay is constant, the held waiters who take anyone are a prefix. */
	struct list_link open, held;
	uint32_t *fen; /* Fenwick tree over tickets 1..fcap: queue positions */
	uint32_t fcap, next_ticket;
	uint32_t users, queued, named_waiting, pairs;
	uint64_t matches, messages;
	bool shutting_down;
	unsigned char rnd[128];
	size_t rnd_pos;
	struct buf ev, tmp; /* event params being built; a lower-cased tag */
	char msg[CHAT_SENTENCE_MAX]; /* the message of the last refusal */
};

/* Bytes from getrandom, drawn from a pool (room.c). */
void chat_random_bytes(struct chat *c, void *out, size_t n);

static inline struct chat_user *chat_qnode_user(const struct list_link *l)
{
	return container_of(l, struct chat_qnode, link)->u;
}

static inline struct chat_room *chat_room_of(const struct htab_entry *e)
{
	return e ? container_of(e, struct chat_room, h) : NULL;
}

static inline uint64_t chat_mono_ms(const struct chat *c)
{
	return c->ops.mono_ms(c->ops.ctx);
}

/* chat.c: results, refusals and argument checks. A refusal fills r (error, message in
 * c->msg) and returns the error; a check refuses with CHAT_INVALID_ARGUMENTS and the field. */
void chat_result_begin(struct chat_result *r);
__attribute__((format(printf, 4, 5))) enum chat_error
chat_refuse(struct chat *c, struct chat_result *r, enum chat_error e, const char *fmt, ...);
enum chat_error chat_refuse_shutdown(struct chat *c, struct chat_result *r);
enum chat_error chat_refuse_in_room(struct chat *c, const struct chat_user *u,
				    struct chat_result *r);
/* True (and r filled) when u's mailbox is full: see chat_ops.mailbox_full. */
bool chat_refuse_full_mailbox(struct chat *c, const struct chat_user *u, struct chat_result *r);
bool chat_check_name(struct chat *c, const char *name, struct chat_result *r);
bool chat_check_interests(struct chat *c, const char *const *tags, size_t n,
			  struct chat_result *r);
bool chat_check_room_id(struct chat *c, const char *id, struct chat_result *r);
bool chat_check_message(struct chat *c, const char *text, size_t len, struct chat_result *r);
/* The user's display name (never NULL); its partner in a room. */
const char *chat_user_name(const struct chat_user *u);
struct chat_user *chat_partner_of(const struct chat_user *u);
/* Keeps a copy of name (NULL: keep the current one). */
void chat_user_set_name(struct chat_user *u, const char *name);

/* queue.c: the random queue, interest tags, positions, matching and the fallback. */
void chat_queue_init(struct chat *c);
void chat_queue_fini(struct chat *c);
void chat_queue_user_init(struct chat_user *u);
/* Takes u out of the queue (u->in_queue): tags, lists, position, fallback timer. */
void chat_queue_dequeue(struct chat *c, struct chat_user *u);
/* u's 1-based place in the queue (u->in_queue). */
uint32_t chat_queue_position(const struct chat *c, const struct chat_user *u);

/* room.c: named and random rooms, pairing, closing and their events. */
void chat_room_init(struct chat *c);
void chat_room_fini(struct chat *c);
struct chat_room *chat_room_find(const struct chat *c, const char *id);
/* A room with a fresh random id (16 base64url characters). */
struct chat_room *chat_room_new_random(struct chat *c);
/* Puts a (who waited and hears first) and b in room, out of the queue or their named wait,
 * and tells both chatroom.found. */
void chat_room_pair(struct chat *c, struct chat_room *room, struct chat_user *a,
		    struct chat_user *b);
/* Closes and frees room; leaver caused it, and the other member (if any) learns why. */
void chat_room_close(struct chat *c, struct chat_room *room, struct chat_user *leaver,
		     enum chat_reason reason);
/* The peer's notInRoom(): not_in_room, or why a room that just closed on u did. */
enum chat_error chat_room_refuse_not_in(struct chat *c, const struct chat_user *u,
					const char *room_id, struct chat_result *r);

#endif
