#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mcpchat/version.h>

#include "config.h"
#include "mcp/jsonrpc.h"
#include "server.h"
#include "service.h"
#include "util/log.h"
#ifdef MCPCHAT_CONFORMANCE_FIXTURES
#include "conformance/fixtures.h"
#endif

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: mcp-chatd [OPTION]...\n"
		"Anonymous one-to-one chat over the Model Context Protocol (Streamable HTTP at /mcp).\n"
		"\n"
		"  -c, --config FILE             read this INI file (default: none, the embedded\n"
		"                                defaults; the package installs\n"
		"                                /etc/mcp-chat/mcp-chat.conf); options below win\n"
		"      --check-config            check the configuration, say what is wrong, exit\n"
		"  -l, --listen ADDR:PORT        listen here (repeatable; default 127.0.0.1:8808 and\n"
		"                                [::1]:8808); port 0 picks a free port\n"
		"  -s, --control-socket PATH     the admin socket for mcpchatctl (default\n"
		"                                $RUNTIME_DIRECTORY/control.sock, else\n"
		"                                $XDG_RUNTIME_DIR/mcp-chat/control.sock, else\n"
		"                                /tmp/mcp-chat-$UID/control.sock)\n"
		"      --max-sessions N          sessions at once (default 100000)\n"
		"      --session-idle-timeout S  end a session after S seconds without a request or\n"
		"                                push stream (default 120)\n"
		"      --chat-idle-timeout S     end an MCP 2026-07-28 chat after S seconds without a\n"
		"                                request or a waiting call (default 60)\n"
		"      --node NAME               this daemon's name in a cluster: 1-16 of A-Z a-z 0-9 _ -\n"
		"                                (default: the host name); 2025 session ids start\n"
		"                                with NAME. so a load balancer can route them\n"
		"      --redis ADDR              share the chat with other daemons through Redis at\n"
		"                                HOST:PORT or unix:/path (default: none, one node)\n"
		"      --rate N                  messages per second per session, sustained (default 5)\n"
		"      --burst N                 messages per session in a burst (default 20)\n"
		"      --log-level LEVEL         error, warning, notice, info or debug (default info)\n"
#ifdef MCPCHAT_CONFORMANCE_FIXTURES
		"      --conformance-fixtures    also offer the MCP conformance suite's fixture tools,\n"
		"                                resources and prompts (a test build only)\n"
#endif
		"  -h, --help                    show this help\n"
		"  -V, --version                 show the version\n"
		"\n"
		"Once every listener is bound it prints one line per listener on stdout:\n"
		"  mcp-chatd listening on http://127.0.0.1:8808/mcp\n");
}

static int parse_number(const char *opt, const char *arg, double min, double max, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (errno || end == arg || *end || v < min || v > max) {
		fprintf(stderr, "mcp-chatd: %s takes a number from %g to %g, not '%s'\n", opt, min, max, arg);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

enum { OPT_MAX_SESSIONS = 256, OPT_IDLE, OPT_CHAT_IDLE, OPT_NODE, OPT_REDIS, OPT_RATE, OPT_BURST, OPT_LOG_LEVEL, OPT_CHECK, OPT_FIXTURES };

static const struct option opts[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "check-config", no_argument, NULL, OPT_CHECK },
	{ "listen", required_argument, NULL, 'l' },
	{ "control-socket", required_argument, NULL, 's' },
	{ "max-sessions", required_argument, NULL, OPT_MAX_SESSIONS },
	{ "session-idle-timeout", required_argument, NULL, OPT_IDLE },
	{ "chat-idle-timeout", required_argument, NULL, OPT_CHAT_IDLE },
	{ "node", required_argument, NULL, OPT_NODE },
	{ "redis", required_argument, NULL, OPT_REDIS },
	{ "rate", required_argument, NULL, OPT_RATE },
	{ "burst", required_argument, NULL, OPT_BURST },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
#ifdef MCPCHAT_CONFORMANCE_FIXTURES
	{ "conformance-fixtures", no_argument, NULL, OPT_FIXTURES },
#endif
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};
#define SHORT_OPTS "c:l:s:hV"

struct args {
	const char *config;
	bool check;
	bool fixtures; /* --conformance-fixtures (mcp-chatd-fixtures only) */
};

/* First pass: the config file comes first, so the other options can override it. */
static int pre_scan(int argc, char **argv, struct args *a)
{
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, SHORT_OPTS, opts, NULL)) != -1) {
		if (c == 'c')
			a->config = optarg;
		else if (c == OPT_CHECK)
			a->check = true;
		else if (c == OPT_FIXTURES)
			a->fixtures = true;
	}
	opterr = 1;
	optind = 0;
	return 0;
}

static int parse_args(int argc, char **argv, struct config *cfg)
{
	bool listen_given = false;
	enum log_level level;
	double v;
	int c;

	while ((c = getopt_long(argc, argv, SHORT_OPTS, opts, NULL)) != -1) {
		switch (c) {
		case 'c':
		case OPT_CHECK:
		case OPT_FIXTURES:
			break;
		case 'l':
			if (!listen_given)
				cfg->n_listen = 0;
			listen_given = true;
			if (config_add_listen(cfg, optarg) < 0) {
				fprintf(stderr, "mcp-chatd: --listen takes ADDR:PORT (at most %d), not '%s'\n",
					CONFIG_MAX_LISTEN, optarg);
				return 2;
			}
			break;
		case 's':
			if (strlen(optarg) >= sizeof(cfg->control_socket)) {
				fprintf(stderr, "mcp-chatd: --control-socket path too long (at most %zu bytes)\n",
					sizeof(cfg->control_socket) - 1);
				return 2;
			}
			strcpy(cfg->control_socket, optarg);
			break;
		case OPT_MAX_SESSIONS:
			if (parse_number("--max-sessions", optarg, 1, 10000000, &v) < 0)
				return 2;
			cfg->max_sessions = (uint32_t)v;
			break;
		case OPT_IDLE:
			if (parse_number("--session-idle-timeout", optarg, 1, 86400, &v) < 0)
				return 2;
			cfg->session_idle_timeout_ms = (uint32_t)(v * 1000);
			break;
		case OPT_CHAT_IDLE:
			if (parse_number("--chat-idle-timeout", optarg, 1, 86400, &v) < 0)
				return 2;
			cfg->chat_idle_ms = (uint32_t)(v * 1000);
			break;
		case OPT_NODE:
			if (config_set_node(cfg, optarg) < 0) {
				fprintf(stderr, "mcp-chatd: --node takes 1-16 of A-Z a-z 0-9 _ -, not '%s'\n", optarg);
				return 2;
			}
			break;
		case OPT_REDIS:
			if (config_set_redis(cfg, optarg) < 0) {
				fprintf(stderr, "mcp-chatd: --redis takes HOST:PORT, [IPv6]:PORT or unix:/path, not '%s'\n", optarg);
				return 2;
			}
			break;
		case OPT_RATE:
			if (parse_number("--rate", optarg, 0.001, 1e9, &cfg->rate_per_second) < 0)
				return 2;
			break;
		case OPT_BURST:
			if (parse_number("--burst", optarg, 1, 1e9, &cfg->rate_burst) < 0)
				return 2;
			break;
		case OPT_LOG_LEVEL:
			if (log_level_parse(optarg, &level) < 0) {
				fprintf(stderr, "mcp-chatd: --log-level takes error, warning, notice, info or debug\n");
				return 2;
			}
			cfg->log_level = (int)level;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("%s %s\n", MCPCHAT_NAME, MCPCHAT_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "mcp-chatd: unexpected argument '%s'; see --help\n", argv[optind]);
		return 2;
	}
	return -1;
}

static struct {
	int argc;
	char **argv;
	const char *config;
} saved;

/* SIGHUP and `mcpchatctl reload`: the same steps as at start, into next. */
static int reload_config(struct config *next, char *err, size_t errlen)
{
	int rc;

	config_defaults(next);
	if (config_load(next, saved.config, err, errlen) < 0)
		return -EINVAL;
	optind = 0;
	rc = parse_args(saved.argc, saved.argv, next);
	if (rc >= 0) {
		snprintf(err, errlen, "the command line no longer parses");
		return -EINVAL;
	}
	return config_finish(next, err, errlen);
}

int main(int argc, char **argv)
{
	struct args a = { NULL, false, false };
	struct config cfg;
	struct server *srv;
	char err_text[512];
	int rc, err;

	jsonrpc_init(); /* cJSON allocates through xalloc from the first call on */
	config_defaults(&cfg);
	pre_scan(argc, argv, &a);
	if (a.config && config_load(&cfg, a.config, err_text, sizeof(err_text)) < 0) {
		fprintf(stderr, "mcp-chatd: %s\n", err_text);
		return a.check ? 1 : 2;
	}
	rc = parse_args(argc, argv, &cfg);
	if (rc >= 0)
		return rc;
	if (config_finish(&cfg, err_text, sizeof(err_text)) < 0) {
		fprintf(stderr, "mcp-chatd: %s\n", err_text);
		return a.check ? 1 : 2;
	}
	if (a.check) {
		printf("%s: configuration OK\n", a.config ? a.config : "embedded defaults");
		return 0;
	}
	log_set_level((enum log_level)cfg.log_level);
	srv = server_new(&cfg, &err);
	if (!srv)
		return 1;
#ifdef MCPCHAT_CONFORMANCE_FIXTURES
	if (a.fixtures)
		conformance_fixtures_register(server_mcp(srv));
#endif
	if (a.config) {
		saved.argc = argc;
		saved.argv = argv;
		saved.config = a.config;
		server_set_reload(srv, reload_config, a.config);
	}
	/* Everything is bound: root and capabilities are no longer needed. */
	if (service_drop_privileges(cfg.user, server_control_path(srv)) < 0) {
		server_free(srv);
		return 1;
	}
	for (int i = 0; i < server_listener_count(srv); i++)
		printf("%s listening on http://%s/mcp\n", MCPCHAT_NAME, server_listener_name(srv, i));
	fflush(stdout);
	log_notice("%s %s ready", MCPCHAT_NAME, MCPCHAT_VERSION);
	service_ready("serving");
	err = server_run(srv);
	server_free(srv);
	return err < 0 ? 1 : 0;
}
