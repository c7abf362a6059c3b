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
 * they share). This file: clients that stall: slowloris heads, push
 * streams that never read.
 *
 * Usage: test_hostile_slow [SUBSTRING]   runs only the tests whose name contains SUBSTRING. */

static bool at_least(double v, double min)
{
	return v >= min;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	if (n <= 0)
		return 0;
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double percentile(double *v, int n, double p) /* v sorted */
{
	int i = (int)(p * (n - 1) + 0.5);

	return n > 0 ? v[i] : 0;
}

/* 1. Slowloris */

#define SLOW_CONNS 10000
#define SLOW_PROCS 2
#define CHAT_N 200
#define CHAT_PACE_MS 25 /* 200 messages over 5 s: through two head-timeout cycles */

static volatile sig_atomic_t slow_stop;

static void on_usr1(int sig)
{
	(void)sig;
	slow_stop = 1;
}

static void slow_open(struct pollfd *p, unsigned char *st, int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	p->fd = -1;
	p->revents = 0;
	*st = 0;
	if (fd < 0)
		return;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
		close(fd);
		return;
	}
	p->fd = fd;
	p->events = POLLOUT;
}

/* Holds n connections that each sent half a request head; reopens those the daemon closes
 * until SIGUSR1, then holds what it has (never closing) until killed. */
static void slowloris_child(int port, int n)
{
	static const char half[] = "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n"
				   "Accept: application/json, text/event-stream\r\nContent-Ty";
	struct sigaction sa = { .sa_handler = on_usr1 };
	struct pollfd *p = calloc((size_t)n, sizeof(*p));
	unsigned char *st = calloc((size_t)n, 1);
	struct rlimit rl;
	int opened = 0;
	long long next_batch = hx_now_ms();

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	sigaction(SIGUSR1, &sa, NULL);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (!p || !st)
		_exit(1);
	for (int i = 0; i < n; i++)
		p[i].fd = -1;
	while (!slow_stop) {
		/* The first connections are spread over one head timeout (20 batches in 2 s), so
		 * the daemon's timeouts and the reconnections that follow are spread too. */
		if (opened < n && hx_now_ms() >= next_batch) {
			for (int i = opened; i < n && i < opened + n / 20 + 1; i++)
				slow_open(&p[i], &st[i], port);
			opened += n / 20 + 1;
			next_batch += 100;
		}
		if (poll(p, (nfds_t)n, opened < n ? 20 : 200) <= 0)
			continue;
		for (int i = 0; i < n && !slow_stop; i++) {
			short re = p[i].revents;

			if (!re || p[i].fd < 0)
				continue;
			if (st[i] == 0) {
				if (re & (POLLERR | POLLHUP) ||
				    send(p[i].fd, half, sizeof(half) - 1, MSG_NOSIGNAL) < 0) {
					close(p[i].fd);
					slow_open(&p[i], &st[i], port);
					continue;
				}
				st[i] = 1;
				p[i].events = POLLIN;
			} else {
				char buf[1024];
				ssize_t r = recv(p[i].fd, buf, sizeof(buf), 0);

				if (r > 0 || (r < 0 && (errno == EAGAIN || errno == EINTR)))
					continue; /* the 408; the close follows */
				close(p[i].fd);
				slow_open(&p[i], &st[i], port);
			}
		}
	}
	for (;;)
		pause();
}

static void test_slowloris(void)
{
	static const char *const args[] = { "--rate", "100000", "--burst", "100000", NULL };
	struct dmn x = { .running = false };
	struct stream sb = { .c.fd = -1 };
	struct hx_conn ca = { .fd = -1 };
	char a[HX_SID_MAX], b[HX_SID_MAX];
	double *quiet = calloc(CHAT_N, sizeof(double)), *attack = calloc(CHAT_N, sizeof(double));
	double conns, peak = 0, lowest = 0;
	int nq = 0, na = 0, started = 0;
	long long t0;

	REQUIRE(quiet && attack);
	REQUIRE(dmn_start(&x, NULL, NULL, "[timeouts]\nhead_s = 2\n", args) == 0);
	REQUIRE(make_pair(x.d.port, "slow-room", a, b));
	REQUIRE(stream_open(&sb, x.d.port, b, false, 0, 0) == 200);

	/* A quiet baseline first. */
	nq = chat_round_paced(x.d.port, &ca, a, "slow-room", &sb, CHAT_N, quiet, "quiet",
			      CHAT_PACE_MS);
	CHECKF(nq == CHAT_N, "%d of %d quiet messages delivered in order", nq, CHAT_N);

	/* The attack: SLOW_PROCS processes hold SLOW_CONNS half-sent heads between them. */
	for (int i = 0; i < SLOW_PROCS; i++) {
		pid_t pid = fork();

		if (pid == 0) {
			slowloris_child(x.d.port, SLOW_CONNS / SLOW_PROCS);
			_exit(0);
		}
		REQUIRE(pid > 0);
		children[i] = pid;
		started++;
	}
	t0 = hx_now_ms();
	conns = metric_until(x.d.port, "mcpchat_connections", at_least, SLOW_CONNS * 0.95, 30000);
	lowest = conns;
	printf("\n    slowloris: %.0f connections open in the daemon after %lld ms", conns,
	       hx_now_ms() - t0);
	CHECKF(conns >= SLOW_CONNS * 0.95, "only %.0f stalled connections reached the daemon", conns);
	peak = conns;

	/* The pair keeps chatting through it, over 5 s in which the daemon times out the
	 * stalled heads and the attackers reconnect; a new client is served too. */
	for (int part = 0; part < 5 && na == part * (CHAT_N / 5); part++) {
		char tag[16];
		double v = metric(x.d.port, "mcpchat_connections");

		lowest = part == 0 || v < lowest ? v : lowest;
		snprintf(tag, sizeof(tag), "attack%d", part);
		na += chat_round_paced(x.d.port, &ca, a, "slow-room", &sb, CHAT_N / 5, attack + na, tag,
				       CHAT_PACE_MS);
	}
	CHECKF(na == CHAT_N, "%d of %d messages delivered in order during the attack", na, CHAT_N);
	CU_ASSERT(hx_serves_normal_client(x.d.port));
	conns = metric(x.d.port, "mcpchat_connections");
	if (conns < lowest)
		lowest = conns;
	printf("\n    slowloris: %.0f connections open after the chat under attack (at least %.0f "
	       "throughout); %.0f accepted in all", conns, lowest,
	       metric(x.d.port, "mcpchat_connections_accepted_total"));
	if (conns > peak)
		peak = conns;

	/* The attackers stop reconnecting but keep their sockets: the daemon frees its side
	 * after the 2 s head timeout. */
	for (int i = 0; i < started; i++)
		kill(children[i], SIGUSR1);
	t0 = hx_now_ms();
	conns = metric_until(x.d.port, "mcpchat_connections", at_most, 8, 15000);
	printf("\n    slowloris: %.0f connections left %lld ms after the attackers stopped reconnecting",
	       conns, hx_now_ms() - t0);
	CHECKF(at_most(conns, 8), "the daemon still holds %.0f connections", conns);
	reap_children();

	if (nq > 0 && na > 0) {
		double mq = median(quiet, nq), ma = median(attack, na);

		printf("\n    latency send->receive, %d messages each: quiet median %.3f ms (p99 %.3f, "
		       "max %.3f), under %d stalled connections median %.3f ms (p99 %.3f, max %.3f), "
		       "median ratio %.2f\n    ",
		       CHAT_N, mq, percentile(quiet, nq, 0.99), quiet[nq - 1], (int)peak, ma,
		       percentile(attack, na, 0.99), attack[na - 1], mq > 0 ? ma / mq : 0);
	}
	/* Still chatting after the attack. */
	CU_ASSERT(chat_round(x.d.port, &ca, a, "slow-room", &sb, 10, quiet, "after") == 10);
out:
	reap_children();
	hx_close(&ca);
	stream_free(&sb);
	if (x.running)
		STOP_OK(&x);
	free(x.log);
	free(quiet);
	free(attack);
}

/* 2. A push stream that never reads */

/* B's stream is read up to chatroom.found and then never again, while A sends n messages of
 * len bytes. A's sends must succeed or be refused mailbox_full; the daemon must drop the
 * stream (its 16 KiB send queue stays full: no byte moves for a keep-alive interval, here
 * 1 s); and B, resuming from the last event it read, must get every accepted message in
 * order, exactly once. */
static void deaf_stream(int n_sends, int len)
{
	static const char *const args[] = { "--rate", "100000", "--burst", "100000", NULL };
	struct dmn x = { .running = false };
	struct stream sb = { .c.fd = -1 };
	struct hx_conn ca = { .fd = -1 };
	char a[HX_SID_MAX], b[HX_SID_MAX], (*ids)[64] = calloc((size_t)n_sends, 64);
	char *text = malloc((size_t)len + 1);
	int n_ok = 0, n_full = 0, n_other = 0, got = 0, reconnects = 0, conflicts = 0;
	int order_errors = 0, extra = 0, missing = 0;
	uint64_t last;
	size_t unread = 0;
	struct sev ev;
	double streams;

	REQUIRE(ids && text);
	REQUIRE(dmn_start(&x, NULL, NULL,
			  "[limits]\nmax_send_queue_bytes = 16384\n[timeouts]\nsse_keepalive_s = 1\n",
			  args) == 0);
	REQUIRE(make_pair(x.d.port, "deaf-room", a, b));
	/* B opens its stream, reads chatroom.found, then never reads again. */
	REQUIRE(stream_open(&sb, x.d.port, b, false, 0, 0) == 200);
	REQUIRE(stream_until(&sb, "chatroom.found", &ev, 5000) == 1);
	sev_free(&ev);
	last = sb.last_id;
	CU_ASSERT(last > 0);

	for (int i = 0; i < n_sends; i++) {
		char err[32];
		int rc;

		memset(text, 'x', (size_t)len);
		text[len] = '\0';
		{
			char tag[24];
			int tl = snprintf(tag, sizeof(tag), "deaf-%04d-", i % 10000);

			memcpy(text, tag, (size_t)tl);
		}
		rc = send_msg(&ca, x.d.port, a, "deaf-room", text, ids[n_ok], err);
		if (rc == 0)
			n_ok++;
		else if (strcmp(err, "mailbox_full") == 0)
			n_full++;
		else {
			if (n_other++ == 0)
				printf("\n    send %d refused: %s", i, err);
		}
	}
	printf("\n    deaf stream: %d-byte messages: %d sends accepted, %d refused mailbox_full, "
	       "%d otherwise", len, n_ok, n_full, n_other);
	CHECKF(n_other == 0, "%d sends failed with something other than mailbox_full", n_other);
	CU_ASSERT(n_ok > 0);
	CHECKF(n_full > 0, "no mailbox_full after %d unread %d-byte messages", n_sends, len);

	/* The daemon dropped the stream: no push stream left, and the socket ends once read. */
	streams = metric_until(x.d.port, "mcpchat_push_streams", at_most, 0, 6000);
	CHECKF(streams == 0, "%.0f push streams still open", streams);
	CHECKF(hx_wait_closed(&sb.c, 5000, &unread), "the deaf stream was not closed");
	printf("\n    deaf stream: %zu unread bytes were waiting in the socket before its end", unread);
	stream_free(&sb);

	/* B resumes from the last event it read and gets every accepted message, in order,
	 * exactly once, however many reconnections that takes. */
	while (got < n_ok && reconnects < 2000) {
		int st = stream_reopen(&sb, x.d.port, b, true, last, &conflicts), rc;

		reconnects++;
		CHECKF(st == 200, "resume with Last-Event-ID %llu answered %d", (unsigned long long)last, st);
		if (st != 200)
			break;
		while ((rc = stream_next(&sb, &ev, got < n_ok ? 5000 : 300)) == 1) {
			if (ev.id <= last) {
				if (order_errors++ < 3)
					printf("\n    event id %llu after %llu", (unsigned long long)ev.id,
					       (unsigned long long)last);
			}
			last = ev.id;
			if (ev.method && strcmp(ev.method, "message.received") == 0) {
				const char *mid = str_of(ev.params, "message_id");

				if (got >= n_ok) {
					extra++;
				} else if (!mid || strcmp(mid, ids[got]) != 0) {
					int skip = got;

					/* Skip to it, to count what went missing. */
					while (mid && skip < n_ok && strcmp(mid, ids[skip]) != 0)
						skip++;
					if (order_errors++ < 3)
						printf("\n    message %d: expected %s, got %s (accepted message "
						       "%d)", got, ids[got], mid ? mid : "-", skip);
					if (mid && skip < n_ok) {
						missing += skip - got;
						got = skip + 1;
					} else {
						got++;
					}
				} else {
					got++;
				}
			}
			sev_free(&ev);
			if (got == n_ok)
				break;
		}
		if (rc < 0 && rc != -ETIMEDOUT)
			printf("\n    stream error %d", rc);
		if (rc == -ETIMEDOUT && got < n_ok) {
			printf("\n    stalled at message %d of %d", got, n_ok);
			break;
		}
		if (got == n_ok) {
			/* Nothing more may follow. */
			while (stream_next(&sb, &ev, 300) == 1) {
				if (ev.method && strcmp(ev.method, "message.received") == 0)
					extra++;
				sev_free(&ev);
			}
		}
		stream_free(&sb);
	}
	printf("\n    deaf stream: resumed over %d connections (%d answered 409 first), %d of %d "
	       "accepted messages received\n    ", reconnects, conflicts, got - missing, n_ok);
	CHECKF(got == n_ok && missing == 0, "%d of %d accepted messages received, %d skipped",
	       got - missing, n_ok, missing);
	CHECKF(order_errors == 0, "%d out of order or unexpected", order_errors);
	CHECKF(extra == 0, "%d messages more than were accepted", extra);
	CU_ASSERT(hx_serves_normal_client(x.d.port));
out:
	hx_close(&ca);
	stream_free(&sb);
	if (x.running)
		STOP_OK(&x);
	free(x.log);
	free(ids);
	free(text);
}

static void test_deaf_stream(void)
{
	deaf_stream(400, 4000);
}

/* The same with small messages: hundreds of them fit in the socket buffers (the client's
 * receive buffer as well as the daemon's 64 KiB send buffer), where they count as delivered. */
static void test_deaf_stream_small(void)
{
	deaf_stream(1500, 250);
}

static const struct unit_test tests[] = {
	{ "slowloris: 10000 stalled heads, the pair keeps chatting", test_slowloris },
	{ "a push stream that never reads is dropped, then resumed", test_deaf_stream },
	{ "a never-reading stream, 250-byte messages: nothing accepted is lost", test_deaf_stream_small },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	static const struct unit_suite suites[] = {
		{ "e2e_hostile_slow", tests, hx_suite_init, NULL, NULL, teardown },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};

	setvbuf(stdout, NULL, _IOLBF, 0);
	return unit_main_only(suites, argc > 1 ? argv[1] : NULL);
}
