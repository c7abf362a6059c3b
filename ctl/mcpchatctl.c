/* mcpchatctl: administers a running mcp-chatd over its control socket. One request, one
 * answer, plain blocking I/O bounded by --timeout. */
#include <errno.h>
#include <getopt.h>
#include <locale.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

#include <mcpchat/ctl_proto.h>
#include <mcpchat/version.h>

#define PROG "mcpchatctl"
#define SYSTEMD_SOCKET "/run/mcp-chat/control.sock"
#define MAX_RESPONSE (64u << 20)
#define DEFAULT_TIMEOUT_S 5.0

enum { EXIT_REFUSED = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3 };

struct opts {
	const char *socket; /* NULL: the default path */
	bool json, help, all;
	double timeout_s;
	const char *reason;
	const char *command;
	char **pos; /* arguments after the command */
	int npos;
};

struct command {
	const char *name;
	int cmd; /* enum ctl_cmd; -1 for help */
	const char *synopsis;
	const char *summary;
	const char *details;
	int (*build)(const struct opts *o, cJSON *args);
	void (*print)(const cJSON *data);
};

/* Small utilities */

static void die_oom(void)
{
	fputs(PROG ": out of memory\n", stderr);
	exit(EXIT_REFUSED);
}

/* Usage errors are one line ending in a pointer to the help. */
static int usage_error(const char *help_for, const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "; see '" PROG " %s%s--help'\n", help_for ? help_for : "", help_for ? " " : "");
	return EXIT_USAGE;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Text from the daemon (display names, messages) may hold anything: control characters and
 * invalid sequences become '?' so nothing reaches the terminal raw. *width is in columns. */
static char *clean_text(const char *s, size_t *width)
{
	size_t len = strlen(s), w = 0, o = 0;
	char *out = malloc(len + 1);
	mbstate_t st;

	if (!out)
		die_oom();
	memset(&st, 0, sizeof(st));
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)s[i];
		wchar_t wc;
		size_t n;
		int cw;

		if (c >= 0x20 && c < 0x7f) {
			out[o++] = s[i++];
			w++;
			continue;
		}
		n = c < 0x80 ? (size_t)-1 : mbrtowc(&wc, s + i, len - i, &st);
		cw = n == (size_t)-1 || n == (size_t)-2 || n == 0 ? -1 : wcwidth(wc);
		if (cw < 0) {
			memset(&st, 0, sizeof(st));
			out[o++] = '?';
			w++;
			i += n == (size_t)-1 || n == (size_t)-2 || n == 0 ? 1 : n;
			continue;
		}
		memcpy(out + o, s + i, n);
		o += n;
		i += n;
		w += (size_t)cw;
	}
	out[o] = '\0';
	if (width)
		*width = w;
	return out;
}

/* 12s, 3m04s, 2h05m, 3d04h; "-" when unknown. */
static void fmt_duration(const cJSON *v, char *buf, size_t len)
{
	double d = cJSON_IsNumber(v) ? v->valuedouble : -1;
	unsigned long long s;

	if (!(d >= 0) || d > 1e15) {
		snprintf(buf, len, "-");
		return;
	}
	s = (unsigned long long)d;
	if (s < 60)
		snprintf(buf, len, "%llus", s);
	else if (s < 3600)
		snprintf(buf, len, "%llum%02llus", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%lluh%02llum", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, len, "%llud%02lluh", s / 86400, s % 86400 / 3600);
}

static void fmt_number(const cJSON *v, char *buf, size_t len)
{
	if (cJSON_IsNumber(v))
		snprintf(buf, len, "%.15g", v->valuedouble);
	else
		snprintf(buf, len, "-");
}

/* 1234567 → "1234567 (1.2 MiB)" */
static void fmt_bytes(const cJSON *v, char *buf, size_t len)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
	double b = cJSON_IsNumber(v) ? v->valuedouble : -1;
	int u = -1;

	if (!(b >= 1024)) {
		fmt_number(v, buf, len);
		return;
	}
	while (b >= 1024 && u < 3) {
		b /= 1024;
		u++;
	}
	snprintf(buf, len, "%.15g (%.1f %s)", v->valuedouble, b, units[u]);
}

static const char *str_field(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : "-";
}

/* The strings of an array joined by sep; "-" when empty. Malloc'd. */
static char *join_strings(const cJSON *arr, const char *sep)
{
	size_t len = 2, n = 0;
	const cJSON *it;
	char *out;

	cJSON_ArrayForEach(it, arr)
		len += (cJSON_IsString(it) ? strlen(it->valuestring) : 1) + strlen(sep);
	out = malloc(len);
	if (!out)
		die_oom();
	out[0] = '\0';
	cJSON_ArrayForEach(it, arr) {
		if (n++)
			strcat(out, sep);
		strcat(out, cJSON_IsString(it) ? it->valuestring : "?");
	}
	if (!n)
		strcpy(out, "-");
	return out;
}

/* Tables: rows of cleaned cells, columns padded to their widest cell */

struct table {
	size_t ncols, ncells, cap;
	char **cells;
	size_t *widths; /* per cell */
};

static void table_init(struct table *t, size_t ncols)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
}

static void table_add(struct table *t, const char *text)
{
	if (t->ncells == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 64;
		char **cells = realloc(t->cells, cap * sizeof(*cells));
		size_t *widths = cells ? realloc(t->widths, cap * sizeof(*widths)) : NULL;

		if (!widths)
			die_oom();
		t->cells = cells;
		t->widths = widths;
		t->cap = cap;
	}
	t->cells[t->ncells] = clean_text(text, &t->widths[t->ncells]);
	t->ncells++;
}

/* Adds a cell and frees text (for cells built with malloc). */
static void table_add_owned(struct table *t, char *text)
{
	table_add(t, text);
	free(text);
}

static void table_headers(struct table *t, const char *const *names)
{
	for (size_t i = 0; i < t->ncols; i++)
		table_add(t, names[i]);
}

static void table_print_free(struct table *t)
{
	size_t col[16] = { 0 };

	for (size_t i = 0; i < t->ncells; i++) {
		size_t c = i % t->ncols;

		if (t->widths[i] > col[c])
			col[c] = t->widths[i];
	}
	for (size_t i = 0; i < t->ncells; i++) {
		size_t c = i % t->ncols;
		bool last = c == t->ncols - 1;

		fputs(t->cells[i], stdout);
		if (!last)
			printf("%*s", (int)(col[c] - t->widths[i] + 2), "");
		else
			putchar('\n');
		free(t->cells[i]);
	}
	free(t->cells);
	free(t->widths);
}

/* Printers for each command's data */

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* One key/value line per scalar; nested objects as "key.sub" lines. The key's name picks the
 * format: *_s is a duration (shown without "_s"), *bytes* a size. */
static void kv_add(struct table *t, const char *prefix, const cJSON *v)
{
	char key[128], buf[96];
	const cJSON *it;

	snprintf(key, sizeof(key), "%s%s%.64s", prefix, *prefix ? "." : "", v->string);
	if (cJSON_IsObject(v)) {
		cJSON_ArrayForEach(it, v)
			kv_add(t, key, it);
		if (!v->child) {
			table_add(t, key);
			table_add(t, "-");
		}
		return;
	}
	if (cJSON_IsNumber(v) && has_suffix(key, "_s")) {
		key[strlen(key) - 2] = '\0';
		fmt_duration(v, buf, sizeof(buf));
	} else if (cJSON_IsNumber(v) && v->valuedouble < 0) {
		snprintf(buf, sizeof(buf), "-"); /* the daemon could not tell */
	} else if (cJSON_IsNumber(v) && strstr(key, "bytes")) {
		fmt_bytes(v, buf, sizeof(buf));
	} else if (cJSON_IsNumber(v)) {
		fmt_number(v, buf, sizeof(buf));
	} else if (cJSON_IsBool(v)) {
		snprintf(buf, sizeof(buf), "%s", cJSON_IsTrue(v) ? "yes" : "no");
	} else if (cJSON_IsString(v)) {
		table_add(t, key);
		table_add(t, v->valuestring);
		return;
	} else if (cJSON_IsArray(v)) {
		table_add(t, key);
		table_add_owned(t, join_strings(v, ", "));
		return;
	} else {
		snprintf(buf, sizeof(buf), "-");
	}
	table_add(t, key);
	table_add(t, buf);
}

/* Aligned key/value lines: the keys in order first, then whatever else the daemon sent. */
static void print_kv(const cJSON *d, const char *const *order)
{
	const cJSON *it;
	struct table t;
	size_t k;

	table_init(&t, 2);
	for (k = 0; order[k]; k++) {
		it = cJSON_GetObjectItemCaseSensitive(d, order[k]);
		if (it)
			kv_add(&t, "", it);
	}
	cJSON_ArrayForEach(it, d) {
		for (k = 0; order[k] && strcmp(order[k], it->string) != 0; k++)
			;
		if (!order[k])
			kv_add(&t, "", it);
	}
	table_print_free(&t);
}

static void print_status(const cJSON *d)
{
	static const char *const order[] = { "version", "uptime_s", "pid", "listeners", "sessions",
					     "waiting", "rooms", "streams", "connections", "memory",
					     NULL };

	print_kv(d, order);
}

static void print_stats(const cJSON *d)
{
	static const char *const order[] = { "sessions_started", "sessions_ended", "matches",
					     "messages_relayed", "requests", "bytes_in", "bytes_out",
					     "refusals", NULL };

	print_kv(d, order);
}

static void print_queues(const cJSON *d)
{
	static const char *const head[] = { "HANDLE", "NAME", "WAITED", "KIND", "ROOM", "INTERESTS" };
	const cJSON *it;
	struct table t;
	char buf[32];

	table_init(&t, 6);
	table_headers(&t, head);
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(d, "waiting")) {
		table_add(&t, str_field(it, "handle"));
		table_add(&t, str_field(it, "display_name"));
		fmt_duration(cJSON_GetObjectItemCaseSensitive(it, "waited_s"), buf, sizeof(buf));
		table_add(&t, buf);
		table_add(&t, str_field(it, "kind"));
		table_add(&t, str_field(it, "room_id"));
		table_add_owned(&t, join_strings(cJSON_GetObjectItemCaseSensitive(it, "interests"), ","));
	}
	table_print_free(&t);
}

static void print_rooms(const cJSON *d)
{
	static const char *const head[] = { "ROOM", "KIND", "AGE", "MESSAGES", "MEMBERS" };
	const cJSON *it;
	struct table t;
	char buf[32];

	table_init(&t, 5);
	table_headers(&t, head);
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(d, "rooms")) {
		table_add(&t, str_field(it, "room_id"));
		table_add(&t, str_field(it, "kind"));
		fmt_duration(cJSON_GetObjectItemCaseSensitive(it, "age_s"), buf, sizeof(buf));
		table_add(&t, buf);
		fmt_number(cJSON_GetObjectItemCaseSensitive(it, "messages"), buf, sizeof(buf));
		table_add(&t, buf);
		table_add_owned(&t, join_strings(cJSON_GetObjectItemCaseSensitive(it, "members"), ", "));
	}
	table_print_free(&t);
}

static void print_sessions(const cJSON *d)
{
	static const char *const head[] = { "HANDLE", "STATE", "ROOM", "IDLE", "STREAM", "MAILBOX" };
	const cJSON *it, *stream;
	struct table t;
	char buf[32];

	table_init(&t, 6);
	table_headers(&t, head);
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(d, "sessions")) {
		table_add(&t, str_field(it, "handle"));
		table_add(&t, str_field(it, "state"));
		table_add(&t, str_field(it, "room_id"));
		fmt_duration(cJSON_GetObjectItemCaseSensitive(it, "idle_s"), buf, sizeof(buf));
		table_add(&t, buf);
		stream = cJSON_GetObjectItemCaseSensitive(it, "stream");
		table_add(&t, cJSON_IsBool(stream) ? (cJSON_IsTrue(stream) ? "yes" : "no") : "-");
		fmt_number(cJSON_GetObjectItemCaseSensitive(it, "mailbox"), buf, sizeof(buf));
		table_add(&t, buf);
	}
	table_print_free(&t);
}

static void print_kick(const cJSON *d)
{
	const cJSON *kicked = cJSON_GetObjectItemCaseSensitive(d, "kicked");
	char *list = join_strings(kicked, ", ");
	char *shown = clean_text(list, NULL);

	printf("kicked %d session%s: %s\n", cJSON_GetArraySize(kicked),
	       cJSON_GetArraySize(kicked) == 1 ? "" : "s", shown);
	free(shown);
	free(list);
}

static void print_notify(const cJSON *d)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(d, "delivered");
	char buf[32];

	const cJSON *full = cJSON_GetObjectItemCaseSensitive(d, "mailbox_full");

	fmt_number(n, buf, sizeof(buf));
	printf("delivered to %s session%s", buf, cJSON_IsNumber(n) && n->valuedouble == 1 ? "" : "s");
	/* Sessions that must read their events first are refused, not silently skipped. */
	if (cJSON_IsNumber(full) && full->valuedouble > 0) {
		fmt_number(full, buf, sizeof(buf));
		printf("; refused for %s with a full mailbox (unread events)", buf);
	}
	printf("\n");
}

static void print_reload(const cJSON *d)
{
	const cJSON *later = cJSON_GetObjectItemCaseSensitive(d, "restart_needed");
	char *file = clean_text(str_field(d, "file"), NULL);

	printf("configuration reloaded from %s\n", file);
	if (cJSON_GetArraySize(later) > 0) {
		char *list = join_strings(later, ", ");
		char *shown = clean_text(list, NULL);

		printf("these need a restart to change: %s\n", shown);
		free(shown);
		free(list);
	}
	free(file);
}

/* Building requests */

static int build_none(const struct opts *o, cJSON *args)
{
	(void)args;
	if (o->npos > 0)
		return usage_error(o->command, "%s takes no arguments, not '%s'", o->command, o->pos[0]);
	return 0;
}

static int build_kick(const struct opts *o, cJSON *args)
{
	if (o->npos != 1)
		return usage_error("kick", o->npos ? "kick takes one HANDLE or ROOM"
						   : "kick needs a HANDLE or ROOM");
	if (!cJSON_AddStringToObject(args, "target", o->pos[0]) ||
	    (o->reason && !cJSON_AddStringToObject(args, "reason", o->reason)))
		die_oom();
	return 0;
}

static int build_notify(const struct opts *o, cJSON *args)
{
	int want = o->all ? 1 : 2; /* positional arguments before the optional JSON */
	cJSON *params;

	if (o->npos < want || o->npos > want + 1)
		return usage_error("notify", o->all ? "notify --all takes METHOD [JSON]"
						    : "notify takes HANDLE METHOD [JSON] or --all METHOD [JSON]");
	if (o->all ? !cJSON_AddTrueToObject(args, "all")
		   : !cJSON_AddStringToObject(args, "target", o->pos[0]))
		die_oom();
	if (!cJSON_AddStringToObject(args, "method", o->pos[want - 1]))
		die_oom();
	if (o->npos == want)
		return 0;
	params = cJSON_Parse(o->pos[want]);
	if (!cJSON_IsObject(params)) {
		cJSON_Delete(params);
		return usage_error("notify", "notify params must be a JSON object, like '{\"text\":\"hi\"}'");
	}
	cJSON_AddItemToObject(args, "params", params);
	return 0;
}

static const char usage_line[] =
	"Usage: " PROG " [--socket PATH] [--json] [--timeout SECONDS] COMMAND [ARGS]\n";

static const struct command commands[] = {
	{ "status", CTL_STATUS, "status", "the daemon: version, uptime, listeners, counts, memory",
	  "Shows the version, uptime, pid and listen addresses of mcp-chatd, how many sessions,\n"
	  "waiting sessions, rooms, push streams and connections it has, and its memory use.\n",
	  build_none, print_status },
	{ "queues", CTL_QUEUES, "queues", "sessions waiting for a partner or a named room",
	  "Lists waiting sessions: handle, display name, how long they waited, whether they wait\n"
	  "in the queue or for a named room (with its id), and their interests.\n",
	  build_none, print_queues },
	{ "rooms", CTL_ROOMS, "rooms", "open rooms: kind, age, message count, members",
	  "Lists open rooms: id, kind (queue or named), age, messages relayed so far and the\n"
	  "display names of the members. Message text is never shown.\n",
	  build_none, print_rooms },
	{ "sessions", CTL_SESSIONS, "sessions", "sessions by handle: state, room, idle time, stream",
	  "Lists sessions by handle (a short public id, never the session id): state (idle,\n"
	  "waiting or in_room), room, time since the last request, whether a push stream is open,\n"
	  "and how many events wait in the mailbox.\n",
	  build_none, print_sessions },
	{ "kick", CTL_KICK, "kick HANDLE|ROOM [--reason TEXT]", "end a session, or all in a room",
	  "Ends the session with this handle, or every session in the room with this id. Partners\n"
	  "are told the usual way. --reason TEXT (at most 200 characters) goes with it.\n"
	  "Prints the handles that were kicked.\n",
	  build_kick, print_kick },
	{ "notify", CTL_NOTIFY, "notify HANDLE|--all METHOD [JSON]", "send an MCP notification",
	  "Sends the MCP notification METHOD, with JSON (an object) as its params, to the session\n"
	  "with this handle, or with --all to every session. Prints how many got it.\n"
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
	      "when that does not exist, " SYSTEMD_SOCKET " (the systemd service).\n",
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
		return usage_error("help", "help takes at most one COMMAND");
	c = find_command(o->pos[0]);
	if (!c)
		return usage_error(NULL, "unknown command '%s'", o->pos[0]);
	print_command_help(c);
	return 0;
}

/* Options */

static int bad_option(int c, char **argv)
{
	const char *opt = argv[optind - 1];

	if (c == ':')
		return usage_error(NULL, "option '%s' needs a value", opt);
	if (optopt)
		return usage_error(NULL, "unknown option '-%c'", optopt);
	return usage_error(NULL, "unknown option '%s'", opt);
}

static int parse_timeout(const char *arg, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (errno || end == arg || *end || !(v > 0 && v <= 86400))
		return usage_error(NULL, "--timeout takes seconds, more than 0 and at most 86400, not '%s'",
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
		{ "all", no_argument, NULL, 'a' },           { NULL, 0, NULL, 0 },
	};
	bool version = false;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":s:jt:hVr:a", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (!*optarg)
				return usage_error(NULL, "--socket needs a path");
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
		return usage_error(NULL, "--reason is only for kick");
	if (o->all && strcmp(o->command, "notify") != 0)
		return usage_error(NULL, "--all is only for notify");
	return 0;
}

/* Talking to the daemon */

struct conn {
	const char *path; /* the path in use, for messages */
	int fd;
	double deadline, timeout_s;
	const char *cmd;
	bool quiet; /* failures are reported by the caller */
};

static const char *connect_hint(int err)
{
	switch (err) {
	case EACCES:
	case EPERM:
		return "the socket is for root, the daemon's user and its group only; use sudo or join "
		       "the group";
	case EAGAIN:
	case ETIMEDOUT:
		return "mcp-chatd is not accepting (too busy?); retry, or raise --timeout";
	default:
		return "is mcp-chatd running? check `systemctl status mcp-chat` or pass --socket PATH";
	}
}

/* 0 or an errno. SO_SNDTIMEO also bounds a connect that waits for a full backlog. */
static int try_connect(const char *path, double timeout_s, int *fd_out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = (time_t)timeout_s,
			      .tv_usec = (suseconds_t)((timeout_s - (double)(time_t)timeout_s) * 1e6) };
	int fd, err;

	if (strlen(path) >= sizeof(sa.sun_path))
		return ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	if (tv.tv_sec == 0 && tv.tv_usec == 0)
		tv.tv_usec = 1;
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = errno;
		close(fd);
		return err;
	}
	*fd_out = fd;
	return 0;
}

static int open_conn(const struct opts *o, struct conn *c, char *buf, size_t len)
{
	int err, err2;

	if (o->socket) {
		if (strlen(o->socket) >= len)
			return usage_error(NULL, "--socket path is longer than %zu bytes", len - 1);
		c->path = o->socket;
		err = try_connect(c->path, o->timeout_s, &c->fd);
	} else if (ctl_default_socket_path(buf, len) < 0) {
		fprintf(stderr, PROG ": the default control socket path (under $RUNTIME_DIRECTORY or "
				"$XDG_RUNTIME_DIR) is too long for a Unix socket; pass --socket PATH\n");
		return EXIT_UNREACHABLE;
	} else {
		c->path = buf;
		err = try_connect(c->path, o->timeout_s, &c->fd);
		/* An operator's shell lacks the service's RUNTIME_DIRECTORY: try systemd's path. */
		if (err == ENOENT && strcmp(buf, SYSTEMD_SOCKET) != 0) {
			err2 = try_connect(SYSTEMD_SOCKET, o->timeout_s, &c->fd);
			if (err2 != ENOENT) {
				c->path = SYSTEMD_SOCKET;
				err = err2;
			}
		}
	}
	if (!err)
		return 0;
	fprintf(stderr, PROG ": cannot connect to %s%s: %s; %s\n", c->path,
		!o->socket && err == ENOENT && c->path == buf && strcmp(buf, SYSTEMD_SOCKET) != 0
			? " (nor " SYSTEMD_SOCKET ")"
			: "",
		strerror(err), connect_hint(err));
	return EXIT_UNREACHABLE;
}

static int conn_fail(const struct conn *c, const char *what, int err)
{
	if (c->quiet)
		return EXIT_UNREACHABLE;
	if (err)
		fprintf(stderr, PROG ": %s: %s: %s\n", c->path, what, strerror(err));
	else
		fprintf(stderr, PROG ": %s: %s\n", c->path, what);
	return EXIT_UNREACHABLE;
}

static int send_line(const struct conn *c, const char *line)
{
	size_t len = strlen(line), off = 0;

	while (off < len) {
		ssize_t n = send(c->fd, line + off, len - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
			return -errno; /* it may have answered first, e.g. to refuse us */
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return conn_fail(c, "the request could not be sent within the timeout", 0);
		if (n < 0)
			return conn_fail(c, "cannot send the request", errno);
		off += (size_t)n;
	}
	return 0;
}

/* Waits for input until the deadline: 0 when readable, else an exit code. */
static int wait_readable(const struct conn *c)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	double left = c->deadline - now_s();
	int n;

	for (;;) {
		if (left <= 0)
			goto timeout;
		n = poll(&pfd, 1, (int)(left * 1000) + 1);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return conn_fail(c, "cannot wait for the answer", errno);
		left = c->deadline - now_s();
	}
timeout:
	if (c->quiet)
		return EXIT_UNREACHABLE;
	fprintf(stderr, PROG ": %s: no answer to %s within %g s; mcp-chatd may be busy or stuck; "
			"retry, or raise --timeout\n",
		c->path, c->cmd, c->timeout_s);
	return EXIT_UNREACHABLE;
}

/* Reads one line into *out (malloc'd, without the newline). */
static int read_line(const struct conn *c, char **out, size_t *out_len)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap), *nl = NULL, *grown;
	ssize_t n;
	int rc;

	if (!buf)
		die_oom();
	while (!nl) {
		rc = wait_readable(c);
		if (rc)
			goto fail;
		if (cap - len < 4096) {
			rc = cap >= MAX_RESPONSE ? conn_fail(c, "the answer is too large", 0) : 0;
			if (rc)
				goto fail;
			grown = realloc(buf, cap *= 2);
			if (!grown)
				die_oom();
			buf = grown;
		}
		n = read(c->fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = conn_fail(c, n < 0 ? "cannot read the answer"
				       : len ? "mcp-chatd closed the connection in the middle of its answer"
					     : "mcp-chatd closed the connection without answering",
				       n < 0 ? errno : 0);
			goto fail;
		}
		nl = memchr(buf + len, '\n', (size_t)n);
		len += (size_t)n;
	}
	*out = buf;
	*out_len = (size_t)(nl - buf);
	return 0;
fail:
	free(buf);
	return rc;
}

/* Sends the request line and decodes the answer into res. 0 or an exit code. */
static int exchange(const struct opts *o, const char *line, struct ctl_response *res)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct conn c = {
		.fd = -1, .deadline = now_s() + o->timeout_s, .timeout_s = o->timeout_s, .cmd = o->command
	};
	char *answer = NULL;
	size_t len = 0;
	int rc, err;

	rc = open_conn(o, &c, path, sizeof(path));
	if (rc)
		return rc;
	rc = send_line(&c, line);
	if (rc < 0) {
		err = -rc;
		c.quiet = true;
		rc = read_line(&c, &answer, &len);
		c.quiet = false;
		if (rc)
			rc = conn_fail(&c, "cannot send the request", err);
	} else if (rc == 0) {
		rc = read_line(&c, &answer, &len);
	}
	close(c.fd);
	if (rc)
		return rc;
	if (ctl_response_decode(answer, len, res) < 0)
		rc = conn_fail(&c, "mcp-chatd sent an answer that is not a control response", 0);
	free(answer);
	return rc;
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
		die_oom();
	rc = c->build(o, args);
	if (rc)
		goto fail;
	*line = ctl_request_encode((enum ctl_cmd)c->cmd, args);
	if (!*line)
		die_oom();
	if (ctl_request_decode(*line, strlen(*line), &req, &code, &msg) < 0) {
		char *shown = clean_text(msg, NULL);

		rc = usage_error(c->name, "%s", shown);
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
		code = clean_text(res->code, NULL);
		msg = clean_text(res->message, NULL);
		fprintf(stderr, PROG ": mcp-chatd refused %s: %s: %s\n", c->name, code, msg);
		free(code);
		free(msg);
		return EXIT_REFUSED;
	}
	if (o->json) {
		text = cJSON_Print(res->data);
		if (!text)
			die_oom();
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
	rc = exchange(o, line, &res);
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
		return usage_error(NULL, "no command given");
	}
	c = find_command(o.command);
	if (!c)
		return usage_error(NULL, "unknown command '%s'", o.command);
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
