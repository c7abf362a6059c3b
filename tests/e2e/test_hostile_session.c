#include <CUnit/Basic.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "hostile.h"
#include "unit.h"

/* Hostile clients against the built mcp-chatd (hostile.h has the daemons, requests and streams
 * they share). This file: session safety (ids, handles, isolation, the
 * log), graceful shutdown and restart on the same port.
 *
 * Usage: test_hostile_session [SUBSTRING]   runs only the tests whose name contains SUBSTRING. */

/* 6. Session safety */

static bool id_shape_ok(const char *id)
{
	size_t n = strlen(id);

	if (n != 32)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = id[i];

		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		      ch == '-' || ch == '_'))
			return false;
	}
	return true;
}

/* One command to the control socket: the parsed answer line, or NULL. */
static cJSON *ctl_query(const char *path, const char *cmd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[65536];
	size_t len = 0;
	long long deadline = hx_now_ms() + 5000;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cJSON *j = NULL;

	if (fd < 0)
		return NULL;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    write(fd, cmd, strlen(cmd)) != (ssize_t)strlen(cmd) || write(fd, "\n", 1) != 1)
		goto out;
	while (len < sizeof(buf) - 1 && !memchr(buf, '\n', len)) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int left = (int)(deadline - hx_now_ms());
		ssize_t n;

		if (left <= 0 || poll(&p, 1, left) <= 0)
			goto out;
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	j = cJSON_Parse(buf);
out:
	close(fd);
	return j;
}

/* Every event of a wait_for_message(after 0, timeout 0) for sid, as one JSON text. */
static char *all_events_text(int port, const char *sid)
{
	struct tres t;
	char *text = NULL;

	if (tool(NULL, port, sid, "wait_for_message", "{\"timeout_s\":0,\"after\":0}", &t) == 0)
		text = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(t.sc, "events"));
	tres_free(&t);
	return text;
}

#define N_SAFE 4

static void test_session_safety(void)
{
	static const char *const args[] = { "--log-level", "debug", NULL };
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	struct dmn x = { .running = false };
	struct stream sa = { .c.fd = -1 }, sb = { .c.fd = -1 }, sm = { .c.fd = -1 };
	char sid[N_SAFE][HX_SID_MAX]; /* A, B (a pair), C, D (idle) */
	char secret[32], to_a[3][64], to_b[3][64], id[64], err[32], *text = NULL;
	unsigned char rnd[6];
	cJSON *ans = NULL;
	const cJSON *s;
	int handles = 0, got_a = 0, got_b = 0, mutated_ok = 0, leaks = 0;
	struct sev ev;
	FILE *ur = fopen("/dev/urandom", "r");

	REQUIRE(ur && fread(rnd, 1, sizeof(rnd), ur) == sizeof(rnd));
	snprintf(secret, sizeof(secret), "%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3],
		 rnd[4], rnd[5]);
	for (int i = 0; i < 3; i++) {
		snprintf(to_a[i], sizeof(to_a[i]), "Quokka-lantern-%s-%d", secret, i);
		snprintf(to_b[i], sizeof(to_b[i]), "Okapi-harbour-%s-%d", secret, i);
	}
	REQUIRE(dmn_start(&x, NULL, NULL, NULL, args) == 0);
	REQUIRE(make_pair(x.d.port, "safe-room", sid[0], sid[1]));
	for (int i = 2; i < N_SAFE; i++)
		REQUIRE(hx_initialize(x.d.port, NULL, sid[i], HX_SID_MAX) == 0);
	for (int i = 0; i < N_SAFE; i++) {
		CHECKF(id_shape_ok(sid[i]), "session id '%s' is not 32 base64url characters", sid[i]);
		for (int k = 0; k < i; k++)
			CU_ASSERT(strcmp(sid[i], sid[k]) != 0);
	}

	/* A and B talk, each on its own stream. */
	REQUIRE(stream_open(&sa, x.d.port, sid[0], false, 0, 0) == 200);
	REQUIRE(stream_open(&sb, x.d.port, sid[1], false, 0, 0) == 200);
	for (int i = 0; i < 3; i++) {
		CU_ASSERT(send_msg(NULL, x.d.port, sid[1], "safe-room", to_a[i], id, err) == 0);
		CU_ASSERT(send_msg(NULL, x.d.port, sid[0], "safe-room", to_b[i], id, err) == 0);
	}
	/* Each stream carries its own session's events and nothing of the other's. */
	for (struct stream *st = &sa; st; st = st == &sa ? &sb : NULL) {
		int *got = st == &sa ? &got_a : &got_b;
		char (*mine)[64] = st == &sa ? to_a : to_b, (*theirs)[64] = st == &sa ? to_b : to_a;

		while (*got < 3 && stream_next(st, &ev, 3000) == 1) {
			char *j = cJSON_PrintUnformatted(ev.msg);

			for (int i = 0; j && i < 3; i++) {
				CHECKF(!strstr(j, theirs[i]), "%s's stream shows '%s'",
				       st == &sa ? "A" : "B", theirs[i]);
				*got += strstr(j, mine[i]) != NULL;
			}
			for (int i = 0; j && i < N_SAFE; i++)
				CHECKF(!strstr(j, sid[i]), "an event shows a session id: %s", j);
			cJSON_free(j);
			sev_free(&ev);
		}
	}
	CU_ASSERT_EQUAL(got_a, 3);
	CU_ASSERT_EQUAL(got_b, 3);
	/* wait_for_message from the start: B's never shows A's messages, C's and D's are empty. */
	for (int i = 0; i < N_SAFE; i++) {
		text = all_events_text(x.d.port, sid[i]);
		REQUIRE(text);
		for (int k = 0; k < 3; k++) {
			CHECKF(i == 0 || !strstr(text, to_a[k]), "session %d reads A's message", i);
			CHECKF(i == 1 || !strstr(text, to_b[k]), "session %d reads B's message", i);
		}
		if (i >= 2)
			CHECKF(strcmp(text, "[]") == 0, "an idle session reads events: %s", text);
		for (int k = 0; k < N_SAFE; k++)
			CHECKF(!strstr(text, sid[k]), "events show a session id");
		free(text);
		text = NULL;
	}

	/* Ids one character away, truncated, extended or case-flipped: 404, and A unharmed. */
	for (int i = 0; i < 32; i++) {
		char m[HX_SID_MAX];
		const char *p;

		snprintf(m, sizeof(m), "%s", sid[0]);
		p = strchr(b64, m[i]);
		m[i] = b64[p ? ((p - b64) + 1 + i) % 64 : 0];
		if (ping_status(x.d.port, m) == 404 &&
		    stream_open(&sm, x.d.port, m, false, 0, 0) == 404 && delete_session(x.d.port, m) == 404)
			mutated_ok++;
		stream_free(&sm);
	}
	CHECKF(mutated_ok == 32, "only %d of 32 one-character changes were refused with 404", mutated_ok);
	{
		char m[HX_SID_MAX * 2];

		snprintf(m, sizeof(m), "%.31s", sid[0]);
		CU_ASSERT_EQUAL(ping_status(x.d.port, m), 404);
		snprintf(m, sizeof(m), "%sA", sid[0]);
		CU_ASSERT_EQUAL(ping_status(x.d.port, m), 404);
		snprintf(m, sizeof(m), "%s", sid[0]);
		for (char *q = m; *q; q++)
			if (*q >= 'a' && *q <= 'z')
				*q = (char)(*q - 32);
			else if (*q >= 'A' && *q <= 'Z')
				*q = (char)(*q + 32);
		if (strcmp(m, sid[0]) != 0)
			CU_ASSERT_EQUAL(ping_status(x.d.port, m), 404);
	}
	CU_ASSERT_EQUAL(ping_status(x.d.port, sid[0]), 200);

	/* Admin handles are not session ids. */
	ans = ctl_query(x.sock, "{\"cmd\":\"sessions\"}");
	REQUIRE(ans && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ans, "ok")));
	cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(
				      cJSON_GetObjectItemCaseSensitive(ans, "data"), "sessions")) {
		const char *h = str_of(s, "handle");

		if (!h)
			continue;
		handles++;
		CHECKF(ping_status(x.d.port, h) == 404, "handle %s works as a session id", h);
		CHECKF(stream_open(&sm, x.d.port, h, false, 0, 0) == 404, "handle %s opens a stream", h);
		stream_free(&sm);
		for (int i = 0; i < N_SAFE; i++)
			CU_ASSERT(!strstr(sid[i], h));
	}
	CU_ASSERT_EQUAL(handles, N_SAFE);
	text = cJSON_PrintUnformatted(ans);
	for (int i = 0; text && i < N_SAFE; i++)
		CHECKF(!strstr(text, sid[i]), "the control socket shows a session id");
	cJSON_free(text);
	text = NULL;
	cJSON_Delete(ans);
	ans = NULL;
	/* Nor does /metrics show one. */
	{
		static const char req[] = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
		struct hx_response r;

		if (hx_roundtrip(x.d.port, req, sizeof(req) - 1, &r) == 0 && r.body)
			for (int i = 0; i < N_SAFE; i++)
				CU_ASSERT(!strstr(r.body, sid[i]));
		hx_response_free(&r);
	}
	/* One more message after all that, then end one session by DELETE. */
	CU_ASSERT(send_msg(NULL, x.d.port, sid[1], "safe-room", "Final-wombat-message", id, err) == 0);
	CU_ASSERT_EQUAL(delete_session(x.d.port, sid[2]), 200);
	stream_free(&sa);
	stream_free(&sb);

	/* The debug log names no message and no session id. */
	REQUIRE(dmn_stop(&x, false) == 0);
	REQUIRE(x.log);
	CHECKF(strstr(x.log, "session") != NULL, "the debug log is empty: the check proves nothing");
	for (int i = 0; i < 3; i++) {
		leaks += strstr(x.log, to_a[i]) != NULL;
		leaks += strstr(x.log, to_b[i]) != NULL;
	}
	leaks += strstr(x.log, secret) != NULL;
	leaks += strstr(x.log, "Final-wombat-message") != NULL;
	CHECKF(leaks == 0, "%d message texts in the debug log", leaks);
	for (int i = 0; i < N_SAFE; i++)
		CHECKF(!strstr(x.log, sid[i]), "session id %d (%s) in the debug log", i, sid[i]);
	{
		size_t lines = 0;

		for (const char *p = x.log; *p; p++)
			lines += *p == '\n';
		printf("\n    safety: %zu debug log lines checked, %d handles, 32 one-character "
		       "variants refused\n    ", lines, handles);
	}
out:
	if (ur)
		fclose(ur);
	cJSON_Delete(ans);
	free(text);
	stream_free(&sa);
	stream_free(&sb);
	stream_free(&sm);
	if (x.running)
		STOP_OK(&x);
	free(x.log);
}

/* 7. Graceful shutdown and restart */

static void test_shutdown_restart(void)
{
	struct dmn x = { .running = false }, y = { .running = false };
	struct stream st[4];
	char sid[4][HX_SID_MAX], listen[64], sock[108];
	bool told[4] = { false }, ended[4] = { false }, before_end[4] = { false };
	long long t0;
	int rc, port;

	memset(&y, 0, sizeof(y));
	for (int i = 0; i < 4; i++) {
		memset(&st[i], 0, sizeof(st[i]));
		st[i].c.fd = -1;
	}
	REQUIRE(dmn_start(&x, NULL, NULL, NULL, NULL) == 0);
	port = x.d.port;
	snprintf(sock, sizeof(sock), "%s", x.sock);
	REQUIRE(make_pair(x.d.port, "bye-1", sid[0], sid[1]));
	REQUIRE(make_pair(x.d.port, "bye-2", sid[2], sid[3]));
	for (int i = 0; i < 4; i++) {
		struct sev ev;

		REQUIRE(stream_open(&st[i], x.d.port, sid[i], false, 0, 0) == 200);
		REQUIRE(stream_until(&st[i], "chatroom.found", &ev, 5000) == 1);
		sev_free(&ev);
	}

	/* SIGTERM, then read every stream to its end. */
	t0 = hx_now_ms();
	REQUIRE(kill(x.d.pid, SIGTERM) == 0);
	for (int i = 0; i < 4; i++) {
		struct sev ev;

		while ((rc = stream_next(&st[i], &ev, 6000)) == 1) {
			if (ev.method && strcmp(ev.method, "partner.disconnected") == 0) {
				const char *why = str_of(ev.params, "reason");

				CHECKF(why && strcmp(why, "disconnected") == 0, "reason %s", why ? why : "-");
				told[i] = true;
			}
			sev_free(&ev);
		}
		ended[i] = rc == 0;
		before_end[i] = told[i] && ended[i];
	}
	rc = dmn_stop(&x, true);
	printf("\n    shutdown: exit status %d after %lld ms; partner.disconnected seen by %d%d %d%d "
	       "(pair 1, pair 2); streams ended by %s",
	       rc, hx_now_ms() - t0, told[0], told[1], told[2], told[3],
	       st[0].term ? "chunked terminator" : "close");
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(hx_now_ms() - t0 < 5000);
	for (int i = 0; i < 4; i++)
		CHECKF(ended[i], "stream %d did not end", i);
	/* In each pair the one still connected when the other's session ended is told. */
	CHECKF(before_end[0] || before_end[1], "nobody in pair 1 was told before the stream ended");
	CHECKF(before_end[2] || before_end[3], "nobody in pair 2 was told before the stream ended");

	/* At once, a new daemon on the same port and control socket path. */
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	t0 = hx_now_ms();
	rc = dmn_start(&y, listen, sock, NULL, NULL);
	CHECKF(rc == 0, "restart on port %d failed: %s", port, strerror(-rc));
	REQUIRE(rc == 0);
	CU_ASSERT_EQUAL(y.d.port, port);
	CU_ASSERT(hx_serves_normal_client(y.d.port));
	printf("\n    restart: serving on the same port %lld ms after the old daemon exited\n    ",
	       hx_now_ms() - t0);
	{
		cJSON *ans = ctl_query(y.sock, "{\"cmd\":\"status\"}");

		CHECKF(ans && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ans, "ok")),
		       "the new daemon's control socket does not answer");
		cJSON_Delete(ans);
	}
out:
	for (int i = 0; i < 4; i++)
		stream_free(&st[i]);
	if (x.running)
		STOP_OK(&x);
	if (y.running)
		STOP_OK(&y);
	free(x.log);
	free(y.log);
}

static const struct unit_test tests[] = {
	{ "session safety: ids, handles, isolation, log", test_session_safety },
	{ "graceful shutdown, restart on the same port", test_shutdown_restart },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	static const struct unit_suite suites[] = {
		{ "e2e_hostile_session", tests, hx_suite_init, NULL, NULL, teardown },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};

	setvbuf(stdout, NULL, _IOLBF, 0);
	return unit_main_only(suites, argc > 1 ? argv[1] : NULL);
}
