#include "mcp/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "admin/stats.h"
#include "http/sse.h"
#include "util/b64url.h"
#include "util/log.h"

int mcp_random(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* 24 random bytes are 32 base64url characters, no padding. */
_Static_assert(MCP_SESSION_ID_LEN == 4 * MCP_SESSION_RAW_LEN / 3, "id length");

static void encode(const char *node, const uint8_t raw[MCP_SESSION_RAW_LEN],
		   char id[MCP_SESSION_ID_MAX + 1])
{
	size_t n = strlen(node);

	memcpy(id, node, n);
	b64url_encode(raw, MCP_SESSION_RAW_LEN, id + n);
}

static int decode(const char *id, uint8_t raw[MCP_SESSION_RAW_LEN])
{
	return b64url_decode(id, MCP_SESSION_ID_LEN, raw, NULL);
}

/* The ids are random, so their first bytes are a fine hash. */
static uint32_t hash_of(const uint8_t raw[MCP_SESSION_RAW_LEN])
{
	uint32_t h;

	memcpy(&h, raw, sizeof(h));
	return h;
}

static bool same_id(const uint8_t *a, const uint8_t *b)
{
	uint8_t diff = 0;

	for (int i = 0; i < MCP_SESSION_RAW_LEN; i++)
		diff |= a[i] ^ b[i];
	return diff == 0;
}

void mcp_sessions_init(struct mcp_sessions *t, uint32_t max)
{
	memset(t, 0, sizeof(*t));
	t->bucket = xcalloc(1024, sizeof(*t->bucket));
	t->mask = 1023;
	t->max = max;
}

void mcp_sessions_set_node(struct mcp_sessions *t, const char *node)
{
	t->node[0] = '\0';
	if (node && node[0] && strlen(node) <= MCP_NODE_MAX)
		snprintf(t->node, sizeof(t->node), "%s.", node);
}

void mcp_sessions_free(struct mcp_sessions *t)
{
	free(t->bucket);
	memset(t, 0, sizeof(*t));
}

static void rehash(struct mcp_sessions *t)
{
	uint32_t size = (t->mask + 1) * 2;
	struct mcp_session **bucket = xcalloc(size, sizeof(*bucket));

	for (struct mcp_session *s = t->all; s; s = s->next_all) {
		uint32_t b = hash_of(s->raw) & (size - 1);
		s->next = bucket[b];
		bucket[b] = s;
	}
	free(t->bucket);
	t->bucket = bucket;
	t->mask = size - 1;
}

int mcp_sessions_create(struct mcp_sessions *t, uint32_t mailbox_capacity,
			struct mcp_session **out)
{
	struct mcp_session *s;
	uint8_t hraw[MCP_SESSION_HANDLE_LEN / 2];
	uint32_t b;
	int err;

	if (t->count >= t->max)
		return -EAGAIN;
	s = xcalloc(1, sizeof(*s));
	err = mcp_random(s->raw, sizeof(s->raw));
	if (err == 0)
		err = mcp_random(hraw, sizeof(hraw));
	if (err < 0) {
		free(s);
		return err;
	}
	encode(t->node, s->raw, s->id);
	for (int i = 0; i < (int)sizeof(hraw); i++) {
		s->handle[2 * i] = "0123456789abcdef"[hraw[i] >> 4];
		s->handle[2 * i + 1] = "0123456789abcdef"[hraw[i] & 15];
	}
	mailbox_init(&s->mbox, mailbox_capacity);
	b = hash_of(s->raw) & t->mask;
	s->next = t->bucket[b];
	t->bucket[b] = s;
	s->next_all = t->all;
	if (t->all)
		t->all->prev_all = s;
	t->all = s;
	if (++t->count > t->mask + 1)
		rehash(t);
	*out = s;
	return 0;
}

struct mcp_session *mcp_sessions_find(const struct mcp_sessions *t, const char *id)
{
	uint8_t raw[MCP_SESSION_RAW_LEN];
	size_t n = strlen(t->node);

	/* Another node's session (a load balancer that lost track) is unknown here: 404. */
	if (!id || strncmp(id, t->node, n) != 0)
		return NULL;
	id += n;
	if (strlen(id) != MCP_SESSION_ID_LEN || decode(id, raw) < 0)
		return NULL;
	for (struct mcp_session *s = t->bucket[hash_of(raw) & t->mask]; s; s = s->next)
		if (same_id(s->raw, raw))
			return s;
	return NULL;
}

struct mcp_session *mcp_sessions_find_handle(const struct mcp_sessions *t, const char *handle)
{
	for (struct mcp_session *s = t->all; s; s = s->next_all)
		if (strcmp(s->handle, handle) == 0)
			return s;
	return NULL;
}

void mcp_sessions_remove(struct mcp_sessions *t, struct mcp_session *s)
{
	struct mcp_session **pp = &t->bucket[hash_of(s->raw) & t->mask];

	while (*pp && *pp != s)
		pp = &(*pp)->next;
	if (*pp)
		*pp = s->next;
	if (s->prev_all)
		s->prev_all->next_all = s->next_all;
	else
		t->all = s->next_all;
	if (s->next_all)
		s->next_all->prev_all = s->prev_all;
	t->count--;
	mcp_catalog_subs_free(s);
	mcp_resume_free_all(s);
	mailbox_free(&s->mbox);
	free(s);
}

/* Lifecycle */

/* When an idle session ends: session_idle_s after its last request, or sooner when its push
 * stream closed and neither a request nor a new stream came within reconnect_grace_s (a
 * client that vanished without DELETE: its partner learns it in seconds, not minutes). */
static uint32_t idle_ms(const struct mcp_server *srv, const struct mcp_session *s)
{
	return s->modern ? srv->cfg->chat_idle_ms : srv->cfg->session_idle_timeout_ms;
}

static uint64_t idle_due(const struct mcp_server *srv, const struct mcp_session *s)
{
	uint64_t due = s->active_ms + idle_ms(srv, s);

	if (s->stream_lost_ms && s->stream_lost_ms + srv->cfg->reconnect_grace_ms < due)
		due = s->stream_lost_ms + srv->cfg->reconnect_grace_ms;
	return due;
}

void mcp_session_arm_idle(struct mcp_server *srv, struct mcp_session *s)
{
	if (!s->stream && !s->busy)
		timer_arm(srv->timers, &s->idle, idle_due(srv, s));
}

void mcp_session_touch(struct mcp_session *s)
{
	s->active_ms = timer_now_ms();
	s->stream_lost_ms = 0;
}

static void on_idle(struct timer *t)
{
	struct mcp_session *s = container_of(t, struct mcp_session, idle);
	struct mcp_server *srv = s->server;
	uint64_t due = idle_due(srv, s);

	if (s->stream || s->busy)
		return; /* re-armed when the stream or the request ends */
	/* Judged by the heap's clock (the timer fired at t->when), not a second reading of
	 * the wall: a deadline that moved while armed is simply armed again. */
	if (t->when < due) {
		timer_arm(srv->timers, t, due);
		return;
	}
	if (s->stream_lost_ms && due < s->active_ms + idle_ms(srv, s)) {
		log_info("session %s ended: push stream closed, no reconnect within %g s", s->handle,
			 srv->cfg->reconnect_grace_ms / 1000.0);
		mcp_session_end(srv, s, MCP_END_VANISHED);
		return;
	}
	log_info("%s %s ended: idle for %g s", s->modern ? "chat" : "session", s->handle,
		 idle_ms(srv, s) / 1000.0);
	mcp_session_end(srv, s, MCP_END_IDLE);
}

int mcp_session_start(struct mcp_server *srv, bool modern, struct mcp_session **out)
{
	struct mcp_session *s;
	int err = mcp_sessions_create(&srv->sessions, srv->cfg->mailbox_events, &s);

	if (err < 0)
		return err;
	stats.sessions_started++;
	mailbox_set_window(&s->mbox, srv->cfg->replay_window_bytes);
	s->server = srv;
	s->modern = modern;
	s->version = modern ? MCP_VERSION_MODERN : MCP_VERSION_LEGACY;
	s->log_level = 6;
	s->created_ms = s->active_ms = timer_now_ms();
	timer_init(&s->idle, on_idle);
	timer_init(&s->ping, mcp_stream_ping);
	if (srv->hooks.session_start)
		srv->hooks.session_start(srv->hooks.ctx, s);
	*out = s;
	return 0;
}

void mcp_session_end(struct mcp_server *srv, struct mcp_session *s, enum mcp_end_reason why)
{
	if (s->ended)
		return;
	s->ended = true;
	stats.sessions_ended++;
	/* Pending calls answer with what they have, while the layer above still knows s. */
	while (s->calls)
		mcp_call_finish(s->calls);
	if (s->stream) {
		struct mcp_sink *sink = s->stream;

		mcp_stream_detach(srv, s);
		/* The stream ends cleanly (last chunk); the connection may carry more requests. */
		sse_append_end(sink->ops->out(sink));
		sink->ops->commit(sink);
		sink->ops->resume(sink, true);
	}
	if (srv->hooks.session_end)
		srv->hooks.session_end(srv->hooks.ctx, s, why);
	timer_cancel(srv->timers, &s->idle);
	timer_cancel(srv->timers, &s->ping);
	mcp_sessions_remove(&srv->sessions, s);
}

struct mcp_session *mcp_session_require(struct mcp_server *srv, const struct http_request *req,
					struct mcp_sink *sink, enum mcp_disposition *d)
{
	struct mcp_session *s;

	if (!req->session_id) {
		*d = mcp_refuse(sink, req, 400, JSONRPC_SERVER_ERROR, NULL,
				"Bad Request: Mcp-Session-Id header is required; call initialize first");
		return NULL;
	}
	s = mcp_sessions_find(&srv->sessions, req->session_id);
	/* A 2026-07-28 chat's id never left the server: no client can name it as a session. */
	if (!s || s->modern) {
		*d = mcp_refuse(sink, req, 404, JSONRPC_SESSION_NOT_FOUND, NULL,
				"Session not found (it ended or never existed); initialize a new one");
		return NULL;
	}
	return s;
}

/* Accessors and views for the layer above and for admins */

void *mcp_session_app(const struct mcp_session *s)
{
	return s->app;
}

void mcp_session_set_app(struct mcp_session *s, void *app)
{
	s->app = app;
}

bool mcp_session_modern(const struct mcp_session *s)
{
	return s->modern;
}

void mcp_tool_bind(struct mcp_tool_ctx *ctx, struct mcp_session *s)
{
	ctx->session = s;
}

int mcp_tool_mint(struct mcp_tool_ctx *ctx)
{
	struct mcp_session *s;
	int err = mcp_session_start(ctx->srv, true, &s);

	if (err < 0)
		return err;
	log_info("chat %s started (protocol %s)", s->handle, mcp_versions[MCP_VERSION_MODERN]);
	ctx->session = s;
	ctx->minted = true;
	return 0;
}

struct mailbox *mcp_session_mailbox(struct mcp_session *s)
{
	return &s->mbox;
}

const char *mcp_session_handle(const struct mcp_session *s)
{
	return s->handle;
}

void mcp_session_view(const struct mcp_session *s, struct mcp_session_view *v)
{
	v->handle = s->handle;
	v->protocol_version = mcp_versions[s->version];
	v->modern = s->modern;
	v->stream = s->stream != NULL;
	v->active_ms = s->active_ms;
	v->unread = mailbox_unread(&s->mbox);
	v->app = s->app;
}

void mcp_each_session(struct mcp_server *srv, mcp_session_fn fn, void *ctx)
{
	for (struct mcp_session *s = srv->sessions.all; s; s = s->next_all)
		fn(ctx, s);
}

struct mcp_session *mcp_find_handle(struct mcp_server *srv, const char *handle)
{
	return mcp_sessions_find_handle(&srv->sessions, handle);
}
