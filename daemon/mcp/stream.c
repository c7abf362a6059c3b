#include "mcp/internal.h"

#include <string.h>

#include "http/sse.h"
#include "util/log.h"
#include "http/response.h"

/* The GET push stream of a session: events in order while the connection's send queue has
 * room, delivered once sent, replayed after Last-Event-ID, kept alive with comments. */

void mcp_stream_detach(struct mcp_server *srv, struct mcp_session *s)
{
	if (!s->stream)
		return;
	s->stream->stream_of = NULL;
	s->stream = NULL;
	s->stream_lost_ms = timer_now_ms();
	srv->streams--;
	timer_cancel(srv->timers, &s->ping);
	mcp_session_arm_idle(srv, s);
}

void mcp_stream_ping(struct timer *t)
{
	struct mcp_session *s = container_of(t, struct mcp_session, ping);
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
		mcp_stream_detach(srv, s);
		sink->ops->abort(sink);
		return;
	}
	s->ping_sent = sent;
	sse_append_comment(sink->ops->out(sink), "ping");
	if (sink->ops->commit(sink) < 0) {
		mcp_stream_detach(srv, s);
		return;
	}
	timer_arm(srv->timers, t, timer_now_ms() + srv->cfg->sse_keepalive_ms);
}

/* Writes the events after s->pushed to the stream while its send queue has room; the rest
 * wait in the mailbox (undelivered) until sent bytes make room (mcp_sink_sent). So a slow
 * reader gets everything in order, and a stopped one only holds up its own mailbox. */
static void push_pending(struct mcp_server *srv, struct mcp_session *s)
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
		mcp_stream_detach(srv, s);
}

/* Marks s's events up to seq delivered and tells the layer above when that moved. */
static void delivered(struct mcp_server *srv, struct mcp_session *s, uint64_t seq)
{
	uint64_t before = s->mbox.acked;

	mailbox_ack(&s->mbox, seq);
	if (s->mbox.acked > before && srv->hooks.delivered)
		srv->hooks.delivered(srv->hooks.ctx, s, s->mbox.acked);
}

void mcp_sink_sent(struct mcp_server *srv, struct mcp_sink *sink)
{
	struct mcp_session *s = sink->stream_of;
	uint64_t sent, seq;

	if (!s)
		return;
	sent = sink->ops->sent(sink);
	for (seq = s->mbox.acked + 1; seq <= s->pushed; seq++) {
		const struct mailbox_event *ev = mailbox_get(&s->mbox, seq);

		if (!ev || !ev->wire_end || ev->wire_end > sent)
			break;
	}
	delivered(srv, s, seq - 1);
	if (s->pushed < s->mbox.last)
		push_pending(srv, s);
}

int64_t mcp_session_event(struct mcp_server *srv, struct mcp_session *s, const char *method,
			  const char *params, size_t len, bool refusable)
{
	int64_t seq = mailbox_add(&s->mbox, method, params, len, refusable);

	if (seq < 0)
		return seq;
	/* Delivered once sent (mcp_sink_sent); with the queue full it waits its turn. */
	if (s->stream)
		push_pending(srv, s);
	mcp_call_wake(s, (uint64_t)seq);
	return seq;
}

enum mcp_disposition mcp_stream_open(struct mcp_server *srv, const struct http_request *req,
					struct mcp_sink *sink)
{
	enum mcp_disposition d;
	struct mcp_session *s;
	uint64_t from;

	if (!req->accept_sse)
		return mcp_refuse(sink, req, 406, JSONRPC_SERVER_ERROR, NULL,
			      "Not Acceptable: Accept must list text/event-stream to open the push stream");
	if (!(s = mcp_session_require(srv, req, sink, &d)))
		return d;
	/* "N-M" names an event of a POST stream (resume.c); the push stream's ids are plain
	 * numbers. Each resumes only its own stream (transports, Resumability). */
	if (req->last_event_id && strchr(req->last_event_id, '-'))
		return mcp_resume_open(srv, s, req, sink);
	if (req->last_event_id && sse_parse_event_id(req->last_event_id, &from) < 0)
		return mcp_refuse(sink, req, 400, JSONRPC_SERVER_ERROR, NULL,
			      "Last-Event-ID must be the id of an event from this session's stream");
	/* Resuming delivers what followed the client's last event; a fresh stream delivers
	 * whatever no stream or wait_for_message has delivered yet. */
	if (req->last_event_id) {
		/* An id beyond anything sent (an older daemon, a confused client) means "all". */
		if (from > s->mbox.last)
			from = s->mbox.last;
		delivered(srv, s, from);
	} else {
		from = s->mbox.acked;
	}
	/* The newest stream wins: the old one's client has most likely gone without its close
	 * reaching us (a proxy between keeps the server side open until it next writes), and a
	 * reconnecting client must not be refused for that. What the old connection was sent
	 * counts as delivered, as with any dropped stream: Last-Event-ID resumes from there. */
	if (s->stream) {
		struct mcp_sink *old = s->stream;

		log_info("session %s: a new push stream replaces the open one", s->handle);
		mcp_stream_detach(srv, s);
		old->ops->abort(old);
	}
	mcp_session_touch(s);
	http_response_head(sink->ops->out(sink), 200, "text/event-stream", -1,
			   "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n",
		   true);
	s->stream = sink;
	sink->stream_of = s;
	s->pushed = from;
	s->ping_sent = sink->ops->sent(sink);
	srv->streams++;
	timer_cancel(srv->timers, &s->idle);
	timer_arm(srv->timers, &s->ping, s->active_ms + srv->cfg->sse_keepalive_ms);
	if (sink->ops->commit(sink) < 0) {
		mcp_stream_detach(srv, s);
		return MCP_CLOSE;
	}
	push_pending(srv, s);
	return s->stream ? MCP_STREAMING : MCP_CLOSE;
}
