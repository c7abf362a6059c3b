#ifndef MCPCHAT_TESTS_FAKE_REDIS_H
#define MCPCHAT_TESTS_FAKE_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "redis/client.h"

/* A scripted fake Redis for unit tests: a link seam that implements every function of
 * daemon/redis/client.h (a suite linking fake_redis.c gets these instead of client.c's, so
 * cluster/node.c and the engine above it run unchanged, without a socket or a ring).
 *
 * Every command a client accepts is recorded, in order, in one FIFO shared by the clients
 * (EVALSHA by its script's name and its argv after nkeys, so argv[0] is KEYS[1]); nothing is
 * answered until the test says so: with RESP text (parsed by hiredis' redisReader, as Redis
 * would send it) or an error code (-ECONNRESET, -ETIMEDOUT...). The test also pushes pub/sub
 * messages to the subscriber and moves the clients' states (on_state), so what the real
 * client would do on a reconnect or a lost connection happens here on the test's cue.
 *
 * States as client.h: a new client is CONNECTING (commands are queued, as the real one
 * queues them until UP); DOWN refuses at once (-ENOTCONN); fr_refuse makes the next
 * commands refused with an error of the test's choice (-ENOBUFS...). Stop and free fail
 * what is pending with -ECANCELED, exactly once, as the real client does.
 *
 * One process, one fake: the state is global; fr_reset() between tests. */

struct fr_cmd {
	struct fr_cmd *next;
	struct redis_client *cl;
	bool sub;           /* on the subscriber client */
	const char *script; /* EVALSHA: the script's name (NULL: a plain command) */
	int argc;
	char **argv;        /* copies, NUL-terminated (binary-safe with argvlen) */
	size_t *argvlen;
	resp_reply_fn fn;   /* NULL: the caller ignores the answer */
	void *ctx;
};

/* Forgets every command still recorded (without answering: the clients must be gone). */
void fr_reset(void);
/* The clients made since the last reset (NULL until made). */
struct redis_client *fr_cmd_client(void);
struct redis_client *fr_sub_client(void);

/* Pending commands: how many match what (NULL: all). what is a script's name ("send"), or a
 * command's name ("SUBSCRIBE", case-insensitive) for plain commands. */
size_t fr_count(const char *what);
/* The oldest pending command matching what, left in the FIFO (NULL: none). */
struct fr_cmd *fr_peek(const char *what);
/* The same, taken out of the FIFO: the test answers it (fr_reply / fr_fail) or frees it. */
struct fr_cmd *fr_take(const char *what);
/* Answers c with the reply resp parses to (one complete RESP reply) and frees c. */
void fr_reply(struct fr_cmd *c, const char *resp);
/* Answers c with err (no reply) and frees c. */
void fr_fail(struct fr_cmd *c, int err);
/* Frees a taken command without calling it back (never do it to one whose fn is due). */
void fr_cmd_free(struct fr_cmd *c);
/* argv[i] (NUL-terminated) or "" past the end. */
const char *fr_arg(const struct fr_cmd *c, int i);

/* Answers every pending command matching what with resp; how many. */
size_t fr_reply_all(const char *what, const char *resp);

/* A pub/sub push to the subscriber's on_message (channel and payload as C strings). */
void fr_publish(const char *channel, const char *payload);
/* Moves a client to st and calls its on_state. DOWN fails its pending commands with err
 * first (the real client's lost connection: -ECONNRESET, or -ETIMEDOUT for a hung one). */
void fr_set_state(struct redis_client *cl, enum redis_state st, int err);
/* Commands accepted from now on are refused with err (0: accepted again). */
void fr_refuse(int err);

#endif
