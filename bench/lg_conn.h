/* Client connections on one edge-triggered epoll loop per process: non-blocking sockets with
 * TCP_NODELAY, a write buffer, the queue of requests awaiting an answer, and the read path that
 * hands bytes to the HTTP parser (lg_http). What happens on an answer is the layer above's:
 * it installs lg_conn_handlers. */
#ifndef LG_CONN_H
#define LG_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lg_util.h"

enum lg_conn_kind { LG_K_POST, LG_K_STREAM, LG_K_RAW, LG_K_IDLE };
/* what a queued request was, so that its answer goes to the right place */
enum lg_req_type { LG_T_INIT, LG_T_NOTIF, LG_T_GET, LG_T_JOIN, LG_T_SEND, LG_T_RAW, LG_T_WAIT };

#define LG_QMAX 64

struct lg_req {
	u64 t_sent, t_sched, j;
	uint8_t type;
};

struct lg_session;
struct lg_target;

struct lg_conn {
	int fd;
	const struct lg_target *tgt; /* the server it connects to (lg_opt.tgt[0] or [1]) */
	uint8_t kind;
	bool connecting, want_out, streaming, dead;
	struct lg_session *s;
	char *wb;
	size_t wlen, woff, wcap;
	char *rb;
	size_t rlen, rcap;
	/* response parser (lg_http.c) */
	uint8_t ps;
	int status;
	int64_t clen, chunk_left;
	bool chunked;
	char *body;
	size_t blen, bcap;
	char sid[96];
	/* an answer to a POST that came as text/event-stream: its first JSON-RPC response event is
	 * the answer (sse_answered once handed over), the rest of the stream is skipped */
	bool sse_post, sse_answered, is_sse;
	/* SSE */
	char *sb;
	size_t slen, scap;
	char *ev;
	size_t evlen, evcap;
	/* outstanding requests, oldest at qh */
	struct lg_req q[LG_QMAX];
	int qh, qn;
	u64 next_id;
	/* the request head up to "Content-Length: ", made once per session id */
	char head[512];
	size_t head_len;
	char head_sid[96];
	char head_tool[32]; /* 2026-07-28: the Mcp-Name the head carries ("" for 2025 heads) */
	bool head_made, head_has_sid;
};

struct lg_conn_handlers {
	void (*response)(struct lg_conn *c, struct lg_req *r, int status, const char *body, size_t blen);
	void (*stream_head)(struct lg_conn *c, int status);
	void (*sse_event)(struct lg_conn *c, const char *data, size_t len, u64 t);
	/* the connection is closed; had_outstanding: requests were still unanswered */
	void (*closed)(struct lg_conn *c, bool had_outstanding);
};

extern const struct lg_conn_handlers *lg_conn_on;

struct lg_conn_stats {
	u64 connect_errors, reconnects, closed_streams, bad_status, proto_errors;
};

extern struct lg_conn_stats lg_cstat;
/* time of the current wake-up of the loop */
extern u64 lg_loop_now;

void lg_conn_set_handlers(const struct lg_conn_handlers *h);
/* A connection being opened to --url; marked dead when connect() failed at once. */
struct lg_conn *lg_conn_new(uint8_t kind, struct lg_session *s);
/* The same to the server t (lg_opt.tgt[1]: side B's, --url-b). */
struct lg_conn *lg_conn_new_to(uint8_t kind, struct lg_session *s, const struct lg_target *t);
/* (Re)opens c's socket; -1 when connect() failed at once. */
int lg_conn_connect(struct lg_conn *c);
void lg_conn_close(struct lg_conn *c);
void lg_conn_write(struct lg_conn *c, const char *p, size_t n);
void lg_conn_flush(struct lg_conn *c);
/* Queues a request awaiting its answer; dies past LG_QMAX. */
struct lg_req *lg_conn_push(struct lg_conn *c, uint8_t type);
/* Removes the oldest request into *r; false when none was outstanding. */
bool lg_conn_pop(struct lg_conn *c, struct lg_req *r);

/* Spreads the next connections over the source addresses from the first-th on (a worker's
 * share of the ephemeral ports). */
void lg_conn_source_from(unsigned first);

/* The process's epoll instance (again in a forked worker). */
void lg_loop_init(void);
/* Waits at most timeout_ns (0: poll) and handles what is ready. */
void lg_loop_once(u64 timeout_ns);
/* Handles connections until fd (not a connection) becomes readable or hangs up. */
void lg_loop_until_readable(int fd);
/* Time spent polling with nothing ready (relay spins between sends). */
u64 lg_loop_idle_ns(void);

#endif
