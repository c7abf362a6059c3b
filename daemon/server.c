#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "chat/chat.h"
#include "ctl.h"
#include "ctlsock.h"
#include "http.h"
#include "linger.h"
#include "list.h"
#include "net/conn.h"
#include "log.h"
#include "mcp/mcp.h"
#include "ring.h"
#include "sendq.h"
#include "service.h"
#include "stats.h"
#include "status.h"
#include "timer.h"
#include "tools.h"
#include "util/xalloc.h"

struct listener {
	int fd;
	char name[64];
};

/* A client connection. It lives until its socket is closed and no operation on it is still in
 * the ring (the multishot recv has ended and no send is in flight). */
struct conn {
	struct net_conn net; /* first: the ring's tag is this pointer */
	struct mcp_sink sink;
	struct server *srv;
	struct http_conn *http;
	struct buf in;       /* received but not parsed yet (pipelining behind a held request) */
	struct timer timer;  /* head or keep-alive timeout */
	struct conn *next_ready;
	struct linger_state linger;
	bool busy, close_after_flush, abort, in_ready;
	bool timing_request;
	bool peer_done; /* the client ended its side (EOF) */
	bool lingering; /* answered and write side shut: discarding input until closed */
	bool stalled;   /* answered 408: it was not sending, so it does not linger */
};

_Static_assert(offsetof(struct conn, net) == 0, "the ring's tag is the connection's pointer");

struct server {
	struct config *cfg;
	server_reload_fn reload;
	struct ring ring;
	struct timer_heap timers;
	struct mcp_server *mcp;
	struct chat *chat;
	struct listener *listeners[CONFIG_MAX_LISTEN];
	int n_listeners;
	int sigfd;
	struct signalfd_siginfo siginfo;
	struct net_conns conns;
	uint32_t max_conns; /* the config's, or what the descriptor limit allows */
	struct conn *ready; /* connections with work to do after the current completions */
	struct timer accept_retry;
	struct timer service_tick; /* systemd STATUS= and watchdog */
	struct ctl_env ctl_env;
	struct ctlsock *ctl;
	bool stopping;
	uint64_t stop_deadline;
};

static void conn_close(struct conn *c);
static void conn_flush(struct conn *c);

static struct conn *conn_of(struct mcp_sink *sink)
{
	return container_of(sink, struct conn, sink);
}

static void mark_ready(struct conn *c)
{
	if (c->in_ready)
		return;
	c->in_ready = true;
	c->next_ready = c->srv->ready;
	c->srv->ready = c;
}

/* Sink: how mcp writes to this connection. */

static struct buf *sink_out(struct mcp_sink *sink)
{
	return &conn_of(sink)->net.q.out;
}

static int sink_commit(struct mcp_sink *sink)
{
	struct conn *c = conn_of(sink);

	if (c->net.closing || c->abort || c->lingering) {
		c->net.q.out.len = 0;
		return -EPIPE;
	}
	if (sendq_waiting(&c->net.q) > c->srv->cfg->max_send_queue) {
		/* A client that does not read: drop it rather than buffer without end. */
		log_info("connection %d: send queue over %zu bytes, closing it", c->net.fd,
			 c->srv->cfg->max_send_queue);
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
	struct conn *c = conn_of(sink);

	c->busy = false;
	if (!keep_alive || c->srv->stopping)
		c->close_after_flush = true;
	mark_ready(c);
}

static uint64_t sink_queued(struct mcp_sink *sink)
{
	struct conn *c = conn_of(sink);

	return c->net.q.sent_total + sendq_waiting(&c->net.q);
}

static uint64_t sink_sent(struct mcp_sink *sink)
{
	return conn_of(sink)->net.q.sent_total;
}

static void sink_abort(struct mcp_sink *sink)
{
	struct conn *c = conn_of(sink);

	c->abort = true;
	mark_ready(c);
}

static const struct mcp_sink_ops sink_ops = { sink_out,	   sink_commit, sink_resume,
					      sink_queued, sink_sent,   sink_abort };

/* Sending */

static void conn_flush(struct conn *c)
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

static struct conn *conn_at(struct list_link *l)
{
	return container_of(net_conn_at(l), struct conn, net);
}

static struct conn *conn_of_net(struct net_conn *n)
{
	return container_of(n, struct conn, net);
}

static void conn_free(struct net_conn *n)
{
	struct conn *c = conn_of_net(n);

	http_conn_free(c->http);
	buf_free(&c->in);
	free(c);
}

/* On the ready list it is still referred to: freed once process_ready is past it. */
static bool conn_held(const struct net_conn *n)
{
	return container_of(n, struct conn, net)->in_ready;
}

static void conn_sent(struct net_conn *n, int res)
{
	struct conn *c = conn_of_net(n);

	stats.bytes_out += (uint64_t)res;
	/* With the buffers consistent again: a stream may deliver and push more. */
	if (c->sink.stream_of)
		mcp_sink_sent(c->srv->mcp, &c->sink);
	conn_flush(c);
}

/* Receiving and parsing */

static void conn_arm_timer(struct conn *c)
{
	const struct config *cfg = c->srv->cfg;
	uint64_t now = timer_now_ms();

	if (c->busy || c->net.closing) {
		timer_cancel(&c->srv->timers, &c->timer);
		return;
	}
	if (http_conn_in_request(c->http)) {
		if (!c->timing_request || !timer_armed(&c->timer)) {
			c->timing_request = true;
			timer_arm(&c->srv->timers, &c->timer, now + cfg->head_timeout_ms);
		}
		return;
	}
	c->timing_request = false;
	timer_arm(&c->srv->timers, &c->timer, now + cfg->keepalive_timeout_ms);
}

static void plain(struct conn *c, int status, const char *ctype, const char *extra,
		  const struct buf *body, bool keep_alive, bool head_only)
{
	char head[512];
	int n = http_format_head(head, sizeof(head), status, ctype, (long)body->len, extra, keep_alive);

	if (n > 0)
		buf_append(&c->net.q.out, head, (size_t)n);
	if (!head_only && body->len)
		buf_append(&c->net.q.out, body->p, body->len);
	conn_flush(c);
}

/* /healthz and /metrics: switchable, and only for peers in [status] allow. */
static enum mcp_disposition serve_status(struct conn *c, const struct http_request *req)
{
	const struct config *cfg = c->srv->cfg;
	bool health = strcmp(req->path, "/healthz") == 0;
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer);
	struct status_env env = { c->srv->mcp, c->srv->chat, &c->srv->conns.n, c->srv->stopping };
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

/* Parses and answers requests in data until one is held open or the input runs out.
 * Returns how many bytes were used. */
static size_t conn_parse(struct conn *c, const char *data, size_t len)
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
			buf_puts(&c->net.q.out, "HTTP/1.1 100 Continue\r\n\r\n");
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
		else
			d = mcp_handle(c->srv->mcp, http_conn_request(c->http), &c->sink);
		http_conn_next(c->http);
		if (d == MCP_CLOSE || (d == MCP_DONE && c->srv->stopping))
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
static void conn_parse_backlog(struct conn *c)
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

static void conn_input(struct conn *c, const char *data, size_t len)
{
	const struct config *cfg = c->srv->cfg;

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

static void linger_begin(struct conn *c)
{
	struct server *srv = c->srv;

	c->lingering = true;
	/* Nothing more is written: mcp lets go, and the buffers go now, not at the close. */
	mcp_sink_closed(srv->mcp, &c->sink);
	http_conn_free(c->http);
	c->http = NULL;
	sendq_free(&c->net.q);
	buf_free(&c->in);
	ring_shutdown_write(&srv->ring, c->net.fd);
	linger_start(&c->linger, srv->cfg->head_timeout_ms, timer_now_ms());
	timer_arm(&srv->timers, &c->timer, linger_deadline(&c->linger));
}

/* Ends the linger: closes with a reset when the client is cut off in mid-send. */
static void linger_end(struct conn *c)
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

static void linger_input(struct conn *c, size_t len)
{
	if (c->abort)
		return;
	if (!linger_data(&c->linger, len, timer_now_ms()))
		linger_end(c);
	else
		timer_arm(&c->srv->timers, &c->timer, linger_deadline(&c->linger));
}

static void linger_timer(struct conn *c)
{
	if (linger_expired(&c->linger, timer_now_ms()))
		linger_end(c);
	else
		timer_arm(&c->srv->timers, &c->timer, linger_deadline(&c->linger));
}

static void conn_data(struct net_conn *n, const char *data, size_t len)
{
	struct conn *c = conn_of_net(n);

	stats.bytes_in += (uint64_t)len;
	if (c->lingering)
		linger_input(c, len);
	else
		conn_input(c, data, len);
}

static void conn_end(struct net_conn *n, int res)
{
	struct conn *c = conn_of_net(n);

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
	struct conn *c = container_of(t, struct conn, timer);

	if (c->busy || c->net.closing)
		return;
	if (c->lingering) {
		linger_timer(c);
		return;
	}
	if (c->timing_request) {
		log_debug("connection %d: no complete request within %u ms", c->net.fd,
			  c->srv->cfg->head_timeout_ms);
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

static struct conn *conn_new(struct server *srv, int fd)
{
	const struct http_limits limits = { srv->cfg->max_head_bytes, srv->cfg->max_body_bytes };
	struct conn *c = xcalloc(1, sizeof(*c));

	c->http = http_conn_new(&limits);
	stats.connections_accepted++;
	c->sink.ops = &sink_ops;
	c->srv = srv;
	timer_init(&c->timer, on_conn_timer);
	net_conn_start(&srv->conns, &c->net, fd, &conn_ops);
	/* A new connection must send a complete head in time, like one in mid-request. */
	c->timing_request = true;
	timer_arm(&srv->timers, &c->timer, timer_now_ms() + srv->cfg->head_timeout_ms);
	return c;
}

/* Starts tearing down: mcp lets go, the ring cancels and closes; freed when ops are done. */
static void conn_close(struct conn *c)
{
	struct server *srv = c->srv;

	if (c->net.closing)
		return;
	mcp_sink_closed(srv->mcp, &c->sink);
	timer_cancel(&srv->timers, &c->timer);
	net_conn_close(&c->net);
}

/* The answer is sent and the connection ends: lingering when input may still arrive. Not
 * after a 408: a client that sent nothing for head_s is not racing its answer, and lingering
 * would let a slowloris hold each descriptor longer (nginx does not linger there either). */
static void conn_finish(struct conn *c)
{
	struct server *srv = c->srv;

	if (!c->stalled && linger_wanted(c->peer_done, srv->stopping, srv->conns.n, srv->max_conns))
		linger_begin(c);
	else
		conn_close(c);
}

static void process_ready(struct server *srv)
{
	struct conn *c;

	while ((c = srv->ready)) {
		srv->ready = c->next_ready;
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

/* Listeners */

/* At the ceiling a newcomer still gets an answer it can act on, then the door. */
static void refuse_conn(struct server *srv, int fd)
{
	struct conn *c = conn_new(srv, fd);

	mcp_reply_busy(&c->sink, "Service Unavailable: too many connections; try again shortly");
	c->close_after_flush = true;
	conn_flush(c);
}

static void on_accept(struct server *srv, struct listener *l, struct io_uring_cqe *cqe)
{
	if (cqe->res >= 0) {
		if (srv->stopping)
			ring_close(&srv->ring, cqe->res);
		else if (srv->conns.n >= srv->max_conns)
			refuse_conn(srv, cqe->res);
		else
			conn_new(srv, cqe->res);
	}
	if (cqe->flags & IORING_CQE_F_MORE || srv->stopping)
		return;
	if (cqe->res == -EMFILE || cqe->res == -ENFILE || cqe->res == -ENOMEM) {
		/* Out of descriptors: try again shortly rather than spin. */
		log_warn("accept on %s: %s; retrying in 100 ms", l->name, strerror(-cqe->res));
		timer_arm(&srv->timers, &srv->accept_retry, timer_now_ms() + 100);
		return;
	}
	ring_accept(&srv->ring, l->fd, ring_tag(l, RING_OP_ACCEPT));
}

static void on_accept_retry(struct timer *t)
{
	struct server *srv = container_of(t, struct server, accept_retry);

	for (int i = 0; i < srv->n_listeners && !srv->stopping; i++)
		ring_accept(&srv->ring, srv->listeners[i]->fd, ring_tag(srv->listeners[i], RING_OP_ACCEPT));
}

/* "127.0.0.1:8808", "[::1]:0" → a bound, listening socket; -errno on failure. */
static int listen_on(const char *spec, struct listener *l)
{
	char host[64];
	const char *colon = strrchr(spec, ':');
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
				  .ai_socktype = SOCK_STREAM };
	struct addrinfo *ai = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char addr[INET6_ADDRSTRLEN];
	int fd = -1, one = 1, sndbuf = 64 * 1024, err;
	size_t hl = (size_t)(colon - spec);

	if (spec[0] == '[' && hl >= 2 && spec[hl - 1] == ']') {
		spec++;
		hl -= 2;
	}
	if (hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, spec, hl);
	host[hl] = '\0';
	if (getaddrinfo(host, colon + 1, &hints, &ai) != 0)
		return -EINVAL;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* Accepted sockets inherit it: whole responses go out at once, never held back. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* A small, fixed send buffer (also inherited): what a client has not read stays in our
	 * queue, where it counts as undelivered and can be replayed, not in the kernel's. */
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 4096) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		goto fail;
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, addr, sizeof(addr));
		snprintf(l->name, sizeof(l->name), "[%s]:%u", addr, ntohs(s6->sin6_port));
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &s4->sin_addr, addr, sizeof(addr));
		snprintf(l->name, sizeof(l->name), "%s:%u", addr, ntohs(s4->sin_port));
	}
	freeaddrinfo(ai);
	l->fd = fd;
	return 0;
fail:
	err = -errno;
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return err;
}

/* Signals and the graceful stop */

static void begin_stop(struct server *srv)
{
	struct mcp_stats st;

	if (srv->stopping)
		return;
	mcp_server_stats(srv->mcp, &st);
	service_stopping();
	srv->stopping = true;
	srv->stop_deadline = timer_now_ms() + srv->cfg->shutdown_grace_ms;
	log_notice("stopping: no new connections, ending %u sessions", st.sessions);
	timer_cancel(&srv->timers, &srv->accept_retry);
	for (int i = 0; i < srv->n_listeners; i++)
		ring_close_listener(&srv->ring, srv->listeners[i]->fd);
	srv->n_listeners = 0;
	if (srv->ctl)
		ctlsock_stop(srv->ctl);
	mcp_server_shutdown(srv->mcp);
	/* Idle keep-alive connections go now; those mid-request get their answer first. */
	for (struct list_link *l = srv->conns.open; l; l = l->next) {
		struct conn *c = conn_at(l);

		if (c->lingering) {
			c->abort = true; /* answered already; the exit would close it anyway */
			mark_ready(c);
		} else if (!c->busy && !http_conn_in_request(c->http)) {
			c->close_after_flush = true;
			mark_ready(c);
		}
	}
}

/* Raises the soft descriptor limit to the hard one and keeps a margin below it (listeners,
 * the ring, the control socket, refusals), so the ceiling is met with a 503, not EMFILE. */
static uint32_t conn_ceiling(const struct config *cfg)
{
	struct rlimit rl;
	uint64_t max = cfg->max_connections;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		if (rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
		}
		if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur > 256 && rl.rlim_cur - 128 < max)
			max = rl.rlim_cur - 128;
	}
	return (uint32_t)max;
}

/* Reads the configuration file again and applies it, for SIGHUP and `mcpchatctl reload` (by
 * names the caller in the log). 0 with note = the keys that need a restart ("" when none);
 * -ENOENT without a file; -EINVAL with note = why the file did not load, keeping the running
 * configuration. systemd hears RELOADING=1 first and READY=1 once done, either way. */
static int reload(struct server *srv, const char *by, char *note, size_t len)
{
	struct config next;

	if (!srv->reload) {
		log_notice("%s: no configuration file in use, nothing to reload", by);
		snprintf(note, len, "no configuration file in use");
		return -ENOENT;
	}
	service_reloading();
	if (srv->reload(&next, note, len) < 0) {
		log_err("%s: %s; keeping the running configuration", by, note);
		service_ready("reload failed; running configuration kept");
		return -EINVAL;
	}
	config_reload(srv->cfg, &next, note, len);
	log_set_level((enum log_level)srv->cfg->log_level);
	tools_configure(srv->chat, srv->cfg);
	mcp_server_reconfigure(srv->mcp);
	srv->max_conns = conn_ceiling(srv->cfg);
	if (note[0])
		log_notice("configuration reloaded; these need a restart to change: %s", note);
	else
		log_notice("configuration reloaded");
	service_ready("configuration reloaded");
	return 0;
}

static int ctl_reload(void *ctx, char *note, size_t len)
{
	return reload(ctx, "control: reload", note, len);
}

static uint64_t tick_interval(void)
{
	uint64_t wd = service_watchdog_interval_ms();

	return wd && wd < 5000 ? wd : 5000;
}

/* Every few seconds: tell systemd how things are and that the loop is alive. */
static void on_service_tick(struct timer *t)
{
	struct server *srv = container_of(t, struct server, service_tick);
	struct mcp_stats ms;
	struct chat_stats cs;
	char status[160];

	mcp_server_stats(srv->mcp, &ms);
	chat_get_stats(srv->chat, &cs);
	snprintf(status, sizeof(status), "%u sessions, %u waiting, %u rooms, %u streams, %u connections",
		 ms.sessions, cs.waiting, cs.rooms, ms.streams, srv->conns.n);
	service_status(status);
	service_watchdog();
	if (!srv->stopping)
		timer_arm(&srv->timers, t, timer_now_ms() + tick_interval());
}

const char *server_control_path(const struct server *srv)
{
	return srv->ctl ? ctlsock_path(srv->ctl) : NULL;
}

void server_set_reload(struct server *srv, server_reload_fn fn, const char *path)
{
	srv->reload = fn;
	srv->ctl_env.config_path = fn ? path : NULL;
}

static void on_signal(struct server *srv, int res)
{
	if (res == (int)sizeof(srv->siginfo)) {
		switch (srv->siginfo.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			begin_stop(srv);
			break;
		case SIGHUP: {
			char note[512];

			reload(srv, "SIGHUP", note, sizeof(note));
			break;
		}
		}
	}
	ring_read(&srv->ring, srv->sigfd, &srv->siginfo, sizeof(srv->siginfo),
		  ring_tag(srv, RING_OP_SIGNAL));
}

static void handle_cqe(struct server *srv, struct io_uring_cqe *cqe)
{
	uint64_t tag = io_uring_cqe_get_data64(cqe);
	void *obj = ring_tag_obj(tag);

	switch (ring_tag_op(tag)) {
	case RING_OP_ACCEPT:
		on_accept(srv, obj, cqe);
		break;
	case RING_OP_RECV:
		net_conn_on_recv(obj, cqe);
		break;
	case RING_OP_SEND:
		net_conn_on_send(obj, cqe->res);
		break;
	case RING_OP_SIGNAL:
		on_signal(srv, cqe->res);
		break;
	case RING_OP_CTL_ACCEPT:
	case RING_OP_CTL_RECV:
	case RING_OP_CTL_SEND:
		if (srv->ctl)
			ctlsock_on_cqe(srv->ctl, ring_tag_op(tag), obj, cqe);
		else if (cqe->flags & IORING_CQE_F_BUFFER)
			ring_recycle(&srv->ring, cqe->flags >> IORING_CQE_BUFFER_SHIFT);
		break;
	default:
		if (cqe->flags & IORING_CQE_F_BUFFER)
			ring_recycle(&srv->ring, cqe->flags >> IORING_CQE_BUFFER_SHIFT);
		break;
	}
}

static uint64_t wait_ms(struct server *srv, uint64_t now)
{
	uint64_t next = timer_next(&srv->timers);
	uint64_t ms = next == UINT64_MAX ? UINT64_MAX : next > now ? next - now : 0;

	if (srv->stopping && srv->stop_deadline - now < ms)
		ms = srv->stop_deadline > now ? srv->stop_deadline - now : 0;
	return ms;
}

int server_run(struct server *srv)
{
	for (int i = 0; i < srv->n_listeners; i++)
		ring_accept(&srv->ring, srv->listeners[i]->fd, ring_tag(srv->listeners[i], RING_OP_ACCEPT));
	ring_read(&srv->ring, srv->sigfd, &srv->siginfo, sizeof(srv->siginfo),
		  ring_tag(srv, RING_OP_SIGNAL));
	if (srv->ctl)
		ctlsock_start(srv->ctl);
	timer_init(&srv->service_tick, on_service_tick);
	timer_arm(&srv->timers, &srv->service_tick, timer_now_ms() + tick_interval());
	for (;;) {
		struct io_uring_cqe *cqe;
		unsigned head, n = 0;
		uint64_t now;
		int err;

		timer_clock_tick();
		now = timer_now_ms();
		stats.loop_iterations++;
		timer_run(&srv->timers, now);
		process_ready(srv);
		if (srv->stopping && (srv->conns.n == 0 || now >= srv->stop_deadline))
			break;
		err = ring_wait(&srv->ring, wait_ms(srv, now));
		if (err < 0 && err != -ETIME && err != -EINTR && err != -EAGAIN && err != -EBUSY) {
			log_err("io_uring wait failed: %s", strerror(-err));
			return err;
		}
		timer_clock_tick();
		io_uring_for_each_cqe(&srv->ring.uring, head, cqe) {
			handle_cqe(srv, cqe);
			n++;
		}
		io_uring_cq_advance(&srv->ring.uring, n);
	}
	log_notice("stopped");
	return 0;
}

/* Setup */

static int open_signals(struct server *srv)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	srv->sigfd = signalfd(-1, &set, SFD_CLOEXEC);
	return srv->sigfd < 0 ? -errno : 0;
}

static int open_control(struct server *srv)
{
	char path[sizeof(srv->cfg->control_socket)];
	struct ctl_env *env = &srv->ctl_env;
	int err;

	if (srv->cfg->control_socket[0])
		snprintf(path, sizeof(path), "%s", srv->cfg->control_socket);
	else if ((err = ctl_default_socket_path(path, sizeof(path))) < 0)
		return err;
	env->mcp = srv->mcp;
	env->chat = srv->chat;
	for (int i = 0; i < srv->n_listeners && i < 8; i++)
		env->listeners[env->n_listeners++] = srv->listeners[i]->name;
	env->started_ms = timer_now_ms();
	env->conns = &srv->conns.n;
	env->reload = ctl_reload;
	env->reload_ctx = srv;
	srv->ctl = ctlsock_open(path, srv->cfg->control_group, &srv->ring, env, &err);
	if (srv->ctl) {
		log_info("control socket at %s", path);
		return 0;
	}
	/* Only the default path may be taken by another instance: then run without one. */
	if (err == -EADDRINUSE && !srv->cfg->control_socket[0]) {
		log_warn("control socket %s belongs to another running mcp-chatd; running without "
			 "one (pass --control-socket PATH to have one)", path);
		return 0;
	}
	return err;
}

struct server *server_new(struct config *cfg, int *err)
{
	struct server *srv = xcalloc(1, sizeof(*srv));

	srv->cfg = cfg;
	srv->sigfd = -1;
	timer_heap_init(&srv->timers);
	timer_init(&srv->accept_retry, on_accept_retry);
	net_conns_init(&srv->conns, &srv->ring, RING_OP_RECV, RING_OP_SEND);
	srv->max_conns = conn_ceiling(cfg);
	for (int i = 0; i < cfg->n_listen; i++) {
		struct listener *l = xcalloc(1, sizeof(*l));

		srv->listeners[srv->n_listeners++] = l;
		l->fd = -1;
		*err = listen_on(cfg->listen[i], l);
		if (*err < 0) {
			log_err("cannot listen on %s: %s", cfg->listen[i], strerror(-*err));
			goto fail;
		}
	}
	*err = open_signals(srv);
	if (*err < 0) {
		log_err("cannot set up signal handling: %s", strerror(-*err));
		goto fail;
	}
	*err = ring_init(&srv->ring, 4096, 1024, 4096);
	if (*err < 0) {
		log_err("cannot set up io_uring: %s", strerror(-*err));
		goto fail;
	}
	srv->mcp = mcp_server_new(cfg, &srv->timers);
	srv->chat = tools_register(srv->mcp, cfg, &srv->timers);
	if (!srv->chat) {
		*err = -EIO;
		log_err("cannot key the chat's hash tables: getrandom failed");
		goto fail;
	}
	*err = open_control(srv);
	if (*err < 0)
		goto fail;
	return srv;
fail:
	server_free(srv);
	return NULL;
}

int server_listener_count(const struct server *srv)
{
	return srv->n_listeners;
}

const char *server_listener_name(const struct server *srv, int i)
{
	return srv->listeners[i]->name;
}

void server_free(struct server *srv)
{
	if (!srv)
		return;
	/* mcp lets go of every connection before it ends its sessions. */
	for (struct list_link *l = srv->conns.open; l; l = l->next)
		if (srv->mcp)
			mcp_sink_closed(srv->mcp, &conn_at(l)->sink);
	mcp_server_free(srv->mcp);
	if (srv->chat)
		tools_free(srv->chat);
	/* The kernel lets go of buffers and sockets before their memory goes. */
	if (srv->ring.br)
		ring_exit(&srv->ring);
	ctlsock_free(srv->ctl);
	net_conns_free(&srv->conns);
	for (int i = 0; i < CONFIG_MAX_LISTEN; i++) {
		if (srv->listeners[i] && srv->listeners[i]->fd >= 0 && i < srv->n_listeners)
			close(srv->listeners[i]->fd);
		free(srv->listeners[i]);
	}
	if (srv->sigfd >= 0)
		close(srv->sigfd);
	timer_heap_free(&srv->timers);
	free(srv);
}
