/* Unit tests of daemon/config.c's [cluster] section: node names, Redis addresses, the key
 * prefix, the password file, --node/--redis, config_finish, and that a reload keeps them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "unit.h"

/* Writes text to a new temporary file; path gets its name. */
static void write_temp(char *path, size_t len, const char *text)
{
	int fd;

	snprintf(path, len, "/tmp/mcpchat-test-cluster-XXXXXX");
	fd = mkstemp(path);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	CU_ASSERT_FATAL(close(fd) == 0);
}

/* Loads text over the defaults into c; returns config_load's result, err its message. */
static int load(struct config *c, const char *text, char *err, size_t errlen)
{
	char path[64];
	int rc;

	config_defaults(c);
	write_temp(path, sizeof(path), text);
	err[0] = '\0';
	rc = config_load(c, path, err, errlen);
	unlink(path);
	return rc;
}

static void test_defaults(void)
{
	struct config c;
	char err[256] = "";

	config_defaults(&c);
	CU_ASSERT_STRING_EQUAL(c.cluster_redis, "");
	CU_ASSERT_STRING_EQUAL(c.cluster_node, "");
	CU_ASSERT_STRING_EQUAL(c.cluster_key_prefix, "mcpchat");
	/* One node: nothing to check, no name made up. */
	CU_ASSERT_EQUAL(config_finish(&c, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(c.cluster_node, "");
}

static void test_node_names(void)
{
	static const char *const good[] = { "n1", "a", "node_7-b", "abcdefghijklmnop", "0" };
	static const char *const bad[] = { "", "abcdefghijklmnopq", "a.b", "a b", "ä", "a/b", "a:b" };
	struct config c;

	config_defaults(&c);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		CU_ASSERT_EQUAL(config_set_node(&c, good[i]), 0);
		CU_ASSERT_STRING_EQUAL(c.cluster_node, good[i]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CU_ASSERT_EQUAL(config_set_node(&c, bad[i]), -EINVAL);
	CU_ASSERT_STRING_EQUAL(c.cluster_node, "0"); /* a refused name changes nothing */
}

static void test_redis_addresses(void)
{
	static const char *const good[] = { "127.0.0.1:6379", "redis.internal:6380", "[::1]:6379",
					    "[2001:db8::7]:1", "unix:/run/redis/redis.sock", "localhost:65535", "" };
	static const char *const bad[] = { "127.0.0.1", "127.0.0.1:", ":6379", "127.0.0.1:0",
					   "127.0.0.1:65536", "::1:6379", "[::1]6379", "[]:6379",
					   "unix:relative.sock", "unix:", "host name:1", "h:1x" };
	struct config c;

	config_defaults(&c);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		CU_ASSERT_EQUAL(config_set_redis(&c, good[i]), 0);
		CU_ASSERT_STRING_EQUAL(c.cluster_redis, good[i]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (config_set_redis(&c, bad[i]) != -EINVAL)
			CU_FAIL(bad[i]);
}

static void test_file_keys(void)
{
	struct config c;
	char err[512];

	CU_ASSERT_EQUAL(load(&c, "[cluster]\nnode = n2\nkey_prefix = chat_7\nredis_user = chat\n"
			       "redis_password_file = /etc/mcp-chat/redis.pass\n", err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(c.cluster_node, "n2");
	CU_ASSERT_STRING_EQUAL(c.cluster_key_prefix, "chat_7");
	CU_ASSERT_STRING_EQUAL(c.cluster_redis_user, "chat");
	CU_ASSERT_STRING_EQUAL(c.cluster_password_file, "/etc/mcp-chat/redis.pass");
	CU_ASSERT_EQUAL(load(&c, "[cluster]\nnode = bad.name\n", err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "bad value for node in [cluster]"));
	CU_ASSERT_EQUAL(load(&c, "[cluster]\nredis = nowhere\n", err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "HOST:PORT"));
	CU_ASSERT_EQUAL(load(&c, "[cluster]\nkey_prefix = {x}\n", err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(load(&c, "[cluster]\nkey_prefix =\n", err, sizeof(err)), -EINVAL);
}

/* A node with redis set starts (the cluster engine serves it); the other keys are checked,
 * the name defaults to the host's, and a readable password file is accepted. */
static void test_finish_with_redis(void)
{
	struct config c;
	char err[512], pass[64], host[256] = "";

	config_defaults(&c);
	CU_ASSERT_EQUAL(config_set_redis(&c, "127.0.0.1:6379"), 0);
	err[0] = '\0';
	CU_ASSERT_EQUAL(config_finish(&c, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(err, "");
	gethostname(host, sizeof(host) - 1);
	CU_ASSERT_TRUE(strlen(c.cluster_node) >= 1 && strlen(c.cluster_node) <= CONFIG_NODE_MAX);
	CU_ASSERT_EQUAL(strncmp(c.cluster_node, host, strlen(c.cluster_node)) == 0 ||
				strcmp(c.cluster_node, "node") == 0, 1);

	strcpy(c.cluster_redis_user, "chat");
	CU_ASSERT_EQUAL(config_finish(&c, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "redis_user needs redis_password_file"));
	strcpy(c.cluster_password_file, "/nonexistent/redis.pass");
	CU_ASSERT_EQUAL(config_finish(&c, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "No such file"));
	write_temp(pass, sizeof(pass), "");
	strcpy(c.cluster_password_file, pass);
	CU_ASSERT_EQUAL(config_finish(&c, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "empty"));
	unlink(pass);
	/* The secret itself is never in an error. */
	write_temp(pass, sizeof(pass), "s3cret-value\n");
	strcpy(c.cluster_password_file, pass);
	err[0] = '\0';
	CU_ASSERT_EQUAL(config_finish(&c, err, sizeof(err)), 0);
	CU_ASSERT_PTR_NULL(strstr(err, "s3cret"));
	unlink(pass);
}

static void test_read_secret(void)
{
	char path[64], buf[16], big[64];
	int n;

	write_temp(path, sizeof(path), "pa ss\r\nsecond line\n");
	n = config_read_secret(path, buf, sizeof(buf));
	CU_ASSERT_EQUAL(n, 5);
	CU_ASSERT_STRING_EQUAL(buf, "pa ss");
	unlink(path);
	write_temp(path, sizeof(path), "no-newline");
	CU_ASSERT_EQUAL(config_read_secret(path, buf, sizeof(buf)), 10);
	unlink(path);
	write_temp(path, sizeof(path), "exactly-15-char"); /* fills buf to the last byte */
	CU_ASSERT_EQUAL(config_read_secret(path, buf, sizeof(buf)), 15);
	unlink(path);
	write_temp(path, sizeof(path), "exactly-15-char\n");
	CU_ASSERT_EQUAL(config_read_secret(path, buf, sizeof(buf)), 15); /* its newline did not fit */
	unlink(path);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	write_temp(path, sizeof(path), big);
	CU_ASSERT_EQUAL(config_read_secret(path, buf, sizeof(buf)), -EINVAL);
	CU_ASSERT_STRING_EQUAL(buf, ""); /* nothing of a refused secret is left behind */
	unlink(path);
	write_temp(path, sizeof(path), "\n");
	CU_ASSERT_EQUAL(config_read_secret(path, buf, sizeof(buf)), -EINVAL);
	unlink(path);
	CU_ASSERT_EQUAL(config_read_secret("/nonexistent/x", buf, sizeof(buf)), -ENOENT);
}

/* The cluster keys need a restart: a reload keeps them and names them in its note. */
static void test_reload_keeps(void)
{
	struct config cur, next;
	char note[512];

	config_defaults(&cur);
	config_defaults(&next);
	CU_ASSERT_EQUAL(config_set_node(&cur, "n1"), 0);
	CU_ASSERT_EQUAL(config_set_node(&next, "n9"), 0);
	strcpy(next.cluster_key_prefix, "other");
	config_reload(&cur, &next, note, sizeof(note));
	CU_ASSERT_STRING_EQUAL(cur.cluster_node, "n1");
	CU_ASSERT_STRING_EQUAL(cur.cluster_key_prefix, "mcpchat");
	CU_ASSERT_PTR_NOT_NULL(strstr(note, "[cluster] node"));
	CU_ASSERT_PTR_NOT_NULL(strstr(note, "[cluster] key_prefix"));
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "defaults: one node", test_defaults },
		{ "node names", test_node_names },
		{ "redis addresses", test_redis_addresses },
		{ "file keys", test_file_keys },
		{ "finish with redis", test_finish_with_redis },
		{ "read secret", test_read_secret },
		{ "reload keeps the cluster keys", test_reload_keeps },
		{ NULL, NULL },
	};
	static const struct unit_suite suites[] = {
		{ "config_cluster", tests, NULL, NULL, NULL, NULL },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};

	return unit_main(suites);
}
