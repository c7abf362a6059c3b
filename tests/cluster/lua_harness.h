#ifndef MCPCHAT_TESTS_LUA_HARNESS_H
#define MCPCHAT_TESTS_LUA_HARNESS_H

#include <stdbool.h>
#include <sys/types.h>

#include <hiredis/hiredis.h>

#include "cluster/scripts.h"

/* The Lua suite's world: its own redis-server (127.0.0.1, a free ephemeral port, a temp
 * dir, no persistence; stopped by PID, and killed with the test if the test dies), one
 * hiredis connection, and the function library loaded from the generated table. */

#define LH_PREFIX "{mcpchat}"

struct lh_server {
	pid_t pid;
	int port;
	char dir[64];
};

/* 0 when the server answers PING; -1 (with a message on stderr) when it could not start. */
int lh_server_start(struct lh_server *s);
void lh_server_stop(struct lh_server *s);

/* Connects, FUNCTION LOADs the library (there already is fine); 0 on success. */
int lh_connect(const struct lh_server *s);
void lh_disconnect(void);
redisContext *lh_ctx(void);
/* A second connection (another "node") to s, or to lh_connect's server when s is NULL;
 * the caller frees it. */
redisContext *lh_connect_other(const struct lh_server *s);

/* FCALL of a script's function with KEYS[1] = LH_PREFIX and the argv given (n strings), on c or the
 * main connection (c NULL). The reply is kept until lh_free_replies (the test teardown). */
redisReply *lh_eval(redisContext *c, enum cluster_script s, int n, const char **argv);
/* FCALL of a script's function with 1 key and argv as cluster_call builds it (argv[0] = KEYS[1],
 * explicit lengths: binary-safe). The reply is the caller's (freeReplyObject). */
redisReply *lh_evalv(redisContext *c, enum cluster_script s, int argc, const char *const *argv,
		     const size_t *argvlen);
/* A plain command (printf-like, hiredis' format); kept like lh_eval's. */
redisReply *lh_cmd(const char *fmt, ...);
void lh_free_replies(void);

/* Element i of an array reply: its text ("" when it is not a string) or integer. */
const char *lh_str(const redisReply *r, size_t i);
long long lh_int(const redisReply *r, size_t i);
bool lh_ok(const redisReply *r);
/* The error code of an {"err", code, ...} reply, or "" for an ok one. */
const char *lh_err(const redisReply *r);

/* Sleeps ms milliseconds. */
void lh_sleep_ms(unsigned ms);

#endif
