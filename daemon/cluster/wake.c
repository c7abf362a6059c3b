#include "cluster/wake.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "chat/chat.h"
#include "util/htab.h"
#include "util/xalloc.h"

#define PREFIX_MAX 40
#define WAKE_INFIX ":wake:"

/* One listened chat: its waiters in the order they came, n of them. It exists while n > 0. */
struct wake_chat {
	struct htab_entry h;
	struct list_link waiters;
	uint32_t n;
	char id[CHAT_ID_LEN + 1];
};

struct cluster_wake {
	struct htab chats; /* chat id -> struct wake_chat */
	uint32_t max_chats;
	size_t prefix_len;
	char prefix[PREFIX_MAX];
};

static bool id_valid(const char *id, size_t len)
{
	if (!id || len != CHAT_ID_LEN)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = id[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return false;
	}
	return true;
}

struct cluster_wake *cluster_wake_new(const char *prefix, uint32_t max_chats)
{
	struct cluster_wake *wk;
	uint64_t seed[2];
	size_t n = prefix ? strlen(prefix) : 0;

	if (n == 0 || n >= PREFIX_MAX)
		return NULL;
	/* Chat ids come from clients: a seeded hash, so none can be chosen to collide. */
	if (getrandom(seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
		return NULL;
	wk = xcalloc(1, sizeof(*wk));
	htab_init(&wk->chats, seed);
	wk->max_chats = max_chats;
	wk->prefix_len = n;
	memcpy(wk->prefix, prefix, n + 1);
	return wk;
}

static void record_free(struct cluster_wake *wk, struct wake_chat *c)
{
	htab_del(&wk->chats, &c->h);
	free(c);
}

void cluster_wake_free(struct cluster_wake *wk)
{
	struct htab_entry *e;

	if (!wk)
		return;
	while ((e = htab_next(&wk->chats, NULL))) {
		struct wake_chat *c = container_of(e, struct wake_chat, h);

		while (!list_empty(&c->waiters)) {
			struct cluster_wake_waiter *w =
				container_of(c->waiters.next, struct cluster_wake_waiter, link);

			list_del(&w->link);
			w->chat = NULL;
		}
		record_free(wk, c);
	}
	htab_fini(&wk->chats);
	free(wk);
}

static void channel_of(const struct cluster_wake *wk, const char *id, char *out)
{
	snprintf(out, CLUSTER_WAKE_CHANNEL_MAX, "%s" WAKE_INFIX "%s", wk->prefix, id);
}

int cluster_wake_channel(const struct cluster_wake *wk, const char *chat_id,
			 char channel[CLUSTER_WAKE_CHANNEL_MAX])
{
	if (!chat_id || !id_valid(chat_id, strlen(chat_id)))
		return -EINVAL;
	channel_of(wk, chat_id, channel);
	return 0;
}

static struct wake_chat *find(const struct cluster_wake *wk, const char *id, size_t len)
{
	struct htab_entry *e = htab_lookup(&wk->chats, id, len);

	return e ? container_of(e, struct wake_chat, h) : NULL;
}

int cluster_wake_add(struct cluster_wake *wk, const char *chat_id, struct cluster_wake_waiter *w,
		     cluster_wake_fn fn, void *ctx, char channel[CLUSTER_WAKE_CHANNEL_MAX])
{
	struct htab_entry *e;
	struct wake_chat *c;
	uint64_t h;
	int first = 0;

	if (!chat_id || !id_valid(chat_id, strlen(chat_id)) || !fn)
		return -EINVAL;
	if (w->chat)
		return -EALREADY;
	h = htab_hash(&wk->chats, chat_id, CHAT_ID_LEN);
	e = htab_find(&wk->chats, chat_id, CHAT_ID_LEN, h);
	c = e ? container_of(e, struct wake_chat, h) : NULL;
	if (!c) {
		if (htab_count(&wk->chats) >= wk->max_chats)
			return -ENOSPC;
		c = xcalloc(1, sizeof(*c));
		memcpy(c->id, chat_id, CHAT_ID_LEN + 1);
		list_head_init(&c->waiters);
		htab_add(&wk->chats, &c->h, c->id, CHAT_ID_LEN, h);
		channel_of(wk, c->id, channel);
		first = 1;
	}
	w->fn = fn;
	w->ctx = ctx;
	w->chat = c;
	list_append(&c->waiters, &w->link);
	c->n++;
	return first;
}

int cluster_wake_remove(struct cluster_wake *wk, struct cluster_wake_waiter *w,
			char channel[CLUSTER_WAKE_CHANNEL_MAX])
{
	struct wake_chat *c = w->chat;

	if (!c)
		return 0;
	/* The link may be on the chat's list or on a delivery's batch: list_del fits both. */
	list_del(&w->link);
	w->chat = NULL;
	if (--c->n > 0)
		return 0;
	channel_of(wk, c->id, channel);
	record_free(wk, c);
	return 1;
}

bool cluster_wake_registered(const struct cluster_wake_waiter *w)
{
	return w->chat != NULL;
}

static int wake(struct cluster_wake *wk, const char *chat_id, uint64_t seq, bool end,
		const struct cluster_wake_event *ev)
{
	struct wake_chat *c = chat_id ? find(wk, chat_id, strlen(chat_id)) : NULL;
	struct list_link batch;
	char id[CHAT_ID_LEN + 1];
	int woken = 0;

	if (!c)
		return 0;
	/* The waiters move to a batch of this delivery; each goes back to the chat's list just
	 * before its callback. So a callback may remove anyone (from either list), and waiters
	 * added meanwhile are on the chat's list only: each is woken at most once. The chat
	 * record lives while the batch is not empty (they count in n). */
	memcpy(id, c->id, sizeof(id)); /* the record may go with its last waiter */
	list_head_init(&batch);
	if (!list_empty(&c->waiters)) {
		batch.next = c->waiters.next;
		batch.prev = c->waiters.prev;
		batch.next->prev = &batch;
		batch.prev->next = &batch;
		list_head_init(&c->waiters);
	}
	while (!list_empty(&batch)) {
		struct cluster_wake_waiter *w =
			container_of(batch.next, struct cluster_wake_waiter, link);

		list_del(&w->link);
		list_append(&w->chat->waiters, &w->link);
		woken++;
		w->fn(w, id, end ? 0 : seq, end, end ? NULL : ev);
	}
	return woken;
}

int cluster_wake_chat(struct cluster_wake *wk, const char *chat_id, uint64_t seq, bool end)
{
	return wake(wk, chat_id, seq, end, NULL);
}

int cluster_wake_chat_event(struct cluster_wake *wk, const char *chat_id, uint64_t seq,
			    const struct cluster_wake_event *ev)
{
	return wake(wk, chat_id, seq, false, ev);
}

/* A seq: 1 to 20 decimal digits without a sign or leading zero, within uint64_t. */
static bool parse_seq(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 20 || s[0] == '0')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned d = (unsigned)(s[i] - '0');

		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

/* "method\nparams" after the second colon: the event itself (a method of letters and dots,
 * params a JSON object; the stream holds the same bytes). */
static bool parse_event(const char *s, size_t len, struct cluster_wake_event *ev)
{
	const char *nl = memchr(s, '\n', len);

	if (!nl || nl == s || (size_t)(nl - s) > 64)
		return false;
	ev->method = s;
	ev->method_len = (size_t)(nl - s);
	ev->params = nl + 1;
	ev->params_len = len - ev->method_len - 1;
	return ev->params_len >= 2 && ev->params[0] == '{' && ev->params[ev->params_len - 1] == '}';
}

int cluster_wake_payload_parse(const char *p, size_t len, struct cluster_wake_payload *out)
{
	const char *colon, *colon2 = NULL, *end_of_ms;

	memset(out, 0, sizeof(*out));
	if (!p)
		return -EPROTO;
	if (len == 3 && memcmp(p, "end", 3) == 0) {
		out->end = true;
		return 0;
	}
	colon = memchr(p, ':', len);
	if (colon)
		colon2 = memchr(colon + 1, ':', len - (size_t)(colon + 1 - p));
	end_of_ms = colon2 ? colon2 : p + len;
	if (!parse_seq(p, colon ? (size_t)(colon - p) : len, &out->seq) ||
	    (colon && !parse_seq(colon + 1, (size_t)(end_of_ms - colon - 1), &out->ms)) ||
	    (colon2 && !parse_event(colon2 + 1, len - (size_t)(colon2 + 1 - p), &out->ev)))
		return -EPROTO;
	out->has_ms = colon != NULL;
	out->has_event = colon2 != NULL;
	return 0;
}

int cluster_wake_deliver(struct cluster_wake *wk, const char *channel, size_t channel_len,
			 const char *payload, size_t payload_len)
{
	size_t head = wk->prefix_len + sizeof(WAKE_INFIX) - 1;
	struct cluster_wake_payload pl;
	char id[CHAT_ID_LEN + 1];

	if (!channel || channel_len != head + CHAT_ID_LEN ||
	    memcmp(channel, wk->prefix, wk->prefix_len) != 0 ||
	    memcmp(channel + wk->prefix_len, WAKE_INFIX, sizeof(WAKE_INFIX) - 1) != 0 ||
	    !id_valid(channel + head, CHAT_ID_LEN) ||
	    cluster_wake_payload_parse(payload, payload_len, &pl) < 0)
		return -EPROTO;
	memcpy(id, channel + head, CHAT_ID_LEN);
	id[CHAT_ID_LEN] = '\0';
	return pl.end ? cluster_wake_chat(wk, id, 0, true)
		      : cluster_wake_chat_event(wk, id, pl.seq, pl.has_event ? &pl.ev : NULL);
}

size_t cluster_wake_each(const struct cluster_wake *wk, cluster_wake_each_fn fn, void *ctx)
{
	char channel[CLUSTER_WAKE_CHANNEL_MAX];
	size_t n = 0;

	for (struct htab_entry *e = htab_next(&wk->chats, NULL); e; e = htab_next(&wk->chats, e)) {
		struct wake_chat *c = container_of(e, struct wake_chat, h);

		channel_of(wk, c->id, channel);
		fn(ctx, c->id, channel);
		n++;
	}
	return n;
}

size_t cluster_wake_count(const struct cluster_wake *wk)
{
	return htab_count(&wk->chats);
}
