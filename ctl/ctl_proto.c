/* The control protocol: request and response lines, strict validation, the socket path. Linked
 * into both mcp-chatd and mcpchatctl, so it never prints, exits or keeps state between calls. */
#include <mcpchat/ctl_proto.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/utf8.h"

#define TARGET_MAX_CHARS 64
#define REASON_MAX_CHARS 200
#define METHOD_MAX_CHARS 128

static const char *const cmd_names[CTL_CMD_COUNT] = {
	[CTL_STATUS] = "status", [CTL_QUEUES] = "queues", [CTL_ROOMS] = "rooms",
	[CTL_SESSIONS] = "sessions", [CTL_KICK] = "kick", [CTL_NOTIFY] = "notify",
	[CTL_STATS] = "stats", [CTL_RELOAD] = "reload", [CTL_NODES] = "nodes",
};

static const char *const no_args_msg[CTL_CMD_COUNT] = {
	[CTL_STATUS] = "status takes no arguments",
	[CTL_STATS] = "stats takes no arguments",
	[CTL_RELOAD] = "reload takes no arguments",
	[CTL_NODES] = "nodes takes no arguments",
};

const char *ctl_cmd_name(enum ctl_cmd cmd)
{
	if ((unsigned)cmd >= CTL_CMD_COUNT)
		return NULL;
	return cmd_names[cmd];
}

int ctl_cmd_parse(const char *name)
{
	if (!name)
		return -1;
	for (int i = 0; i < CTL_CMD_COUNT; i++) {
		if (strcmp(name, cmd_names[i]) == 0)
			return i;
	}
	return -1;
}

/* Text helpers */

/* Code points in s, or -1 when s is not valid UTF-8 or holds a control character (C0, DEL,
 * C1): these strings reach logs, terminals and other people's clients. */
static long text_chars(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t left = strlen(s);
	long n = 0;

	while (left > 0) {
		size_t k = utf8_seq_len(p, left);

		/* C0 and DEL are single bytes; C1 (U+0080..U+009F) is C2 80..C2 9F. */
		if (!k || (k == 1 && (*p < 0x20 || *p == 0x7f)) || (k == 2 && p[0] == 0xc2 && p[1] < 0xa0))
			return -1;
		p += k;
		left -= k;
		n++;
	}
	return n;
}

/* cJSON decodes "\u0000" into a NUL that silently cuts the string short; refuse it instead. */
static bool has_escaped_nul(const char *s, size_t len)
{
	for (size_t i = 1; i + 4 < len; i++) {
		size_t slashes = 0;

		if (s[i] != 'u' || memcmp(s + i + 1, "0000", 4) != 0)
			continue;
		while (slashes < i && s[i - 1 - slashes] == '\\')
			slashes++;
		if (slashes % 2 == 1)
			return true;
	}
	return false;
}

static bool only_space(const char *p, const char *end)
{
	for (; p < end; p++) {
		if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
			return false;
	}
	return true;
}

/* One JSON value spanning the whole line; NULL when it is not. */
static cJSON *parse_whole(const char *s, size_t len)
{
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(s, len, &end, false);

	if (root && (!end || !only_space(end, s + len))) {
		cJSON_Delete(root);
		return NULL;
	}
	return root;
}

/* Allocates only through cJSON's hooks, so the program's policy applies: in mcp-chatd they
 * abort on failure (jsonrpc_init), in mcpchatctl NULL comes back and it calls cli_oom(). */
static char *print_line(const cJSON *root)
{
	char *s = cJSON_PrintUnformatted(root);
	size_t n;
	char *line;

	if (!s)
		return NULL;
	n = strlen(s);
	line = cJSON_malloc(n + 2);
	if (line)
		memcpy(line, s, n);
	cJSON_free(s);
	if (!line)
		return NULL;
	line[n] = '\n';
	line[n + 1] = '\0';
	return line;
}

/* Adds item under key (nothing when key is NULL), prints root as one line and frees both.
 * Takes root and item; NULL for either where one is needed (a failed allocation) gives NULL
 * with errno ENOMEM. The caller frees the line. */
static char *finish_line(cJSON *root, const char *key, cJSON *item)
{
	char *line = NULL;

	if (root && (!key || (item && cJSON_AddItemToObject(root, key, item)))) {
		line = print_line(root);
		item = NULL;
	}
	cJSON_Delete(item);
	cJSON_Delete(root);
	if (!line)
		errno = ENOMEM;
	return line;
}

/* Requests */

char *ctl_request_encode(enum ctl_cmd cmd, const cJSON *args)
{
	const char *name = ctl_cmd_name(cmd);
	cJSON *root;

	if (!name || (args && !cJSON_IsObject(args))) {
		errno = EINVAL;
		return NULL;
	}
	root = cJSON_CreateObject();
	if (root && !cJSON_AddStringToObject(root, "cmd", name)) {
		cJSON_Delete(root);
		root = NULL;
	}
	return finish_line(root, args ? "args" : NULL, args ? cJSON_Duplicate(args, true) : NULL);
}

struct derr {
	const char *code;
	const char *message;
	char unknown[160]; /* "unknown command ..." names what was sent */
};

static int fail_with(struct derr *e, int err, const char *code, const char *message)
{
	e->code = code;
	e->message = message;
	return err;
}

static int bad_request(struct derr *e, const char *message)
{
	return fail_with(e, -EBADMSG, "bad_request", message);
}

static int bad_args(struct derr *e, const char *message)
{
	return fail_with(e, -EINVAL, "bad_arguments", message);
}

static int unknown_command(struct derr *e, const char *name)
{
	char shown[40];
	size_t i;

	/* The name goes back into a response and onto a terminal: keep it short and printable. */
	for (i = 0; name[i] && i < 32; i++) {
		unsigned char c = (unsigned char)name[i];

		shown[i] = c >= 0x20 && c < 0x7f && c != '"' && c != '\\' ? (char)c : '?';
	}
	strcpy(shown + i, name[i] ? "..." : "");
	snprintf(e->unknown, sizeof(e->unknown),
		 "unknown command \"%s\"; try status, queues, rooms, sessions, kick, notify, stats, reload or nodes",
		 shown);
	return fail_with(e, -EOPNOTSUPP, "unknown_command", e->unknown);
}

/* Every member of obj is one of the names (NULL-terminated), each at most once. */
static bool only_members(const cJSON *obj, const char *const *names)
{
	for (const cJSON *it = obj->child; it; it = it->next) {
		size_t k;

		for (k = 0; names[k] && strcmp(it->string, names[k]) != 0; k++)
			;
		if (!names[k])
			return false;
		for (const cJSON *o = obj->child; o != it; o = o->next) {
			if (strcmp(o->string, it->string) == 0)
				return false;
		}
	}
	return true;
}

static int check_kick(const cJSON *args, struct derr *e)
{
	static const char *const allowed[] = { "target", "reason", NULL };
	const cJSON *target = cJSON_GetObjectItemCaseSensitive(args, "target");
	const cJSON *reason = cJSON_GetObjectItemCaseSensitive(args, "reason");
	long n;

	if (!only_members(args, allowed))
		return bad_args(e, "kick takes only \"target\" and \"reason\", each at most once");
	if (!cJSON_IsString(target))
		return bad_args(e, "kick needs \"target\" (a handle or room id)");
	n = text_chars(target->valuestring);
	if (n < 0)
		return bad_args(e, "kick \"target\" must be printable UTF-8 text");
	if (n < 1 || n > TARGET_MAX_CHARS)
		return bad_args(e, "kick \"target\" must be 1 to 64 characters");
	if (!reason)
		return 0;
	if (!cJSON_IsString(reason))
		return bad_args(e, "kick \"reason\" must be a string");
	n = text_chars(reason->valuestring);
	if (n < 0)
		return bad_args(e, "kick \"reason\" must be printable UTF-8 text without control characters");
	if (n > REASON_MAX_CHARS)
		return bad_args(e, "kick \"reason\" must be at most 200 characters");
	return 0;
}

static int check_notify_target(const cJSON *args, struct derr *e)
{
	const cJSON *target = cJSON_GetObjectItemCaseSensitive(args, "target");
	const cJSON *all = cJSON_GetObjectItemCaseSensitive(args, "all");
	long n;

	if (all && !cJSON_IsBool(all))
		return bad_args(e, "notify \"all\" must be true or false");
	if (target && cJSON_IsTrue(all))
		return bad_args(e, "notify takes either \"target\" or \"all\": true, not both");
	if (cJSON_IsTrue(all))
		return 0;
	if (!target)
		return bad_args(e, "notify needs \"target\" (a handle) or \"all\": true");
	if (!cJSON_IsString(target))
		return bad_args(e, "notify \"target\" must be a string (a handle)");
	n = text_chars(target->valuestring);
	if (n < 0)
		return bad_args(e, "notify \"target\" must be printable UTF-8 text");
	if (n < 1 || n > TARGET_MAX_CHARS)
		return bad_args(e, "notify \"target\" must be 1 to 64 characters");
	return 0;
}

static int check_notify(const cJSON *args, struct derr *e)
{
	static const char *const allowed[] = { "target", "all", "method", "params", NULL };
	const cJSON *method = cJSON_GetObjectItemCaseSensitive(args, "method");
	const cJSON *params = cJSON_GetObjectItemCaseSensitive(args, "params");
	long n;
	int err;

	if (!only_members(args, allowed))
		return bad_args(e, "notify takes only \"target\" or \"all\", \"method\" and \"params\", "
				   "each at most once");
	err = check_notify_target(args, e);
	if (err)
		return err;
	if (!cJSON_IsString(method))
		return bad_args(e, "notify needs \"method\" (the notification method name)");
	n = text_chars(method->valuestring);
	if (n < 0)
		return bad_args(e, "notify \"method\" must be printable UTF-8 text");
	if (n < 1 || n > METHOD_MAX_CHARS)
		return bad_args(e, "notify \"method\" must be 1 to 128 characters");
	/* Method names are identifiers: letters, digits and . _ / - (as MCP's own are). */
	if (method->valuestring[strspn(method->valuestring, "abcdefghijklmnopqrstuvwxyz"
				       "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._/-")])
		return bad_args(e, "notify \"method\" may hold only letters, digits and . _ / -");
	if (params && !cJSON_IsObject(params))
		return bad_args(e, "notify \"params\" must be an object");
	return 0;
}

/* rooms, queues, sessions: {"cluster": bool} at most (true: the whole cluster's, from Redis). */
static int check_list(enum ctl_cmd cmd, const cJSON *args, struct derr *e)
{
	static const char *const allowed[] = { "cluster", NULL };
	static const char *const msgs[CTL_CMD_COUNT] = {
		[CTL_QUEUES] = "queues takes only \"cluster\" (true or false)",
		[CTL_ROOMS] = "rooms takes only \"cluster\" (true or false)",
		[CTL_SESSIONS] = "sessions takes only \"cluster\" (true or false)",
	};
	const cJSON *cluster = cJSON_GetObjectItemCaseSensitive(args, "cluster");

	if (!only_members(args, allowed) || (cluster && !cJSON_IsBool(cluster)))
		return bad_args(e, msgs[cmd]);
	return 0;
}

static int check_args(enum ctl_cmd cmd, const cJSON *args, struct derr *e)
{
	switch (cmd) {
	case CTL_QUEUES:
	case CTL_ROOMS:
	case CTL_SESSIONS:
		return check_list(cmd, args, e);
	case CTL_KICK:
		return check_kick(args, e);
	case CTL_NOTIFY:
		return check_notify(args, e);
	default:
		return args->child ? bad_args(e, no_args_msg[cmd]) : 0;
	}
}

/* The line without its newline, or an error for lines that cannot be a request. */
static int request_text(const char *line, size_t len, size_t *text_len, struct derr *e)
{
	bool has_nl = len > 0 && line[len - 1] == '\n';

	/* The limit counts the newline, whether or not the caller kept it. */
	if (len + (has_nl ? 0 : 1) > CTL_MAX_REQUEST)
		return fail_with(e, -EMSGSIZE, "too_large", "request line is longer than 64 KiB (65536 bytes with its newline)");
	if (has_nl)
		len--;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (only_space(line, line + len))
		return bad_request(e, "request is empty; send one JSON object per line");
	if (memchr(line, '\0', len))
		return bad_request(e, "request contains a NUL byte");
	if (has_escaped_nul(line, len))
		return bad_request(e, "request contains \\u0000, which no field may hold");
	/* Whatever it carries (notify params) reaches clients: it must be UTF-8. */
	if (!utf8_valid(line, len, NULL))
		return bad_request(e, "request is not valid UTF-8");
	*text_len = len;
	return 0;
}

/* Checks the envelope and detaches args (an empty object when absent) into *args. */
static int request_envelope(cJSON *root, enum ctl_cmd *cmd, cJSON **args, struct derr *e)
{
	static const char *const allowed[] = { "cmd", "args", NULL };
	const cJSON *name;
	cJSON *a;
	int c;

	if (!cJSON_IsObject(root))
		return bad_request(e, "request must be a JSON object like {\"cmd\":\"status\"}");
	if (!only_members(root, allowed))
		return bad_request(e, "request may have only \"cmd\" and \"args\", each at most once");
	name = cJSON_GetObjectItemCaseSensitive(root, "cmd");
	if (!name)
		return bad_request(e, "request needs \"cmd\" (a command name such as \"status\")");
	if (!cJSON_IsString(name))
		return bad_request(e, "\"cmd\" must be a string");
	c = ctl_cmd_parse(name->valuestring);
	if (c < 0)
		return unknown_command(e, name->valuestring);
	a = cJSON_GetObjectItemCaseSensitive(root, "args");
	if (a && !cJSON_IsObject(a))
		return bad_request(e, "\"args\" must be an object");
	*args = a ? cJSON_DetachItemViaPointer(root, a) : cJSON_CreateObject();
	if (!*args)
		return fail_with(e, -ENOMEM, "internal", "out of memory");
	*cmd = (enum ctl_cmd)c;
	return 0;
}

int ctl_request_decode(const char *line, size_t len, struct ctl_request *req, const char **code,
		       const char **message)
{
	/* Messages naming the unknown command outlive this call; one per thread. */
	static _Thread_local struct derr e;
	cJSON *root = NULL, *args = NULL;
	enum ctl_cmd cmd = CTL_STATUS;
	size_t text_len = 0;
	int err;

	req->args = NULL;
	err = request_text(line, len, &text_len, &e);
	if (err)
		goto fail;
	root = parse_whole(line, text_len);
	if (!root) {
		err = bad_request(&e, "request is not valid JSON");
		goto fail;
	}
	err = request_envelope(root, &cmd, &args, &e);
	if (err)
		goto fail;
	err = check_args(cmd, args, &e);
	if (err)
		goto fail;
	cJSON_Delete(root);
	req->cmd = cmd;
	req->args = args;
	return 0;
fail:
	cJSON_Delete(args);
	cJSON_Delete(root);
	*code = e.code;
	*message = e.message;
	return err;
}

void ctl_request_free(struct ctl_request *req)
{
	if (!req)
		return;
	cJSON_Delete(req->args);
	req->args = NULL;
}

/* Responses */

char *ctl_response_ok(const cJSON *data)
{
	cJSON *root;

	if (data && !cJSON_IsObject(data)) {
		errno = EINVAL;
		return NULL;
	}
	root = cJSON_CreateObject();
	if (root && !cJSON_AddTrueToObject(root, "ok")) {
		cJSON_Delete(root);
		root = NULL;
	}
	return finish_line(root, "data", data ? cJSON_Duplicate(data, true) : cJSON_CreateObject());
}

char *ctl_response_error(const char *code, const char *message)
{
	cJSON *root, *err;
	char *line;

	if (!code || !*code || !message) {
		errno = EINVAL;
		return NULL;
	}
	root = cJSON_CreateObject();
	if (!root || !cJSON_AddFalseToObject(root, "ok"))
		goto fail;
	err = cJSON_AddObjectToObject(root, "error");
	if (!err || !cJSON_AddStringToObject(err, "code", code) ||
	    !cJSON_AddStringToObject(err, "message", message))
		goto fail;
	line = print_line(root);
	cJSON_Delete(root);
	return line;
fail:
	cJSON_Delete(root);
	errno = ENOMEM;
	return NULL;
}

/* Fills res from a parsed root; false when root is not a response. */
static bool response_fields(cJSON *root, struct ctl_response *res)
{
	static const char *const ok_members[] = { "ok", "data", NULL };
	static const char *const err_members[] = { "ok", "error", NULL };
	static const char *const error_members[] = { "code", "message", NULL };
	const cJSON *ok = cJSON_GetObjectItemCaseSensitive(root, "ok");
	cJSON *data, *error;
	const cJSON *code, *message;

	if (!cJSON_IsObject(root) || !cJSON_IsBool(ok))
		return false;
	if (cJSON_IsTrue(ok)) {
		data = cJSON_GetObjectItemCaseSensitive(root, "data");
		if (!only_members(root, ok_members) || !cJSON_IsObject(data))
			return false;
		res->ok = true;
		res->data = data;
		return true;
	}
	error = cJSON_GetObjectItemCaseSensitive(root, "error");
	if (!only_members(root, err_members) || !cJSON_IsObject(error) ||
	    !only_members(error, error_members))
		return false;
	code = cJSON_GetObjectItemCaseSensitive(error, "code");
	message = cJSON_GetObjectItemCaseSensitive(error, "message");
	if (!cJSON_IsString(code) || !*code->valuestring || !cJSON_IsString(message))
		return false;
	res->code = code->valuestring;
	res->message = message->valuestring;
	return true;
}

int ctl_response_decode(const char *line, size_t len, struct ctl_response *res)
{
	cJSON *root;

	memset(res, 0, sizeof(*res));
	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len == 0 || memchr(line, '\0', len))
		return -EINVAL;
	root = parse_whole(line, len);
	if (!root)
		return -EINVAL;
	if (!response_fields(root, res)) {
		cJSON_Delete(root);
		memset(res, 0, sizeof(*res));
		return -EINVAL;
	}
	res->root = root;
	return 0;
}

void ctl_response_free(struct ctl_response *res)
{
	if (!res)
		return;
	cJSON_Delete(res->root);
	memset(res, 0, sizeof(*res));
}

/* The socket path */

/* An environment directory worth using: set, absolute. RUNTIME_DIRECTORY may list several
 * directories separated by ':'; the first is ours. */
static size_t env_dir(const char *name, const char **dir)
{
	const char *v = getenv(name);

	if (!v || v[0] != '/')
		return 0;
	*dir = v;
	return strcspn(v, ":");
}

int ctl_default_socket_path(char *buf, size_t len)
{
	const char *dir = NULL;
	size_t n;
	int w;

	if (!buf || len == 0)
		return -ENAMETOOLONG;
	if ((n = env_dir("RUNTIME_DIRECTORY", &dir)) > 0)
		w = snprintf(buf, len, "%.*s/control.sock", (int)n, dir);
	else if ((n = env_dir("XDG_RUNTIME_DIR", &dir)) > 0)
		w = snprintf(buf, len, "%s/mcp-chat/control.sock", dir);
	else
		w = snprintf(buf, len, "/tmp/mcp-chat-%u/control.sock", (unsigned)getuid());
	if (w < 0 || (size_t)w >= len) {
		buf[0] = '\0';
		return -ENAMETOOLONG;
	}
	return 0;
}
