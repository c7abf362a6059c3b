/* redis/resp.c without sockets: formatting, the bounded reader, the FIFO of completions,
 * the NOSCRIPT retry against a scripted reply stream, subscriber pushes; and the pure parts
 * of redis/client.c (addresses, backoff) and util/sha1.c. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/un.h>

#include "redis/client.h"
#include "redis/resp.h"
#include "unit.h"
#include "util/sha1.h"

#define MAX_SEEN 2048

/* What the callbacks saw, in order. */
struct seen {
	int n;
	int err[MAX_SEEN];
	int type[MAX_SEEN];
	long long integer[MAX_SEEN];
	char str[MAX_SEEN][64];
	intptr_t ctx[MAX_SEEN];
};

static struct seen S;

static void on_reply(void *ctx, int err, const redisReply *r)
{
	int i = S.n++;

	if (i >= MAX_SEEN)
		return;
	S.ctx[i] = (intptr_t)ctx;
	S.err[i] = err;
	S.type[i] = r ? r->type : 0;
	S.integer[i] = r && r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
	S.str[i][0] = '\0';
	if (r && r->str)
		snprintf(S.str[i], sizeof(S.str[i]), "%.*s", (int)r->len, r->str);
}

static void setup(void)
{
	memset(&S, 0, sizeof(S));
}

static int cmd(struct resp_pipe *p, const char *a, const char *b, intptr_t ctx)
{
	const char *av[2] = { a, b };

	return resp_pipe_command(p, b ? 2 : 1, av, NULL, on_reply, (void *)ctx, 1000);
}

/* Arguments are length-prefixed: a NUL or CRLF inside one is just bytes. */
static void test_format(void)
{
	struct resp_pipe *p = resp_pipe_new(NULL);
	const char *av[3] = { "SET", "a\0b", "x\r\ny" };
	size_t al[3] = { 3, 3, 4 };
	static const char want[] = "*3\r\n$3\r\nSET\r\n$3\r\na\0b\r\n$4\r\nx\r\ny\r\n";
	struct buf *out = resp_pipe_out(p);

	CU_ASSERT_EQUAL(resp_pipe_command(p, 3, av, al, on_reply, NULL, 0), 0);
	CU_ASSERT_EQUAL(out->len, sizeof(want) - 1);
	CU_ASSERT_EQUAL(memcmp(out->p, want, sizeof(want) - 1), 0);
	CU_ASSERT_EQUAL(resp_pipe_pending(p), 1);
	resp_pipe_free(p);
	/* Freed with a command pending: its callback hears -ECANCELED, once. */
	CU_ASSERT_EQUAL(S.n, 1);
	CU_ASSERT_EQUAL(S.err[0], -ECANCELED);
}

static const char stream[] = "+OK\r\n"
			     ":-42\r\n"
			     "$5\r\nhe\0lo\r\n"
			     "$-1\r\n"
			     "*-1\r\n"
			     "-ERR wrong type\r\n"
			     "*3\r\n*2\r\n:1\r\n$-1\r\n*0\r\n$0\r\n\r\n"
			     "$3\r\nend\r\n";
#define STREAM_REPLIES 8

static void check_stream(void)
{
	CU_ASSERT_EQUAL(S.n, STREAM_REPLIES);
	for (int i = 0; i < S.n; i++) {
		CU_ASSERT_EQUAL(S.err[i], 0);
		CU_ASSERT_EQUAL(S.ctx[i], i);
	}
	CU_ASSERT_EQUAL(S.type[0], REDIS_REPLY_STATUS);
	CU_ASSERT_STRING_EQUAL(S.str[0], "OK");
	CU_ASSERT_EQUAL(S.type[1], REDIS_REPLY_INTEGER);
	CU_ASSERT_EQUAL(S.integer[1], -42);
	CU_ASSERT_EQUAL(S.type[2], REDIS_REPLY_STRING);
	CU_ASSERT_EQUAL(memcmp(S.str[2], "he", 3), 0); /* the NUL is in the reply */
	CU_ASSERT_EQUAL(S.type[3], REDIS_REPLY_NIL);
	CU_ASSERT_EQUAL(S.type[4], REDIS_REPLY_NIL);
	CU_ASSERT_EQUAL(S.type[5], REDIS_REPLY_ERROR);
	CU_ASSERT_STRING_EQUAL(S.str[5], "ERR wrong type");
	CU_ASSERT_EQUAL(S.type[6], REDIS_REPLY_ARRAY);
	CU_ASSERT_STRING_EQUAL(S.str[7], "end");
}

/* Every split of the stream gives the same replies: here one byte at a time. */
static void test_split_byte_by_byte(void)
{
	struct resp_pipe *p = resp_pipe_new(NULL);
	struct resp_stats st;

	for (intptr_t i = 0; i < STREAM_REPLIES; i++)
		REQUIRE(cmd(p, "PING", NULL, i) == 0);
	for (size_t i = 0; i < sizeof(stream) - 1; i++)
		REQUIRE(resp_pipe_feed(p, stream + i, 1, 2000) == 0);
	check_stream();
	resp_pipe_stats(p, &st);
	CU_ASSERT_EQUAL(st.replies, STREAM_REPLIES);
	CU_ASSERT_EQUAL(st.error_replies, 1);
	CU_ASSERT_EQUAL(st.pending, 0);
	CU_ASSERT_EQUAL(st.pending_bytes, 0);
	CU_ASSERT_EQUAL(st.rtt_last_us, 1000);
out:
	resp_pipe_free(p);
}

/* And all at once. */
static void test_whole_stream(void)
{
	struct resp_pipe *p = resp_pipe_new(NULL);

	for (intptr_t i = 0; i < STREAM_REPLIES; i++)
		REQUIRE(cmd(p, "PING", NULL, i) == 0);
	REQUIRE(resp_pipe_feed(p, stream, sizeof(stream) - 1, 2000) == 0);
	check_stream();
out:
	resp_pipe_free(p);
}

static void nested_reply(void *ctx, int err, const redisReply *r)
{
	(void)ctx;
	S.n++;
	CU_ASSERT_EQUAL(err, 0);
	REQUIRE(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2);
	REQUIRE(r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 2);
	REQUIRE(r->element[0]->element[1]->type == REDIS_REPLY_ARRAY);
	CU_ASSERT_EQUAL(r->element[0]->element[1]->element[0]->integer, 7);
	CU_ASSERT_EQUAL(r->element[1]->type, REDIS_REPLY_STATUS);
out:;
}

static void test_nested(void)
{
	struct resp_pipe *p = resp_pipe_new(NULL);
	static const char in[] = "*2\r\n*2\r\n$1\r\na\r\n*1\r\n:7\r\n+QUEUED\r\n";
	const char *av[1] = { "EXEC" };

	REQUIRE(resp_pipe_command(p, 1, av, NULL, nested_reply, NULL, 0) == 0);
	REQUIRE(resp_pipe_feed(p, in, sizeof(in) - 1, 0) == 0);
	CU_ASSERT_EQUAL(S.n, 1);
out:
	resp_pipe_free(p);
}

/* Replies come back to their commands in the order sent, however many are in flight. */
static void test_fifo_order(void)
{
	struct resp_pipe *p = resp_pipe_new(NULL);
	char line[32];

	for (intptr_t i = 0; i < 1000; i++)
		REQUIRE(cmd(p, "INCR", "k", i) == 0);
	CU_ASSERT_EQUAL(resp_pipe_pending(p), 1000);
	for (int i = 0; i < 1000; i++) {
		int n = snprintf(line, sizeof(line), ":%d\r\n", i + 1);

		REQUIRE(resp_pipe_feed(p, line, (size_t)n, 0) == 0);
	}
	REQUIRE(S.n == 1000);
	for (int i = 0; i < 1000; i++) {
		CU_ASSERT_EQUAL(S.ctx[i], i);
		CU_ASSERT_EQUAL(S.integer[i], i + 1);
	}
out:
	resp_pipe_free(p);
}

/* Garbage, and a reply nobody asked for, are protocol errors. */
static void test_garbage(void)
{
	struct resp_pipe *p = resp_pipe_new(NULL);

	REQUIRE(cmd(p, "PING", NULL, 0) == 0);
	CU_ASSERT_EQUAL(resp_pipe_feed(p, "?what\r\n", 7, 0), -EPROTO);
	resp_pipe_reset(p, -ECONNRESET);
	CU_ASSERT_EQUAL(S.n, 1);
	CU_ASSERT_EQUAL(S.err[0], -ECONNRESET);
	/* A fresh reader after the reset. */
	CU_ASSERT_EQUAL(resp_pipe_feed(p, "+OK\r\n", 5, 0), -EPROTO); /* nothing pending */
	resp_pipe_reset(p, -ECONNRESET);
	REQUIRE(cmd(p, "PING", NULL, 1) == 0);
	CU_ASSERT_EQUAL(resp_pipe_feed(p, "$x\r\n", 4, 0), -EPROTO);
	resp_pipe_reset(p, -ECONNRESET);
	REQUIRE(cmd(p, "PING", NULL, 2) == 0);
	CU_ASSERT_EQUAL(resp_pipe_feed(p, "*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", 40, 0), -EPROTO);
	resp_pipe_reset(p, -ECONNRESET);
	CU_ASSERT_EQUAL(S.n, 3);
out:
	resp_pipe_free(p);
}

/* A reply over the cap drops the connection, whether it is one huge bulk string (refused
 * before it is all there), a huge array length (refused before hiredis allocates it) or many
 * small elements. */
static void test_huge_refused(void)
{
	struct resp_limits lim = { .max_reply_bytes = 4096 };
	struct resp_pipe *p = resp_pipe_new(&lim);
	char chunk[1024];
	int err = 0;

	memset(chunk, 'x', sizeof(chunk));
	REQUIRE(cmd(p, "GET", "big", 0) == 0);
	REQUIRE(resp_pipe_feed(p, "$1000000000\r\n", 13, 0) == 0);
	for (int i = 0; i < 10 && err == 0; i++)
		err = resp_pipe_feed(p, chunk, sizeof(chunk), 0);
	CU_ASSERT_EQUAL(err, -EMSGSIZE);
	resp_pipe_reset(p, -ECONNRESET);

	REQUIRE(cmd(p, "LRANGE", "l", 1) == 0);
	CU_ASSERT_EQUAL(resp_pipe_feed(p, "*2000000000\r\n", 13, 0), -EMSGSIZE);
	resp_pipe_reset(p, -ECONNRESET);

	REQUIRE(cmd(p, "LRANGE", "l", 2) == 0);
	REQUIRE(resp_pipe_feed(p, "*200\r\n", 6, 0) == 0);
	err = 0;
	for (int i = 0; i < 200 && err == 0; i++)
		err = resp_pipe_feed(p, "$20\r\n01234567890123456789\r\n", 27, 0);
	CU_ASSERT_EQUAL(err, -EMSGSIZE);
	resp_pipe_reset(p, -ECONNRESET);

	/* Just under the cap is fine. */
	REQUIRE(cmd(p, "GET", "k", 3) == 0);
	REQUIRE(resp_pipe_feed(p, "$4000\r\n", 7, 0) == 0);
	for (int i = 0; i < 3; i++)
		REQUIRE(resp_pipe_feed(p, chunk, sizeof(chunk), 0) == 0);
	REQUIRE(resp_pipe_feed(p, chunk, 4000 - 3 * sizeof(chunk), 0) == 0);
	REQUIRE(resp_pipe_feed(p, "\r\n", 2, 0) == 0);
	CU_ASSERT_EQUAL(S.n, 4);
	CU_ASSERT_EQUAL(S.err[3], 0);
	CU_ASSERT_EQUAL(S.type[3], REDIS_REPLY_STRING);
out:
	resp_pipe_free(p);
}

/* Over the queue's limits: -ENOBUFS at once, the callback never called. */
static void test_limits(void)
{
	struct resp_limits lim = { .max_pending = 3, .max_pending_bytes = 100 };
	struct resp_pipe *p = resp_pipe_new(&lim);
	char big[200];
	const char *av[2] = { "SET", big };
	struct resp_stats st;

	memset(big, 'v', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CU_ASSERT_EQUAL(resp_pipe_command(p, 2, av, NULL, on_reply, NULL, 0), -ENOBUFS);
	for (int i = 0; i < 3; i++)
		CU_ASSERT_EQUAL(cmd(p, "PING", NULL, i), 0);
	CU_ASSERT_EQUAL(cmd(p, "PING", NULL, 3), -ENOBUFS);
	resp_pipe_stats(p, &st);
	CU_ASSERT_EQUAL(st.refused, 2);
	CU_ASSERT_EQUAL(st.pending, 3);
	REQUIRE(resp_pipe_feed(p, "+PONG\r\n", 7, 0) == 0);
	CU_ASSERT_EQUAL(cmd(p, "PING", NULL, 4), 0);
	CU_ASSERT_EQUAL(S.n, 1);
out:
	resp_pipe_free(p);
}

static struct resp_pipe *again_pipe;

/* A callback that queues a command while the connection is being reset. */
static void requeue(void *ctx, int err, const redisReply *r)
{
	on_reply(ctx, err, r);
	cmd(again_pipe, "PING", NULL, 100);
}

/* A reset fails each pending command once; commands its callbacks queue stay queued. */
static void test_reset_exactly_once(void)
{
	struct resp_pipe *p = resp_pipe_new(NULL);
	const char *av[1] = { "PING" };

	again_pipe = p;
	REQUIRE(cmd(p, "PING", NULL, 0) == 0);
	REQUIRE(resp_pipe_command(p, 1, av, NULL, requeue, (void *)1, 0) == 0);
	REQUIRE(cmd(p, "PING", NULL, 2) == 0);
	REQUIRE(resp_pipe_feed(p, "+PO", 3, 0) == 0); /* half a reply, dropped with the reset */
	resp_pipe_reset(p, -ECONNRESET);
	REQUIRE(S.n == 3);
	for (int i = 0; i < 3; i++) {
		CU_ASSERT_EQUAL(S.err[i], -ECONNRESET);
		CU_ASSERT_EQUAL(S.ctx[i], i);
	}
	CU_ASSERT_EQUAL(resp_pipe_pending(p), 1);
	CU_ASSERT_EQUAL(resp_pipe_out(p)->len, 14); /* only the new PING's bytes */
	REQUIRE(resp_pipe_feed(p, "+PONG\r\n", 7, 0) == 0);
	CU_ASSERT_EQUAL(S.n, 4);
	CU_ASSERT_EQUAL(S.ctx[3], 100);
	CU_ASSERT_EQUAL(S.err[3], 0);
out:
	resp_pipe_free(p);
}

/* Deadlines: the commands issued at or before the cutoff fail, oldest first. */
static void test_expire(void)
{
	struct resp_pipe *p = resp_pipe_new(NULL);
	const char *av[1] = { "PING" };
	uint64_t oldest = 0;

	for (int i = 0; i < 4; i++)
		REQUIRE(resp_pipe_command(p, 1, av, NULL, on_reply, (void *)(intptr_t)i, 100 * (uint64_t)(i + 1)) == 0);
	REQUIRE(resp_pipe_oldest(p, &oldest));
	CU_ASSERT_EQUAL(oldest, 100);
	CU_ASSERT_EQUAL(resp_pipe_expire(p, 250, -ETIMEDOUT), 2);
	REQUIRE(resp_pipe_oldest(p, &oldest));
	CU_ASSERT_EQUAL(oldest, 300);
	CU_ASSERT_EQUAL(S.n, 2);
	CU_ASSERT_EQUAL(S.err[1], -ETIMEDOUT);
	resp_pipe_fail_head(p, -EMSGSIZE);
	CU_ASSERT_EQUAL(S.err[2], -EMSGSIZE);
	CU_ASSERT_EQUAL(S.ctx[2], 2);
out:
	resp_pipe_free(p);
}

static void halting(void *ctx, int err, const redisReply *r)
{
	on_reply(ctx, err, r);
	resp_pipe_halt(again_pipe, -EACCES);
}

/* A handshake goes ahead of what was queued; a callback can stop the feed. */
static void test_handshake_and_halt(void)
{
	struct resp_pipe *p = resp_pipe_new(NULL);
	const char *av[3] = { "AUTH", "u", "secret" };
	struct buf hs = BUF_INIT;

	again_pipe = p;
	REQUIRE(cmd(p, "PING", NULL, 1) == 0);
	resp_pipe_handshake(p, 3, av, NULL, &hs, halting, (void *)0, 0);
	CU_ASSERT_EQUAL(resp_pipe_pending(p), 2);
	REQUIRE(hs.len > 0);
	CU_ASSERT_PTR_NOT_NULL(memmem(hs.p, hs.len, "AUTH", 4));
	CU_ASSERT_PTR_NULL(memmem(resp_pipe_out(p)->p, resp_pipe_out(p)->len, "AUTH", 4));
	CU_ASSERT_EQUAL(resp_pipe_feed(p, "-WRONGPASS no\r\n+PONG\r\n", 22, 0), -EACCES);
	CU_ASSERT_EQUAL(S.n, 1); /* PING's reply was not handed out */
	CU_ASSERT_TRUE(resp_is_error(NULL, "X") == false);
	resp_pipe_reset(p, -EACCES);
	CU_ASSERT_EQUAL(S.n, 2);
	CU_ASSERT_EQUAL(S.ctx[1], 1);
	CU_ASSERT_EQUAL(S.err[1], -EACCES);
out:
	buf_free(&hs);
	resp_pipe_free(p);
}

static bool out_has(struct resp_pipe *p, const char *s)
{
	struct buf *o = resp_pipe_out(p);

	return o->len && memmem(o->p, o->len, s, strlen(s));
}

/* A function: FCALL by its name; "Function not found" loads its library (FUNCTION LOAD,
 * the text borrowed) and calls again, unseen by the caller; once only. Other errors, and a
 * script's NOSCRIPT text, go to the caller. */
static void test_function_retry(void)
{
	static const char lib[] = "#!lua name=t\nredis.register_function('t_f', function() return 5 end)";
	struct resp_pipe *p = resp_pipe_new(NULL);
	struct resp_script *f = resp_function_new("f", "t_f", lib);
	const char *av[2] = { "{p}:k", "arg" };
	struct resp_stats st;

	CU_ASSERT_STRING_EQUAL(resp_script_name(f), "f");
	CU_ASSERT_STRING_EQUAL(resp_script_sha(f), "t_f");
	REQUIRE(resp_pipe_evalsha(p, f, 1, 2, av, NULL, on_reply, (void *)7, 0) == 0);
	REQUIRE(out_has(p, "FCALL") && out_has(p, "t_f") && !out_has(p, "EVALSHA"));
	resp_pipe_out(p)->len = 0;
	REQUIRE(resp_pipe_feed(p, "-ERR Function not found\r\n", 25, 0) == 0);
	CU_ASSERT_EQUAL(S.n, 0);
	CU_ASSERT_TRUE(out_has(p, "FUNCTION") && out_has(p, "register_function") &&
		       out_has(p, "FCALL"));
	REQUIRE(resp_pipe_feed(p, "$1\r\nt\r\n:5\r\n", 11, 0) == 0);
	REQUIRE(S.n == 1);
	CU_ASSERT_EQUAL(S.ctx[0], 7);
	CU_ASSERT_EQUAL(S.integer[0], 5);
	/* loaded but still not found (another library's function): the caller hears it */
	REQUIRE(resp_pipe_evalsha(p, f, 1, 2, av, NULL, on_reply, (void *)8, 0) == 0);
	REQUIRE(resp_pipe_feed(p, "-ERR Function not found\r\n", 25, 0) == 0);
	{
		static const char two[] = "-ERR Library 't' already exists\r\n"
					  "-ERR Function not found\r\n";

		REQUIRE(resp_pipe_feed(p, two, sizeof(two) - 1, 0) == 0);
	}
	REQUIRE(S.n == 2);
	CU_ASSERT_STRING_EQUAL(S.str[1], "ERR Function not found");
	/* NOSCRIPT is a script's word: a function's caller gets it as is */
	REQUIRE(resp_pipe_evalsha(p, f, 1, 2, av, NULL, on_reply, (void *)9, 0) == 0);
	REQUIRE(resp_pipe_feed(p, "-NOSCRIPT x\r\n", 13, 0) == 0);
	REQUIRE(S.n == 3);
	resp_pipe_stats(p, &st);
	CU_ASSERT_EQUAL(st.noscript_retries, 2);
	CU_ASSERT_EQUAL(st.pending, 0);
out:
	resp_pipe_free(p);
	resp_script_free(f);
}

/* NOSCRIPT: SCRIPT LOAD and the same EVALSHA again, unseen by the caller; once only. */
static void test_noscript_retry(void)
{
	struct resp_pipe *p = resp_pipe_new(NULL);
	struct resp_script *s = resp_script_new("incr", "return redis.call('INCR', KEYS[1])");
	const char *av[2] = { "{p}:k", "arg" };
	char reply[64];
	struct resp_stats st;

	REQUIRE(resp_pipe_evalsha(p, s, 1, 2, av, NULL, on_reply, (void *)7, 0) == 0);
	REQUIRE(out_has(p, resp_script_sha(s)));
	REQUIRE(out_has(p, "EVALSHA"));
	REQUIRE(cmd(p, "PING", NULL, 8) == 0); /* pipelined behind it */
	resp_pipe_out(p)->len = 0;             /* "sent" */
	REQUIRE(resp_pipe_feed(p, "-NOSCRIPT No matching script.\r\n", 31, 0) == 0);
	CU_ASSERT_EQUAL(S.n, 0);
	CU_ASSERT_TRUE(out_has(p, "SCRIPT"));
	CU_ASSERT_TRUE(out_has(p, "return redis.call"));
	CU_ASSERT_TRUE(out_has(p, "{p}:k"));
	CU_ASSERT_EQUAL(resp_pipe_pending(p), 3);
	resp_pipe_out(p)->len = 0;
	/* PING's answer, then SCRIPT LOAD's (the sha), then the EVALSHA's. */
	snprintf(reply, sizeof(reply), "+PONG\r\n$40\r\n%s\r\n:5\r\n", resp_script_sha(s));
	REQUIRE(resp_pipe_feed(p, reply, strlen(reply), 0) == 0);
	REQUIRE(S.n == 2);
	CU_ASSERT_EQUAL(S.ctx[0], 8);
	CU_ASSERT_EQUAL(S.ctx[1], 7);
	CU_ASSERT_EQUAL(S.err[1], 0);
	CU_ASSERT_EQUAL(S.integer[1], 5);

	/* A second NOSCRIPT (the load failed) goes to the caller. */
	REQUIRE(resp_pipe_evalsha(p, s, 1, 2, av, NULL, on_reply, (void *)9, 0) == 0);
	REQUIRE(resp_pipe_feed(p, "-NOSCRIPT x\r\n", 13, 0) == 0);
	REQUIRE(resp_pipe_feed(p, "-ERR Error compiling script\r\n-NOSCRIPT x\r\n", 42, 0) == 0);
	REQUIRE(S.n == 3);
	CU_ASSERT_EQUAL(S.ctx[2], 9);
	CU_ASSERT_EQUAL(S.type[2], REDIS_REPLY_ERROR);
	CU_ASSERT_STRING_EQUAL(S.str[2], "NOSCRIPT x");
	resp_pipe_stats(p, &st);
	CU_ASSERT_EQUAL(st.noscript_retries, 2);
	CU_ASSERT_EQUAL(st.commands, 3); /* as the callers see them */
	CU_ASSERT_EQUAL(st.pending, 0);

	/* A retried EVALSHA still pending when the connection goes fails once. */
	REQUIRE(resp_pipe_evalsha(p, s, 1, 2, av, NULL, on_reply, (void *)10, 0) == 0);
	REQUIRE(resp_pipe_feed(p, "-NOSCRIPT x\r\n", 13, 0) == 0);
	resp_pipe_reset(p, -ECONNRESET);
	CU_ASSERT_EQUAL(S.n, 4);
	CU_ASSERT_EQUAL(S.err[3], -ECONNRESET);
out:
	resp_pipe_free(p);
	resp_script_free(s);
}

static struct {
	int n;
	char last[3][32];
} M;

static void on_message(void *ctx, const struct resp_message *m)
{
	(void)ctx;
	M.n++;
	snprintf(M.last[0], 32, "%.*s", (int)m->pattern_len, m->pattern ? m->pattern : "");
	snprintf(M.last[1], 32, "%.*s", (int)m->channel_len, m->channel);
	snprintf(M.last[2], 32, "%.*s", (int)m->payload_len, m->payload);
}

/* Subscriber connections: pushes to the message callback, confirmations to the FIFO. */
static void test_subscriber(void)
{
	struct resp_pipe *p = resp_pipe_new(NULL);
	static const char in[] = "*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n"
				 "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n"
				 "*4\r\n$8\r\npmessage\r\n$2\r\nc*\r\n$2\r\ncx\r\n$2\r\nhi\r\n";

	memset(&M, 0, sizeof(M));
	resp_pipe_set_subscriber(p, on_message, NULL);
	REQUIRE(cmd(p, "SUBSCRIBE", "ch", 1) == 0);
	REQUIRE(cmd(p, "PSUBSCRIBE", "c*", 2) == 0);
	REQUIRE(resp_pipe_feed(p, in, sizeof(in) - 1, 0) == 0);
	CU_ASSERT_EQUAL(S.n, 1);
	CU_ASSERT_EQUAL(S.type[0], REDIS_REPLY_ARRAY);
	CU_ASSERT_EQUAL(M.n, 2);
	CU_ASSERT_STRING_EQUAL(M.last[0], "c*");
	CU_ASSERT_STRING_EQUAL(M.last[1], "cx");
	CU_ASSERT_STRING_EQUAL(M.last[2], "hi");
out:
	resp_pipe_free(p);
}

static void test_sha1(void)
{
	char hex[SHA1_HEX_LEN + 1];
	char a[1000];

	sha1_hex("", 0, hex);
	CU_ASSERT_STRING_EQUAL(hex, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
	sha1_hex("abc", 3, hex);
	CU_ASSERT_STRING_EQUAL(hex, "a9993e364706816aba3e25717850c26c9cd0d89d");
	memset(a, 'a', sizeof(a));
	sha1_hex(a, sizeof(a), hex);
	CU_ASSERT_STRING_EQUAL(hex, "291e9a6c66994949b57ba5e650361e98fc36b1ba");
	sha1_hex("return 1", 8, hex); /* what Redis answers to SCRIPT LOAD "return 1" */
	CU_ASSERT_STRING_EQUAL(hex, "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
}

static void test_addr(void)
{
	struct redis_addr a;
	struct sockaddr_in *in4 = (struct sockaddr_in *)&a.sa;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a.sa;
	char path[200];

	CU_ASSERT_EQUAL(redis_addr_parse("127.0.0.1:6379", &a), 0);
	CU_ASSERT_EQUAL(a.sa.ss_family, AF_INET);
	CU_ASSERT_EQUAL(ntohs(in4->sin_port), 6379);
	CU_ASSERT_EQUAL(redis_addr_parse("[::1]:7000", &a), 0);
	CU_ASSERT_EQUAL(a.sa.ss_family, AF_INET6);
	CU_ASSERT_EQUAL(ntohs(in6->sin6_port), 7000);
	CU_ASSERT_EQUAL(redis_addr_parse("unix:/run/redis.sock", &a), 0);
	CU_ASSERT_EQUAL(a.sa.ss_family, AF_UNIX);
	CU_ASSERT_STRING_EQUAL(((struct sockaddr_un *)&a.sa)->sun_path, "/run/redis.sock");
	CU_ASSERT_EQUAL(redis_addr_parse("::1:6379", &a), -EINVAL);
	CU_ASSERT_EQUAL(redis_addr_parse("127.0.0.1", &a), -EINVAL);
	CU_ASSERT_EQUAL(redis_addr_parse("127.0.0.1:0", &a), -EINVAL);
	CU_ASSERT_EQUAL(redis_addr_parse("127.0.0.1:65536", &a), -EINVAL);
	CU_ASSERT_EQUAL(redis_addr_parse("127.0.0.1:12x", &a), -EINVAL);
	CU_ASSERT_EQUAL(redis_addr_parse(":6379", &a), -EINVAL);
	CU_ASSERT_EQUAL(redis_addr_parse("[::1]6379", &a), -EINVAL);
	CU_ASSERT_EQUAL(redis_addr_parse("unix:", &a), -EINVAL);
	memset(path, 'p', sizeof(path) - 1);
	memcpy(path, "unix:/", 6);
	path[sizeof(path) - 1] = '\0';
	CU_ASSERT_EQUAL(redis_addr_parse(path, &a), -ENAMETOOLONG);
}

static void test_backoff(void)
{
	/* Doubling from the minimum to the cap, each in [d/2, d]. */
	CU_ASSERT_EQUAL(redis_backoff_ms(0, 50, 2000, 0), 25);
	CU_ASSERT_EQUAL(redis_backoff_ms(0, 50, 2000, 25), 50);
	CU_ASSERT_EQUAL(redis_backoff_ms(1, 50, 2000, 0), 50);
	CU_ASSERT_EQUAL(redis_backoff_ms(3, 50, 2000, 200), 400);
	CU_ASSERT_EQUAL(redis_backoff_ms(6, 50, 2000, 0), 1000);
	CU_ASSERT_EQUAL(redis_backoff_ms(1000, 50, 2000, 1000), 2000);
	for (uint32_t r = 0; r < 5000; r += 7) {
		uint32_t d = redis_backoff_ms(r % 12, 50, 2000, r * 2654435761u);

		CU_ASSERT_TRUE(d >= 25 && d <= 2000);
	}
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "format: binary-safe arguments", test_format },
		{ "reader: a stream split byte by byte", test_split_byte_by_byte },
		{ "reader: the stream at once", test_whole_stream },
		{ "reader: nested arrays", test_nested },
		{ "FIFO: replies in the order sent", test_fifo_order },
		{ "reader: garbage and unasked replies", test_garbage },
		{ "reader: huge replies refused", test_huge_refused },
		{ "queue limits: -ENOBUFS at once", test_limits },
		{ "reset: every callback once", test_reset_exactly_once },
		{ "deadlines: expire oldest first", test_expire },
		{ "handshake first; halt from a callback", test_handshake_and_halt },
		{ "EVALSHA: NOSCRIPT reloads and retries once", test_noscript_retry },
		{ "FCALL: a function not found loads its library, retries once", test_function_retry },
		{ "subscriber pushes", test_subscriber },
		{ "sha1 vectors", test_sha1 },
		{ "addresses", test_addr },
		{ "backoff with jitter", test_backoff },
		{ NULL, NULL },
	};
	static const struct unit_suite suites[] = {
		{ "resp", tests, NULL, NULL, setup, NULL },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};

	return unit_main(suites);
}
