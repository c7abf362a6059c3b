#ifndef MCPCHAT_REDIS_RESP_H
#define MCPCHAT_REDIS_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "util/buf.h"

/* The RESP2 side of one Redis connection, without sockets: commands are formatted by
 * hiredis' redisFormatCommandArgv (binary-safe) into a byte buffer the I/O layer sends, and
 * replies are parsed by hiredis' redisReader and handed, in order, to the callback of the
 * command they answer (a FIFO: Redis answers a connection's commands in the order sent, so
 * any number may be in flight). Time is passed in (microseconds, CLOCK_MONOTONIC) so the
 * tests drive it. redis/client.c puts one of these on a socket of the ring. */

struct resp_limits {
	uint32_t max_pending;     /* commands awaiting a reply; over it: -ENOBUFS */
	size_t max_pending_bytes; /* their formatted bytes; over it: -ENOBUFS */
	/* One reply's weight (string bytes + 16 per element), and the bytes of a reply not yet
	 * complete: over it the connection is dropped (-EMSGSIZE). */
	size_t max_reply_bytes;
};

#define RESP_DEFAULT_MAX_PENDING 100000
#define RESP_DEFAULT_MAX_PENDING_BYTES (16u << 20)
#define RESP_DEFAULT_MAX_REPLY_BYTES (8u << 20)

/* A command's completion, called exactly once. err 0: reply is Redis' answer, an error
 * reply included (type REDIS_REPLY_ERROR; see resp_is_error); it is hiredis' redisReply,
 * owned by this module and valid during the call only. err < 0: no answer (reply NULL):
 * -ETIMEDOUT (no reply within the deadline), -ECONNRESET (the connection was lost or
 * dropped), -EACCES (AUTH refused), -EMSGSIZE (its reply was over the cap), -ECANCELED (the
 * client stopped). A callback may issue commands; it must not free the pipe or its client. */
typedef void (*resp_reply_fn)(void *ctx, int err, const redisReply *reply);

/* A message on a subscriber connection (RESP2 push: "message" or "pmessage"); the bytes
 * are valid during the call only and not NUL-terminated. pattern is NULL for "message". */
struct resp_message {
	const char *pattern, *channel, *payload;
	size_t pattern_len, channel_len, payload_len;
};
typedef void (*resp_message_fn)(void *ctx, const struct resp_message *m);

/* A Lua script for EVALSHA: its source and SHA-1 (computed here, so EVALSHA can be sent
 * before Redis has answered SCRIPT LOAD); or a function of a Lua library for FCALL. */
struct resp_script;

/* Copies name and source. */
struct resp_script *resp_script_new(const char *name, const char *source);
/* Copies name and function (its name in Redis); library (the library's source, with its
 * "#!lua name=" line) is borrowed and must outlive the script: an embedded text. */
struct resp_script *resp_function_new(const char *name, const char *function,
				      const char *library);
void resp_script_free(struct resp_script *s);
const char *resp_script_name(const struct resp_script *s);
/* A script's SHA-1 (hex); a function's name. */
const char *resp_script_sha(const struct resp_script *s);

struct resp_pipe;

struct resp_stats {
	uint64_t commands;       /* accepted */
	uint64_t replies;        /* matched to a command */
	uint64_t error_replies;  /* of which error replies */
	uint64_t refused;        /* -ENOBUFS at once */
	uint64_t noscript_retries;
	uint64_t messages;       /* pub/sub pushes */
	uint32_t pending;
	size_t pending_bytes;
	uint64_t rtt_last_us, rtt_ewma_us; /* issue to reply; EWMA with weight 1/8 */
};

/* lim NULL or zero fields: the defaults above. */
struct resp_pipe *resp_pipe_new(const struct resp_limits *lim);
/* Every pending callback gets -ECANCELED first. */
void resp_pipe_free(struct resp_pipe *p);
/* Subscriber mode: "message"/"pmessage" pushes go to fn; everything else to the FIFO. */
void resp_pipe_set_subscriber(struct resp_pipe *p, resp_message_fn fn, void *ctx);

/* Queues a command: its bytes go to resp_pipe_out, fn to the FIFO. 0, or -ENOBUFS over a
 * limit (fn is then never called). argvlen NULL: the arguments are C strings. */
int resp_pipe_command(struct resp_pipe *p, int argc, const char **argv, const size_t *argvlen,
		      resp_reply_fn fn, void *ctx, uint64_t now_us);
/* EVALSHA sha nkeys argv... (a function: FCALL name nkeys argv...): on a NOSCRIPT error
 * (a function's "ERR Function not found") the script is loaded (SCRIPT LOAD; FUNCTION LOAD
 * of its library) and the command sent once more, unseen by fn, which gets the second answer
 * whatever it is (counted in noscript_retries either way). */
int resp_pipe_evalsha(struct resp_pipe *p, struct resp_script *s, int nkeys, int argc,
		      const char **argv, const size_t *argvlen, resp_reply_fn fn, void *ctx,
		      uint64_t now_us);
/* A connection's first command (AUTH): it goes ahead of everything queued, its bytes to out
 * (the caller sends them before resp_pipe_out's), and is never refused. */
void resp_pipe_handshake(struct resp_pipe *p, int argc, const char **argv,
			 const size_t *argvlen, struct buf *out, resp_reply_fn fn, void *ctx,
			 uint64_t now_us);

/* The bytes waiting to be sent. The caller empties it (takes or swaps the buffer). */
struct buf *resp_pipe_out(struct resp_pipe *p);

/* Bytes from the server: every complete reply goes to its callback, in order. 0; -EPROTO
 * (not RESP, or a reply nobody asked for); -EMSGSIZE (a reply over the cap); or the error a
 * callback gave resp_pipe_halt. On any error the connection must go (resp_pipe_reset). */
int resp_pipe_feed(struct resp_pipe *p, const char *data, size_t len, uint64_t now_us);
/* From inside a callback: feed stops after it and returns err (< 0). */
void resp_pipe_halt(struct resp_pipe *p, int err);

/* The connection is gone: unsent bytes and a partial reply are dropped and every pending
 * callback gets err, each exactly once (commands queued by those callbacks stay queued). */
void resp_pipe_reset(struct resp_pipe *p, int err);
/* Fails the oldest pending command with err (the one whose reply was being read). */
void resp_pipe_fail_head(struct resp_pipe *p, int err);
/* Fails pending commands issued at or before cutoff_us, oldest first, with err; how many. */
uint32_t resp_pipe_expire(struct resp_pipe *p, uint64_t cutoff_us, int err);
/* The oldest pending command's issue time; false when nothing is pending. */
bool resp_pipe_oldest(const struct resp_pipe *p, uint64_t *issued_us);
uint32_t resp_pipe_pending(const struct resp_pipe *p);
void resp_pipe_stats(const struct resp_pipe *p, struct resp_stats *st);

/* reply is an error reply whose text starts with prefix ("NOSCRIPT", "WRONGPASS"...). */
bool resp_is_error(const redisReply *reply, const char *prefix);

#endif
