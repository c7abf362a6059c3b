#include "chat/tools.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin/stats.h"
#include "chat/chat.h"
#include "chat/notes.h"
#include "cluster/engine.h"
#include "mcp/jsonrpc.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/xalloc.h"

enum { T_ENTER, T_JOIN, T_SEND, T_WAIT, T_LEAVE, T_STATUS, N_TOOLS };

struct tools {
	struct mcp_server *srv;
	struct chat *chat;
	struct cluster_engine *engine; /* a cluster node: every call goes there */
	const struct config *cfg;
	struct mcp_tool table[N_TOOLS];
	struct mcp_resource resource;
	struct tool_texts { /* of the configuration in force; every string malloc'd */
		char *description[N_TOOLS], *schema[N_TOOLS];
		char *guide;
	} texts;
};

/* One world per process: the tools are plain functions in a static table. */
static struct tools world;

/* Results */

static enum mcp_tool_status refuse(struct mcp_tool_ctx *ctx, const char *code, const char *field,
				   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static enum mcp_tool_status refuse(struct mcp_tool_ctx *ctx, const char *code, const char *field,
				   const char *fmt, ...)
{
	char sentence[256];
	va_list ap;
	cJSON *o = cJSON_CreateObject();

	va_start(ap, fmt);
	vsnprintf(sentence, sizeof(sentence), fmt, ap);
	va_end(ap);
	if (strcmp(code, "invalid_arguments") == 0 && field)
		stats.refusals[CHAT_INVALID_ARGUMENTS]++;
	cJSON_AddStringToObject(o, "error", code);
	cJSON_AddStringToObject(o, "message", sentence);
	if (field)
		cJSON_AddStringToObject(o, "field", field);
	ctx->structured = o;
	ctx->is_error = true;
	/* The sentence outlives this frame inside the object. */
	ctx->error_text = cJSON_GetObjectItemCaseSensitive(o, "message")->valuestring;
	return MCP_TOOL_DONE;
}

enum mcp_tool_status chat_tools_refusal(struct mcp_tool_ctx *ctx, const struct chat_result *r)
{
	/* invalid_arguments is counted by refuse(), which sees every kind of it. */
	if (r->error != CHAT_INVALID_ARGUMENTS && (unsigned)r->error < STATS_REFUSAL_CODES)
		stats.refusals[r->error]++;
	refuse(ctx, chat_error_code(r->error), r->field, "%s", r->message);
	if (r->error == CHAT_RATE_LIMITED || r->error == CHAT_UNAVAILABLE)
		cJSON_AddNumberToObject(ctx->structured, "retry_after_ms", r->retry_after_ms);
	return MCP_TOOL_DONE;
}

static void add_partner(cJSON *o, const char *name)
{
	cJSON *p = cJSON_AddObjectToObject(o, "partner");

	cJSON_AddStringToObject(p, "display_name", name);
}

enum mcp_tool_status chat_tools_matched(struct mcp_tool_ctx *ctx, const char *chat_id,
					const struct chat_result *r, bool named)
{
	cJSON *o = cJSON_CreateObject();

	if (r->error != CHAT_OK) {
		cJSON_Delete(o);
		return chat_tools_refusal(ctx, r);
	}
	cJSON_AddStringToObject(o, "status", r->matched ? "matched" : "waiting");
	if (r->matched || named)
		cJSON_AddStringToObject(o, "room_id", r->room_id);
	if (r->matched)
		add_partner(o, r->partner_name);
	else if (!named)
		cJSON_AddNumberToObject(o, "position", r->position);
	/* The chat's identity: what a client of the stateless revision passes back. */
	cJSON_AddStringToObject(o, "chat_id", chat_id);
	ctx->structured = o;
	return MCP_TOOL_DONE;
}

/* Arguments: a present argument of the wrong type is refused naming the field. */

static int opt_string(struct mcp_tool_ctx *ctx, const char *name, const char **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(ctx->args, name);

	*out = NULL;
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsString(v)) {
		refuse(ctx, "invalid_arguments", name, "%s must be a string", name);
		return -EINVAL;
	}
	*out = v->valuestring;
	return 0;
}

static int req_string(struct mcp_tool_ctx *ctx, const char *name, const char **out)
{
	if (opt_string(ctx, name, out) < 0)
		return -EINVAL;
	if (!*out) {
		refuse(ctx, "invalid_arguments", name, "%s is required", name);
		return -EINVAL;
	}
	return 0;
}

/* The caller's chat. A 2025 session is its own identity: chat_id is optional there, and
 * when given must name the session's chat (a client may carry it over to the next era). A
 * 2026-07-28 call has no session: chat_id names the chat, and enter_queue and join_room
 * (may_mint) start a new one without it. */
static int chat_of(struct mcp_tool_ctx *ctx, bool may_mint, struct chat_user **out)
{
	struct chat_user *named;
	const char *id;
	int err;

	*out = ctx->session ? mcp_session_app(ctx->session) : NULL;
	if (opt_string(ctx, "chat_id", &id) < 0)
		return -EINVAL;
	if (!id && ctx->session)
		return 0;
	if (!id && !may_mint) {
		refuse(ctx, "invalid_arguments", "chat_id",
		       "chat_id is required: MCP 2026-07-28 has no session, so pass the chat_id that enter_queue or join_room returned");
		return -EINVAL;
	}
	if (!id) {
		err = mcp_tool_mint(ctx);
		if (err < 0) {
			struct chat_result r = {
				.error = CHAT_UNAVAILABLE,
				.message = "This server holds as many chats as it may; try again in a few seconds",
				.retry_after_ms = 5000,
			};

			chat_tools_refusal(ctx, &r);
			return err;
		}
		*out = mcp_session_app(ctx->session);
		return 0;
	}
	named = chat_find(world.chat, id);
	if (!named) {
		stats.refusals[CHAT_EXPIRED]++;
		refuse(ctx, "chat_expired", "chat_id",
		       "chat_id names no chat: it ended or never existed; call enter_queue or join_room without it to start a new one");
		return -ENOENT;
	}
	if (!ctx->session) {
		mcp_tool_bind(ctx, chat_user_owner(named));
		*out = named;
	}
	if (named != *out) {
		refuse(ctx, "invalid_arguments", "chat_id",
		       "chat_id names another chat than this session's; leave it out or pass the one enter_queue or join_room returned here");
		return -EINVAL;
	}
	return 0;
}

/* On a cluster node a 2026-07-28 call names its chat by chat_id alone (the engine checks
 * it); a 2025 session's chat is its own (a chat_id given must name it, as on a single node).
 * true: go on. */
static bool cluster_chat(struct mcp_tool_ctx *ctx, const char **id, bool may_mint)
{
	if (ctx->session && !ctx->modern) {
		const char *own = chat_user_id(mcp_session_app(ctx->session));

		if (*id && strcmp(*id, own) != 0) {
			refuse(ctx, "invalid_arguments", "chat_id",
			       "chat_id names another chat than this session's; leave it out or pass the one enter_queue or join_room returned here");
			return false;
		}
		*id = own;
		return true;
	}
	if (*id || may_mint)
		return true;
	refuse(ctx, "invalid_arguments", "chat_id",
	       "chat_id is required: MCP 2026-07-28 has no session, so pass the chat_id that enter_queue or join_room returned");
	return false;
}

/* The caller's chat: on a cluster node its chat_id (*id), else the session's user (*u). */
static int chat_arg(struct mcp_tool_ctx *ctx, bool may_mint, struct chat_user **u,
		    const char **id)
{
	*id = NULL;
	*u = NULL;
	if (!world.engine)
		return chat_of(ctx, may_mint, u);
	if (opt_string(ctx, "chat_id", id) < 0)
		return -EINVAL;
	if (ctx->session)
		*u = mcp_session_app(ctx->session);
	return cluster_chat(ctx, id, may_mint) ? 0 : -EINVAL;
}

void chat_tools_set_engine(struct cluster_engine *e)
{
	world.engine = e;
}

/* Tools */

static enum mcp_tool_status enter_queue(struct mcp_tool_ctx *ctx)
{
	const cJSON *tags = cJSON_GetObjectItemCaseSensitive(ctx->args, "interests");
	const char *name, *list[16], *id;
	struct chat_user *u;
	struct chat_result r;
	size_t n = 0;
	const cJSON *t;

	if (chat_arg(ctx, true, &u, &id) < 0 || opt_string(ctx, "display_name", &name) < 0)
		return MCP_TOOL_DONE;
	if (tags && !cJSON_IsNull(tags) && !cJSON_IsArray(tags))
		return refuse(ctx, "invalid_arguments", "interests", "interests must be an array of strings");
	if (cJSON_GetArraySize(tags) > (int)(sizeof(list) / sizeof(list[0])))
		return refuse(ctx, "invalid_arguments", "interests", "interests takes at most %u tags",
			      world.cfg->max_interests);
	cJSON_ArrayForEach(t, (cJSON_IsArray(tags) ? tags : NULL)) {
		if (!cJSON_IsString(t))
			return refuse(ctx, "invalid_arguments", "interests", "interests must be an array of strings");
		list[n++] = t->valuestring;
	}
	if (world.engine)
		return cluster_engine_enter(world.engine, ctx, id, name, list, n);
	chat_enter_queue(world.chat, u, name, list, n, &r);
	if (r.error == CHAT_OK)
		chat_notes_matched(ctx, &r, false);
	return chat_tools_matched(ctx, chat_user_id(u), &r, false);
}

static enum mcp_tool_status join_room(struct mcp_tool_ctx *ctx)
{
	const char *room, *name, *id;
	struct chat_user *u;
	struct chat_result r;

	if (chat_arg(ctx, true, &u, &id) < 0 || req_string(ctx, "room_id", &room) < 0 ||
	    opt_string(ctx, "display_name", &name) < 0)
		return MCP_TOOL_DONE;
	if (world.engine)
		return cluster_engine_join(world.engine, ctx, id, room, name);
	chat_join_room(world.chat, u, room, name, &r);
	if (r.error == CHAT_OK)
		chat_notes_matched(ctx, &r, true);
	return chat_tools_matched(ctx, chat_user_id(u), &r, true);
}

enum mcp_tool_status chat_tools_sent(struct mcp_tool_ctx *ctx, const char *message_id,
				     const char *timestamp)
{
	struct buf out = BUF_INIT;

	/* The busiest tool: its result is written directly (both values are URL-safe text). */
	buf_puts(&out, "{\"message_id\":\"");
	buf_puts(&out, message_id);
	buf_puts(&out, "\",\"timestamp\":\"");
	buf_puts(&out, timestamp);
	buf_puts(&out, "\"}");
	ctx->structured_text = buf_take(&out);
	return MCP_TOOL_DONE;
}

static enum mcp_tool_status send_message(struct mcp_tool_ctx *ctx)
{
	const char *room, *text, *id;
	struct chat_user *u;
	struct chat_result r;
	size_t len;

	if (chat_arg(ctx, false, &u, &id) < 0 || req_string(ctx, "room_id", &room) < 0 ||
	    req_string(ctx, "message", &text) < 0)
		return MCP_TOOL_DONE;
	/* A NUL arrived as C0 80 (jsonrpc_fix_escapes); the message carries it as sent. */
	len = jsonrpc_nul_decode((char *)text, strlen(text));
	if (world.engine)
		return cluster_engine_send(world.engine, ctx, id, room, text, len);
	chat_send(world.chat, u, room, text, len, &r);
	if (r.error != CHAT_OK)
		return chat_tools_refusal(ctx, &r);
	chat_notes_sent(ctx);
	return chat_tools_sent(ctx, r.message_id, r.timestamp);
}

static int wait_args(struct mcp_tool_ctx *ctx, double *timeout_s, uint64_t *after,
		     bool *has_after)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(ctx->args, "timeout_s");
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(ctx->args, "after");

	*timeout_s = 30;
	/* No session (a cluster node): the chat's cursor in the store is the default. */
	*after = ctx->session ? mcp_session_mailbox(ctx->session)->cursor : 0;
	*has_after = false;
	if (t && !cJSON_IsNull(t)) {
		if (!cJSON_IsNumber(t) || t->valuedouble < 0 || t->valuedouble > 300) {
			refuse(ctx, "invalid_arguments", "timeout_s", "timeout_s must be a number of seconds from 0 to 300");
			return -EINVAL;
		}
		*timeout_s = t->valuedouble;
	}
	if (a && !cJSON_IsNull(a)) {
		if (!cJSON_IsNumber(a) || a->valuedouble < 0 || a->valuedouble > 9007199254740991.0 ||
		    (double)(uint64_t)a->valuedouble != a->valuedouble) {
			refuse(ctx, "invalid_arguments", "after", "after must be a whole event seq, 0 or more");
			return -EINVAL;
		}
		*after = (uint64_t)a->valuedouble;
		*has_after = true;
	}
	return 0;
}

/* A 2025 session's events up to seq were delivered (a cluster node acknowledges them in the
 * chat's store in turn). */
static void acknowledge(struct mcp_session *s, uint64_t seq)
{
	struct mailbox *mb = mcp_session_mailbox(s);
	uint64_t before = mb->acked;

	mailbox_ack(mb, seq);
	if (world.engine && mb->acked > before)
		cluster_engine_legacy_delivered(world.engine, chat_user_id(mcp_session_app(s)),
						mb->acked);
}

/* A 2025 session's answer acknowledges what it returns (a lost one is put back on
 * cancellation, mcp/call.c). A 2026-07-28 stream cannot be resumed and its close cancels
 * silently, so there `after` is the acknowledgement: what a call returns stays until a later
 * call's `after` covers it, and a client that lost an answer asks again with the same one. */
static enum mcp_tool_status wait_for_message(struct mcp_tool_ctx *ctx)
{
	struct mailbox *mb;
	struct chat_user *u;
	double timeout_s;
	uint64_t after, next, seq;
	cJSON *o, *events;
	const char *id;
	bool has_after;

	if (chat_arg(ctx, false, &u, &id) < 0 || wait_args(ctx, &timeout_s, &after, &has_after) < 0)
		return MCP_TOOL_DONE;
	/* A 2025 session reads its mailbox, on a cluster node too (the node copies its chat's
	 * events there). */
	if (world.engine && !ctx->session)
		return cluster_engine_wait(world.engine, ctx, id, has_after, after,
					   (uint32_t)(timeout_s * 1000));
	mb = mcp_session_mailbox(ctx->session);
	if (ctx->modern)
		mailbox_ack(mb, after);
	seq = mailbox_next_after(mb, after);
	if (!seq && ctx->may_wait && timeout_s > 0) {
		ctx->wait_after = after;
		ctx->wait_ms = (uint32_t)(timeout_s * 1000);
		return MCP_TOOL_WAIT;
	}
	o = cJSON_CreateObject();
	events = cJSON_AddArrayToObject(o, "events");
	next = after;
	for (; seq && seq <= mb->last; seq++) {
		const struct mailbox_event *ev = mailbox_get(mb, seq);
		cJSON *e = cJSON_CreateObject();

		cJSON_AddStringToObject(e, "method", ev->method);
		cJSON_AddRawToObject(e, "params", ev->params);
		cJSON_AddItemToArray(events, e);
		next = seq;
	}
	cJSON_AddNumberToObject(o, "next", (double)next);
	chat_notes_events(ctx, events);
	mb->cursor = next;
	if (!ctx->modern)
		acknowledge(ctx->session, next);
	ctx->structured = o;
	return MCP_TOOL_DONE;
}

enum mcp_tool_status chat_tools_left(struct mcp_tool_ctx *ctx)
{
	ctx->structured = cJSON_CreateObject();
	cJSON_AddStringToObject(ctx->structured, "status", "left");
	return MCP_TOOL_DONE;
}

static enum mcp_tool_status leave_chat(struct mcp_tool_ctx *ctx)
{
	const char *room, *id;
	struct chat_user *u;
	struct chat_result r;

	if (chat_arg(ctx, false, &u, &id) < 0 || req_string(ctx, "room_id", &room) < 0)
		return MCP_TOOL_DONE;
	if (world.engine)
		return cluster_engine_leave(world.engine, ctx, id, room);
	chat_leave(world.chat, u, room, &r);
	if (r.error != CHAT_OK)
		return chat_tools_refusal(ctx, &r);
	chat_notes_left(ctx);
	return chat_tools_left(ctx);
}

enum mcp_tool_status chat_tools_status(struct mcp_tool_ctx *ctx, const struct chat_status *st,
				       uint32_t unread)
{
	static const char *const names[] = { "idle", "waiting", "in_room" };
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "state", names[st->state]);
	if (st->room_id && st->room_id[0])
		cJSON_AddStringToObject(o, "room_id", st->room_id);
	if (st->partner_name && st->partner_name[0])
		add_partner(o, st->partner_name);
	if (st->state == CHAT_WAITING && !(st->room_id && st->room_id[0]))
		cJSON_AddNumberToObject(o, "position", st->position);
	cJSON_AddNumberToObject(o, "unread", unread);
	ctx->structured = o;
	return MCP_TOOL_DONE;
}

static enum mcp_tool_status get_status(struct mcp_tool_ctx *ctx)
{
	struct chat_user *u;
	struct chat_status st;
	const char *id;

	if (chat_arg(ctx, false, &u, &id) < 0)
		return MCP_TOOL_DONE;
	if (world.engine)
		return cluster_engine_status(world.engine, ctx, id);
	chat_get_status(world.chat, u, &st);
	return chat_tools_status(ctx, &st, mailbox_unread(mcp_session_mailbox(ctx->session)));
}

/* Descriptions and schemas state the live limits (they change on reload), so a client that
 * validates against the schema accepts exactly what the server accepts. */

static const struct mcp_tool tool_base[N_TOOLS] = {
	[T_ENTER] = { "enter_queue", "Meet a stranger", NULL, NULL, NULL, enter_queue },
	[T_JOIN] = { "join_room", "Join a named room", NULL, NULL, NULL, join_room },
	[T_SEND] = { "send_message", "Send a message", NULL, NULL, NULL, send_message },
	[T_WAIT] = { "wait_for_message", "Wait for events", NULL, NULL, NULL, wait_for_message },
	[T_LEAVE] = { "leave_chat", "Leave the chat", NULL, NULL, NULL, leave_chat },
	[T_STATUS] = { "get_status", "Where am I", NULL, NULL, NULL, get_status },
};

/* chat_id's schema states its lifetime, which the configuration sets. */
static char *chat_id_schema(const struct config *cfg)
{
	return xasprintf(
		"\"chat_id\":{\"type\":\"string\",\"minLength\":22,\"maxLength\":22,"
		"\"pattern\":\"^[A-Za-z0-9_-]{22}$\",\"description\":\"Your chat, as enter_queue or "
		"join_room returned it. Required for MCP 2026-07-28 clients (no session; enter_queue "
		"and join_room without it start a new chat); there it expires after %g s without a "
		"call or a waiting wait_for_message. Optional in a 2025 MCP session, which is then "
		"your identity and ends it (DELETE, kick, idle, or a push stream gone past the "
		"reconnect grace). An expired one answers chat_expired\"}",
		cfg->chat_idle_ms / 1000.0);
}
#define S_ROOM_ID                                                                            \
	"\"room_id\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":64,"                 \
	"\"pattern\":\"^[A-Za-z0-9_-]{1,64}$\",\"description\":\"Room id\"}"

static void texts_free(struct tool_texts *t)
{
	for (int i = 0; i < N_TOOLS; i++) {
		free(t->description[i]);
		free(t->schema[i]);
	}
	free(t->guide);
	memset(t, 0, sizeof(*t));
}

static void display_name_schema(struct buf *b, const struct config *cfg)
{
	buf_printf(b,
		   "\"display_name\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":%u,"
		   "\"description\":\"Name your partner sees (1-%u characters; default Stranger)\"}",
		   cfg->max_display_name_chars, cfg->max_display_name_chars);
}

static char *enter_schema(const struct config *cfg, const char *cid)
{
	struct buf b = BUF_INIT;

	buf_printf(&b, "{\"type\":\"object\",\"properties\":{%s,", cid);
	display_name_schema(&b, cfg);
	buf_printf(&b,
		   ",\"interests\":{\"type\":\"array\",\"maxItems\":%u,\"items\":{\"type\":\"string\","
		   "\"minLength\":1,\"maxLength\":%u},\"description\":\"",
		   cfg->max_interests, cfg->max_interest_chars);
	if (cfg->max_interests)
		buf_printf(&b, "Up to %u tags; a stranger sharing one is preferred for %g s\"}}}",
			   cfg->max_interests, cfg->interest_fallback_ms / 1000.0);
	else
		buf_puts(&b, "Interests are turned off on this server; leave it out\"}}}");
	return buf_take(&b);
}

static char *join_schema(const struct config *cfg, const char *cid)
{
	struct buf b = BUF_INIT;

	buf_printf(&b, "{\"type\":\"object\",\"properties\":{%s," S_ROOM_ID ",", cid);
	display_name_schema(&b, cfg);
	buf_puts(&b, "},\"required\":[\"room_id\"]}");
	return buf_take(&b);
}

static void build_texts(const struct config *cfg, struct tool_texts *t)
{
	size_t msg = cfg->max_message_bytes;
	char *cid = chat_id_schema(cfg);

	t->description[T_ENTER] = xasprintf(
		"Wait for a random stranger to chat with. Returns {status:\"waiting\", position} or "
		"{status:\"matched\", room_id, partner}; a chatroom.found event follows the match. "
		"Refused with mailbox_full while %u events are unread: read them first.",
		cfg->mailbox_events);
	t->schema[T_ENTER] = enter_schema(cfg, cid);
	t->description[T_JOIN] = xasprintf(
		"Meet someone in a named room (two people per room). The first in waits; the second "
		"is matched and both get chatroom.found. Refused with mailbox_full while %u events "
		"are unread.", cfg->mailbox_events);
	t->schema[T_JOIN] = join_schema(cfg, cid);
	t->description[T_SEND] = xasprintf(
		"Send a message to your partner in the room. Returns {message_id, timestamp} once it "
		"is queued for them. At most %g messages at once, then %g per second.",
		cfg->rate_burst, cfg->rate_per_second);
	t->schema[T_SEND] = xasprintf(
		"{\"type\":\"object\",\"properties\":{%s," S_ROOM_ID ",\"message\":{\"type\":\"string\","
		"\"minLength\":1,\"maxLength\":%zu,\"description\":\"Text to send (1-%zu bytes of UTF-8)\"}},"
		"\"required\":[\"room_id\",\"message\"]}", cid, msg, msg);
	t->description[T_WAIT] = xasprintf(
		"Return the events after `after` (default: after the last ones this tool returned), "
		"waiting up to timeout_s for one. Returns {events, next}. Up to %u unread events are "
		"kept for you. MCP 2026-07-28 clients read their events only here: pass the previous "
		"answer's next as `after`, which acknowledges what came before; an answer lost on the "
		"way is returned again by the same call.", cfg->mailbox_events);
	t->schema[T_WAIT] = xasprintf(
		"{\"type\":\"object\",\"properties\":{%s,\"timeout_s\":{\"type\":\"number\",\"minimum\":0,"
		"\"maximum\":300,\"description\":\"Seconds to wait when there is nothing new (0-300, default 30)\"},"
		"\"after\":{\"type\":\"integer\",\"minimum\":0,\"description\":\"Return events with a seq "
		"greater than this; for MCP 2026-07-28 clients it also acknowledges every event up to it "
		"(pass the previous answer's next)\"}}}", cid);
	t->description[T_LEAVE] = xstrdup(
		"Leave the room (your partner gets partner.disconnected) or stop waiting. You may "
		"enter the queue again afterwards.");
	t->schema[T_LEAVE] = xasprintf(
		"{\"type\":\"object\",\"properties\":{%s," S_ROOM_ID "},\"required\":[\"room_id\"]}", cid);
	t->description[T_STATUS] = xstrdup(
		"Where you are: idle, waiting (with queue position) or in_room (with partner), and "
		"how many events are unread.");
	t->schema[T_STATUS] = xasprintf("{\"type\":\"object\",\"properties\":{%s}}", cid);
	free(cid);
	t->guide = xasprintf(
		"# mcp-chat\n\n"
		"Anonymous one-to-one chat with a stranger.\n\n"
		"1. Call `enter_queue` (optionally with `display_name` and `interests`) to be matched "
		"with a random stranger, or `join_room` with a room id you agreed on with someone.\n"
		"2. When matched you get a `chatroom.found` notification (and the tool result says "
		"`matched`). Use its `room_id` with `send_message`.\n"
		"3. Your partner's messages arrive as `message.received` notifications. If your "
		"client does not show notifications, call `wait_for_message` in a loop.\n"
		"4. `leave_chat` ends the conversation; your partner gets `partner.disconnected`.\n\n"
		"Limits: messages are 1-%zu bytes of UTF-8; %g messages at once, then %g per second; "
		"display names 1-%u characters; up to %u unread events are kept for you. Nobody sees "
		"anything of you but your display name (default \"Stranger\").\n",
		msg, cfg->rate_burst, cfg->rate_per_second, cfg->max_display_name_chars,
		cfg->mailbox_events);
}

static const struct mcp_prompt prompts[] = {
	{ .name = "chat_with_stranger", .title = "Chat with a stranger",
	  .description = "Meet a random stranger and hold a friendly conversation",
	  .text = "Use the mcp-chat tools to meet a stranger: call enter_queue, wait for chatroom.found "
	  "(or call wait_for_message), then exchange messages with send_message. Be friendly and "
	  "never share personal information. Call leave_chat when the conversation is over." },
};

/* Rebuilds the tools and the guide for cfg and hands them to the server. */
static void publish(const struct config *cfg)
{
	struct tool_texts next = { 0 };

	build_texts(cfg, &next);
	for (int i = 0; i < N_TOOLS; i++) {
		world.table[i] = tool_base[i];
		world.table[i].description = next.description[i];
		world.table[i].input_schema = next.schema[i];
	}
	world.resource = (struct mcp_resource){ .uri = "mcp-chat://guide", .name = "guide",
						.title = "How to chat",
						.description = "How to meet a stranger and chat here",
						.mime_type = "text/markdown", .text = next.guide };
	mcp_server_set_tools(world.srv, world.table, N_TOOLS);
	mcp_server_set_documents(world.srv, &world.resource, 1, prompts, 1);
	texts_free(&world.texts);
	world.texts = next;
}

static const char instructions[] =
	"Anonymous one-to-one chat. Call enter_queue (or join_room with a shared name) to meet a "
	"stranger, send_message to talk, and read chatroom.found, message.received and "
	"partner.disconnected notifications, or call wait_for_message if your client does not show "
	"notifications.";

/* Session hooks and event delivery */

static int deliver(void *ctx, struct chat_user *to, const char *method, const char *params,
		   size_t len, bool refusable)
{
	struct tools *w = ctx;
	int64_t seq = mcp_session_event(w->srv, chat_user_owner(to), method, params, len, refusable);

	return seq < 0 ? (int)seq : 0;
}

static bool mailbox_is_full(void *ctx, const struct chat_user *u)
{
	(void)ctx;
	return mailbox_full(mcp_session_mailbox(chat_user_owner(u)));
}

static uint64_t mono_ms(void *ctx)
{
	(void)ctx;
	return timer_now_ms();
}

static int64_t wall_ms(void *ctx)
{
	struct timespec ts;

	(void)ctx;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void session_start(void *ctx, struct mcp_session *s)
{
	struct tools *w = ctx;
	struct chat_user *u = chat_user_new(w->chat, s);

	mcp_session_set_app(s, u);
	/* A cluster node: the local user only names the chat (its chat_id) and the admin view;
	 * the chat itself is in the store. */
	if (w->engine && !mcp_session_modern(s))
		cluster_engine_legacy_open(w->engine, s, chat_user_id(u));
}

static void session_delivered(void *ctx, struct mcp_session *s, uint64_t acked)
{
	struct tools *w = ctx;
	struct chat_user *u = mcp_session_app(s);

	if (w->engine && u)
		cluster_engine_legacy_delivered(w->engine, chat_user_id(u), acked);
}

/* What the partner is told when a session ends. */
static enum chat_reason reason_of(enum mcp_end_reason why)
{
	switch (why) {
	case MCP_END_KICKED:
		return CHAT_KICKED;
	case MCP_END_IDLE:
		return CHAT_TIMEOUT;
	default: /* DELETE, a vanished client, a stop */
		return CHAT_DISCONNECTED;
	}
}

static void session_end(void *ctx, struct mcp_session *s, enum mcp_end_reason why)
{
	struct tools *w = ctx;
	struct chat_user *u = mcp_session_app(s);

	if (u && w->engine)
		cluster_engine_legacy_close(w->engine, chat_user_id(u), reason_of(why));
	if (u)
		chat_user_free(w->chat, u, reason_of(why));
	mcp_session_set_app(s, NULL);
}

static void shutdown_chat(void *ctx)
{
	struct tools *w = ctx;

	chat_shutdown(w->chat);
}

void chat_tools_limits(const struct config *cfg, struct chat_limits *out)
{
	const struct chat_limits limits = {
		.max_message_bytes = cfg->max_message_bytes,
		.max_display_name_chars = cfg->max_display_name_chars,
		.max_interests = cfg->max_interests,
		.max_interest_chars = cfg->max_interest_chars,
		.rate_per_second = cfg->rate_per_second,
		.rate_burst = cfg->rate_burst,
		.fallback_ms = cfg->interest_fallback_ms,
	};

	*out = limits;
}

void chat_tools_configure(struct chat *c, const struct config *cfg)
{
	struct chat_limits limits;

	chat_tools_limits(cfg, &limits);
	chat_set_limits(c, &limits);
	world.cfg = cfg;
	publish(cfg);
}

struct chat *chat_tools_register(struct mcp_server *srv, const struct config *cfg,
			    struct timer_heap *timers)
{
	static struct chat_ops ops = { deliver, mono_ms, wall_ms, &world, mailbox_is_full };
	const struct mcp_hooks hooks = { .session_start = session_start,
					 .session_end = session_end,
					 .shutdown = shutdown_chat,
					 .ctx = &world,
					 .delivered = session_delivered };
	struct chat_limits limits;

	chat_tools_limits(cfg, &limits);
	world.srv = srv;
	world.cfg = cfg;
	world.chat = chat_new(&limits, &ops, timers);
	if (!world.chat)
		return NULL;
	publish(cfg);
	mcp_server_set_hooks(srv, &hooks);
	mcp_server_set_instructions(srv, instructions);
	return world.chat;
}

void chat_tools_free(struct chat *c)
{
	chat_free(c);
	texts_free(&world.texts);
	world.chat = NULL;
	world.srv = NULL;
	world.cfg = NULL;
}
