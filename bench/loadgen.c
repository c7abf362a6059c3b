/* loadgen: a small HTTP/1.1 + SSE load generator for mcp-chatd, the reference peer and nginx.
 *
 * Modes (one JSON object per run on stdout):
 *   rpc    N sessions in matched pairs, each with a keep-alive POST connection calling
 *          send_message closed-loop (one outstanding) and a push stream the loadgen drains.
 *          rpc and relay take --era modern: 2026-07-28 chats (chat_id, no session) whose events
 *          are read with wait_for_message long polls instead of push streams.
 *   raw    N keep-alive connections POSTing the same request closed-loop to any URL (nginx).
 *   relay  P pairs (push stream + POST connection each), messages offered open-loop at an
 *          aggregate rate R; latency = stream receive time - scheduled send time.
 *          --find-max steps the rate and reports the highest one sustained with p99 < limit.
 *   idle   N sessions each holding a push stream, spread over forked workers and several
 *          127.0.0.x source addresses; --pid PID gives the server's RSS per session.
 *   scale  N idle sessions in the background, then relay at a fixed rate; --pid PID gives the
 *          server's CPU time per relayed message.
 *   freeport  prints a free TCP port on 127.0.0.1.
 * rpc and relay take --url-b: side B of every pair (odd sessions) talks to a second server, a
 * cluster's other node, so that every message crosses from one node to the other.
 *
 * The parts: lg_conn (sockets, epoll loop), lg_http (requests, response and SSE parsing),
 * lg_mcp (sessions), lg_modern (2026-07-28 chats), lg_run (the measured window, shared counters, JSON pieces), lg_hist,
 * lg_proc (/proc sampling), lg_pool (forked workers holding idle sessions) and one file per
 * scenario (lg_rpc, lg_relay, lg_idle). This file: the command line. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lg_conn.h"
#include "lg_opt.h"
#include "lg_scenarios.h"

struct lg_opt lg_opt = {
	.conns = 32, .pairs = 100, .rate = 20000, .duration = 10, .warmup = 2, .depth = 4,
	.msg_size = 64, .p99_limit_ms = 5, .find_samples = 500, .sessions = 1000, .per_worker = 4500,
	.concurrency = 256, .src_addrs = 8, .spin_us = 500, .hold = 2, .setup_timeout = 120, .drain_timeout = 10,
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: loadgen MODE --url http://127.0.0.1:PORT/mcp [OPTION]...\n"
		"Modes: rpc, raw, relay, idle, scale, freeport\n"
		"  --conns N           rpc/raw: POST connections (rpc: sessions, in pairs; default 32)\n"
		"  --pairs P           relay/scale: session pairs (default 100)\n"
		"  --rate R            relay/scale: offered messages/s, aggregate (default 20000)\n"
		"  --duration S        measured seconds (default 10)\n"
		"  --warmup S          seconds before measuring (default 2)\n"
		"  --depth N           relay: most requests outstanding per POST connection (default 4)\n"
		"  --msg-size B        message text bytes (default 64)\n"
		"  --find-max          relay: step the rate up, report the highest with p99 < limit\n"
		"  --rates LIST        relay --find-max: comma-separated rates\n"
		"  --p99-limit-ms MS   relay --find-max: the p99 limit (default 5)\n"
		"  --find-samples N    relay --find-max: a step lasts for N messages at least (default 500)\n"
		"  --sessions N        idle/scale: idle sessions (default 1000)\n"
		"  --workers N         idle/scale: worker processes (default: one per 4500 sessions)\n"
		"  --concurrency N     sessions being set up at once (default 256)\n"
		"  --src-addrs N       use 127.0.0.2 .. 127.0.0.(N+1) as source addresses (default 8; 0: any)\n"
		"  --pid PID           the server: RSS (idle), CPU time (scale; CPU per call in rpc/raw/relay)\n"
		"  --url-b URL         rpc/relay: side B of every pair talks to this server (another node\n"
		"                      of a cluster; side A to --url), so each message crosses nodes\n"
		"  --pid-b PID         rpc/relay: the --url-b server, for its CPU per call or message\n"
		"  --redis-pid PID     rpc/relay: the redis-server the nodes share, for its CPU per call or message\n"
		"  --hold S            idle: seconds to hold before measuring RSS (default 2)\n"
		"  --body JSON         raw: the request body\n"
		"  --era ERA           rpc/relay: 2025 (sessions, push streams; the default) or modern\n"
		"                      (2026-07-28: no session, chat_id, wait_for_message long polls)\n"
		"  --label TEXT        copied into the JSON output\n"
		"  --verbose           progress on stderr\n"
		"  --spin-us US        relay: poll instead of sleeping when the next send is due within US (500)\n"
		"  --stall-ms MS       relay: report POSTs unanswered for MS with their TCP state (debug)\n");
}

static void parse_url(const char *url, struct lg_target *t)
{
	const char *p, *slash, *colon;
	size_t hl;

	if (strncmp(url, "http://", 7))
		lg_die("URL must start with http://: %s", url);
	p = url + 7;
	slash = strchr(p, '/');
	if (!slash)
		slash = p + strlen(p);
	colon = memchr(p, ':', (size_t)(slash - p));
	if (!colon)
		lg_die("URL needs an explicit port: %s", url);
	hl = (size_t)(colon - p);
	if (hl >= sizeof(t->host))
		lg_die("host too long");
	memcpy(t->host, p, hl);
	t->host[hl] = 0;
	t->port = atoi(colon + 1);
	snprintf(t->path, sizeof(t->path), "%s", *slash ? slash : "/");
	snprintf(t->hosthdr, sizeof(t->hosthdr), "%s:%d", t->host, t->port);
	t->dst.sin_family = AF_INET;
	t->dst.sin_port = htons((uint16_t)t->port);
	if (inet_pton(AF_INET, t->host, &t->dst.sin_addr) != 1)
		lg_die("host must be a numeric IPv4 address: %s", t->host);
}

static int freeport(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || getsockname(fd, (struct sockaddr *)&a, &l) < 0)
		lg_die("freeport: %s", strerror(errno));
	printf("%d\n", ntohs(a.sin_port));
	return 0;
}

/* false for an unknown mode */
static bool parse_mode(const char *mode)
{
	static const struct {
		const char *name;
		enum lg_mode mode;
	} modes[] = {
		{ "rpc", LG_MODE_RPC }, { "raw", LG_MODE_RAW }, { "relay", LG_MODE_RELAY },
		{ "idle", LG_MODE_IDLE }, { "scale", LG_MODE_SCALE },
	};

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (!strcmp(mode, modes[i].name)) {
			lg_opt.mode = modes[i].mode;
			return true;
		}
	}
	return false;
}

/* The option table: one line per option, parsed by kind into lg_opt. */
enum { O_STR, O_INT, O_DBL, O_U64, O_FLAG, O_RATES };

static const struct {
	const char *name;
	int kind;
	void *to;
} options[] = {
	{ "url", O_STR, &lg_opt.url },
	{ "url-b", O_STR, &lg_opt.url_b },
	{ "conns", O_INT, &lg_opt.conns },
	{ "pairs", O_INT, &lg_opt.pairs },
	{ "rate", O_DBL, &lg_opt.rate },
	{ "duration", O_DBL, &lg_opt.duration },
	{ "warmup", O_DBL, &lg_opt.warmup },
	{ "depth", O_INT, &lg_opt.depth },
	{ "msg-size", O_INT, &lg_opt.msg_size },
	{ "find-max", O_FLAG, &lg_opt.find_max },
	{ "rates", O_RATES, lg_opt.rates },
	{ "p99-limit-ms", O_DBL, &lg_opt.p99_limit_ms },
	{ "find-samples", O_DBL, &lg_opt.find_samples },
	{ "sessions", O_INT, &lg_opt.sessions },
	{ "workers", O_INT, &lg_opt.workers },
	{ "concurrency", O_INT, &lg_opt.concurrency },
	{ "src-addrs", O_INT, &lg_opt.src_addrs },
	{ "pid", O_INT, &lg_opt.pid },
	{ "pid-b", O_INT, &lg_opt.pid_b },
	{ "redis-pid", O_INT, &lg_opt.redis_pid },
	{ "hold", O_DBL, &lg_opt.hold },
	{ "body", O_STR, &lg_opt.body },
	{ "era", O_STR, &lg_opt.era },
	{ "label", O_STR, &lg_opt.label },
	{ "verbose", O_FLAG, &lg_opt.verbose },
	{ "setup-timeout", O_DBL, &lg_opt.setup_timeout },
	{ "stall-ms", O_DBL, &lg_opt.stall_ms },
	{ "spin-us", O_U64, &lg_opt.spin_us },
};

#define N_OPTIONS (sizeof(options) / sizeof(options[0]))
#define OPT_HELP ((int)N_OPTIONS)

static void set_option(int i, const char *arg)
{
	void *to = options[i].to;

	switch (options[i].kind) {
	case O_STR: *(const char **)to = arg; break;
	case O_INT: *(int *)to = atoi(arg); break;
	case O_DBL: *(double *)to = atof(arg); break;
	case O_U64: *(u64 *)to = (u64)atoll(arg); break;
	case O_FLAG: *(bool *)to = true; break;
	case O_RATES: snprintf(lg_opt.rates, sizeof(lg_opt.rates), "%s", arg); break;
	}
}

/* getopt_long's table from ours: the value is the index, --help the one past the end. */
static void long_options(struct option *lo)
{
	for (size_t i = 0; i < N_OPTIONS; i++)
		lo[i] = (struct option){ options[i].name, options[i].kind == O_FLAG ? no_argument : required_argument,
					 NULL, (int)i };
	lo[N_OPTIONS] = (struct option){ "help", no_argument, NULL, OPT_HELP };
	lo[N_OPTIONS + 1] = (struct option){ 0, 0, 0, 0 };
}

static void check_options(void)
{
	if (!lg_opt.url)
		lg_die("--url is required");
	if (lg_opt.depth < 1 || lg_opt.depth > LG_QMAX - 4)
		lg_die("--depth must be 1..%d", LG_QMAX - 4);
	if (lg_opt.duration <= 0 || lg_opt.rate <= 0)
		lg_die("--duration and --rate must be positive");
	if (lg_opt.era && strcmp(lg_opt.era, "2025") && strcmp(lg_opt.era, "modern"))
		lg_die("--era takes 2025 or modern");
	lg_opt.modern = lg_opt.era && !strcmp(lg_opt.era, "modern");
	if (lg_opt.modern && lg_opt.mode != LG_MODE_RPC && lg_opt.mode != LG_MODE_RELAY)
		lg_die("--era modern is for rpc and relay");
	if ((lg_opt.url_b || lg_opt.pid_b || lg_opt.redis_pid) && lg_opt.mode != LG_MODE_RPC && lg_opt.mode != LG_MODE_RELAY)
		lg_die("--url-b, --pid-b and --redis-pid are for rpc and relay");
	parse_url(lg_opt.url, &lg_opt.tgt[0]);
	if (lg_opt.url_b)
		parse_url(lg_opt.url_b, &lg_opt.tgt[1]);
	else
		lg_opt.tgt[1] = lg_opt.tgt[0];
}

/* The soft descriptor limit up to the hard one: idle workers hold thousands of sockets. */
static void raise_nofile(void)
{
	struct rlimit r;

	if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
		r.rlim_cur = r.rlim_max;
		setrlimit(RLIMIT_NOFILE, &r);
	}
}

static int run(void)
{
	switch (lg_opt.mode) {
	case LG_MODE_IDLE:
		return lg_idle_run();
	case LG_MODE_SCALE:
		return lg_scale_run(); /* forks its workers before it opens its own loop */
	default:
		break;
	}
	lg_loop_init();
	switch (lg_opt.mode) {
	case LG_MODE_RPC:
		return lg_rpc_run();
	case LG_MODE_RAW:
		return lg_raw_run();
	case LG_MODE_RELAY:
		return lg_relay_run();
	default:
		return 2;
	}
}

int main(int argc, char **argv)
{
	struct option lo[N_OPTIONS + 2];
	int c;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "freeport"))
		return freeport();
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	if (!parse_mode(argv[1])) {
		usage(stderr);
		return 2;
	}
	long_options(lo);
	optind = 2;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (c == OPT_HELP) {
			usage(stdout);
			return 0;
		}
		if (c < 0 || c >= OPT_HELP) {
			usage(stderr);
			return 2;
		}
		set_option(c, optarg);
	}
	check_options();
	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_TIMERSLACK, 1UL); /* timer sleeps in relay wake when asked */
	raise_nofile();
	return run();
}
