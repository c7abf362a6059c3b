/* wait_for_message on a cluster node: read the chat's stream; when nothing is new, wait on
 * its wake-up channel (one SUBSCRIBE per chat however many calls wait on it) until a
 * wake-up or the deadline, reading again on each. Pub/sub is a doorbell only: after every
 * subscription (the first, or after a reconnect) the waiters read again, so an event that
 * rang before the subscription took effect is not missed. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chat/notes.h"
#include "chat/tools.h"
#include "cluster/admin.h"
#include "cluster/engine_int.h"
#include "cluster/node.h"
#include "redis/client.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/xalloc.h"

static void wait_read(struct eng_op *op);

static void unlisten(struct eng_op *op)
{
	struct cluster_engine *e = op->e;
	char channel[CLUSTER_WAKE_CHANNEL_MAX];

	timer_cancel(e->timers, &op->deadline);
	/* A wait that ends without an answer's ack (its deadline, a cancel) still acknowledges:
	 * its cursor stays at `after`, as the ack made when it parked used to leave it. */
	if (op->owes_ack) {
		op->owes_ack = false;
		eng_ack(e, op->chat_id, true, op->after, op->after, NULL, NULL);
	}
	/* The last waiter: the subscription lingers for the client's next wait (engine_linger.c). */
	if (cluster_wake_remove(e->wake, &op->w, channel) == 1 && !e->stopping &&
	    !eng_linger_keep(e, op->chat_id, op->has_after ? op->after : 0, op->trimmed,
			     op->gen == op->known_gen ? op->rung : UINT64_MAX, &op->extra))
		redis_subscribe(cluster_node_subscriber(e->node), REDIS_UNSUBSCRIBE, channel,
				strlen(channel), NULL, NULL);
	cluster_kept_clear(&op->extra);
}

/* The single node's notes for the events (chat/notes.h), for a request that asked. */
static void note_events(struct mcp_tool_ctx *res, const struct cluster_call_reply *r)
{
	cJSON *events;

	if (!r || !r->n_events || !mcp_tool_log_asked(res, MCP_LOG_INFO))
		return;
	events = cJSON_CreateArray();
	for (size_t i = 0; i < r->n_events; i++) {
		cJSON *ev = cJSON_CreateObject();

		cJSON_AddStringToObject(ev, "method", r->events[i].method);
		cJSON_AddRawToObject(ev, "params", r->events[i].params);
		cJSON_AddItemToArray(events, ev);
	}
	chat_notes_events(res, events);
	cJSON_Delete(events);
}

/* Answers with the events of r (NULL: none, next = after). */
static void answer_events(struct eng_op *op, const struct cluster_call_reply *r)
{
	struct mcp_tool_ctx res;
	struct buf b = BUF_INIT;
	size_t n = r ? r->n_events : 0;

	eng_result(op, &res);
	note_events(&res, r);

	if (n) /* the client's next wait comes with this as its after (a lingering chat's base) */
		op->after = r->events[n - 1].seq;
	unlisten(op);
	buf_puts(&b, "{\"events\":[");
	for (size_t i = 0; i < n; i++) {
		const struct cluster_call_event *ev = &r->events[i];

		buf_puts(&b, i ? ",{\"method\":" : "{\"method\":");
		buf_json_string(&b, ev->method, strlen(ev->method));
		buf_puts(&b, ",\"params\":");
		buf_puts(&b, ev->params);
		buf_puts(&b, "}");
	}
	buf_printf(&b, "],\"next\":%llu}", (unsigned long long)op->after);
	res.structured_text = buf_take(&b);
	eng_answer(op, &res);
}

static void fail_wait(struct eng_op *op)
{
	unlisten(op);
	eng_answer_unavailable(op);
}

static void on_subscribed(void *ctx, int err, const redisReply *reply)
{
	struct eng_op *op = ctx;
	struct cluster_engine *e = op->e;

	(void)reply;
	/* Subscribed: whoever waits on this chat reads once more (a ring may have come before).
	 * Not subscribed (connection lost): the reconnect's resubscribe does the same. */
	if (err == 0 && !e->stopping)
		cluster_wake_chat(e->wake, op->chat_id, 0, false);
	eng_unref(op);
}

/* The held events, now that their ack moved the chat's cursor past them: the answer. */
static void on_held_acked(void *ctx, int err, const redisReply *reply)
{
	struct eng_op *op = ctx;
	struct cluster_call_reply r;
	struct cluster_call_event ev[CLUSTER_KEPT_EVENTS];
	bool gone;

	memset(&r, 0, sizeof(r));
	err = eng_parse_ack(op->e, err, reply, &gone);
	if (op->p && op->held.n) {
		if (err < 0 || gone) {
			/* the read says why (chat_expired), or fails as a read would */
			cluster_kept_clear(&op->held);
			wait_read(op);
		} else {
			/* `after` is acknowledged: by this ack, or by the one or the read before it
			 * on the same connection */
			if (op->has_after)
				op->trimmed = op->after;
			for (uint32_t i = 0; i < op->held.n; i++) {
				cluster_kept_get(&op->held, i, &ev[i].seq, &ev[i].method,
						 &ev[i].params);
				ev[i].params_len = strlen(ev[i].params);
			}
			r.events = ev;
			r.n_events = op->held.n;
			answer_events(op, &r);
			r.events = NULL;
			r.n_events = 0;
		}
	}
	cluster_call_reply_free(&r);
	eng_unref(op);
}

/* The doorbell carried the very event the call waits for (seq = after + 1): it is the
 * answer, without reading the stream, once an `ack` moved the chat's cursor past it (a later
 * wait without `after` goes on from there). 0, or -1 to read instead. */
static int take_event(struct eng_op *op, uint64_t seq, const struct cluster_wake_event *ev)
{
	struct cluster_engine *e = op->e;

	if (cluster_kept_push(&op->held, seq, ev->method, ev->method_len, ev->params,
			      ev->params_len) < 0)
		return -1;
	if (eng_ack(e, op->chat_id, op->owes_ack, op->after, seq, on_held_acked, op) < 0) {
		cluster_kept_clear(&op->held);
		return -1;
	}
	op->owes_ack = false;
	op->refs++;
	e->st.doorbell_answers++;
	return 0;
}

static void on_wake(struct cluster_wake_waiter *w, const char *chat_id, uint64_t seq, bool end,
		    const struct cluster_wake_event *ev)
{
	struct eng_op *op = w->ctx;

	(void)chat_id; /* an ended chat's read answers chat_expired */
	if (!op->p || op->held.n) {
		/* answered, or about to be: what rang goes to the next wait (rung), the events
		 * that came with it to the linger left behind (the newest run, as it keeps) */
		if (end || seq == 0)
			cluster_kept_clear(&op->extra);
		else if (seq > op->rung)
			eng_kept_ring(&op->extra, seq, ev);
	}
	if (end || seq == 0)
		op->gen++;
	else if (seq > op->rung)
		op->rung = seq;
	if (!op->p || op->held.n)
		return;
	if (mcp_pending_abandoned(op->p)) {
		answer_events(op, NULL);
		return;
	}
	if (!end && seq && op->has_after && !op->reading && !op->read_failed) {
		if (seq <= op->after)
			return; /* a late doorbell of what this call's client has */
		if (ev && seq == op->after + 1 && take_event(op, seq, ev) == 0)
			return;
	}
	wait_read(op);
}

/* Nothing new up to seq seen: wait on the chat's channel (and read once more once listening,
 * unless a lingering subscription heard nothing newer meanwhile). */
static void listen_chat(struct eng_op *op, uint64_t seen)
{
	struct cluster_engine *e = op->e;
	char channel[CLUSTER_WAKE_CHANNEL_MAX];
	int first, err;

	first = cluster_wake_add(e->wake, op->chat_id, &op->w, on_wake, op, channel);
	if (first < 0) {
		fail_wait(op);
		return;
	}
	if (first == 0) {
		if (eng_linger_take(e, op->chat_id, seen) != 0)
			wait_read(op);
		return;
	}
	err = redis_subscribe(cluster_node_subscriber(e->node), REDIS_SUBSCRIBE, channel,
			      strlen(channel), on_subscribed, op);
	if (err < 0) {
		eng_failed(e, err);
		fail_wait(op);
		return;
	}
	op->refs++;
}

/* A read could not be made or answered. The first one answers unavailable (nothing is known
 * of the chat); a later one, of a call already listening, keeps waiting: Redis coming back
 * (connected), a doorbell or the deadline reads again, and the deadline answers unavailable
 * if Redis never did. */
static void read_failed(struct eng_op *op)
{
	if (!cluster_wake_registered(&op->w) || op->e->stopping || op->expired) {
		fail_wait(op);
		return;
	}
	op->read_failed = true;
}

static void on_read(void *ctx, int err, const redisReply *reply)
{
	struct eng_op *op = ctx;
	struct cluster_call_reply r;
	struct mcp_tool_ctx res = { 0 };

	op->reading = false;
	err = eng_parse(op->e, CLUSTER_SCRIPT_READ, err, reply, &r);
	if (!op->p) {
		/* answered meanwhile (the engine stopped) */
	} else if (err < 0) {
		read_failed(op);
	} else if (r.chat.error != CHAT_OK) {
		unlisten(op);
		chat_tools_refusal(&res, &r.chat);
		eng_answer(op, &res);
	} else {
		op->read_failed = false;
		/* What this read saw is known (the next wait reads again if this answer stops
		 * short of it), and so is every unknown wake-up that came before it started. */
		if (r.last > op->rung)
			op->rung = r.last;
		op->known_gen = op->read_gen;
		if (op->has_after) /* the read acknowledged `after` */
			op->trimmed = op->after;
		if (!op->has_after) { /* from the cursor: later reads start where this one did */
			op->has_after = true;
			op->after = r.n_events ? r.events[0].seq - 1 : r.next;
		}
		if (r.n_events || op->expired || !op->timeout_ms || mcp_pending_abandoned(op->p)) {
			if (!cluster_wake_registered(&op->w))
				eng_linger_answered(op->e, op->chat_id,
						    r.n_events ? r.events[r.n_events - 1].seq
							       : op->after,
						    r.last, op->read_stamp);
			answer_events(op, &r);
		}
		else if (op->again)
			wait_read(op);
		else if (!cluster_wake_registered(&op->w))
			listen_chat(op, r.last);
	}
	cluster_call_reply_free(&r);
	eng_unref(op);
}

static void wait_read(struct eng_op *op)
{
	struct cluster_engine *e = op->e;
	struct cluster_call_args a;

	if (op->reading) {
		op->again = true;
		return;
	}
	op->again = false;
	op->read_gen = op->gen;
	op->read_stamp = ++e->reads_issued;
	if (cluster_call_read(&a, e->prefix, op->chat_id, op->has_after, op->after,
			      op->has_after ? CLUSTER_ACK_AFTER : CLUSTER_ACK_NONE,
			      CLUSTER_CALL_READ_MAX) < 0 ||
	    eng_evalsha(e, &a, on_read, op) < 0) {
		read_failed(op);
		return;
	}
	if (op->has_after)
		op->owes_ack = false; /* the read acknowledges `after` */
	op->reading = true;
	op->refs++;
}

static void on_wait_acked(void *ctx, int err, const redisReply *reply)
{
	struct eng_op *op = ctx;
	bool gone;

	err = eng_parse_ack(op->e, err, reply, &gone);
	if (!op->p) {
		/* answered meanwhile */
	} else if (err < 0) {
		read_failed(op); /* as a failed read: the deadline answers unavailable */
	} else if (gone) {
		wait_read(op); /* answers chat_expired */
	} else {
		op->trimmed = op->after;
	}
	eng_unref(op);
}

/* The call takes a lingering subscription's place, knowing up to rung (registered next to
 * the placeholder, which then goes: the subscription never lapses), and sends its `ack`
 * with fn (NULL: none now, op->owes_ack). fresh: the placeholder must have heard nothing
 * newer than rung. 0 sent (or owed); -1 not registered, nothing done; 1 registered but the
 * ack did not go (the call reads instead). */
static int take_over(struct eng_op *op, uint64_t rung, bool fresh, uint64_t upto,
		     uint64_t cursor, resp_reply_fn fn)
{
	struct cluster_engine *e = op->e;
	char channel[CLUSTER_WAKE_CHANNEL_MAX];

	if (cluster_wake_add(e->wake, op->chat_id, &op->w, on_wake, op, channel) != 0) {
		cluster_wake_remove(e->wake, &op->w, channel);
		return -1;
	}
	op->rung = rung;
	if (eng_linger_take(e, op->chat_id, rung) != 0 && fresh)
		return 1;
	if (!fn) {
		op->owes_ack = true;
		return 0;
	}
	if (eng_ack(e, op->chat_id, true, upto, cursor, fn, op) < 0)
		return 1;
	op->refs++;
	return 0;
}

/* The client's `after` is the newest event a lingering subscription of its chat heard of:
 * nothing to read. The call takes the subscription over, acknowledges with `ack` (no read,
 * no timers: a fraction of read's cost) and waits. 0, or -1 to read as usual.
 *
 * The ack may wait: a Redis round trip per relayed message saved (of three) in a chat that
 * waits between messages. The next command for the call carries it (the
 * ack of the event that answers it, a read), or its end does. Until then Redis counts
 * those events against the mailbox bound, so it waits only while that cannot matter:
 * when the last wait acknowledged up to at most a quarter of the bound before `after` (a
 * partner would have to send the other three quarters before one round trip ends). It
 * loses the ack's report of a chat that is gone; the subscription that was there all
 * along heard the chat's end (or heard nothing it knows: not fresh, a read). */
static int skip_read(struct eng_op *op)
{
	struct cluster_engine *e = op->e;
	uint64_t trimmed = eng_linger_trimmed(e, op->chat_id);
	bool owe = trimmed <= op->after && op->after - trimmed <= e->cfg->mailbox_events / 4;
	int rc;

	/* timeout_s 0 answers after one read (its ack and cursor as read's); only a call that
	 * waits parks here */
	if (!op->timeout_ms || !eng_linger_fresh(e, op->chat_id, op->after))
		return -1;
	rc = take_over(op, op->after, true, op->after, op->after, owe ? NULL : on_wait_acked);
	if (rc < 0)
		return -1;
	if (rc > 0) {
		wait_read(op);
	} else {
		e->st.reads_skipped++;
		e->st.acks_owed += op->owes_ack;
	}
	return 0;
}

/* The client's `after` lacks events that a lingering subscription heard, every one up to the
 * newest announced, and kept: they are the answer, once an `ack` acknowledged `after` and
 * moved the chat's cursor past them (as the read it saves would have). What rings while the
 * ack is out is this call's (its linger keeps it for the next wait). 0, or -1 to go on. */
static int answer_kept(struct eng_op *op)
{
	struct cluster_engine *e = op->e;
	uint64_t rung;
	int rc;

	if (eng_linger_events(e, op->chat_id, op->after, &op->held, &rung) <= 0)
		return -1;
	if ((rc = take_over(op, rung, false, op->after, rung, on_held_acked)) < 0) {
		cluster_kept_clear(&op->held);
		return -1;
	}
	if (rc > 0) {
		cluster_kept_clear(&op->held);
		wait_read(op);
	} else {
		e->st.kept_answers++;
	}
	return 0;
}

static void on_deadline(struct timer *t)
{
	struct eng_op *op = container_of(t, struct eng_op, deadline);

	op->expired = true;
	if (op->held.n)
		return; /* its ack moved the cursor past the held event: that event is the answer */
	if (!op->reading && op->p && op->read_failed)
		fail_wait(op);
	else if (!op->reading && op->p)
		answer_events(op, NULL);
}

void eng_wait_init(struct eng_op *op)
{
	timer_init(&op->deadline, on_deadline);
}

void eng_wait_start(struct eng_op *op, bool has_after, uint64_t after, uint32_t timeout_ms)
{
	op->is_wait = true;
	op->has_after = has_after;
	op->after = after;
	op->timeout_ms = timeout_ms;
	if (timeout_ms)
		timer_arm(op->e->timers, &op->deadline, timer_now_ms() + timeout_ms);
	if (!(has_after && (answer_kept(op) == 0 || skip_read(op) == 0)))
		wait_read(op);
}

void eng_wait_stop(struct eng_op *op)
{
	if (op->is_wait && op->p)
		answer_events(op, NULL);
}

void eng_wait_forget(struct eng_op *op)
{
	if (op->is_wait)
		unlisten(op);
}

/* Touch: the chats with waiting calls stay alive; gone ones wake their waiters. */

static void on_touched(void *ctx, int err, const redisReply *reply)
{
	struct cluster_engine *e = ctx;
	struct cluster_call_reply r;

	if (eng_parse(e, CLUSTER_SCRIPT_TOUCH, err, reply, &r) == 0 && !e->stopping)
		for (size_t i = 0; i < r.n_ids; i++)
			cluster_wake_chat(e->wake, r.ids[i], 0, true);
	cluster_call_reply_free(&r);
}

struct id_list {
	char (*ids)[CHAT_ID_LEN + 1];
	size_t n, cap;
	struct redis_client *sub; /* resubscribe: SUBSCRIBE each too */
};

static void collect(void *ctx, const char *chat_id, const char *channel)
{
	struct id_list *l = ctx;

	if (l->sub)
		redis_subscribe(l->sub, REDIS_SUBSCRIBE, channel, strlen(channel), NULL, NULL);
	if (l->n < l->cap)
		snprintf(l->ids[l->n++], CHAT_ID_LEN + 1, "%s", chat_id);
}

/* Every listened chat's id (the registry may change once the walk is over). */
static void listened(struct cluster_engine *e, struct id_list *l, struct redis_client *sub)
{
	l->cap = cluster_wake_count(e->wake);
	l->n = 0;
	l->sub = sub;
	l->ids = l->cap ? xcalloc(l->cap, sizeof(*l->ids)) : NULL;
	cluster_wake_each(e->wake, collect, l);
}

/* Abandoned waits end (their client went; the answer would be dropped anyway). */
static void reap_abandoned(struct cluster_engine *e)
{
	struct list_link *l, *next;

	for (l = e->ops.next; l != &e->ops; l = next) {
		struct eng_op *op = container_of(l, struct eng_op, link);

		op->refs++;
		if (op->is_wait && op->p && mcp_pending_abandoned(op->p))
			answer_events(op, NULL);
		next = op->link.next;
		eng_unref(op);
	}
}

void eng_on_touch(struct timer *t)
{
	struct cluster_engine *e = container_of(t, struct cluster_engine, touch);
	struct id_list l;

	eng_linger_expire(e, false);
	reap_abandoned(e);
	/* Not settled (just reconnected, epoch unread): a touch could report chats gone that are
	 * about to be re-asserted; the next tick touches them. */
	if (!cluster_node_settled(e->node))
		goto rearm;
	listened(e, &l, NULL);
	for (size_t i = 0; i < l.n; i += CLUSTER_CALL_TOUCH_MAX) {
		const char *batch[CLUSTER_CALL_TOUCH_MAX];
		size_t n = l.n - i < CLUSTER_CALL_TOUCH_MAX ? l.n - i : CLUSTER_CALL_TOUCH_MAX;
		struct cluster_call_args a;

		for (size_t j = 0; j < n; j++)
			batch[j] = l.ids[i + j];
		if (cluster_call_touch(&a, e->prefix, batch, n) == 0)
			eng_evalsha(e, &a, on_touched, e);
	}
	free(l.ids);
rearm:
	if (!e->stopping)
		timer_arm(e->timers, t, timer_now_ms() + eng_touch_ms(e->cfg));
}

/* The node's hooks */

static void wake_listed(struct cluster_engine *e, struct id_list *l, bool end)
{
	for (size_t i = 0; i < l->n; i++)
		cluster_wake_chat(e->wake, l->ids[i], 0, end);
	free(l->ids);
}

static void ignore_reply(void *ctx, int err, const redisReply *reply)
{
	(void)reply;
	if (err < 0)
		eng_failed(ctx, err);
}

/* Every chat a call waits on is made again, its events going on after the wait's `after`,
 * so what the client acknowledged still means what it meant. */
void eng_reassert_modern(struct cluster_engine *e, const char *chat_id, uint64_t base)
{
	char nonce[23], handle[CLUSTER_HANDLE_LEN + 1];
	struct cluster_call_args a;

	/* A fresh handle: the old one went with Redis' state (admins see the new one). */
	if (cluster_engine_random_id(nonce, 22) < 0 || cluster_admin_new_handle(handle) < 0 ||
	    cluster_call_chat_new(&a, e->prefix, chat_id, e->cfg->chat_idle_ms,
				  e->cfg->cluster_node, false, handle, nonce) < 0 ||
	    (base && cluster_call_chat_base(&a, base) < 0))
		return;
	eng_evalsha(e, &a, ignore_reply, e);
}

static void reassert_waits(struct cluster_engine *e)
{
	struct list_link *l;

	for (l = e->ops.next; l != &e->ops; l = l->next) {
		struct eng_op *op = container_of(l, struct eng_op, link);

		if (op->is_wait && op->p)
			eng_reassert_modern(e, op->chat_id, op->has_after ? op->after : 0);
	}
	/* A client between two waits holds its chat open too. */
	eng_linger_reassert(e);
}

/* Redis lost its state (it restarted without persistence): the chats this node holds open
 * are made again, its 2025 sessions' and those calls wait on, then every waiter reads again
 * (pipelined after the chat_new: it finds its chat). Chats nobody holds open are gone:
 * their next call answers chat_expired. */
static void on_epoch_changed(void *ctx)
{
	struct cluster_engine *e = ctx;
	struct id_list l;

	if (e->stopping)
		return;
	log_notice("cluster: Redis lost its state; re-asserting the %zu chats this node holds",
		   cluster_wake_count(e->wake));
	eng_legacy_reassert(e);
	reassert_waits(e);
	listened(e, &l, NULL);
	wake_listed(e, &l, false);
}

/* Every listened chat rings unknown. Redis is back (connected): every waiter reads again
 * (one whose read failed meanwhile is still waiting, see wait_read), and every 2025
 * session's copy is pulled. The subscriber went (unsubscribed): doorbells may be missed until
 * it is back, so a lingering placeholder stops vouching that nothing is new (the next wait
 * reads, and answers unavailable at once while Redis is away) and a waiting call reads (a
 * failed read keeps it waiting: its deadline answers unavailable if Redis stays away). */
static void wake_all(void *ctx)
{
	struct cluster_engine *e = ctx;
	struct id_list l;

	if (e->stopping)
		return;
	listened(e, &l, NULL);
	wake_listed(e, &l, false);
}

static void on_resubscribe(void *ctx)
{
	struct cluster_engine *e = ctx;
	struct id_list l;

	if (e->stopping)
		return;
	listened(e, &l, cluster_node_subscriber(e->node));
	/* Read again now only if the command connection has settled; else its `connected`
	 * comes later and wakes everyone then, after any re-assertion (a read before it could
	 * find an emptied Redis and take a chat about to be re-made for gone). */
	if (cluster_node_settled(e->node))
		wake_listed(e, &l, false);
	else
		free(l.ids);
}

static void on_chats_ended(void *ctx, const char *const *ids, size_t n)
{
	struct cluster_engine *e = ctx;

	for (size_t i = 0; i < n; i++)
		cluster_wake_chat(e->wake, ids[i], 0, true);
}

static void on_message(void *ctx, const struct resp_message *m)
{
	struct cluster_engine *e = ctx;

	if (cluster_wake_deliver(e->wake, m->channel, m->channel_len, m->payload,
				 m->payload_len) == -EPROTO)
		e->st.malformed++;
	else
		e->st.wakeups++;
}

void eng_wait_hooks(struct cluster_engine *e, struct cluster_node_hooks *hooks)
{
	hooks->ctx = e;
	hooks->epoch_changed = on_epoch_changed;
	hooks->resubscribe = on_resubscribe;
	hooks->unsubscribed = wake_all;
	hooks->connected = wake_all;
	hooks->chats_ended = on_chats_ended;
	hooks->on_message = on_message;
}
