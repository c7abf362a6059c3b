#include "mcp.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <mcpchat/version.h>

#include "jsonrpc.h"
#include "log.h"
#include "session.h"
#include "sse.h"
#include "stats.h"

static const char *const versions[] = { "2025-11-25", "2025-06-18", "2025-03-26" };
#define N_VERSIONS (sizeof(versions) / sizeof(versions[0]))
#define VERSION_BATCHES 2 /* 2025-03-26: the last version with JSON-RPC batches */

/* A tools/call answered later (wait_for_message): its answer goes out as one SSE event on the
 * POST's own response stream. */
struct mcp_call {
	struct mcp_call *next; /* in session->calls */
	struct mcp_server *srv;
	struct session *session;
	struct mcp_sink *sink;
	const struct mcp_tool *tool;
	cJSON *id;
	cJSON *args;
	uint64_t after;
	bool keep_alive;
	struct timer deadline;
	struct timer ping;
};

struct mcp_server {
	const struct config *cfg;
	struct timer_heap *timers;
	struct session_table sessions;
	const struct mcp_tool *tools;
	size_t n_tools;
	char *tools_list; /* the tools/list result, built once */
	const struct mcp_resource *resources;
	size_t n_resources;
	const struct mcp_prompt *prompts;
	size_t n_prompts;
	struct mcp_hooks hooks;
	bool shutting_down;
	uint32_t streams, calls;
	/* Reused by post_single (never nested) so a request allocates no answer buffers. */
	struct buf scratch_result, scratch_body;
};

/* What a JSON-RPC request came to: a result, an error, or a wait. */
struct answer {
	struct buf result; /* JSON text of the result */
	int code;          /* JSON-RPC error code, 0 for a result */
	char message[256];
	struct mcp_tool_ctx tool; /* for tools/call */
	const struct mcp_tool *t;
	bool wait;
};

static void answer_error(struct answer *a, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void answer_error(struct answer *a, int code, const char *fmt, ...)
{
	va_list ap;

	a->code = code;
	va_start(ap, fmt);
	vsnprintf(a->message, sizeof(a->message), fmt, ap);
	va_end(ap);
}

/* Responses */

static void write_head(struct buf *out, int status, const char *ctype, long length,
		       const char *extra, bool keep_alive)
{
	char head[1024];
	int n = http_format_head(head, sizeof(head), status, ctype, length, extra, keep_alive);

	if (n > 0)
		buf_append(out, head, (size_t)n);
}

static int write_json(struct mcp_sink *sink, int status, const char *extra, const char *body,
		      size_t len, bool keep_alive)
{
	struct buf *out = sink->ops->out(sink);

	write_head(out, status, "application/json", (long)len, extra, keep_alive);
	buf_append(out, body, len);
	return sink->ops->commit(sink);
}

/* HEAD gets the head alone (RFC 9110 9.3.2). */
static int write_head_only(struct mcp_sink *sink, int status, const char *extra, size_t len,
			   bool keep_alive)
{
	write_head(sink->ops->out(sink), status, "application/json", (long)len, extra, keep_alive);
	return sink->ops->commit(sink);
}

/* An HTTP-level refusal: status plus a JSON-RPC error with no id, as the SDK answers. */
static enum mcp_disposition refuse(struct mcp_sink *sink, const struct http_request *req,
				   int status, int code, const char *extra, const char *message)
{
	struct buf body = BUF_INIT;
	bool keep = req ? req->keep_alive : false;

	if (status >= 500)
		stats.http_5xx++;
	else if (status >= 400)
		stats.http_4xx++;
	jsonrpc_append_error(&body, NULL, code, message);
	if (req && req->method == HTTP_M_HEAD)
		write_head_only(sink, status, extra, body.len, keep);
	else
		write_json(sink, status, extra, body.p ? body.p : "", body.len, keep);
	buf_free(&body);
	return keep ? MCP_DONE : MCP_CLOSE;
}

void mcp_reply_busy(struct mcp_sink *sink, const char *why)
{
	refuse(sink, NULL, 503, JSONRPC_SERVER_ERROR, "Retry-After: 1\r\n", why);
}

void mcp_reply_http_error(struct mcp_sink *sink, int status, const char *why)
{
	char message[192];

	snprintf(message, sizeof(message), "%s: %s", http_reason(status), why);
	refuse(sink, NULL, status, JSONRPC_SERVER_ERROR, NULL, message);
}

static void write_accepted(struct mcp_sink *sink, bool keep_alive)
{
	write_head(sink->ops->out(sink), 202, NULL, 0, NULL, keep_alive);
	sink->ops->commit(sink);
}

/* Server lifecycle */

static void build_tools_list(struct mcp_server *srv)
{
	struct buf b = BUF_INIT;

	buf_puts(&b, "{\"tools\":[");
	for (size_t i = 0; i < srv->n_tools; i++) {
		const struct mcp_tool *t = &srv->tools[i];

		buf_puts(&b, i ? ",{\"name\":" : "{\"name\":");
		buf_json_string(&b, t->name, strlen(t->name));
		if (t->title) {
			buf_puts(&b, ",\"title\":");
			buf_json_string(&b, t->title, strlen(t->title));
		}
		buf_puts(&b, ",\"description\":");
		buf_json_string(&b, t->description, strlen(t->description));
		buf_printf(&b, ",\"inputSchema\":%s", t->input_schema);
		if (t->output_schema)
			buf_printf(&b, ",\"outputSchema\":%s", t->output_schema);
		buf_puts(&b, "}");
	}
	buf_puts(&b, "]}");
	free(srv->tools_list);
	srv->tools_list = buf_take(&b);
}

struct mcp_server *mcp_server_new(const struct config *cfg, struct timer_heap *timers)
{
	struct mcp_server *srv = calloc(1, sizeof(*srv));

	if (!srv)
		return NULL;
	srv->cfg = cfg;
	srv->timers = timers;
	if (session_table_init(&srv->sessions, cfg->max_sessions) < 0) {
		free(srv);
		return NULL;
	}
	build_tools_list(srv);
	return srv;
}

void mcp_server_reconfigure(struct mcp_server *srv)
{
	srv->sessions.max = srv->cfg->max_sessions;
}

void mcp_server_set_tools(struct mcp_server *srv, const struct mcp_tool *tools, size_t n)
{
	srv->tools = tools;
	srv->n_tools = n;
	build_tools_list(srv);
}

void mcp_server_set_documents(struct mcp_server *srv, const struct mcp_resource *res, size_t n_res,
			      const struct mcp_prompt *prompts, size_t n_prompts)
{
	srv->resources = res;
	srv->n_resources = n_res;
	srv->prompts = prompts;
	srv->n_prompts = n_prompts;
}

void mcp_server_set_hooks(struct mcp_server *srv, const struct mcp_hooks *hooks)
{
	srv->hooks = *hooks;
}

void mcp_server_free(struct mcp_server *srv)
{
	if (!srv)
		return;
	while (srv->sessions.all)
		mcp_session_end(srv, srv->sessions.all, 1);
	session_table_free(&srv->sessions);
	buf_free(&srv->scratch_result);
	buf_free(&srv->scratch_body);
	free(srv->tools_list);
	free(srv);
}

struct session_table *mcp_server_sessions(struct mcp_server *srv)
{
	return &srv->sessions;
}

void mcp_server_stats(const struct mcp_server *srv, struct mcp_stats *st)
{
	st->sessions = srv->sessions.count;
	st->streams = srv->streams;
	st->calls_waiting = srv->calls;
}

/* Session timers */

/* When an idle session ends: session_idle_s after its last request, or sooner when its push
 * stream closed and neither a request nor a new stream came within reconnect_grace_s (a
 * client that vanished without DELETE: its partner learns it in seconds, not minutes). */
static uint64_t idle_due(const struct mcp_server *srv, const struct session *s)
{
	uint64_t due = s->active_ms + srv->cfg->session_idle_timeout_ms;

	if (s->stream_lost_ms && s->stream_lost_ms + srv->cfg->reconnect_grace_ms < due)
		due = s->stream_lost_ms + srv->cfg->reconnect_grace_ms;
	return due;
}

static void arm_idle(struct mcp_server *srv, struct session *s)
{
	if (!s->stream && !s->busy)
		timer_arm(srv->timers, &s->idle, idle_due(srv, s));
}

/* A request or a new stream: the client is there; the plain idle rule applies again. */
static void session_active(struct session *s)
{
	s->active_ms = timer_now_ms();
	s->stream_lost_ms = 0;
}

static void on_idle(struct timer *t)
{
	struct session *s = container_of(t, struct session, idle);
	struct mcp_server *srv = s->server;
	uint64_t due = idle_due(srv, s);

	if (s->stream || s->busy)
		return; /* re-armed when the stream or the request ends */
	if (timer_now_ms() < due) {
		timer_arm(srv->timers, t, due);
		return;
	}
	if (s->stream_lost_ms && due < s->active_ms + srv->cfg->session_idle_timeout_ms) {
		log_info("session %s ended: push stream closed, no reconnect within %g s", s->handle,
			 srv->cfg->reconnect_grace_ms / 1000.0);
		mcp_session_end(srv, s, 1 /* CHAT_DISCONNECTED */);
		return;
	}
	log_info("session %s ended: idle for %u s", s->handle,
		 srv->cfg->session_idle_timeout_ms / 1000);
	mcp_session_end(srv, s, 2 /* CHAT_TIMEOUT */);
}

static void detach_stream(struct mcp_server *srv, struct session *s)
{
	if (!s->stream)
		return;
	s->stream->stream_of = NULL;
	s->stream = NULL;
	s->stream_lost_ms = timer_now_ms();
	srv->streams--;
	timer_cancel(srv->timers, &s->ping);
	arm_idle(srv, s);
}

static void on_stream_ping(struct timer *t)
{
	struct session *s = container_of(t, struct session, ping);
	struct mcp_server *srv = s->server;

	struct mcp_sink *sink = s->stream;
	uint64_t sent;

	if (!sink)
		return;
	/* Bytes waited a whole interval and none moved: the client stopped reading. Its
	 * events stay undelivered; it resumes with Last-Event-ID. */
	sent = sink->ops->sent(sink);
	if (sink->ops->queued(sink) > sent && sent == s->ping_sent) {
		log_info("session %s: push stream not read for %u s, closing it", s->handle,
			 srv->cfg->sse_keepalive_ms / 1000);
		detach_stream(srv, s);
		sink->ops->abort(sink);
		return;
	}
	s->ping_sent = sent;
	sse_append_comment(sink->ops->out(sink), "ping");
	if (sink->ops->commit(sink) < 0) {
		detach_stream(srv, s);
		return;
	}
	timer_arm(srv->timers, t, timer_now_ms() + srv->cfg->sse_keepalive_ms);
}

/* Events and push streams */

/* Writes the events after s->pushed to the stream while its send queue has room; the rest
 * wait in the mailbox (undelivered) until sent bytes make room (mcp_sink_sent). So a slow
 * reader gets everything in order, and a stopped one only holds up its own mailbox. */
static void push_pending(struct mcp_server *srv, struct session *s)
{
	struct mcp_sink *sink = s->stream;
	struct buf *out = sink->ops->out(sink);
	size_t len = out->len;
	uint64_t waiting;

	while (s->pushed < s->mbox.last) {
		struct mailbox_event *ev = mailbox_get(&s->mbox, s->pushed + 1);

		if (!ev) { /* delivered and gone: nothing to resend */
			s->pushed++;
			continue;
		}
		waiting = sink->ops->queued(sink) - sink->ops->sent(sink);
		/* An event larger than the whole queue still goes, alone. */
		if (waiting && waiting + ev->params_len + 128 > srv->cfg->max_send_queue)
			break;
		sse_append_notification(out, ev->seq, ev->method, ev->params, ev->params_len);
		ev->wire_end = sink->ops->queued(sink);
		s->pushed = ev->seq;
	}
	if (out->len != len && sink->ops->commit(sink) < 0)
		detach_stream(srv, s);
}

void mcp_sink_sent(struct mcp_server *srv, struct mcp_sink *sink)
{
	struct session *s = sink->stream_of;
	uint64_t sent, seq;

	if (!s)
		return;
	sent = sink->ops->sent(sink);
	for (seq = s->mbox.acked + 1; seq <= s->pushed; seq++) {
		const struct mailbox_event *ev = mailbox_get(&s->mbox, seq);

		if (!ev || !ev->wire_end || ev->wire_end > sent)
			break;
	}
	mailbox_ack(&s->mbox, seq - 1);
	if (s->pushed < s->mbox.last)
		push_pending(srv, s);
}

static void finish_call(struct mcp_call *call);

static void wake_calls(struct session *s, uint64_t seq)
{
	struct mcp_call **pp = &s->calls;

	while (*pp) {
		struct mcp_call *call = *pp;

		if (call->after < seq)
			finish_call(call); /* unlinks itself */
		else
			pp = &call->next;
	}
}

int64_t mcp_session_event(struct mcp_server *srv, struct session *s, const char *method,
			  const char *params, size_t len, bool refusable)
{
	int64_t seq = mailbox_add(&s->mbox, method, params, len, refusable);

	if (seq < 0)
		return seq;
	/* Delivered once sent (mcp_sink_sent); with the queue full it waits its turn. */
	if (s->stream)
		push_pending(srv, s);
	wake_calls(s, (uint64_t)seq);
	return seq;
}

/* Deferred calls */

static void free_call(struct mcp_call *call)
{
	struct mcp_server *srv = call->srv;
	struct session *s = call->session;
	struct mcp_call **pp = &s->calls;

	while (*pp && *pp != call)
		pp = &(*pp)->next;
	if (*pp)
		*pp = call->next;
	if (call->sink)
		call->sink->call = NULL;
	timer_cancel(srv->timers, &call->deadline);
	timer_cancel(srv->timers, &call->ping);
	cJSON_Delete(call->id);
	cJSON_Delete(call->args);
	srv->calls--;
	s->busy--;
	/* Answered or cancelled on a live connection: the client is there. A connection that
	 * closed under the call says nothing of the kind. */
	if (call->sink)
		session_active(s);
	arm_idle(srv, s);
	free(call);
}

static void run_tool(struct mcp_server *srv, struct session *s, const struct mcp_tool *t,
		     const cJSON *args, bool may_wait, struct answer *a);

/* Remembers an answer that moved the wait_for_message cursor, for cancel_answered(). Ids too
 * long to keep are not remembered (no client sends such ids). */
static void note_answer(struct session *s, const cJSON *id, uint64_t cursor_before)
{
	if (s->mbox.cursor == cursor_before)
		return;
	if (!cJSON_PrintPreallocated((cJSON *)id, s->undo_id, sizeof(s->undo_id), false))
		s->undo_id[0] = '\0';
	s->undo_cursor = cursor_before;
	s->undo_to = s->mbox.cursor;
}

/* A cancellation crossed the answer: the client dropped it unseen (its timeout fired first),
 * so what it returned is handed out again by the next wait_for_message. */
static void cancel_answered(struct session *s, const char *id)
{
	if (!s->undo_id[0] || strcmp(s->undo_id, id) != 0 || s->mbox.cursor != s->undo_to)
		return;
	s->mbox.cursor = s->undo_cursor;
	s->undo_id[0] = '\0';
}

static void finish_call(struct mcp_call *call)
{
	struct mcp_sink *sink = call->sink;
	struct answer a = { .result = BUF_INIT };
	struct buf msg = BUF_INIT;
	bool keep = call->keep_alive;
	uint64_t cursor = call->session->mbox.cursor;

	run_tool(call->srv, call->session, call->tool, call->args, false, &a);
	note_answer(call->session, call->id, cursor);
	if (a.code)
		jsonrpc_append_error(&msg, call->id, a.code, a.message);
	else
		jsonrpc_append_result(&msg, call->id, a.result.p, a.result.len);
	buf_free(&a.result);
	free_call(call);
	if (!sink)
		goto out;
	sse_append_event(sink->ops->out(sink), 0, msg.p, msg.len);
	sse_append_end(sink->ops->out(sink));
	if (sink->ops->commit(sink) < 0)
		keep = false;
	sink->ops->resume(sink, keep);
out:
	buf_free(&msg);
}

static void on_call_deadline(struct timer *t)
{
	finish_call(container_of(t, struct mcp_call, deadline));
}

static void on_call_ping(struct timer *t)
{
	struct mcp_call *call = container_of(t, struct mcp_call, ping);
	struct mcp_sink *sink = call->sink;

	sse_append_comment(sink->ops->out(sink), "waiting");
	sink->ops->commit(sink);
	timer_arm(call->srv->timers, t, timer_now_ms() + call->srv->cfg->sse_keepalive_ms);
}

/* Parks a tools/call until an event or its deadline; answers with an SSE stream at once so
 * keep-alive comments can flow while it waits. */
static enum mcp_disposition park_call(struct mcp_server *srv, struct session *s,
				      struct mcp_sink *sink, const cJSON *id, struct answer *a,
				      bool keep_alive)
{
	struct mcp_call *call = calloc(1, sizeof(*call));
	uint64_t now = timer_now_ms();
	struct buf *out;

	if (!call)
		goto fail;
	call->id = cJSON_Duplicate(id, 1);
	call->args = cJSON_Duplicate(a->tool.args, 1);
	if (!call->id || !call->args)
		goto fail;
	call->srv = srv;
	call->session = s;
	call->sink = sink;
	call->tool = a->t;
	call->after = a->tool.wait_after;
	call->keep_alive = keep_alive;
	timer_init(&call->deadline, on_call_deadline);
	timer_init(&call->ping, on_call_ping);
	if (timer_arm(srv->timers, &call->deadline, now + a->tool.wait_ms) < 0 ||
	    timer_arm(srv->timers, &call->ping, now + srv->cfg->sse_keepalive_ms) < 0)
		goto fail;
	call->next = s->calls;
	s->calls = call;
	sink->call = call;
	s->busy++;
	srv->calls++;
	out = sink->ops->out(sink);
	write_head(out, 200, "text/event-stream", -1, "Cache-Control: no-cache\r\n", keep_alive);
	sink->ops->commit(sink);
	return MCP_PENDING;
fail:
	if (call) {
		timer_cancel(srv->timers, &call->deadline);
		cJSON_Delete(call->id);
		cJSON_Delete(call->args);
		free(call);
	}
	return refuse(sink, NULL, 503, JSONRPC_INTERNAL_ERROR, NULL, "Out of memory; try again");
}

void mcp_sink_closed(struct mcp_server *srv, struct mcp_sink *sink)
{
	if (sink->stream_of)
		detach_stream(srv, sink->stream_of);
	if (sink->call) {
		struct mcp_call *call = sink->call;

		sink->call = NULL;
		call->sink = NULL;
		free_call(call);
	}
}

/* notifications/cancelled (basic/utilities/cancellation): the receiver stops and sends no
 * response. A parked call is unparked without running its tool, so the cursor stays where
 * it was; its POST stream ends with no event. */
static void cancel_request(struct session *s, const cJSON *params)
{
	const cJSON *rid = cJSON_GetObjectItemCaseSensitive(params, "requestId");
	char id[sizeof(s->undo_id)];

	if (!(cJSON_IsString(rid) || cJSON_IsNumber(rid)) ||
	    !cJSON_PrintPreallocated((cJSON *)rid, id, sizeof(id), false))
		return;
	for (struct mcp_call *call = s->calls; call; call = call->next) {
		struct mcp_sink *sink = call->sink;
		bool keep = call->keep_alive;

		if (!cJSON_Compare(call->id, rid, true))
			continue;
		free_call(call);
		if (sink) {
			sse_append_end(sink->ops->out(sink));
			if (sink->ops->commit(sink) < 0)
				keep = false;
			sink->ops->resume(sink, keep);
		}
		return;
	}
	cancel_answered(s, id);
}

/* Notifications from the client; all but cancellation need nothing from us. */
static void client_notification(struct session *s, const struct jsonrpc_fields *f)
{
	if (f->method && strcmp(f->method->valuestring, "notifications/cancelled") == 0)
		cancel_request(s, f->params);
}

/* Sessions */

void mcp_session_end(struct mcp_server *srv, struct session *s, int reason)
{
	if (s->ended)
		return;
	s->ended = true;
	stats.sessions_ended++;
	/* Pending calls answer with what they have, while the chat user still exists. */
	while (s->calls)
		finish_call(s->calls);
	if (s->stream) {
		struct mcp_sink *sink = s->stream;

		detach_stream(srv, s);
		/* The stream ends cleanly (last chunk); the connection may carry more requests. */
		sse_append_end(sink->ops->out(sink));
		sink->ops->commit(sink);
		sink->ops->resume(sink, true);
	}
	if (srv->hooks.session_end)
		srv->hooks.session_end(srv->hooks.ctx, s, reason);
	timer_cancel(srv->timers, &s->idle);
	timer_cancel(srv->timers, &s->ping);
	session_remove(&srv->sessions, s);
}

static int start_session(struct mcp_server *srv, struct session **out)
{
	struct session *s;
	int err = session_create(&srv->sessions, srv->cfg->mailbox_events, &s);

	if (err < 0)
		return err;
	stats.sessions_started++;
	mailbox_set_window(&s->mbox, srv->cfg->replay_window_bytes);
	s->server = srv;
	s->log_level = 6;
	s->created_ms = s->active_ms = timer_now_ms();
	timer_init(&s->idle, on_idle);
	timer_init(&s->ping, on_stream_ping);
	if (srv->hooks.session_start) {
		err = srv->hooks.session_start(srv->hooks.ctx, s);
		if (err < 0) {
			session_remove(&srv->sessions, s);
			return err;
		}
	}
	*out = s;
	return 0;
}

void mcp_server_shutdown(struct mcp_server *srv)
{
	srv->shutting_down = true;
	if (srv->hooks.shutdown)
		srv->hooks.shutdown(srv->hooks.ctx);
	while (srv->sessions.all)
		mcp_session_end(srv, srv->sessions.all, 1 /* CHAT_DISCONNECTED */);
}

bool mcp_server_idle(const struct mcp_server *srv)
{
	return srv->sessions.count == 0 && srv->calls == 0;
}

/* Methods */

static void run_tool(struct mcp_server *srv, struct session *s, const struct mcp_tool *t,
		     const cJSON *args, bool may_wait, struct answer *a)
{
	struct mcp_tool_ctx *ctx = &a->tool;
	enum mcp_tool_status st;
	char *text;

	memset(ctx, 0, sizeof(*ctx));
	ctx->srv = srv;
	ctx->session = s;
	ctx->args = args;
	ctx->may_wait = may_wait;
	a->t = t;
	st = t->call(ctx);
	if (st == MCP_TOOL_WAIT && may_wait) {
		a->wait = true;
		return;
	}
	if (!ctx->structured && !ctx->structured_text) {
		answer_error(a, JSONRPC_INTERNAL_ERROR, "Internal error in tool %s", t->name);
		return;
	}
	/* One serialisation serves both: the text content is the JSON as a string. */
	text = ctx->structured_text ? ctx->structured_text : cJSON_PrintUnformatted(ctx->structured);
	ctx->structured_text = NULL;
	buf_puts(&a->result, "{\"content\":[{\"type\":\"text\",\"text\":");
	if (ctx->is_error && ctx->error_text)
		buf_json_string(&a->result, ctx->error_text, strlen(ctx->error_text));
	else if (text)
		buf_json_string(&a->result, text, strlen(text));
	else
		buf_puts(&a->result, "\"\"");
	buf_puts(&a->result, "}],\"structuredContent\":");
	buf_puts(&a->result, text ? text : "{}");
	buf_puts(&a->result, ctx->is_error ? ",\"isError\":true}" : "}");
	cJSON_free(text);
	cJSON_Delete(ctx->structured);
	ctx->structured = NULL;
}

static void call_tool(struct mcp_server *srv, struct session *s, const cJSON *params,
		      bool may_wait, struct answer *a)
{
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(params, "name");
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(params, "arguments");
	static cJSON empty = { .type = cJSON_Object };

	if (!cJSON_IsString(name)) {
		answer_error(a, JSONRPC_INVALID_PARAMS, "params.name must be the name of a tool");
		return;
	}
	if (args && !cJSON_IsObject(args)) {
		answer_error(a, JSONRPC_INVALID_PARAMS, "params.arguments must be an object");
		return;
	}
	for (size_t i = 0; i < srv->n_tools; i++) {
		if (strcmp(srv->tools[i].name, name->valuestring) == 0) {
			run_tool(srv, s, &srv->tools[i], args ? args : &empty, may_wait, a);
			return;
		}
	}
	answer_error(a, JSONRPC_INVALID_PARAMS, "Unknown tool: %.*s; tools/list names the tools",
		     (int)buf_utf8_prefix(name->valuestring, 64), name->valuestring);
}

static void set_log_level(struct session *s, const cJSON *params, struct answer *a)
{
	static const char *const levels[] = { "emergency", "alert",  "critical", "error",
					      "warning",   "notice", "info",     "debug" };
	const cJSON *level = cJSON_GetObjectItemCaseSensitive(params, "level");

	for (uint8_t i = 0; cJSON_IsString(level) && i < 8; i++) {
		if (strcmp(level->valuestring, levels[i]) == 0) {
			s->log_level = i;
			buf_puts(&a->result, "{}");
			return;
		}
	}
	answer_error(a, JSONRPC_INVALID_PARAMS,
		     "params.level must be one of debug, info, notice, warning, error, critical, alert, emergency");
}

static void list_resources(struct mcp_server *srv, struct answer *a)
{
	buf_puts(&a->result, "{\"resources\":[");
	for (size_t i = 0; i < srv->n_resources; i++) {
		const struct mcp_resource *r = &srv->resources[i];

		buf_puts(&a->result, i ? ",{\"uri\":" : "{\"uri\":");
		buf_json_string(&a->result, r->uri, strlen(r->uri));
		buf_puts(&a->result, ",\"name\":");
		buf_json_string(&a->result, r->name, strlen(r->name));
		buf_puts(&a->result, ",\"title\":");
		buf_json_string(&a->result, r->title, strlen(r->title));
		buf_puts(&a->result, ",\"description\":");
		buf_json_string(&a->result, r->description, strlen(r->description));
		buf_puts(&a->result, ",\"mimeType\":");
		buf_json_string(&a->result, r->mime_type, strlen(r->mime_type));
		buf_puts(&a->result, "}");
	}
	buf_puts(&a->result, "]}");
}

static void read_resource(struct mcp_server *srv, const cJSON *params, struct answer *a)
{
	const cJSON *uri = cJSON_GetObjectItemCaseSensitive(params, "uri");

	for (size_t i = 0; cJSON_IsString(uri) && i < srv->n_resources; i++) {
		const struct mcp_resource *r = &srv->resources[i];

		if (strcmp(r->uri, uri->valuestring) != 0)
			continue;
		buf_puts(&a->result, "{\"contents\":[{\"uri\":");
		buf_json_string(&a->result, r->uri, strlen(r->uri));
		buf_puts(&a->result, ",\"mimeType\":");
		buf_json_string(&a->result, r->mime_type, strlen(r->mime_type));
		buf_puts(&a->result, ",\"text\":");
		buf_json_string(&a->result, r->text, strlen(r->text));
		buf_puts(&a->result, "}]}");
		return;
	}
	/* -32002 is MCP's "resource not found". */
	answer_error(a, -32002, "Resource not found: params.uri must be one that resources/list names");
}

static void list_prompts(struct mcp_server *srv, struct answer *a)
{
	buf_puts(&a->result, "{\"prompts\":[");
	for (size_t i = 0; i < srv->n_prompts; i++) {
		const struct mcp_prompt *p = &srv->prompts[i];

		buf_puts(&a->result, i ? ",{\"name\":" : "{\"name\":");
		buf_json_string(&a->result, p->name, strlen(p->name));
		buf_puts(&a->result, ",\"title\":");
		buf_json_string(&a->result, p->title, strlen(p->title));
		buf_puts(&a->result, ",\"description\":");
		buf_json_string(&a->result, p->description, strlen(p->description));
		buf_puts(&a->result, ",\"arguments\":[]}");
	}
	buf_puts(&a->result, "]}");
}

static void get_prompt(struct mcp_server *srv, const cJSON *params, struct answer *a)
{
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(params, "name");

	for (size_t i = 0; cJSON_IsString(name) && i < srv->n_prompts; i++) {
		const struct mcp_prompt *p = &srv->prompts[i];

		if (strcmp(p->name, name->valuestring) != 0)
			continue;
		buf_puts(&a->result, "{\"description\":");
		buf_json_string(&a->result, p->description, strlen(p->description));
		buf_puts(&a->result, ",\"messages\":[{\"role\":\"user\",\"content\":{\"type\":\"text\",\"text\":");
		buf_json_string(&a->result, p->text, strlen(p->text));
		buf_puts(&a->result, "}}]}");
		return;
	}
	answer_error(a, JSONRPC_INVALID_PARAMS, "Unknown prompt: params.name must be one that prompts/list names");
}

/* Runs one request of an initialized session. */
static void dispatch(struct mcp_server *srv, struct session *s, const char *method,
		     const cJSON *params, bool may_wait, struct answer *a)
{
	static cJSON empty = { .type = cJSON_Object };

	if (!params)
		params = &empty;
	if (cJSON_IsArray(params))
		answer_error(a, JSONRPC_INVALID_PARAMS, "params must be an object");
	else if (strcmp(method, "tools/call") == 0)
		call_tool(srv, s, params, may_wait, a);
	else if (strcmp(method, "ping") == 0)
		buf_puts(&a->result, "{}");
	else if (strcmp(method, "tools/list") == 0)
		buf_puts(&a->result, srv->tools_list);
	else if (strcmp(method, "logging/setLevel") == 0)
		set_log_level(s, params, a);
	else if (strcmp(method, "resources/list") == 0)
		list_resources(srv, a);
	else if (strcmp(method, "resources/read") == 0)
		read_resource(srv, params, a);
	else if (strcmp(method, "resources/templates/list") == 0)
		buf_puts(&a->result, "{\"resourceTemplates\":[]}");
	else if (strcmp(method, "prompts/list") == 0)
		list_prompts(srv, a);
	else if (strcmp(method, "prompts/get") == 0)
		get_prompt(srv, params, a);
	else if (strcmp(method, "initialize") == 0)
		answer_error(a, JSONRPC_INVALID_REQUEST,
			     "This session is already initialized; send initialize without Mcp-Session-Id to start a new one");
	else
		answer_error(a, JSONRPC_METHOD_NOT_FOUND, "Method not found: %.*s",
			     (int)buf_utf8_prefix(method, 64), method);
}

static void append_answer(struct buf *out, const cJSON *id, const struct answer *a)
{
	if (a->code)
		jsonrpc_append_error(out, id, a->code, a->message);
	else
		jsonrpc_append_result(out, id, a->result.p ? a->result.p : "{}", a->result.len);
}

/* Transport */

static int version_index(const char *v)
{
	for (size_t i = 0; v && i < N_VERSIONS; i++)
		if (strcmp(v, versions[i]) == 0)
			return (int)i;
	return -1;
}

static bool host_allowed(const struct config *cfg, const char *host, size_t len)
{
	for (int i = 0; i < cfg->n_allowed_hosts; i++)
		if (strlen(cfg->allowed_hosts[i]) == len &&
		    strncasecmp(cfg->allowed_hosts[i], host, len) == 0)
			return true;
	return false;
}

/* "name", "name:port", "[v6]:port" → the length of the name part, or -1 when malformed. */
static int host_name_len(const char *h)
{
	const char *colon;

	if (h[0] == '[') {
		const char *end = strchr(h, ']');
		if (!end || (end[1] && end[1] != ':'))
			return -1;
		return (int)(end - h + 1);
	}
	colon = strchr(h, ':');
	return colon ? (int)(colon - h) : (int)strlen(h);
}

/* DNS-rebinding protection: Host, and Origin when sent, must name an allowed host. */
static const char *check_origin(const struct config *cfg, const struct http_request *req)
{
	int n;

	if (!req->host)
		return "Host header is required";
	n = host_name_len(req->host);
	if (n <= 0 || !host_allowed(cfg, req->host, (size_t)n))
		return "Host is not allowed (DNS-rebinding protection); connect through an allowed host name";
	if (req->origin) {
		const char *o = req->origin;
		const char *h = strncmp(o, "http://", 7) == 0	 ? o + 7
				: strncmp(o, "https://", 8) == 0 ? o + 8
								 : NULL;
		if (!h || (n = host_name_len(h)) <= 0 || !host_allowed(cfg, h, (size_t)n))
			return "Origin is not allowed (DNS-rebinding protection)";
	}
	return NULL;
}

static enum mcp_disposition initialize(struct mcp_server *srv, const struct http_request *req,
				       struct mcp_sink *sink, const cJSON *msg)
{
	const cJSON *params = cJSON_GetObjectItemCaseSensitive(msg, "params");
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");
	const cJSON *pv = cJSON_GetObjectItemCaseSensitive(params, "protocolVersion");
	struct buf body = BUF_INIT, result = BUF_INIT;
	char extra[96];
	struct session *s;
	int v, err;

	if (!cJSON_IsString(pv))
		return refuse(sink, req, 400, JSONRPC_INVALID_PARAMS, NULL,
			      "initialize needs params.protocolVersion (a string such as \"2025-11-25\")");
	err = start_session(srv, &s);
	if (err == -EAGAIN)
		return refuse(sink, req, 503, JSONRPC_SERVER_ERROR, "Retry-After: 5\r\n",
			      "Too many sessions; try again in a few seconds");
	if (err < 0)
		return refuse(sink, req, 503, JSONRPC_INTERNAL_ERROR, "Retry-After: 1\r\n",
			      "Cannot start a session right now; try again");
	/* Answer with the client's version when we speak it, else our newest. */
	v = version_index(pv->valuestring);
	s->version = (uint8_t)(v < 0 ? 0 : v);
	buf_printf(&result,
		   "{\"protocolVersion\":\"%s\",\"capabilities\":{\"tools\":{\"listChanged\":false},"
		   "\"logging\":{},\"resources\":{\"listChanged\":false},\"prompts\":{\"listChanged\":false}},"
		   "\"serverInfo\":{\"name\":\"" MCPCHAT_NAME "\",\"title\":\"mcp-chat\",\"version\":\"" MCPCHAT_VERSION "\"},"
		   "\"instructions\":\"Anonymous one-to-one chat. Call enter_queue (or join_room with a shared name) to meet a stranger, "
		   "send_message to talk, and read chatroom.found, message.received and partner.disconnected notifications, "
		   "or call wait_for_message if your client does not show notifications.\"}",
		   versions[s->version]);
	jsonrpc_append_result(&body, id, result.p, result.len);
	snprintf(extra, sizeof(extra), "Mcp-Session-Id: %s\r\n", s->id);
	write_json(sink, 200, extra, body.p, body.len, req->keep_alive);
	buf_free(&body);
	buf_free(&result);
	arm_idle(srv, s);
	log_info("session %s started (protocol %s)", s->handle, versions[s->version]);
	return req->keep_alive ? MCP_DONE : MCP_CLOSE;
}

/* Resolves the session named by the request: 400 without the header, 404 when unknown. */
static struct session *require_session(struct mcp_server *srv, const struct http_request *req,
				       struct mcp_sink *sink, enum mcp_disposition *d)
{
	struct session *s;

	if (!req->session_id) {
		*d = refuse(sink, req, 400, JSONRPC_SERVER_ERROR, NULL,
			    "Bad Request: Mcp-Session-Id header is required; call initialize first");
		return NULL;
	}
	s = session_find(&srv->sessions, req->session_id);
	if (!s) {
		*d = refuse(sink, req, 404, JSONRPC_SESSION_NOT_FOUND,
			    NULL, "Session not found (it ended or never existed); initialize a new one");
		return NULL;
	}
	return s;
}

/* Gives the answer buffers back for the next request; big ones are freed. */
static void keep_scratch(struct mcp_server *srv, struct buf *result, struct buf *body)
{
	if (result->cap > 65536)
		buf_free(result);
	if (body->cap > 65536)
		buf_free(body);
	buf_free(&srv->scratch_result);
	buf_free(&srv->scratch_body);
	srv->scratch_result = *result;
	srv->scratch_body = *body;
}

static enum mcp_disposition post_single(struct mcp_server *srv, const struct http_request *req,
					struct mcp_sink *sink, struct session *s, const cJSON *msg)
{
	struct jsonrpc_fields f;
	const char *why;
	enum jsonrpc_kind kind = jsonrpc_classify_fields(msg, &f, &why);
	const cJSON *id = f.id;
	struct answer a = { .result = srv->scratch_result };
	struct buf body = srv->scratch_body;
	uint64_t cursor;

	a.result.len = body.len = 0;
	srv->scratch_result = srv->scratch_body = (struct buf)BUF_INIT;
	if (kind == JSONRPC_INVALID || kind != JSONRPC_REQUEST) {
		keep_scratch(srv, &a.result, &body);
		if (kind == JSONRPC_INVALID)
			return refuse(sink, req, 400, JSONRPC_INVALID_REQUEST, NULL, why);
		if (kind == JSONRPC_NOTIFICATION)
			client_notification(s, &f);
		write_accepted(sink, req->keep_alive);
		return req->keep_alive ? MCP_DONE : MCP_CLOSE;
	}
	cursor = s->mbox.cursor;
	s->busy++;
	dispatch(srv, s, f.method->valuestring, f.params, true, &a);
	s->busy--;
	note_answer(s, id, cursor);
	if (a.wait) {
		keep_scratch(srv, &a.result, &body);
		return park_call(srv, s, sink, id, &a, req->keep_alive);
	}
	append_answer(&body, id, &a);
	write_json(sink, 200, NULL, body.p, body.len, req->keep_alive);
	keep_scratch(srv, &a.result, &body);
	arm_idle(srv, s);
	return req->keep_alive ? MCP_DONE : MCP_CLOSE;
}

/* JSON-RPC batches exist only in protocol 2025-03-26; nothing in a batch waits. */
static enum mcp_disposition post_batch(struct mcp_server *srv, const struct http_request *req,
				       struct mcp_sink *sink, struct session *s, const cJSON *arr)
{
	int v = req->protocol_version ? version_index(req->protocol_version) : s->version;
	struct buf out = BUF_INIT;
	const cJSON *msg;
	size_t answers = 0;

	if (v != VERSION_BATCHES)
		return refuse(sink, req, 400, JSONRPC_INVALID_REQUEST, NULL,
			      "JSON-RPC batches are only supported in protocol version 2025-03-26; send one message per request");
	if (cJSON_GetArraySize(arr) == 0)
		return refuse(sink, req, 400, JSONRPC_INVALID_REQUEST, NULL, "Empty batch");
	buf_puts(&out, "[");
	s->busy++;
	cJSON_ArrayForEach(msg, arr) {
		struct answer a = { .result = BUF_INIT };
		struct jsonrpc_fields f;
		const char *why;
		enum jsonrpc_kind kind = jsonrpc_classify_fields(msg, &f, &why);
		const cJSON *id = f.id;

		if (kind == JSONRPC_NOTIFICATION)
			client_notification(s, &f);
		if (kind == JSONRPC_NOTIFICATION || kind == JSONRPC_RESPONSE)
			continue;
		if (kind == JSONRPC_INVALID) {
			answer_error(&a, JSONRPC_INVALID_REQUEST, "%s", why);
		} else {
			uint64_t cursor = s->mbox.cursor;

			dispatch(srv, s, f.method->valuestring, f.params, false, &a);
			note_answer(s, id, cursor);
		}
		if (answers++)
			buf_puts(&out, ",");
		append_answer(&out, kind == JSONRPC_INVALID ? NULL : id, &a);
		buf_free(&a.result);
	}
	s->busy--;
	buf_puts(&out, "]");
	if (answers)
		write_json(sink, 200, NULL, out.p, out.len, req->keep_alive);
	else
		write_accepted(sink, req->keep_alive);
	buf_free(&out);
	arm_idle(srv, s);
	return req->keep_alive ? MCP_DONE : MCP_CLOSE;
}

static bool is_initialize(const cJSON *msg)
{
	const cJSON *method = cJSON_GetObjectItemCaseSensitive(msg, "method");

	return cJSON_IsString(method) && strcmp(method->valuestring, "initialize") == 0;
}

static bool has_u_escape(const char *p, size_t len)
{
	const char *end = p + len, *bs;

	while ((bs = memchr(p, '\\', (size_t)(end - p))) && bs + 1 < end) {
		if (bs[1] == 'u')
			return true;
		p = bs + 2;
	}
	return false;
}

/* Escapes cJSON cannot carry (\u0000, lone surrogates) are rare: only then is the body copied
 * and rewritten (jsonrpc_fix_escapes). */
static cJSON *parse_body(const struct http_request *req)
{
	char *copy;
	cJSON *msg;

	if (!has_u_escape(req->body, req->body_len))
		return jsonrpc_parse(req->body, req->body_len);
	copy = malloc(req->body_len + 1);
	if (!copy)
		return NULL;
	memcpy(copy, req->body, req->body_len);
	msg = jsonrpc_parse(copy, jsonrpc_fix_escapes(copy, req->body_len));
	free(copy);
	return msg;
}

static enum mcp_disposition handle_post(struct mcp_server *srv, const struct http_request *req,
					struct mcp_sink *sink)
{
	enum mcp_disposition d;
	struct session *s;
	cJSON *msg;

	if (!req->accept_json || !req->accept_sse)
		return refuse(sink, req, 406, JSONRPC_SERVER_ERROR, NULL,
			      "Not Acceptable: Accept must list both application/json and text/event-stream");
	if (!http_media_is(req->content_type, "application/json"))
		return refuse(sink, req, 415, JSONRPC_SERVER_ERROR, NULL,
			      "Unsupported Media Type: Content-Type must be application/json");
	msg = parse_body(req);
	if (!msg)
		return refuse(sink, req, 400, JSONRPC_PARSE_ERROR, NULL,
			      "Parse error: the request body is not valid JSON");
	if (!req->session_id && cJSON_IsObject(msg) && is_initialize(msg)) {
		const char *why;

		d = jsonrpc_classify(msg, &why) == JSONRPC_REQUEST
			    ? initialize(srv, req, sink, msg)
			    : refuse(sink, req, 400, JSONRPC_INVALID_REQUEST, NULL,
				     "initialize must be a request with an id");
	} else if (!(s = require_session(srv, req, sink, &d))) {
		/* d is set */
	} else if (cJSON_IsObject(msg) && is_initialize(msg)) {
		d = refuse(sink, req, 400, JSONRPC_INVALID_REQUEST, NULL,
			   "This session is already initialized; send initialize without Mcp-Session-Id to start a new one");
	} else {
		session_active(s);
		d = cJSON_IsArray(msg) ? post_batch(srv, req, sink, s, msg)
				       : post_single(srv, req, sink, s, msg);
	}
	jsonrpc_release(msg);
	return d;
}

static enum mcp_disposition open_stream(struct mcp_server *srv, const struct http_request *req,
					struct mcp_sink *sink)
{
	enum mcp_disposition d;
	struct session *s;
	uint64_t from;

	if (!req->accept_sse)
		return refuse(sink, req, 406, JSONRPC_SERVER_ERROR, NULL,
			      "Not Acceptable: Accept must list text/event-stream to open the push stream");
	if (!(s = require_session(srv, req, sink, &d)))
		return d;
	if (s->stream)
		return refuse(sink, req, 409, JSONRPC_SERVER_ERROR, NULL,
			      "Conflict: this session already has a push stream open; close it first");
	if (req->last_event_id && sse_parse_event_id(req->last_event_id, &from) < 0)
		return refuse(sink, req, 400, JSONRPC_SERVER_ERROR, NULL,
			      "Last-Event-ID must be the id of an event from this session's stream");
	/* Resuming delivers what followed the client's last event; a fresh stream delivers
	 * whatever no stream or wait_for_message has delivered yet. */
	if (req->last_event_id) {
		/* An id beyond anything sent (an older daemon, a confused client) means "all". */
		if (from > s->mbox.last)
			from = s->mbox.last;
		mailbox_ack(&s->mbox, from);
	} else {
		from = s->mbox.acked;
	}
	session_active(s);
	write_head(sink->ops->out(sink), 200, "text/event-stream", -1, "Cache-Control: no-cache\r\n",
		   true);
	s->stream = sink;
	sink->stream_of = s;
	s->pushed = from;
	s->ping_sent = sink->ops->sent(sink);
	srv->streams++;
	timer_cancel(srv->timers, &s->idle);
	timer_arm(srv->timers, &s->ping, s->active_ms + srv->cfg->sse_keepalive_ms);
	if (sink->ops->commit(sink) < 0) {
		detach_stream(srv, s);
		return MCP_CLOSE;
	}
	push_pending(srv, s);
	return s->stream ? MCP_STREAMING : MCP_CLOSE;
}

static enum mcp_disposition end_session(struct mcp_server *srv, const struct http_request *req,
					struct mcp_sink *sink)
{
	enum mcp_disposition d;
	struct session *s = require_session(srv, req, sink, &d);

	if (!s)
		return d;
	log_info("session %s ended by the client", s->handle);
	mcp_session_end(srv, s, 1 /* CHAT_DISCONNECTED */);
	write_json(sink, 200, NULL, "", 0, req->keep_alive);
	return req->keep_alive ? MCP_DONE : MCP_CLOSE;
}

enum mcp_disposition mcp_handle(struct mcp_server *srv, const struct http_request *req,
				struct mcp_sink *sink)
{
	const char *why;
	char message[160];

	if (strcmp(req->path, "/mcp") != 0)
		return refuse(sink, req, 404, JSONRPC_SERVER_ERROR, NULL,
			      "Not Found: the MCP endpoint is /mcp");
	if ((why = check_origin(srv->cfg, req)))
		return refuse(sink, req, req->host ? 403 : 400, JSONRPC_SERVER_ERROR, NULL, why);
	if (req->method != HTTP_M_GET && req->method != HTTP_M_POST && req->method != HTTP_M_DELETE)
		return refuse(sink, req, 405, JSONRPC_SERVER_ERROR, "Allow: GET, POST, DELETE\r\n",
			      "Method Not Allowed: /mcp takes POST, GET and DELETE");
	if (req->protocol_version && version_index(req->protocol_version) < 0) {
		snprintf(message, sizeof(message),
			 "Bad Request: unsupported MCP-Protocol-Version; supported: %s, %s, %s",
			 versions[0], versions[1], versions[2]);
		return refuse(sink, req, 400, JSONRPC_SERVER_ERROR, NULL, message);
	}
	if (srv->shutting_down)
		return refuse(sink, NULL, 503, JSONRPC_SERVER_ERROR, "Retry-After: 5\r\n",
			      "Service Unavailable: the server is shutting down");
	switch (req->method) {
	case HTTP_M_POST:
		return handle_post(srv, req, sink);
	case HTTP_M_GET:
		return open_stream(srv, req, sink);
	default:
		return end_session(srv, req, sink);
	}
}
