#ifndef MCPCHAT_REDIS_CLIENT_H
#define MCPCHAT_REDIS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "net/ring.h"
#include "net/timer.h"
#include "redis/resp.h"

/* One Redis connection on the daemon's io_uring loop: a non-blocking socket connected
 * through the ring, then AUTH when a password is given, then pipelined commands (redis/resp.h
 * matches replies to callbacks). No thread and no blocking call: a Redis that does not answer
 * a command within timeout_ms fails it (-ETIMEDOUT) and the connection is dropped and made
 * again (a RESP reply cannot be skipped), with exponential backoff and jitter between
 * attempts. Losing the connection fails every pending command (-ECONNRESET) exactly once.
 *
 * States: CONNECTING (socket connect and AUTH): commands are queued and sent once UP; UP;
 * DOWN (waiting to reconnect, or stopped): commands are refused at once (-ENOTCONN), so a
 * caller can answer "unavailable" rather than wait.
 *
 * A subscriber client (options.subscriber) is the same with pub/sub pushes going to
 * on_message. Subscriptions end with the connection: on_state(UP) after a reconnect is the
 * owner's cue to subscribe again (and to re-read what it may have missed). */

enum redis_state { REDIS_DOWN, REDIS_CONNECTING, REDIS_UP };

struct redis_client;
typedef void (*redis_state_fn)(void *ctx, enum redis_state st);

struct redis_options {
	const char *addr;     /* HOST:PORT, [IPV6]:PORT or unix:/path */
	const char *user;     /* ACL user for AUTH; NULL or "": AUTH with the password alone */
	const char *password; /* NULL or "": no AUTH. Copied, never logged */
	const char *name;     /* in log lines; default "redis" */
	uint32_t timeout_ms;  /* per command, and for connect + AUTH; default 2000 */
	uint32_t backoff_min_ms, backoff_max_ms; /* defaults 50 and 2000 */
	struct resp_limits limits;               /* zeros: resp.h's defaults */
	bool subscriber;
	resp_message_fn on_message; /* subscriber: the pushes */
	void *message_ctx;
	redis_state_fn on_state; /* may be NULL; may issue commands */
	void *state_ctx;
};

/* Counters for /metrics and `mcpchatctl status`. */
struct redis_stats {
	enum redis_state state;
	struct resp_stats resp;
	uint64_t connects;         /* connections that came up */
	uint64_t connect_failures; /* connect refused, failed or timed out */
	uint64_t disconnects;      /* up connections lost or dropped */
	uint64_t auth_failures;
	uint64_t timeouts;         /* commands failed with -ETIMEDOUT */
	uint64_t protocol_errors;  /* garbage from the server: dropped */
	uint64_t oversize;         /* a reply over the cap: dropped */
};

/* Where to connect: parsed (numeric addresses; a host name is resolved here, once, with a
 * blocking lookup: call at start-up only). */
struct redis_addr {
	struct sockaddr_storage sa;
	socklen_t len;
};
/* 0, or -EINVAL (malformed), -ENAMETOOLONG (unix path), -EHOSTUNREACH (name not resolved). */
int redis_addr_parse(const char *spec, struct redis_addr *a);

/* The delay before reconnect attempt n (0 first): min * 2^n capped at max, the upper half
 * of it chosen by rnd ("equal jitter", so attempts of many nodes spread out). */
uint32_t redis_backoff_ms(uint32_t attempt, uint32_t min_ms, uint32_t max_ms, uint32_t rnd);

/* Starts connecting at once. NULL with *err (from redis_addr_parse) when addr is bad. The
 * client uses ring and timers until redis_client_free. */
struct redis_client *redis_client_new(struct ring *ring, struct timer_heap *timers,
				      const struct redis_options *o, int *err);
/* No more reconnects: every pending command fails (-ECANCELED), the socket closes through
 * the ring. Safe from a callback. */
void redis_client_stop(struct redis_client *cl);
/* Stopped and no ring operation refers to the client any more: it may be freed. */
bool redis_client_idle(const struct redis_client *cl);
/* Once idle, or after ring_exit (whatever is left is closed and freed directly). */
void redis_client_free(struct redis_client *cl);

/* A completion of RING_OP_REDIS_CONNECT/RECV/SEND (the loop's dispatch). */
void redis_on_cqe(enum ring_op op, void *obj, struct io_uring_cqe *cqe);

/* Queues a command (binary-safe arguments; argvlen NULL: C strings). 0: fn will be called
 * exactly once (resp.h says with what). -ENOTCONN (DOWN) or -ENOBUFS (over the limits):
 * fn is never called. */
int redis_command(struct redis_client *cl, int argc, const char **argv, const size_t *argvlen,
		  resp_reply_fn fn, void *ctx);

/* Registers a Lua script with the client (which owns it until redis_client_free) and sends
 * SCRIPT LOAD when it can (a warm-up: EVALSHA reloads it on NOSCRIPT anyway). */
struct resp_script *redis_script_load(struct redis_client *cl, const char *name,
				      const char *source);
/* Registers a function of a Lua library with the client (which owns the handle until
 * redis_client_free; library is borrowed, as resp_function_new says), sending nothing: a
 * call finding the function missing loads the library. */
struct resp_script *redis_function(struct redis_client *cl, const char *name,
				   const char *function, const char *library);
/* FUNCTION LOAD of library when it can (a warm-up: "already exists" is fine, the reply is
 * not looked at). */
void redis_library_load(struct redis_client *cl, const char *library);
/* EVALSHA (FCALL for a function) with nkeys keys first in argv: NOSCRIPT ("ERR Function not
 * found") loads the script (library) and retries once, unseen by fn. Returns as
 * redis_command. */
int redis_evalsha(struct redis_client *cl, struct resp_script *s, int nkeys, int argc,
		  const char **argv, const size_t *argvlen, resp_reply_fn fn, void *ctx);

/* Subscriber clients: one channel or pattern per command, so each gets one confirmation
 * (fn may be NULL to ignore it). Returns as redis_command. */
enum redis_sub_op { REDIS_SUBSCRIBE, REDIS_UNSUBSCRIBE, REDIS_PSUBSCRIBE, REDIS_PUNSUBSCRIBE };
int redis_subscribe(struct redis_client *cl, enum redis_sub_op op, const char *channel,
		    size_t len, resp_reply_fn fn, void *ctx);
/* The command's name. Inline: a test's stand-in for this module (tests/unit/fake_redis.c)
 * names its commands the same way without linking it. */
static inline const char *redis_sub_op_name(enum redis_sub_op op)
{
	static const char *const names[] = { "SUBSCRIBE", "UNSUBSCRIBE", "PSUBSCRIBE",
					      "PUNSUBSCRIBE" };

	return names[op];
}

enum redis_state redis_client_state(const struct redis_client *cl);
const char *redis_state_name(enum redis_state st);
void redis_client_stats(const struct redis_client *cl, struct redis_stats *st);

#endif
