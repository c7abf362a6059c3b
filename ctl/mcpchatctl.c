/* mcpchatctl: administers a running mcp-chatd over its control socket. One request, one
 * answer, plain blocking I/O bounded by --timeout. */
#include <errno.h>
#include <getopt.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include <mcpchat/ctl_proto.h>
#include <mcpchat/version.h>

#include "cli.h"
#include "client.h"
#include "format.h"
#include "print.h"

#define DEFAULT_TIMEOUT_S 5.0

struct command {
	const char *name;
	int cmd; /* enum ctl_cmd; -1 for help */
	const char *synopsis;
	const char *summary;
	const char *details;
	int (*build)(const struct opts *o, cJSON *args);
	void (*print)(const cJSON *data);
};

/* Building requests */

static int build_none(const struct opts *o, cJSON *args)
{
	(void)args;
	if (o->npos > 0)
		return cli_usage(o->command, "%s takes no arguments, not '%s'", o->command, o->pos[0]);
	return 0;
}

/* queues, rooms, sessions: --cluster asks for the whole cluster's. */
static int build_list(const struct opts *o, cJSON *args)
{
	int rc = build_none(o, args);

	if (!rc && o->cluster && !cJSON_AddTrueToObject(args, "cluster"))
		cli_oom();
	return rc;
}

static int build_kick(const struct opts *o, cJSON *args)
{
	if (o->npos != 1)
		return cli_usage("kick", o->npos ? "kick takes one HANDLE or ROOM"
						   : "kick needs a HANDLE or ROOM");
	if (!cJSON_AddStringToObject(args, "target", o->pos[0]) ||
	    (o->reason && !cJSON_AddStringToObject(args, "reason", o->reason)))
		cli_oom();
	return 0;
}

static int build_notify(const struct opts *o, cJSON *args)
{
	int want = o->all ? 1 : 2; /* positional arguments before the optional JSON */
	cJSON *params;

	if (o->npos < want || o->npos > want + 1)
		return cli_usage("notify", o->all ? "notify --all takes METHOD [JSON]"
						    : "notify takes HANDLE METHOD [JSON] or --all METHOD [JSON]");
	if (o->all ? !cJSON_AddTrueToObject(args, "all")
		   : !cJSON_AddStringToObject(args, "target", o->pos[0]))
		cli_oom();
	if (!cJSON_AddStringToObject(args, "method", o->pos[want - 1]))
		cli_oom();
	if (o->npos == want)
		return 0;
	params = cJSON_Parse(o->pos[want]);
	if (!cJSON_IsObject(params)) {
		cJSON_Delete(params);
		return cli_usage("notify", "notify params must be a JSON object, like '{\"text\":\"hi\"}'");
	}
	if (!cJSON_AddItemToObject(args, "params", params)) /* only when the key copy fails */
		cli_oom();
	return 0;
}

#define CLUSTER_NOTE \
	"At most 1000 rows (the answer says when there were more). A single node refuses\n" \
	"--cluster (exit status 1), as does a node whose Redis is down.\n"

static const char usage_line[] =
	"Usage: " PROG " [--socket PATH] [--json] [--timeout SECONDS] COMMAND [ARGS]\n";

static const struct command commands[] = {
	{ "status", CTL_STATUS, "status", "the daemon: version, uptime, listeners, counts, memory",
	  "Shows the version, uptime, pid and listen addresses of mcp-chatd, how many sessions,\n"
	  "waiting sessions, rooms, push streams and connections it has, and its memory use.\n",
	  build_none, print_status },
	{ "queues", CTL_QUEUES, "queues [--cluster]", "sessions waiting for a partner or a named room",
	  "Lists waiting sessions: handle, display name, how long they waited, whether they wait\n"
	  "in the queue or for a named room (with its id), and their interests.\n"
	  "--cluster (a cluster node): every node's waiters from Redis, the queue in order and\n"
	  "then the named rooms' waiters, with the node each chat began on.\n" CLUSTER_NOTE,
	  build_list, print_queues },
	{ "rooms", CTL_ROOMS, "rooms [--cluster]", "open rooms: kind, age, message count, members",
	  "Lists open rooms: id, kind (queue or named), age, messages relayed so far and the\n"
	  "display names of the members. Message text is never shown.\n"
	  "--cluster (a cluster node): every room in the cluster from Redis, with the members'\n"
	  "handles.\n" CLUSTER_NOTE,
	  build_list, print_rooms },
	{ "sessions", CTL_SESSIONS, "sessions [--cluster]", "sessions by handle: state, room, idle time, stream",
	  "Lists sessions by handle (a short public id, never the session id): state (idle,\n"
	  "waiting or in_room), room, time since the last request, whether a push stream is open,\n"
	  "and how many events wait in the mailbox.\n"
	  "--cluster (a cluster node): every chat in the cluster from Redis: handle, display name,\n"
	  "node (where it began, or the node holding its 2025 session), era (modern or legacy),\n"
	  "state, room and idle time.\n" CLUSTER_NOTE,
	  build_list, print_sessions },
	{ "kick", CTL_KICK, "kick HANDLE|ROOM [--reason TEXT]", "end a session, or all in a room",
	  "Ends the session with this handle, or every session in the room with this id. Partners\n"
	  "are told the usual way. --reason TEXT (at most 200 characters) goes with it.\n"
	  "On a cluster node a handle or room that is not on this node is looked up in Redis:\n"
	  "a chat of any node is ended (its partner hears partner.disconnected, reason kicked).\n"
	  "Prints the handles that were kicked.\n",
	  build_kick, print_kick },
	{ "notify", CTL_NOTIFY, "notify HANDLE|--all METHOD [JSON]", "send an MCP notification",
	  "Sends the MCP notification METHOD, with JSON (an object) as its params, to the session\n"
	  "with this handle, or with --all to every session. Prints how many got it; a session\n"
	  "whose mailbox is full of unread events is refused (one handle: exit status 1).\n"
	  "Example: " PROG " notify --all notifications/message '{\"level\":\"info\",\"data\":\"bye\"}'\n",
	  build_notify, print_notify },
	{ "stats", CTL_STATS, "stats", "counters since the daemon started",
	  "Shows counters since mcp-chatd started: sessions started and ended, matches, messages\n"
	  "relayed, control requests, bytes in and out, and refusals by error code.\n",
	  build_none, print_stats },
	{ "reload", CTL_RELOAD, "reload", "read the configuration file again, report errors",
	  "Makes mcp-chatd read its configuration file (-c FILE) again and apply it, the same as\n"
	  "SIGHUP, and waits for the outcome. Prints the file and the keys that changed but need a\n"
	  "restart ([server] listen, [server] user, [control] socket, [control] group). A file that\n"
	  "does not load is refused with its FILE:LINE error (exit status 1) and the running\n"
	  "configuration is kept; so is a daemon started without -c. The unit's ExecReload=.\n",
	  build_none, print_reload },
	{ "nodes", CTL_NODES, "nodes", "cluster members: address, heartbeat age, state, counts",
	  "On a cluster node ([cluster] redis set), lists the cluster's members from their\n"
	  "heartbeats in Redis, sorted by name: name, address, age of the last heartbeat, state\n"
	  "(running, draining, starting, or stale when no heartbeat came for 6 seconds), version,\n"
	  "pid, and the chats, waiting chats and open rooms of each node (counted in Redis by the\n"
	  "node each chat began on, or that holds its 2025 session; a room with members on two\n"
	  "nodes counts for both). A node stopped cleanly leaves the list at once; one that\n"
	  "crashed shows stale.\n"
	  "A single node refuses (exit status 1), as does a node whose Redis is down or does not\n"
	  "answer within its command timeout.\n",
	  build_none, print_nodes },
	{ "help", -1, "help [COMMAND]", "show help, for one command or all",
	  "Shows the overall help, or the help of COMMAND (like '" PROG " COMMAND --help').\n", NULL,
	  NULL },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++) {
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	}
	return NULL;
}

/* Help */

static void print_help(void)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];

	fputs(usage_line, stdout);
	fputs("Administer a running mcp-chatd over its control socket.\n\nCommands:\n", stdout);
	for (size_t i = 0; i < N_COMMANDS; i++)
		printf("  %-34s %s\n", commands[i].synopsis, commands[i].summary);
	fputs("\nOptions:\n"
	      "  -s, --socket PATH      the daemon's control socket\n"
	      "  -j, --json             print the answer's data as JSON, for scripts\n"
	      "  -t, --timeout SECONDS  give up after this long (default 5)\n"
	      "  -h, --help             show this help, or a command's help after the command\n"
	      "  -V, --version          show the version\n"
	      "\nThe default socket is $RUNTIME_DIRECTORY/control.sock, else\n"
	      "$XDG_RUNTIME_DIR/mcp-chat/control.sock, else /tmp/mcp-chat-$UID/control.sock;\n"
	      "when that does not exist, " CLIENT_SYSTEMD_SOCKET " (the systemd service).\n",
	      stdout);
	if (ctl_default_socket_path(path, sizeof(path)) == 0)
		printf("Here that is %s.\n", path);
	fputs("\nExit status: 0 done, 1 mcp-chatd refused, 2 usage error, 3 cannot reach mcp-chatd.\n",
	      stdout);
}

static void print_command_help(const struct command *c)
{
	printf("Usage: " PROG " [OPTION]... %s\n\n%s\n"
	       "--socket, --json and --timeout work with every command; see '" PROG " --help'.\n",
	       c->synopsis, c->details);
}

static int run_help(const struct opts *o)
{
	const struct command *c;

	if (o->npos == 0) {
		print_help();
		return 0;
	}
	if (o->npos > 1)
		return cli_usage("help", "help takes at most one COMMAND");
	c = find_command(o->pos[0]);
	if (!c)
		return cli_usage(NULL, "unknown command '%s'", o->pos[0]);
	print_command_help(c);
	return 0;
}

/* Options */

static int bad_option(int c, char **argv)
{
	const char *opt = argv[optind - 1];

	if (c == ':')
		return cli_usage(NULL, "option '%s' needs a value", opt);
	if (optopt)
		return cli_usage(NULL, "unknown option '-%c'", optopt);
	return cli_usage(NULL, "unknown option '%s'", opt);
}

static int parse_timeout(const char *arg, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (errno || end == arg || *end || !(v > 0 && v <= 86400))
		return cli_usage(NULL, "--timeout takes seconds, more than 0 and at most 86400, not '%s'",
				   arg);
	*out = v;
	return 0;
}

/* -1 to go on, else the exit code. GNU getopt permutes, so options may follow the command. */
static int parse_options(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' }, { "json", no_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, 't' }, { "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },       { "reason", required_argument, NULL, 'r' },
		{ "all", no_argument, NULL, 'a' },           { "cluster", no_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	bool version = false;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":s:jt:hVr:ac", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (!*optarg)
				return cli_usage(NULL, "--socket needs a path");
			o->socket = optarg;
			break;
		case 'j':
			o->json = true;
			break;
		case 't':
			if (parse_timeout(optarg, &o->timeout_s))
				return EXIT_USAGE;
			break;
		case 'h':
			o->help = true;
			break;
		case 'V':
			version = true;
			break;
		case 'r':
			o->reason = optarg;
			break;
		case 'a':
			o->all = true;
			break;
		case 'c':
			o->cluster = true;
			break;
		default:
			return bad_option(c, argv);
		}
	}
	if (version && !o->help) {
		printf(PROG " (mcp-chat) %s\n", MCPCHAT_VERSION);
		return 0;
	}
	o->command = optind < argc ? argv[optind] : NULL;
	o->pos = argv + optind + (optind < argc);
	o->npos = argc - optind - (optind < argc);
	return -1;
}

/* Options that belong to one command only. */
static int check_command_options(const struct opts *o)
{
	if (o->reason && strcmp(o->command, "kick") != 0)
		return cli_usage(NULL, "--reason is only for kick");
	if (o->all && strcmp(o->command, "notify") != 0)
		return cli_usage(NULL, "--all is only for notify");
	if (o->cluster && strcmp(o->command, "queues") != 0 && strcmp(o->command, "rooms") != 0 &&
	    strcmp(o->command, "sessions") != 0)
		return cli_usage(NULL, "--cluster is only for queues, rooms and sessions");
	return 0;
}

/* The command */

/* Builds the request line, checked locally with the daemon's own rules. */
static int build_request(const struct command *c, const struct opts *o, char **line)
{
	cJSON *args = cJSON_CreateObject();
	struct ctl_request req;
	const char *code, *msg;
	int rc;

	if (!args)
		cli_oom();
	rc = c->build(o, args);
	if (rc)
		goto fail;
	*line = ctl_request_encode((enum ctl_cmd)c->cmd, args);
	if (!*line)
		cli_oom();
	if (ctl_request_decode(*line, strlen(*line), &req, &code, &msg) < 0) {
		char *shown = fmt_clean(msg, NULL);

		rc = cli_usage(c->name, "%s", shown);
		free(shown);
		free(*line);
		*line = NULL;
		goto fail;
	}
	ctl_request_free(&req);
fail:
	cJSON_Delete(args);
	return rc;
}

static int show(const struct command *c, const struct opts *o, const struct ctl_response *res)
{
	char *code, *msg, *text;

	if (!res->ok) {
		code = fmt_clean(res->code, NULL);
		msg = fmt_clean(res->message, NULL);
		fprintf(stderr, PROG ": mcp-chatd refused %s: %s: %s\n", c->name, code, msg);
		free(code);
		free(msg);
		return EXIT_REFUSED;
	}
	if (o->json) {
		text = cJSON_Print(res->data);
		if (!text)
			cli_oom();
		puts(text);
		free(text);
	} else {
		c->print(res->data);
	}
	if (fflush(stdout) != 0) {
		fprintf(stderr, PROG ": cannot write the output: %s\n", strerror(errno));
		return EXIT_REFUSED;
	}
	return 0;
}

static int run(const struct command *c, const struct opts *o)
{
	struct ctl_response res;
	char *line = NULL;
	int rc;

	rc = check_command_options(o);
	if (!rc)
		rc = build_request(c, o, &line);
	if (rc)
		return rc;
	rc = client_exchange(o, line, &res);
	free(line);
	if (rc)
		return rc;
	rc = show(c, o, &res);
	ctl_response_free(&res);
	return rc;
}

int main(int argc, char **argv)
{
	struct opts o = { .timeout_s = DEFAULT_TIMEOUT_S };
	const struct command *c;
	int rc;

	setlocale(LC_CTYPE, "");
	rc = parse_options(argc, argv, &o);
	if (rc >= 0)
		return rc;
	if (!o.command) {
		if (o.help) {
			print_help();
			return 0;
		}
		return cli_usage(NULL, "no command given");
	}
	c = find_command(o.command);
	if (!c)
		return cli_usage(NULL, "unknown command '%s'", o.command);
	if (o.help) {
		if (c->cmd < 0)
			print_help();
		else
			print_command_help(c);
		return 0;
	}
	if (c->cmd < 0)
		return run_help(&o);
	return run(c, &o);
}
