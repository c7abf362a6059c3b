/* loadgen: a small HTTP/1.1 + SSE load generator for mcp-chatd, the reference peer and nginx.
 *
 * Modes (one JSON object per run on stdout):
 *   rpc    N sessions in matched pairs, each with a keep-alive POST connection calling
 *          send_message closed-loop (one outstanding) and a push stream the loadgen drains.
 *   raw    N keep-alive connections POSTing the same request closed-loop to any URL (nginx).
 *   relay  P pairs (push stream + POST connection each), messages offered open-loop at an
 *          aggregate rate R; latency = stream receive time - scheduled send time.
 *          --find-max steps the rate and reports the highest one sustained with p99 < limit.
 *   idle   N sessions each holding a push stream, spread over forked workers and several
 *          127.0.0.x source addresses; --pid PID gives the server's RSS per session.
 *   scale  N idle sessions in the background, then relay at a fixed rate; --pid PID gives the
 *          server's CPU time per relayed message.
 *   freeport  prints a free TCP port on 127.0.0.1.
 *
 * The parts: lg_conn (sockets, epoll loop), lg_http (requests, response and SSE parsing),
 * lg_mcp (sessions), lg_run (the measured window, shared counters, JSON pieces), lg_hist,
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
		"  --hold S            idle: seconds to hold before measuring RSS (default 2)\n"
		"  --body JSON         raw: the request body\n"
		"  --label TEXT        copied into the JSON output\n"
		"  --verbose           progress on stderr\n"
		"  --spin-us US        relay: poll instead of sleeping when the next send is due within US (500)\n"
		"  --stall-ms MS       relay: report POSTs unanswered for MS with their TCP state (debug)\n");
}

static void parse_url(const char *url)
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
	if (hl >= sizeof(lg_opt.host))
		lg_die("host too long");
	memcpy(lg_opt.host, p, hl);
	lg_opt.host[hl] = 0;
	lg_opt.port = atoi(colon + 1);
	snprintf(lg_opt.path, sizeof(lg_opt.path), "%s", *slash ? slash : "/");
	snprintf(lg_opt.hosthdr, sizeof(lg_opt.hosthdr), "%s:%d", lg_opt.host, lg_opt.port);
	lg_opt.dst.sin_family = AF_INET;
	lg_opt.dst.sin_port = htons((uint16_t)lg_opt.port);
	if (inet_pton(AF_INET, lg_opt.host, &lg_opt.dst.sin_addr) != 1)
		lg_die("host must be a numeric IPv4 address: %s", lg_opt.host);
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

static const struct option options[] = {
	{ "url", 1, 0, 'u' }, { "conns", 1, 0, 'c' }, { "pairs", 1, 0, 'P' }, { "rate", 1, 0, 'r' },
	{ "duration", 1, 0, 'd' }, { "warmup", 1, 0, 'w' }, { "depth", 1, 0, 'D' },
	{ "msg-size", 1, 0, 'm' }, { "find-max", 0, 0, 'F' }, { "rates", 1, 0, 'R' },
	{ "p99-limit-ms", 1, 0, 'L' }, { "find-samples", 1, 0, 'J' }, { "sessions", 1, 0, 'n' }, { "workers", 1, 0, 'W' },
	{ "concurrency", 1, 0, 'C' }, { "src-addrs", 1, 0, 'S' }, { "pid", 1, 0, 'p' },
	{ "hold", 1, 0, 'H' }, { "body", 1, 0, 'b' }, { "label", 1, 0, 'l' }, { "verbose", 0, 0, 'v' },
	{ "setup-timeout", 1, 0, 'T' }, { "stall-ms", 1, 0, 'X' }, { "spin-us", 1, 0, 'Y' }, { "help", 0, 0, 'h' }, { 0, 0, 0, 0 },
};

/* One option; false for an unknown one. */
static bool set_option(int c, const char *arg)
{
	switch (c) {
	case 'u': lg_opt.url = arg; break;
	case 'c': lg_opt.conns = atoi(arg); break;
	case 'P': lg_opt.pairs = atoi(arg); break;
	case 'r': lg_opt.rate = atof(arg); break;
	case 'd': lg_opt.duration = atof(arg); break;
	case 'w': lg_opt.warmup = atof(arg); break;
	case 'D': lg_opt.depth = atoi(arg); break;
	case 'm': lg_opt.msg_size = atoi(arg); break;
	case 'F': lg_opt.find_max = true; break;
	case 'R': snprintf(lg_opt.rates, sizeof(lg_opt.rates), "%s", arg); break;
	case 'L': lg_opt.p99_limit_ms = atof(arg); break;
	case 'J': lg_opt.find_samples = atof(arg); break;
	case 'n': lg_opt.sessions = atoi(arg); break;
	case 'W': lg_opt.workers = atoi(arg); break;
	case 'C': lg_opt.concurrency = atoi(arg); break;
	case 'S': lg_opt.src_addrs = atoi(arg); break;
	case 'p': lg_opt.pid = atoi(arg); break;
	case 'H': lg_opt.hold = atof(arg); break;
	case 'b': lg_opt.body = arg; break;
	case 'l': lg_opt.label = arg; break;
	case 'v': lg_opt.verbose = true; break;
	case 'T': lg_opt.setup_timeout = atof(arg); break;
	case 'X': lg_opt.stall_ms = atof(arg); break;
	case 'Y': lg_opt.spin_us = (u64)atoll(arg); break;
	default: return false;
	}
	return true;
}

static void check_options(void)
{
	if (!lg_opt.url)
		lg_die("--url is required");
	if (lg_opt.depth < 1 || lg_opt.depth > LG_QMAX - 4)
		lg_die("--depth must be 1..%d", LG_QMAX - 4);
	if (lg_opt.duration <= 0 || lg_opt.rate <= 0)
		lg_die("--duration and --rate must be positive");
	parse_url(lg_opt.url);
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
	optind = 2;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return 0;
		}
		if (!set_option(c, optarg)) {
			usage(stderr);
			return 2;
		}
	}
	check_options();
	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_TIMERSLACK, 1UL); /* timer sleeps in relay wake when asked */
	raise_nofile();
	return run();
}
