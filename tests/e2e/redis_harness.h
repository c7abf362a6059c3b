#ifndef MCPCHAT_TESTS_REDIS_HARNESS_H
#define MCPCHAT_TESTS_REDIS_HARNESS_H

/* What the in-process Redis suites share (e2e_redis, e2e_cluster_node): a real io_uring ring
 * and timer heap driven by a small loop that dispatches the Redis clients' completions, and
 * redis-server processes of the test's own (an ephemeral port, a temporary directory, no
 * persistence; never the system one), stopped by PID. Every wait is bounded. */
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "net/ring.h"
#include "net/timer.h"
#include "redis/client.h"

extern struct ring R;
extern struct timer_heap H;
extern bool have_v6;          /* ::1 can be bound */
extern const char *redis_bin; /* $REDIS_SERVER or /usr/bin/redis-server */

/* Signals, the exit hook that kills what was started, redis_bin, have_v6, R and H; 0 or -1
 * (with a message naming suite). */
int rh_init(const char *suite);
/* R and H go. */
void rh_exit(void);

uint64_t ms_now(void);
/* One turn of the loop: timers, then at most max_wait ms for completions. */
void loop_once(uint64_t max_wait);
/* Runs the loop until *flag reaches want (flag NULL: for ms); false on timeout. */
bool drive_int(const int *flag, int want, uint64_t ms);
bool drive_state(struct redis_client *cl, enum redis_state st, uint64_t ms);
/* Stops a client, lets the ring finish with it, frees it (NULL is fine). */
void client_done(struct redis_client *cl);

/* One command's outcome. */
struct call {
	int done, err, type;
	long long integer;
	size_t len;
	char str[256];
};
void on_call(void *ctx, int err, const redisReply *r);
/* Sends argv (NULL-terminated C strings) and waits for the answer: 0 with c filled, or the
 * error redis_command returned, or -ETIME when no answer came. */
int run(struct redis_client *cl, struct call *c, ...);

/* A redis-server: dir is set by the caller (rs_mkdir makes a fresh one). */
struct rs {
	pid_t pid;
	int port;
	char dir[64];
	char unix_path[96];
	char tcp4[64], tcp6[64], unix_spec[112];
};
/* A fresh temporary directory in r->dir; 0 or -1. */
int rs_mkdir(struct rs *r);
/* Kills it and removes its directory; 0 or -1. */
int rs_remove(struct rs *r);
/* Starts redis-server on r->port (0: a free one) in r->dir; waits up to 5 s. */
int rs_start(struct rs *r);
/* A blocking PING over the unix socket: true once redis answers. */
bool rs_ping(const struct rs *r);
/* Remembers a child process to kill at exit. */
void track(pid_t pid);
/* SIGKILL and reap, by PID; *pid becomes 0. */
void kill_child(pid_t *pid);
void kill_all(void);
int free_port(void);
bool v6_loopback(void);

#endif
