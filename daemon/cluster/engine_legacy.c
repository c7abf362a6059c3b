/* 2025 sessions on a cluster node. The session (its id, push stream, Last-Event-ID window,
 * wait_for_message) stays on the node that made it (the load balancer keeps it there by the
 * NODE. prefix of its id); its chat is a Redis chat of era `legacy` like any other, so a
 * partner on any node reaches it. The node keeps a copy of the chat's stream in the
 * session's mailbox: it listens to the chat's wake-up channel while the session lives, pulls
 * new events into the mailbox (where the push stream and wait_for_message take them, exactly
 * as on a single node) and acknowledges in Redis what the client was delivered, so the
 * mailbox bound counts what the client has not had yet, wherever it sits.
 *
 * In the mailbox the events get the session's own seqs (an admin's notify adds local ones),
 * so a FIFO maps the copied ones back to the chat's seqs for the acknowledgement. The chat
 * lives while the node touches it (the engine's touch covers every listened chat); a node
 * that dies stops touching, and the sweep tells the partner `disconnected` after the
 * reconnect grace, the chat's idle limit. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "chat/tools.h"
#include "cluster/engine_int.h"
#include "cluster/node.h"
#include "redis/client.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/xalloc.h"

static void pull(struct eng_legacy *leg);
static void on_created(void *ctx, int err, const redisReply *reply);
static int create(struct eng_legacy *leg, uint64_t base, resp_reply_fn fn, void *ctx);

void eng_legacy_unref(struct eng_legacy *leg)
{
	if (--leg->refs > 0)
		return;
	free(leg->map);
	free(leg);
}

struct eng_legacy *eng_legacy_find(struct cluster_engine *e, const char *chat_id)
{
	struct htab_entry *h = chat_id ? htab_lookup(&e->legacy, chat_id, strlen(chat_id)) : NULL;

	return h ? container_of(h, struct eng_legacy, entry) : NULL;
}

/* The seq map: copied events in order, (session seq, chat seq). */

static void map_push(struct eng_legacy *leg, uint64_t local, uint64_t remote)
{
	if (leg->map_n == leg->map_cap) {
		uint32_t cap = leg->map_cap ? leg->map_cap * 2 : 8;
		struct eng_seqmap *m = xcalloc(cap, sizeof(*m));

		for (uint32_t i = 0; i < leg->map_n; i++)
			m[i] = leg->map[(leg->map_head + i) % leg->map_cap];
		free(leg->map);
		leg->map = m;
		leg->map_cap = cap;
		leg->map_head = 0;
	}
	leg->map[(leg->map_head + leg->map_n) % leg->map_cap] =
		(struct eng_seqmap){ .local = local, .remote = remote };
	leg->map_n++;
}

/* The client has every session event up to acked: the chat's events it covers are done. */
static void map_delivered(struct eng_legacy *leg, uint64_t acked)
{
	while (leg->map_n && leg->map[leg->map_head].local <= acked) {
		if (leg->map[leg->map_head].remote > leg->upto)
			leg->upto = leg->map[leg->map_head].remote;
		leg->map_head = (leg->map_head + 1) % leg->map_cap;
		leg->map_n--;
	}
}

/* Copying events */

/* What the client was told of its room: kept so an emptied Redis can be owned up to. */
static void note_room(struct eng_legacy *leg, const char *method, const char *params)
{
	cJSON *p, *room;

	if (strcmp(method, "partner.disconnected") == 0) {
		leg->room[0] = '\0';
		return;
	}
	if (strcmp(method, "chatroom.found") != 0 || !(p = cJSON_Parse(params)))
		return;
	room = cJSON_GetObjectItemCaseSensitive(p, "room_id");
	if (cJSON_IsString(room) && strlen(room->valuestring) < sizeof(leg->room))
		strcpy(leg->room, room->valuestring);
	cJSON_Delete(p);
}

static void copy_events(struct eng_legacy *leg, const struct cluster_call_reply *r)
{
	struct buf b = BUF_INIT;

	for (size_t i = 0; i < r->n_events; i++) {
		const struct cluster_call_event *ev = &r->events[i];
		size_t len = cluster_call_strip_seq(ev->params, ev->params_len);
		int64_t seq;

		if (ev->seq <= leg->last)
			continue; /* copied already (a pull raced an epoch change) */
		leg->last = ev->seq;
		note_room(leg, ev->method, ev->params);
		b.len = 0;
		buf_append(&b, ev->params, len);
		buf_puts(&b, "}");
		/* Not refusable: Redis admitted it under the bound, which counts the copy too. */
		seq = mcp_session_event(leg->e->mcp, leg->s, ev->method, b.p, b.len, false);
		if (seq > 0)
			map_push(leg, (uint64_t)seq, ev->seq);
	}
	buf_free(&b);
}

/* The chat is gone (kicked, or expired while this node could not touch it): so is the
 * session, as on a single node; unless Redis lost it with its state, then it is made again. */
static void chat_gone(struct eng_legacy *leg)
{
	if (leg->reasserting)
		return; /* chat_new is on its way; the pull after it sees the chat */
	if (!leg->created) { /* its chat_new failed (Redis was down): made now */
		if (create(leg, leg->last, on_created, leg) == 0)
			leg->refs++;
		return;
	}
	log_info("session %s: its chat ended in the cluster; ending the session", leg->handle);
	mcp_session_end(leg->e->mcp, leg->s, MCP_END_KICKED);
}

static void on_pull(void *ctx, int err, const redisReply *reply)
{
	struct eng_legacy *leg = ctx;
	struct cluster_engine *e = leg->e;
	struct cluster_call_reply r;

	leg->pulling = false;
	err = eng_parse(e, CLUSTER_SCRIPT_READ, err, reply, &r);
	if (!leg->s || e->stopping || err < 0) {
		/* Redis trouble: the reconnect's resubscribe wakes this chat, which pulls again. */
	} else if (r.chat.error != CHAT_OK) {
		chat_gone(leg);
	} else {
		if (leg->upto_asked > leg->upto_sent)
			leg->upto_sent = leg->upto_asked;
		copy_events(leg, &r);
		if (leg->again || r.next < r.last || leg->upto > leg->upto_sent)
			pull(leg);
	}
	cluster_call_reply_free(&r);
	eng_legacy_unref(leg);
}

/* Pulls what is new and acknowledges what was delivered, one call in flight per chat. */
static void pull(struct eng_legacy *leg)
{
	struct cluster_engine *e = leg->e;
	struct cluster_call_args a;

	if (!leg->s || e->stopping)
		return;
	if (leg->pulling) {
		leg->again = true;
		return;
	}
	leg->again = false;
	if (cluster_call_pull(&a, e->prefix, leg->chat_id, leg->last, leg->upto,
			      CLUSTER_CALL_READ_MAX) < 0 ||
	    eng_evalsha(e, &a, on_pull, leg) < 0)
		return; /* Redis is down: the reconnect pulls again */
	leg->upto_asked = leg->upto;
	leg->pulling = true;
	leg->refs++;
}

static void on_wake(struct cluster_wake_waiter *w, const char *chat_id, uint64_t seq, bool end,
		    const struct cluster_wake_event *ev)
{
	(void)chat_id;
	(void)ev; /* a 2025 session pulls into its own mailbox: ack and copy in one call */
	(void)seq;
	(void)end; /* an ended chat's pull answers chat_expired */
	pull(w->ctx);
}

/* Making the chat */

static void on_created(void *ctx, int err, const redisReply *reply)
{
	struct eng_legacy *leg = ctx;
	struct cluster_call_reply r;

	if (eng_parse(leg->e, CLUSTER_SCRIPT_CHAT_NEW, err, reply, &r) == 0 &&
	    r.chat.error == CHAT_OK) {
		leg->created = true;
		leg->reasserting = false;
		pull(leg);
	}
	cluster_call_reply_free(&r);
	eng_legacy_unref(leg);
}

/* chat_new for the session's chat (its events continue after base). The reply's callback
 * is fn with ctx (a reference of its own is the caller's business). */
static int create(struct eng_legacy *leg, uint64_t base, resp_reply_fn fn, void *ctx)
{
	struct cluster_engine *e = leg->e;
	struct cluster_call_args a;
	char nonce[23];

	if (cluster_engine_random_id(nonce, 22) < 0 ||
	    cluster_call_chat_new(&a, e->prefix, leg->chat_id, e->cfg->reconnect_grace_ms,
				  e->cfg->cluster_node, true, leg->handle, nonce) < 0 ||
	    (base && cluster_call_chat_base(&a, base) < 0))
		return -EINVAL;
	return eng_evalsha(e, &a, fn, ctx);
}

static void on_subscribed(void *ctx, int err, const redisReply *reply)
{
	struct eng_legacy *leg = ctx;

	(void)reply;
	/* Listening now: whatever rang before is read (a failed SUBSCRIBE is redone with the
	 * reconnect's resubscribe, which wakes the chat too). */
	if (err == 0)
		pull(leg);
	eng_legacy_unref(leg);
}

void cluster_engine_legacy_open(struct cluster_engine *e, struct mcp_session *s,
				const char *chat_id)
{
	struct eng_legacy *leg = xcalloc(1, sizeof(*leg));
	char channel[CLUSTER_WAKE_CHANNEL_MAX];
	int first;

	leg->e = e;
	leg->s = s;
	leg->refs = 1; /* the session's */
	snprintf(leg->chat_id, sizeof(leg->chat_id), "%s", chat_id);
	snprintf(leg->handle, sizeof(leg->handle), "%s", mcp_session_handle(s));
	htab_add(&e->legacy, &leg->entry, leg->chat_id, strlen(leg->chat_id),
		 htab_hash(&e->legacy, leg->chat_id, strlen(leg->chat_id)));
	if (create(leg, 0, on_created, leg) == 0)
		leg->refs++;
	/* Without a subscription (the registry is full) the chat is still pulled by its own
	 * calls' answers and the touch; a doorbell is only ever a shortcut. */
	first = cluster_wake_add(e->wake, chat_id, &leg->w, on_wake, leg, channel);
	if (first == 1 && redis_subscribe(cluster_node_subscriber(e->node), REDIS_SUBSCRIBE,
					  channel, strlen(channel), on_subscribed, leg) == 0)
		leg->refs++;
	else if (first < 0)
		log_warn("session %s: cannot listen to its chat (%s)", leg->handle, strerror(-first));
}

static void ignore_reply(void *ctx, int err, const redisReply *reply)
{
	struct cluster_engine *e = ctx;

	(void)reply;
	if (err < 0)
		eng_failed(e, err);
}

void cluster_engine_legacy_close(struct cluster_engine *e, const char *chat_id,
				 enum chat_reason reason)
{
	struct eng_legacy *leg = eng_legacy_find(e, chat_id);
	char channel[CLUSTER_WAKE_CHANNEL_MAX];
	struct cluster_call_args a;

	if (!leg)
		return;
	htab_del(&e->legacy, &leg->entry);
	leg->s = NULL;
	if (cluster_wake_remove(e->wake, &leg->w, channel) == 1 && !e->stopping)
		redis_subscribe(cluster_node_subscriber(e->node), REDIS_UNSUBSCRIBE, channel,
				strlen(channel), NULL, NULL);
	/* The partner hears the reason now; if Redis is down, the chat expires unrefreshed and
	 * the sweep tells the partner `disconnected` after the grace. */
	if (cluster_call_end(&a, e->prefix, chat_id, reason) == 0)
		eng_evalsha(e, &a, ignore_reply, e);
	eng_legacy_unref(leg);
}

void cluster_engine_legacy_delivered(struct cluster_engine *e, const char *chat_id,
				     uint64_t acked)
{
	struct eng_legacy *leg = eng_legacy_find(e, chat_id);

	if (!leg)
		return;
	map_delivered(leg, acked);
	if (leg->upto > leg->upto_sent)
		pull(leg);
}

/* The calls of a legacy session */

static void on_ensured(void *ctx, int err, const redisReply *reply)
{
	struct eng_op *op = ctx;
	struct cluster_call_reply r;

	/* Redis answers in order: this comes before the call's own script's reply. */
	if (eng_parse(op->e, CLUSTER_SCRIPT_CHAT_NEW, err, reply, &r) < 0 ||
	    r.chat.error != CHAT_OK)
		op->new_failed = true;
	else if (op->leg)
		op->leg->created = true;
	cluster_call_reply_free(&r);
	eng_unref(op);
}

int eng_legacy_ensure(struct eng_op *op)
{
	int err;

	if (!op->leg || op->leg->created)
		return 0;
	err = create(op->leg, op->leg->last, on_ensured, op);
	if (err < 0) {
		eng_answer_unavailable(op);
		return err;
	}
	op->refs++;
	return 0;
}

void eng_legacy_note_result(struct eng_op *op, const struct cluster_call_reply *r)
{
	struct eng_legacy *leg = op->leg;

	bool match = op->script == CLUSTER_SCRIPT_ENTER_QUEUE || op->script == CLUSTER_SCRIPT_JOIN_ROOM;

	if (!leg || r->chat.error != CHAT_OK)
		return;
	if (match && r->chat.matched && r->chat.room_id && strlen(r->chat.room_id) < sizeof(leg->room))
		strcpy(leg->room, r->chat.room_id);
	else if (op->script == CLUSTER_SCRIPT_LEAVE)
		leg->room[0] = '\0';
	/* A match's chatroom.found is copied now rather than a doorbell later (a send or a
	 * status makes no event for the caller: nothing to pull). */
	if (match && r->chat.matched)
		pull(leg);
}

uint32_t eng_legacy_unread(const struct eng_op *op, uint32_t chat_unread)
{
	const struct eng_legacy *leg = op->leg;
	uint64_t copied_unacked, not_copied = 0;

	if (!leg || !leg->s)
		return chat_unread;
	/* The chat counts what Redis has not had acknowledged; what was copied of it is in the
	 * session's mailbox, which counts it (and the local events) itself. */
	copied_unacked = leg->last > leg->upto_sent ? leg->last - leg->upto_sent : 0;
	if (chat_unread > copied_unacked)
		not_copied = chat_unread - copied_unacked;
	return (uint32_t)(mailbox_unread(mcp_session_mailbox(leg->s)) + not_copied);
}

/* Redis came back empty: every session's chat is made again (idle: its room and queue place
 * went with Redis), its events going on after the last one copied; a client in a room is
 * told its partner is gone, as it is. */
void eng_legacy_reassert(struct cluster_engine *e)
{
	static const char fmt[] = "{\"room_id\":\"%s\",\"reason\":\"disconnected\"}";
	struct htab_entry *h;

	for (h = htab_next(&e->legacy, NULL); h; h = htab_next(&e->legacy, h)) {
		struct eng_legacy *leg = container_of(h, struct eng_legacy, entry);
		char params[sizeof(fmt) + sizeof(leg->room)];

		leg->created = false;
		leg->reasserting = true;
		leg->upto_sent = leg->upto = leg->last;
		leg->map_n = 0;
		if (create(leg, leg->last, on_created, leg) == 0)
			leg->refs++;
		if (leg->room[0]) {
			int n = snprintf(params, sizeof(params), fmt, leg->room);

			leg->room[0] = '\0';
			mcp_session_event(e->mcp, leg->s, "partner.disconnected", params, (size_t)n,
					  false);
		}
	}
}

void eng_legacy_forget_all(struct cluster_engine *e)
{
	struct htab_entry *h;

	/* Sessions normally end (and close their chats) before the engine goes; any left over
	 * go without a word to Redis, which is no longer there for them. */
	while ((h = htab_next(&e->legacy, NULL))) {
		struct eng_legacy *leg = container_of(h, struct eng_legacy, entry);

		htab_del(&e->legacy, h);
		leg->s = NULL;
		eng_legacy_unref(leg);
	}
}

size_t eng_legacy_count(const struct cluster_engine *e)
{
	return htab_count(&e->legacy);
}
