#include "mcp/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http/response.h"
#include "http/sse.h"
#include "util/log.h"

/* POST streams that outlive their connection (transports, 2025-11-25: "polling" SSE streams,
 * SEP-1699). A tool asks for it (mcp_tool_poll); its stream then gets a priming event and is
 * closed by the server, and the call goes on. The client comes back with GET and the
 * priming event's id as Last-Event-ID: that connection carries the rest of that stream only
 * (never the session's push stream's events), the response included, and then ends. An
 * answer that came while no connection was there is kept (bounded, with an expiry) and
 * replayed once. */

int mcp_tool_poll(struct mcp_tool_ctx *ctx, uint32_t retry_ms)
{
	/* Before 2025-11-25 a client may choke on the priming event's empty data (the TS SDK
	 * did), and 2026-07-28 has no resumption at all. The session's negotiated version
	 * counts, not the request's header: clients send older ones there (the suite does). */
	if (!ctx->may_wait || ctx->modern || !ctx->session ||
	    ctx->session->version != MCP_VERSION_LEGACY)
		return -EAGAIN;
	ctx->poll_ms = retry_ms ? retry_ms : 1;
	return 0;
}

void mcp_resume_event_id(const struct mcp_pstream *ps, uint32_t ev, char *id)
{
	size_t n = buf_fmt_u64(id, ps->no);

	id[n++] = '-';
	n += buf_fmt_u64(id + n, ev);
	id[n] = '\0';
}

void mcp_resume_drop(struct mcp_session *s, struct mcp_pstream *ps)
{
	struct mcp_pstream **pp = &s->pstreams;

	while (*pp && *pp != ps)
		pp = &(*pp)->next;
	if (*pp)
		*pp = ps->next;
	s->n_pstreams--;
	s->pstream_bytes -= ps->answer_len;
	free(ps->answer);
	free(ps);
}

void mcp_resume_free_all(struct mcp_session *s)
{
	while (s->pstreams)
		mcp_resume_drop(s, s->pstreams);
}

/* The oldest stream that only keeps an answer (the list is newest first), or NULL. */
static struct mcp_pstream *oldest_kept(const struct mcp_session *s)
{
	struct mcp_pstream *found = NULL;

	for (struct mcp_pstream *ps = s->pstreams; ps; ps = ps->next)
		if (!ps->call)
			found = ps;
	return found;
}

/* Kept answers past their time go: a client that has not come back by then has given up
 * (its SDK retries within seconds). */
static void expire(struct mcp_session *s)
{
	uint64_t now = timer_now_ms();
	struct mcp_pstream *ps = s->pstreams, *next;

	for (; ps; ps = next) {
		next = ps->next;
		if (!ps->call && ps->expires_ms <= now)
			mcp_resume_drop(s, ps);
	}
}

struct mcp_pstream *mcp_resume_begin(struct mcp_session *s, struct mcp_call *call)
{
	struct mcp_pstream *ps;

	expire(s);
	/* At the cap the oldest unread answer makes room; live calls are never dropped. */
	if (s->n_pstreams >= MCP_RESUME_STREAMS) {
		if (!(ps = oldest_kept(s)))
			return NULL;
		mcp_resume_drop(s, ps);
	}
	ps = xcalloc(1, sizeof(*ps));
	ps->no = ++s->next_pstream ? s->next_pstream : ++s->next_pstream;
	ps->call = call;
	ps->next = s->pstreams;
	s->pstreams = ps;
	s->n_pstreams++;
	return ps;
}

void mcp_resume_keep(struct mcp_session *s, struct mcp_pstream *ps, const cJSON *id,
		     const struct buf *notes, const char *msg, size_t len)
{
	struct buf err = BUF_INIT, ev = BUF_INIT;
	struct mcp_pstream *old;
	char eid[MCP_RESUME_ID_MAX];

	/* Never a silent loss: an answer too large to keep becomes an error saying so. */
	if (notes->len + len > MCP_RESUME_BYTES / 4) {
		jsonrpc_append_error(&err, id, JSONRPC_INTERNAL_ERROR,
				     "The result was too large to keep until the client reconnected; "
				     "call the tool again");
	} else if (notes->len) {
		buf_append(&ev, notes->p, notes->len);
	}
	mcp_resume_event_id(ps, 1, eid);
	sse_append_event_id(&ev, eid, err.len ? err.p : msg, err.len ? err.len : len);
	while (s->pstream_bytes + ev.len > MCP_RESUME_BYTES && (old = oldest_kept(s)) && old != ps)
		mcp_resume_drop(s, old);
	ps->answer_len = ev.len;
	ps->answer = buf_take(&ev);
	ps->expires_ms = timer_now_ms() + MCP_RESUME_TTL_MS;
	s->pstream_bytes += ps->answer_len;
	buf_free(&err);
}

static void stream_head(struct mcp_sink *sink, bool keep_alive)
{
	http_response_head(sink->ops->out(sink), 200, "text/event-stream", -1,
			   "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n", keep_alive);
}

enum mcp_disposition mcp_resume_open(struct mcp_server *srv, struct mcp_session *s,
				     const struct http_request *req, struct mcp_sink *sink)
{
	struct mcp_pstream *ps;
	uint32_t no, ev;
	bool keep = req->keep_alive;

	if (sse_parse_stream_event_id(req->last_event_id, &no, &ev) < 0)
		return mcp_refuse(sink, req, 400, JSONRPC_SERVER_ERROR, NULL,
			      "Last-Event-ID must be the id of an event from this session's streams");
	expire(s);
	for (ps = s->pstreams; ps && ps->no != no; ps = ps->next)
		;
	/* Only the priming event precedes the response: a later id means the client read it. A
	 * stream answered and read, expired, or never of this session cannot be resumed; 400
	 * (not 404, which would tell the client its session is gone). */
	if (!ps || ev != 0)
		return mcp_refuse(sink, req, 400, JSONRPC_SERVER_ERROR, NULL,
			      "Last-Event-ID names no stream of this session that can be resumed "
			      "(it was answered and read, or expired); call the tool again");
	mcp_session_touch(s);
	stream_head(sink, keep);
	if (!ps->call) { /* answered meanwhile: the response, once, and the stream ends */
		buf_append(sink->ops->out(sink), ps->answer, ps->answer_len);
		sse_append_end(sink->ops->out(sink));
		mcp_resume_drop(s, ps);
		if (sink->ops->commit(sink) < 0)
			keep = false;
		mcp_session_arm_idle(srv, s);
		return keep ? MCP_DONE : MCP_CLOSE;
	}
	/* Still running: this connection carries its answer. The newest wins, as with the
	 * push stream: an older one's client has most likely gone unseen. */
	mcp_call_attach(ps->call, sink, keep);
	if (sink->ops->commit(sink) < 0) {
		mcp_call_detach(ps->call);
		return MCP_CLOSE;
	}
	return MCP_PENDING;
}
