#ifndef MCPCHAT_TESTS_CONFIG_HARNESS_H
#define MCPCHAT_TESTS_CONFIG_HARNESS_H

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

/* What the test_config*.c suites share (header-only, like unit.h): assertions with formatted
 * messages, loading a config from text in a temp file (LOAD_OK, LOAD_BAD, LOAD_BAD_EXACT),
 * addresses for the allow-list, a config where every field differs from the defaults, the
 * table of numeric keys. */

/* Assertions with a formatted message, so a failure shows the actual values. */

__attribute__((format(printf, 3, 4))) static inline void check_at(int ok, unsigned line, const char *fmt, ...)
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

static inline void temp_path(char *path, size_t len, const char *what)
{
	const char *dir = getenv("TMPDIR");

	snprintf(path, len, "%s/mcpchat-test-config-%s-XXXXXX", dir && *dir ? dir : "/tmp", what);
}

/* Writes text into a new temporary file and puts its name in path. */
static inline void write_temp(char *path, size_t len, const char *text)
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
static inline int load_text(struct config *cfg, const char *text, char *path, size_t pathlen, char *err, size_t errlen)
{
	int rc;

	write_temp(path, pathlen, text);
	err[0] = '\0';
	rc = config_load(cfg, path, err, errlen);
	unlink(path);
	return rc;
}

/* text must load over the defaults without error; the result is in *cfg. */
static inline void load_ok_at(unsigned line, struct config *cfg, const char *text)
{
	char path[256], err[512];
	int rc;

	config_defaults(cfg);
	rc = load_text(cfg, text, path, sizeof(path), err, sizeof(err));
	check_at(rc == 0, line, "config_load of <<%s>> returned %d (%s)", text, rc, err);
}
#define LOAD_OK(cfg, text) load_ok_at(__LINE__, (cfg), (text))

/* Socket addresses */

static inline struct sockaddr_in sa4(const char *a)
{
	struct sockaddr_in s;

	memset(&s, 0, sizeof(s));
	s.sin_family = AF_INET;
	s.sin_port = htons(40000);
	CU_ASSERT_FATAL(inet_pton(AF_INET, a, &s.sin_addr) == 1);
	return s;
}

static inline struct sockaddr_in6 sa6(const char *a)
{
	struct sockaddr_in6 s;

	memset(&s, 0, sizeof(s));
	s.sin6_family = AF_INET6;
	s.sin6_port = htons(40000);
	CU_ASSERT_FATAL(inet_pton(AF_INET6, a, &s.sin6_addr) == 1);
	return s;
}

static inline bool allowed4(const struct config *cfg, const char *a)
{
	struct sockaddr_in s = sa4(a);

	return config_status_allowed(cfg, &s);
}

static inline bool allowed6(const struct config *cfg, const char *a)
{
	struct sockaddr_in6 s = sa6(a);

	return config_status_allowed(cfg, &s);
}

/* A config where every field differs from the defaults. */
static inline void poison(struct config *c)
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
static inline void check_config_equal_at(unsigned line, const struct config *a, const struct config *b,
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

#endif
