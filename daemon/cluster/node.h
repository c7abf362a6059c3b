#ifndef MCPCHAT_CLUSTER_NODE_H
#define MCPCHAT_CLUSTER_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "net/ring.h"
#include "net/timer.h"
#include "redis/client.h"

/* This daemon as a member of a cluster (issue 15): its two Redis connections (commands, and
 * pub/sub for the engine's wake-ups), the cluster scripts registered on the first, and the
 * housekeeping every node does whatever the engine asks:
 *
 * - the epoch: a random value in P:epoch (P = "{key_prefix}"), set NX by whichever node
 *   comes first. Redis runs without persistence, so a Redis that restarted or was emptied has
 *   none, or another one: the node sets a fresh one and tells the engine (epoch_changed),
 *   which re-asserts its chats. Checked on every connect and every heartbeat.
 * - the heartbeat: every CLUSTER_NODE_HEARTBEAT_MS, HSET P:nodes NAME {addr, heartbeat_ms,
 *   pid, version, started_ms, state} with heartbeat_ms on Redis' clock (TIME): one clock for
 *   every node, so a reader's "age" does not depend on the hosts' clocks. No PEXPIRE (a hash
 *   field has none in Redis 7.0): readers judge liveness by age (stale after
 *   CLUSTER_NODE_STALE_MS); a node removes its own field on a clean stop, so the hash holds
 *   the nodes that exist plus those that crashed (bounded by the names in use).
 * - the timers: every CLUSTER_NODE_SWEEP_MS (and at once on connect) `sweep 64` until it
 *   says no more is due, then `fallback 64`; one script in flight at a time, a follow-up
 *   after CLUSTER_NODE_AGAIN_MS (never a loop within one turn). Ended chats go to the
 *   engine (chats_ended). While Redis is down nothing is queued: the next tick tries again.
 *
 * Everything here runs on the daemon's loop; no call blocks except cluster_node_new (it
 * reads the password file and may resolve the Redis host name). Replies from Redis are
 * shape-checked by the pure functions at the end (unit-tested without sockets): a malformed
 * one is counted and ignored, never trusted. */

#define CLUSTER_NODE_HEARTBEAT_MS 2000u /* fixed: 3 missed = stale, well under a chat's idle */
#define CLUSTER_NODE_STALE_MS (3 * CLUSTER_NODE_HEARTBEAT_MS)
#define CLUSTER_NODE_SWEEP_MS 1000u /* the single node's timers are exact; this is the lag */
#define CLUSTER_NODE_AGAIN_MS 10u   /* a sweep that said "more": the next one, after a breath */
#define CLUSTER_NODE_SWEEP_MAX 64   /* timers per script call: bounds its time in Redis */
#define CLUSTER_NODE_EPOCH_LEN 22   /* 128 bits, base64url */
#define CLUSTER_CHAT_ID_MAX 64

struct cluster_node;

/* What the engine gives. Every callback may be NULL; each runs on the loop and may issue
 * commands (cluster_node_redis) but must not free the node. */
struct cluster_node_hooks {
	void *ctx;
	/* Redis lost its state (epoch gone or another one): once per change. */
	void (*epoch_changed)(void *ctx);
	/* The subscriber connection came up (again): subscriptions are gone; subscribe and
	 * re-read what may have been missed. */
	void (*resubscribe)(void *ctx);
	/* The subscriber connection went (once per loss): doorbells may be missed until
	 * resubscribe. */
	void (*unsubscribed)(void *ctx);
	/* The command connection is up (again) and the epoch read (epoch_changed came first if
	 * it changed): what could not be asked while Redis was away may be asked now. */
	void (*connected)(void *ctx);
	/* Chats the sweep ended (idle expired); ids valid during the call only. Chat ids are
	 * credentials: never log them. */
	void (*chats_ended)(void *ctx, const char *const *ids, size_t n);
	/* The subscriber's pushes, passed through (redis/client.h). */
	resp_message_fn on_message;
	/* Tests only: a replacement for the sweep function, a script's source run by EVALSHA
	 * (NULL: the library's). */
	const char *sweep_source;
};

/* Reads cfg->cluster_password_file (never logged), creates both clients for
 * cfg->cluster_redis and starts connecting. cfg is read here only; hooks is copied. NULL
 * with *err: -EINVAL (no [cluster] redis, or a bad address), a config_read_secret error, or
 * redis_addr_parse's. */
struct cluster_node *cluster_node_new(const struct config *cfg, struct ring *ring,
				      struct timer_heap *timers,
				      const struct cluster_node_hooks *hooks, int *err);

/* The clients, for the engine's commands and subscriptions (owned by the node). */
struct redis_client *cluster_node_redis(struct cluster_node *n);
struct redis_client *cluster_node_subscriber(struct cluster_node *n);
/* A cluster script registered on the command client (for redis_evalsha), or NULL. */
struct resp_script *cluster_node_script(struct cluster_node *n, int script /* enum cluster_script */);
/* "{key_prefix}", the hash tag every key starts with (KEYS[1] of the scripts). */
const char *cluster_node_prefix(const struct cluster_node *n);
/* The command connection is up and its epoch was read since it came up (a lost state then
 * re-asserted first): a chat found missing now is gone, not lost with Redis' state. */
bool cluster_node_settled(const struct cluster_node *n);
/* The epoch this node last saw ("" before the first). */
const char *cluster_node_epoch(const struct cluster_node *n);

/* The heartbeat's "state" field. */
enum cluster_node_state { CLUSTER_NODE_STARTING, CLUSTER_NODE_RUNNING, CLUSTER_NODE_DRAINING };
void cluster_node_set_state(struct cluster_node *n, enum cluster_node_state st);
/* The heartbeat's "addr" (cut to fit); the first [server] listen until set. */
void cluster_node_set_addr(struct cluster_node *n, const char *addr);
const char *cluster_node_state_name(enum cluster_node_state st);

/* One member as read from P:nodes. */
struct cluster_member {
	char name[CONFIG_NODE_MAX + 1];
	char addr[64];
	char state[16];
	char version[32];
	int64_t pid;
	uint64_t heartbeat_ms, started_ms; /* Redis time */
	uint64_t age_ms;                   /* now - heartbeat_ms (0 when in the future) */
	bool alive;                        /* age_ms < CLUSTER_NODE_STALE_MS */
};
/* err 0: v[0..n) sorted by name (valid during the call), malformed = fields skipped; err < 0:
 * no answer (redis/resp.h's errors, -EPROTO for a reply that is not a hash). */
typedef void (*cluster_nodes_fn)(void *ctx, int err, const struct cluster_member *v, size_t n,
				 size_t malformed);
/* Reads P:nodes (and Redis' TIME, for the ages). 0: fn is called once; -ENOTCONN,
 * -ENOBUFS, -ENOMEM: it is not. */
int cluster_node_nodes(struct cluster_node *n, cluster_nodes_fn fn, void *ctx);

/* Wake-up lag: from a script's PUBLISH (its Redis TIME, in the payload "seq:ms") to the
 * wake-up's arrival here, on Redis' clock as this node estimates it from its heartbeats'
 * TIME (offset = Redis ms + half the round trip - local monotonic ms). A histogram in ms
 * (bucket i counts lags <= cluster_lag_bounds_ms[i]; the last is +Inf), a moving average and
 * the largest seen. */
#define CLUSTER_LAG_BUCKETS 12
extern const uint32_t cluster_lag_bounds_ms[CLUSTER_LAG_BUCKETS - 1];
struct cluster_lag {
	uint64_t count, sum_ms, max_ms;
	double ewma_ms;
	uint64_t buckets[CLUSTER_LAG_BUCKETS]; /* not cumulative */
};
void cluster_lag_add(struct cluster_lag *l, uint64_t lag_ms);

/* The cluster's own figures, read from P:stats and P:q with every heartbeat. */
struct cluster_figures {
	uint64_t chats, rooms, waiting; /* waiting: the random queue + named rooms' waiters */
	uint64_t read_local_ms;         /* timer_now_ms() when read; 0: never */
};

struct cluster_node_stats {
	struct redis_stats redis, subscriber;
	uint64_t epoch_changes;
	uint64_t heartbeats, heartbeat_failures;
	uint64_t last_heartbeat_ok_ms; /* Redis time of the last heartbeat stored; 0: never */
	uint64_t last_heartbeat_local_ms; /* timer_now_ms() when it was stored; 0: never */
	uint64_t sweeps, sweep_ended, sweep_failures; /* failures: no answer or an error reply */
	uint64_t fallbacks, fallback_matched, fallback_failures;
	uint64_t malformed; /* replies that failed their shape checks (ignored) */
	struct cluster_figures figures;
	struct cluster_lag lag;
};
void cluster_node_stats(const struct cluster_node *n, struct cluster_node_stats *st);

/* Graceful stop: timers off, the subscriber stopped, the own P:nodes field removed (when
 * UP; bounded by the client's command timeout) and then the command client stopped. Safe
 * twice and from a callback; no hook is called after it. */
void cluster_node_stop(struct cluster_node *n);
/* Stopped and nothing on the ring refers to it: it may be freed. */
bool cluster_node_idle(const struct cluster_node *n);
/* Once idle, or after ring_exit. NULL is fine. */
void cluster_node_free(struct cluster_node *n);

/* Pure parts (cluster/node_wire.c), no sockets. */

struct cluster_heartbeat {
	const char *addr, *version, *state;
	int64_t pid;
	uint64_t heartbeat_ms, started_ms;
};
/* The JSON of P:nodes' field into out; its length, or -ENOSPC. */
int cluster_heartbeat_json(const struct cluster_heartbeat *hb, char *out, size_t len);
/* A field of P:nodes into m (name from the field's key). 0 or -EPROTO (skipped). */
int cluster_member_parse(const char *name, size_t name_len, const char *json, size_t json_len,
			 uint64_t now_ms, struct cluster_member *m);
/* HGETALL's reply: *v (malloc'd, the caller frees; NULL when none) sorted by name, *malformed
 * fields skipped. 0, or -EPROTO when the reply is not a flat array of pairs. */
int cluster_members_parse(const redisReply *r, uint64_t now_ms, struct cluster_member **v,
			  size_t *n, size_t *malformed);
/* TIME's reply ["secs", "usecs"] as ms; 0 or -EPROTO. */
int cluster_time_parse(const redisReply *r, uint64_t *ms);

/* sweep's reply {"ok", fired, more(0/1), chat_id...}: ids point into r. 0, or -EPROTO for
 * any other shape (a chat id: 1-64 of [A-Za-z0-9_.-]). */
struct cluster_sweep {
	long long fired;
	bool more;
	size_t n_ended;
	const char *ended[CLUSTER_NODE_SWEEP_MAX];
};
int cluster_sweep_parse(const redisReply *r, struct cluster_sweep *out);
/* fallback's reply {"ok", matched, more}; 0 or -EPROTO. */
int cluster_fallback_parse(const redisReply *r, long long *matched, bool *more);

/* HMGET P:stats chats rooms named_waiting: three counts (nil = 0; a negative one, which
 * only a bug would leave, reads 0). 0 or -EPROTO. */
int cluster_stats_parse(const redisReply *r, uint64_t out[3]);
/* The publish time of a wake-up payload "seq:ms"; -ENOENT for "seq" or "end" (none), -EPROTO
 * for anything else. */
int cluster_wake_payload_ms(const char *p, size_t len, uint64_t *ms); /* via cluster_wake_payload_parse */

/* What an epoch read (GET's reply) means against the known one. */
enum cluster_epoch_verdict {
	CLUSTER_EPOCH_SAME,    /* as known */
	CLUSTER_EPOCH_FIRST,   /* none known yet: remember it, nothing changed */
	CLUSTER_EPOCH_CHANGED, /* another value: Redis lost its state (or another node set it) */
	CLUSTER_EPOCH_MISSING, /* nil: set a fresh one */
	CLUSTER_EPOCH_BAD,     /* not a plausible epoch: ignored (counted) */
};
enum cluster_epoch_verdict cluster_epoch_judge(const char *known, const redisReply *r);
/* A fresh epoch (CLUSTER_NODE_EPOCH_LEN + 1 bytes); 0 or -errno from getrandom. */
int cluster_epoch_new(char *out);

#endif
