#include "client.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "admin/stats.h"
#include "admin/status.h"
#include "http/request.h"
#include "http/response.h"
#include "net/linger.h"
#include "util/log.h"
#include "util/xalloc.h"
#include "web/static.h"

/* The HTTP client connections: bytes in through net/conn, requests assembled by http/request,
 * answered by mcp (through this connection's sink), the status endpoints or the chat page
 * (web/); keep-alive, pipelining behind a held request, head and keep-alive timeouts, and the
 * lingering close. */

/* A client connection. It lives until its socket is closed and no operation on it is still in
 * the ring (the multishot recv has ended and no send is in flight). */
struct client {
	struct net_conn net; /* first: the ring's tag is this pointer */
	struct mcp_sink sink;
	struct clients *cs;
	struct http_conn *http;
	struct buf in;       /* received but not parsed yet (pipelining behind a held request) */
	struct timer timer;  /* head or keep-alive timeout */
	struct client *next_ready;
	struct linger_state linger;
	bool busy, close_after_flush, abort, in_ready;
	bool timing_request;
	bool peer_done; /* the client ended its side (EOF) */
	bool lingering; /* answered and write side shut: discarding input until closed */
	bool stalled;   /* answered 408: it was not sending, so it does not linger */
};

_Static_assert(offsetof(struct client, net) == 0, "the ring's tag is the connection's pointer");

static void conn_close(struct client *c);
static void conn_flush(struct client *c);

static struct client *conn_of(struct mcp_sink *sink)
{
	return container_of(sink, struct client, sink);
}

static void mark_ready(struct client *c)
{
	if (c->in_ready)
		return;
	c->in_ready = true;
	c->next_ready = c->cs->ready;
	c->cs->ready = c;
}

/* Sink: how mcp writes to this connection. */

static struct buf *sink_out(struct mcp_sink *sink)
{
	return &conn_of(sink)->net.q.out;
}

static int sink_commit(struct mcp_sink *sink)
{
	struct client *c = conn_of(sink);

	if (c->net.closing || c->abort || c->lingering) {
		c->net.q.out.len = 0;
		return -EPIPE;
	}
	if (sendq_waiting(&c->net.q) > c->cs->cfg->max_send_queue) {
		/* A client that does not read: drop it rather than buffer without end. */
		log_info("connection %d: send queue over %zu bytes, closing it", c->net.fd,
			 c->cs->cfg->max_send_queue);
		c->net.q.out.len = 0;
		c->abort = true;
		mark_ready(c);
		return -ENOBUFS;
	}
	conn_flush(c);
	return 0;
}

static void sink_resume(struct mcp_sink *sink, bool keep_alive)
{
	struct client *c = conn_of(sink);

	c->busy = false;
	if (!keep_alive || c->cs->stopping)
		c->close_after_flush = true;
	mark_ready(c);
}

static uint64_t sink_queued(struct mcp_sink *sink)
{
	struct client *c = conn_of(sink);

	return c->net.q.sent_total + sendq_waiting(&c->net.q);
}

static uint64_t sink_sent(struct mcp_sink *sink)
{
	return conn_of(sink)->net.q.sent_total;
}

static void sink_abort(struct mcp_sink *sink)
{
	struct client *c = conn_of(sink);

	c->abort = true;
	mark_ready(c);
}

static const struct mcp_sink_ops sink_ops = { sink_out,	   sink_commit, sink_resume,
					      sink_queued, sink_sent,   sink_abort };

/* Sending */

static void conn_flush(struct client *c)
{
	if (c->net.closing || c->lingering)
		return;
	if (sendq_idle(&c->net.q)) {
		if (c->close_after_flush && !c->busy)
			mark_ready(c);
		return;
	}
	net_conn_flush(&c->net);
}

static struct client *conn_at(struct list_link *l)
{
	return container_of(net_conn_at(l), struct client, net);
}

static struct client *conn_of_net(struct net_conn *n)
{
	return container_of(n, struct client, net);
}

static void conn_free(struct net_conn *n)
{
	struct client *c = conn_of_net(n);

	http_conn_free(c->http);
	buf_free(&c->in);
	free(c);
}

/* On the ready list it is still referred to: freed once process_ready is past it. */
static bool conn_held(const struct net_conn *n)
{
	return container_of(n, struct client, net)->in_ready;
}

static void conn_sent(struct net_conn *n, int res)
{
	struct client *c = conn_of_net(n);

	stats.bytes_out += (uint64_t)res;
	/* With the buffers consistent again: a stream may deliver and push more. */
	if (c->sink.stream_of)
		mcp_sink_sent(c->cs->mcp, &c->sink);
	conn_flush(c);
}

/* Receiving and parsing */

static void conn_arm_timer(struct client *c)
{
	const struct config *cfg = c->cs->cfg;
	uint64_t now = timer_now_ms();

	if (c->busy || c->net.closing) {
		timer_cancel(c->cs->timers, &c->timer);
		return;
	}
	if (http_conn_in_request(c->http)) {
		if (!c->timing_request || !timer_armed(&c->timer)) {
			c->timing_request = true;
			timer_arm(c->cs->timers, &c->timer, now + cfg->head_timeout_ms);
		}
		return;
	}
	c->timing_request = false;
	timer_arm(c->cs->timers, &c->timer, now + cfg->keepalive_timeout_ms);
}

static void plain(struct client *c, int status, const char *ctype, const char *extra,
		  const struct buf *body, bool keep_alive, bool head_only)
{
	http_response(&c->net.q.out, status, ctype, extra, body->p, body->len, keep_alive, head_only);
	conn_flush(c);
}

/* /healthz and /metrics: switchable, and only for peers in [status] allow. */
static enum mcp_disposition serve_status(struct client *c, const struct http_request *req)
{
	const struct config *cfg = c->cs->cfg;
	bool health = strcmp(req->path, "/healthz") == 0;
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer);
	struct status_env env = { c->cs->mcp, c->cs->chat, &c->cs->conns.n, c->cs->stopping,
				  c->cs->engine };
	struct buf body = BUF_INIT;
	const char *ctype = "text/plain; charset=utf-8";
	int status;

	if (!(health ? cfg->healthz : cfg->metrics)) {
		status = 404;
		buf_puts(&body, "not found: this endpoint is switched off ([status] in the config)\n");
	} else if (req->method != HTTP_M_GET && req->method != HTTP_M_HEAD) {
		status = 405;
		buf_puts(&body, "method not allowed: use GET\n");
	} else if (getpeername(c->net.fd, (struct sockaddr *)&peer, &len) < 0 ||
		   !config_status_allowed(cfg, &peer)) {
		status = 403;
		buf_puts(&body, "forbidden: this address is not in [status] allow\n");
	} else {
		status = status_body(&env, req->path, &body, &ctype);
	}
	plain(c, status, ctype, status == 405 ? "Allow: GET, HEAD\r\n" : NULL, &body,
	      req->keep_alive, req->method == HTTP_M_HEAD);
	buf_free(&body);
	return req->keep_alive ? MCP_DONE : MCP_CLOSE;
}

/* / and /web/: the chat page, to any peer (it holds nothing; /mcp checks Host and Origin). */
static enum mcp_disposition serve_web(struct client *c, const struct http_request *req)
{
	struct web_answer a;

	web_answer(c->cs->cfg->web, req, &a);
	http_response(&c->net.q.out, a.status, a.type, a.extra, a.body, a.len, req->keep_alive,
		      a.head_only);
	conn_flush(c);
	return req->keep_alive ? MCP_DONE : MCP_CLOSE;
}

/* Parses and answers requests in data until one is held open or the input runs out.
 * Returns how many bytes were used. */
static size_t conn_parse(struct client *c, const char *data, size_t len)
{
	size_t off = 0;

	while (!c->busy && !c->close_after_flush && !c->net.closing && !c->abort) {
		size_t used;
		int rc = http_conn_feed(c->http, data + off, len - off, &used);
		enum mcp_disposition d;

		off += used;
		if (rc == HTTP_FEED_MORE)
			break;
		if (rc == HTTP_FEED_CONTINUE) {
			http_response_continue(&c->net.q.out);
			conn_flush(c);
			continue;
		}
		if (rc < 0) {
			log_debug("connection %d: %s (%d)", c->net.fd, http_conn_error(c->http), -rc);
			mcp_reply_http_error(&c->sink, -rc, http_conn_error(c->http));
			c->close_after_flush = true;
			break;
		}
		stats.requests++;
		if (status_is_path(http_conn_request(c->http)->path))
			d = serve_status(c, http_conn_request(c->http));
		else if (web_is_path(http_conn_request(c->http)->path))
			d = serve_web(c, http_conn_request(c->http));
		else
			d = mcp_handle(c->cs->mcp, http_conn_request(c->http), &c->sink);
		http_conn_next(c->http);
		if (d == MCP_CLOSE || (d == MCP_DONE && c->cs->stopping))
			c->close_after_flush = true;
		else if (d == MCP_STREAMING || d == MCP_PENDING)
			c->busy = true;
	}
	conn_arm_timer(c);
	if (c->close_after_flush)
		conn_flush(c);
	return off;
}

/* Parses what waited in c->in (after a held request ended). */
static void conn_parse_backlog(struct client *c)
{
	size_t used;

	if (c->in.len == 0) {
		conn_arm_timer(c);
		return;
	}
	used = conn_parse(c, c->in.p, c->in.len);
	memmove(c->in.p, c->in.p + used, c->in.len - used);
	c->in.len -= used;
}

static void conn_input(struct client *c, const char *data, size_t len)
{
	const struct config *cfg = c->cs->cfg;

	if (c->in.len == 0 && !c->busy) {
		size_t used = conn_parse(c, data, len);

		data += used;
		len -= used;
	}
	/* Bytes after a closing answer are not read; an incomplete request was used up. */
	if (len == 0 || c->close_after_flush || c->net.closing || c->abort)
		return;
	/* Bounded: one request's worth may wait behind a held one. */
	if (c->in.len + len > cfg->max_head_bytes + cfg->max_body_bytes) {
		log_info("connection %d: too much pipelined input, closing it", c->net.fd);
		c->abort = true;
		mark_ready(c);
		return;
	}
	buf_append(&c->in, data, len);
	if (!c->busy)
		conn_parse_backlog(c);
}

/* Lingering close: the answer is sent; the rest of the input is read and dropped, bounded. */

static void linger_begin(struct client *c)
{
	struct clients *cs = c->cs;

	c->lingering = true;
	/* Nothing more is written: mcp lets go, and the buffers go now, not at the close. */
	mcp_sink_closed(cs->mcp, &c->sink);
	http_conn_free(c->http);
	c->http = NULL;
	sendq_free(&c->net.q);
	buf_free(&c->in);
	ring_shutdown_write(cs->conns.ring, c->net.fd);
	linger_start(&c->linger, cs->cfg->head_timeout_ms, timer_now_ms());
	timer_arm(cs->timers, &c->timer, linger_deadline(&c->linger));
}

/* Ends the linger: closes with a reset when the client is cut off in mid-send. */
static void linger_end(struct client *c)
{
	struct linger lg = { 1, 0 };

	if (linger_reset(&c->linger, timer_now_ms())) {
		log_debug("connection %d: still sending after its answer, resetting it", c->net.fd);
		/* Not I/O and never blocks; the ring has no portable setsockopt (Linux 6.7+). */
		setsockopt(c->net.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	c->abort = true;
	mark_ready(c);
}

static void linger_input(struct client *c, size_t len)
{
	if (c->abort)
		return;
	if (!linger_data(&c->linger, len, timer_now_ms()))
		linger_end(c);
	else
		timer_arm(c->cs->timers, &c->timer, linger_deadline(&c->linger));
}

static void linger_timer(struct client *c)
{
	if (linger_expired(&c->linger, timer_now_ms()))
		linger_end(c);
	else
		timer_arm(c->cs->timers, &c->timer, linger_deadline(&c->linger));
}

static void conn_data(struct net_conn *n, const char *data, size_t len)
{
	struct client *c = conn_of_net(n);

	stats.bytes_in += (uint64_t)len;
	if (c->lingering)
		linger_input(c, len);
	else
		conn_input(c, data, len);
}

static void conn_end(struct net_conn *n, int res)
{
	struct client *c = conn_of_net(n);

	if (res < 0) {
		c->abort = true;
		mark_ready(c);
		return;
	}
	/* The client is gone: finish what it asked for unless an answer is still held. */
	c->peer_done = true;
	if (c->busy || c->lingering || sendq_idle(&c->net.q))
		c->abort = true;
	c->close_after_flush = true;
	mark_ready(c);
}

static const struct net_conn_ops conn_ops = { conn_data, conn_end, conn_sent, conn_held, conn_free };

static void on_conn_timer(struct timer *t)
{
	struct client *c = container_of(t, struct client, timer);

	if (c->busy || c->net.closing)
		return;
	if (c->lingering) {
		linger_timer(c);
		return;
	}
	if (c->timing_request) {
		log_debug("connection %d: no complete request within %u ms", c->net.fd,
			  c->cs->cfg->head_timeout_ms);
		mcp_reply_http_error(&c->sink, 408, "no complete request in time");
		c->close_after_flush = true;
		c->stalled = true;
		conn_flush(c);
	} else {
		c->abort = true;
		mark_ready(c);
	}
}

/* Connection lifecycle */

static struct client *conn_new(struct clients *cs, int fd)
{
	const struct http_limits limits = { cs->cfg->max_head_bytes, cs->cfg->max_body_bytes };
	struct client *c = xcalloc(1, sizeof(*c));

	c->http = http_conn_new(&limits);
	stats.connections_accepted++;
	c->sink.ops = &sink_ops;
	c->cs = cs;
	timer_init(&c->timer, on_conn_timer);
	net_conn_start(&cs->conns, &c->net, fd, &conn_ops);
	/* A new connection must send a complete head in time, like one in mid-request. */
	c->timing_request = true;
	timer_arm(cs->timers, &c->timer, timer_now_ms() + cs->cfg->head_timeout_ms);
	return c;
}

/* Starts tearing down: mcp lets go, the ring cancels and closes; freed when ops are done. */
static void conn_close(struct client *c)
{
	struct clients *cs = c->cs;

	if (c->net.closing)
		return;
	mcp_sink_closed(cs->mcp, &c->sink);
	timer_cancel(cs->timers, &c->timer);
	net_conn_close(&c->net);
}

/* The answer is sent and the connection ends: lingering when input may still arrive. Not
 * after a 408: a client that sent nothing for head_s is not racing its answer, and lingering
 * would let a slowloris hold each descriptor longer (nginx does not linger there either). */
static void conn_finish(struct client *c)
{
	struct clients *cs = c->cs;

	if (!c->stalled && linger_wanted(c->peer_done, cs->stopping, cs->conns.n, cs->max_conns))
		linger_begin(c);
	else
		conn_close(c);
}

void client_process_ready(struct clients *cs)
{
	struct client *c;

	while ((c = cs->ready)) {
		cs->ready = c->next_ready;
		c->in_ready = false;
		if (c->net.closing) {
			net_conn_maybe_free(&c->net);
			continue;
		}
		if (c->abort) {
			conn_close(c);
			continue;
		}
		if (c->lingering)
			continue;
		if (!c->busy && !c->close_after_flush)
			conn_parse_backlog(c);
		if (c->close_after_flush && !c->busy && sendq_idle(&c->net.q))
			conn_finish(c);
		else if (c->close_after_flush && !c->busy)
			conn_flush(c);
	}
}


/* At the ceiling a newcomer still gets an answer it can act on, then the door. */
static void refuse_conn(struct clients *cs, int fd)
{
	struct client *c = conn_new(cs, fd);

	mcp_reply_busy(&c->sink, "Service Unavailable: too many connections; try again shortly");
	c->close_after_flush = true;
	conn_flush(c);
}

void client_accept(struct clients *cs, int fd)
{
	if (cs->stopping)
		ring_close(cs->conns.ring, fd);
	else if (cs->conns.n >= cs->max_conns)
		refuse_conn(cs, fd);
	else
		conn_new(cs, fd);
}

void clients_init(struct clients *cs, struct ring *ring, const struct config *cfg,
		  struct timer_heap *timers)
{
	memset(cs, 0, sizeof(*cs));
	net_conns_init(&cs->conns, ring, RING_OP_RECV, RING_OP_SEND);
	cs->cfg = cfg;
	cs->timers = timers;
}

void clients_stop(struct clients *cs)
{
	cs->stopping = true;
	/* Idle keep-alive connections go now; those mid-request get their answer first. */
	for (struct list_link *l = cs->conns.open; l; l = l->next) {
		struct client *c = conn_at(l);

		if (c->lingering) {
			c->abort = true; /* answered already; the exit would close it anyway */
			mark_ready(c);
		} else if (!c->busy && !http_conn_in_request(c->http)) {
			c->close_after_flush = true;
			mark_ready(c);
		}
	}
}

void clients_release(struct clients *cs)
{
	/* mcp lets go of every connection before it ends its sessions. */
	for (struct list_link *l = cs->conns.open; l; l = l->next)
		if (cs->mcp)
			mcp_sink_closed(cs->mcp, &conn_at(l)->sink);
}

void clients_free(struct clients *cs)
{
	net_conns_free(&cs->conns);
}
