/* daemon/cluster/call: the script ARGV builders, the argument checks and the reply parser,
 * against canned replies made by hiredis' own reader from RESP text (the very objects
 * daemon/redis hands over). Every script's answers, every error code, malformed replies. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "cluster/call.h"
#include "config.h"
#include "unit.h"
#include "util/buf.h"

#define ID1 "AAAAAAAAAAAAAAAAAAAAA1"
#define ID2 "BBBBBBBBBBBBBBBBBBBBB2"
#define P "{mcpchat}"

static struct config cfg;
static struct cluster_call_reply out;

static void setup(void)
{
	config_defaults(&cfg);
	memset(&out, 0, sizeof(out));
}

static void teardown(void)
{
	cluster_call_reply_free(&out);
}

/* RESP text -> a reply, as the pipe's reader would make it; the caller frees it. */
static redisReply *from_resp(const char *text, size_t len)
{
	redisReader *rd = redisReaderCreate();
	void *r = NULL;

	if (redisReaderFeed(rd, text, len) != REDIS_OK || redisReaderGetReply(rd, &r) != REDIS_OK)
		r = NULL;
	redisReaderFree(rd);
	return r;
}

#define RESP(lit) from_resp(lit, sizeof(lit) - 1)

/* An array reply of the tokens (NULL-terminated): ":N" an integer, "!NIL" a nil, any other a
 * bulk string. */
static redisReply *arr(const char *first, ...)
{
	struct buf b = BUF_INIT;
	const char *t;
	size_t n = 0;
	va_list ap;
	redisReply *r;
	struct buf body = BUF_INIT;

	va_start(ap, first);
	for (t = first; t; t = va_arg(ap, const char *), n++) {
		if (t[0] == ':' && t[1])
			buf_printf(&body, "%s\r\n", t);
		else if (strcmp(t, "!NIL") == 0)
			buf_puts(&body, "$-1\r\n");
		else
			buf_printf(&body, "$%zu\r\n%s\r\n", strlen(t), t);
	}
	va_end(ap);
	buf_printf(&b, "*%zu\r\n", n);
	buf_append(&b, body.p, body.len);
	r = from_resp(b.p, b.len);
	buf_free(&b);
	buf_free(&body);
	return r;
}

/* Parses r (then frees it: the result must not need it) and returns the parser's answer. */
static int parse(enum cluster_script s, redisReply *r)
{
	int err;

	CU_ASSERT_PTR_NOT_NULL(r); /* the canned text is RESP: the parser is what is tested */
	cluster_call_reply_free(&out);
	err = cluster_call_parse(s, r, &out);
	if (r)
		freeReplyObject(r);
	return err;
}

static bool argv_is(const struct cluster_call_args *a, int i, const char *s)
{
	return i < a->argc && a->argvlen[i] == strlen(s) && memcmp(a->argv[i], s, a->argvlen[i]) == 0;
}

/* Builders */

static void test_prefix(void)
{
	char p[CLUSTER_CALL_PREFIX_MAX];

	CU_ASSERT_EQUAL(cluster_call_prefix("mcpchat", p), 0);
	CU_ASSERT_STRING_EQUAL(p, P);
	CU_ASSERT_EQUAL(cluster_call_prefix("", p), -EINVAL);
	CU_ASSERT_EQUAL(cluster_call_prefix("a{b", p), -EINVAL);
	CU_ASSERT_EQUAL(cluster_call_prefix("0123456789012345678901234567890123456789", p), -EINVAL);
}

static void test_build_chat(void)
{
	struct cluster_call_args a;
	const char *tags[] = { "Cats", "dogs" };

	CU_ASSERT_EQUAL(cluster_call_chat_new(&a, P, ID1, 60000, "n1", true, "h1", "nonce"), 0);
	CU_ASSERT_EQUAL(a.script, CLUSTER_SCRIPT_CHAT_NEW);
	CU_ASSERT_EQUAL(a.argc, 7);
	CU_ASSERT_TRUE(argv_is(&a, 0, P) && argv_is(&a, 1, ID1) && argv_is(&a, 2, "60000") &&
		       argv_is(&a, 3, "n1") && argv_is(&a, 4, "legacy") && argv_is(&a, 5, "h1") &&
		       argv_is(&a, 6, "nonce"));

	CU_ASSERT_EQUAL(cluster_call_enter_queue(&a, P, ID1, "r1", NULL, tags, 2, &cfg), 0);
	CU_ASSERT_EQUAL(a.script, CLUSTER_SCRIPT_ENTER_QUEUE);
	CU_ASSERT_EQUAL(a.argc, 8);
	CU_ASSERT_TRUE(argv_is(&a, 2, "r1") && argv_is(&a, 3, "") && argv_is(&a, 4, "10000") &&
		       argv_is(&a, 5, "256") && argv_is(&a, 6, "Cats") && argv_is(&a, 7, "dogs"));
	CU_ASSERT_EQUAL(cluster_call_enter_queue(&a, P, ID1, NULL, "Ann", NULL, 0, &cfg), 0);
	CU_ASSERT_TRUE(argv_is(&a, 2, "") && argv_is(&a, 3, "Ann") && a.argc == 6);
	CU_ASSERT_EQUAL(cluster_call_enter_queue(&a, P, ID1, NULL, NULL, tags, 17, &cfg), -EINVAL);
	CU_ASSERT_EQUAL(cluster_call_enter_queue(&a, P, "short", NULL, NULL, NULL, 0, &cfg), -EINVAL);
	CU_ASSERT_EQUAL(cluster_call_enter_queue(&a, P, ID1 "x", NULL, NULL, NULL, 0, &cfg), -EINVAL);
	CU_ASSERT_EQUAL(cluster_call_enter_queue(&a, P, "AAAAAAAAAAAAAAAAAAAA:*", NULL, NULL, NULL, 0, &cfg), -EINVAL);

	CU_ASSERT_EQUAL(cluster_call_join_room(&a, P, ID1, "r2", "lobby", "Bob", &cfg), 0);
	CU_ASSERT_TRUE(argv_is(&a, 2, "r2") && argv_is(&a, 3, "lobby") && argv_is(&a, 4, "Bob") &&
		       argv_is(&a, 5, "256") && a.argc == 6);
	CU_ASSERT_EQUAL(cluster_call_join_room(&a, P, ID1, "r2", "lob:by", NULL, &cfg), -EINVAL);

	CU_ASSERT_EQUAL(cluster_call_leave(&a, P, ID1, "r3", "lobby"), 0);
	CU_ASSERT_TRUE(argv_is(&a, 2, "r3") && argv_is(&a, 3, "lobby") && a.argc == 4);
	CU_ASSERT_EQUAL(cluster_call_status(&a, P, ID1), 0);
	CU_ASSERT_EQUAL(a.argc, 2);
	CU_ASSERT_EQUAL(cluster_call_end(&a, P, ID1, CHAT_KICKED), 0);
	CU_ASSERT_TRUE(argv_is(&a, 2, "kicked"));
	CU_ASSERT_EQUAL(cluster_call_status(&a, NULL, ID1), -EINVAL);
}

/* A message goes whole, NUL included: lengths, never strlen. */
static void test_build_send_binary(void)
{
	static const char text[] = "a\0b";
	struct cluster_call_args a;

	cfg.rate_per_second = 0.5;
	CU_ASSERT_EQUAL(cluster_call_send(&a, P, ID1, "lobby", "mid1", text, 3, &cfg), 0);
	CU_ASSERT_EQUAL(a.script, CLUSTER_SCRIPT_SEND);
	CU_ASSERT_EQUAL(a.argc, 8);
	CU_ASSERT_EQUAL(a.argvlen[4], 3);
	CU_ASSERT_EQUAL(memcmp(a.argv[4], text, 3), 0);
	CU_ASSERT_TRUE(argv_is(&a, 3, "mid1") && argv_is(&a, 5, "0.5") && argv_is(&a, 6, "20") &&
		       argv_is(&a, 7, "256"));
	CU_ASSERT_EQUAL(cluster_call_send(&a, P, ID1, "lobby", "", text, 3, &cfg), -EINVAL);
}

static void test_strip_seq(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "{\"a\":1,\"seq\":5}", "{\"a\":1}" },
		{ "{\"seq\":12}", "{}" },
		{ "{\"m\":\"\\\"seq\\\":1\",\"seq\":7}", "{\"m\":\"\\\"seq\\\":1\"}" },
		{ "{\"a\":1}", "{\"a\":1}" },           /* no seq: unchanged */
		{ "{\"a\":\"seq\":}", "{\"a\":\"seq\":}" }, /* no digits: unchanged */
		{ "{\"xseq\":3}", "{\"xseq\":3}" },     /* another key */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = cluster_call_strip_seq(cases[i].in, strlen(cases[i].in));
		char got[64];

		snprintf(got, sizeof(got), "%.*s}", (int)n, cases[i].in);
		CHECKF(strcmp(got, cases[i].out) == 0, "%s -> %s", cases[i].in, got);
	}
	CU_ASSERT_EQUAL(cluster_call_strip_seq("", 0), 0);
	CU_ASSERT_EQUAL(cluster_call_strip_seq("x", 1), 0);
}

static void test_build_read_and_timers(void)
{
	struct cluster_call_args a;
	const char *ids[CLUSTER_CALL_TOUCH_MAX + 1];

	CU_ASSERT_EQUAL(cluster_call_read(&a, P, ID1, false, 0, CLUSTER_ACK_NONE, 100), 0);
	CU_ASSERT_TRUE(argv_is(&a, 2, "") && argv_is(&a, 3, "0") && argv_is(&a, 4, "100"));
	CU_ASSERT_EQUAL(cluster_call_read(&a, P, ID1, true, 18446744073709551615ULL,
					  CLUSTER_ACK_RETURNED, 100000), 0);
	CU_ASSERT_TRUE(argv_is(&a, 2, "18446744073709551615") && argv_is(&a, 3, "2") &&
		       argv_is(&a, 4, "512"));
	CU_ASSERT_EQUAL(cluster_call_read(&a, P, ID1, true, 5, CLUSTER_ACK_AFTER, 0), 0);
	CU_ASSERT_TRUE(argv_is(&a, 2, "5") && argv_is(&a, 3, "1") && argv_is(&a, 4, "1"));

	CU_ASSERT_EQUAL(cluster_call_pull(&a, P, ID1, 7, 5, 0), 0);
	CU_ASSERT_TRUE(a.script == CLUSTER_SCRIPT_READ && a.argc == 6 && argv_is(&a, 2, "7") &&
		       argv_is(&a, 3, "3") && argv_is(&a, 4, "0") && argv_is(&a, 5, "5"));
	CU_ASSERT_EQUAL(cluster_call_pull(&a, P, ID1, 0, 0, 100000), 0);
	CU_ASSERT_TRUE(argv_is(&a, 4, "512"));
	CU_ASSERT_EQUAL(cluster_call_pull(&a, P, "short", 0, 0, 1), -EINVAL);
	CU_ASSERT_EQUAL(cluster_call_chat_base(&a, 3), -EINVAL); /* not a chat_new */
	CU_ASSERT_EQUAL(cluster_call_chat_new(&a, P, ID1, 1000, "n1", false, "", "x"), 0);
	CU_ASSERT_EQUAL(cluster_call_chat_base(&a, 9), 0);
	CU_ASSERT_TRUE(a.argc == 8 && argv_is(&a, 7, "9"));

	for (size_t i = 0; i <= CLUSTER_CALL_TOUCH_MAX; i++)
		ids[i] = i % 2 ? ID1 : ID2;
	CU_ASSERT_EQUAL(cluster_call_touch(&a, P, ids, CLUSTER_CALL_TOUCH_MAX), 0);
	CU_ASSERT_EQUAL(a.argc, 1 + CLUSTER_CALL_TOUCH_MAX);
	CU_ASSERT_EQUAL(cluster_call_touch(&a, P, ids, CLUSTER_CALL_TOUCH_MAX + 1), -EINVAL);
	CU_ASSERT_EQUAL(cluster_call_touch(&a, P, ids, 0), -EINVAL);
	CU_ASSERT_EQUAL(cluster_call_sweep(&a, P, 16), 0);
	CU_ASSERT_TRUE(a.script == CLUSTER_SCRIPT_SWEEP && argv_is(&a, 1, "16") && a.argc == 2);
	CU_ASSERT_EQUAL(cluster_call_fallback(&a, P, 4), 0);
	CU_ASSERT_TRUE(a.script == CLUSTER_SCRIPT_FALLBACK && argv_is(&a, 1, "4"));
	CU_ASSERT_EQUAL(cluster_call_sweep(&a, P, 0), -EINVAL);
}

/* The checks are the single node's: same fields, same sentences. */
static bool cmd_is(const struct cluster_call_cmd *c, const char *const *want)
{
	int i;

	for (i = 0; want[i]; i++)
		if (i >= c->argc || c->argvlen[i] != strlen(want[i]) ||
		    memcmp(c->argv[i], want[i], c->argvlen[i]) != 0)
			return false;
	return i == c->argc;
}

static int parse_ack(redisReply *r, bool *gone)
{
	int err;

	CU_ASSERT_PTR_NOT_NULL(r);
	*gone = true;
	err = cluster_call_parse_ack(r, gone);
	if (r)
		freeReplyObject(r);
	return err;
}

/* ack: plain commands, the trim only with upto, never past the largest stream id; SET XX. */
static void test_ack(void)
{
	struct cluster_call_ack_cmds a;
	bool gone;

	CU_ASSERT_EQUAL(cluster_call_ack(&a, P, ID1, true, 7, 9), 0);
	CU_ASSERT_EQUAL(a.n, 2);
	CU_ASSERT_TRUE(cmd_is(&a.cmd[0], (const char *[]){ "XTRIM", P ":mb:" ID1, "MINID", "8",
							  NULL }));
	CU_ASSERT_TRUE(cmd_is(&a.cmd[1], (const char *[]){ "SET", P ":cur:" ID1, "9", "XX",
							  "KEEPTTL", NULL }));
	CU_ASSERT_EQUAL(cluster_call_ack(&a, P, ID1, false, 7, 18446744073709551615ULL), 0);
	CU_ASSERT_EQUAL(a.n, 1);
	CU_ASSERT_TRUE(cmd_is(&a.cmd[0], (const char *[]){ "SET", P ":cur:" ID1,
							  "18446744073709551615", "XX", "KEEPTTL",
							  NULL }));
	CU_ASSERT_EQUAL(cluster_call_ack(&a, P, ID1, true, 18446744073709551615ULL, 0), 0);
	CU_ASSERT_TRUE(cmd_is(&a.cmd[0], (const char *[]){ "XTRIM", P ":mb:" ID1, "MINID",
							  "18446744073709551615", NULL }));
	CU_ASSERT_EQUAL(cluster_call_ack(&a, P, "short", true, 1, 1), -EINVAL);
	CU_ASSERT_EQUAL(cluster_call_ack(&a, P, ID1 "x", true, 1, 1), -EINVAL);
	CU_ASSERT_EQUAL(cluster_call_ack(&a, "", ID1, true, 1, 1), -EINVAL);

	CU_ASSERT_EQUAL(parse_ack(RESP("+OK\r\n"), &gone), 0);
	CU_ASSERT_FALSE(gone);
	CU_ASSERT_EQUAL(parse_ack(RESP("$-1\r\n"), &gone), 0);
	CU_ASSERT_TRUE(gone);
	CU_ASSERT_EQUAL(parse_ack(RESP("-ERR wrong\r\n"), &gone), -EIO);
	CU_ASSERT_EQUAL(parse_ack(RESP("+QUEUED\r\n"), &gone), -EPROTO);
	CU_ASSERT_EQUAL(parse_ack(RESP(":1\r\n"), &gone), -EPROTO);
	CU_ASSERT_EQUAL(parse_ack(arr("ok", "acked", NULL), &gone), -EPROTO);
	CU_ASSERT_FALSE(gone);
	CU_ASSERT_EQUAL(cluster_call_parse_ack(NULL, &gone), -EPROTO);
}

static void test_checks(void)
{
	char msg[CHAT_SENTENCE_MAX];
	struct chat_result r;
	const char *tags[] = { "ok", "" };
	const char *nine[] = { "1", "2", "3", "4", "5", "6", "7", "8", "9" };

	memset(&r, 0, sizeof(r));
	CU_ASSERT_TRUE(cluster_call_check_enter(&cfg, NULL, NULL, 0, &r, msg));
	CU_ASSERT_TRUE(cluster_call_check_enter(&cfg, "Ann", tags, 1, &r, msg));
	CU_ASSERT_FALSE(cluster_call_check_enter(&cfg, "", NULL, 0, &r, msg));
	CU_ASSERT_EQUAL(r.error, CHAT_INVALID_ARGUMENTS);
	CU_ASSERT_STRING_EQUAL(r.field, "display_name");
	CU_ASSERT_PTR_EQUAL(r.message, msg);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "1 to 32 characters"));
	CU_ASSERT_FALSE(cluster_call_check_enter(&cfg, "a\tb", NULL, 0, &r, msg));
	CU_ASSERT_FALSE(cluster_call_check_enter(&cfg, NULL, tags, 2, &r, msg));
	CU_ASSERT_STRING_EQUAL(r.field, "interests");
	CU_ASSERT_FALSE(cluster_call_check_enter(&cfg, NULL, nine, 9, &r, msg));
	CU_ASSERT_STRING_EQUAL(msg, "interests must be at most 8 tags of 1 to 24 characters of valid UTF-8 each.");
	CU_ASSERT_TRUE(cluster_call_check_join("lobby", "Bob", &cfg, &r, msg));
	CU_ASSERT_FALSE(cluster_call_check_join("lob by", "Bob", &cfg, &r, msg));
	CU_ASSERT_STRING_EQUAL(r.field, "room_id");
	CU_ASSERT_TRUE(cluster_call_check_send("lobby", "a\0b", 3, &cfg, &r, msg));
	CU_ASSERT_FALSE(cluster_call_check_send("lobby", "", 0, &cfg, &r, msg));
	CU_ASSERT_STRING_EQUAL(r.field, "message");
	CU_ASSERT_FALSE(cluster_call_check_send("lobby", "\xff", 1, &cfg, &r, msg));
	cfg.max_message_bytes = 2;
	CU_ASSERT_FALSE(cluster_call_check_send("lobby", "abc", 3, &cfg, &r, msg));
	CU_ASSERT_STRING_EQUAL(msg, "message must be 1 to 2 bytes of valid UTF-8.");
	CU_ASSERT_FALSE(cluster_call_check_room(NULL, &r, msg));
	CU_ASSERT_TRUE(cluster_call_check_room("x", &r, msg));
}

extern const struct unit_test parse_tests[];

int main(void)
{
	static const struct unit_test tests[] = {
		{ "prefix: the hash tag", test_prefix },
		{ "builders: chat, queue, rooms, leave, status, end", test_build_chat },
		{ "builders: send is binary-safe", test_build_send_binary },
		{ "builders: read, touch, sweep, fallback", test_build_read_and_timers },
		{ "ack: plain commands and their reply", test_ack },
		{ "strip_seq: an event without the chat's seq", test_strip_seq },
		{ "checks: the single node's", test_checks },
		{ NULL, NULL },
	};
	static const struct unit_suite suites[] = {
		{ "cluster_call", tests, NULL, NULL, setup, teardown },
		{ "cluster_call_parse", parse_tests, NULL, NULL, setup, teardown },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};

	return unit_main(suites);
}

/* Parser */

static void test_parse_found(void)
{
	CU_ASSERT_EQUAL(parse(CLUSTER_SCRIPT_ENTER_QUEUE, arr("ok", "waiting", ":3", NULL)), 0);
	CU_ASSERT_EQUAL(out.chat.error, CHAT_OK);
	CU_ASSERT_FALSE(out.chat.matched);
	CU_ASSERT_EQUAL(out.chat.position, 3);
	CU_ASSERT_PTR_NULL(out.chat.room_id);
	CU_ASSERT_EQUAL(parse(CLUSTER_SCRIPT_ENTER_QUEUE,
			      arr("ok", "matched", "abcdEFGH12345_-x", "Ann \xc3\xa9", NULL)), 0);
	CU_ASSERT_TRUE(out.chat.matched);
	CU_ASSERT_STRING_EQUAL(out.chat.room_id, "abcdEFGH12345_-x"); /* the reply is freed */
	CU_ASSERT_STRING_EQUAL(out.chat.partner_name, "Ann \xc3\xa9");
	CU_ASSERT_EQUAL(parse(CLUSTER_SCRIPT_JOIN_ROOM, arr("ok", "waiting", "lobby", NULL)), 0);
	CU_ASSERT_FALSE(out.chat.matched);
	CU_ASSERT_STRING_EQUAL(out.chat.room_id, "lobby");
	CU_ASSERT_EQUAL(parse(CLUSTER_SCRIPT_JOIN_ROOM, arr("ok", "matched", "lobby", "Bob", NULL)), 0);
	CU_ASSERT_STRING_EQUAL(out.chat.partner_name, "Bob");
	CU_ASSERT_EQUAL(parse(CLUSTER_SCRIPT_LEAVE, arr("ok", "left", NULL)), 0);
	CU_ASSERT_EQUAL(out.chat.error, CHAT_OK);
	CU_ASSERT_EQUAL(parse(CLUSTER_SCRIPT_SEND, arr("ok", "mid1", "2026-07-28T12:34:56.789Z", NULL)), 0);
	CU_ASSERT_STRING_EQUAL(out.chat.message_id, "mid1");
	CU_ASSERT_STRING_EQUAL(out.chat.timestamp, "2026-07-28T12:34:56.789Z");
}

static void test_parse_small(void)
{
	CU_ASSERT_EQUAL(parse(CLUSTER_SCRIPT_CHAT_NEW, arr("ok", "created", NULL)), 0);
	CU_ASSERT_TRUE(out.created);
	CU_ASSERT_EQUAL(parse(CLUSTER_SCRIPT_CHAT_NEW, arr("ok", "exists", NULL)), 0);
	CU_ASSERT_FALSE(out.created);
	CU_ASSERT_EQUAL(parse(CLUSTER_SCRIPT_END, arr("ok", "ended", NULL)), 0);
	CU_ASSERT_TRUE(out.ended);
	CU_ASSERT_EQUAL(parse(CLUSTER_SCRIPT_END, arr("ok", "gone", NULL)), 0);
	CU_ASSERT_FALSE(out.ended);
	CU_ASSERT_EQUAL(parse(CLUSTER_SCRIPT_TOUCH, arr("ok", NULL)), 0);
	CU_ASSERT_EQUAL(out.n_ids, 0);
	CU_ASSERT_EQUAL(parse(CLUSTER_SCRIPT_TOUCH, arr("ok", ID1, ID2, NULL)), 0);
	CU_ASSERT_EQUAL(out.n_ids, 2);
	CU_ASSERT_STRING_EQUAL(out.ids[1], ID2);
	CU_ASSERT_EQUAL(parse(CLUSTER_SCRIPT_SWEEP, arr("ok", ":16", ":1", ID1, NULL)), 0);
	CU_ASSERT_TRUE(out.fired == 16 && out.more && out.n_ids == 1);
	CU_ASSERT_STRING_EQUAL(out.ids[0], ID1);
	CU_ASSERT_EQUAL(parse(CLUSTER_SCRIPT_FALLBACK, arr("ok", ":2", ":0", NULL)), 0);
	CU_ASSERT_TRUE(out.matched == 2 && !out.more);
}

static void test_parse_status(void)
{
	CU_ASSERT_EQUAL(parse(CLUSTER_SCRIPT_STATUS, arr("ok", "idle", "", "", ":0", ":2", NULL)), 0);
	CU_ASSERT_TRUE(out.status.state == CHAT_IDLE && !out.status.room_id &&
		       !out.status.partner_name && out.unread == 2);
	CU_ASSERT_EQUAL(parse(CLUSTER_SCRIPT_STATUS, arr("ok", "waiting", "", "", ":4", ":0", NULL)), 0);
	CU_ASSERT_TRUE(out.status.state == CHAT_WAITING && out.status.position == 4);
	CU_ASSERT_EQUAL(parse(CLUSTER_SCRIPT_STATUS, arr("ok", "waiting", "lobby", "", ":0", ":0", NULL)), 0);
	CU_ASSERT_STRING_EQUAL(out.status.room_id, "lobby");
	CU_ASSERT_EQUAL(parse(CLUSTER_SCRIPT_STATUS, arr("ok", "in_room", "lobby", "Ann", ":0", ":1", NULL)), 0);
	CU_ASSERT_TRUE(out.status.state == CHAT_IN_ROOM);
	CU_ASSERT_STRING_EQUAL(out.status.partner_name, "Ann");
	/* the single node's invariants */
	CU_ASSERT_EQUAL(parse(CLUSTER_SCRIPT_STATUS, arr("ok", "idle", "", "Ann", ":0", ":0", NULL)), -EPROTO);
	CU_ASSERT_EQUAL(parse(CLUSTER_SCRIPT_STATUS, arr("ok", "in_room", "", "Ann", ":0", ":0", NULL)), -EPROTO);
	CU_ASSERT_EQUAL(parse(CLUSTER_SCRIPT_STATUS, arr("ok", "waiting", "lobby", "", ":2", ":0", NULL)), -EPROTO);
	CU_ASSERT_EQUAL(parse(CLUSTER_SCRIPT_STATUS, arr("ok", "asleep", "", "", ":0", ":0", NULL)), -EPROTO);
	CU_ASSERT_EQUAL(parse(CLUSTER_SCRIPT_STATUS, arr("ok", "idle", "", "", ":0", ":-1", NULL)), -EPROTO);
	CU_ASSERT_EQUAL(parse(CLUSTER_SCRIPT_STATUS, arr("ok", "idle", "", "", ":0", NULL)), -EPROTO);
}

static void test_parse_read(void)
{
	CU_ASSERT_EQUAL(parse(CLUSTER_SCRIPT_READ, arr("ok", ":5", ":5", ":0", NULL)), 0);
	CU_ASSERT_TRUE(out.next == 5 && out.last == 5 && out.unread == 0 && out.n_events == 0);
	CU_ASSERT_EQUAL(parse(CLUSTER_SCRIPT_READ,
			      arr("ok", ":3", ":4", ":3", ":2", "chatroom.found", "{\"seq\":2}",
				  ":3", "message.received", "{\"message\":\"a\\u0000b\",\"seq\":3}", NULL)), 0);
	CU_ASSERT_EQUAL(out.n_events, 2);
	CU_ASSERT_TRUE(out.next == 3 && out.last == 4 && out.unread == 3);
	CU_ASSERT_EQUAL(out.events[0].seq, 2);
	CU_ASSERT_STRING_EQUAL(out.events[0].method, "chatroom.found");
	CU_ASSERT_STRING_EQUAL(out.events[1].params, "{\"message\":\"a\\u0000b\",\"seq\":3}");
	CU_ASSERT_EQUAL(out.events[1].params_len, strlen(out.events[1].params));
	/* seqs must rise, stay within last, and end at next */
	CU_ASSERT_EQUAL(parse(CLUSTER_SCRIPT_READ, arr("ok", ":2", ":4", ":0", ":3", "m", "{}", ":2", "m", "{}", NULL)), -EPROTO);
	CU_ASSERT_EQUAL(parse(CLUSTER_SCRIPT_READ, arr("ok", ":5", ":4", ":0", ":5", "m", "{}", NULL)), -EPROTO);
	CU_ASSERT_EQUAL(parse(CLUSTER_SCRIPT_READ, arr("ok", ":1", ":4", ":0", ":2", "m", "{}", NULL)), -EPROTO);
	CU_ASSERT_EQUAL(parse(CLUSTER_SCRIPT_READ, arr("ok", ":2", ":4", ":0", ":2", "m", NULL)), -EPROTO);
	CU_ASSERT_EQUAL(parse(CLUSTER_SCRIPT_READ, arr("ok", ":2", ":4", ":0", ":2", "m x", "{}", NULL)), -EPROTO);
	CU_ASSERT_EQUAL(parse(CLUSTER_SCRIPT_READ, arr("ok", ":2", ":4", ":0", ":2", "m", "[]", NULL)), -EPROTO);
	CU_ASSERT_EQUAL(parse(CLUSTER_SCRIPT_READ, arr("ok", ":2", ":4", ":5", NULL)), -EPROTO);
	CU_ASSERT_EQUAL(parse(CLUSTER_SCRIPT_READ, arr("ok", ":2", ":4", ":0", "2", "m", "{}", NULL)), -EPROTO);
}

/* Every code each script may answer, and only those. */
static void test_parse_errors(void)
{
	static const struct {
		enum cluster_script s;
		enum chat_error e;
	} ok[] = {
		{ CLUSTER_SCRIPT_ENTER_QUEUE, CHAT_ALREADY_IN_ROOM },
		{ CLUSTER_SCRIPT_ENTER_QUEUE, CHAT_ALREADY_WAITING },
		{ CLUSTER_SCRIPT_ENTER_QUEUE, CHAT_MAILBOX_FULL },
		{ CLUSTER_SCRIPT_ENTER_QUEUE, CHAT_EXPIRED },
		{ CLUSTER_SCRIPT_JOIN_ROOM, CHAT_ALREADY_IN_ROOM },
		{ CLUSTER_SCRIPT_JOIN_ROOM, CHAT_ALREADY_WAITING },
		{ CLUSTER_SCRIPT_JOIN_ROOM, CHAT_ROOM_FULL },
		{ CLUSTER_SCRIPT_JOIN_ROOM, CHAT_MAILBOX_FULL },
		{ CLUSTER_SCRIPT_JOIN_ROOM, CHAT_EXPIRED },
		{ CLUSTER_SCRIPT_SEND, CHAT_MAILBOX_FULL },
		{ CLUSTER_SCRIPT_SEND, CHAT_NOT_IN_ROOM },
		{ CLUSTER_SCRIPT_SEND, CHAT_ROOM_CLOSED },
		{ CLUSTER_SCRIPT_SEND, CHAT_PARTNER_GONE },
		{ CLUSTER_SCRIPT_SEND, CHAT_EXPIRED },
		{ CLUSTER_SCRIPT_LEAVE, CHAT_NOT_IN_ROOM },
		{ CLUSTER_SCRIPT_LEAVE, CHAT_ROOM_CLOSED },
		{ CLUSTER_SCRIPT_LEAVE, CHAT_PARTNER_GONE },
		{ CLUSTER_SCRIPT_LEAVE, CHAT_EXPIRED },
		{ CLUSTER_SCRIPT_READ, CHAT_EXPIRED },
		{ CLUSTER_SCRIPT_STATUS, CHAT_EXPIRED },
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		int err = parse(ok[i].s, arr("err", chat_error_code(ok[i].e), "A sentence.", NULL));

		CHECKF(err == 0 && out.chat.error == ok[i].e, "%s %s: %d", cluster_script_name(ok[i].s),
		       chat_error_code(ok[i].e), err);
		CU_ASSERT_STRING_EQUAL(out.chat.message, "A sentence.");
	}
	CU_ASSERT_STRING_EQUAL(out.chat.field, "chat_id"); /* chat_expired names it */
	CU_ASSERT_EQUAL(parse(CLUSTER_SCRIPT_SEND, arr("err", "rate_limited", "Too fast.", ":150", NULL)), 0);
	CU_ASSERT_TRUE(out.chat.error == CHAT_RATE_LIMITED && out.chat.retry_after_ms == 150);
	CU_ASSERT_EQUAL(parse(CLUSTER_SCRIPT_SEND, arr("err", "rate_limited", "Too fast.", ":4294967295", NULL)), 0);
	CU_ASSERT_EQUAL(out.chat.retry_after_ms, UINT32_MAX);
	/* every other pair is refused: a script cannot answer what it never says */
	for (int s = 0; s < CLUSTER_SCRIPT_COUNT; s++)
		for (int e = 1; e < CHAT_ERROR_COUNT; e++) {
			bool allowed = e == CHAT_RATE_LIMITED && s == CLUSTER_SCRIPT_SEND;

			for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
				allowed |= ok[i].s == (enum cluster_script)s && ok[i].e == (enum chat_error)e;
			if (!allowed)
				CHECKF(parse(s, arr("err", chat_error_code(e), "x", NULL)) == -EPROTO,
				       "%s %s", cluster_script_name(s), chat_error_code(e));
		}
}

static void test_parse_malformed_err(void)
{
	enum cluster_script S = CLUSTER_SCRIPT_SEND;

	CU_ASSERT_EQUAL(parse(S, arr("err", "not_in_room", NULL)), -EPROTO);
	CU_ASSERT_EQUAL(parse(S, arr("err", "not_in_room", "", NULL)), -EPROTO);
	CU_ASSERT_EQUAL(parse(S, arr("err", "not_in_room", ":1", NULL)), -EPROTO);
	CU_ASSERT_EQUAL(parse(S, arr("err", "not_in_room", "x", "extra", NULL)), -EPROTO);
	CU_ASSERT_EQUAL(parse(S, arr("err", "no_such_code", "x", NULL)), -EPROTO);
	CU_ASSERT_EQUAL(parse(S, arr("err", "NOT_IN_ROOM", "x", NULL)), -EPROTO);
	CU_ASSERT_EQUAL(parse(S, arr("err", "internal_error", "x", NULL)), -EPROTO);
	CU_ASSERT_EQUAL(parse(S, arr("err", "rate_limited", "x", NULL)), -EPROTO);
	CU_ASSERT_EQUAL(parse(S, arr("err", "rate_limited", "x", ":0", NULL)), -EPROTO);
	CU_ASSERT_EQUAL(parse(S, arr("err", "rate_limited", "x", ":4294967296", NULL)), -EPROTO);
	CU_ASSERT_EQUAL(parse(S, arr("err", "rate_limited", "x", "150", NULL)), -EPROTO);
	CU_ASSERT_EQUAL(parse(S, arr("err", "rate_limited", "x", ":1", ":2", NULL)), -EPROTO);
	CU_ASSERT_EQUAL(out.chat.error, CHAT_OK); /* nothing filled */
	CU_ASSERT_PTR_NULL(out.chat.message);
}

static void test_parse_malformed_shapes(void)
{
	enum cluster_script E = CLUSTER_SCRIPT_ENTER_QUEUE;

	CU_ASSERT_EQUAL(cluster_call_parse(E, NULL, &out), -EPROTO);
	CU_ASSERT_EQUAL(parse(E, RESP("-ERR boom\r\n")), -EIO);
	CU_ASSERT_EQUAL(parse(E, RESP("+OK\r\n")), -EPROTO);
	CU_ASSERT_EQUAL(parse(E, RESP(":1\r\n")), -EPROTO);
	CU_ASSERT_EQUAL(parse(E, RESP("$2\r\nok\r\n")), -EPROTO);
	CU_ASSERT_EQUAL(parse(E, RESP("*0\r\n")), -EPROTO);
	CU_ASSERT_EQUAL(parse(E, RESP("*-1\r\n")), -EPROTO);
	CU_ASSERT_EQUAL(parse(E, arr("OK", "waiting", ":1", NULL)), -EPROTO);
	CU_ASSERT_EQUAL(parse(E, arr("ok", "waiting", "!NIL", NULL)), -EPROTO);
	CU_ASSERT_EQUAL(parse(E, RESP("*3\r\n$2\r\nok\r\n$7\r\nwaiting\r\n*1\r\n:1\r\n")), -EPROTO);
	CU_ASSERT_EQUAL(parse(E, RESP("*3\r\n$2\r\nok\r\n$7\r\nwaiting\r\n+1\r\n")), -EPROTO);
	CU_ASSERT_EQUAL(parse(E, arr("ok", "waiting", "1", NULL)), -EPROTO);
	CU_ASSERT_EQUAL(parse(E, arr("ok", "waiting", ":0", NULL)), -EPROTO);
	CU_ASSERT_EQUAL(parse(E, arr("ok", "waiting", ":1", ":2", NULL)), -EPROTO);
	CU_ASSERT_EQUAL(parse(E, arr("ok", "matched", "lobby", NULL)), -EPROTO);
	CU_ASSERT_EQUAL(parse(E, arr("ok", "matched", "lob by", "Ann", NULL)), -EPROTO);
	CU_ASSERT_EQUAL(parse(E, arr("ok", "matched", "lobby", "", NULL)), -EPROTO);
	CU_ASSERT_EQUAL(parse(E, arr("ok", "matched", "lobby", "\xff", NULL)), -EPROTO);
	CU_ASSERT_EQUAL(parse(E, RESP("*4\r\n$2\r\nok\r\n$7\r\nmatched\r\n$5\r\nlobby\r\n$3\r\nA\0n\r\n")), -EPROTO);
	CU_ASSERT_EQUAL(parse(CLUSTER_SCRIPT_JOIN_ROOM, arr("ok", "waiting", ":1", NULL)), -EPROTO);
	CU_ASSERT_EQUAL(parse(CLUSTER_SCRIPT_SEND, arr("ok", "mid", "yesterday", NULL)), -EPROTO);
	CU_ASSERT_EQUAL(parse(CLUSTER_SCRIPT_SEND, arr("ok", "m:d", "2026-07-28T12:34:56.789Z", NULL)), -EPROTO);
	CU_ASSERT_EQUAL(parse(CLUSTER_SCRIPT_SEND, arr("ok", "0123456789012345678901234", "2026-07-28T12:34:56.789Z", NULL)), -EPROTO);
	CU_ASSERT_EQUAL(parse(CLUSTER_SCRIPT_LEAVE, arr("ok", "stayed", NULL)), -EPROTO);
	CU_ASSERT_EQUAL(parse(CLUSTER_SCRIPT_CHAT_NEW, arr("ok", "made", NULL)), -EPROTO);
	CU_ASSERT_EQUAL(parse(CLUSTER_SCRIPT_END, arr("ok", "ended", "x", NULL)), -EPROTO);
	CU_ASSERT_EQUAL(parse(CLUSTER_SCRIPT_TOUCH, arr("ok", "short", NULL)), -EPROTO);
	CU_ASSERT_EQUAL(parse(CLUSTER_SCRIPT_SWEEP, arr("ok", ":1", ":2", NULL)), -EPROTO);
	CU_ASSERT_EQUAL(parse(CLUSTER_SCRIPT_FALLBACK, arr("ok", ":1", ":0", ID1, NULL)), -EPROTO);
	CU_ASSERT_EQUAL(parse(CLUSTER_SCRIPT_COUNT, arr("ok", NULL)), -EPROTO);
}

/* Over the limits: one huge string, too many elements. Refused before anything is copied. */
static void test_parse_huge(void)
{
	size_t n = CLUSTER_CALL_MAX_STRING + 1;
	struct buf b = BUF_INIT;
	char *big = malloc(n + 1);

	memset(big, 'a', n);
	big[n] = '\0';
	CU_ASSERT_EQUAL(parse(CLUSTER_SCRIPT_TOUCH, arr("ok", big, NULL)), -EPROTO);
	free(big);
	buf_printf(&b, "*%d\r\n$2\r\nok\r\n", CLUSTER_CALL_MAX_ELEMENTS + 1);
	for (int i = 0; i < CLUSTER_CALL_MAX_ELEMENTS; i++)
		buf_puts(&b, "$22\r\n" ID1 "\r\n");
	CU_ASSERT_EQUAL(parse(CLUSTER_SCRIPT_TOUCH, from_resp(b.p, b.len)), -EPROTO);
	buf_free(&b);
}

const struct unit_test parse_tests[] = {
	{ "enter_queue, join_room, leave, send", test_parse_found },
	{ "chat_new, end, touch, sweep, fallback", test_parse_small },
	{ "status and its invariants", test_parse_status },
	{ "read: events, seqs, NUL as \\u0000", test_parse_read },
	{ "every error code of every script", test_parse_errors },
	{ "malformed error replies", test_parse_malformed_err },
	{ "malformed shapes and types", test_parse_malformed_shapes },
	{ "huge replies", test_parse_huge },
	{ NULL, NULL },
};
