/* A cluster node's membership and housekeeping (cluster/node.h): thin I/O over two Redis
 * clients; what the replies mean is decided by node_wire.c's pure functions. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cluster/node.h"
#include "cluster/scripts.h"
#include "mcpchat/version.h"
#include "util/log.h"
#include "util/xalloc.h"

struct cluster_node {
	struct ring *ring;
	struct timer_heap *timers;
	struct cluster_node_hooks hooks;
	struct redis_client *cmd, *sub;
	struct resp_script *scripts[CLUSTER_SCRIPT_COUNT];
	char prefix[48], key_epoch[64], key_nodes[64], key_stats[64], key_q[64];
	char name[CONFIG_NODE_MAX + 1], addr[64];
	char epoch[CLUSTER_CHAT_ID_MAX + 1];
	char candidate[CLUSTER_NODE_EPOCH_LEN + 1];
	uint64_t started_ms;
	enum cluster_node_state state;
	struct timer hb_timer, sweep_timer;
	/* One of each in flight at a time: a slow Redis gets no pile of them. */
	bool hb_busy, epoch_busy, sweep_busy, hdel_pending, stopping, freeing, fig_busy;
	bool reconnected; /* the command connection came up; its epoch not read yet */
	bool sub_up;      /* the subscriber connection is up: its loss is told once */
	/* Redis' clock minus the local monotonic one (ms), from the heartbeats' TIME. */
	bool have_offset;
	int64_t offset_ms;
	uint64_t time_sent_ms; /* mono_ms() when the heartbeat's TIME went */
	uint64_t fig_stats[3]; /* chats, rooms, named_waiting: until ZCARD P:q answers */
	bool fig_stats_ok;
	struct cluster_node_stats st;
};

static uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool up(const struct cluster_node *n)
{
	return !n->stopping && n->cmd && redis_client_state(n->cmd) == REDIS_UP;
}

/* The epoch */

static void epoch_assert(struct cluster_node *n);

static void on_epoch_get(void *ctx, int err, const redisReply *r)
{
	struct cluster_node *n = ctx;

	n->epoch_busy = false;
	if (n->stopping || err < 0 || r->type == REDIS_REPLY_ERROR)
		return; /* transient: the next heartbeat reads it again */
	switch (cluster_epoch_judge(n->epoch, r)) {
	case CLUSTER_EPOCH_SAME:
		break;
	case CLUSTER_EPOCH_FIRST:
		memcpy(n->epoch, r->str, r->len + 1);
		break;
	case CLUSTER_EPOCH_CHANGED:
		memcpy(n->epoch, r->str, r->len + 1);
		n->st.epoch_changes++;
		log_warn("cluster: the Redis state was lost (a new epoch): re-asserting this node's chats");
		if (n->hooks.epoch_changed)
			n->hooks.epoch_changed(n->hooks.ctx);
		break;
	case CLUSTER_EPOCH_MISSING:
		epoch_assert(n);
		break;
	case CLUSTER_EPOCH_BAD:
		n->st.malformed++;
		break;
	}
	/* Up again and the epoch known (a lost state was re-asserted first): what failed while
	 * Redis was away may be asked again now. */
	if (n->reconnected && n->epoch[0]) {
		n->reconnected = false;
		if (n->hooks.connected)
			n->hooks.connected(n->hooks.ctx);
	}
}

static void on_epoch_set(void *ctx, int err, const redisReply *r)
{
	(void)ctx, (void)err, (void)r; /* whoever won, the GET after it tells */
}

/* SET NX a fresh epoch, then read whichever is there. */
static void epoch_assert(struct cluster_node *n)
{
	const char *set[] = { "SET", n->key_epoch, n->candidate, "NX" };
	const char *get[] = { "GET", n->key_epoch };

	if (n->epoch_busy || !up(n) || cluster_epoch_new(n->candidate) < 0)
		return;
	if (redis_command(n->cmd, 4, set, NULL, on_epoch_set, n) < 0)
		return;
	n->epoch_busy = redis_command(n->cmd, 2, get, NULL, on_epoch_get, n) == 0;
}

static void epoch_check(struct cluster_node *n)
{
	const char *get[] = { "GET", n->key_epoch };

	if (n->epoch_busy || !up(n))
		return;
	n->epoch_busy = redis_command(n->cmd, 2, get, NULL, on_epoch_get, n) == 0;
}

/* The heartbeat */

static void on_hb_set(void *ctx, int err, const redisReply *r)
{
	struct cluster_node *n = ctx;

	n->hb_busy = false;
	if (err < 0 || r->type == REDIS_REPLY_ERROR) {
		if (err != -ECANCELED)
			n->st.heartbeat_failures++;
		return;
	}
	n->st.heartbeats++;
	n->st.last_heartbeat_local_ms = timer_now_ms();
}

/* The cluster's figures: HMGET P:stats, then ZCARD P:q (Redis answers in order). */
static void on_fig_stats(void *ctx, int err, const redisReply *r)
{
	struct cluster_node *n = ctx;

	n->fig_stats_ok = err == 0 && cluster_stats_parse(r, n->fig_stats) == 0;
	if (err == 0 && !n->fig_stats_ok && r->type != REDIS_REPLY_ERROR)
		n->st.malformed++;
}

static void on_fig_queue(void *ctx, int err, const redisReply *r)
{
	struct cluster_node *n = ctx;

	n->fig_busy = false;
	if (err < 0 || !n->fig_stats_ok || r->type != REDIS_REPLY_INTEGER || r->integer < 0)
		return;
	n->st.figures = (struct cluster_figures){
		.chats = n->fig_stats[0], .rooms = n->fig_stats[1],
		.waiting = (uint64_t)r->integer + n->fig_stats[2], .read_local_ms = timer_now_ms(),
	};
}

static void read_figures(struct cluster_node *n)
{
	const char *hmget[] = { "HMGET", n->key_stats, "chats", "rooms", "named_waiting" };
	const char *zcard[] = { "ZCARD", n->key_q };

	if (n->fig_busy || redis_command(n->cmd, 5, hmget, NULL, on_fig_stats, n) < 0)
		return;
	n->fig_stats_ok = false;
	n->fig_busy = redis_command(n->cmd, 2, zcard, NULL, on_fig_queue, n) == 0;
}

/* The wake-up lag needs Redis' clock here: TIME was read about half its round trip ago. */
static void clock_offset(struct cluster_node *n, uint64_t redis_ms)
{
	uint64_t now = mono_ms();

	n->offset_ms = (int64_t)(redis_ms + (now - n->time_sent_ms) / 2) - (int64_t)now;
	n->have_offset = true;
}

static void on_hb_time(void *ctx, int err, const redisReply *r)
{
	struct cluster_node *n = ctx;
	struct cluster_heartbeat hb = { .addr = n->addr, .version = MCPCHAT_VERSION,
					.state = cluster_node_state_name(n->state),
					.pid = getpid(), .started_ms = n->started_ms };
	char json[512];
	const char *argv[] = { "HSET", n->key_nodes, n->name, json };

	if (err < 0 || n->stopping || cluster_time_parse(r, &hb.heartbeat_ms) < 0) {
		if (err == 0 && r->type != REDIS_REPLY_ERROR)
			n->st.malformed++;
		goto fail;
	}
	if (cluster_heartbeat_json(&hb, json, sizeof(json)) < 0 ||
	    redis_command(n->cmd, 4, argv, NULL, on_hb_set, n) < 0)
		goto fail;
	/* Stored, unless the HSET fails: then on_hb_set counts it and this is never read. */
	n->st.last_heartbeat_ok_ms = hb.heartbeat_ms;
	clock_offset(n, hb.heartbeat_ms);
	read_figures(n);
	return;
fail:
	n->hb_busy = false;
	if (!n->stopping)
		n->st.heartbeat_failures++;
}

static void heartbeat(struct cluster_node *n)
{
	const char *argv[] = { "TIME" };

	if (!up(n))
		return;
	epoch_check(n);
	if (n->hb_busy)
		return;
	/* TIME first: heartbeat_ms on Redis' clock, the one every reader compares with. */
	n->time_sent_ms = mono_ms();
	if (redis_command(n->cmd, 1, argv, NULL, on_hb_time, n) == 0)
		n->hb_busy = true;
	else
		n->st.heartbeat_failures++;
}

static void on_hb_timer(struct timer *t)
{
	struct cluster_node *n = container_of(t, struct cluster_node, hb_timer);

	if (n->stopping)
		return;
	heartbeat(n);
	timer_arm(n->timers, &n->hb_timer, timer_now_ms() + CLUSTER_NODE_HEARTBEAT_MS);
}

/* The timers: sweep until nothing more is due, then fallback. */

static void sweep_again(struct cluster_node *n, bool more)
{
	n->sweep_busy = false;
	if (!n->stopping)
		timer_arm(n->timers, &n->sweep_timer,
			  timer_now_ms() + (more ? CLUSTER_NODE_AGAIN_MS : CLUSTER_NODE_SWEEP_MS));
}

static bool script_ok(struct cluster_node *n, int err, const redisReply *r, uint64_t *failures)
{
	if (n->stopping)
		return false;
	if (err < 0 || r->type == REDIS_REPLY_ERROR) {
		(*failures)++;
		/* Only the error's code (ERR, OOM, BUSY...): the rest of a script error may quote
		 * a key, and keys hold chat ids, which are never logged. */
		if (err == 0)
			log_warn("cluster: a timer script failed: %.*s",
				 (int)strcspn(r->str ? r->str : "", " \r\n"), r->str ? r->str : "");
		return false;
	}
	return true;
}

static void on_fallback(void *ctx, int err, const redisReply *r)
{
	struct cluster_node *n = ctx;
	long long matched;
	bool more = false;

	if (script_ok(n, err, r, &n->st.fallback_failures)) {
		n->st.fallbacks++;
		if (cluster_fallback_parse(r, &matched, &more) == 0)
			n->st.fallback_matched += (uint64_t)matched;
		else
			n->st.malformed++;
	}
	sweep_again(n, more);
}

static int run_script(struct cluster_node *n, enum cluster_script s, resp_reply_fn fn)
{
	char max[16];
	const char *argv[] = { n->prefix, max };

	snprintf(max, sizeof(max), "%d", CLUSTER_NODE_SWEEP_MAX);
	return redis_evalsha(n->cmd, n->scripts[s], 1, 2, argv, NULL, fn, n);
}

static void on_sweep(void *ctx, int err, const redisReply *r)
{
	struct cluster_node *n = ctx;
	struct cluster_sweep sw;

	if (!script_ok(n, err, r, &n->st.sweep_failures)) {
		sweep_again(n, false);
		return;
	}
	n->st.sweeps++;
	if (cluster_sweep_parse(r, &sw) < 0) {
		n->st.malformed++; /* nothing in it is believed, "more" included */
		sweep_again(n, false);
		return;
	}
	n->st.sweep_ended += sw.n_ended;
	if (sw.n_ended && n->hooks.chats_ended)
		n->hooks.chats_ended(n->hooks.ctx, sw.ended, sw.n_ended);
	if (sw.more || n->stopping || !up(n)) {
		sweep_again(n, sw.more);
		return;
	}
	/* Nothing more due: fallback now finds only what fell due since (its expiries end chats
	 * it does not name: the engine hears of those by their `end` wake-up). */
	if (run_script(n, CLUSTER_SCRIPT_FALLBACK, on_fallback) < 0)
		sweep_again(n, false);
}

static void on_sweep_timer(struct timer *t)
{
	struct cluster_node *n = container_of(t, struct cluster_node, sweep_timer);

	if (n->stopping || n->sweep_busy)
		return; /* the one in flight arms the next */
	if (!up(n)) {
		sweep_again(n, false); /* no queueing while down: just try later */
		return;
	}
	n->sweep_busy = true;
	if (run_script(n, CLUSTER_SCRIPT_SWEEP, on_sweep) < 0)
		sweep_again(n, false);
}

/* Connection states */

static void on_cmd_state(void *ctx, enum redis_state st)
{
	struct cluster_node *n = ctx;

	if (n->stopping || st != REDIS_UP)
		return;
	/* Connected (again): the epoch, a heartbeat and the timers at once. */
	n->reconnected = true;
	epoch_assert(n);
	timer_arm(n->timers, &n->hb_timer, timer_now_ms());
	if (!n->sweep_busy)
		timer_arm(n->timers, &n->sweep_timer, timer_now_ms());
}

static void on_sub_state(void *ctx, enum redis_state st)
{
	struct cluster_node *n = ctx;

	if (st == REDIS_UP) {
		n->sub_up = true;
		if (!n->stopping && n->hooks.resubscribe)
			n->hooks.resubscribe(n->hooks.ctx);
	} else if (n->sub_up) {
		n->sub_up = false;
		if (!n->stopping && n->hooks.unsubscribed)
			n->hooks.unsubscribed(n->hooks.ctx);
	}
}

/* Wake-ups: their lag is measured here, then they go to the engine unchanged. */
static void on_sub_message(void *ctx, const struct resp_message *m)
{
	struct cluster_node *n = ctx;
	uint64_t pub_ms;
	int64_t lag;

	if (n->have_offset && cluster_wake_payload_ms(m->payload, m->payload_len, &pub_ms) == 0) {
		lag = (int64_t)mono_ms() + n->offset_ms - (int64_t)pub_ms;
		cluster_lag_add(&n->st.lag, lag > 0 ? (uint64_t)lag : 0);
	}
	if (n->hooks.on_message)
		n->hooks.on_message(n->hooks.ctx, m);
}

/* Life */

/* Both clients; the password is copied by each (and wiped by the caller). */
static int make_clients(struct cluster_node *n, const struct config *cfg, const char *password)
{
	struct redis_options o = {
		.addr = cfg->cluster_redis,
		.user = cfg->cluster_redis_user,
		.password = password,
		.name = "redis",
		.on_state = on_cmd_state,
		.state_ctx = n,
	};
	int err = 0;

	n->cmd = redis_client_new(n->ring, n->timers, &o, &err);
	if (!n->cmd)
		return err;
	o.name = "redis-sub";
	o.subscriber = true;
	o.on_message = on_sub_message;
	o.message_ctx = n;
	o.on_state = on_sub_state;
	n->sub = redis_client_new(n->ring, n->timers, &o, &err);
	return n->sub ? 0 : err;
}

static void set_names(struct cluster_node *n, const struct config *cfg)
{
	snprintf(n->prefix, sizeof(n->prefix), "{%s}", cfg->cluster_key_prefix);
	snprintf(n->key_epoch, sizeof(n->key_epoch), "%s:epoch", n->prefix);
	snprintf(n->key_nodes, sizeof(n->key_nodes), "%s:nodes", n->prefix);
	snprintf(n->key_stats, sizeof(n->key_stats), "%s:stats", n->prefix);
	snprintf(n->key_q, sizeof(n->key_q), "%s:q", n->prefix);
	snprintf(n->name, sizeof(n->name), "%s", cfg->cluster_node);
	snprintf(n->addr, sizeof(n->addr), "%s", cfg->n_listen > 0 ? cfg->listen[0] : "");
}

struct cluster_node *cluster_node_new(const struct config *cfg, struct ring *ring,
				      struct timer_heap *timers,
				      const struct cluster_node_hooks *hooks, int *err)
{
	struct cluster_node *n = NULL;
	char password[512] = "";
	int rc = -EINVAL;

	if (!cfg->cluster_redis[0] || !cfg->cluster_node[0])
		goto fail;
	if (cfg->cluster_password_file[0]) {
		rc = config_read_secret(cfg->cluster_password_file, password, sizeof(password));
		if (rc < 0)
			goto fail;
	}
	n = xcalloc(1, sizeof(*n));
	n->ring = ring;
	n->timers = timers;
	if (hooks)
		n->hooks = *hooks;
	n->started_ms = wall_ms();
	set_names(n, cfg);
	timer_init(&n->hb_timer, on_hb_timer);
	timer_init(&n->sweep_timer, on_sweep_timer);
	rc = make_clients(n, cfg, password);
	if (rc < 0)
		goto fail;
	/* Registered now, the library loaded as soon as the connection is up (a call loads it
	 * anyway when Redis lacks it: a restart without persistence, another epoch). */
	redis_library_load(n->cmd, cluster_scripts_library());
	for (int s = 0; s < CLUSTER_SCRIPT_COUNT; s++) {
		const char *name = cluster_script_name((enum cluster_script)s);

		if (s == CLUSTER_SCRIPT_SWEEP && n->hooks.sweep_source)
			n->scripts[s] = redis_script_load(n->cmd, name, n->hooks.sweep_source);
		else
			n->scripts[s] = redis_function(n->cmd, name,
						       cluster_script_function((enum cluster_script)s),
						       cluster_scripts_library());
	}
	explicit_bzero(password, sizeof(password));
	return n;
fail:
	explicit_bzero(password, sizeof(password));
	if (n) {
		n->stopping = true;
		cluster_node_free(n);
	}
	*err = rc;
	return NULL;
}

struct redis_client *cluster_node_redis(struct cluster_node *n)
{
	return n->cmd;
}

struct redis_client *cluster_node_subscriber(struct cluster_node *n)
{
	return n->sub;
}

struct resp_script *cluster_node_script(struct cluster_node *n, int script)
{
	return script >= 0 && script < CLUSTER_SCRIPT_COUNT ? n->scripts[script] : NULL;
}

const char *cluster_node_prefix(const struct cluster_node *n)
{
	return n->prefix;
}

bool cluster_node_settled(const struct cluster_node *n)
{
	return up(n) && !n->reconnected && n->epoch[0];
}

const char *cluster_node_epoch(const struct cluster_node *n)
{
	return n->epoch;
}

void cluster_node_set_state(struct cluster_node *n, enum cluster_node_state st)
{
	n->state = st;
}

void cluster_node_set_addr(struct cluster_node *n, const char *addr)
{
	snprintf(n->addr, sizeof(n->addr), "%s", addr);
}

const char *cluster_node_state_name(enum cluster_node_state st)
{
	switch (st) {
	case CLUSTER_NODE_STARTING:
		return "starting";
	case CLUSTER_NODE_RUNNING:
		return "running";
	case CLUSTER_NODE_DRAINING:
		return "draining";
	}
	return "unknown";
}

/* `mcpchatctl nodes`: TIME and HGETALL pipelined; the request lives until both answered. */
struct nodes_req {
	struct cluster_node *node;
	cluster_nodes_fn fn; /* NULL: the caller was told it will not be called */
	void *ctx;
	int refs;
	bool have_time;
	uint64_t now_ms;
};

static void nodes_unref(struct nodes_req *q)
{
	if (--q->refs == 0)
		free(q);
}

static void on_nodes_time(void *ctx, int err, const redisReply *r)
{
	struct nodes_req *q = ctx;

	if (err == 0 && cluster_time_parse(r, &q->now_ms) == 0)
		q->have_time = true;
	nodes_unref(q);
}

static void on_nodes_all(void *ctx, int err, const redisReply *r)
{
	struct nodes_req *q = ctx;
	struct cluster_member *v = NULL;
	size_t cnt = 0, bad = 0;

	if (err == 0 && r->type == REDIS_REPLY_ERROR)
		err = -EIO;
	if (err == 0)
		err = cluster_members_parse(r, q->have_time ? q->now_ms : wall_ms(), &v, &cnt, &bad);
	if (err == -EPROTO)
		q->node->st.malformed++;
	if (bad)
		q->node->st.malformed += bad;
	if (q->fn)
		q->fn(q->ctx, err, v, cnt, bad);
	free(v);
	nodes_unref(q);
}

int cluster_node_nodes(struct cluster_node *n, cluster_nodes_fn fn, void *ctx)
{
	const char *time_argv[] = { "TIME" }, *all[] = { "HGETALL", n->key_nodes };
	struct nodes_req *q;
	int err;

	if (!up(n))
		return -ENOTCONN;
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	*q = (struct nodes_req){ .node = n, .fn = fn, .ctx = ctx, .refs = 1 };
	err = redis_command(n->cmd, 1, time_argv, NULL, on_nodes_time, q);
	if (err < 0) {
		free(q);
		return err;
	}
	q->refs++;
	err = redis_command(n->cmd, 2, all, NULL, on_nodes_all, q);
	if (err < 0) {
		q->fn = NULL;
		nodes_unref(q);
		return err;
	}
	return 0;
}

void cluster_node_stats(const struct cluster_node *n, struct cluster_node_stats *st)
{
	*st = n->st;
	redis_client_stats(n->cmd, &st->redis);
	redis_client_stats(n->sub, &st->subscriber);
}

/* Stopping */

static void on_hdel(void *ctx, int err, const redisReply *r)
{
	struct cluster_node *n = ctx;

	(void)err, (void)r; /* gone or not, the node stops: a stale field just ages out */
	n->hdel_pending = false;
	if (!n->freeing) /* cancelled by cluster_node_free: the client is going already */
		redis_client_stop(n->cmd);
}

void cluster_node_stop(struct cluster_node *n)
{
	const char *argv[] = { "HDEL", n->key_nodes, n->name };
	bool was_up = up(n);

	if (n->stopping)
		return;
	n->stopping = true;
	timer_cancel(n->timers, &n->hb_timer);
	timer_cancel(n->timers, &n->sweep_timer);
	if (n->sub)
		redis_client_stop(n->sub);
	/* The field goes first: stopping the client would cancel the HDEL. */
	if (was_up && redis_command(n->cmd, 3, argv, NULL, on_hdel, n) == 0) {
		n->hdel_pending = true;
		return;
	}
	if (n->cmd)
		redis_client_stop(n->cmd);
}

bool cluster_node_idle(const struct cluster_node *n)
{
	return n->stopping && !n->hdel_pending && (!n->cmd || redis_client_idle(n->cmd)) &&
	       (!n->sub || redis_client_idle(n->sub));
}

void cluster_node_free(struct cluster_node *n)
{
	if (!n)
		return;
	n->stopping = n->freeing = true;
	timer_cancel(n->timers, &n->hb_timer);
	timer_cancel(n->timers, &n->sweep_timer);
	/* The clients own the scripts; a callback still pending gets -ECANCELED and sees
	 * stopping. */
	if (n->sub)
		redis_client_free(n->sub);
	if (n->cmd)
		redis_client_free(n->cmd);
	free(n);
}
