/* redis/client.c against a real redis-server (Debian's, started here on an ephemeral port in
 * a temporary directory, never the system one) on a real io_uring ring driven by a small loop
 * in redis_harness.c; and against fake servers (forked children) that send garbage or an endless
 * bulk string. Every process started here is stopped by PID, and every wait is bounded. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "redis_harness.h"
#include "unit.h"

static struct rs RS;


static struct redis_client *client(const char *addr, const struct redis_options *base)
{
	struct redis_options o = { 0 };
	int err;

	if (base)
		o = *base;
	o.addr = addr;
	return redis_client_new(&R, &H, &o, &err);
}

static int suite_init(void)
{
	if (rh_init("e2e_redis") < 0 || rs_mkdir(&RS) < 0)
		return -1;
	return rs_start(&RS) < 0 ? -1 : 0;
}

static int suite_clean(void)
{
	int rc = rs_remove(&RS);

	rh_exit();
	return rc;
}

/* The cases */

static void test_connect(void)
{
	const char *addrs[3] = { RS.tcp4, RS.unix_spec, have_v6 ? RS.tcp6 : NULL };
	struct redis_client *cl = NULL;
	struct call c;

	for (int i = 0; i < 3 && addrs[i]; i++) {
		cl = client(addrs[i], NULL);
		REQUIRE(cl);
		CU_ASSERT_EQUAL(redis_client_state(cl), REDIS_CONNECTING);
		/* Queued while connecting, sent once connected. */
		CU_ASSERT_EQUAL(run(cl, &c, "PING", NULL), 0);
		CHECKF(c.err == 0 && c.type == REDIS_REPLY_STATUS && !strcmp(c.str, "PONG"),
		       "%s: err %d type %d %s", addrs[i], c.err, c.type, c.str);
		CU_ASSERT_EQUAL(redis_client_state(cl), REDIS_UP);
		client_done(cl);
		cl = NULL;
	}
	if (!have_v6)
		printf("(no IPv6 loopback: [::1] not tried) ");
out:
	client_done(cl);
}

/* Binary-safe both ways. */
static void test_binary(void)
{
	struct redis_client *cl = client(RS.tcp4, NULL);
	const char *av[3] = { "SET", "bin\0key", "v\0a\r\nl" };
	size_t al[3] = { 3, 7, 6 };
	struct call c = { 0 };

	REQUIRE(cl);
	REQUIRE(redis_command(cl, 3, av, al, on_call, &c) == 0);
	REQUIRE(drive_int(&c.done, 1, 5000));
	CU_ASSERT_STRING_EQUAL(c.str, "OK");
	memset(&c, 0, sizeof(c));
	av[0] = "GET";
	al[0] = 3;
	REQUIRE(redis_command(cl, 2, av, al, on_call, &c) == 0);
	REQUIRE(drive_int(&c.done, 1, 5000));
	CU_ASSERT_EQUAL(c.len, 6);
	CU_ASSERT_EQUAL(memcmp(c.str, "v\0a\r\nl", 6), 0);
out:
	client_done(cl);
}

static bool file_has(const char *path, const char *needle)
{
	char buf[65536];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strstr(buf, needle) != NULL;
}

/* AUTH with an ACL user: the right password, then a wrong one (refused, never logged). */
static void test_auth(void)
{
	struct redis_options o = { .user = "mcp", .password = "right-pw-6d1f" };
	struct redis_client *admin = client(RS.tcp4, NULL), *cl = NULL;
	struct redis_stats st;
	struct call c, q = { 0 };
	char log[128];
	int saved = dup(2), fd;

	REQUIRE(admin);
	REQUIRE(run(admin, &c, "ACL", "SETUSER", "mcp", "reset", "on", ">right-pw-6d1f", "~*", "&*",
		    "+@all", NULL) == 0);
	CU_ASSERT_STRING_EQUAL(c.str, "OK");
	cl = client(RS.tcp4, &o);
	REQUIRE(cl);
	REQUIRE(run(cl, &c, "ACL", "WHOAMI", NULL) == 0);
	CU_ASSERT_STRING_EQUAL(c.str, "mcp");
	client_done(cl);

	/* The log goes to a file while the wrong password is tried. */
	snprintf(log, sizeof(log), "%s/client.log", RS.dir);
	fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	REQUIRE(fd >= 0);
	dup2(fd, 2);
	close(fd);
	o.password = "wrong-pw-93ab";
	o.backoff_min_ms = o.backoff_max_ms = 100;
	cl = client(RS.tcp4, &o);
	REQUIRE(cl);
	{
		const char *av[1] = { "PING" };

		REQUIRE(redis_command(cl, 1, av, NULL, on_call, &q) == 0);
	}
	drive_int(&q.done, 1, 3000);
	drive_int(NULL, 0, 300); /* a retry or two */
	dup2(saved, 2);
	CU_ASSERT_EQUAL(q.done, 1);
	CU_ASSERT_EQUAL(q.err, -EACCES);
	CU_ASSERT_NOT_EQUAL(redis_client_state(cl), REDIS_UP);
	redis_client_stats(cl, &st);
	CU_ASSERT_TRUE(st.auth_failures >= 2);
	CU_ASSERT_EQUAL(st.connects, 0);
	CU_ASSERT_TRUE(file_has(log, "AUTH refused"));
	CU_ASSERT_FALSE(file_has(log, "wrong-pw-93ab"));
	CU_ASSERT_FALSE(file_has(log, "right-pw-6d1f"));
out:
	dup2(saved, 2);
	close(saved);
	client_done(cl);
	client_done(admin);
}

#define PIPELINED 10000

static int seen_n, seen_bad, seen[PIPELINED];

static void on_incr(void *ctx, int err, const redisReply *r)
{
	int i = (int)(intptr_t)ctx;

	seen[i]++;
	/* In order: the i-th INCR answers i + 1, and arrives i-th. */
	if (err || r->type != REDIS_REPLY_INTEGER || r->integer != i + 1 || seen_n != i) {
		if (!seen_bad++)
			printf("\n    command %d: err %d, reply type %d, %lld, %d answered before\n", i,
			       err, r ? r->type : 0, r ? r->integer : 0, seen_n);
	}
	seen_n++;
}

static void test_pipeline(void)
{
	struct redis_client *cl = client(RS.unix_spec, NULL);
	struct redis_stats st;
	struct call c;
	const char *av[2] = { "INCR", "pipelined" };

	REQUIRE(cl);
	REQUIRE(run(cl, &c, "DEL", "pipelined", NULL) == 0);
	for (int i = 0; i < PIPELINED; i++)
		REQUIRE(redis_command(cl, 2, av, NULL, on_incr, (void *)(intptr_t)i) == 0);
	CU_ASSERT_TRUE(drive_int(&seen_n, PIPELINED, 20000));
	drive_int(NULL, 0, 50);
	CU_ASSERT_EQUAL(seen_n, PIPELINED);
	CU_ASSERT_EQUAL(seen_bad, 0);
	for (int i = 0; i < PIPELINED; i++)
		if (seen[i] != 1)
			CHECKF(seen[i] == 1, "command %d answered %d times", i, seen[i]);
	redis_client_stats(cl, &st);
	CU_ASSERT_EQUAL(st.resp.pending, 0);
	CU_ASSERT_TRUE(st.resp.rtt_ewma_us > 0);
	CU_ASSERT_TRUE(st.resp.replies >= PIPELINED);
out:
	client_done(cl);
}

/* INCRBY 5 of av[0] by s, SCRIPT or FUNCTION (what) FLUSH, then once more: the second call
 * finds its script or library gone, has it loaded again and is retried once, unseen by the
 * caller, and answers 10. */
static void incr_across_flush(struct redis_client *cl, struct resp_script *s, const char **av,
			      const char *what)
{
	struct redis_stats st;
	struct call c;

	REQUIRE(run(cl, &c, "DEL", av[0], NULL) == 0);
	for (long long i = 1; i <= 2; i++) {
		if (i == 2)
			REQUIRE(run(cl, &c, what, "FLUSH", NULL) == 0);
		memset(&c, 0, sizeof(c));
		REQUIRE(redis_evalsha(cl, s, 1, 2, av, NULL, on_call, &c) == 0);
		REQUIRE(drive_int(&c.done, 1, 5000));
		CHECKF(c.err == 0 && c.type == REDIS_REPLY_INTEGER && c.integer == 5 * i,
		       "call %lld: err %d type %d %s", i, c.err, c.type, c.str);
	}
	redis_client_stats(cl, &st);
	CU_ASSERT_EQUAL(st.resp.noscript_retries, 1);
out:;
}

/* EVALSHA after SCRIPT FLUSH: NOSCRIPT, reloaded, retried, answered, unseen by the caller. */
static void test_evalsha(void)
{
	struct redis_client *cl = client(RS.tcp4, NULL);
	struct resp_script *s;
	struct call c;
	const char *av[2] = { "{t}:n", "5" };

	REQUIRE(cl);
	s = redis_script_load(cl, "incrby", "return redis.call('INCRBY', KEYS[1], ARGV[1])");
	incr_across_flush(cl, s, av, "SCRIPT");
	REQUIRE(run(cl, &c, "SCRIPT", "EXISTS", resp_script_sha(s), NULL) == 0);
out:
	client_done(cl);
}

/* FCALL after FUNCTION FLUSH (a Redis restarted without persistence): the library is loaded
 * again, the call retried and answered, unseen by the caller. */
static void test_fcall(void)
{
	static const char lib[] = "#!lua name=e2etest\n"
				  "redis.register_function('e2etest_incrby', function(keys, args)\n"
				  "  return redis.call('INCRBY', keys[1], args[1]) end)";
	struct redis_client *cl = client(RS.tcp4, NULL);
	struct resp_script *f;
	struct call c;
	const char *av[2] = { "{t}:f", "5" };

	REQUIRE(cl);
	redis_library_load(cl, lib);
	redis_library_load(cl, lib); /* again: "already exists", nothing else */
	f = redis_function(cl, "incrby", "e2etest_incrby", lib);
	incr_across_flush(cl, f, av, "FUNCTION");
	REQUIRE(run(cl, &c, "FUNCTION", "DELETE", "e2etest", NULL) == 0);
out:
	client_done(cl);
}

static struct {
	int n;
	char channel[64], payload[64], pattern[64];
} MSG;

static void on_msg(void *ctx, const struct resp_message *m)
{
	(void)ctx;
	MSG.n++;
	snprintf(MSG.channel, 64, "%.*s", (int)m->channel_len, m->channel);
	snprintf(MSG.payload, 64, "%.*s", (int)m->payload_len, m->payload);
	snprintf(MSG.pattern, 64, "%.*s", (int)m->pattern_len, m->pattern ? m->pattern : "");
}

static void test_pubsub(void)
{
	struct redis_options so = { .subscriber = true, .on_message = on_msg };
	struct redis_client *sub = client(RS.tcp4, &so), *pub = client(RS.tcp4, NULL);
	struct call c1 = { 0 }, c2 = { 0 }, c;

	REQUIRE(sub && pub);
	REQUIRE(redis_subscribe(sub, REDIS_SUBSCRIBE, "{p}:wake:a", 10, on_call, &c1) == 0);
	REQUIRE(redis_subscribe(sub, REDIS_PSUBSCRIBE, "{p}:room:*", 10, on_call, &c2) == 0);
	REQUIRE(drive_int(&c2.done, 1, 5000));
	CU_ASSERT_EQUAL(c1.type, REDIS_REPLY_ARRAY);
	REQUIRE(run(pub, &c, "PUBLISH", "{p}:wake:a", "42", NULL) == 0);
	CU_ASSERT_EQUAL(c.integer, 1);
	REQUIRE(drive_int(&MSG.n, 1, 5000));
	CU_ASSERT_STRING_EQUAL(MSG.channel, "{p}:wake:a");
	CU_ASSERT_STRING_EQUAL(MSG.payload, "42");
	CU_ASSERT_STRING_EQUAL(MSG.pattern, "");
	REQUIRE(run(pub, &c, "PUBLISH", "{p}:room:9", "x", NULL) == 0);
	REQUIRE(drive_int(&MSG.n, 2, 5000));
	CU_ASSERT_STRING_EQUAL(MSG.pattern, "{p}:room:*");
	CU_ASSERT_STRING_EQUAL(MSG.channel, "{p}:room:9");
	memset(&c1, 0, sizeof(c1));
	REQUIRE(redis_subscribe(sub, REDIS_UNSUBSCRIBE, "{p}:wake:a", 10, on_call, &c1) == 0);
	REQUIRE(drive_int(&c1.done, 1, 5000));
	REQUIRE(run(pub, &c, "PUBLISH", "{p}:wake:a", "43", NULL) == 0);
	CU_ASSERT_EQUAL(c.integer, 0);
out:
	client_done(sub);
	client_done(pub);
}

#define BEHIND 20

/* SIGKILL: every pending callback fails once; DOWN refuses at once; back after a restart. */
static void test_kill_restart(void)
{
	struct redis_options o = { .backoff_min_ms = 20, .backoff_max_ms = 200 };
	struct redis_client *cl = client(RS.tcp4, &o);
	struct call c, blocked = { 0 }, behind[BEHIND];
	struct redis_stats st;
	const char *bl[3] = { "BLPOP", "never", "0" };
	const char *get[2] = { "GET", "k" };
	int failed = 0;

	REQUIRE(cl);
	REQUIRE(run(cl, &c, "PING", NULL) == 0);
	REQUIRE(redis_command(cl, 3, bl, NULL, on_call, &blocked) == 0);
	memset(behind, 0, sizeof(behind));
	for (int i = 0; i < BEHIND; i++)
		REQUIRE(redis_command(cl, 2, get, NULL, on_call, &behind[i]) == 0);
	drive_int(NULL, 0, 100);
	CU_ASSERT_EQUAL(blocked.done, 0);
	kill_child(&RS.pid);
	REQUIRE(drive_int(&blocked.done, 1, 3000));
	drive_int(NULL, 0, 20);
	CU_ASSERT_EQUAL(blocked.err, -ECONNRESET);
	for (int i = 0; i < BEHIND; i++) {
		CU_ASSERT_EQUAL(behind[i].done, 1);
		failed += behind[i].err == -ECONNRESET;
	}
	CU_ASSERT_EQUAL(failed, BEHIND);
	if (redis_client_state(cl) == REDIS_DOWN)
		CU_ASSERT_EQUAL(redis_command(cl, 2, get, NULL, on_call, &c), -ENOTCONN);
	drive_int(NULL, 0, 300); /* reconnects refused meanwhile */
	REQUIRE(rs_start(&RS) == 0);
	REQUIRE(drive_state(cl, REDIS_UP, 5000));
	REQUIRE(run(cl, &c, "PING", NULL) == 0);
	CU_ASSERT_STRING_EQUAL(c.str, "PONG");
	redis_client_stats(cl, &st);
	CU_ASSERT_EQUAL(st.connects, 2);
	CU_ASSERT_EQUAL(st.disconnects, 1);
	CU_ASSERT_TRUE(st.connect_failures >= 1);
out:
	client_done(cl);
}

static int ticks;
static void on_tick(struct timer *t)
{
	ticks++;
	timer_arm(&H, t, timer_now_ms() + 10);
}

/* SIGSTOP: the deadline fails the command, the loop goes on meanwhile; SIGCONT: back. */
static void test_stopped_redis(void)
{
	struct redis_options o = { .timeout_ms = 300, .backoff_min_ms = 20, .backoff_max_ms = 100 };
	struct redis_client *cl = client(RS.tcp4, &o);
	struct call c, slow = { 0 };
	struct redis_stats st;
	struct timer tick;
	const char *get[2] = { "GET", "k" };
	uint64_t t0, took;
	bool up = false;

	timer_init(&tick, on_tick);
	REQUIRE(cl);
	REQUIRE(run(cl, &c, "PING", NULL) == 0);
	REQUIRE(kill(RS.pid, SIGSTOP) == 0);
	ticks = 0;
	timer_arm(&H, &tick, timer_now_ms() + 10);
	t0 = ms_now();
	REQUIRE(redis_command(cl, 2, get, NULL, on_call, &slow) == 0);
	REQUIRE(drive_int(&slow.done, 1, 3000));
	took = ms_now() - t0;
	CU_ASSERT_EQUAL(slow.err, -ETIMEDOUT);
	CHECKF(took >= 290 && took < 1000, "the deadline fired after %llu ms", (unsigned long long)took);
	/* The loop ran its timers all along (every 10 ms). */
	CHECKF(ticks >= (int)(took / 10) / 2, "%d ticks in %llu ms", ticks, (unsigned long long)took);
	redis_client_stats(cl, &st);
	CU_ASSERT_EQUAL(st.timeouts, 1);
	drive_int(NULL, 0, 400);
	REQUIRE(kill(RS.pid, SIGCONT) == 0);
	/* Connections made while it was stopped may time out once more before it catches up. */
	for (uint64_t end = ms_now() + 5000; !up && ms_now() < end;) {
		int err = run(cl, &c, "PING", NULL);

		up = err == 0 && c.err == 0 && !strcmp(c.str, "PONG");
		if (!up)
			drive_int(NULL, 0, 50);
	}
	CU_ASSERT_TRUE(up);
out:
	timer_cancel(&H, &tick);
	if (RS.pid)
		kill(RS.pid, SIGCONT);
	client_done(cl);
}

enum fake_mode { FAKE_GARBAGE, FAKE_ENDLESS };

/* A child that accepts on lfd and, for each connection, once it has read a command, sends
 * garbage or an endless bulk string. */
static pid_t fake_server(int lfd, enum fake_mode mode)
{
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGPIPE, SIG_IGN);
	for (;;) {
		char buf[4096];
		int fd = accept(lfd, NULL, NULL);

		if (fd < 0 || read(fd, buf, sizeof(buf)) <= 0)
			continue;
		if (mode == FAKE_GARBAGE) {
			if (write(fd, "?garbage\r\n", 10) < 0)
				continue;
			continue; /* left open: the client must close it */
		}
		if (write(fd, "$999999999999\r\n", 15) < 0)
			continue;
		memset(buf, 'x', sizeof(buf));
		while (write(fd, buf, sizeof(buf)) > 0)
			;
		close(fd);
	}
}

static long rss_kb(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f && fscanf(f, "%ld %ld", &pages, &rss) != 2)
		rss = 0;
	if (f)
		fclose(f);
	return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static void test_fake_server(enum fake_mode mode)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct redis_options o = { .backoff_min_ms = 10, .backoff_max_ms = 50,
				   .limits.max_reply_bytes = 65536 };
	socklen_t len = sizeof(sa);
	struct redis_client *cl = NULL;
	struct redis_stats st;
	struct call c = { 0 };
	const char *get[2] = { "GET", "k" };
	static struct call more[256]; /* pending ones outlive a round of the loop */
	int n_more = 0;
	char addr[64];
	long rss0;
	pid_t pid = 0;
	int lfd = socket(AF_INET, SOCK_STREAM, 0);

	REQUIRE(lfd >= 0 && bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(lfd, 16) == 0);
	REQUIRE(getsockname(lfd, (struct sockaddr *)&sa, &len) == 0);
	pid = fake_server(lfd, mode);
	REQUIRE(pid > 0);
	track(pid);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", ntohs(sa.sin_port));
	rss0 = rss_kb();
	cl = client(addr, &o);
	REQUIRE(cl);
	REQUIRE(drive_state(cl, REDIS_UP, 3000));
	REQUIRE(redis_command(cl, 2, get, NULL, on_call, &c) == 0);
	REQUIRE(drive_int(&c.done, 1, 5000));
	CU_ASSERT_EQUAL(c.err, mode == FAKE_GARBAGE ? -ECONNRESET : -EMSGSIZE);
	/* It keeps reconnecting and being dropped, in bounded memory, for a second. */
	for (uint64_t end = ms_now() + 1000; ms_now() < end && n_more < 256;) {
		struct call *m = &more[n_more];

		if (redis_command(cl, 2, get, NULL, on_call, m) == 0) {
			n_more++;
			drive_int(&m->done, 1, 1000);
		} else {
			drive_int(NULL, 0, 10);
		}
	}
	redis_client_stats(cl, &st);
	if (mode == FAKE_GARBAGE) {
		CU_ASSERT_TRUE(st.protocol_errors >= 2);
	} else {
		CU_ASSERT_TRUE(st.oversize >= 2);
	}
	CHECKF(rss_kb() - rss0 < 64 * 1024, "RSS grew by %ld kB", rss_kb() - rss0);
out:
	client_done(cl);
	for (int i = 0; i < n_more; i++)
		CHECKF(more[i].done == 1, "command %d answered %d times", i, more[i].done);
	memset(more, 0, sizeof(more));
	kill_child(&pid);
	if (lfd >= 0)
		close(lfd);
}

static void test_garbage(void)
{
	test_fake_server(FAKE_GARBAGE);
}

static void test_endless_bulk(void)
{
	test_fake_server(FAKE_ENDLESS);
}

/* Nothing listening: connect fails, backoff, no busy loop; stop ends it cleanly. */
static void test_refused(void)
{
	char addr[32];
	struct redis_options o = { .backoff_min_ms = 50, .backoff_max_ms = 100 };
	struct redis_client *cl;
	struct redis_stats st;

	snprintf(addr, sizeof(addr), "127.0.0.1:%d", free_port());
	cl = client(addr, &o);
	REQUIRE(cl);
	drive_int(NULL, 0, 500);
	redis_client_stats(cl, &st);
	CHECKF(st.connect_failures >= 3 && st.connect_failures <= 15, "%llu connect failures in 0.5 s",
	       (unsigned long long)st.connect_failures);
	CU_ASSERT_EQUAL(st.connects, 0);
out:
	client_done(cl);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "connect: tcp v4, unix, v6", test_connect },
		{ "binary-safe arguments and replies", test_binary },
		{ "AUTH with an ACL user; a wrong password", test_auth },
		{ "10 000 commands pipelined, in order, each answered once", test_pipeline },
		{ "EVALSHA after SCRIPT FLUSH", test_evalsha },
		{ "FCALL after FUNCTION FLUSH", test_fcall },
		{ "pub/sub", test_pubsub },
		{ "connection refused: backoff", test_refused },
		{ "SIGSTOPped redis: deadline, loop responsive", test_stopped_redis },
		{ "SIGKILLed redis: callbacks fail; reconnect after restart", test_kill_restart },
		{ "fake server: garbage", test_garbage },
		{ "fake server: endless bulk string", test_endless_bulk },
		{ NULL, NULL },
	};
	static const struct unit_suite suites[] = {
		{ "redis", tests, suite_init, suite_clean, NULL, NULL },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};

	return unit_main(suites);
}
