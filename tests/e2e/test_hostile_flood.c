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
 * they share). This file: clients that vanish mid-request, an initialize
 * flood up to the session cap, the soak across stream drops.
 *
 * Usage: test_hostile_flood [SUBSTRING]   runs only the tests whose name contains SUBSTRING. */

/* Closes a socket with a reset instead of a FIN. */
static void close_rst(struct hx_conn *c)
{
	struct linger lg = { 1, 0 };

	if (c->fd >= 0)
		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	hx_close(c);
}

enum drop { DROP_FIN, DROP_RST };

/* Ends our side: FIN (and waits up to 2 s for the daemon to close) or a reset. */
static void stream_drop(struct stream *s, enum drop how)
{
	if (s->c.fd >= 0) {
		if (how == DROP_FIN) {
			hx_shutdown_write(&s->c);
			hx_wait_closed(&s->c, 2000, NULL);
		} else {
			close_rst(&s->c);
		}
	}
	stream_free(s);
}

/* 3. Clients that vanish mid-request */

/* Connects, sends len bytes, and goes: FIN or reset. */
static int vanish(int port, const char *data, size_t len, enum drop how)
{
	struct hx_conn c;
	int rc = hx_connect(&c, port);

	if (rc < 0)
		return rc;
	rc = hx_send(&c, data, len);
	if (how == DROP_RST)
		close_rst(&c);
	else
		hx_close(&c);
	return rc;
}

/* POSTs a wait_for_message that will wait, reads the response head, then vanishes. */
static int vanish_during_wait(int port, const char *sid, enum drop how)
{
	struct hx_conn c;
	struct hx_response r = { 0 };
	char *req = hx_post_request(sid, NULL,
				    "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":"
				    "{\"name\":\"wait_for_message\",\"arguments\":{\"timeout_s\":30}}}");
	int rc = req ? hx_connect(&c, port) : -ENOMEM;

	if (rc < 0) {
		free(req);
		return rc;
	}
	rc = hx_send_str(&c, req);
	free(req);
	if (rc == 0)
		rc = hx_read_head(&c, &r, HX_TIMEOUT_MS);
	if (rc == 0 && (r.status != 200 || !r.chunked))
		rc = -EPROTO;
	hx_response_free(&r);
	if (how == DROP_RST)
		close_rst(&c);
	else
		hx_close(&c);
	return rc;
}

static void test_vanishing_clients(void)
{
	static const char half_head[] = "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: appl";
	struct dmn x = { .running = false };
	struct stream sa = { .c.fd = -1 }, sd = { .c.fd = -1 };
	struct hx_conn ca = { .fd = -1 };
	char a[HX_SID_MAX], b[HX_SID_MAX], c[HX_SID_MAX], c2[HX_SID_MAX], d[HX_SID_MAX],
		d2[HX_SID_MAX], id[64], err[32], *half_body = NULL, *init = NULL, *list = NULL;
	double lat[20], v;
	struct tres t;
	struct sev ev;
	int fails = 0, conflicts = 0;

	REQUIRE(dmn_start(&x, NULL, NULL, NULL, NULL) == 0);
	REQUIRE(make_pair(x.d.port, "normal", a, b));
	REQUIRE(make_pair(x.d.port, "poll-room", c, c2));
	REQUIRE(make_pair(x.d.port, "push-room", d, d2));
	/* B reads its stream throughout (as sa: the normal pair's receiver). */
	REQUIRE(stream_open(&sa, x.d.port, b, false, 0, 0) == 200);

	REQUIRE(asprintf(&half_body, "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n"
				     "Accept: application/json, text/event-stream\r\n"
				     "Content-Type: application/json\r\nMcp-Session-Id: %s\r\n"
				     "Content-Length: 200\r\n\r\n{\"jsonrpc\":\"2.0\",\"id\":1,\"met", a) > 0);
	init = hx_post_request(NULL, NULL,
			       "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
			       "\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},"
			       "\"clientInfo\":{\"name\":\"gone\",\"version\":\"1\"}}}");
	list = hx_post_request(a, NULL, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}");
	REQUIRE(init && list);

	for (int i = 0; i < 40; i++) {
		enum drop how = i % 2 ? DROP_RST : DROP_FIN;

		fails += vanish(x.d.port, half_head, sizeof(half_head) - 1, how) < 0;
		fails += vanish(x.d.port, half_body, strlen(half_body), how) < 0;
		/* A whole request, gone before its answer: the daemon writes to a dead socket. */
		fails += vanish(x.d.port, init, strlen(init), how) < 0;
		fails += vanish(x.d.port, list, strlen(list), how) < 0;
	}
	CHECKF(fails == 0, "%d connections could not even be made", fails);

	/* wait_for_message long polls abandoned mid-wait (after C has read chatroom.found). */
	CU_ASSERT(tool(NULL, x.d.port, c, "wait_for_message", "{\"timeout_s\":0}", &t) == 0);
	tres_free(&t);
	for (int i = 0; i < 10; i++)
		CU_ASSERT(vanish_during_wait(x.d.port, c, i % 2 ? DROP_RST : DROP_FIN) == 0);
	v = metric_until(x.d.port, "mcpchat_waiting_calls", at_most, 0, 3000);
	CHECKF(v == 0, "%.0f wait_for_message calls still held", v);
	/* The long-poll's session works, and a message after the vanishings reaches it. */
	CU_ASSERT(tool(NULL, x.d.port, c, "get_status", "{}", &t) == 0 && !t.is_error &&
		  str_of(t.sc, "state") && strcmp(str_of(t.sc, "state"), "in_room") == 0);
	tres_free(&t);
	CU_ASSERT(send_msg(NULL, x.d.port, c2, "poll-room", "after the vanishing", id, err) == 0);
	CU_ASSERT(tool(NULL, x.d.port, c, "wait_for_message", "{\"timeout_s\":5}", &t) == 0);
	{
		const cJSON *evs = cJSON_GetObjectItemCaseSensitive(t.sc, "events"), *e;
		bool found = false;

		cJSON_ArrayForEach(e, evs) {
			const cJSON *p = cJSON_GetObjectItemCaseSensitive(e, "params");
			const char *m = str_of(p, "message_id");

			found |= m && strcmp(m, id) == 0;
		}
		CHECKF(found, "the message sent after the abandoned long polls did not reach them");
	}
	tres_free(&t);

	/* Push streams abandoned (FIN, then reset): each time the session may open a new one. */
	for (int i = 0; i < 10; i++) {
		int st = stream_reopen(&sd, x.d.port, d, false, 0, &conflicts);

		CHECKF(st == 200, "push stream %d answered %d", i, st);
		if (i % 2)
			close_rst(&sd.c);
		else
			hx_close(&sd.c);
		stream_free(&sd);
	}
	v = metric_until(x.d.port, "mcpchat_push_streams", at_most, 1, 3000);
	CHECKF(v == 1, "%.0f push streams open (only the normal pair's should be)", v);
	CU_ASSERT(stream_reopen(&sd, x.d.port, d, false, 0, &conflicts) == 200);
	CU_ASSERT(send_msg(NULL, x.d.port, d2, "push-room", "to the reopened stream", id, err) == 0);
	if (stream_until(&sd, "message.received", &ev, 5000) == 1) {
		const char *m = str_of(ev.params, "message_id");

		CU_ASSERT(m && strcmp(m, id) == 0);
		sev_free(&ev);
	} else {
		CU_FAIL("the reopened push stream got no message");
	}
	printf("\n    vanishing: %d reopened streams answered 409 first\n    ", conflicts);

	/* The normal pair still chats; a new client is served; the connections are gone. */
	CU_ASSERT(chat_round(x.d.port, &ca, a, "normal", &sa, 20, lat, "normal") == 20);
	CU_ASSERT(hx_serves_normal_client(x.d.port));
	v = metric_until(x.d.port, "mcpchat_connections", at_most, 4, 5000);
	CHECKF(at_most(v, 4), "%.0f connections still open", v);
out:
	free(half_body);
	free(init);
	free(list);
	hx_close(&ca);
	stream_free(&sa);
	stream_free(&sd);
	if (x.running)
		STOP_OK(&x);
	free(x.log);
}

/* 4. Initialize flood up to the session cap */

#define CAP 200
#define FLOOD 220

static void test_initialize_flood(void)
{
	static const char *const args[] = { "--max-sessions", "200", NULL };
	struct dmn x = { .running = false };
	struct hx_conn *c = calloc(FLOOD, sizeof(*c));
	char (*sids)[HX_SID_MAX] = calloc(FLOOD, HX_SID_MAX), *init = NULL, sid[HX_SID_MAX];
	int ok = 0, busy = 0, other = 0, busy_checked = 0;
	struct hx_response r;

	REQUIRE(c && sids);
	for (int i = 0; i < FLOOD; i++)
		c[i].fd = -1;
	REQUIRE(dmn_start(&x, NULL, NULL, NULL, args) == 0);
	init = hx_post_request(NULL, NULL,
			       "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
			       "\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},"
			       "\"clientInfo\":{\"name\":\"flood\",\"version\":\"1\"}}}");
	REQUIRE(init);
	/* All at once: every request is on the wire before any answer is read. */
	for (int i = 0; i < FLOOD; i++) {
		REQUIRE(hx_connect(&c[i], x.d.port) == 0);
		REQUIRE(hx_send_str(&c[i], init) == 0);
	}
	for (int i = 0; i < FLOOD; i++) {
		char ra[32] = "";
		cJSON *j;

		if (hx_read_response(&c[i], &r, HX_TIMEOUT_MS) < 0) {
			other++;
			continue;
		}
		if (r.status == 200 && hx_header(&r, "Mcp-Session-Id", sids[ok], HX_SID_MAX)) {
			ok++;
		} else if (r.status == 503) {
			busy++;
			j = hx_json(&r);
			CHECKF(hx_header(&r, "Retry-After", ra, sizeof(ra)) && atoi(ra) > 0,
			       "503 without a usable Retry-After");
			CHECKF(!hx_header(&r, "Mcp-Session-Id", sid, sizeof(sid)),
			       "a refused initialize got a session id");
			CHECKF(j && str_of(j, "jsonrpc") && strcmp(str_of(j, "jsonrpc"), "2.0") == 0 &&
				       hx_rpc_code(&r) < 0 &&
				       str_of(cJSON_GetObjectItemCaseSensitive(j, "error"), "message"),
			       "503 body is not a JSON-RPC error: %s", r.body ? r.body : "(none)");
			if (!busy_checked++)
				printf("\n    flood: the 503 says Retry-After: %s, %s", ra, r.body);
			cJSON_Delete(j);
		} else {
			other++;
		}
		hx_response_free(&r);
	}
	printf("\n    flood: %d initializes at once: %d sessions, %d refused 503, %d other\n    ",
	       FLOOD, ok, busy, other);
	CU_ASSERT_EQUAL(ok, CAP);
	CU_ASSERT_EQUAL(busy, FLOOD - CAP);
	CU_ASSERT_EQUAL(other, 0);
	CU_ASSERT_EQUAL(metric(x.d.port, "mcpchat_sessions"), CAP);

	/* One more, one at a time: still refused. */
	CU_ASSERT(hx_post(x.d.port, NULL, strstr(init, "\r\n\r\n") + 4, &r) == 0 && r.status == 503);
	hx_response_free(&r);
	/* DELETE one: now there is room for exactly one. */
	REQUIRE(ok > 0);
	CU_ASSERT_EQUAL(delete_session(x.d.port, sids[0]), 200);
	CU_ASSERT_EQUAL(ping_status(x.d.port, sids[0]), 404);
	CU_ASSERT(hx_initialize(x.d.port, NULL, sid, sizeof(sid)) == 0);
	CU_ASSERT_EQUAL(ping_status(x.d.port, sid), 200);
	CU_ASSERT(hx_post(x.d.port, NULL, strstr(init, "\r\n\r\n") + 4, &r) == 0 && r.status == 503);
	hx_response_free(&r);
	/* The sessions that got in all work. */
	{
		int working = 0;

		for (int i = 1; i < ok; i++)
			working += ping_status(x.d.port, sids[i]) == 200;
		CU_ASSERT_EQUAL(working, ok - 1);
	}
out:
	for (int i = 0; c && i < FLOOD; i++)
		hx_close(&c[i]);
	if (x.running)
		STOP_OK(&x);
	free(x.log);
	free(c);
	free(sids);
	free(init);
}

/* 5. Soak: 10 000 messages across 1 000 stream drops */

#define SOAK_N 10000
#define SOAK_EVERY 10

/* How far A may run ahead of what B has read: inside the replay window the contract promises
 * (the last 256 events), since events in B's socket buffers count as delivered. */
#define SOAK_LEAD 200

static void test_soak(void)
{
	static const char *const args[] = { "--rate", "1000000", "--burst", "1000000", NULL };
	struct dmn x = { .running = false };
	struct stream sb = { .c.fd = -1 };
	struct hx_conn ca = { .fd = -1 };
	char a[HX_SID_MAX], b[HX_SID_MAX], (*ids)[64] = calloc(SOAK_N, 64);
	int n_sent = 0, got = 0, since = 0, drops = 0, fin = 0, rst = 0, conflicts = 0;
	int full = 0, limited = 0, bad = 0, ends = 0, stalls = 0, unread_drops = 0;
	unsigned rnd = 1;
	uint64_t last;
	long long t0 = hx_now_ms(), deadline = t0 + 75000;
	struct sev ev;

	REQUIRE(ids);
	REQUIRE(dmn_start(&x, NULL, NULL, NULL, args) == 0);
	REQUIRE(make_pair(x.d.port, "soak-room", a, b));
	REQUIRE(stream_open(&sb, x.d.port, b, false, 0, 0) == 200);
	REQUIRE(stream_until(&sb, "chatroom.found", &ev, 5000) == 1);
	sev_free(&ev);
	last = sb.last_id;

	while (got < SOAK_N && hx_now_ms() < deadline && bad < 5) {
		/* A sends a burst of 1..60, staying at most SOAK_LEAD ahead of what B has read. */
		int burst = 1 + (int)((rnd = rnd * 1103515245u + 12345u) >> 16) % 60;

		if (burst > SOAK_LEAD - (n_sent - got))
			burst = SOAK_LEAD - (n_sent - got);

		for (int k = 0; k < burst && n_sent < SOAK_N; k++) {
			char text[32], err[32];

			snprintf(text, sizeof(text), "soak-%05d", n_sent);
			if (send_msg(&ca, x.d.port, a, "soak-room", text, ids[n_sent], err) == 0) {
				n_sent++;
			} else if (strcmp(err, "mailbox_full") == 0) {
				full++; /* retried after B has read */
				break;
			} else if (strcmp(err, "rate_limited") == 0) {
				limited++;
				break;
			} else {
				printf("\n    soak: send %d failed: %s", n_sent, err);
				bad++;
				break;
			}
		}
		/* B reads until it has caught up or has read SOAK_EVERY messages on this stream;
		 * then the stream is dropped, whatever else is already in its socket. */
		while (got < n_sent) {
			int rc = stream_next(&sb, &ev, 5000);

			if (rc == 0) { /* the daemon ended the stream: resume */
				ends++;
				stream_free(&sb);
				if (stream_reopen(&sb, x.d.port, b, true, last, &conflicts) != 200) {
					bad++;
					break;
				}
				continue;
			}
			if (rc < 0) {
				printf("\n    soak: stalled at message %d of %d (%d)", got, n_sent, rc);
				stalls++;
				bad++;
				break;
			}
			if (ev.id <= last) {
				if (bad++ < 3)
					printf("\n    soak: event id %llu after %llu",
					       (unsigned long long)ev.id, (unsigned long long)last);
			}
			last = ev.id;
			if (ev.method && strcmp(ev.method, "message.received") == 0) {
				const char *mid = str_of(ev.params, "message_id");

				if (!mid || strcmp(mid, ids[got]) != 0) {
					if (bad++ < 3)
						printf("\n    soak: message %d: expected %s, got %s", got,
						       ids[got], mid ? mid : "-");
				}
				got++;
				since++;
			}
			sev_free(&ev);
			if (since == SOAK_EVERY) {
				enum drop how = drops % 2 ? DROP_RST : DROP_FIN;

				since = 0;
				drops++;
				if (sb.c.len || sb.dlen || got < n_sent)
					unread_drops++;
				if (how == DROP_RST)
					rst++;
				else
					fin++;
				stream_drop(&sb, how);
				if (stream_reopen(&sb, x.d.port, b, true, last, &conflicts) != 200) {
					printf("\n    soak: resume after drop %d refused", drops);
					bad++;
				}
				break;
			}
		}
	}
	printf("\n    soak: %d of %d messages sent and received in order in %lld ms; %d stream drops "
	       "(%d FIN, %d RST; %d with messages sent but not yet read), %d resumes answered 409 "
	       "first, %d mailbox_full retried, %d rate_limited, %d streams ended by the daemon\n    ",
	       got, n_sent, hx_now_ms() - t0, drops, fin, rst, unread_drops, conflicts, full,
	       limited, ends);
	CHECKF(n_sent == SOAK_N, "only %d of %d sent", n_sent, SOAK_N);
	CHECKF(got == n_sent, "%d of %d received", got, n_sent);
	CHECKF(bad == 0, "%d errors (order, duplicates, refusals, stalls %d)", bad, stalls);
	CU_ASSERT(drops >= SOAK_N / SOAK_EVERY - 1);
	/* Nothing after the last. */
	if (sb.c.fd >= 0 && stream_next(&sb, &ev, 300) == 1) {
		CHECKF(!ev.method || strcmp(ev.method, "message.received") != 0,
		       "a message after the last one sent");
		sev_free(&ev);
	}
out:
	hx_close(&ca);
	stream_free(&sb);
	if (x.running)
		STOP_OK(&x);
	free(x.log);
	free(ids);
}

static const struct unit_test tests[] = {
	{ "clients that vanish mid-request", test_vanishing_clients },
	{ "initialize flood up to the session cap", test_initialize_flood },
	{ "soak: 10000 messages across 1000 stream drops", test_soak },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	static const struct unit_suite suites[] = {
		{ "e2e_hostile_flood", tests, hx_suite_init, NULL, NULL, teardown },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};

	setvbuf(stdout, NULL, _IOLBF, 0);
	return unit_main_only(suites, argc > 1 ? argv[1] : NULL);
}
