#include "cluster/engine.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "chat/chat.h"
#include "chat/notes.h"
#include "chat/tools.h"
#include "cluster/admin.h"
#include "cluster/call.h"
#include "cluster/engine_int.h"
#include "cluster/node.h"
#include "cluster/wake.h"
#include "redis/client.h"
#include "util/b64url.h"
#include "util/log.h"
#include "util/xalloc.h"

/* Pure helpers */

int cluster_engine_random_id(char *out, size_t n)
{
	unsigned char raw[24];
	size_t bytes = b64url_decoded_len(n);
	char tmp[40];

	if (n > 32 || n % 4 == 1 || n == 0)
		return -EINVAL;
	if (getrandom(raw, bytes, 0) != (ssize_t)bytes)
		return errno ? -errno : -EIO;
	b64url_encode(raw, bytes, tmp);
	memcpy(out, tmp, n);
	out[n] = '\0';
	return 0;
}

bool cluster_engine_chat_id_valid(const char *id)
{
	size_t i;

	if (!id)
		return false;
	for (i = 0; id[i]; i++) {
		char c = id[i];

		if (i >= CHAT_ID_LEN || !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
					  (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return false;
	}
	return i == CHAT_ID_LEN;
}

/* Both kinds of chat stay alive: a modern one's idle limit is chat_idle, a 2025 session's
 * the reconnect grace. */
uint32_t eng_touch_ms(const struct config *cfg)
{
	uint32_t idle = cfg->chat_idle_ms < cfg->reconnect_grace_ms ? cfg->chat_idle_ms
								   : cfg->reconnect_grace_ms;

	return cluster_engine_touch_ms(idle);
}

uint32_t cluster_engine_touch_ms(uint32_t chat_idle_ms)
{
	uint32_t ms = chat_idle_ms / 3;

	return ms > 5000 ? 5000 : ms < 200 ? 200 : ms;
}

/* Answers */

static const char sentence_down[] =
	"The chat store cannot be reached right now; nothing was done. Try again shortly";
static const char sentence_legacy[] =
	"This session's chat is not held on this node; initialize a new session";
static const char sentence_batch[] =
	"A cluster node cannot answer chat tools inside a JSON-RPC batch; send the call alone";

enum mcp_tool_status eng_unavailable(struct cluster_engine *e, struct mcp_tool_ctx *ctx,
				     const char *sentence)
{
	struct chat_result r = { .error = CHAT_UNAVAILABLE, .message = sentence,
				 .retry_after_ms = 1000 };

	e->st.unavailable++;
	return chat_tools_refusal(ctx, &r);
}

/* Answers op's call with r (taken) and drops the "unanswered" reference. */
void eng_result(const struct eng_op *op, struct mcp_tool_ctx *res)
{
	if (op->p)
		mcp_pending_result_init(op->p, res);
	else
		memset(res, 0, sizeof(*res));
}

void eng_answer(struct eng_op *op, struct mcp_tool_ctx *r)
{
	struct mcp_pending *p = op->p;

	if (!p) { /* answered already (the engine stopped): this one is dropped */
		cJSON_Delete(r->structured);
		free(r->structured_text);
		buf_free(&r->notes);
		return;
	}
	op->p = NULL;
	mcp_pending_done(p, r);
	eng_unref(op);
}

void eng_answer_unavailable(struct eng_op *op)
{
	struct mcp_tool_ctx r = { 0 };

	if (!op->p)
		return;
	eng_unavailable(op->e, &r, sentence_down);
	eng_answer(op, &r);
}

void eng_unref(struct eng_op *op)
{
	if (--op->refs > 0)
		return;
	eng_wait_forget(op);
	cluster_kept_clear(&op->held);
	cluster_kept_clear(&op->extra);
	list_del(&op->link);
	if (op->leg)
		eng_legacy_unref(op->leg);
	if (op->resend) {
		free(op->resend->text);
		free(op->resend);
	}
	free(op);
}

/* Commands */

/* A command could not be sent or was not answered: counted; the caller answers unavailable. */
void eng_failed(struct cluster_engine *e, int err)
{
	e->st.commands_failed++;
	log_debug("cluster: a command failed: %s", strerror(-err));
}

int eng_evalsha(struct cluster_engine *e, struct cluster_call_args *a, resp_reply_fn fn,
		void *ctx)
{
	struct resp_script *s = cluster_node_script(e->node, a->script);
	int err;

	if (e->stopping)
		return -ECANCELED;
	if (!s)
		return -ENOENT;
	err = redis_evalsha(cluster_node_redis(e->node), s, 1, a->argc, a->argv, a->argvlen, fn,
			    ctx);
	if (err < 0)
		eng_failed(e, err);
	return err;
}

/* Parses a script's reply; 0, or the reason it cannot be used (counted). */
int eng_parse(struct cluster_engine *e, enum cluster_script s, int err, const redisReply *reply,
	      struct cluster_call_reply *out)
{
	memset(out, 0, sizeof(*out));
	if (err < 0) {
		eng_failed(e, err);
		return err;
	}
	err = cluster_call_parse(s, reply, out);
	if (err == -EPROTO) {
		e->st.malformed++;
		log_warn("cluster: a malformed %s reply (ignored; the call answers unavailable)",
			 cluster_script_name(s));
	} else if (err < 0) {
		eng_failed(e, err);
	}
	return err;
}

static void ignore_reply(void *ctx, int err, const redisReply *reply)
{
	struct cluster_engine *e = ctx;

	(void)reply;
	if (err < 0)
		eng_failed(e, err);
}

int eng_ack(struct cluster_engine *e, const char *chat_id, bool has_upto, uint64_t upto,
	    uint64_t cursor, resp_reply_fn fn, void *ctx)
{
	struct redis_client *cl = cluster_node_redis(e->node);
	struct cluster_call_ack_cmds a;
	int err;

	if (e->stopping)
		return -ECANCELED;
	err = cluster_call_ack(&a, e->prefix, chat_id, has_upto, upto, cursor);
	/* one connection answers in order: the last reply comes after the others' */
	for (size_t i = 0; err == 0 && i < a.n; i++) {
		bool last = i + 1 == a.n;

		err = redis_command(cl, a.cmd[i].argc, a.cmd[i].argv, a.cmd[i].argvlen,
				    last && fn ? fn : ignore_reply, last && fn ? ctx : (void *)e);
	}
	if (err < 0)
		eng_failed(e, err);
	return err;
}

int eng_parse_ack(struct cluster_engine *e, int err, const redisReply *reply, bool *gone)
{
	*gone = false;
	if (err < 0) {
		eng_failed(e, err);
		return err;
	}
	err = cluster_call_parse_ack(reply, gone);
	if (err == -EPROTO) {
		e->st.malformed++;
		log_warn("cluster: a malformed ack reply (ignored; the call answers unavailable)");
	} else if (err < 0) {
		eng_failed(e, err);
	}
	return err;
}

/* The chat a refused first call minted goes again (it is in no room: nobody is told). */
static void end_minted(struct cluster_engine *e, const char *chat_id)
{
	struct cluster_call_args a;

	if (cluster_call_end(&a, e->prefix, chat_id, CHAT_DISCONNECTED) == 0)
		eng_evalsha(e, &a, ignore_reply, e);
}

/* A new op for a tool call, with the deferred answer taken. NULL: the call cannot wait (a
 * batch) and ctx holds the answer. */
static struct eng_op *op_new(struct cluster_engine *e, struct mcp_tool_ctx *ctx,
			     enum cluster_script s, const char *chat_id, struct eng_legacy *leg)
{
	struct mcp_pending *p;
	struct eng_op *op;

	e->st.calls++;
	p = mcp_tool_defer(ctx);
	if (!p) {
		eng_unavailable(e, ctx, sentence_batch);
		return NULL;
	}
	op = xcalloc(1, sizeof(*op));
	op->e = e;
	op->p = p;
	op->script = s;
	op->refs = 1;
	if (chat_id)
		snprintf(op->chat_id, sizeof(op->chat_id), "%s", chat_id);
	if ((op->leg = leg))
		leg->refs++;
	list_append(&e->ops, &op->link);
	cluster_kept_init(&op->held, &e->kept);
	cluster_kept_init(&op->extra, &e->kept);
	eng_wait_init(op);
	return op;
}

/* Sends a for op (a reference for the reply). On failure op is answered unavailable. */
int eng_send(struct eng_op *op, struct cluster_call_args *a, resp_reply_fn fn)
{
	int err = eng_evalsha(op->e, a, fn, op);

	if (err < 0) {
		eng_answer_unavailable(op);
		return err;
	}
	op->refs++;
	return 0;
}

/* Tool results */

static void on_match_reply(void *ctx, int err, const redisReply *reply)
{
	struct eng_op *op = ctx;
	struct cluster_engine *e = op->e;
	struct cluster_call_reply r;
	struct mcp_tool_ctx res;

	eng_result(op, &res);
	err = eng_parse(e, op->script, err, reply, &r);
	if (err < 0 || op->new_failed) {
		if (op->minted && err == 0 && r.chat.error == CHAT_OK)
			end_minted(e, op->chat_id); /* the chat did not get made as it should */
		eng_answer_unavailable(op);
	} else if (r.chat.error != CHAT_OK) {
		if (op->minted)
			end_minted(e, op->chat_id);
		chat_tools_refusal(&res, &r.chat);
		eng_answer(op, &res);
	} else {
		if (r.chat.matched)
			e->st.matches++;
		eng_legacy_note_result(op, &r);
		chat_notes_matched(&res, &r.chat, op->script == CLUSTER_SCRIPT_JOIN_ROOM);
		chat_tools_matched(&res, op->chat_id, &r.chat, op->script == CLUSTER_SCRIPT_JOIN_ROOM);
		eng_answer(op, &res);
	}
	cluster_call_reply_free(&r);
	eng_unref(op);
}

static void on_new_reply(void *ctx, int err, const redisReply *reply)
{
	struct eng_op *op = ctx;
	struct cluster_call_reply r;

	/* Redis answers in order: this comes before the tool's script's reply, which then
	 * answers unavailable if the chat could not be made. */
	if (eng_parse(op->e, CLUSTER_SCRIPT_CHAT_NEW, err, reply, &r) < 0 ||
	    r.chat.error != CHAT_OK)
		op->new_failed = true;
	cluster_call_reply_free(&r);
	eng_unref(op);
}

/* chat_new for a minted chat, then (pipelined, queued at once) the tool's script. */
static enum mcp_tool_status start_match(struct cluster_engine *e, struct eng_op *op,
					struct cluster_call_args *a)
{
	struct cluster_call_args n;
	char nonce[23], handle[CLUSTER_HANDLE_LEN + 1];

	if (op->minted) {
		/* The handle: admins see and kick the chat by it (cluster/admin.h). */
		if (cluster_engine_random_id(nonce, 22) < 0 || cluster_admin_new_handle(handle) < 0 ||
		    cluster_call_chat_new(&n, e->prefix, op->chat_id, e->cfg->chat_idle_ms,
					  e->cfg->cluster_node, false, handle, nonce) < 0) {
			eng_answer_unavailable(op);
			return MCP_TOOL_PENDING;
		}
		if (eng_send(op, &n, on_new_reply) < 0)
			return MCP_TOOL_PENDING;
	} else if (eng_legacy_ensure(op) < 0) {
		return MCP_TOOL_PENDING;
	}
	if (eng_send(op, a, on_match_reply) < 0 && op->minted)
		end_minted(e, op->chat_id);
	return MCP_TOOL_PENDING;
}

/* Validates the chat id a call names: a malformed one names no chat (as the single node). */
static bool known_shape(struct mcp_tool_ctx *ctx, const char *chat_id)
{
	struct chat_result r = {
		.error = CHAT_EXPIRED, .field = "chat_id",
		.message = "chat_id names no chat: it ended or never existed; call enter_queue or "
			   "join_room without it to start a new one",
	};

	if (cluster_engine_chat_id_valid(chat_id))
		return true;
	chat_tools_refusal(ctx, &r);
	return false;
}

/* The checks every call shares: the chat id, and for a 2025 session (whose chat_id is its
 * own, chat/tools.c) the chat this node holds for it (*leg). false: ctx is answered. */
static bool admit(struct cluster_engine *e, struct mcp_tool_ctx *ctx, const char *chat_id,
		  struct eng_legacy **leg)
{
	*leg = NULL;
	if (e->stopping) {
		eng_unavailable(e, ctx, sentence_down);
		return false;
	}
	if (!ctx->modern) {
		*leg = eng_legacy_find(e, chat_id);
		if (!*leg)
			eng_unavailable(e, ctx, sentence_legacy);
		return *leg != NULL;
	}
	return !chat_id || known_shape(ctx, chat_id);
}

static struct eng_op *op_match(struct cluster_engine *e, struct mcp_tool_ctx *ctx,
			       enum cluster_script s, const char *chat_id, char *req,
			       struct eng_legacy *leg)
{
	struct eng_op *op;
	char id[CHAT_ID_LEN + 1];

	if (cluster_engine_random_id(req, 22) < 0 ||
	    (!chat_id && cluster_engine_random_id(id, CHAT_ID_LEN) < 0)) {
		eng_unavailable(e, ctx, sentence_down);
		return NULL;
	}
	op = op_new(e, ctx, s, chat_id ? chat_id : id, leg);
	if (op)
		op->minted = !chat_id;
	return op;
}

enum mcp_tool_status cluster_engine_enter(struct cluster_engine *e, struct mcp_tool_ctx *ctx,
					  const char *chat_id, const char *name,
					  const char *const *tags, size_t n)
{
	struct cluster_call_args a;
	struct chat_result r;
	char msg[CHAT_SENTENCE_MAX], req[23];
	struct eng_op *op;
	struct eng_legacy *leg;

	if (!admit(e, ctx, chat_id, &leg))
		return MCP_TOOL_DONE;
	if (!cluster_call_check_enter(e->cfg, name, tags, n, &r, msg))
		return chat_tools_refusal(ctx, &r);
	op = op_match(e, ctx, CLUSTER_SCRIPT_ENTER_QUEUE, chat_id, req, leg);
	if (!op)
		return MCP_TOOL_DONE;
	if (cluster_call_enter_queue(&a, e->prefix, op->chat_id, req, name, tags, n, e->cfg) < 0) {
		eng_answer_unavailable(op);
		return MCP_TOOL_PENDING;
	}
	return start_match(e, op, &a);
}

enum mcp_tool_status cluster_engine_join(struct cluster_engine *e, struct mcp_tool_ctx *ctx,
					 const char *chat_id, const char *room_id,
					 const char *name)
{
	struct cluster_call_args a;
	struct chat_result r;
	char msg[CHAT_SENTENCE_MAX], req[23];
	struct eng_op *op;
	struct eng_legacy *leg;

	if (!admit(e, ctx, chat_id, &leg))
		return MCP_TOOL_DONE;
	if (!cluster_call_check_join(room_id, name, e->cfg, &r, msg))
		return chat_tools_refusal(ctx, &r);
	op = op_match(e, ctx, CLUSTER_SCRIPT_JOIN_ROOM, chat_id, req, leg);
	if (!op)
		return MCP_TOOL_DONE;
	if (cluster_call_join_room(&a, e->prefix, op->chat_id, req, room_id, name, e->cfg) < 0) {
		eng_answer_unavailable(op);
		return MCP_TOOL_PENDING;
	}
	return start_match(e, op, &a);
}

/* Sends: a reply lost with the connection (Redis restarting, crashed, cut off) leaves the
 * outcome unknown; ask again while it comes back. A hung Redis (a command past its deadline)
 * is not waited for any longer: unavailable. */

#define RESEND_TRIES 4 /* 250 ms, then doubling: about 4 s in all, then unavailable */

static void on_simple_reply(void *ctx, int err, const redisReply *reply);

static int resend_now(struct eng_op *op)
{
	struct cluster_engine *e = op->e;
	struct eng_resend *rs = op->resend;
	struct cluster_call_args a;

	if (cluster_call_send(&a, e->prefix, op->chat_id, rs->room, rs->mid, rs->text, rs->len,
			      e->cfg) < 0)
		return -EINVAL;
	return eng_evalsha(e, &a, on_simple_reply, op);
}

static bool resend_later(struct eng_op *op)
{
	struct eng_resend *rs = op->resend;

	if (!rs || !op->p || op->e->stopping || rs->tries >= RESEND_TRIES)
		return false;
	timer_arm(op->e->timers, &rs->timer, timer_now_ms() + (250u << rs->tries));
	rs->tries++;
	op->refs++;
	return true;
}

static void on_resend(struct timer *t)
{
	struct eng_resend *rs = container_of(t, struct eng_resend, timer);
	struct eng_op *op = rs->op;

	/* The timer's reference goes to the command; Redis still away: wait again. */
	if (op->p && !op->e->stopping && resend_now(op) == 0)
		return;
	if (!resend_later(op))
		eng_answer_unavailable(op);
	eng_unref(op);
}

/* The engine stops: a send waiting to be asked again answers unavailable now. */
static void resend_stop(struct eng_op *op)
{
	if (op->resend && timer_armed(&op->resend->timer)) {
		timer_cancel(op->e->timers, &op->resend->timer);
		eng_answer_unavailable(op);
		eng_unref(op);
	}
}

static void on_simple_reply(void *ctx, int err, const redisReply *reply)
{
	struct eng_op *op = ctx;
	struct cluster_call_reply r;
	struct mcp_tool_ctx res;

	if (err == -ECONNRESET && resend_later(op)) {
		eng_failed(op->e, err);
		eng_unref(op);
		return;
	}
	err = eng_parse(op->e, op->script, err, reply, &r);
	if (err == 0 && r.chat.error == CHAT_OK && op->script == CLUSTER_SCRIPT_SEND)
		op->e->st.messages++;
	if (err == 0)
		eng_legacy_note_result(op, &r);
	eng_result(op, &res);
	if (err < 0 || op->new_failed)
		eng_answer_unavailable(op);
	else if (r.chat.error != CHAT_OK)
		eng_answer(op, (chat_tools_refusal(&res, &r.chat), &res));
	else if (op->script == CLUSTER_SCRIPT_SEND)
		eng_answer(op, (chat_notes_sent(&res),
				chat_tools_sent(&res, r.chat.message_id, r.chat.timestamp), &res));
	else if (op->script == CLUSTER_SCRIPT_LEAVE)
		eng_answer(op, (chat_notes_left(&res), chat_tools_left(&res), &res));
	else
		eng_answer(op, (chat_tools_status(&res, &r.status, eng_legacy_unread(op, r.unread)),
				&res));
	cluster_call_reply_free(&r);
	eng_unref(op);
}

/* A send, leave or status whose script arguments were built (built: the builder's return):
 * the chat made first for a 2025 session that lacks it, then the script. */
static enum mcp_tool_status run_simple(struct eng_op *op, int built, struct cluster_call_args *a)
{
	if (built < 0)
		eng_answer_unavailable(op);
	else if (eng_legacy_ensure(op) == 0)
		eng_send(op, a, on_simple_reply);
	return MCP_TOOL_PENDING;
}

enum mcp_tool_status cluster_engine_send(struct cluster_engine *e, struct mcp_tool_ctx *ctx,
					 const char *chat_id, const char *room_id,
					 const char *text, size_t len)
{
	struct cluster_call_args a;
	struct chat_result r;
	char msg[CHAT_SENTENCE_MAX], mid[24];
	struct eng_op *op;
	struct eng_legacy *leg;

	if (!admit(e, ctx, chat_id, &leg))
		return MCP_TOOL_DONE;
	if (!cluster_call_check_send(room_id, text, len, e->cfg, &r, msg))
		return chat_tools_refusal(ctx, &r);
	chat_new_message_id(e->chat, mid);
	op = op_new(e, ctx, CLUSTER_SCRIPT_SEND, chat_id, leg);
	if (!op)
		return MCP_TOOL_DONE;
	op->resend = xcalloc(1, sizeof(*op->resend));
	op->resend->op = op;
	snprintf(op->resend->room, sizeof(op->resend->room), "%s", room_id);
	memcpy(op->resend->mid, mid, sizeof(mid));
	op->resend->text = xmalloc(len + 1);
	memcpy(op->resend->text, text, len);
	op->resend->len = len;
	timer_init(&op->resend->timer, on_resend);
	return run_simple(op, cluster_call_send(&a, e->prefix, chat_id, room_id, mid, text, len, e->cfg), &a);
}

enum mcp_tool_status cluster_engine_leave(struct cluster_engine *e, struct mcp_tool_ctx *ctx,
					  const char *chat_id, const char *room_id)
{
	struct cluster_call_args a;
	struct chat_result r;
	char msg[CHAT_SENTENCE_MAX], req[23];
	struct eng_op *op;
	struct eng_legacy *leg;

	if (!admit(e, ctx, chat_id, &leg))
		return MCP_TOOL_DONE;
	if (!cluster_call_check_room(room_id, &r, msg))
		return chat_tools_refusal(ctx, &r);
	if (cluster_engine_random_id(req, 22) < 0)
		return eng_unavailable(e, ctx, sentence_down);
	op = op_new(e, ctx, CLUSTER_SCRIPT_LEAVE, chat_id, leg);
	if (!op)
		return MCP_TOOL_DONE;
	return run_simple(op, cluster_call_leave(&a, e->prefix, chat_id, req, room_id), &a);
}

enum mcp_tool_status cluster_engine_status(struct cluster_engine *e, struct mcp_tool_ctx *ctx,
					   const char *chat_id)
{
	struct cluster_call_args a;
	struct eng_op *op;
	struct eng_legacy *leg;

	if (!admit(e, ctx, chat_id, &leg))
		return MCP_TOOL_DONE;
	op = op_new(e, ctx, CLUSTER_SCRIPT_STATUS, chat_id, leg);
	if (!op)
		return MCP_TOOL_DONE;
	return run_simple(op, cluster_call_status(&a, e->prefix, chat_id), &a);
}

enum mcp_tool_status cluster_engine_wait(struct cluster_engine *e, struct mcp_tool_ctx *ctx,
					 const char *chat_id, bool has_after, uint64_t after,
					 uint32_t timeout_ms)
{
	struct eng_op *op;
	struct eng_legacy *leg;

	if (!admit(e, ctx, chat_id, &leg))
		return MCP_TOOL_DONE;
	if (leg) /* a 2025 session reads its own mailbox (chat/tools.c) */
		return eng_unavailable(e, ctx, sentence_legacy);
	op = op_new(e, ctx, CLUSTER_SCRIPT_READ, chat_id, NULL);
	if (!op)
		return MCP_TOOL_DONE;
	eng_wait_start(op, has_after, after, timeout_ms);
	return MCP_TOOL_PENDING;
}

/* Lifecycle */

void cluster_engine_stop(struct cluster_engine *e)
{
	struct list_link *l, *next;

	if (!e || e->stopping)
		return;
	e->stopping = true;
	timer_cancel(e->timers, &e->touch);
	eng_linger_expire(e, true);
	/* Every call is answered now, before mcp may go: a waiting one with what it has, one on
	 * a round trip unavailable (its outcome is not known; its reply, when it comes, is
	 * dropped). Hold each op while answering it. */
	for (l = e->ops.next; l != &e->ops; l = next) {
		struct eng_op *op = container_of(l, struct eng_op, link);

		op->refs++;
		eng_wait_stop(op);
		resend_stop(op);
		eng_answer_unavailable(op);
		next = op->link.next;
		eng_unref(op);
	}
	cluster_node_stop(e->node);
}

bool cluster_engine_idle(const struct cluster_engine *e)
{
	return !e || (e->stopping && list_empty(&e->ops) && cluster_node_idle(e->node));
}

void cluster_engine_free(struct cluster_engine *e)
{
	if (!e)
		return;
	cluster_engine_stop(e);
	cluster_node_free(e->node);
	cluster_wake_free(e->wake);
	eng_legacy_forget_all(e);
	htab_fini(&e->legacy);
	htab_fini(&e->lingers);
	free(e);
}

void cluster_engine_running(struct cluster_engine *e, const char *addr)
{
	cluster_node_set_addr(e->node, addr);
	cluster_node_set_state(e->node, CLUSTER_NODE_RUNNING);
}

struct cluster_node *cluster_engine_node(struct cluster_engine *e)
{
	return e->node;
}

void cluster_engine_stats(const struct cluster_engine *e, struct cluster_engine_stats *st)
{
	struct cluster_node_stats ns;

	*st = e->st;
	cluster_node_stats(e->node, &ns);
	st->redis_up = ns.redis.state == REDIS_UP;
	st->redis_state = (int)ns.redis.state;
	st->last_heartbeat_local_ms = ns.last_heartbeat_local_ms;
	st->rtt_ewma_us = ns.redis.resp.rtt_ewma_us;
	st->chats_listened = cluster_wake_count(e->wake);
	st->legacy_sessions = eng_legacy_count(e);
	st->chats_lingering = eng_linger_count(e);
	st->epoch_changes = ns.epoch_changes;
	st->heartbeats = ns.heartbeats;
	st->heartbeat_failures = ns.heartbeat_failures;
	st->sweeps = ns.sweeps;
	st->sweep_ended = ns.sweep_ended;
	st->matches += ns.fallback_matched;
	st->malformed += ns.malformed; /* the node's own: sweep, fallback, TIME, epoch */
}

void cluster_engine_add_counts(const struct cluster_engine *e, struct chat_stats *cs)
{
	struct cluster_engine_stats st;

	cluster_engine_stats(e, &st);
	cs->matches += st.matches;
	cs->messages += st.messages;
}

struct cluster_engine *cluster_engine_new(const struct config *cfg, struct ring *ring,
					  struct timer_heap *timers, struct mcp_server *mcp,
					  struct chat *chat, int *err)
{
	struct cluster_engine *e = xcalloc(1, sizeof(*e));
	struct cluster_node_hooks hooks = { 0 };
	uint64_t seed[2];

	e->cfg = cfg;
	e->timers = timers;
	e->mcp = mcp;
	e->chat = chat;
	list_head_init(&e->ops);
	timer_init(&e->touch, eng_on_touch);
	*err = cluster_call_prefix(cfg->cluster_key_prefix, e->prefix);
	if (*err < 0)
		goto fail;
	if (getrandom(seed, sizeof(seed), 0) != (ssize_t)sizeof(seed)) {
		*err = -EIO;
		goto fail;
	}
	htab_init(&e->legacy, seed);
	htab_init(&e->lingers, seed);
	/* Events kept from doorbells, over every chat: 16 MiB, a waiting chat's worth 256 times. */
	e->kept.max = 16u << 20;
	e->wake = cluster_wake_new(e->prefix, 1u << 20);
	if (!e->wake) {
		*err = -EIO;
		goto fail;
	}
	eng_wait_hooks(e, &hooks);
	e->node = cluster_node_new(cfg, ring, timers, &hooks, err);
	if (!e->node)
		goto fail;
	timer_arm(timers, &e->touch, timer_now_ms() + eng_touch_ms(cfg));
	return e;
fail:
	cluster_wake_free(e->wake);
	free(e);
	return NULL;
}
