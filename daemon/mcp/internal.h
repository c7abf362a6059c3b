#ifndef MCPCHAT_MCP_INTERNAL_H
#define MCPCHAT_MCP_INTERNAL_H

/* Private to daemon/mcp/: the session, the server and the parked call, and the functions the
 * mcp modules share. Nothing outside daemon/mcp/ (but white-box unit tests) includes this. */

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "mcp/jsonrpc.h"
#include "mcp/mailbox.h"
#include "mcp/mcp.h"
#include "mcp/state.h"
#include "net/timer.h"
#include "util/xalloc.h"

/* The protocol versions spoken, newest first; a session keeps the index of its own. The
 * first is the stateless revision (modern.c); the others open a session with initialize. */
extern const char *const mcp_versions[];
#define MCP_N_VERSIONS 4
#define MCP_VERSION_MODERN 0  /* 2026-07-28: per-request _meta, no session */
#define MCP_VERSION_LEGACY 1  /* 2025-11-25: the newest with initialize */
#define MCP_VERSION_BATCHES 3 /* 2025-03-26: the last version with JSON-RPC batches */
/* The index of v in mcp_versions, or -1 (also for NULL). */
int mcp_version_index(const char *v);
/* {"supported":[...all...],"requested":v} for UnsupportedProtocolVersionError (malloc'd). */
char *mcp_version_error_data(const char *requested);

/* Session ids are 192 bits from getrandom, base64url; lookups compare in constant time. Each
 * session also gets a short random handle for admins, which is not a credential and is
 * never accepted as an id. */
#define MCP_SESSION_RAW_LEN 24
#define MCP_SESSION_ID_LEN 32
#define MCP_SESSION_HANDLE_LEN 8
/* A named node's ids are "NODE." + the random part, so a load balancer can keep a session on
 * its node (packaging/haproxy-mcp-chat.cfg); the random part alone is the credential. */
#define MCP_NODE_MAX 16
#define MCP_SESSION_ID_MAX (MCP_NODE_MAX + 1 + MCP_SESSION_ID_LEN)

#define MCP_CAP_SAMPLING 1u
#define MCP_CAP_ELICITATION 2u
#define MCP_CAP_ROOTS 4u

struct mcp_session {
	uint8_t raw[MCP_SESSION_RAW_LEN];
	char id[MCP_SESSION_ID_MAX + 1];
	char handle[MCP_SESSION_HANDLE_LEN + 1];
	struct mcp_session *next; /* hash chain */
	struct mcp_session *prev_all, *next_all;

	uint8_t version;   /* index of the negotiated protocol version */
	uint8_t log_level; /* logging/setLevel, as an RFC 5424 severity */
	bool log_asked;    /* the client sent logging/setLevel (mcp_tool_log_asked) */
	uint8_t client_caps; /* MCP_CAP_*: what initialize said the client can be asked */
	bool ended;
	/* Made by a 2026-07-28 request (mcp_tool_mint): no session id is ever sent or accepted
	 * for it; the layer above names it (chat_id), and it ends after chat_idle_s unused. */
	bool modern;
	uint64_t created_ms;
	uint64_t active_ms; /* last request */
	struct timer idle;
	struct timer ping; /* keep-alive comments on the push stream */
	struct mcp_server *server;

	struct mailbox mbox;
	struct mcp_sink *stream; /* the open GET stream, if any */
	uint64_t pushed;         /* last seq written to that stream; later ones wait for room */
	uint64_t ping_sent;      /* stream bytes sent at the last keep-alive: progress check */
	uint64_t stream_lost_ms; /* the push stream closed and nothing came since (0: no) */
	struct mcp_call *calls;  /* calls waiting for events (wait_for_message) */
	/* The last answered tools/call that moved the wait_for_message cursor: its id as JSON
	 * text and the cursor before and after, so a cancellation of it (the client never saw
	 * the answer) puts the cursor back and nothing it returned is lost. */
	char undo_id[48];
	uint64_t undo_cursor, undo_to;
	uint32_t busy; /* requests being answered right now */
	/* POST streams a GET with Last-Event-ID can resume (resume.c), newest first: their count,
	 * the bytes of the answers they keep, and the number the next one gets. */
	struct mcp_pstream *pstreams;
	uint32_t n_pstreams, next_pstream;
	size_t pstream_bytes;
	char **subs;   /* resources/subscribe: the URIs (catalog.c) */
	uint32_t n_subs;
	void *app;     /* the layer above's state */
};

/* The session table: by id in a hash, and every session in a list for views. */
struct mcp_sessions {
	struct mcp_session **bucket;
	uint32_t mask;
	uint32_t count;
	uint32_t max;
	struct mcp_session *all; /* newest first */
	char node[MCP_NODE_MAX + 2]; /* "NODE." or "" */
};

void mcp_sessions_init(struct mcp_sessions *t, uint32_t max);
/* Ids made from now on start with "node." (NULL or "": none); only such ids are found. */
void mcp_sessions_set_node(struct mcp_sessions *t, const char *node);
/* Frees the table; sessions still in it must have been removed by the caller. */
void mcp_sessions_free(struct mcp_sessions *t);
/* Creates a session with fresh id and handle and adds it. Returns 0, -EAGAIN at the session
 * cap, or the getrandom error. The table owns *out until mcp_sessions_remove(). */
int mcp_sessions_create(struct mcp_sessions *t, uint32_t mailbox_capacity,
			struct mcp_session **out);
/* By id text; NULL when unknown (or malformed). */
struct mcp_session *mcp_sessions_find(const struct mcp_sessions *t, const char *id);
/* By admin handle; linear in sessions (admin use only). */
struct mcp_session *mcp_sessions_find_handle(const struct mcp_sessions *t, const char *handle);
/* Unlinks s and frees it with its mailbox. */
void mcp_sessions_remove(struct mcp_sessions *t, struct mcp_session *s);
/* Fills buf with random bytes from getrandom; 0 or -errno. */
int mcp_random(void *buf, size_t len);

/* A tool parameter mirrored into an Mcp-Param-{header} header (its schema's "x-mcp-header"). */
struct mcp_param_header {
	const struct mcp_tool *tool;
	char *param, *header;
};

struct mcp_server {
	const struct config *cfg;
	struct timer_heap *timers;
	struct mcp_sessions sessions;
	const struct mcp_tool *tools;
	size_t n_tools;
	char *tools_list; /* the tools/list result, built when the tools change */
	struct mcp_param_header *param_headers; /* every tool's, built with tools_list */
	size_t n_param_headers;
	const struct mcp_resource *resources;
	size_t n_resources;
	const struct mcp_prompt *prompts;
	size_t n_prompts;
	const struct mcp_catalog *catalog; /* offered next to the main set, or NULL */
	const char *instructions;
	struct mcp_hooks hooks;
	bool shutting_down;
	uint32_t streams, calls;
	uint64_t ask_seq; /* ids of server-to-client requests */
	uint8_t state_key[MCP_STATE_KEY_LEN]; /* seals requestState (getrandom at start) */
	bool state_keyed;
	struct mcp_state_used *state_used; /* opened states, so each opens once (owned) */
	/* Reused by post_single (never nested) so a request allocates no answer buffers. */
	struct buf scratch_result, scratch_body;
};

/* The answer buffers of one request (post_single, the modern path; never nested): taken
 * empty from the server and given back after, so a request allocates none. */
void mcp_scratch_take(struct mcp_server *srv, struct buf *result, struct buf *body);
void mcp_scratch_give(struct mcp_server *srv, struct buf *result, struct buf *body);

/* What a JSON-RPC request came to: a result, an error, or a wait. */
struct mcp_answer {
	struct buf result; /* JSON text of the result */
	int code;          /* JSON-RPC error code, 0 for a result */
	char message[256];
	char *error_data;  /* JSON text for error.data (malloc'd) or NULL */
	/* A 2026-07-28 request: results carry resultType and serverInfo, and cacheable ones
	 * (lists, discover, reads) ttlMs and cacheScope. */
	bool modern, cacheable;
	const cJSON *progress_token; /* params._meta.progressToken of a tools/call */
	uint8_t log_meta;   /* 2026-07-28: 1 + the _meta logLevel of a tools/call (0: none) */
	bool ask;           /* the tool asks the client (a->tool.ask); park with mcp_call_park */
	bool asked;         /* running again with the client's answer: */
	const cJSON *reply; /* its result, or NULL */
	struct mcp_tool_ctx tool; /* for tools/call */
	/* The request (a 2026-07-28 tools/call: its inputResponses, requestState and _meta), and
	 * whether the result is input_required rather than complete. */
	const char *method;
	const cJSON *params;
	bool input_required;
	const struct mcp_tool *t;
	bool wait;
	bool pending; /* the tool answers later (a->tool.pending, mcp_pending_done) */
};

void mcp_answer_error(struct mcp_answer *a, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The answer as a JSON-RPC response with id. */
void mcp_answer_append(struct buf *out, const cJSON *id, const struct mcp_answer *a);
/* Frees what the answer holds besides result. */
void mcp_answer_clear(struct mcp_answer *a);

/* reply.c: HTTP answers written into a sink. */
int mcp_reply_json(struct mcp_sink *sink, int status, const char *extra, const char *body,
		   size_t len, bool keep_alive);
void mcp_reply_accepted(struct mcp_sink *sink, bool keep_alive);
/* status with a JSON body (counted in the 4xx/5xx stats); req may be NULL (close). */
void mcp_reply_status(struct mcp_sink *sink, const struct http_request *req, int status,
		      const char *extra, const struct buf *body);
/* An HTTP-level refusal: status plus a JSON-RPC error with no id. req may be NULL (close). */
enum mcp_disposition mcp_refuse(struct mcp_sink *sink, const struct http_request *req,
				int status, int code, const char *extra, const char *message);

/* session.c: lifecycle. */
int mcp_session_start(struct mcp_server *srv, bool modern, struct mcp_session **out);
/* The session named by the request: 400 without the header, 404 when unknown (*d is set). */
struct mcp_session *mcp_session_require(struct mcp_server *srv, const struct http_request *req,
					struct mcp_sink *sink, enum mcp_disposition *d);
/* A request or a new stream: the client is there; the plain idle rule applies again. */
void mcp_session_touch(struct mcp_session *s);
void mcp_session_arm_idle(struct mcp_server *srv, struct mcp_session *s);

/* stream.c: the GET push stream. */
enum mcp_disposition mcp_stream_open(struct mcp_server *srv, const struct http_request *req,
				     struct mcp_sink *sink);
void mcp_stream_detach(struct mcp_server *srv, struct mcp_session *s);
void mcp_stream_ping(struct timer *t); /* the session's ping timer */

/* call.c: tools/call answered later. */
enum mcp_disposition mcp_call_park(struct mcp_server *srv, struct mcp_session *s,
				   struct mcp_sink *sink, const cJSON *id, struct mcp_answer *a,
				   bool keep_alive);
/* A parked call answers with the tool's result when woken; modern marks a 2026-07-28 one. */
/* Answers the call now with what its tool returns, and frees it. */
void mcp_call_finish(struct mcp_call *call);
/* A tool answered MCP_TOOL_PENDING: the call (made by mcp_tool_defer) now waits on sink for
 * mcp_pending_done(); answers at once if that came already. */
enum mcp_disposition mcp_call_park_pending(struct mcp_server *srv, struct mcp_sink *sink,
					   const cJSON *id, struct mcp_answer *a, bool keep_alive);
/* A tool took a handle but answered now after all: the handle goes. */
void mcp_call_drop_pending(struct mcp_pending *p);
/* A JSON-RPC response from the client: the answer to a call's mcp_tool_ask, which then
 * finishes. False when no call asked it (late, cancelled, or never asked: ignored). */
bool mcp_call_response(struct mcp_session *s, const struct jsonrpc_fields *f);
/* Wakes s's calls waiting for an event before seq. */
void mcp_call_wake(struct mcp_session *s, uint64_t seq);
/* Notes an answer that moved the wait_for_message cursor (for cancellation). */
void mcp_call_note_answer(struct mcp_session *s, const cJSON *id, uint64_t cursor_before);
/* A notification from the client (cancellation is the one that matters). */
void mcp_call_notification(struct mcp_session *s, const struct jsonrpc_fields *f);

/* resume.c: POST streams that outlive their connection (SSE polling, 2025-11-25, SEP-1699).
 * Such a stream's events have ids "N-M": N numbers the stream in its session, M is 0 for the
 * priming event and 1 for the response. Bounded per session: MCP_RESUME_STREAMS streams,
 * MCP_RESUME_BYTES of kept answers, each kept MCP_RESUME_TTL_MS at most. */
#define MCP_RESUME_STREAMS 8
#define MCP_RESUME_BYTES (256u * 1024)
#define MCP_RESUME_TTL_MS 60000
#define MCP_RESUME_ID_MAX 24
struct mcp_pstream {
	struct mcp_pstream *next;
	uint32_t no;           /* N in its event ids */
	struct mcp_call *call; /* the call still answering on it; NULL once it answered */
	char *answer;          /* then what nobody has read yet: its SSE events (malloc'd) */
	size_t answer_len;
	uint64_t expires_ms;   /* the kept answer goes after this */
};
/* A new resumable stream for call on s, or NULL at the cap (every stream still answering). */
struct mcp_pstream *mcp_resume_begin(struct mcp_session *s, struct mcp_call *call);
/* The id of event ev of ps ("N-M") into id (MCP_RESUME_ID_MAX bytes). */
void mcp_resume_event_id(const struct mcp_pstream *ps, uint32_t ev, char *id);
/* The call answered with no connection to carry it: ps keeps the notifications of that run
 * (SSE events) and msg (the response to id) until a GET with its Last-Event-ID reads them,
 * or they expire. ps->call must be NULL already. */
void mcp_resume_keep(struct mcp_session *s, struct mcp_pstream *ps, const cJSON *id,
		     const struct buf *notes, const char *msg, size_t len);
/* Unlinks ps from s and frees it. */
void mcp_resume_drop(struct mcp_session *s, struct mcp_pstream *ps);
/* Frees every stream of s (the session goes; its calls were finished first). */
void mcp_resume_free_all(struct mcp_session *s);
/* GET with a POST stream's Last-Event-ID: replays what followed it on that stream. */
enum mcp_disposition mcp_resume_open(struct mcp_server *srv, struct mcp_session *s,
				     const struct http_request *req, struct mcp_sink *sink);
/* call.c: a live call of a resumable stream gets a connection again (a resuming GET). */
void mcp_call_attach(struct mcp_call *call, struct mcp_sink *sink, bool keep_alive);
/* The connection carrying call is no longer its own (a newer GET took the stream over). */
void mcp_call_detach(struct mcp_call *call);

/* methods.c: JSON-RPC methods of an initialized session, or of a 2026-07-28 request (s NULL,
 * a->modern set: the tool binds the session it acts for). */
void mcp_methods_dispatch(struct mcp_server *srv, struct mcp_session *s, const char *method,
			  const cJSON *params, bool may_wait, struct mcp_answer *a);

/* catalog.c: resources, templates, subscriptions, prompts, completion over both sets. */
/* The i-th tool across both sets, or NULL past the end. */
const struct mcp_tool *mcp_catalog_tool(const struct mcp_server *srv, size_t i);
/* The capabilities object; session: a 2025 session's (logging, resources.subscribe). */
void mcp_catalog_capabilities(const struct mcp_server *srv, struct buf *b, bool session);
void mcp_catalog_list_resources(const struct mcp_server *srv, struct buf *out);
void mcp_catalog_list_templates(const struct mcp_server *srv, struct buf *out);
void mcp_catalog_read(const struct mcp_server *srv, const cJSON *params, struct mcp_answer *a);
void mcp_catalog_subscribe(const struct mcp_server *srv, struct mcp_session *s,
			   const cJSON *params, bool on, struct mcp_answer *a);
void mcp_catalog_subs_free(struct mcp_session *s);
void mcp_catalog_list_prompts(const struct mcp_server *srv, struct buf *out);
void mcp_catalog_get_prompt(const struct mcp_server *srv, const cJSON *params,
			    struct mcp_answer *a);
void mcp_catalog_complete(const struct mcp_server *srv, const cJSON *params, struct mcp_answer *a);
/* The completion result for the values starting with prefix (at most 100, total, hasMore). */
void mcp_complete_values(const char *const *values, const char *prefix, struct buf *out);
/* The SSE answer of a tool that sent notifications: head, notes, the message, the end. */
enum mcp_disposition mcp_reply_streamed(struct mcp_sink *sink, struct buf *notes,
					const char *msg, size_t len, bool keep_alive);

/* modern.c: a POST of the stateless revision (msg parsed; the caller releases it). */
enum mcp_disposition mcp_modern_post(struct mcp_server *srv, const struct http_request *req,
				     struct mcp_sink *sink, const cJSON *msg);
/* Does this POST take the 2026-07-28 path (streamable-http, Backward Compatibility)? */
bool mcp_modern_claims(const struct http_request *req, const cJSON *msg);
void mcp_methods_run_tool(struct mcp_server *srv, struct mcp_session *s,
			  const struct mcp_tool *t, const cJSON *args, bool may_wait,
			  struct mcp_answer *a);
/* The CallToolResult of what a tool put in ctx (takes ctx->structured and its text). */
void mcp_methods_tool_result(struct mcp_tool_ctx *ctx, const struct mcp_tool *t,
			     struct mcp_answer *a);
/* input.c: input_required (2026-07-28). Before a tool runs: checks params.inputResponses
 * and params.requestState into a->tool; false with a->code set when they are refused. */
bool mcp_input_begin(const struct mcp_server *srv, const char *name, const cJSON *args,
		     struct mcp_answer *a);
/* After it asked (a->tool.inputs): the input_required result in a->result. */
void mcp_input_result(const struct mcp_server *srv, const char *name, const cJSON *args,
		      struct mcp_answer *a);
/* The -32021 answer of a tool that called mcp_tool_missing_capability(). */
void mcp_input_missing(struct mcp_answer *a);
/* transport.c: what a capabilities object says the client can be asked (MCP_CAP_*). */
uint8_t mcp_client_caps(const cJSON *caps);
/* Builds the tools/list result for the tools set now (srv->tools_list). */
void mcp_methods_build_tools_list(struct mcp_server *srv);

/* headers.c: the 2026-07-28 header mirrors. Mcp-Method, Mcp-Name and a tools/call's
 * Mcp-Param-* headers against the body: NULL when they agree, else why (a static string or
 * written into why[len]) for a 400 -32020 HeaderMismatch. */
const char *mcp_headers_check(const struct mcp_server *srv, const struct http_request *req,
			      const char *method, const cJSON *params, char *why, size_t len);
/* A mirrored value: 0 literal (plain visible ASCII), 1 decoded from "=?base64?...?="
 * (*out malloc'd, NUL-terminated, *out_len bytes), -EINVAL invalid characters or base64. */
int mcp_headers_decode(const char *v, char **out, size_t *out_len);
/* Appends t's annotated parameters to out[n] (grown with xrealloc). -EINVAL with *why when an
 * x-mcp-header breaks a rule of the Schema Extension (or is nested: not supported). */
int mcp_headers_scan(const struct mcp_tool *t, struct mcp_param_header **out, size_t *n,
		     const char **why);
void mcp_headers_free(struct mcp_param_header *ph, size_t n);
/* Rebuilds srv->param_headers from every tool; aborts on an invalid definition (a bug). */
void mcp_headers_build(struct mcp_server *srv);

#endif
