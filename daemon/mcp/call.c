#include "mcp/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http/sse.h"
#include "http/response.h"

/* A tools/call answered later: a wait for events (wait_for_message), or a tool that answers
 * when its own round trip completes (mcp_tool_defer). Either way its answer goes out as one
 * SSE event on the POST's own response stream. */
struct mcp_pending {
	struct mcp_call *call;
};

struct mcp_call {
	struct mcp_call *next; /* in session->calls */
	struct mcp_server *srv;
	struct mcp_session *session;
	struct mcp_sink *sink;
	const struct mcp_tool *tool;
	cJSON *id;
	cJSON *args;
	uint64_t after;
	bool keep_alive;
	bool modern;       /* a 2026-07-28 request: its result says so (resultType, _meta) */
	cJSON *progress;   /* the request's progressToken, or NULL */
	uint8_t log_meta;  /* 2026-07-28: the request's _meta logLevel (mcp_tool_ctx) */
	struct buf notes;  /* a deferred answer's notifications, when it came before parking */
	/* Asked the client something (mcp_tool_ask): the id of that request, and its answer. */
	bool asked;
	uint64_t ask_id;
	cJSON *reply;
	uint32_t pings;
	struct timer deadline;
	struct timer ping;
	/* A deferred call (mcp_tool_defer): not on a session's list; freed by mcp_pending_done
	 * only, so the handle stays valid whatever the connection does. */
	struct mcp_pending handle;
	bool deferred, parked, done_early;
	struct mcp_answer early; /* the answer when it came before the call was parked */
	/* Its POST stream can be resumed (mcp_tool_poll): the call outlives its connection. */
	struct mcp_pstream *pstream;
};

static void free_deferred(struct mcp_call *call)
{
	if (call->sink)
		call->sink->call = NULL;
	timer_cancel(call->srv->timers, &call->ping);
	cJSON_Delete(call->id);
	cJSON_Delete(call->progress);
	buf_free(&call->notes);
	buf_free(&call->early.result);
	mcp_answer_clear(&call->early);
	call->srv->calls--;
	free(call);
}

static void free_call(struct mcp_call *call)
{
	struct mcp_server *srv = call->srv;
	struct mcp_session *s = call->session;
	struct mcp_call **pp = &s->calls;

	while (*pp && *pp != call)
		pp = &(*pp)->next;
	if (*pp)
		*pp = call->next;
	if (call->sink)
		call->sink->call = NULL;
	if (call->pstream) { /* ended unanswered (cancelled, or the session went) */
		call->pstream->call = NULL;
		mcp_resume_drop(s, call->pstream);
	}
	timer_cancel(srv->timers, &call->deadline);
	timer_cancel(srv->timers, &call->ping);
	cJSON_Delete(call->id);
	cJSON_Delete(call->args);
	cJSON_Delete(call->progress);
	cJSON_Delete(call->reply);
	srv->calls--;
	s->busy--;
	/* Answered or cancelled on a live connection: the client is there. A connection that
	 * closed under the call says nothing of the kind. */
	if (call->sink)
		mcp_session_touch(s);
	mcp_session_arm_idle(srv, s);
	free(call);
}

/* Remembers an answer that moved the wait_for_message cursor, for cancel_answered(). Ids too
 * long to keep are not remembered (no client sends such ids). */
void mcp_call_note_answer(struct mcp_session *s, const cJSON *id, uint64_t cursor_before)
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
static void cancel_answered(struct mcp_session *s, const char *id)
{
	if (!s->undo_id[0] || strcmp(s->undo_id, id) != 0 || s->mbox.cursor != s->undo_to)
		return;
	s->mbox.cursor = s->undo_cursor;
	s->undo_id[0] = '\0';
}

void mcp_call_finish(struct mcp_call *call)
{
	struct mcp_sink *sink = call->sink;
	struct mcp_answer a = { .result = BUF_INIT, .modern = call->modern, .asked = call->asked,
				.reply = call->reply, .progress_token = call->progress,
				.log_meta = call->log_meta }; /* the run that answers logs as the first */
	struct buf msg = BUF_INIT, notes;
	bool keep = call->keep_alive;
	uint64_t cursor = call->session->mbox.cursor;
	struct mcp_session *s = call->session;
	struct mcp_pstream *ps = call->pstream;
	char eid[MCP_RESUME_ID_MAX];

	mcp_methods_run_tool(call->srv, call->session, call->tool, call->args, false, &a);
	mcp_call_note_answer(call->session, call->id, cursor);
	mcp_answer_append(&msg, call->id, &a);
	notes = a.tool.notes; /* what the tool sent on this run goes before its result */
	a.tool.notes = (struct buf)BUF_INIT;
	buf_free(&a.result);
	mcp_answer_clear(&a);
	if (ps) { /* answered: the stream is no longer the call's */
		ps->call = NULL;
		call->pstream = NULL;
		if (!sink) /* nobody to read it now: kept for a GET with Last-Event-ID */
			mcp_resume_keep(s, ps, call->id, &notes, msg.p, msg.len);
	}
	free_call(call);
	if (!sink)
		goto out;
	if (notes.len)
		buf_append(sink->ops->out(sink), notes.p, notes.len);
	if (ps) {
		mcp_resume_event_id(ps, 1, eid);
		sse_append_event_id(sink->ops->out(sink), eid, msg.p, msg.len);
		mcp_resume_drop(s, ps); /* read once: a later GET with its id gets 400 */
	} else {
		sse_append_event(sink->ops->out(sink), 0, msg.p, msg.len);
	}
	sse_append_end(sink->ops->out(sink));
	if (sink->ops->commit(sink) < 0)
		keep = false;
	sink->ops->resume(sink, keep);
out:
	buf_free(&notes);
	buf_free(&msg);
}

void mcp_call_wake(struct mcp_session *s, uint64_t seq)
{
	struct mcp_call **pp = &s->calls;

	while (*pp) {
		struct mcp_call *call = *pp;

		if (call->after < seq)
			mcp_call_finish(call); /* unlinks itself */
		else
			pp = &call->next;
	}
}

static void on_call_deadline(struct timer *t)
{
	mcp_call_finish(container_of(t, struct mcp_call, deadline));
}

/* While a call waits its stream carries a keep-alive: notifications/progress when the client
 * gave a progressToken (a count that only grows; no total: the wait ends on an event), else
 * a comment. */
static void on_call_ping(struct timer *t)
{
	struct mcp_call *call = container_of(t, struct mcp_call, ping);
	struct mcp_sink *sink = call->sink;

	if (!sink) /* a resumable call between connections: nobody to keep alive */
		return;
	call->pings++;
	/* A call that asked the client may have sent progress of its own: only comments then. */
	if (call->progress && !call->asked) {
		struct buf ev = BUF_INIT;
		char *token = cJSON_PrintUnformatted(call->progress);

		buf_printf(&ev, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\","
			   "\"params\":{\"progressToken\":%s,\"progress\":%u,"
			   "\"message\":\"waiting for events\"}}", token, call->pings);
		sse_append_event(sink->ops->out(sink), 0, ev.p, ev.len);
		cJSON_free(token);
		buf_free(&ev);
	} else {
		sse_append_comment(sink->ops->out(sink), "waiting");
	}
	sink->ops->commit(sink);
	timer_arm(call->srv->timers, t, timer_now_ms() + call->srv->cfg->sse_keepalive_ms);
}

/* The tool's request to the client, with an id of the server's, on the call's stream. */
static void send_ask(struct mcp_call *call, struct mcp_answer *a, struct buf *out)
{
	struct buf ev = BUF_INIT;

	call->asked = true;
	call->ask_id = ++call->srv->ask_seq;
	buf_printf(&ev, "{\"jsonrpc\":\"2.0\",\"id\":%llu,%s}",
		   (unsigned long long)call->ask_id, a->tool.ask);
	sse_append_event(out, 0, ev.p, ev.len);
	buf_free(&ev);
	free(a->tool.ask);
	a->tool.ask = NULL;
}

int mcp_tool_ask(struct mcp_tool_ctx *ctx, const char *method, const char *params,
		 uint32_t timeout_ms)
{
	static const struct {
		const char *method;
		uint8_t cap;
	} needs[] = { { "sampling/createMessage", MCP_CAP_SAMPLING },
		      { "elicitation/create", MCP_CAP_ELICITATION },
		      { "roots/list", MCP_CAP_ROOTS } };
	struct buf b = BUF_INIT;

	if (!ctx->may_wait || ctx->modern || !ctx->session || ctx->asked || ctx->ask)
		return -EAGAIN;
	for (size_t i = 0; i < sizeof(needs) / sizeof(needs[0]); i++)
		if (strcmp(method, needs[i].method) == 0 && !(ctx->session->client_caps & needs[i].cap))
			return -EOPNOTSUPP; /* client/sampling, client/elicitation: declared first */
	buf_puts(&b, "\"method\":");
	buf_json_string(&b, method, strlen(method));
	buf_printf(&b, ",\"params\":%s", params);
	ctx->ask = buf_take(&b);
	ctx->ask_ms = timeout_ms;
	return 0;
}

bool mcp_call_response(struct mcp_session *s, const struct jsonrpc_fields *f)
{
	for (struct mcp_call *call = s->calls; call; call = call->next) {
		if (!call->asked || !cJSON_IsNumber(f->id) || f->id->valuedouble != (double)call->ask_id)
			continue;
		call->reply = cJSON_IsObject(f->result) ? cJSON_Duplicate(f->result, 1) : NULL;
		mcp_call_finish(call);
		return true;
	}
	return false;
}

/* Parks a tools/call until an event or its deadline; answers with an SSE stream at once so
 * keep-alive comments can flow while it waits. */
enum mcp_disposition mcp_call_park(struct mcp_server *srv, struct mcp_session *s,
				      struct mcp_sink *sink, const cJSON *id, struct mcp_answer *a,
				      bool keep_alive)
{
	struct mcp_call *call = xcalloc(1, sizeof(*call));
	uint64_t now = timer_now_ms();
	struct buf *out;

	/* A request has an id and a parked tool its arguments; cJSON's allocations abort. */
	call->id = cJSON_Duplicate(id, 1);
	call->args = cJSON_Duplicate(a->tool.args, 1);
	call->srv = srv;
	call->session = s;
	call->sink = sink;
	call->tool = a->t;
	call->after = a->ask ? UINT64_MAX : a->tool.wait_after; /* asking: no event wakes it */
	call->keep_alive = keep_alive;
	call->modern = a->modern;
	call->log_meta = a->log_meta;
	if (cJSON_IsString(a->progress_token) || cJSON_IsNumber(a->progress_token))
		call->progress = cJSON_Duplicate(a->progress_token, 0);
	timer_init(&call->deadline, on_call_deadline);
	timer_init(&call->ping, on_call_ping);
	timer_arm(srv->timers, &call->deadline, now + (a->ask ? a->tool.ask_ms : a->tool.wait_ms));
	timer_arm(srv->timers, &call->ping, now + srv->cfg->sse_keepalive_ms);
	call->next = s->calls;
	s->calls = call;
	sink->call = call;
	s->busy++;
	srv->calls++;
	if (a->tool.poll_ms) /* NULL at the cap: then it waits on its open stream */
		call->pstream = mcp_resume_begin(s, call);
	out = sink->ops->out(sink);
	http_response_head(out, 200, "text/event-stream", -1,
			   "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n", keep_alive);
	if (call->pstream) { /* the priming event comes first (transports, 2025-11-25) */
		char eid[MCP_RESUME_ID_MAX];

		mcp_resume_event_id(call->pstream, 0, eid);
		sse_append_priming(out, eid, a->tool.poll_ms);
	}
	if (a->tool.notes.len) /* sent by the tool before it waited */
		buf_append(out, a->tool.notes.p, a->tool.notes.len);
	buf_free(&a->tool.notes);
	if (a->ask)
		send_ask(call, a, out);
	if (call->pstream) {
		/* Polling: the server closes the stream now, the call goes on without it. The
		 * HTTP response ends cleanly, so the connection may carry more requests. */
		sse_append_end(out);
		mcp_call_detach(call);
		if (sink->ops->commit(sink) < 0)
			keep_alive = false;
		return keep_alive ? MCP_DONE : MCP_CLOSE;
	}
	sink->ops->commit(sink);
	return MCP_PENDING;
}

void mcp_call_detach(struct mcp_call *call)
{
	if (call->sink)
		call->sink->call = NULL;
	call->sink = NULL;
	timer_cancel(call->srv->timers, &call->ping);
}

void mcp_call_attach(struct mcp_call *call, struct mcp_sink *sink, bool keep_alive)
{
	struct mcp_sink *old = call->sink;

	if (old) {
		mcp_call_detach(call);
		old->ops->abort(old);
	}
	call->sink = sink;
	sink->call = call;
	call->keep_alive = keep_alive;
	timer_arm(call->srv->timers, &call->ping, timer_now_ms() + call->srv->cfg->sse_keepalive_ms);
}

void mcp_sink_closed(struct mcp_server *srv, struct mcp_sink *sink)
{
	if (sink->stream_of)
		mcp_stream_detach(srv, sink->stream_of);
	if (sink->call) {
		struct mcp_call *call = sink->call;

		sink->call = NULL;
		call->sink = NULL;
		/* A deferred call's owner still holds the handle (freed on done); a resumable one
		 * answers a GET with Last-Event-ID, or keeps its answer for one. */
		if (call->deferred || call->pstream)
			timer_cancel(srv->timers, &call->ping);
		else
			free_call(call);
	}
}

/* notifications/cancelled (basic/utilities/cancellation): the receiver stops and sends no
 * response. A parked call is unparked without running its tool, so the cursor stays where
 * it was; its POST stream ends with no event. */
static void cancel_request(struct mcp_session *s, const cJSON *params)
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
void mcp_call_notification(struct mcp_session *s, const struct jsonrpc_fields *f)
{
	if (f->method && strcmp(f->method->valuestring, "notifications/cancelled") == 0)
		cancel_request(s, f->params);
}

/* Deferred answers */

struct mcp_pending *mcp_tool_defer(struct mcp_tool_ctx *ctx)
{
	struct mcp_call *call;

	if (!ctx->may_wait)
		return NULL;
	call = xcalloc(1, sizeof(*call));
	call->srv = ctx->srv;
	call->modern = ctx->modern;
	/* The level the request was made under: a 2025 session's, as a 2026 request's _meta. */
	call->log_meta = ctx->modern ? ctx->log_meta
		       : ctx->session && ctx->session->log_asked ? ctx->session->log_level + 1 : 0;
	call->deferred = true;
	call->handle.call = call;
	timer_init(&call->ping, on_call_ping);
	call->srv->calls++;
	ctx->pending = &call->handle;
	return &call->handle;
}

/* Sends the answer on the call's stream (if the client is still there) and frees the call. */
static void send_deferred(struct mcp_call *call, struct mcp_answer *a)
{
	struct mcp_sink *sink = call->sink;
	struct buf msg = BUF_INIT;
	bool keep = call->keep_alive;

	if (sink) {
		mcp_answer_append(&msg, call->id, a);
		if (a->tool.notes.len) /* the tool's notifications go before its result */
			buf_append(sink->ops->out(sink), a->tool.notes.p, a->tool.notes.len);
		sse_append_event(sink->ops->out(sink), 0, msg.p, msg.len);
		sse_append_end(sink->ops->out(sink));
		if (sink->ops->commit(sink) < 0)
			keep = false;
	}
	buf_free(&msg);
	free_deferred(call);
	if (sink)
		sink->ops->resume(sink, keep);
}

void mcp_pending_done(struct mcp_pending *p, struct mcp_tool_ctx *result)
{
	struct mcp_call *call = p->call;
	struct mcp_answer a = { .result = BUF_INIT, .modern = call->modern };

	mcp_methods_tool_result(result, NULL, &a);
	a.tool.notes = result->notes; /* mcp_tool_log on a result of mcp_pending_result_init */
	result->notes = (struct buf)BUF_INIT;
	if (!call->parked) { /* answered before mcp parked the request: answered at park */
		call->notes = a.tool.notes;
		a.tool.notes = (struct buf)BUF_INIT;
		call->early = a;
		call->done_early = true;
		return;
	}
	send_deferred(call, &a);
	buf_free(&a.result);
	mcp_answer_clear(&a);
}

void mcp_call_drop_pending(struct mcp_pending *p)
{
	free_deferred(p->call);
}

void mcp_pending_result_init(const struct mcp_pending *p, struct mcp_tool_ctx *result)
{
	memset(result, 0, sizeof(*result));
	result->modern = p->call->modern;
	result->log_meta = p->call->log_meta;
}

bool mcp_pending_abandoned(const struct mcp_pending *p)
{
	return p->call->parked && !p->call->sink;
}

enum mcp_disposition mcp_call_park_pending(struct mcp_server *srv, struct mcp_sink *sink,
					   const cJSON *id, struct mcp_answer *a, bool keep_alive)
{
	struct mcp_call *call = a->tool.pending->call;

	if (call->done_early) { /* the owner answered within the call: a plain JSON answer */
		struct buf msg = BUF_INIT;
		enum mcp_disposition d = keep_alive ? MCP_DONE : MCP_CLOSE;

		mcp_answer_append(&msg, id, &call->early);
		if (call->notes.len)
			buf_append(&a->tool.notes, call->notes.p, call->notes.len);
		if (a->tool.notes.len)
			d = mcp_reply_streamed(sink, &a->tool.notes, msg.p, msg.len, keep_alive);
		else
			mcp_reply_json(sink, 200, NULL, msg.p, msg.len, keep_alive);
		buf_free(&a->tool.notes);
		buf_free(&msg);
		free_deferred(call);
		return d;
	}
	call->id = cJSON_Duplicate(id, 1);
	call->sink = sink;
	call->keep_alive = keep_alive;
	call->parked = true;
	if (cJSON_IsString(a->progress_token) || cJSON_IsNumber(a->progress_token))
		call->progress = cJSON_Duplicate(a->progress_token, 0);
	sink->call = call;
	http_response_head(sink->ops->out(sink), 200, "text/event-stream", -1,
			   "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n", keep_alive);
	if (a->tool.notes.len)
		buf_append(sink->ops->out(sink), a->tool.notes.p, a->tool.notes.len);
	buf_free(&a->tool.notes);
	sink->ops->commit(sink);
	timer_arm(srv->timers, &call->ping, timer_now_ms() + srv->cfg->sse_keepalive_ms);
	return MCP_PENDING;
}
