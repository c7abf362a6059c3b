/* MCP sessions over lg_http: initialize, notifications/initialized, the GET push stream and
 * join_room (each pair of sessions shares a room); send_message, and the checks on every
 * message that arrives on a stream (from the partner, none missing, none twice, in order).
 * With --era modern a session is a 2026-07-28 chat instead (lg_modern.c): no initialize, a
 * chat_id from join_room, events read with wait_for_message on the second connection. */
#ifndef LG_MCP_H
#define LG_MCP_H

#include <stdbool.h>
#include <stdint.h>

#include "lg_conn.h"
#include "lg_util.h"

/* LG_S_MATCH (modern): joined, waiting for chatroom.found from wait_for_message */
enum lg_session_state { LG_S_NEW, LG_S_INIT, LG_S_NOTIF, LG_S_STREAM, LG_S_JOIN, LG_S_MATCH, LG_S_READY, LG_S_FAILED };

struct lg_session {
	int idx, partner;
	int state;
	char sid[96];
	char room[48];
	char chat[72];  /* modern: the chat_id join_room minted */
	u64 after;      /* modern: the `next` of the last wait_for_message answer */
	struct lg_conn *post, *stream; /* modern: stream is the wait_for_message connection */
	/* sending */
	u64 j_next, sent_ok, send_err;
	/* receiving (from the partner) */
	u64 expect, recv, dup, gap, ooo;
};

/* this process's sessions; session i's partner is i ^ 1 */
extern struct lg_session *lg_sess;
extern int lg_n_sess, lg_n_ready, lg_n_failed;
/* set when streams closing from now on are expected */
extern bool lg_mcp_stopping;

/* What a scenario does once a send_message is answered (and counted). */
typedef void (*lg_mcp_answer_fn)(struct lg_session *s, struct lg_req *r, u64 t);

/* The server of s: side B of each pair (odd sessions) talks to --url-b when there is one. */
const struct lg_target *lg_mcp_target(const struct lg_session *s);

/* Makes the MCP layer the connections' handler; on_answer may be NULL (no messages). */
void lg_mcp_init(lg_mcp_answer_fn on_answer);
/* n sessions, numbered from first_idx; idle ones hold only a push stream (LG_K_IDLE). */
void lg_mcp_alloc(int n, int first_idx);
/* Sets them all up, at most conc at once (listen backlogs are finite), until each is ready or
 * failed; false when the deadline passed first. */
bool lg_mcp_open(uint8_t kind, int conc, u64 deadline);
/* lg_mcp_alloc and lg_mcp_open for n sessions in pairs, each with a room; dies on failure. */
void lg_mcp_setup(int n);

/* Setup steps shared with lg_modern.c. */
void lg_mcp_session_fail(struct lg_session *s, const char *why, int status, const char *b, size_t n);
void lg_mcp_session_ready(struct lg_session *s);
bool lg_mcp_is_error_body(const char *b, size_t n);
/* One message.received from the partner, its text from after "m ": order, duplicates, gaps and
 * the delivery latency (t: when it arrived). */
void lg_mcp_check_message(struct lg_session *s, const char *text, u64 t);

/* Sends the next message; its text carries sender, sequence number, scheduled and sent time. */
void lg_mcp_send_message(struct lg_session *s, u64 t_sched);

struct lg_delivery {
	u64 sent_ok, send_err, recv, dup, gap, missing, unsent;
};

struct lg_delivery lg_mcp_delivery(void);
/* Waits until every outstanding request is answered and every message is delivered. */
void lg_mcp_drain(void);

#endif
