#ifndef MCPCHAT_FUZZ_COMMON_H
#define MCPCHAT_FUZZ_COMMON_H

/* Shared pieces of the libFuzzer harnesses: a server world without sockets, a fake
 * connection (sink) that records what mcp sends, and a strict checker for those bytes. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "mcp/internal.h"
#include "mcp/mcp.h"
#include "net/timer.h"
#include "util/buf.h"

/* Violated invariants end the run with a report (libFuzzer saves the input). */
#define FZ_CHECK(cond, ...)                                                                  \
	do {                                                                                 \
		if (!(cond))                                                                 \
			fz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);                     \
	} while (0)
void fz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 4, 5)));

/* The world: config, timers, MCP server and chat, as mcp-chatd wires them. */
struct fz_world {
	struct config cfg;
	struct timer_heap heap;
	struct mcp_server *srv;
	struct chat *chat;
};

/* Fuzz-friendly defaults: long idle and keep-alive timers (timer_run jumps ahead), small
 * send queue and mailboxes, room for a few thousand sessions. */
void fz_config(struct config *cfg);
void fz_world_up(struct fz_world *w);
void fz_world_down(struct fz_world *w);
void fz_quiet(void); /* logs below errors off */
void fz_dump(const char *p, size_t len); /* escaped, to stderr */

/* A fake connection. Bytes committed go to log (capped); sent trails committed in slow
 * mode so the send-queue limit can answer -ENOBUFS, as the server does. */
enum fz_kind { FZ_REQ_BODY, FZ_REQ_HEAD };
#define FZ_MAX_REQ 64

struct fz_sink {
	struct mcp_sink sink;
	const struct config *cfg;
	struct buf out;
	struct buf log;
	uint64_t committed, sent;
	bool slow, aborted, truncated, closed, open_at_close;
	bool foreign_bytes; /* the client sent bytes that are not UTF-8: no UTF-8 check */
	bool resumed, keep_alive;
	uint8_t kinds[FZ_MAX_REQ]; /* enum fz_kind per answered request, in order */
	size_t n_req;
};

void fz_sink_init(struct fz_sink *s, const struct config *cfg, bool slow);
/* Records that a request (or a parser error) is answered on s. */
void fz_sink_expect(struct fz_sink *s, enum fz_kind kind);
/* Some bytes went out: advances sent and tells mcp (mcp_sink_sent). */
void fz_sink_flush(struct mcp_server *srv, struct fz_sink *s);
/* The connection closes: mcp_sink_closed once, unless already done. */
void fz_sink_close(struct mcp_server *srv, struct fz_sink *s);
/* Checks the recorded bytes (fz_check_responses) and frees the sink. */
void fz_sink_finish(struct fz_sink *s);

/* Checks a connection's bytes: one complete HTTP/1.1 response per expected request, in
 * order, each well formed (status line, Content-Length or chunked, JSON bodies that parse
 * as UTF-8 JSON-RPC, SSE chunks with increasing ids). may_truncate: the bytes may stop
 * anywhere after a full prefix; open_last: the last response may be a stream still running
 * (the connection closed while mcp held it); utf8: JSON must be valid UTF-8. Returns NULL or what is wrong. */
const char *fz_check_responses(const char *p, size_t len, const uint8_t *kinds, size_t n,
			       bool may_truncate, bool open_last, bool utf8);

/* Strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF). */
bool fz_utf8_valid(const char *s, size_t len);

/* A session made by a real initialize on a throwaway sink; NULL when refused. */
struct mcp_session *fz_session_new(struct fz_world *w);
/* Runs one POST body in session s (or none) on a throwaway sink; the recorded response
 * bytes go to resp when not NULL (caller frees). Returns the disposition. */
enum mcp_disposition fz_post(struct fz_world *w, const char *sid, const char *body,
			     struct buf *resp);

/* Session table invariants once every connection has closed. */
void fz_check_quiet_world(struct fz_world *w);

/* xorshift: split points and other choices derived from the input. */
static inline uint32_t fz_rand(uint32_t *st)
{
	uint32_t x = *st ? *st : 0x9e3779b9u;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *st = x;
}

#endif
