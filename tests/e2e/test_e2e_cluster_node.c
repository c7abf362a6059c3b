/* cluster/node.c on a real ring against a redis-server of the test's own (redis_harness.h):
 * two nodes' heartbeats and the listing, a clean stop, Redis emptied (FLUSHALL) and
 * restarted, the sweep ending an idle chat, and a sweep answer that is garbage. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "cluster/node.h"
#include "cluster/scripts.h"
#include "redis_harness.h"
#include "unit.h"

static struct rs RS;

/* What a node's hooks saw. */
struct seen {
	int epoch_changed, resubscribe, ended_calls, ended;
	char last_ended[CLUSTER_CHAT_ID_MAX + 1];
};

static void on_epoch(void *ctx)
{
	((struct seen *)ctx)->epoch_changed++;
}

static void on_resub(void *ctx)
{
	((struct seen *)ctx)->resubscribe++;
}

static void on_ended(void *ctx, const char *const *ids, size_t n)
{
	struct seen *s = ctx;

	s->ended_calls++;
	s->ended += (int)n;
	if (n)
		snprintf(s->last_ended, sizeof(s->last_ended), "%s", ids[n - 1]);
}

static struct cluster_node *node(const char *name, struct seen *s, const char *sweep_src)
{
	struct config cfg;
	struct cluster_node_hooks h = { .ctx = s, .epoch_changed = on_epoch,
					.resubscribe = on_resub, .chats_ended = on_ended,
					.sweep_source = sweep_src };
	int err = 0;

	memset(s, 0, sizeof(*s));
	config_defaults(&cfg);
	snprintf(cfg.cluster_redis, sizeof(cfg.cluster_redis), "%s", RS.tcp4);
	snprintf(cfg.cluster_node, sizeof(cfg.cluster_node), "%s", name);
	cfg.n_listen = 0;
	if (config_add_listen(&cfg, "127.0.0.1:8080") < 0)
		return NULL;
	return cluster_node_new(&cfg, &R, &H, &h, &err);
}

static bool node_up(struct cluster_node *n, uint64_t ms)
{
	return drive_state(cluster_node_redis(n), REDIS_UP, ms) &&
	       drive_state(cluster_node_subscriber(n), REDIS_UP, ms);
}

static void node_done(struct cluster_node *n)
{
	uint64_t end = ms_now() + 5000;

	if (!n)
		return;
	cluster_node_stop(n);
	while (!cluster_node_idle(n) && ms_now() < end)
		loop_once(20);
	CU_ASSERT_TRUE(cluster_node_idle(n));
	cluster_node_free(n);
}

/* A listing's outcome. */
struct listing {
	int done, err;
	size_t n, malformed;
	struct cluster_member v[8];
};

static void on_nodes(void *ctx, int err, const struct cluster_member *v, size_t n, size_t bad)
{
	struct listing *l = ctx;

	l->done++;
	l->err = err;
	l->n = n;
	l->malformed = bad;
	memcpy(l->v, v, (n < 8 ? n : 8) * sizeof(*v));
}

static int list_nodes(struct cluster_node *n, struct listing *l)
{
	int err;

	memset(l, 0, sizeof(*l));
	err = cluster_node_nodes(n, on_nodes, l);
	if (err < 0)
		return err;
	return drive_int(&l->done, 1, 3000) ? l->err : -ETIME;
}

/* Drives the loop until both nodes stored at least one heartbeat. */
static bool heartbeats(struct cluster_node *a, struct cluster_node *b)
{
	uint64_t end = ms_now() + 5000;
	struct cluster_node_stats sa, sb;

	for (;;) {
		cluster_node_stats(a, &sa);
		cluster_node_stats(b, &sb);
		if (sa.heartbeats && sb.heartbeats)
			return true;
		if (ms_now() >= end)
			return false;
		loop_once(20);
	}
}

static void test_two_nodes(void)
{
	struct seen sa, sb;
	struct cluster_node *a = node("alpha", &sa, NULL), *b = node("beta", &sb, NULL);
	struct listing l;
	struct cluster_node_stats st;
	struct redis_client *admin = NULL;
	struct call c;

	REQUIRE(a && b);
	REQUIRE(node_up(a, 5000) && node_up(b, 5000));
	REQUIRE(heartbeats(a, b));
	/* One epoch for both, set by whichever came first; nothing "changed". */
	CU_ASSERT_EQUAL(strlen(cluster_node_epoch(a)), CLUSTER_NODE_EPOCH_LEN);
	CU_ASSERT_STRING_EQUAL(cluster_node_epoch(a), cluster_node_epoch(b));
	CU_ASSERT_EQUAL(sa.epoch_changed + sb.epoch_changed, 0);
	CU_ASSERT_TRUE(sa.resubscribe >= 1 && sb.resubscribe >= 1);
	/* A field nobody could parse is skipped and counted. */
	admin = redis_client_new(&R, &H, &(struct redis_options){ .addr = RS.tcp4 }, &(int){ 0 });
	REQUIRE(admin && run(admin, &c, "HSET", "{mcpchat}:nodes", "junk", "{nope", NULL) == 0);
	REQUIRE(list_nodes(a, &l) == 0);
	REQUIRE(l.n == 2);
	CU_ASSERT_EQUAL(l.malformed, 1);
	CU_ASSERT_STRING_EQUAL(l.v[0].name, "alpha");
	CU_ASSERT_STRING_EQUAL(l.v[1].name, "beta");
	for (int i = 0; i < 2; i++) {
		CU_ASSERT_STRING_EQUAL(l.v[i].addr, "127.0.0.1:8080");
		CU_ASSERT_STRING_EQUAL(l.v[i].state, "starting");
		CU_ASSERT_EQUAL(l.v[i].pid, getpid());
		CU_ASSERT_TRUE(l.v[i].alive);
		CU_ASSERT_TRUE(l.v[i].age_ms < CLUSTER_NODE_STALE_MS);
	}
	/* A clean stop takes its own field away. */
	node_done(b);
	b = NULL;
	REQUIRE(list_nodes(a, &l) == 0);
	CU_ASSERT_EQUAL(l.n, 1);
	CU_ASSERT_STRING_EQUAL(l.v[0].name, "alpha");
	cluster_node_stats(a, &st);
	CU_ASSERT_TRUE(st.last_heartbeat_ok_ms > 0);
	CU_ASSERT_EQUAL(st.heartbeat_failures, 0);
	CU_ASSERT_TRUE(st.sweeps >= 1);
	CU_ASSERT_EQUAL(st.redis.state, REDIS_UP);
out:
	if (admin)
		run(admin, &c, "DEL", "{mcpchat}:nodes", NULL);
	client_done(admin);
	node_done(a);
	node_done(b);
}

/* Drives the loop until both saw an epoch change (or for ms). */
static bool epoch_changes(struct seen *a, struct seen *b, uint64_t ms)
{
	uint64_t end = ms_now() + ms;

	while (!(a->epoch_changed && b->epoch_changed) && ms_now() < end)
		loop_once(20);
	return a->epoch_changed && b->epoch_changed;
}

static void test_flushall(void)
{
	struct seen sa, sb;
	struct cluster_node *a = node("alpha", &sa, NULL), *b = node("beta", &sb, NULL);
	struct redis_client *admin = NULL;
	char before[CLUSTER_CHAT_ID_MAX + 1];
	struct call c;

	REQUIRE(a && b && node_up(a, 5000) && node_up(b, 5000) && heartbeats(a, b));
	snprintf(before, sizeof(before), "%s", cluster_node_epoch(a));
	admin = redis_client_new(&R, &H, &(struct redis_options){ .addr = RS.tcp4 }, &(int){ 0 });
	REQUIRE(admin && run(admin, &c, "FLUSHALL", NULL) == 0);
	/* Seen at the next heartbeat of each (one interval), and only once. */
	REQUIRE(epoch_changes(&sa, &sb, 3 * CLUSTER_NODE_HEARTBEAT_MS));
	drive_int(NULL, 0, CLUSTER_NODE_HEARTBEAT_MS + 500);
	CU_ASSERT_EQUAL(sa.epoch_changed, 1);
	CU_ASSERT_EQUAL(sb.epoch_changed, 1);
	CU_ASSERT_STRING_NOT_EQUAL(cluster_node_epoch(a), before);
	CU_ASSERT_STRING_EQUAL(cluster_node_epoch(a), cluster_node_epoch(b));
	REQUIRE(run(admin, &c, "GET", "{mcpchat}:epoch", NULL) == 0);
	CU_ASSERT_STRING_EQUAL(c.str, cluster_node_epoch(a));
	/* And the heartbeats wrote the members back. */
	REQUIRE(run(admin, &c, "HLEN", "{mcpchat}:nodes", NULL) == 0);
	CU_ASSERT_EQUAL(c.integer, 2);
out:
	client_done(admin);
	node_done(a);
	node_done(b);
}

static void test_restart(void)
{
	struct seen sa, sb;
	struct cluster_node *a = node("alpha", &sa, NULL), *b = node("beta", &sb, NULL);
	struct cluster_node_stats st = { 0 };

	REQUIRE(a && b && node_up(a, 5000) && node_up(b, 5000) && heartbeats(a, b));
	REQUIRE(drive_int(&sa.resubscribe, 1, 3000) && drive_int(&sb.resubscribe, 1, 3000));
	kill_child(&RS.pid);
	for (uint64_t end = ms_now() + 3000; ms_now() < end; loop_once(20)) {
		cluster_node_stats(a, &st);
		if (st.redis.disconnects && st.subscriber.disconnects)
			break;
	}
	REQUIRE(st.redis.disconnects && st.subscriber.disconnects);
	REQUIRE(rs_start(&RS) == 0);
	REQUIRE(node_up(a, 8000) && node_up(b, 8000));
	CU_ASSERT_TRUE(drive_int(&sa.resubscribe, 2, 3000));
	CU_ASSERT_TRUE(drive_int(&sb.resubscribe, 2, 3000));
	/* An empty Redis again: a new epoch, told once to each. */
	CU_ASSERT_TRUE(epoch_changes(&sa, &sb, 3000));
	CU_ASSERT_EQUAL(sa.epoch_changed, 1);
	CU_ASSERT_EQUAL(sb.epoch_changed, 1);
	cluster_node_stats(a, &st);
	CU_ASSERT_TRUE(st.redis.connects >= 2 && st.subscriber.connects >= 2);
out:
	node_done(a);
	node_done(b);
}

/* chat_new through the node's own client and script. */
static int chat_new(struct cluster_node *n, const char *id, const char *idle_ms)
{
	const char *argv[] = { cluster_node_prefix(n), id, idle_ms, "alpha", "modern", "h", "nonce" };
	struct call c = { 0 };
	int err = redis_evalsha(cluster_node_redis(n), cluster_node_script(n, CLUSTER_SCRIPT_CHAT_NEW),
				1, 7, argv, NULL, on_call, &c);

	if (err < 0)
		return err;
	if (!drive_int(&c.done, 1, 3000))
		return -ETIME;
	return c.err < 0 ? c.err : c.type == REDIS_REPLY_ARRAY ? 0 : -EPROTO;
}

static void test_sweep_ends(void)
{
	static const char id[] = "SweepMeAAAAAAAAAAAAAAA";
	struct seen s;
	struct cluster_node *n = node("alpha", &s, NULL);
	struct cluster_node_stats st;

	REQUIRE(n && node_up(n, 5000));
	/* Idle for 1 s: due then, ended by the sweep within another second. (Not shorter: the
	 * keys' safety-net TTL is 3 x idle, and a chat whose hash expired before the sweep came
	 * is gone without an `end`, so nobody is named.) */
	REQUIRE(chat_new(n, id, "1000") == 0);
	REQUIRE(drive_int(&s.ended, 1, 4000));
	CU_ASSERT_EQUAL(s.ended, 1);
	CU_ASSERT_STRING_EQUAL(s.last_ended, id);
	cluster_node_stats(n, &st);
	CU_ASSERT_EQUAL(st.sweep_ended, 1);
	CU_ASSERT_TRUE(st.fallbacks >= 1);
	CU_ASSERT_EQUAL(st.malformed, 0);
	CU_ASSERT_EQUAL(st.sweep_failures, 0);
out:
	node_done(n);
}

static void test_sweep_garbage(void)
{
	/* A sweep that answers nonsense: ids that are no ids, a count that is a string. */
	static const char stub[] = "return { 'ok', 'many', 1, 'a b', 'AAAA' }";
	struct seen s;
	struct cluster_node *n = node("alpha", &s, stub);
	struct cluster_node_stats st = { 0 };
	uint64_t end;

	REQUIRE(n && node_up(n, 5000));
	for (end = ms_now() + 3500; st.sweeps < 3 && ms_now() < end; loop_once(20))
		cluster_node_stats(n, &st);
	/* Every one ignored and counted: no hook, no "more" believed (one a second, not 100). */
	CU_ASSERT_TRUE(st.sweeps >= 2 && st.sweeps <= 4);
	CU_ASSERT_EQUAL(st.malformed, st.sweeps);
	CU_ASSERT_EQUAL(st.sweep_ended, 0);
	CU_ASSERT_EQUAL(s.ended_calls, 0);
	CU_ASSERT_EQUAL(st.fallbacks, 0);
out:
	node_done(n);
}

static void test_refused(void)
{
	struct config cfg;
	struct seen s;
	int err = 0;

	config_defaults(&cfg);
	CU_ASSERT_PTR_NULL(cluster_node_new(&cfg, &R, &H, NULL, &err));
	CU_ASSERT_EQUAL(err, -EINVAL);
	snprintf(cfg.cluster_redis, sizeof(cfg.cluster_redis), "%s", RS.tcp4);
	snprintf(cfg.cluster_node, sizeof(cfg.cluster_node), "x");
	snprintf(cfg.cluster_password_file, sizeof(cfg.cluster_password_file), "%s/none", RS.dir);
	CU_ASSERT_PTR_NULL(cluster_node_new(&cfg, &R, &H, NULL, &err));
	CU_ASSERT_EQUAL(err, -ENOENT);
	(void)s;
}

static int suite_init(void)
{
	if (rh_init("e2e_cluster_node") < 0 || rs_mkdir(&RS) < 0)
		return -1;
	return rs_start(&RS) < 0 ? -1 : 0;
}

static int suite_clean(void)
{
	int rc = rs_remove(&RS);

	rh_exit();
	return rc;
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "two nodes heartbeat and list each other; a clean stop leaves", test_two_nodes },
		{ "FLUSHALL: a fresh epoch, epoch_changed once on each node", test_flushall },
		{ "redis-server restarted: both clients back, resubscribe", test_restart },
		{ "the sweep ends an idle chat and names it", test_sweep_ends },
		{ "a garbage sweep reply is counted and ignored", test_sweep_garbage },
		{ "no redis, a missing password file: refused", test_refused },
		{ NULL, NULL },
	};
	static const struct unit_suite suites[] = {
		{ "cluster_node", tests, suite_init, suite_clean, NULL, NULL },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};

	return unit_main(suites);
}
