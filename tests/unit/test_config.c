/* Unit tests of daemon/config.c: defaults, the INI loader (every key, every kind of bad value,
 * error positions), SIGHUP reload and the /healthz + /metrics allow-list. */
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
#include "unit.h"
#include "util/log.h"

#ifndef MCPCHAT_SOURCE_DIR
#error "MCPCHAT_SOURCE_DIR must name the source tree"
#endif

#define PACKAGED_CONF MCPCHAT_SOURCE_DIR "/packaging/mcp-chat.conf"

/* Assertions with a formatted message, so a failure shows the actual values. */

__attribute__((format(printf, 3, 4))) static void check_at(int ok, unsigned line, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	if (ok) {
		CU_assertImplementation(CU_TRUE, line, "ok", __FILE__, "", CU_FALSE);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	CU_assertImplementation(CU_FALSE, line, msg, __FILE__, "", CU_FALSE);
}

#define CHECK(cond, ...) check_at(!!(cond), __LINE__, __VA_ARGS__)
#define CHECK_U(a, b) CHECK((unsigned long long)(a) == (unsigned long long)(b), "%s == %s: got %llu, want %llu", \
			    #a, #b, (unsigned long long)(a), (unsigned long long)(b))
#define CHECK_D(a, b) CHECK((double)(a) == (double)(b), "%s == %s: got %.17g, want %.17g", #a, #b, \
			    (double)(a), (double)(b))
#define CHECK_S(a, b) CHECK(strcmp((a), (b)) == 0, "%s == %s: got \"%s\", want \"%s\"", #a, #b, (a), (b))

/* Temporary files */

static void temp_path(char *path, size_t len, const char *what)
{
	const char *dir = getenv("TMPDIR");

	snprintf(path, len, "%s/mcpchat-test-config-%s-XXXXXX", dir && *dir ? dir : "/tmp", what);
}

/* Writes text into a new temporary file and puts its name in path. */
static void write_temp(char *path, size_t len, const char *text)
{
	size_t n = strlen(text), off = 0;
	int fd;

	temp_path(path, len, "conf");
	fd = mkstemp(path);
	CU_ASSERT_FATAL(fd >= 0);
	while (off < n) {
		ssize_t w = write(fd, text + off, n - off);

		CU_ASSERT_FATAL(w > 0);
		off += (size_t)w;
	}
	CU_ASSERT_FATAL(close(fd) == 0);
}

/* Loads text over cfg; path gets the name the file had (it is removed again). */
static int load_text(struct config *cfg, const char *text, char *path, size_t pathlen, char *err, size_t errlen)
{
	int rc;

	write_temp(path, pathlen, text);
	err[0] = '\0';
	rc = config_load(cfg, path, err, errlen);
	unlink(path);
	return rc;
}

/* text must load over the defaults without error; the result is in *cfg. */
static void load_ok_at(unsigned line, struct config *cfg, const char *text)
{
	char path[256], err[512];
	int rc;

	config_defaults(cfg);
	rc = load_text(cfg, text, path, sizeof(path), err, sizeof(err));
	check_at(rc == 0, line, "config_load of <<%s>> returned %d (%s)", text, rc, err);
}
#define LOAD_OK(cfg, text) load_ok_at(__LINE__, (cfg), (text))

/* text must fail with -EINVAL and an error beginning "PATH:LINE: " that contains each of the
 * given pieces (NULL-terminated). Returns the error text in err. */
static void load_bad_at(unsigned line, const char *text, int bad_line, char *err, size_t errlen, ...)
{
	struct config cfg;
	char path[256], prefix[300];
	const char *piece;
	va_list ap;
	int rc;

	config_defaults(&cfg);
	rc = load_text(&cfg, text, path, sizeof(path), err, errlen);
	check_at(rc == -EINVAL, line, "config_load of <<%s>> returned %d, want -EINVAL (err \"%s\")", text, rc, err);
	snprintf(prefix, sizeof(prefix), "%s:%d: ", path, bad_line);
	check_at(strncmp(err, prefix, strlen(prefix)) == 0, line, "error for <<%s>>: \"%s\" does not begin with \"%s\"",
		 text, err, prefix);
	va_start(ap, errlen);
	while ((piece = va_arg(ap, const char *)) != NULL)
		check_at(strstr(err, piece) != NULL, line, "error for <<%s>>: \"%s\" does not contain \"%s\"", text, err,
			 piece);
	va_end(ap);
}
#define LOAD_BAD(text, bad_line, ...) \
	do { \
		char err_[1024]; \
		load_bad_at(__LINE__, (text), (bad_line), err_, sizeof(err_), __VA_ARGS__, (const char *)NULL); \
	} while (0)

/* The error text past "PATH:LINE: " must be exactly want. */
static void load_bad_exact_at(unsigned line, const char *text, int bad_line, const char *want)
{
	char err[1024];
	const char *rest;

	load_bad_at(line, text, bad_line, err, sizeof(err), (const char *)NULL);
	rest = strstr(err, ": ");
	/* The path has no ": " in it; skip "PATH:LINE: ". */
	check_at(rest != NULL && strcmp(rest + 2, want) == 0, line, "error for <<%s>>: \"%s\", want \"...: %s\"", text,
		 err, want);
}
#define LOAD_BAD_EXACT(text, bad_line, want) load_bad_exact_at(__LINE__, (text), (bad_line), (want))

/* Socket addresses */

static struct sockaddr_in sa4(const char *a)
{
	struct sockaddr_in s;

	memset(&s, 0, sizeof(s));
	s.sin_family = AF_INET;
	s.sin_port = htons(40000);
	CU_ASSERT_FATAL(inet_pton(AF_INET, a, &s.sin_addr) == 1);
	return s;
}

static struct sockaddr_in6 sa6(const char *a)
{
	struct sockaddr_in6 s;

	memset(&s, 0, sizeof(s));
	s.sin6_family = AF_INET6;
	s.sin6_port = htons(40000);
	CU_ASSERT_FATAL(inet_pton(AF_INET6, a, &s.sin6_addr) == 1);
	return s;
}

static bool allowed4(const struct config *cfg, const char *a)
{
	struct sockaddr_in s = sa4(a);

	return config_status_allowed(cfg, &s);
}

static bool allowed6(const struct config *cfg, const char *a)
{
	struct sockaddr_in6 s = sa6(a);

	return config_status_allowed(cfg, &s);
}

/* Sets status allow to one net by loading it. */
static void allow_only(struct config *cfg, const char *net)
{
	char text[256];

	snprintf(text, sizeof(text), "[status]\nallow = %s\n", net);
	LOAD_OK(cfg, text);
	CU_ASSERT_EQUAL(cfg->n_status_allow, 1);
}

/* A config where every field differs from the defaults. */
static void poison(struct config *c)
{
	config_defaults(c);
	strcpy(c->listen[0], "10.9.9.9:1");
	c->n_listen = 1;
	strcpy(c->allowed_hosts[0], "poison.invalid");
	c->n_allowed_hosts = 1;
	strcpy(c->control_socket, "/poison/socket");
	strcpy(c->control_group, "poisongroup");
	strcpy(c->user, "poisonuser");
	c->log_level = LOG_LVL_DEBUG;
	c->healthz = false;
	c->metrics = false;
	c->status_allow[0] = (struct config_net){ AF_INET, { 10, 9 }, 16 };
	c->n_status_allow = 1;
	c->max_head_bytes = 1111;
	c->max_body_bytes = 2222;
	c->max_send_queue = 33333;
	c->max_sessions = 4;
	c->max_connections = 55;
	c->head_timeout_ms = 6;
	c->keepalive_timeout_ms = 7;
	c->session_idle_timeout_ms = 8;
	c->reconnect_grace_ms = 88;
	c->sse_keepalive_ms = 9;
	c->shutdown_grace_ms = 10;
	c->max_message_bytes = 11;
	c->max_display_name_chars = 12;
	c->mailbox_events = 13;
	c->replay_window_bytes = 1313;
	c->rate_per_second = 14.5;
	c->rate_burst = 15.5;
	c->interest_fallback_ms = 16;
	c->max_interests = 1;
	c->max_interest_chars = 17;
}

/* Field-by-field equality; skip_service_account leaves out user and control_group. */
static void check_config_equal_at(unsigned line, const struct config *a, const struct config *b,
				  bool skip_service_account)
{
#define EQ_U(f) check_at(a->f == b->f, line, #f ": got %llu, want %llu", (unsigned long long)a->f, \
			 (unsigned long long)b->f)
#define EQ_D(f) check_at(a->f == b->f, line, #f ": got %.17g, want %.17g", a->f, b->f)
#define EQ_S(f) check_at(strcmp(a->f, b->f) == 0, line, #f ": got \"%s\", want \"%s\"", a->f, b->f)
	EQ_U(n_listen);
	for (int i = 0; i < a->n_listen && i < b->n_listen && i < CONFIG_MAX_LISTEN; i++)
		EQ_S(listen[i]);
	EQ_U(n_allowed_hosts);
	for (int i = 0; i < a->n_allowed_hosts && i < b->n_allowed_hosts && i < CONFIG_MAX_ALLOWED; i++)
		EQ_S(allowed_hosts[i]);
	EQ_S(control_socket);
	if (!skip_service_account) {
		EQ_S(control_group);
		EQ_S(user);
	}
	EQ_U(log_level);
	EQ_U(healthz);
	EQ_U(metrics);
	EQ_U(n_status_allow);
	for (int i = 0; i < a->n_status_allow && i < b->n_status_allow && i < CONFIG_MAX_ALLOWED; i++) {
		EQ_U(status_allow[i].family);
		EQ_U(status_allow[i].prefix);
		check_at(memcmp(a->status_allow[i].addr, b->status_allow[i].addr, 16) == 0, line,
			 "status_allow[%d].addr differs", i);
	}
	EQ_U(max_head_bytes);
	EQ_U(max_body_bytes);
	EQ_U(max_send_queue);
	EQ_U(max_sessions);
	EQ_U(max_connections);
	EQ_U(head_timeout_ms);
	EQ_U(keepalive_timeout_ms);
	EQ_U(session_idle_timeout_ms);
	EQ_U(reconnect_grace_ms);
	EQ_U(sse_keepalive_ms);
	EQ_U(shutdown_grace_ms);
	EQ_U(max_message_bytes);
	EQ_U(max_display_name_chars);
	EQ_U(mailbox_events);
	EQ_U(replay_window_bytes);
	EQ_D(rate_per_second);
	EQ_D(rate_burst);
	EQ_U(interest_fallback_ms);
	EQ_U(max_interests);
	EQ_U(max_interest_chars);
#undef EQ_U
#undef EQ_D
#undef EQ_S
}
#define CHECK_CONFIG_EQUAL(a, b, skip) check_config_equal_at(__LINE__, (a), (b), (skip))

/* The numeric keys of config.c's keys[], with the bounds the daemon documents. */

enum tkind { T_U32, T_SIZE, T_MS, T_DOUBLE };

static const struct tkey {
	const char *section, *name;
	enum tkind kind;
	size_t offset;
	double min, max;
} numeric_keys[] = {
	{ "server", "max_connections", T_U32, offsetof(struct config, max_connections), 16, 10000000 },
	{ "limits", "max_sessions", T_U32, offsetof(struct config, max_sessions), 1, 10000000 },
	{ "limits", "max_head_bytes", T_SIZE, offsetof(struct config, max_head_bytes), 1024, 1 << 20 },
	{ "limits", "max_body_bytes", T_SIZE, offsetof(struct config, max_body_bytes), 1024, 16 << 20 },
	{ "limits", "max_send_queue_bytes", T_SIZE, offsetof(struct config, max_send_queue), 16384, 1 << 30 },
	{ "limits", "max_message_bytes", T_SIZE, offsetof(struct config, max_message_bytes), 1, 60000 },
	{ "limits", "max_display_name_chars", T_U32, offsetof(struct config, max_display_name_chars), 1, 256 },
	{ "limits", "mailbox_events", T_U32, offsetof(struct config, mailbox_events), 16, 4096 },
	{ "limits", "replay_window_bytes", T_U32, offsetof(struct config, replay_window_bytes), 0, 64 << 20 },
	{ "limits", "rate_per_second", T_DOUBLE, offsetof(struct config, rate_per_second), 0.001, 1e9 },
	{ "limits", "rate_burst", T_DOUBLE, offsetof(struct config, rate_burst), 1, 1e9 },
	{ "limits", "max_interests", T_U32, offsetof(struct config, max_interests), 0, 8 },
	{ "limits", "max_interest_chars", T_U32, offsetof(struct config, max_interest_chars), 1, 64 },
	{ "timeouts", "head_s", T_MS, offsetof(struct config, head_timeout_ms), 0.1, 3600 },
	{ "timeouts", "keepalive_s", T_MS, offsetof(struct config, keepalive_timeout_ms), 0.1, 86400 },
	{ "timeouts", "session_idle_s", T_MS, offsetof(struct config, session_idle_timeout_ms), 1, 86400 },
	{ "timeouts", "reconnect_grace_s", T_MS, offsetof(struct config, reconnect_grace_ms), 0.1, 86400 },
	{ "timeouts", "sse_keepalive_s", T_MS, offsetof(struct config, sse_keepalive_ms), 1, 3600 },
	{ "timeouts", "interest_fallback_s", T_MS, offsetof(struct config, interest_fallback_ms), 0, 3600 },
	{ "timeouts", "shutdown_grace_s", T_MS, offsetof(struct config, shutdown_grace_ms), 0, 60 },
};

#define N_NUMERIC (sizeof(numeric_keys) / sizeof(numeric_keys[0]))

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

static const char *kind_words(enum tkind kind)
{
	return kind == T_MS ? "a number of seconds" : kind == T_DOUBLE ? "a number" : "a whole number";
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

static void numeric_bad_at(unsigned line, const struct tkey *k, const char *value)
{
	char text[256], err[1024], want[512];
	const char *rest;

	snprintf(text, sizeof(text), "[%s]\n%s = %s\n", k->section, k->name, value);
	load_bad_at(line, text, 2, err, sizeof(err), k->name, (const char *)NULL);
	snprintf(want, sizeof(want), "bad value for %s in [%s]: expected %s from %.15g to %.15g", k->name, k->section,
		 kind_words(k->kind), k->min, k->max);
	rest = strstr(err, ": ");
	check_at(rest && strcmp(rest + 2, want) == 0, line, "[%s] %s = %s: error \"%s\", want \"...: %s\"", k->section,
		 k->name, value, err, want);
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
		snprintf(text, sizeof(text), "[status]\nhealthz = %s\nmetrics = %s\n", cases[i].v, cases[i].v);
		config_defaults(&c);
		c.healthz = c.metrics = !cases[i].want;
		{
			char path[256], err[512];
			int rc = load_text(&c, text, path, sizeof(path), err, sizeof(err));

			CHECK(rc == 0, "bool %s: rc %d (%s)", cases[i].v, rc, err);
		}
		CHECK(c.healthz == cases[i].want, "healthz = %s gave %d", cases[i].v, c.healthz);
		CHECK(c.metrics == cases[i].want, "metrics = %s gave %d", cases[i].v, c.metrics);
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

/* Tests: bad values */

static void test_bad_numbers(void)
{
	static const char *const garbage[] = { "abc", "12abc", "", "nan", "inf", "-inf", "1,000", "0x" };

	for (size_t i = 0; i < N_NUMERIC; i++) {
		const struct tkey *k = &numeric_keys[i];
		char v[64];

		for (size_t j = 0; j < sizeof(garbage) / sizeof(garbage[0]); j++)
			numeric_bad_at(__LINE__, k, garbage[j]);
		numeric_bad_at(__LINE__, k, "-1");
		/* Just below the minimum and just above the maximum. */
		snprintf(v, sizeof(v), "%.15g", k->kind == T_MS || k->kind == T_DOUBLE ? k->min - k->min / 2 - 0.0001
											  : k->min - 1);
		numeric_bad_at(__LINE__, k, v);
		snprintf(v, sizeof(v), "%.15g", k->kind == T_MS || k->kind == T_DOUBLE ? k->max * 1.001 : k->max + 1);
		numeric_bad_at(__LINE__, k, v);
		snprintf(v, sizeof(v), "%.15g", k->max * 1e6);
		numeric_bad_at(__LINE__, k, v);
		/* Whole-number keys take no fraction, even one in range. */
		if (k->kind == T_U32 || k->kind == T_SIZE) {
			snprintf(v, sizeof(v), "%.15g", k->min + 0.5);
			numeric_bad_at(__LINE__, k, v);
		}
	}
}

static void test_bad_number_messages_exact(void)
{
	LOAD_BAD_EXACT("[limits]\nmax_sessions = 0\n", 2,
		       "bad value for max_sessions in [limits]: expected a whole number from 1 to 10000000");
	LOAD_BAD_EXACT("[limits]\nmax_message_bytes = 100.5\n", 2,
		       "bad value for max_message_bytes in [limits]: expected a whole number from 1 to 60000");
	LOAD_BAD_EXACT("[timeouts]\nhead_s = soon\n", 2,
		       "bad value for head_s in [timeouts]: expected a number of seconds from 0.1 to 3600");
	LOAD_BAD_EXACT("[limits]\nrate_per_second = -5\n", 2,
		       "bad value for rate_per_second in [limits]: expected a number from 0.001 to 1000000000");
	LOAD_BAD_EXACT("[server]\nmax_connections = 15\n", 2,
		       "bad value for max_connections in [server]: expected a whole number from 16 to 10000000");
}

static void test_bad_bools_levels(void)
{
	static const char *const bad_bools[] = { "maybe", "2", "", "onn", "y", "enabled", "-1" };
	static const char *const bad_levels[] = { "verbose", "", "warn", "err", "6", "trace" };
	char text[128];

	for (size_t i = 0; i < sizeof(bad_bools) / sizeof(bad_bools[0]); i++) {
		snprintf(text, sizeof(text), "[status]\nhealthz = %s\n", bad_bools[i]);
		LOAD_BAD_EXACT(text, 2, "bad value for healthz in [status]: expected on or off");
		snprintf(text, sizeof(text), "[status]\nmetrics = %s\n", bad_bools[i]);
		LOAD_BAD_EXACT(text, 2, "bad value for metrics in [status]: expected on or off");
	}
	for (size_t i = 0; i < sizeof(bad_levels) / sizeof(bad_levels[0]); i++) {
		snprintf(text, sizeof(text), "[log]\nlevel = %s\n", bad_levels[i]);
		LOAD_BAD_EXACT(text, 2,
			       "bad value for level in [log]: expected error, warning, notice, info or debug");
	}
}

static void test_bad_long_strings(void)
{
	struct config c;
	char text[512], v[256];

	memset(v, 0, sizeof(v));
	memset(v, 'u', sizeof(c.user));
	snprintf(text, sizeof(text), "[server]\nuser = %s\n", v);
	LOAD_BAD_EXACT(text, 2, "bad value for user in [server]: expected a shorter value");
	snprintf(text, sizeof(text), "[control]\ngroup = %s\n", v);
	LOAD_BAD_EXACT(text, 2, "bad value for group in [control]: expected a shorter value");

	memset(v, 0, sizeof(v));
	memset(v, 's', sizeof(c.control_socket));
	v[0] = '/';
	snprintf(text, sizeof(text), "[control]\nsocket = %s\n", v);
	LOAD_BAD_EXACT(text, 2, "bad value for socket in [control]: expected a shorter value");

	/* A host name of 128 characters does not fit allowed_hosts[][128]. */
	memset(v, 0, sizeof(v));
	memset(v, 'h', sizeof(c.allowed_hosts[0]));
	snprintf(text, sizeof(text), "[server]\nallowed_hosts = localhost %s\n", v);
	LOAD_BAD(text, 2, "bad value for allowed_hosts in [server]", "at most 16");
}

static void test_bad_too_many(void)
{
	LOAD_BAD("[server]\nlisten = 127.0.0.1:1 127.0.0.1:2 127.0.0.1:3 127.0.0.1:4 127.0.0.1:5 127.0.0.1:6 "
		 "127.0.0.1:7 127.0.0.1:8 127.0.0.1:9\n",
		 2, "bad value for listen in [server]", "at most 8");
	LOAD_BAD("[server]\nallowed_hosts = a b c d e f g h i j k l m n o p q\n", 2,
		 "bad value for allowed_hosts in [server]", "at most 16");
	LOAD_BAD("[status]\nallow = 10.0.0.1 10.0.0.2 10.0.0.3 10.0.0.4 10.0.0.5 10.0.0.6 10.0.0.7 10.0.0.8 "
		 "10.0.0.9 10.0.0.10 10.0.0.11 10.0.0.12 10.0.0.13 10.0.0.14 10.0.0.15 10.0.0.16 10.0.0.17\n",
		 2, "bad value for allow in [status]", "at most 16");
}

static void test_bad_listen(void)
{
	static const char *const bad[] = {
		"8808",		    /* no port separator */
		":8808",	    /* no address */
		"127.0.0.1:",	    /* no port */
		"localhost",	    /* no port */
		"127.0.0.1:1 :2",   /* one good, one bad */
		"",		    /* an empty list: the daemon would serve nothing */
		",, ,",		    /* only separators */
	};
	char text[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "[server]\nlisten = %s\n", bad[i]);
		LOAD_BAD_EXACT(text, 2, "bad value for listen in [server]: expected ADDR:PORT words such as "
					"127.0.0.1:8808 [::1]:8808 (at most 8)");
	}
	/* 64 characters do not fit listen[][64]. */
	LOAD_BAD("[server]\nlisten = [0000:0000:0000:0000:0000:0000:0000:0001]:8808000000000000000000000\n", 2,
		 "bad value for listen in [server]");
}

/* Addresses that --check-config passes but server.c's listen_on() (getaddrinfo with
 * AI_NUMERICHOST | AI_NUMERICSERV) rejects at start: config_add_listen() promises -EINVAL
 * for a malformed address. */
static void test_bad_listen_port(void)
{
	static const char *const bad[] = {
		"127.0.0.1:http",  /* not a number */
		"127.0.0.1:65536", /* not a port */
		"127.0.0.1:-1",	   /* not a port */
		"[::1]",	   /* no port: the ':' found is inside the address */
		"[::1]:",	   /* no port */
	};
	char text[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "[server]\nlisten = %s\n", bad[i]);
		LOAD_BAD(text, 2, "bad value for listen in [server]");
	}
}

static void test_bad_nets(void)
{
	static const char *const bad[] = {
		"10.0.0.0/33", "::1/129",	 "10.0.0.0/abc", "10.0.0.0/8.5", "10.0.0.0/",	"10.0.0.0/-1",
		"garbage",     "1.2.3.4.5",	 "256.0.0.1",	 "::1::2",	 "10.0.0.0/8/8", "fe80::1%lo",
		"::1/200",     "127.0.0.1 nope",
	};
	char text[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "[status]\nallow = %s\n", bad[i]);
		LOAD_BAD_EXACT(text, 2, "bad value for allow in [status]: expected addresses or networks such as "
					"127.0.0.0/8 ::1 10.0.0.0/8 (at most 16)");
	}
}

static void test_bad_structure(void)
{
	LOAD_BAD_EXACT("[limits]\nmax_session = 5\n", 2, "unknown key max_session in [limits] (see mcp-chatd(8))");
	/* A known key in the wrong section is unknown there. */
	LOAD_BAD_EXACT("[server]\nmax_sessions = 5\n", 2, "unknown key max_sessions in [server] (see mcp-chatd(8))");
	/* Keys are case-sensitive. */
	LOAD_BAD_EXACT("[limits]\nMax_Sessions = 5\n", 2, "unknown key Max_Sessions in [limits] (see mcp-chatd(8))");
	/* Unknown section: its first key is reported. */
	LOAD_BAD_EXACT("[limit]\nmax_sessions = 5\n", 2, "unknown key max_sessions in [limit] (see mcp-chatd(8))");
	/* A key before any section. */
	LOAD_BAD_EXACT("max_sessions = 5\n", 1, "unknown key max_sessions in [] (see mcp-chatd(8))");
	/* Neither a section nor key = value. */
	LOAD_BAD_EXACT("[limits]\njust some words\n", 2, "not a [section] or key = value line");
	LOAD_BAD_EXACT("[limits\nmax_sessions = 5\n", 1, "not a [section] or key = value line");
	LOAD_BAD_EXACT("[limits]\nmax_sessions\n", 2, "not a [section] or key = value line");
}

/* Every kind of error on line 7, after comments, blank lines and a good key. */
static void test_bad_line_number(void)
{
	static const char *const head = "; mcp-chat test\n"
					"# comment\n"
					"\n"
					"[limits]\n"
					"max_sessions = 10\n"
					"\n";
	static const struct {
		const char *line, *piece;
	} cases[] = {
		{ "max_sessions = ten\n", "bad value for max_sessions in [limits]" },
		{ "max_sessions = -3\n", "bad value for max_sessions in [limits]" },
		{ "max_head_bytes = 1023\n", "bad value for max_head_bytes in [limits]" },
		{ "mailbox_events = 4097\n", "bad value for mailbox_events in [limits]" },
		{ "max_message_bytes = 1.5\n", "bad value for max_message_bytes in [limits]" },
		{ "rate_burst = 0\n", "bad value for rate_burst in [limits]" },
		{ "bogus = 1\n", "unknown key bogus in [limits]" },
		{ "[bogus]\n", NULL }, /* see below: the key after it is line 8 */
		{ "this is not ini\n", "not a [section] or key = value line" },
		/* inih hands "=5" over as an empty key name: "unknown key  in [limits]". Only the
		 * line is checked here. */
		{ "=5\n", "" },
	};
	char text[1024];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (!cases[i].piece) {
			snprintf(text, sizeof(text), "%s%sx = 1\n", head, cases[i].line);
			LOAD_BAD(text, 8, "unknown key x in [bogus]");
			continue;
		}
		snprintf(text, sizeof(text), "%s%s; after\n[log]\nlevel = info\n", head, cases[i].line);
		LOAD_BAD(text, 7, cases[i].piece);
	}
	snprintf(text, sizeof(text), "%s[server]\nlisten = 1\n", head);
	LOAD_BAD(text, 8, "bad value for listen in [server]");
	snprintf(text, sizeof(text), "%s[status]\nallow = 10.0.0.0/33\n", head);
	LOAD_BAD(text, 8, "bad value for allow in [status]");
	snprintf(text, sizeof(text), "%s[status]\nhealthz = sometimes\n", head);
	LOAD_BAD(text, 8, "bad value for healthz in [status]");
	/* CRLF files count lines the same. */
	LOAD_BAD("; c\r\n\r\n[limits]\r\n\r\n# c\r\nmax_sessions = 1\r\nmailbox_events = 1\r\n", 7,
		 "bad value for mailbox_events in [limits]");
}

/* The header promises the error of the FIRST bad line. */
static void test_bad_first_error_wins(void)
{
	/* Two bad values: the first is reported. */
	LOAD_BAD("[limits]\nmax_sessions = 0\nmailbox_events = 1\n", 2, "max_sessions");
	LOAD_BAD("[limits]\nbogus = 1\n[status]\nhealthz = maybe\n", 2, "unknown key bogus");
	/* A syntax error before a bad value: the syntax error is the first bad line. */
	LOAD_BAD("[limits]\nthis is not ini\nmax_sessions = 0\n", 2, "not a [section] or key = value line");
	LOAD_BAD("[limits]\nthis is not ini\nbogus = 1\n", 2, "not a [section] or key = value line");
}

static void test_missing_file(void)
{
	struct config c, want;
	char path[256], err[512];
	int rc;

	temp_path(path, sizeof(path), "missing");
	strcat(path, "-does-not-exist.conf");
	poison(&c);
	want = c;
	err[0] = '\0';
	rc = config_load(&c, path, err, sizeof(err));
	CHECK(rc == -ENOENT, "rc %d, want -ENOENT", rc);
	CHECK(strstr(err, path) != NULL, "error \"%s\" does not name %s", err, path);
	CHECK(strncmp(err, path, strlen(path)) == 0, "error \"%s\" does not begin with the path", err);
	CHECK(strstr(err, strerror(ENOENT)) != NULL, "error \"%s\" does not say \"%s\"", err, strerror(ENOENT));
	/* The config is untouched. */
	CHECK_CONFIG_EQUAL(&c, &want, false);

	/* A small error buffer is truncated, not overrun. */
	{
		char small[8];

		memset(small, 'X', sizeof(small));
		rc = config_load(&c, path, small, sizeof(small));
		CHECK(rc == -ENOENT, "rc %d, want -ENOENT", rc);
		CHECK(memchr(small, '\0', sizeof(small)) != NULL, "small error buffer not terminated");
	}
}

/* A path that opens but cannot be read (a directory) is an error, not an empty config. */
static void test_unreadable_file(void)
{
	struct config c;
	char dir[256], err[512];
	int rc;

	temp_path(dir, sizeof(dir), "dir");
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	config_defaults(&c);
	err[0] = '\0';
	rc = config_load(&c, dir, err, sizeof(err));
	CHECK(rc < 0, "config_load of directory %s returned %d (err \"%s\"), want -EISDIR", dir, rc, err);
	CHECK(rc == -EISDIR, "config_load of a directory returned %d, want -EISDIR (%d)", rc, -EISDIR);
	CHECK(strstr(err, dir) != NULL, "error \"%s\" does not name %s", err, dir);
	rmdir(dir);
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
		{ "bad: numbers", test_bad_numbers },
		{ "bad: number messages exact", test_bad_number_messages_exact },
		{ "bad: bools and levels", test_bad_bools_levels },
		{ "bad: strings too long", test_bad_long_strings },
		{ "bad: too many list entries", test_bad_too_many },
		{ "bad: listen addresses", test_bad_listen },
		{ "bad: listen ports", test_bad_listen_port },
		{ "bad: CIDR nets", test_bad_nets },
		{ "bad: unknown keys, sections, syntax", test_bad_structure },
		{ "bad: line numbers", test_bad_line_number },
		{ "bad: first error wins", test_bad_first_error_wins },
		{ "missing file", test_missing_file },
		{ "unreadable file (directory)", test_unreadable_file },
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
		{ "config", tests, NULL, NULL, NULL, NULL },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};

	return unit_main(suites);
}
