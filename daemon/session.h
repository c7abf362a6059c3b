#ifndef MCPCHAT_SESSION_H
#define MCPCHAT_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "mailbox.h"
#include "timer.h"

/* The session table: MCP sessions by id. Ids are 192 bits from getrandom, base64url; lookups
 * compare in constant time. Each session also gets a short random handle for admins, which
 * is not a credential and is never accepted as an id. */

#define SESSION_RAW_LEN 24
#define SESSION_ID_LEN 32
#define SESSION_HANDLE_LEN 8

struct mcp_sink;
struct mcp_call;
struct chat_user;

struct session {
	uint8_t raw[SESSION_RAW_LEN];
	char id[SESSION_ID_LEN + 1];
	char handle[SESSION_HANDLE_LEN + 1];
	struct session *next; /* hash chain */
	struct session *prev_all, *next_all;

	uint8_t version;   /* index of the negotiated protocol version */
	uint8_t log_level; /* logging/setLevel, as an RFC 5424 severity */
	bool ended;
	uint64_t created_ms;
	uint64_t active_ms; /* last request */
	struct timer idle;
	struct timer ping; /* keep-alive comments on the push stream */
	void *server;      /* the mcp_server owning it */

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
	uint32_t busy;           /* requests being answered right now */
	struct chat_user *user;
};

struct session_table {
	struct session **bucket;
	uint32_t mask;
	uint32_t count;
	uint32_t max;
	struct session *all; /* every session, newest first */
};

int session_table_init(struct session_table *t, uint32_t max);
/* Frees the table; sessions still in it must have been removed by the caller. */
void session_table_free(struct session_table *t);

/* Creates a session with fresh id and handle and adds it. Returns 0, -EAGAIN at the session
 * cap, -ENOMEM, or the getrandom error. The caller owns *out until session_remove(). */
int session_create(struct session_table *t, uint32_t mailbox_capacity, struct session **out);
/* Looks a session up by its id text; NULL when unknown (or malformed). */
struct session *session_find(const struct session_table *t, const char *id);
/* Looks a session up by admin handle; linear in sessions (admin use only). */
struct session *session_find_handle(const struct session_table *t, const char *handle);
/* Unlinks s and frees it with its mailbox. */
void session_remove(struct session_table *t, struct session *s);

/* Fills buf with random bytes from getrandom; 0 or -errno. */
int session_random(void *buf, size_t len);

#endif
