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
 * numeric keys they share): defaults and the INI loader: every key,
 * every kind of value, lists, comments, long and continued lines. */

/* The field's value as a double (ms for T_MS). */
static double field_value(const struct config *cfg, const struct tkey *k)
{
	const char *f = (const char *)cfg + k->offset;

	switch (k->kind) {
	case T_U32:
	case T_MS:
		return *(const uint32_t *)(const void *)f;
	case T_SIZE:
		return (double)*(const size_t *)(const void *)f;
	case T_DOUBLE:
		return *(const double *)(const void *)f;
	}
	return -1;
}

/* Loads "[section]\nname = value\n" over defaults and checks the field. */
static void numeric_ok_at(unsigned line, const struct tkey *k, const char *value, double want)
{
	struct config cfg;
	char text[256];

	snprintf(text, sizeof(text), "[%s]\n%s = %s\n", k->section, k->name, value);
	load_ok_at(line, &cfg, text);
	check_at(field_value(&cfg, k) == want, line, "[%s] %s = %s: field %.17g, want %.17g", k->section, k->name,
		 value, field_value(&cfg, k), want);
}

/* Tests: defaults */

static void test_defaults_limits(void)
{
	struct config c;

	memset(&c, 0xA5, sizeof(c));
	config_defaults(&c);
	CHECK_U(c.max_message_bytes, 4096);
	CHECK_U(c.max_display_name_chars, 32);
	CHECK_D(c.rate_burst, 20);
	CHECK_D(c.rate_per_second, 5);
	CHECK_U(c.max_sessions, 100000);
	CHECK_U(c.max_connections, 200000);
	CHECK_U(c.max_head_bytes, 8 * 1024);
	CHECK_U(c.max_body_bytes, 64 * 1024);
	CHECK_U(c.max_send_queue, 256 * 1024);
	CHECK_U(c.mailbox_events, 256);
	CHECK_U(c.replay_window_bytes, 512 * 1024);
	CHECK_U(c.max_interests, 8);
	CHECK_U(c.max_interest_chars, 24);
	CHECK_U(c.session_idle_timeout_ms, 120 * 1000);
	CHECK_U(c.reconnect_grace_ms, 15 * 1000);
	CHECK_U(c.head_timeout_ms, 10 * 1000);
	CHECK_U(c.keepalive_timeout_ms, 60 * 1000);
	CHECK_U(c.sse_keepalive_ms, 15 * 1000);
	CHECK_U(c.shutdown_grace_ms, 3 * 1000);
	CHECK_U(c.interest_fallback_ms, 10 * 1000);
	CHECK_U(c.log_level, LOG_LVL_INFO);
	CU_ASSERT_TRUE(c.healthz);
	CU_ASSERT_TRUE(c.metrics);
	CU_ASSERT_TRUE(c.web);
	/* Service account and control socket: empty (own user, own group, default path). */
	CHECK_S(c.user, "");
	CHECK_S(c.control_group, "");
	CHECK_S(c.control_socket, "");
}

static void test_defaults_listen_hosts(void)
{
	struct config c;

	memset(&c, 0x5A, sizeof(c));
	config_defaults(&c);
	CU_ASSERT_EQUAL_FATAL(c.n_listen, 2);
	CHECK_S(c.listen[0], "127.0.0.1:8808");
	CHECK_S(c.listen[1], "[::1]:8808");
	/* Unused slots are zeroed, so reload's memcmp of listen[] only sees real entries. */
	for (int i = 2; i < CONFIG_MAX_LISTEN; i++)
		CHECK(c.listen[i][0] == '\0', "listen[%d] not empty", i);
	CU_ASSERT_EQUAL_FATAL(c.n_allowed_hosts, 3);
	CHECK_S(c.allowed_hosts[0], "127.0.0.1");
	CHECK_S(c.allowed_hosts[1], "localhost");
	CHECK_S(c.allowed_hosts[2], "[::1]");
}

static void test_defaults_status_allow(void)
{
	static const uint8_t lo4[16] = { 127 };
	static const uint8_t lo6[16] = { [15] = 1 };
	struct config c;

	config_defaults(&c);
	CU_ASSERT_EQUAL_FATAL(c.n_status_allow, 2);
	CU_ASSERT_EQUAL(c.status_allow[0].family, AF_INET);
	CU_ASSERT_EQUAL(c.status_allow[0].prefix, 8);
	CU_ASSERT_EQUAL(memcmp(c.status_allow[0].addr, lo4, 16), 0);
	CU_ASSERT_EQUAL(c.status_allow[1].family, AF_INET6);
	CU_ASSERT_EQUAL(c.status_allow[1].prefix, 128);
	CU_ASSERT_EQUAL(memcmp(c.status_allow[1].addr, lo6, 16), 0);
	/* And they act as 127.0.0.0/8 and ::1. */
	CU_ASSERT_TRUE(allowed4(&c, "127.0.0.1"));
	CU_ASSERT_TRUE(allowed4(&c, "127.255.255.254"));
	CU_ASSERT_FALSE(allowed4(&c, "128.0.0.1"));
	CU_ASSERT_FALSE(allowed4(&c, "10.0.0.1"));
	CU_ASSERT_TRUE(allowed6(&c, "::1"));
	CU_ASSERT_FALSE(allowed6(&c, "::2"));
	CU_ASSERT_FALSE(allowed6(&c, "2001:db8::1"));
}

/* Tests: every key with a valid value */

static void test_load_numeric_keys(void)
{
	static const char *const whole_values[] = { "17", "100", "1000", "4096", "65536" };

	for (size_t i = 0; i < N_NUMERIC; i++) {
		const struct tkey *k = &numeric_keys[i];
		char v[64];

		/* Both bounds are accepted. */
		snprintf(v, sizeof(v), "%.15g", k->min);
		numeric_ok_at(__LINE__, k, v, k->kind == T_MS ? round(k->min * 1000) : k->min);
		snprintf(v, sizeof(v), "%.15g", k->max);
		numeric_ok_at(__LINE__, k, v, k->kind == T_MS ? round(k->max * 1000) : k->max);
		/* And a value in between, different from the default. */
		for (size_t j = 0; j < sizeof(whole_values) / sizeof(whole_values[0]); j++) {
			double d = atof(whole_values[j]);

			if (d > k->min && d < k->max)
				numeric_ok_at(__LINE__, k, whole_values[j], k->kind == T_MS ? d * 1000 : d);
		}
	}
}

static void test_load_seconds_to_ms(void)
{
	struct config c;

	LOAD_OK(&c, "[timeouts]\n"
		    "head_s = 2.5\n"
		    "keepalive_s = 0.1\n"
		    "session_idle_s = 90\n"
		    "sse_keepalive_s = 1.25\n"
		    "interest_fallback_s = 0\n"
		    "shutdown_grace_s = 0.5\n");
	CHECK_U(c.head_timeout_ms, 2500);
	CHECK_U(c.keepalive_timeout_ms, 100);
	CHECK_U(c.session_idle_timeout_ms, 90000);
	CHECK_U(c.sse_keepalive_ms, 1250);
	CHECK_U(c.interest_fallback_ms, 0);
	CHECK_U(c.shutdown_grace_ms, 500);

	/* Sub-millisecond fractions round to the nearest millisecond. */
	LOAD_OK(&c, "[timeouts]\nhead_s = 2.0004\nkeepalive_s = 2.0006\ninterest_fallback_s = 0.0004\n");
	CHECK_U(c.head_timeout_ms, 2000);
	CHECK_U(c.keepalive_timeout_ms, 2001);
	CHECK_U(c.interest_fallback_ms, 0);

	/* The largest timeout still fits in uint32_t ms. */
	LOAD_OK(&c, "[timeouts]\nkeepalive_s = 86400\nsession_idle_s = 86400\n");
	CHECK_U(c.keepalive_timeout_ms, 86400000u);
	CHECK_U(c.session_idle_timeout_ms, 86400000u);
}

static void test_load_doubles(void)
{
	struct config c;

	LOAD_OK(&c, "[limits]\nrate_per_second = 0.5\nrate_burst = 2.5\n");
	CHECK_D(c.rate_per_second, 0.5);
	CHECK_D(c.rate_burst, 2.5);
	LOAD_OK(&c, "[limits]\nrate_per_second = 1e3\nrate_burst = 100\n");
	CHECK_D(c.rate_per_second, 1000);
	CHECK_D(c.rate_burst, 100);
}

static void test_load_bools(void)
{
	static const struct {
		const char *v;
		bool want;
	} cases[] = {
		{ "on", true },	    { "off", false },	{ "yes", true },   { "no", false },  { "true", true },
		{ "false", false }, { "1", true },	{ "0", false },	   { "ON", true },   { "Off", false },
		{ "YES", true },    { "No", false },	{ "True", true },  { "FALSE", false },
	};
	struct config c;
	char text[128];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* Start from the opposite so each load must write the field. */
		snprintf(text, sizeof(text), "[status]\nhealthz = %s\nmetrics = %s\n[web]\nenabled = %s\n",
			 cases[i].v, cases[i].v, cases[i].v);
		config_defaults(&c);
		c.healthz = c.metrics = c.web = !cases[i].want;
		{
			char path[256], err[512];
			int rc = load_text(&c, text, path, sizeof(path), err, sizeof(err));

			CHECK(rc == 0, "bool %s: rc %d (%s)", cases[i].v, rc, err);
		}
		CHECK(c.healthz == cases[i].want, "healthz = %s gave %d", cases[i].v, c.healthz);
		CHECK(c.metrics == cases[i].want, "metrics = %s gave %d", cases[i].v, c.metrics);
		CHECK(c.web == cases[i].want, "[web] enabled = %s gave %d", cases[i].v, c.web);
	}
}

static void test_load_log_levels(void)
{
	static const struct {
		const char *v;
		int want;
	} cases[] = {
		{ "error", LOG_LVL_ERR },   { "warning", LOG_LVL_WARNING }, { "notice", LOG_LVL_NOTICE },
		{ "info", LOG_LVL_INFO },   { "debug", LOG_LVL_DEBUG },
	};
	struct config c;
	char text[128];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "[log]\nlevel = %s\n", cases[i].v);
		LOAD_OK(&c, text);
		CHECK(c.log_level == cases[i].want, "level = %s gave %d, want %d", cases[i].v, c.log_level,
		      cases[i].want);
	}
}

static void test_load_strings(void)
{
	struct config c;
	char text[512], longest[128];

	LOAD_OK(&c, "[server]\nuser = mcp-chat\n[control]\nsocket = /run/x/control.sock\ngroup = chatops\n");
	CHECK_S(c.user, "mcp-chat");
	CHECK_S(c.control_socket, "/run/x/control.sock");
	CHECK_S(c.control_group, "chatops");

	/* An empty value is allowed and clears the field. */
	config_defaults(&c);
	{
		char path[256], err[512];
		int rc;

		strcpy(c.user, "someone");
		strcpy(c.control_socket, "/tmp/s");
		strcpy(c.control_group, "grp");
		rc = load_text(&c, "[server]\nuser =\n[control]\nsocket =\ngroup = \n", path, sizeof(path), err,
			       sizeof(err));
		CHECK(rc == 0, "empty strings: rc %d (%s)", rc, err);
	}
	CHECK_S(c.user, "");
	CHECK_S(c.control_socket, "");
	CHECK_S(c.control_group, "");

	/* The longest values that fit: size - 1 characters. */
	memset(longest, 0, sizeof(longest));
	memset(longest, 's', sizeof(c.control_socket) - 1);
	longest[0] = '/';
	snprintf(text, sizeof(text), "[control]\nsocket = %s\n", longest);
	LOAD_OK(&c, text);
	CHECK_U(strlen(c.control_socket), sizeof(c.control_socket) - 1);
	CHECK_S(c.control_socket, longest);

	memset(longest, 0, sizeof(longest));
	memset(longest, 'u', sizeof(c.user) - 1);
	snprintf(text, sizeof(text), "[server]\nuser = %s\n[control]\ngroup = %s\n", longest, longest);
	LOAD_OK(&c, text);
	CHECK_S(c.user, longest);
	CHECK_S(c.control_group, longest);
}

static void test_load_listen(void)
{
	struct config c;

	LOAD_OK(&c, "[server]\nlisten = 0.0.0.0:80\n");
	CU_ASSERT_EQUAL_FATAL(c.n_listen, 1);
	CHECK_S(c.listen[0], "0.0.0.0:80");

	/* Spaces, commas, tabs and mixtures separate; empty words are skipped. */
	LOAD_OK(&c, "[server]\nlisten = 127.0.0.1:1,[::1]:2 , 10.0.0.1:3\t[fe80::1]:4,,  192.0.2.1:5\n");
	CU_ASSERT_EQUAL_FATAL(c.n_listen, 5);
	CHECK_S(c.listen[0], "127.0.0.1:1");
	CHECK_S(c.listen[1], "[::1]:2");
	CHECK_S(c.listen[2], "10.0.0.1:3");
	CHECK_S(c.listen[3], "[fe80::1]:4");
	CHECK_S(c.listen[4], "192.0.2.1:5");

	/* Exactly 8 fit. */
	LOAD_OK(&c, "[server]\nlisten = 127.0.0.1:1 127.0.0.1:2 127.0.0.1:3 127.0.0.1:4 127.0.0.1:5 127.0.0.1:6 "
		    "127.0.0.1:7 127.0.0.1:8\n");
	CU_ASSERT_EQUAL_FATAL(c.n_listen, CONFIG_MAX_LISTEN);
	CHECK_S(c.listen[7], "127.0.0.1:8");

	/* A second listen line replaces the first list; it does not append. */
	LOAD_OK(&c, "[server]\nlisten = 127.0.0.1:1 127.0.0.1:2\nlisten = [::1]:3\n");
	CU_ASSERT_EQUAL_FATAL(c.n_listen, 1);
	CHECK_S(c.listen[0], "[::1]:3");
}

static void test_load_allowed_hosts(void)
{
	struct config c;
	char text[1024], longest[200];

	LOAD_OK(&c, "[server]\nallowed_hosts = chat.example.org, localhost [::1]\t127.0.0.1\n");
	CU_ASSERT_EQUAL_FATAL(c.n_allowed_hosts, 4);
	CHECK_S(c.allowed_hosts[0], "chat.example.org");
	CHECK_S(c.allowed_hosts[1], "localhost");
	CHECK_S(c.allowed_hosts[2], "[::1]");
	CHECK_S(c.allowed_hosts[3], "127.0.0.1");

	/* Exactly 16 fit. */
	LOAD_OK(&c, "[server]\nallowed_hosts = a b c d e f g h i j k l m n o p\n");
	CU_ASSERT_EQUAL_FATAL(c.n_allowed_hosts, CONFIG_MAX_ALLOWED);
	CHECK_S(c.allowed_hosts[15], "p");

	/* An empty list allows no host names at all. */
	LOAD_OK(&c, "[server]\nallowed_hosts =\n");
	CHECK_U(c.n_allowed_hosts, 0);

	/* The longest host name that fits: 127 characters. */
	memset(longest, 0, sizeof(longest));
	memset(longest, 'h', sizeof(c.allowed_hosts[0]) - 1);
	snprintf(text, sizeof(text), "[server]\nallowed_hosts = %s\n", longest);
	LOAD_OK(&c, text);
	CU_ASSERT_EQUAL_FATAL(c.n_allowed_hosts, 1);
	CHECK_S(c.allowed_hosts[0], longest);
}

static void test_load_status_allow(void)
{
	static const uint8_t net10[16] = { 10 };
	static const uint8_t host1[16] = { 192, 0, 2, 7 };
	static const uint8_t db8[16] = { 0x20, 0x01, 0x0d, 0xb8 };
	static const uint8_t lo6[16] = { [15] = 1 };
	struct config c;

	LOAD_OK(&c, "[status]\nallow = 10.0.0.0/8, 192.0.2.7 2001:db8::/32\t::1\n");
	CU_ASSERT_EQUAL_FATAL(c.n_status_allow, 4);
	CU_ASSERT_EQUAL(c.status_allow[0].family, AF_INET);
	CU_ASSERT_EQUAL(c.status_allow[0].prefix, 8);
	CU_ASSERT_EQUAL(memcmp(c.status_allow[0].addr, net10, 16), 0);
	/* No prefix: a single host, /32 or /128. */
	CU_ASSERT_EQUAL(c.status_allow[1].family, AF_INET);
	CU_ASSERT_EQUAL(c.status_allow[1].prefix, 32);
	CU_ASSERT_EQUAL(memcmp(c.status_allow[1].addr, host1, 16), 0);
	CU_ASSERT_EQUAL(c.status_allow[2].family, AF_INET6);
	CU_ASSERT_EQUAL(c.status_allow[2].prefix, 32);
	CU_ASSERT_EQUAL(memcmp(c.status_allow[2].addr, db8, 16), 0);
	CU_ASSERT_EQUAL(c.status_allow[3].family, AF_INET6);
	CU_ASSERT_EQUAL(c.status_allow[3].prefix, 128);
	CU_ASSERT_EQUAL(memcmp(c.status_allow[3].addr, lo6, 16), 0);

	/* /0 and the full lengths are valid. */
	LOAD_OK(&c, "[status]\nallow = 0.0.0.0/0 ::/0 1.2.3.4/32 ::2/128\n");
	CU_ASSERT_EQUAL_FATAL(c.n_status_allow, 4);
	CU_ASSERT_EQUAL(c.status_allow[0].prefix, 0);
	CU_ASSERT_EQUAL(c.status_allow[1].prefix, 0);
	CU_ASSERT_EQUAL(c.status_allow[2].prefix, 32);
	CU_ASSERT_EQUAL(c.status_allow[3].prefix, 128);

	/* Exactly 16 fit; an empty list allows nobody. */
	LOAD_OK(&c, "[status]\nallow = 10.0.0.1 10.0.0.2 10.0.0.3 10.0.0.4 10.0.0.5 10.0.0.6 10.0.0.7 10.0.0.8 "
		    "10.0.0.9 10.0.0.10 10.0.0.11 10.0.0.12 10.0.0.13 10.0.0.14 10.0.0.15 10.0.0.16\n");
	CU_ASSERT_EQUAL(c.n_status_allow, CONFIG_MAX_ALLOWED);
	LOAD_OK(&c, "[status]\nallow =\n");
	CU_ASSERT_EQUAL(c.n_status_allow, 0);
	CU_ASSERT_FALSE(allowed4(&c, "127.0.0.1"));
	CU_ASSERT_FALSE(allowed6(&c, "::1"));
}

/* Every key of the table in one file, each with a non-default value. */
static void test_load_every_key(void)
{
	struct config c;

	LOAD_OK(&c, "[server]\n"
		    "listen = 192.0.2.1:9000 [2001:db8::1]:9001\n"
		    "allowed_hosts = chat.example.org\n"
		    "max_connections = 5000\n"
		    "user = chatd\n"
		    "[limits]\n"
		    "max_sessions = 777\n"
		    "max_head_bytes = 4096\n"
		    "max_body_bytes = 131072\n"
		    "max_send_queue_bytes = 524288\n"
		    "max_message_bytes = 2048\n"
		    "max_display_name_chars = 40\n"
		    "mailbox_events = 512\n"
		    "rate_per_second = 2.5\n"
		    "rate_burst = 7\n"
		    "max_interests = 3\n"
		    "max_interest_chars = 30\n"
		    "[timeouts]\n"
		    "head_s = 4\n"
		    "keepalive_s = 30.5\n"
		    "session_idle_s = 600\n"
		    "sse_keepalive_s = 20\n"
		    "interest_fallback_s = 2.25\n"
		    "shutdown_grace_s = 7\n"
		    "[control]\n"
		    "socket = /run/chat/ctl.sock\n"
		    "group = chatadm\n"
		    "[log]\n"
		    "level = debug\n"
		    "[status]\n"
		    "healthz = off\n"
		    "metrics = no\n"
		    "allow = 10.0.0.0/8\n");
	CU_ASSERT_EQUAL_FATAL(c.n_listen, 2);
	CHECK_S(c.listen[0], "192.0.2.1:9000");
	CHECK_S(c.listen[1], "[2001:db8::1]:9001");
	CU_ASSERT_EQUAL_FATAL(c.n_allowed_hosts, 1);
	CHECK_S(c.allowed_hosts[0], "chat.example.org");
	CHECK_U(c.max_connections, 5000);
	CHECK_S(c.user, "chatd");
	CHECK_U(c.max_sessions, 777);
	CHECK_U(c.max_head_bytes, 4096);
	CHECK_U(c.max_body_bytes, 131072);
	CHECK_U(c.max_send_queue, 524288);
	CHECK_U(c.max_message_bytes, 2048);
	CHECK_U(c.max_display_name_chars, 40);
	CHECK_U(c.mailbox_events, 512);
	CHECK_D(c.rate_per_second, 2.5);
	CHECK_D(c.rate_burst, 7);
	CHECK_U(c.max_interests, 3);
	CHECK_U(c.max_interest_chars, 30);
	CHECK_U(c.head_timeout_ms, 4000);
	CHECK_U(c.keepalive_timeout_ms, 30500);
	CHECK_U(c.session_idle_timeout_ms, 600000);
	CHECK_U(c.sse_keepalive_ms, 20000);
	CHECK_U(c.interest_fallback_ms, 2250);
	CHECK_U(c.shutdown_grace_ms, 7000);
	CHECK_S(c.control_socket, "/run/chat/ctl.sock");
	CHECK_S(c.control_group, "chatadm");
	CHECK_U(c.log_level, LOG_LVL_DEBUG);
	CU_ASSERT_FALSE(c.healthz);
	CU_ASSERT_FALSE(c.metrics);
	CU_ASSERT_EQUAL_FATAL(c.n_status_allow, 1);
	CU_ASSERT_EQUAL(c.status_allow[0].prefix, 8);
}

/* Tests: file syntax */

static void test_load_absent_keys_keep_values(void)
{
	struct config c, want;
	char path[256], err[512];
	int rc;

	/* Starting from a config unlike the defaults, only the key in the file changes. */
	poison(&c);
	want = c;
	rc = load_text(&c, "[limits]\nmax_sessions = 42\n", path, sizeof(path), err, sizeof(err));
	CHECK(rc == 0, "rc %d (%s)", rc, err);
	want.max_sessions = 42;
	CHECK_CONFIG_EQUAL(&c, &want, false);

	/* An empty file, and one with only comments and sections, change nothing. */
	poison(&c);
	rc = load_text(&c, "", path, sizeof(path), err, sizeof(err));
	CHECK(rc == 0, "empty file: rc %d (%s)", rc, err);
	poison(&want);
	CHECK_CONFIG_EQUAL(&c, &want, false);
	rc = load_text(&c, "; nothing\n# here\n\n[server]\n[limits]\n[status]\n", path, sizeof(path), err,
		       sizeof(err));
	CHECK(rc == 0, "comments only: rc %d (%s)", rc, err);
	CHECK_CONFIG_EQUAL(&c, &want, false);
}

static void test_load_comments_and_whitespace(void)
{
	struct config c;

	LOAD_OK(&c, "; a comment\n"
		    "# another comment\n"
		    "\n"
		    "   \n"
		    "[limits]\n"
		    "; max_sessions = 1\n"
		    "# max_sessions = 2\n"
		    "max_sessions=55\n"
		    "max_message_bytes   =    1000   \n"
		    "\t\n"
		    "[log]\n"
		    "level = notice ; an inline comment\n");
	CHECK_U(c.max_sessions, 55);
	CHECK_U(c.max_message_bytes, 1000);
	CHECK_U(c.log_level, LOG_LVL_NOTICE);

	/* CRLF line ends (a file edited on Windows) and no newline at the end. */
	LOAD_OK(&c, "[limits]\r\nmax_sessions = 66\r\n[status]\r\nhealthz = off");
	CHECK_U(c.max_sessions, 66);
	CU_ASSERT_FALSE(c.healthz);

	/* The same section may appear twice; the later value wins. */
	LOAD_OK(&c, "[limits]\nmax_sessions = 1\n[log]\nlevel = debug\n[limits]\nmax_sessions = 2\n");
	CHECK_U(c.max_sessions, 2);
	CHECK_U(c.log_level, LOG_LVL_DEBUG);
}

/* libinih reads at most 198 characters a line: a longer line is an error naming it, never a
 * list silently cut short. Long lists go on continuation lines (indented). */
static void test_load_long_line(void)
{
	struct config c;
	char text[2048], name[64], err[512];
	size_t off;
	FILE *f;
	char path[] = "/tmp/mcpchat-test-config-long-XXXXXX";
	int fd;

	off = (size_t)snprintf(text, sizeof(text), "[server]\nallowed_hosts =");
	for (int i = 0; i < CONFIG_MAX_ALLOWED; i++) {
		snprintf(name, sizeof(name), "host-%02d.chat.example.invalid.", i);
		off += (size_t)snprintf(text + off, sizeof(text) - off, " %s", name);
	}
	snprintf(text + off, sizeof(text) - off, "\n[limits]\nmax_sessions = 9\n");
	fd = mkstemp(path);
	CU_ASSERT_FATAL(fd >= 0);
	f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
	config_defaults(&c);
	CU_ASSERT_EQUAL(config_load(&c, path, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, ":2: line longer than") != NULL, "error \"%s\"", err);
	unlink(path);
}

/* A list continued on indented lines adds to itself. */
static void test_load_continued_list(void)
{
	struct config c;
	char text[2048], name[64];
	size_t off;

	off = (size_t)snprintf(text, sizeof(text), "[server]\nallowed_hosts =");
	for (int i = 0; i < CONFIG_MAX_ALLOWED; i++) {
		snprintf(name, sizeof(name), "host-%02d.chat.example.invalid.", i);
		off += (size_t)snprintf(text + off, sizeof(text) - off, "%s%s", i ? "\n  " : " ", name);
	}
	snprintf(text + off, sizeof(text) - off, "\n[limits]\nmax_sessions = 9\n");
	LOAD_OK(&c, text);
	CHECK_U(c.n_allowed_hosts, CONFIG_MAX_ALLOWED);
	CHECK_S(c.allowed_hosts[0], "host-00.chat.example.invalid.");
	CHECK_S(c.allowed_hosts[15], "host-15.chat.example.invalid.");
	CHECK_U(c.max_sessions, 9);
	/* A list key given again later (not a continuation) starts over. */
	LOAD_OK(&c, "[server]\nallowed_hosts = a b\nuser = x\nallowed_hosts = c\n");
	CHECK_U(c.n_allowed_hosts, 1);
	CHECK_S(c.allowed_hosts[0], "c");
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "defaults: limits and timeouts", test_defaults_limits },
		{ "defaults: listeners and hosts", test_defaults_listen_hosts },
		{ "defaults: status allow", test_defaults_status_allow },
		{ "load: numeric keys, bounds", test_load_numeric_keys },
		{ "load: seconds to ms", test_load_seconds_to_ms },
		{ "load: fractional numbers", test_load_doubles },
		{ "load: bool spellings", test_load_bools },
		{ "load: log levels", test_load_log_levels },
		{ "load: strings", test_load_strings },
		{ "load: listen lists", test_load_listen },
		{ "load: allowed_hosts lists", test_load_allowed_hosts },
		{ "load: status allow lists", test_load_status_allow },
		{ "load: every key at once", test_load_every_key },
		{ "load: absent keys keep values", test_load_absent_keys_keep_values },
		{ "load: comments and whitespace", test_load_comments_and_whitespace },
		{ "load: long line", test_load_long_line },
		{ "load: continued list", test_load_continued_list },
		{ NULL, NULL },
	};
	static const struct unit_suite suites[] = {
		{ "config", tests, NULL, NULL, NULL, NULL },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};

	return unit_main(suites);
}
