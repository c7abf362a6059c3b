#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mcpchat/ctl_proto.h>

#include "unit.h"

/* Decodes line (as a C string) and checks the error code and a part of the message. */
static void expect_refused(const char *line, const char *want_code, const char *want_msg)
{
	struct ctl_request req = { .cmd = CTL_STATUS, .args = NULL };
	const char *code = NULL, *msg = NULL;
	int rc = ctl_request_decode(line, strlen(line), &req, &code, &msg);

	CU_ASSERT(rc < 0);
	CU_ASSERT_PTR_NULL(req.args);
	CU_ASSERT_PTR_NOT_NULL_FATAL(code);
	CU_ASSERT_PTR_NOT_NULL_FATAL(msg);
	if (strcmp(code, want_code) != 0 || !strstr(msg, want_msg))
		fprintf(stderr, "\n  %s\n  -> %s: %s (wanted %s: ...%s...)\n", line, code, msg, want_code,
			want_msg);
	CU_ASSERT_STRING_EQUAL(code, want_code);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, want_msg));
}

static void expect_accepted(const char *line, enum ctl_cmd want)
{
	struct ctl_request req;
	const char *code = NULL, *msg = NULL;
	int rc = ctl_request_decode(line, strlen(line), &req, &code, &msg);

	if (rc != 0)
		fprintf(stderr, "\n  %s\n  -> %s: %s\n", line, code, msg);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_EQUAL(req.cmd, want);
	CU_ASSERT(cJSON_IsObject(req.args));
	ctl_request_free(&req);
}

/* encode(cmd, args) then decode: the same command and equal args ({} for NULL). */
static void round_trip(enum ctl_cmd cmd, const char *args_json)
{
	cJSON *args = args_json ? cJSON_Parse(args_json) : NULL;
	cJSON *empty = cJSON_CreateObject();
	struct ctl_request req;
	const char *code = NULL, *msg = NULL;
	char *line;
	size_t n;

	CU_ASSERT_FATAL(!args_json || args);
	line = ctl_request_encode(cmd, args);
	CU_ASSERT_PTR_NOT_NULL_FATAL(line);
	n = strlen(line);
	CU_ASSERT(n > 0 && line[n - 1] == '\n');
	CU_ASSERT_PTR_NULL(memchr(line, '\n', n - 1)); /* exactly one line */
	CU_ASSERT_EQUAL_FATAL(ctl_request_decode(line, n, &req, &code, &msg), 0);
	CU_ASSERT_EQUAL(req.cmd, cmd);
	CU_ASSERT(cJSON_Compare(req.args, args ? args : empty, true));
	ctl_request_free(&req);
	/* Without its newline, too. */
	CU_ASSERT_EQUAL_FATAL(ctl_request_decode(line, n - 1, &req, &code, &msg), 0);
	CU_ASSERT_EQUAL(req.cmd, cmd);
	ctl_request_free(&req);
	free(line);
	cJSON_Delete(args);
	cJSON_Delete(empty);
}

/* Commands */

static void test_cmd_names(void)
{
	for (int i = 0; i < CTL_CMD_COUNT; i++) {
		CU_ASSERT_PTR_NOT_NULL_FATAL(ctl_cmd_name((enum ctl_cmd)i));
		CU_ASSERT_EQUAL(ctl_cmd_parse(ctl_cmd_name((enum ctl_cmd)i)), i);
	}
	CU_ASSERT_STRING_EQUAL(ctl_cmd_name(CTL_KICK), "kick");
	CU_ASSERT_PTR_NULL(ctl_cmd_name(CTL_CMD_COUNT));
	CU_ASSERT_PTR_NULL(ctl_cmd_name((enum ctl_cmd)-1));
	CU_ASSERT_EQUAL(ctl_cmd_parse("Status"), -1);
	CU_ASSERT_EQUAL(ctl_cmd_parse(""), -1);
	CU_ASSERT_EQUAL(ctl_cmd_parse(NULL), -1);
}

static void test_round_trip_plain(void)
{
	round_trip(CTL_STATUS, NULL);
	round_trip(CTL_QUEUES, NULL);
	round_trip(CTL_ROOMS, NULL);
	round_trip(CTL_SESSIONS, NULL);
	round_trip(CTL_STATS, NULL);
	round_trip(CTL_RELOAD, NULL);
	round_trip(CTL_NODES, NULL);
	round_trip(CTL_STATUS, "{}");
}

/* reload: the exact line mcpchatctl sends, its name, and both kinds of answer. */
static void test_reload(void)
{
	static const char want_line[] = "{\"cmd\":\"reload\"}\n";
	static const char err_line[] =
		"{\"ok\":false,\"error\":{\"code\":\"reload_failed\",\"message\":\"/etc/mcp-chat/"
		"mcp-chat.conf:28: bad value for max_sessions in [limits]; the running configuration is "
		"kept\"}}\n";
	cJSON *data = cJSON_Parse("{\"file\":\"/etc/mcp-chat/mcp-chat.conf\","
				  "\"restart_needed\":[\"[server] listen\",\"[control] group\"]}");
	struct ctl_response res;
	char *line = ctl_request_encode(CTL_RELOAD, NULL);

	CU_ASSERT_PTR_NOT_NULL_FATAL(line);
	CU_ASSERT_STRING_EQUAL(line, want_line);
	free(line);
	CU_ASSERT_STRING_EQUAL(ctl_cmd_name(CTL_RELOAD), "reload");
	CU_ASSERT_EQUAL(ctl_cmd_parse("reload"), CTL_RELOAD);
	expect_accepted("{\"cmd\":\"reload\",\"args\":{}}", CTL_RELOAD);

	line = ctl_response_ok(data);
	CU_ASSERT_PTR_NOT_NULL_FATAL(line);
	CU_ASSERT_EQUAL_FATAL(ctl_response_decode(line, strlen(line), &res), 0);
	CU_ASSERT(res.ok && cJSON_Compare(res.data, data, true));
	ctl_response_free(&res);
	free(line);
	cJSON_Delete(data);

	CU_ASSERT_EQUAL_FATAL(ctl_response_decode(err_line, strlen(err_line), &res), 0);
	CU_ASSERT(!res.ok);
	CU_ASSERT_STRING_EQUAL(res.code, "reload_failed");
	CU_ASSERT_PTR_NOT_NULL(strstr(res.message, "mcp-chat.conf:28: "));
	ctl_response_free(&res);
	line = ctl_response_error("no_config", "mcp-chatd was started without a configuration file");
	CU_ASSERT_PTR_NOT_NULL_FATAL(line);
	CU_ASSERT_EQUAL_FATAL(ctl_response_decode(line, strlen(line), &res), 0);
	CU_ASSERT(!res.ok && strcmp(res.code, "no_config") == 0);
	ctl_response_free(&res);
	free(line);
}

static void test_round_trip_kick(void)
{
	round_trip(CTL_KICK, "{\"target\":\"h7Kq2\"}");
	round_trip(CTL_KICK, "{\"target\":\"room-abc\",\"reason\":\"spam and \\\"abuse\\\" \\\\o/\"}");
	round_trip(CTL_KICK, "{\"target\":\"h7Kq2\",\"reason\":\"\"}");
	round_trip(CTL_KICK, "{\"target\":\"caf\xc3\xa9\",\"reason\":\"r\xc3\xa8gle \xe2\x82\xac\"}");
}

static void test_round_trip_notify(void)
{
	round_trip(CTL_NOTIFY, "{\"target\":\"h7Kq2\",\"method\":\"admin.notice\"}");
	round_trip(CTL_NOTIFY, "{\"all\":true,\"method\":\"admin.notice\",\"params\":{\"text\":\"bye\","
			       "\"n\":[1,2.5,null,false],\"deep\":{\"a\":{}}}}");
	round_trip(CTL_NOTIFY, "{\"target\":\"h7Kq2\",\"all\":false,\"method\":\"m\",\"params\":{}}");
}

static void test_encode_refuses(void)
{
	cJSON *arr = cJSON_CreateArray();

	CU_ASSERT_PTR_NULL(ctl_request_encode(CTL_CMD_COUNT, NULL));
	CU_ASSERT_PTR_NULL(ctl_request_encode(CTL_STATUS, arr));
	cJSON_Delete(arr);
}

static void test_accepts_variants(void)
{
	expect_accepted("{\"cmd\":\"status\"}", CTL_STATUS);
	expect_accepted("{\"cmd\":\"status\"}\n", CTL_STATUS);
	expect_accepted("{\"cmd\":\"status\"}\r\n", CTL_STATUS);
	expect_accepted("  { \"args\" : {} , \"cmd\" : \"rooms\" }  \n", CTL_ROOMS);
	expect_accepted("{\"cmd\":\"kick\",\"args\":{\"target\":\"a\\\\u0000\"}}", CTL_KICK);
}

/* Malformed requests */

static void test_bad_envelope(void)
{
	expect_refused("not json", "bad_request", "request is not valid JSON");
	expect_refused("{\"cmd\":\"status\"", "bad_request", "request is not valid JSON");
	expect_refused("{\"cmd\":\"status\"} {}", "bad_request", "request is not valid JSON");
	expect_refused("", "bad_request", "empty");
	expect_refused("  \n", "bad_request", "empty");
	expect_refused("[\"status\"]", "bad_request", "must be a JSON object");
	expect_refused("\"status\"", "bad_request", "must be a JSON object");
	expect_refused("42", "bad_request", "must be a JSON object");
	expect_refused("null", "bad_request", "must be a JSON object");
	expect_refused("{}", "bad_request", "request needs \"cmd\"");
	expect_refused("{\"args\":{}}", "bad_request", "request needs \"cmd\"");
	expect_refused("{\"cmd\":7}", "bad_request", "\"cmd\" must be a string");
	expect_refused("{\"cmd\":null}", "bad_request", "\"cmd\" must be a string");
	expect_refused("{\"cmd\":[\"status\"]}", "bad_request", "\"cmd\" must be a string");
	expect_refused("{\"cmd\":\"status\",\"cmd\":\"kick\"}", "bad_request", "at most once");
	expect_refused("{\"cmd\":\"status\",\"extra\":1}", "bad_request", "only \"cmd\" and \"args\"");
	expect_refused("{\"cmd\":\"status\",\"args\":[]}", "bad_request", "\"args\" must be an object");
	expect_refused("{\"cmd\":\"status\",\"args\":null}", "bad_request", "\"args\" must be an object");
	expect_refused("{\"cmd\":\"status\",\"args\":\"x\"}", "bad_request", "\"args\" must be an object");
	expect_refused("{\"cmd\":\"st\\u0000atus\"}", "bad_request", "\\u0000");
}

static void test_embedded_nul(void)
{
	static const char line[] = "{\"cmd\":\"status\"}\0garbage";
	struct ctl_request req;
	const char *code = NULL, *msg = NULL;

	CU_ASSERT(ctl_request_decode(line, sizeof(line) - 1, &req, &code, &msg) < 0);
	CU_ASSERT_STRING_EQUAL(code, "bad_request");
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "NUL"));
}

static void test_unknown_command(void)
{
	char long_name[200];

	expect_refused("{\"cmd\":\"foo\"}", "unknown_command",
		       "unknown command \"foo\"; try status, queues, rooms, sessions, kick, notify, stats, reload or nodes");
	expect_refused("{\"cmd\":\"STATUS\"}", "unknown_command", "unknown command \"STATUS\"");
	expect_refused("{\"cmd\":\"\"}", "unknown_command", "unknown command \"\"");
	/* The echoed name is printable and bounded. */
	expect_refused("{\"cmd\":\"a\\u001b[31mb\"}", "unknown_command", "unknown command \"a?[31mb\"");
	snprintf(long_name, sizeof(long_name), "{\"cmd\":\"%0150d\"}", 7);
	expect_refused(long_name, "unknown_command", "00000000...\"");
}

/* queues, rooms, sessions: an optional bool "cluster", nothing else, once. */
static void test_cluster_listings(void)
{
	static const char *const cmds[] = { "queues", "rooms", "sessions" };
	static const enum ctl_cmd want[] = { CTL_QUEUES, CTL_ROOMS, CTL_SESSIONS };
	char line[160], msg[80];

	for (int i = 0; i < 3; i++) {
		snprintf(msg, sizeof(msg), "%s takes only \"cluster\" (true or false)", cmds[i]);
		snprintf(line, sizeof(line), "{\"cmd\":\"%s\",\"args\":{\"cluster\":true}}", cmds[i]);
		expect_accepted(line, want[i]);
		snprintf(line, sizeof(line), "{\"cmd\":\"%s\",\"args\":{\"cluster\":false}}", cmds[i]);
		expect_accepted(line, want[i]);
		snprintf(line, sizeof(line), "{\"cmd\":\"%s\",\"args\":{}}", cmds[i]);
		expect_accepted(line, want[i]);
		snprintf(line, sizeof(line), "{\"cmd\":\"%s\",\"args\":{\"cluster\":1}}", cmds[i]);
		expect_refused(line, "bad_arguments", msg);
		snprintf(line, sizeof(line), "{\"cmd\":\"%s\",\"args\":{\"cluster\":\"yes\"}}", cmds[i]);
		expect_refused(line, "bad_arguments", msg);
		snprintf(line, sizeof(line), "{\"cmd\":\"%s\",\"args\":{\"cluster\":true,\"cluster\":true}}", cmds[i]);
		expect_refused(line, "bad_arguments", msg);
		snprintf(line, sizeof(line), "{\"cmd\":\"%s\",\"args\":{\"cluster\":true,\"all\":true}}", cmds[i]);
		expect_refused(line, "bad_arguments", msg);
	}
	expect_refused("{\"cmd\":\"status\",\"args\":{\"cluster\":true}}", "bad_arguments",
		       "status takes no arguments");
}

static void test_no_args_commands(void)
{
	expect_refused("{\"cmd\":\"status\",\"args\":{\"x\":1}}", "bad_arguments", "status takes no arguments");
	expect_refused("{\"cmd\":\"queues\",\"args\":{\"x\":1}}", "bad_arguments",
		       "queues takes only \"cluster\" (true or false)");
	expect_refused("{\"cmd\":\"rooms\",\"args\":{\"x\":1}}", "bad_arguments",
		       "rooms takes only \"cluster\" (true or false)");
	expect_refused("{\"cmd\":\"sessions\",\"args\":{\"x\":1}}", "bad_arguments",
		       "sessions takes only \"cluster\" (true or false)");
	expect_refused("{\"cmd\":\"stats\",\"args\":{\"x\":1}}", "bad_arguments", "stats takes no arguments");
	expect_refused("{\"cmd\":\"reload\",\"args\":{\"file\":\"/etc/passwd\"}}", "bad_arguments",
		       "reload takes no arguments");
	expect_refused("{\"cmd\":\"nodes\",\"args\":{\"cluster\":true}}", "bad_arguments",
		       "nodes takes no arguments");
	expect_accepted("{\"cmd\":\"nodes\"}", CTL_NODES);
	CU_ASSERT_STRING_EQUAL(ctl_cmd_name(CTL_NODES), "nodes");
	expect_refused("{\"cmd\":\"Reload\"}", "unknown_command", "unknown command \"Reload\"");
}

static void test_bad_kick(void)
{
	char line[512];

	expect_refused("{\"cmd\":\"kick\"}", "bad_arguments", "kick needs \"target\" (a handle or room id)");
	expect_refused("{\"cmd\":\"kick\",\"args\":{}}", "bad_arguments", "kick needs \"target\"");
	expect_refused("{\"cmd\":\"kick\",\"args\":{\"target\":5}}", "bad_arguments", "kick needs \"target\"");
	expect_refused("{\"cmd\":\"kick\",\"args\":{\"target\":null}}", "bad_arguments", "kick needs \"target\"");
	expect_refused("{\"cmd\":\"kick\",\"args\":{\"target\":\"\"}}", "bad_arguments", "1 to 64 characters");
	snprintf(line, sizeof(line), "{\"cmd\":\"kick\",\"args\":{\"target\":\"%065d\"}}", 0);
	expect_refused(line, "bad_arguments", "1 to 64 characters");
	snprintf(line, sizeof(line), "{\"cmd\":\"kick\",\"args\":{\"target\":\"%064d\"}}", 0);
	expect_accepted(line, CTL_KICK);
	expect_refused("{\"cmd\":\"kick\",\"args\":{\"target\":\"a\\nb\"}}", "bad_arguments", "printable");
	/* Bytes that are not UTF-8 are refused for the whole line, whatever field holds them. */
	expect_refused("{\"cmd\":\"kick\",\"args\":{\"target\":\"a\xff\"}}", "bad_request", "UTF-8");
	expect_refused("{\"cmd\":\"notify\",\"args\":{\"all\":true,\"method\":\"x\",\"params\":{\"k\":\"\x81\"}}}",
		       "bad_request", "UTF-8");
	expect_refused("{\"cmd\":\"kick\",\"args\":{\"target\":\"a\",\"reason\":3}}", "bad_arguments",
		       "kick \"reason\" must be a string");
	expect_refused("{\"cmd\":\"kick\",\"args\":{\"target\":\"a\",\"reason\":\"x\\u001b[2J\"}}",
		       "bad_arguments", "control characters");
	expect_refused("{\"cmd\":\"kick\",\"args\":{\"target\":\"a\",\"reason\":\"two\\nlines\"}}",
		       "bad_arguments", "control characters");
	snprintf(line, sizeof(line), "{\"cmd\":\"kick\",\"args\":{\"target\":\"a\",\"reason\":\"%0201d\"}}", 0);
	expect_refused(line, "bad_arguments", "at most 200 characters");
	snprintf(line, sizeof(line), "{\"cmd\":\"kick\",\"args\":{\"target\":\"a\",\"reason\":\"%0200d\"}}", 0);
	expect_accepted(line, CTL_KICK);
	expect_refused("{\"cmd\":\"kick\",\"args\":{\"target\":\"a\",\"why\":\"x\"}}", "bad_arguments",
		       "kick takes only \"target\" and \"reason\"");
	expect_refused("{\"cmd\":\"kick\",\"args\":{\"target\":\"a\",\"target\":\"b\"}}", "bad_arguments",
		       "at most once");
}

static void test_kick_counts_characters(void)
{
	char line[512];
	size_t n = (size_t)snprintf(line, sizeof(line), "{\"cmd\":\"kick\",\"args\":{\"target\":\"");

	/* 64 two-byte characters are 128 bytes but 64 characters. */
	for (int i = 0; i < 64; i++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, "\xc3\xa9");
	snprintf(line + n, sizeof(line) - n, "\"}}");
	expect_accepted(line, CTL_KICK);
	expect_refused("{\"cmd\":\"kick\",\"args\":{\"target\":\"\xc0\xaf\"}}", "bad_request", "UTF-8");
	expect_refused("{\"cmd\":\"kick\",\"args\":{\"target\":\"\xed\xa0\x80\"}}", "bad_request", "UTF-8");
	expect_refused("{\"cmd\":\"kick\",\"args\":{\"target\":\"\xc2\x9b\"}}", "bad_arguments", "printable");
}

static void test_bad_notify(void)
{
	char line[512];

	expect_refused("{\"cmd\":\"notify\",\"args\":{\"method\":\"m\"}}", "bad_arguments",
		       "notify needs \"target\" (a handle) or \"all\": true");
	expect_refused("{\"cmd\":\"notify\",\"args\":{\"all\":false,\"method\":\"m\"}}", "bad_arguments",
		       "notify needs \"target\" (a handle) or \"all\": true");
	expect_refused("{\"cmd\":\"notify\",\"args\":{\"target\":\"a\",\"all\":true,\"method\":\"m\"}}",
		       "bad_arguments", "either \"target\" or \"all\": true, not both");
	expect_refused("{\"cmd\":\"notify\",\"args\":{\"all\":1,\"method\":\"m\"}}", "bad_arguments",
		       "\"all\" must be true or false");
	expect_refused("{\"cmd\":\"notify\",\"args\":{\"target\":1,\"method\":\"m\"}}", "bad_arguments",
		       "notify \"target\" must be a string");
	expect_refused("{\"cmd\":\"notify\",\"args\":{\"target\":\"\",\"method\":\"m\"}}", "bad_arguments",
		       "notify \"target\" must be 1 to 64 characters");
	expect_refused("{\"cmd\":\"notify\",\"args\":{\"target\":\"a\"}}", "bad_arguments",
		       "notify needs \"method\"");
	expect_refused("{\"cmd\":\"notify\",\"args\":{\"target\":\"a\",\"method\":7}}", "bad_arguments",
		       "notify needs \"method\"");
	expect_refused("{\"cmd\":\"notify\",\"args\":{\"target\":\"a\",\"method\":\"\"}}", "bad_arguments",
		       "1 to 128 characters");
	snprintf(line, sizeof(line), "{\"cmd\":\"notify\",\"args\":{\"all\":true,\"method\":\"%0129d\"}}", 0);
	expect_refused(line, "bad_arguments", "1 to 128 characters");
	snprintf(line, sizeof(line), "{\"cmd\":\"notify\",\"args\":{\"all\":true,\"method\":\"%0128d\"}}", 0);
	expect_accepted(line, CTL_NOTIFY);
	expect_refused("{\"cmd\":\"notify\",\"args\":{\"target\":\"a\",\"method\":\"m\\t\"}}", "bad_arguments",
		       "printable");
	expect_refused("{\"cmd\":\"notify\",\"args\":{\"target\":\"a\",\"method\":\"m\",\"params\":[1]}}",
		       "bad_arguments", "notify \"params\" must be an object");
	expect_refused("{\"cmd\":\"notify\",\"args\":{\"target\":\"a\",\"method\":\"m\",\"params\":null}}",
		       "bad_arguments", "notify \"params\" must be an object");
	expect_refused("{\"cmd\":\"notify\",\"args\":{\"target\":\"a\",\"method\":\"m\",\"x\":1}}",
		       "bad_arguments", "notify takes only");
}

/* The size limit */

/* A valid status request padded with spaces to total bytes; with or without the newline. */
static char *padded_request(size_t total, bool newline)
{
	static const char head[] = "{\"cmd\":\"status\"}";
	char *line = malloc(total + 1);

	CU_ASSERT_PTR_NOT_NULL_FATAL(line);
	memcpy(line, head, sizeof(head) - 1);
	memset(line + sizeof(head) - 1, ' ', total - (sizeof(head) - 1));
	if (newline)
		line[total - 1] = '\n';
	line[total] = '\0';
	return line;
}

static void test_too_large(void)
{
	struct ctl_request req;
	const char *code = NULL, *msg = NULL;
	char *line;

	line = padded_request(CTL_MAX_REQUEST + 1, true);
	CU_ASSERT_EQUAL(ctl_request_decode(line, CTL_MAX_REQUEST + 1, &req, &code, &msg), -EMSGSIZE);
	CU_ASSERT_STRING_EQUAL(code, "too_large");
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "64 KiB"));
	free(line);
	line = padded_request(CTL_MAX_REQUEST + 1, false);
	CU_ASSERT_EQUAL(ctl_request_decode(line, CTL_MAX_REQUEST + 1, &req, &code, &msg), -EMSGSIZE);
	CU_ASSERT_STRING_EQUAL(code, "too_large");
	free(line);
	/* Exactly the limit, newline included, is fine; without the newline it is one over. */
	line = padded_request(CTL_MAX_REQUEST, true);
	CU_ASSERT_EQUAL(ctl_request_decode(line, CTL_MAX_REQUEST, &req, &code, &msg), 0);
	ctl_request_free(&req);
	free(line);
	line = padded_request(CTL_MAX_REQUEST, false);
	CU_ASSERT_EQUAL(ctl_request_decode(line, CTL_MAX_REQUEST, &req, &code, &msg), -EMSGSIZE);
	free(line);
}

/* Responses */

static void test_response_ok(void)
{
	cJSON *data = cJSON_Parse("{\"sessions\":[{\"handle\":\"h1\",\"idle_s\":3,\"stream\":true}]}");
	struct ctl_response res;
	char *line;

	line = ctl_response_ok(data);
	CU_ASSERT_PTR_NOT_NULL_FATAL(line);
	CU_ASSERT_EQUAL(line[strlen(line) - 1], '\n');
	CU_ASSERT_EQUAL_FATAL(ctl_response_decode(line, strlen(line), &res), 0);
	CU_ASSERT(res.ok);
	CU_ASSERT(cJSON_Compare(res.data, data, true));
	CU_ASSERT_PTR_NULL(res.code);
	ctl_response_free(&res);
	CU_ASSERT_PTR_NULL(res.root);
	free(line);
	cJSON_Delete(data);

	line = ctl_response_ok(NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(line);
	CU_ASSERT_EQUAL_FATAL(ctl_response_decode(line, strlen(line) - 1, &res), 0);
	CU_ASSERT(res.ok && cJSON_IsObject(res.data) && !res.data->child);
	ctl_response_free(&res);
	free(line);
}

static void test_response_error(void)
{
	struct ctl_response res;
	char *line = ctl_response_error("not_found", "no session or room \"x\"\nsecond line");

	CU_ASSERT_PTR_NOT_NULL_FATAL(line);
	CU_ASSERT_PTR_NULL(memchr(line, '\n', strlen(line) - 1));
	CU_ASSERT_EQUAL_FATAL(ctl_response_decode(line, strlen(line), &res), 0);
	CU_ASSERT(!res.ok);
	CU_ASSERT_PTR_NULL(res.data);
	CU_ASSERT_STRING_EQUAL(res.code, "not_found");
	CU_ASSERT_STRING_EQUAL(res.message, "no session or room \"x\"\nsecond line");
	ctl_response_free(&res);
	free(line);
	CU_ASSERT_PTR_NULL(ctl_response_error(NULL, "m"));
	CU_ASSERT_PTR_NULL(ctl_response_error("", "m"));
	CU_ASSERT_PTR_NULL(ctl_response_error("internal", NULL));
}

static void test_response_ok_refuses_non_object(void)
{
	cJSON *arr = cJSON_CreateArray();

	CU_ASSERT_PTR_NULL(ctl_response_ok(arr));
	cJSON_Delete(arr);
}

static void test_bad_responses(void)
{
	static const char *const bad[] = {
		"",
		"\n",
		"garbage",
		"[]",
		"{}",
		"{\"ok\":1,\"data\":{}}",
		"{\"ok\":true}",
		"{\"ok\":true,\"data\":[]}",
		"{\"ok\":true,\"data\":{},\"error\":{\"code\":\"x\",\"message\":\"y\"}}",
		"{\"ok\":true,\"data\":{}} trailing",
		"{\"ok\":false}",
		"{\"ok\":false,\"error\":\"boom\"}",
		"{\"ok\":false,\"error\":{\"message\":\"m\"}}",
		"{\"ok\":false,\"error\":{\"code\":\"\",\"message\":\"m\"}}",
		"{\"ok\":false,\"error\":{\"code\":1,\"message\":\"m\"}}",
		"{\"ok\":false,\"error\":{\"code\":\"c\"}}",
		"{\"ok\":false,\"error\":{\"code\":\"c\",\"message\":\"m\"},\"data\":{}}",
	};
	static const char nul[] = "{\"ok\":true,\"data\":{}}\0x";
	struct ctl_response res;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = ctl_response_decode(bad[i], strlen(bad[i]), &res);

		if (rc != -EINVAL)
			fprintf(stderr, "\n  accepted: %s\n", bad[i]);
		CU_ASSERT_EQUAL(rc, -EINVAL);
		CU_ASSERT_PTR_NULL(res.root);
		CU_ASSERT_PTR_NULL(res.data);
	}
	CU_ASSERT_EQUAL(ctl_response_decode(nul, sizeof(nul) - 1, &res), -EINVAL);
	ctl_response_free(NULL);
}

/* The default socket path */

static char *saved_runtime, *saved_xdg;

static void save_env(const char *name, char **out)
{
	const char *v = getenv(name);

	*out = v ? strdup(v) : NULL;
}

static void restore_env(const char *name, char *v)
{
	if (v)
		setenv(name, v, 1);
	else
		unsetenv(name);
	free(v);
}

static int env_init(void)
{
	save_env("RUNTIME_DIRECTORY", &saved_runtime);
	save_env("XDG_RUNTIME_DIR", &saved_xdg);
	return 0;
}

static int env_clean(void)
{
	restore_env("RUNTIME_DIRECTORY", saved_runtime);
	restore_env("XDG_RUNTIME_DIR", saved_xdg);
	return 0;
}

static void expect_path(const char *want)
{
	char buf[108];

	CU_ASSERT_EQUAL_FATAL(ctl_default_socket_path(buf, sizeof(buf)), 0);
	CU_ASSERT_STRING_EQUAL(buf, want);
}

static void test_path_systemd(void)
{
	setenv("RUNTIME_DIRECTORY", "/run/mcp-chat", 1);
	setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
	expect_path("/run/mcp-chat/control.sock");
	/* systemd lists several directories with ':'; the first is ours. */
	setenv("RUNTIME_DIRECTORY", "/run/mcp-chat:/run/other", 1);
	expect_path("/run/mcp-chat/control.sock");
}

static void test_path_xdg(void)
{
	unsetenv("RUNTIME_DIRECTORY");
	setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
	expect_path("/run/user/1000/mcp-chat/control.sock");
	setenv("RUNTIME_DIRECTORY", "", 1); /* empty counts as unset */
	expect_path("/run/user/1000/mcp-chat/control.sock");
}

static void test_path_tmp(void)
{
	char want[108];

	snprintf(want, sizeof(want), "/tmp/mcp-chat-%u/control.sock", (unsigned)getuid());
	unsetenv("RUNTIME_DIRECTORY");
	unsetenv("XDG_RUNTIME_DIR");
	expect_path(want);
	setenv("XDG_RUNTIME_DIR", "", 1);
	expect_path(want);
	setenv("XDG_RUNTIME_DIR", "relative/dir", 1); /* not absolute: ignored */
	expect_path(want);
}

static void test_path_too_long(void)
{
	char big[300], buf[108], small[8];

	memset(big, 'd', sizeof(big) - 1);
	big[0] = '/';
	big[sizeof(big) - 1] = '\0';
	setenv("RUNTIME_DIRECTORY", big, 1);
	CU_ASSERT_EQUAL(ctl_default_socket_path(buf, sizeof(buf)), -ENAMETOOLONG);
	unsetenv("RUNTIME_DIRECTORY");
	setenv("XDG_RUNTIME_DIR", big, 1);
	CU_ASSERT_EQUAL(ctl_default_socket_path(buf, sizeof(buf)), -ENAMETOOLONG);
	unsetenv("XDG_RUNTIME_DIR");
	CU_ASSERT_EQUAL(ctl_default_socket_path(small, sizeof(small)), -ENAMETOOLONG);
	CU_ASSERT_EQUAL(ctl_default_socket_path(buf, 0), -ENAMETOOLONG);
	/* Exactly fitting (with its NUL) is fine; one byte less is not. */
	setenv("RUNTIME_DIRECTORY", "/r", 1);
	CU_ASSERT_EQUAL(ctl_default_socket_path(buf, sizeof("/r/control.sock")), 0);
	CU_ASSERT_EQUAL(ctl_default_socket_path(buf, sizeof("/r/control.sock") - 1), -ENAMETOOLONG);
}

/* Runner */

static const struct unit_test command_tests[] = {
	{ "names", test_cmd_names },
	{ "round trip: status, queues, rooms, sessions, stats, reload", test_round_trip_plain },
	{ "reload: request line and answers", test_reload },
	{ "round trip: kick", test_round_trip_kick },
	{ "round trip: notify", test_round_trip_notify },
	{ "encode refuses bad input", test_encode_refuses },
	{ "accepted variants", test_accepts_variants },
	{ NULL, NULL },
};

static const struct unit_test malformed_tests[] = {
	{ "envelope", test_bad_envelope },
	{ "embedded NUL", test_embedded_nul },
	{ "unknown command", test_unknown_command },
	{ "arguments to commands without any", test_no_args_commands },
	{ "queues, rooms, sessions: the cluster argument", test_cluster_listings },
	{ "kick arguments", test_bad_kick },
	{ "kick counts characters, not bytes", test_kick_counts_characters },
	{ "notify arguments", test_bad_notify },
	{ "size limit", test_too_large },
	{ NULL, NULL },
};

static const struct unit_test response_tests[] = {
	{ "ok round trip", test_response_ok },
	{ "error round trip", test_response_error },
	{ "ok refuses non-object data", test_response_ok_refuses_non_object },
	{ "malformed responses", test_bad_responses },
	{ NULL, NULL },
};

static const struct unit_test path_tests[] = {
	{ "RUNTIME_DIRECTORY", test_path_systemd },
	{ "XDG_RUNTIME_DIR", test_path_xdg },
	{ "/tmp fallback", test_path_tmp },
	{ "ENAMETOOLONG", test_path_too_long },
	{ NULL, NULL },
};

int main(void)
{
	static const struct unit_suite suites[] = {
		{ "commands", command_tests, NULL, NULL, NULL, NULL },
		{ "malformed requests", malformed_tests, NULL, NULL, NULL, NULL },
		{ "responses", response_tests, NULL, NULL, NULL, NULL },
		{ "socket path", path_tests, env_init, env_clean, NULL, NULL },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};

	return unit_main(suites);
}
