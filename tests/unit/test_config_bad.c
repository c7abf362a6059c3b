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
 * numeric keys they share): what the loader refuses (every kind of
 * bad value, structure), the error positions and messages, missing and unreadable files. */

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

static const char *kind_words(enum tkind kind)
{
	return kind == T_MS ? "a number of seconds" : kind == T_DOUBLE ? "a number" : "a whole number";
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
		snprintf(text, sizeof(text), "[web]\nenabled = %s\n", bad_bools[i]);
		LOAD_BAD_EXACT(text, 2, "bad value for enabled in [web]: expected on or off");
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

int main(void)
{
	static const struct unit_test tests[] = {
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
		{ NULL, NULL },
	};
	static const struct unit_suite suites[] = {
		{ "config_bad", tests, NULL, NULL, NULL, NULL },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};

	return unit_main(suites);
}
