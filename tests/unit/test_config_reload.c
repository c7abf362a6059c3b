#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "config_harness.h"
#include "unit.h"
#include "util/log.h"

/* Unit tests of daemon/config.c (config_harness.h has the loaders, checks and the table of
 * numeric keys they share): config_add_listen, SIGHUP reload (live and
 * restart keys), the /healthz + /metrics allow-list, the packaged config file. */

#define PACKAGED_CONF MCPCHAT_SOURCE_DIR "/packaging/mcp-chat.conf"

/* Sets status allow to one net by loading it. */
static void allow_only(struct config *cfg, const char *net)
{
	char text[256];

	snprintf(text, sizeof(text), "[status]\nallow = %s\n", net);
	LOAD_OK(cfg, text);
	CU_ASSERT_EQUAL(cfg->n_status_allow, 1);
}

/* Tests: config_add_listen */

static void test_add_listen(void)
{
	struct config c;
	char addr[80];

	config_defaults(&c);
	c.n_listen = 0;
	CU_ASSERT_EQUAL(config_add_listen(&c, "127.0.0.1:0"), 0);
	CU_ASSERT_EQUAL(config_add_listen(&c, "[::1]:8080"), 0);
	CU_ASSERT_EQUAL(c.n_listen, 2);
	CHECK_S(c.listen[0], "127.0.0.1:0");
	CHECK_S(c.listen[1], "[::1]:8080");
	CU_ASSERT_EQUAL(config_add_listen(&c, "nocolon"), -EINVAL);
	CU_ASSERT_EQUAL(config_add_listen(&c, ":80"), -EINVAL);
	CU_ASSERT_EQUAL(config_add_listen(&c, "127.0.0.1:"), -EINVAL);
	CU_ASSERT_EQUAL(config_add_listen(&c, ""), -EINVAL);
	/* Ports are decimal 0..65535; addresses are numeric. */
	CU_ASSERT_EQUAL(config_add_listen(&c, "127.0.0.1:http"), -EINVAL);
	CU_ASSERT_EQUAL(config_add_listen(&c, "127.0.0.1:65536"), -EINVAL);
	CU_ASSERT_EQUAL(config_add_listen(&c, "127.0.0.1:-1"), -EINVAL);
	CU_ASSERT_EQUAL(config_add_listen(&c, "[::1]"), -EINVAL);
	CU_ASSERT_EQUAL(config_add_listen(&c, "::1:80"), -EINVAL);
	CU_ASSERT_EQUAL(config_add_listen(&c, "example.org:80"), -EINVAL);
	/* The longest IPv6 form fits. */
	memset(addr, 0, sizeof(addr));
	strcpy(addr, "[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]:65535");
	CU_ASSERT_EQUAL(config_add_listen(&c, addr), 0);
	CHECK_S(c.listen[2], addr);
	CU_ASSERT_EQUAL(c.n_listen, 3);
	/* Full at 8: -ENOSPC, and a malformed address is still -EINVAL. */
	while (c.n_listen < CONFIG_MAX_LISTEN)
		CU_ASSERT_EQUAL_FATAL(config_add_listen(&c, "127.0.0.1:1"), 0);
	CU_ASSERT_EQUAL(config_add_listen(&c, "127.0.0.1:2"), -ENOSPC);
	CU_ASSERT_EQUAL(config_add_listen(&c, "bad"), -EINVAL);
	CU_ASSERT_EQUAL(c.n_listen, CONFIG_MAX_LISTEN);
}

/* Tests: reload */

static void test_reload_live_keys(void)
{
	struct config cur, next, want;
	char note[256];

	/* Every live key changes; none of the restart-only ones. */
	config_defaults(&cur);
	poison(&next);
	memcpy(next.listen, cur.listen, sizeof(cur.listen));
	next.n_listen = cur.n_listen;
	strcpy(next.user, cur.user);
	strcpy(next.control_socket, cur.control_socket);
	strcpy(next.control_group, cur.control_group);
	want = next;
	memset(note, 'X', sizeof(note));
	config_reload(&cur, &next, note, sizeof(note));
	CHECK_S(note, "");
	CHECK_CONFIG_EQUAL(&cur, &want, false);
	CHECK_U(cur.log_level, LOG_LVL_DEBUG);
	CHECK_U(cur.max_sessions, 4);
	CHECK_D(cur.rate_per_second, 14.5);
	CHECK_U(cur.n_allowed_hosts, 1);
	CHECK_S(cur.allowed_hosts[0], "poison.invalid");
	CHECK_U(cur.n_status_allow, 1);

	/* Reloading an identical config: nothing to note. */
	config_defaults(&cur);
	config_defaults(&next);
	config_reload(&cur, &next, note, sizeof(note));
	CHECK_S(note, "");
	config_defaults(&want);
	CHECK_CONFIG_EQUAL(&cur, &want, false);
}

static void test_reload_restart_keys(void)
{
	struct config cur, next, orig;
	char note[256];

	/* Everything changes: live keys are taken, restart-only keys kept and named. */
	config_defaults(&cur);
	strcpy(cur.user, "mcp-chat");
	strcpy(cur.control_group, "mcp-chat");
	orig = cur;
	poison(&next);
	config_reload(&cur, &next, note, sizeof(note));
	CHECK_S(note, "[server] listen, [server] user, [control] socket, [control] group");
	CU_ASSERT_EQUAL_FATAL(cur.n_listen, orig.n_listen);
	CHECK_S(cur.listen[0], "127.0.0.1:8808");
	CHECK_S(cur.listen[1], "[::1]:8808");
	CHECK_S(cur.user, "mcp-chat");
	CHECK_S(cur.control_group, "mcp-chat");
	CHECK_S(cur.control_socket, "");
	CHECK_U(cur.max_sessions, next.max_sessions);
	CHECK_U(cur.max_connections, next.max_connections);
	CHECK_U(cur.session_idle_timeout_ms, next.session_idle_timeout_ms);
	CHECK_U(cur.reconnect_grace_ms, next.reconnect_grace_ms);
	CHECK_U(cur.log_level, next.log_level);
	CHECK_U(cur.healthz, next.healthz);
	CHECK_S(cur.allowed_hosts[0], next.allowed_hosts[0]);

	/* Each restart-only key alone. */
	config_defaults(&cur);
	config_defaults(&next);
	next.n_listen = 1;
	next.listen[1][0] = '\0';
	config_reload(&cur, &next, note, sizeof(note));
	CHECK_S(note, "[server] listen");
	CU_ASSERT_EQUAL(cur.n_listen, 2);
	CHECK_S(cur.listen[1], "[::1]:8808");

	/* Same count, other address. */
	config_defaults(&cur);
	config_defaults(&next);
	strcpy(next.listen[1], "[::1]:8809");
	config_reload(&cur, &next, note, sizeof(note));
	CHECK_S(note, "[server] listen");
	CHECK_S(cur.listen[1], "[::1]:8808");

	config_defaults(&cur);
	config_defaults(&next);
	strcpy(next.user, "nobody");
	next.max_sessions = 9;
	config_reload(&cur, &next, note, sizeof(note));
	CHECK_S(note, "[server] user");
	CHECK_S(cur.user, "");
	CHECK_U(cur.max_sessions, 9);

	config_defaults(&cur);
	config_defaults(&next);
	strcpy(next.control_socket, "/tmp/other.sock");
	config_reload(&cur, &next, note, sizeof(note));
	CHECK_S(note, "[control] socket");
	CHECK_S(cur.control_socket, "");

	config_defaults(&cur);
	config_defaults(&next);
	strcpy(cur.control_group, "adm");
	config_reload(&cur, &next, note, sizeof(note));
	CHECK_S(note, "[control] group");
	CHECK_S(cur.control_group, "adm");

	/* Two of them: comma-separated, in table order. */
	config_defaults(&cur);
	config_defaults(&next);
	strcpy(next.control_group, "adm");
	strcpy(next.listen[0], "127.0.0.1:9");
	config_reload(&cur, &next, note, sizeof(note));
	CHECK_S(note, "[server] listen, [control] group");
}

/* Reload through config_load, as SIGHUP does: load the file over defaults, then reload. */
static void test_reload_from_file(void)
{
	struct config cur, next;
	char note[256], path[256], err[512];
	int rc;

	config_defaults(&cur);
	config_defaults(&next);
	rc = load_text(&next, "[server]\nlisten = 127.0.0.1:9999\nallowed_hosts = a.example\n[limits]\n"
			      "max_message_bytes = 100\n[log]\nlevel = error\n",
		       path, sizeof(path), err, sizeof(err));
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	config_reload(&cur, &next, note, sizeof(note));
	CHECK_S(note, "[server] listen");
	CHECK_U(cur.n_listen, 2);
	CHECK_S(cur.listen[0], "127.0.0.1:8808");
	CHECK_U(cur.max_message_bytes, 100);
	CHECK_U(cur.log_level, LOG_LVL_ERR);
	CHECK_U(cur.n_allowed_hosts, 1);
	CHECK_S(cur.allowed_hosts[0], "a.example");
}

/* A note buffer too small is truncated, never overrun (ASan watches). */
static void test_reload_small_note(void)
{
	struct config cur, next;
	char *note;

	for (size_t len = 1; len <= 80; len++) {
		config_defaults(&cur);
		poison(&next);
		note = malloc(len);
		CU_ASSERT_FATAL(note != NULL);
		memset(note, 'X', len);
		config_reload(&cur, &next, note, len);
		CHECK(memchr(note, '\0', len) != NULL, "note of %zu bytes not terminated", len);
		free(note);
	}
}

/* Tests: status allow-list */

static void test_allowed_ipv4(void)
{
	struct config c;

	config_defaults(&c);
	CU_ASSERT_TRUE(allowed4(&c, "127.0.0.1"));
	CU_ASSERT_TRUE(allowed4(&c, "127.0.0.0"));
	CU_ASSERT_TRUE(allowed4(&c, "127.1.2.3"));
	CU_ASSERT_TRUE(allowed4(&c, "127.255.255.255"));
	CU_ASSERT_FALSE(allowed4(&c, "126.255.255.255"));
	CU_ASSERT_FALSE(allowed4(&c, "128.0.0.0"));
	CU_ASSERT_FALSE(allowed4(&c, "0.0.0.0"));
	CU_ASSERT_FALSE(allowed4(&c, "255.255.255.255"));
	CU_ASSERT_FALSE(allowed4(&c, "192.168.1.1"));

	allow_only(&c, "192.0.2.7/32");
	CU_ASSERT_TRUE(allowed4(&c, "192.0.2.7"));
	CU_ASSERT_FALSE(allowed4(&c, "192.0.2.6"));
	CU_ASSERT_FALSE(allowed4(&c, "192.0.2.8"));

	/* No prefix is /32. */
	allow_only(&c, "192.0.2.7");
	CU_ASSERT_TRUE(allowed4(&c, "192.0.2.7"));
	CU_ASSERT_FALSE(allowed4(&c, "192.0.2.71"));

	allow_only(&c, "0.0.0.0/0");
	CU_ASSERT_TRUE(allowed4(&c, "1.2.3.4"));
	CU_ASSERT_TRUE(allowed4(&c, "255.255.255.255"));
	CU_ASSERT_TRUE(allowed4(&c, "0.0.0.0"));
	CU_ASSERT_FALSE(allowed6(&c, "2001:db8::1")); /* an IPv4 net never matches real IPv6 */

	/* /12: 172.16.0.0 - 172.31.255.255 */
	allow_only(&c, "172.16.0.0/12");
	CU_ASSERT_TRUE(allowed4(&c, "172.16.0.0"));
	CU_ASSERT_TRUE(allowed4(&c, "172.20.1.1"));
	CU_ASSERT_TRUE(allowed4(&c, "172.31.255.255"));
	CU_ASSERT_FALSE(allowed4(&c, "172.15.255.255"));
	CU_ASSERT_FALSE(allowed4(&c, "172.32.0.0"));
	CU_ASSERT_FALSE(allowed4(&c, "173.16.0.1"));

	/* Host bits set in the configured address are ignored: 10.1.2.3/8 is 10.0.0.0/8. */
	allow_only(&c, "10.1.2.3/8");
	CU_ASSERT_TRUE(allowed4(&c, "10.200.0.1"));
	CU_ASSERT_FALSE(allowed4(&c, "11.1.2.3"));

	/* /31 and /25: odd prefixes in the last byte. */
	allow_only(&c, "192.0.2.128/25");
	CU_ASSERT_TRUE(allowed4(&c, "192.0.2.128"));
	CU_ASSERT_TRUE(allowed4(&c, "192.0.2.255"));
	CU_ASSERT_FALSE(allowed4(&c, "192.0.2.127"));
	allow_only(&c, "192.0.2.6/31");
	CU_ASSERT_TRUE(allowed4(&c, "192.0.2.6"));
	CU_ASSERT_TRUE(allowed4(&c, "192.0.2.7"));
	CU_ASSERT_FALSE(allowed4(&c, "192.0.2.5"));
	CU_ASSERT_FALSE(allowed4(&c, "192.0.2.8"));

	/* An IPv6 net never matches an IPv4 (AF_INET) peer. */
	allow_only(&c, "::/0");
	CU_ASSERT_FALSE(allowed4(&c, "127.0.0.1"));
}

static void test_allowed_ipv6(void)
{
	struct config c;

	config_defaults(&c);
	CU_ASSERT_TRUE(allowed6(&c, "::1"));
	CU_ASSERT_FALSE(allowed6(&c, "::"));
	CU_ASSERT_FALSE(allowed6(&c, "::1:1"));
	CU_ASSERT_FALSE(allowed6(&c, "fe80::1"));
	CU_ASSERT_FALSE(allowed6(&c, "2001:db8::1"));
	CU_ASSERT_FALSE(allowed6(&c, "1::1"));

	allow_only(&c, "::/0");
	CU_ASSERT_TRUE(allowed6(&c, "::"));
	CU_ASSERT_TRUE(allowed6(&c, "2001:db8::1"));
	CU_ASSERT_TRUE(allowed6(&c, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));

	allow_only(&c, "2001:db8::5/128");
	CU_ASSERT_TRUE(allowed6(&c, "2001:db8::5"));
	CU_ASSERT_FALSE(allowed6(&c, "2001:db8::4"));
	CU_ASSERT_FALSE(allowed6(&c, "2001:db8::5:0"));

	/* /57: the first 7 bytes and the top bit of the 8th. 2001:db8:0:0::/57 covers
	 * 2001:db8:0:0 .. 2001:db8:0:7f */
	allow_only(&c, "2001:db8::/57");
	CU_ASSERT_TRUE(allowed6(&c, "2001:db8::1"));
	CU_ASSERT_TRUE(allowed6(&c, "2001:db8:0:7f:ffff:ffff:ffff:ffff"));
	CU_ASSERT_FALSE(allowed6(&c, "2001:db8:0:80::"));
	CU_ASSERT_FALSE(allowed6(&c, "2001:db8:0:ff::1"));
	CU_ASSERT_FALSE(allowed6(&c, "2001:db8:1::"));
	allow_only(&c, "2001:db8:0:80::/57");
	CU_ASSERT_TRUE(allowed6(&c, "2001:db8:0:80::1"));
	CU_ASSERT_TRUE(allowed6(&c, "2001:db8:0:ff::1"));
	CU_ASSERT_FALSE(allowed6(&c, "2001:db8:0:7f::1"));

	/* /12 on IPv6: 2000::/12 is 2000:: .. 200f:ffff:... */
	allow_only(&c, "2000::/12");
	CU_ASSERT_TRUE(allowed6(&c, "2001:db8::1"));
	CU_ASSERT_TRUE(allowed6(&c, "200f::"));
	CU_ASSERT_FALSE(allowed6(&c, "2010::"));
	CU_ASSERT_FALSE(allowed6(&c, "1fff::"));

	allow_only(&c, "fe80::/10");
	CU_ASSERT_TRUE(allowed6(&c, "fe80::1"));
	CU_ASSERT_TRUE(allowed6(&c, "febf::1"));
	CU_ASSERT_FALSE(allowed6(&c, "fec0::1"));
}

static void test_allowed_v4_mapped(void)
{
	struct config c;

	/* A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d: IPv4 nets match them. */
	config_defaults(&c);
	CU_ASSERT_TRUE(allowed6(&c, "::ffff:127.0.0.1"));
	CU_ASSERT_TRUE(allowed6(&c, "::ffff:127.9.8.7"));
	CU_ASSERT_FALSE(allowed6(&c, "::ffff:128.0.0.1"));
	CU_ASSERT_FALSE(allowed6(&c, "::ffff:10.0.0.1"));
	/* Not mapped: ::127.0.0.1 (IPv4-compatible) and 64:ff9b::127.0.0.1 are not IPv4 peers. */
	CU_ASSERT_FALSE(allowed6(&c, "::127.0.0.1"));
	CU_ASSERT_FALSE(allowed6(&c, "64:ff9b::7f00:1"));

	allow_only(&c, "172.16.0.0/12");
	CU_ASSERT_TRUE(allowed6(&c, "::ffff:172.16.5.5"));
	CU_ASSERT_FALSE(allowed6(&c, "::ffff:172.32.0.1"));

	allow_only(&c, "0.0.0.0/0");
	CU_ASSERT_TRUE(allowed6(&c, "::ffff:8.8.8.8"));
	CU_ASSERT_FALSE(allowed6(&c, "::1"));

	allow_only(&c, "192.0.2.1/32");
	CU_ASSERT_TRUE(allowed6(&c, "::ffff:192.0.2.1"));
	CU_ASSERT_FALSE(allowed6(&c, "::ffff:192.0.2.2"));
}

static void test_allowed_many_nets(void)
{
	struct config c;

	LOAD_OK(&c, "[status]\nallow = 10.0.0.0/8 192.168.0.0/16 2001:db8::/32 ::1\n");
	CU_ASSERT_TRUE(allowed4(&c, "10.1.1.1"));
	CU_ASSERT_TRUE(allowed4(&c, "192.168.7.7"));
	CU_ASSERT_FALSE(allowed4(&c, "127.0.0.1")); /* the list replaced the defaults */
	CU_ASSERT_TRUE(allowed6(&c, "2001:db8:1::1"));
	CU_ASSERT_TRUE(allowed6(&c, "::1"));
	CU_ASSERT_TRUE(allowed6(&c, "::ffff:10.2.3.4"));
	CU_ASSERT_FALSE(allowed6(&c, "2001:db9::1"));
	CU_ASSERT_FALSE(allowed6(&c, "::ffff:127.0.0.1"));
}

/* Tests: the packaged config file */

static void test_packaged_conf(void)
{
	struct config c, want;
	char err[1024];
	struct stat st;
	int rc;

	/* The package installs this file: its absence is a failure, not a skip. */
	if (stat(PACKAGED_CONF, &st) != 0) {
		CHECK(0, "%s: %s", PACKAGED_CONF, strerror(errno));
		return;
	}
	/* Loaded over a config where every field differs from the defaults, so a key the
	 * file does not list shows up as a difference. */
	poison(&c);
	err[0] = '\0';
	rc = config_load(&c, PACKAGED_CONF, err, sizeof(err));
	CHECK(rc == 0, "%s: rc %d: %s", PACKAGED_CONF, rc, err);
	config_defaults(&want);
	/* The file's header says [server] user and [control] group name the package's service
	 * account instead of their empty built-in defaults. */
	CHECK_CONFIG_EQUAL(&c, &want, true);
	CHECK_S(c.user, "mcp-chat");
	CHECK_S(c.control_group, "mcp-chat");
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "config_add_listen", test_add_listen },
		{ "reload: live keys", test_reload_live_keys },
		{ "reload: restart keys and note", test_reload_restart_keys },
		{ "reload: from a file", test_reload_from_file },
		{ "reload: small note buffer", test_reload_small_note },
		{ "status allowed: IPv4", test_allowed_ipv4 },
		{ "status allowed: IPv6", test_allowed_ipv6 },
		{ "status allowed: IPv4-mapped", test_allowed_v4_mapped },
		{ "status allowed: several nets", test_allowed_many_nets },
		{ "packaging/mcp-chat.conf is the defaults", test_packaged_conf },
		{ NULL, NULL },
	};
	static const struct unit_suite suites[] = {
		{ "config_reload", tests, NULL, NULL, NULL, NULL },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};

	return unit_main(suites);
}
