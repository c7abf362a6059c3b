#ifndef MCPCHAT_MCP_H
#define MCPCHAT_MCP_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "http/request.h"
#include "mcp/mailbox.h"
#include "net/timer.h"
#include "util/buf.h"

/* MCP over Streamable HTTP at /mcp: transport rules (transport.c), sessions (session.c),
 * push streams (stream.c), deferred tool answers (call.c) and JSON-RPC methods (methods.c).
 * Pure: the I/O layer hands in parsed requests and a sink (its connection); mcp writes
 * complete HTTP bytes into the sink. Tests use a fake sink. The session is opaque: the layer
 * above keeps its own state behind mcp_session_app(). */

struct mcp_server;
struct mcp_sink;
struct mcp_session;

struct mcp_sink_ops {
	/* The buffer to append response bytes to; call commit() after appending. */
	struct buf *(*out)(struct mcp_sink *sink);
	/* Sends what was appended. -ENOBUFS when the connection's send queue is over its limit:
	 * the owner then closes the connection soon (and calls mcp_sink_closed()). */
	int (*commit)(struct mcp_sink *sink);
	/* A deferred answer or a stream has ended: the connection goes on with its next
	 * request, or closes when keep_alive is false. Must not call back into mcp at once. */
	void (*resume)(struct mcp_sink *sink, bool keep_alive);
	/* Bytes ever queued on this connection (committed or still in out), and ever handed to
	 * the kernel: a pushed event counts as delivered once its last byte is sent. */
	uint64_t (*queued)(struct mcp_sink *sink);
	uint64_t (*sent)(struct mcp_sink *sink);
	/* Drop the connection now, queued bytes and all (a client that stopped reading).
	 * Must not call back into mcp at once. */
	void (*abort)(struct mcp_sink *sink);
};

/* Embedded in each connection. The two pointers belong to mcp. */
struct mcp_sink {
	const struct mcp_sink_ops *ops;
	struct mcp_session *stream_of; /* this connection is the session's push stream */
	struct mcp_call *call;     /* a deferred call answers on this connection */
};

enum mcp_disposition {
	MCP_DONE,      /* answered; go on with the next request */
	MCP_CLOSE,     /* answered; close once sent */
	MCP_STREAMING, /* the connection now carries a stream; wait for resume() */
	MCP_PENDING,   /* the answer comes later; wait for resume() */
};

/* Tools: the dispatch table that the chat layer fills (tools.c). */
struct mcp_tool_ctx {
	struct mcp_server *srv;
	struct mcp_session *session;
	const cJSON *args; /* an object, never NULL */
	bool may_wait;     /* false in batches and when a wait has ended */
	/* A 2026-07-28 request: no session came with it. The tool names the session it acts for
	 * with mcp_tool_bind() or makes one with mcp_tool_mint() (minted says it did). */
	bool modern, minted;
	struct mcp_pending *pending; /* set by mcp_tool_defer() */
	/* Set by a tool that wants to wait: answer when an event with seq > wait_after arrives
	 * or after wait_ms; the tool is then called again with may_wait false. */
	uint64_t wait_after;
	uint32_t wait_ms;
	/* The result: structured content (owned by mcp once set) and whether it is an error. */
	cJSON *structured;
	char *structured_text; /* or the same as JSON text (malloc'd; owned by mcp once set) */
	bool is_error;
	const char *error_text; /* with is_error: the sentence for the text content */
	/* Or content blocks of the tool's own (text, image, audio, resource, mixed): the JSON
	 * text of the content array (malloc'd; owned by mcp once set). structured may come too. */
	char *content;
	/* The request's params._meta.progressToken (NULL: none), for mcp_tool_progress(). */
	const cJSON *progress_token;
	/* Notifications sent before the result, on the POST's own SSE answer (SSE events). */
	struct buf notes;
	double progress_sent; /* the last progress value sent (progress only grows) */
	bool progress_any;
	/* A 2026-07-28 request: 1 + the severity its _meta logLevel named (0: none given). */
	uint8_t log_meta;
	/* A request to the client (mcp_tool_ask): its JSON-RPC text without the id (malloc'd),
	 * and how long to wait for the answer. */
	char *ask;
	uint32_t ask_ms;
	/* Run again after mcp_tool_ask: asked is set, and reply is the client's result (NULL when
	 * it answered an error, or not within ask_ms). */
	bool asked;
	const cJSON *reply;
	/* Input in either era (mcp_tool_input_*): on a 2026-07-28 retry, params.inputResponses
	 * and the data of its verified requestState (NULL: the first round, or none sealed); the
	 * requests of this round ("key":{...} members) and the state to seal for the next. */
	const cJSON *input_responses;
	char *input_state;
	struct buf inputs;
	char *input_keep;
	uint8_t input_caps; /* 2026-07-28: what params._meta's clientCapabilities declare */
	/* Set by mcp_tool_poll(): the retry interval (ms) of a call whose stream closes early. */
	uint32_t poll_ms;
	/* Set by mcp_tool_missing_capability(): the call fails with -32021. */
	const char *missing_cap;
};

/* DONE: the result is in ctx. WAIT: wait for an event (wait_after, wait_ms), then run again.
 * PENDING: the answer comes later from the tool's owner (mcp_tool_defer). ASK: a request to
 * the client goes out (mcp_tool_ask); the tool runs again with its answer (ctx->reply). */
enum mcp_tool_status { MCP_TOOL_DONE, MCP_TOOL_WAIT, MCP_TOOL_UNKNOWN_ERROR, MCP_TOOL_PENDING,
		       MCP_TOOL_ASK };

struct mcp_tool {
	const char *name;
	const char *title;
	const char *description;
	const char *input_schema;  /* JSON text */
	const char *output_schema; /* JSON text or NULL */
	enum mcp_tool_status (*call)(struct mcp_tool_ctx *ctx);
};

/* Static documents offered as MCP resources and prompts. A resource has text, or blob
 * (base64) for binary content. */
struct mcp_resource {
	const char *uri, *name, *title, *description, *mime_type, *text;
	const char *blob;
};
/* A resource template (RFC 6570 level 1: "{name}" matches one path segment). read appends
 * the members of the contents array for uri (vars: an object of the variables' values);
 * returns 0 or -ENOENT (no such resource). */
struct mcp_resource_template {
	const char *uri_template, *name, *title, *description, *mime_type;
	int (*read)(const cJSON *vars, const char *uri, struct buf *contents);
};
/* A prompt argument; values (NULL-terminated, or NULL) are what completion/complete offers. */
struct mcp_prompt_arg {
	const char *name, *description;
	bool required;
	const char *const *values;
};
/* A prompt: one user text message of text, or what get appends (the members of the messages
 * array, for args: an object whose required arguments are checked to be strings); get
 * returns 0 or a negative errno. */
struct mcp_prompt {
	const char *name, *title, *description, *text;
	const struct mcp_prompt_arg *args;
	size_t n_args;
	int (*get)(const cJSON *args, struct buf *messages);
	/* Or a prompt that may ask for input first (mcp_tool_input_*; ctx->args are its
	 * arguments, ctx->srv is NULL): appends the messages and returns MCP_TOOL_DONE, or
	 * returns MCP_TOOL_ASK. Only a 2026-07-28 request can ask (input_required); on a 2025
	 * session prompts/get cannot wait, so the request fails and the prompt answers without. */
	enum mcp_tool_status (*get_input)(struct mcp_tool_ctx *ctx, struct buf *messages);
};

/* A second set of tools and documents offered next to the main one (test fixtures), listed
 * after it. subscribe declares resources.subscribe; completions declares completions. */
struct mcp_catalog {
	const struct mcp_tool *tools;
	size_t n_tools;
	const struct mcp_resource *resources;
	size_t n_resources;
	const struct mcp_resource_template *templates;
	size_t n_templates;
	const struct mcp_prompt *prompts;
	size_t n_prompts;
	bool subscribe, completions;
};

/* Why a session ended; the layer above maps it onto what its users are told. */
enum mcp_end_reason {
	MCP_END_DELETED,      /* the client sent DELETE */
	MCP_END_KICKED,       /* an admin ended it */
	MCP_END_IDLE,         /* no request and no stream for session_idle_s (chat_idle_s) */
	MCP_END_VANISHED,     /* its push stream closed and nothing came within the grace */
	MCP_END_SHUTDOWN,     /* the server is stopping */
};

/* Hooks for the layer above around the session lifecycle. */
struct mcp_hooks {
	void (*session_start)(void *ctx, struct mcp_session *s); /* cannot fail */
	void (*session_end)(void *ctx, struct mcp_session *s, enum mcp_end_reason why);
	void (*shutdown)(void *ctx);
	void *ctx;
	/* s's mailbox marked more events delivered (a push stream sent them, a Last-Event-ID
	 * covered them): acked is the new highest delivered seq. NULL: nobody asks. */
	void (*delivered)(void *ctx, struct mcp_session *s, uint64_t acked);
};

/* For a 2026-07-28 call: the session the tool acts for (found by the tool's own handle). */
void mcp_tool_bind(struct mcp_tool_ctx *ctx, struct mcp_session *s);
/* For a 2026-07-28 call: starts a new sessionless session (session_start hook runs) and binds
 * it. Returns 0, -EAGAIN at the session cap, or a getrandom error. Ended again by mcp if the
 * tool's result is an error, so a refused first call leaves nothing behind. */
int mcp_tool_mint(struct mcp_tool_ctx *ctx);
/* A tool that answers later (an engine waiting on a round trip to a store) takes a handle
 * here and returns MCP_TOOL_PENDING; mcp holds the request open (the answer goes out as one
 * SSE event on its POST, with keep-alive comments meanwhile) until mcp_pending_done(). NULL
 * when this call cannot wait (a batch): the tool must answer now. The handle is mcp's; it
 * stays valid until mcp_pending_done(), which the owner must call exactly once, whatever
 * happens to the client's connection. */
struct mcp_pending *mcp_tool_defer(struct mcp_tool_ctx *ctx);
/* The answer: result's structured (or structured_text), is_error and error_text, as a tool
 * sets them in its ctx; mcp takes structured and structured_text. Sent if the client is still
 * there, else dropped; p is freed either way. */
void mcp_pending_done(struct mcp_pending *p, struct mcp_tool_ctx *result);
/* An empty result for p that logs as the request asked (2026-07-28: its _meta logLevel; a
 * 2025 session: its logging/setLevel when the call was made): mcp_tool_log on it sends
 * notifications/message before the result. */
void mcp_pending_result_init(const struct mcp_pending *p, struct mcp_tool_ctx *result);
/* Has the client gone (its connection closed)? Work for it may stop; done is still due. */
bool mcp_pending_abandoned(const struct mcp_pending *p);

/* Severities of notifications/message, as logging/setLevel names them (RFC 5424). */
enum mcp_log_level {
	MCP_LOG_EMERGENCY, MCP_LOG_ALERT, MCP_LOG_CRITICAL, MCP_LOG_ERROR,
	MCP_LOG_WARNING, MCP_LOG_NOTICE, MCP_LOG_INFO, MCP_LOG_DEBUG,
};
/* notifications/progress for the request's progressToken, sent before the result on the
 * POST's SSE answer. total <= 0: none. Returns 0, -ENOENT (the request gave no token) or
 * -ERANGE (progress must increase with each notification; nothing sent). */
int mcp_tool_progress(struct mcp_tool_ctx *ctx, double progress, double total,
		      const char *message);
/* notifications/message at level (data: JSON text; logger may be NULL), sent before the
 * result when the session's logging/setLevel lets it through. Returns 1 sent, 0 filtered
 * (a 2026-07-28 request: only with an io.modelcontextprotocol/logLevel in its _meta that
 * lets it through; a call run again after a wait has none). */
int mcp_tool_log(struct mcp_tool_ctx *ctx, enum mcp_log_level level, const char *logger,
		 const char *data);
/* Did the client ask for log messages at level for this call: logging/setLevel sent on the
 * session (2025), or the request's _meta logLevel (2026-07-28)? mcp_tool_log sends at the
 * session's default level without it; a tool that logs only on request checks this. */
bool mcp_tool_log_asked(const struct mcp_tool_ctx *ctx, enum mcp_log_level level);
/* uri changed: notifications/resources/updated to every session subscribed to it, on its
 * push stream (as the session's events). Returns how many were told. */
int mcp_resource_updated(struct mcp_server *srv, const char *uri);

/* A server-to-client request (sampling/createMessage, elicitation/create, roots/list; params:
 * JSON text of an object) sent on the call's own SSE answer with an id of the server's; the
 * client's POSTed response (answered 202) runs the tool again with ctx->reply. The tool then
 * returns MCP_TOOL_ASK. Returns 0, -EOPNOTSUPP (the client did not declare the capability the
 * method needs) or -EAGAIN (this call cannot wait for a client: a batch, a 2026-07-28 request,
 * or it asked once already). */
int mcp_tool_ask(struct mcp_tool_ctx *ctx, const char *method, const char *params,
		 uint32_t timeout_ms);

/* SSE polling (2025-11-25, SEP-1699): once the call is parked, its POST stream gets a priming
 * event (an id, `retry: retry_ms`, empty data) and ends at once; the call goes on without a
 * connection, and the client reads the rest (its response) on a GET with that Last-Event-ID.
 * The tool returns MCP_TOOL_WAIT after this. Returns 0, or -EAGAIN when this call cannot be
 * resumed (a batch, a run after the wait, a 2026-07-28 request, a session that negotiated a
 * version before 2025-11-25, whose clients may not take an event with empty data): the tool
 * then answers, or waits on its open stream as usual. */
int mcp_tool_poll(struct mcp_tool_ctx *ctx, uint32_t retry_ms);

/* Input from the client, one API for both eras. A tool asks under a key of its choosing
 * (method: elicitation/create, sampling/createMessage or roots/list; params: JSON text of an
 * object) and returns MCP_TOOL_ASK. On a 2026-07-28 request the requests of one run become an
 * input_required result (inputRequests, and a sealed requestState carrying mcp_tool_input_keep's
 * text); the client retries the call with inputResponses and the tool runs again. On a 2025
 * session it is mcp_tool_ask: one request per call, its reply then answers any key.
 * Returns 0, -EOPNOTSUPP (the client did not declare the capability), -EAGAIN (this call
 * cannot ask: a batch, or a 2025 call that asked already) or -EINVAL (bad key or params). */
int mcp_tool_input_request(struct mcp_tool_ctx *ctx, const char *key, const char *method,
			   const char *params, uint32_t timeout_ms);
/* The call cannot go on without a capability the client did not declare ("sampling",
 * "elicitation", "roots"; static): the tool returns MCP_TOOL_DONE and the answer is
 * MissingRequiredClientCapabilityError (-32021, HTTP 400 at 2026-07-28) with
 * data.requiredCapabilities naming it (basic/index, Capabilities). */
void mcp_tool_missing_capability(struct mcp_tool_ctx *ctx, const char *capability);
/* The client's answer to the request under key (an object), or NULL when none came. */
const cJSON *mcp_tool_input_response(const struct mcp_tool_ctx *ctx, const char *key);
/* Text the next round finds in ctx->input_state (2026-07-28; sealed, so the client can read
 * but not change it). Returns 0 or -E2BIG. */
int mcp_tool_input_keep(struct mcp_tool_ctx *ctx, const char *state);

/* RFC 6570 level 1 matching: the template's variables in uri, as an object of strings
 * (caller frees), or NULL when uri does not match. A variable matches 1+ chars but '/'. */
cJSON *mcp_uri_template_match(const char *tmpl, const char *uri);

/* Was s made by a 2026-07-28 request (no session id; expires after chat_idle_s)? */
bool mcp_session_modern(const struct mcp_session *s);

/* Creates the server; cfg and timers must outlive it. Never NULL. */
struct mcp_server *mcp_server_new(const struct config *cfg, struct timer_heap *timers);
/* Frees the server; ends any session still open. */
void mcp_server_free(struct mcp_server *srv);
/* The configuration changed (SIGHUP): picks up limits kept outside cfg. */
void mcp_server_reconfigure(struct mcp_server *srv);
void mcp_server_set_tools(struct mcp_server *srv, const struct mcp_tool *tools, size_t n);
void mcp_server_set_documents(struct mcp_server *srv, const struct mcp_resource *res, size_t n_res,
			      const struct mcp_prompt *prompts, size_t n_prompts);
/* Adds cat next to the main tools and documents (kept by pointer; static). */
void mcp_server_add_catalog(struct mcp_server *srv, const struct mcp_catalog *cat);
void mcp_server_set_hooks(struct mcp_server *srv, const struct mcp_hooks *hooks);
/* The initialize result's instructions (static text, kept by pointer). */
void mcp_server_set_instructions(struct mcp_server *srv, const char *text);

/* Answers one request on sink; see enum mcp_disposition. */
enum mcp_disposition mcp_handle(struct mcp_server *srv, const struct http_request *req,
				struct mcp_sink *sink);
/* 503 with Retry-After, for a connection refused at the ceiling. */
void mcp_reply_busy(struct mcp_sink *sink, const char *why);
/* Answers an HTTP-level error (from the parser) and asks for close. */
void mcp_reply_http_error(struct mcp_sink *sink, int status, const char *why);
/* Bytes went out on sink: push-stream events now fully sent count as delivered. */
void mcp_sink_sent(struct mcp_server *srv, struct mcp_sink *sink);
/* The connection behind sink is gone: detach streams and cancel deferred calls. */
void mcp_sink_closed(struct mcp_server *srv, struct mcp_sink *sink);

/* Adds an event to s's mailbox and pushes it on its stream; wakes waiting calls. Returns
 * the seq (> 0), -ENOSPC (refusable and the mailbox is full) or -EINVAL (params is not a
 * JSON object). */
int64_t mcp_session_event(struct mcp_server *srv, struct mcp_session *s, const char *method,
			  const char *params, size_t len, bool refusable);
/* Ends a session (DELETE, kick, idle): hooks, streams and calls end, the id answers 404. */
void mcp_session_end(struct mcp_server *srv, struct mcp_session *s, enum mcp_end_reason why);

/* The layer above's state for s (set in the session_start hook). */
void *mcp_session_app(const struct mcp_session *s);
void mcp_session_set_app(struct mcp_session *s, void *app);
/* s's events: wait_for_message reads them and moves the cursor. */
struct mailbox *mcp_session_mailbox(struct mcp_session *s);
/* The admin handle: short, random, not a credential; never the session id. */
const char *mcp_session_handle(const struct mcp_session *s);

/* What admins see of a session. */
struct mcp_session_view {
	const char *handle;
	const char *protocol_version;
	bool modern;        /* 2026-07-28: no session id; named by the layer above */
	bool stream;        /* a push stream is open */
	uint64_t active_ms; /* last request (timer_now_ms clock) */
	uint32_t unread;
	void *app;
};
void mcp_session_view(const struct mcp_session *s, struct mcp_session_view *v);
typedef void (*mcp_session_fn)(void *ctx, struct mcp_session *s);
/* Calls fn for every session, newest first; fn must not end sessions. */
void mcp_each_session(struct mcp_server *srv, mcp_session_fn fn, void *ctx);
/* By admin handle (linear in sessions: admin use only); NULL when unknown. */
struct mcp_session *mcp_find_handle(struct mcp_server *srv, const char *handle);

/* Graceful stop: new requests get 503, sessions end, streams close. */
void mcp_server_shutdown(struct mcp_server *srv);
bool mcp_server_idle(const struct mcp_server *srv); /* nothing left to flush or answer */

struct mcp_stats {
	uint32_t sessions, streams, calls_waiting;
};
void mcp_server_stats(const struct mcp_server *srv, struct mcp_stats *st);

#endif
