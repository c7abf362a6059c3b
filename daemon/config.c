#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <ini.h>

#include "util/log.h"

void config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	strcpy(cfg->listen[0], "127.0.0.1:8808");
	strcpy(cfg->listen[1], "[::1]:8808");
	cfg->n_listen = 2;
	strcpy(cfg->allowed_hosts[0], "127.0.0.1");
	strcpy(cfg->allowed_hosts[1], "localhost");
	strcpy(cfg->allowed_hosts[2], "[::1]");
	cfg->n_allowed_hosts = 3;
	cfg->log_level = LOG_LVL_INFO;
	cfg->healthz = true;
	cfg->metrics = true;
	cfg->web = true;
	cfg->status_allow[0] = (struct config_net){ AF_INET, { 127 }, 8 };
	cfg->status_allow[1] = (struct config_net){ AF_INET6, { [15] = 1 }, 128 };
	cfg->n_status_allow = 2;

	cfg->max_head_bytes = 8 * 1024;
	cfg->max_body_bytes = 64 * 1024;
	cfg->max_send_queue = 256 * 1024;
	cfg->max_sessions = 100000;
	cfg->max_connections = 200000;

	cfg->head_timeout_ms = 10 * 1000;
	cfg->keepalive_timeout_ms = 60 * 1000;
	cfg->session_idle_timeout_ms = 120 * 1000;
	cfg->chat_idle_ms = 60 * 1000;
	cfg->reconnect_grace_ms = 15 * 1000;
	cfg->sse_keepalive_ms = 15 * 1000;
	cfg->shutdown_grace_ms = 3 * 1000;

	cfg->max_message_bytes = 4096;
	cfg->max_display_name_chars = 32;
	cfg->mailbox_events = 256;
	cfg->replay_window_bytes = 512 * 1024;
	cfg->rate_per_second = 5;
	cfg->rate_burst = 20;
	cfg->interest_fallback_ms = 10 * 1000;
	cfg->max_interests = 8;
	cfg->max_interest_chars = 24;
	strcpy(cfg->cluster_key_prefix, "mcpchat");
}

/* 1..max of [A-Za-z0-9_-]. */
static bool name_valid(const char *v, size_t max)
{
	size_t n = strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-");

	return n > 0 && n <= max && v[n] == '\0';
}

/* "unix:/absolute/path" (it must fit a sockaddr_un), or HOST:PORT with a port 1-65535 and a
 * host name or numeric address ("[v6]" bracketed). */
static bool redis_valid(const char *v)
{
	const char *colon;
	char *end;
	long port;

	if (strncmp(v, "unix:", 5) == 0)
		return v[5] == '/' && strlen(v + 5) < 108;
	if (v[0] == '[') {
		const char *close = strchr(v, ']');

		if (!close || close == v + 1 || close[1] != ':')
			return false;
		colon = close + 1;
	} else {
		colon = strrchr(v, ':');
		if (!colon || colon == v || memchr(v, ':', (size_t)(colon - v)))
			return false;
		for (const char *p = v; p < colon; p++)
			if (!(isalnum((unsigned char)*p) || *p == '.' || *p == '-' || *p == '_'))
				return false;
	}
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	return !errno && *end == '\0' && end != colon + 1 && port >= 1 && port <= 65535;
}

int config_set_node(struct config *cfg, const char *name)
{
	if (!name_valid(name, CONFIG_NODE_MAX))
		return -EINVAL;
	strcpy(cfg->cluster_node, name);
	return 0;
}

int config_set_redis(struct config *cfg, const char *addr)
{
	if (addr[0] && (!redis_valid(addr) || strlen(addr) >= sizeof(cfg->cluster_redis)))
		return -EINVAL;
	strcpy(cfg->cluster_redis, addr);
	return 0;
}

int config_read_secret(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	bool cut;
	size_t n;

	if (!f)
		return -errno;
	buf[0] = '\0';
	if (!fgets(buf, (int)len, f))
		buf[0] = '\0';
	n = strcspn(buf, "\r\n");
	/* No line end within len and more of the line to read: it does not fit. */
	if (buf[n] == '\0') {
		int next = fgetc(f);

		cut = next != EOF && next != '\n' && next != '\r';
	} else {
		cut = false;
	}
	fclose(f);
	if (cut) {
		memset(buf, 0, len);
		return -EINVAL;
	}
	buf[n] = '\0';
	return n ? (int)n : -EINVAL;
}

int config_finish(struct config *cfg, char *err, size_t errlen)
{
	char secret[512];
	int n;

	if (!cfg->cluster_redis[0])
		return 0;
	if (!cfg->cluster_node[0]) {
		char host[256] = "";
		size_t k;

		gethostname(host, sizeof(host) - 1);
		k = strspn(host, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-");
		host[k < CONFIG_NODE_MAX ? k : CONFIG_NODE_MAX] = '\0';
		strcpy(cfg->cluster_node, host[0] ? host : "node");
	}
	if (cfg->cluster_redis_user[0] && !cfg->cluster_password_file[0]) {
		snprintf(err, errlen, "[cluster] redis_user needs redis_password_file (its password)");
		return -EINVAL;
	}
	if (cfg->cluster_password_file[0]) {
		n = config_read_secret(cfg->cluster_password_file, secret, sizeof(secret));
		memset(secret, 0, sizeof(secret));
		if (n < 0) {
			snprintf(err, errlen, "[cluster] redis_password_file %s: %s",
				 cfg->cluster_password_file,
				 n == -EINVAL ? "empty, or its first line is over 511 bytes" : strerror(-n));
			return -EINVAL;
		}
	}
	return 0;
}

/* "1.2.3.4:80" or "[::1]:80": a numeric address and a decimal port 0-65535. */
static bool listen_valid(const char *addr, size_t len)
{
	const char *colon = memrchr(addr, ':', len);
	char host[INET6_ADDRSTRLEN + 2];
	unsigned char bin[16];
	size_t hl;
	long port = 0;
	bool v6;

	if (!colon || colon == addr || !colon[1] || colon[1 + strspn(colon + 1, "0123456789")])
		return false;
	if (strlen(colon + 1) > 5 || (port = strtol(colon + 1, NULL, 10)) > 65535)
		return false;
	hl = (size_t)(colon - addr);
	v6 = addr[0] == '[';
	if (v6) {
		if (hl < 3 || addr[hl - 1] != ']')
			return false;
		addr++;
		hl -= 2;
	}
	if (hl >= sizeof(host))
		return false;
	memcpy(host, addr, hl);
	host[hl] = '\0';
	return inet_pton(v6 ? AF_INET6 : AF_INET, host, bin) == 1;
}

int config_add_listen(struct config *cfg, const char *addr)
{
	if (strlen(addr) >= sizeof(cfg->listen[0]) || !listen_valid(addr, strlen(addr)))
		return -EINVAL;
	if (cfg->n_listen >= CONFIG_MAX_LISTEN)
		return -ENOSPC;
	strcpy(cfg->listen[cfg->n_listen++], addr);
	return 0;
}

/* Keys */

enum key_type { K_U32, K_SIZE, K_MS, K_DOUBLE, K_BOOL, K_STRING, K_LISTEN, K_HOSTS, K_NETS, K_LEVEL,
		K_NODE, K_REDIS, K_PREFIX };

struct key {
	const char *section, *name;
	enum key_type type;
	size_t offset;
	double min, max;
	bool live; /* SIGHUP applies it */
};

#define F(field) offsetof(struct config, field)

static const struct key keys[] = {
	{ "server", "listen", K_LISTEN, F(listen), 0, 0, false },
	{ "server", "allowed_hosts", K_HOSTS, F(allowed_hosts), 0, 0, true },
	{ "server", "max_connections", K_U32, F(max_connections), 16, 10000000, true },
	{ "server", "user", K_STRING, F(user), 0, sizeof(((struct config *)0)->user), false },
	{ "limits", "max_sessions", K_U32, F(max_sessions), 1, 10000000, true },
	{ "limits", "max_head_bytes", K_SIZE, F(max_head_bytes), 1024, 1 << 20, true },
	{ "limits", "max_body_bytes", K_SIZE, F(max_body_bytes), 1024, 16 << 20, true },
	{ "limits", "max_send_queue_bytes", K_SIZE, F(max_send_queue), 16384, 1 << 30, true },
	{ "limits", "max_message_bytes", K_SIZE, F(max_message_bytes), 1, 60000, true },
	{ "limits", "max_display_name_chars", K_U32, F(max_display_name_chars), 1, 256, true },
	{ "limits", "mailbox_events", K_U32, F(mailbox_events), 16, 4096, true },
	{ "limits", "replay_window_bytes", K_U32, F(replay_window_bytes), 0, 64 << 20, true },
	{ "limits", "rate_per_second", K_DOUBLE, F(rate_per_second), 0.001, 1e9, true },
	{ "limits", "rate_burst", K_DOUBLE, F(rate_burst), 1, 1e9, true },
	{ "limits", "max_interests", K_U32, F(max_interests), 0, 8, true },
	{ "limits", "max_interest_chars", K_U32, F(max_interest_chars), 1, 64, true },
	{ "timeouts", "head_s", K_MS, F(head_timeout_ms), 0.1, 3600, true },
	{ "timeouts", "keepalive_s", K_MS, F(keepalive_timeout_ms), 0.1, 86400, true },
	{ "timeouts", "session_idle_s", K_MS, F(session_idle_timeout_ms), 1, 86400, true },
	{ "timeouts", "chat_idle_s", K_MS, F(chat_idle_ms), 1, 86400, true },
	{ "timeouts", "reconnect_grace_s", K_MS, F(reconnect_grace_ms), 0.1, 86400, true },
	{ "timeouts", "sse_keepalive_s", K_MS, F(sse_keepalive_ms), 1, 3600, true },
	{ "timeouts", "interest_fallback_s", K_MS, F(interest_fallback_ms), 0, 3600, true },
	{ "timeouts", "shutdown_grace_s", K_MS, F(shutdown_grace_ms), 0, 60, true },
	{ "control", "socket", K_STRING, F(control_socket), 0, sizeof(((struct config *)0)->control_socket), false },
	{ "control", "group", K_STRING, F(control_group), 0, sizeof(((struct config *)0)->control_group), false },
	{ "log", "level", K_LEVEL, F(log_level), 0, 0, true },
	{ "status", "healthz", K_BOOL, F(healthz), 0, 0, true },
	{ "status", "metrics", K_BOOL, F(metrics), 0, 0, true },
	{ "status", "allow", K_NETS, F(status_allow), 0, 0, true },
	{ "web", "enabled", K_BOOL, F(web), 0, 0, true },
	{ "cluster", "redis", K_REDIS, F(cluster_redis), 0, 0, false },
	{ "cluster", "node", K_NODE, F(cluster_node), 0, 0, false },
	{ "cluster", "redis_user", K_STRING, F(cluster_redis_user), 0, sizeof(((struct config *)0)->cluster_redis_user), false },
	{ "cluster", "redis_password_file", K_STRING, F(cluster_password_file), 0, sizeof(((struct config *)0)->cluster_password_file), false },
	{ "cluster", "key_prefix", K_PREFIX, F(cluster_key_prefix), 0, 0, false },
};

#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

/* Values */

static int parse_double(const char *v, double min, double max, double *out)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(v, &end);
	if (errno || end == v || *end || !isfinite(d) || d < min || d > max)
		return -EINVAL;
	*out = d;
	return 0;
}

static int parse_bool(const char *v, bool *out)
{
	if (!strcasecmp(v, "on") || !strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcmp(v, "1"))
		*out = true;
	else if (!strcasecmp(v, "off") || !strcasecmp(v, "no") || !strcasecmp(v, "false") || !strcmp(v, "0"))
		*out = false;
	else
		return -EINVAL;
	return 0;
}

/* "127.0.0.0/8", "::1", "10.1.2.3" */
static int parse_net(const char *v, struct config_net *n)
{
	char addr[64];
	const char *slash = strchr(v, '/');
	size_t len = slash ? (size_t)(slash - v) : strlen(v);
	double prefix;

	if (len >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, v, len);
	addr[len] = '\0';
	memset(n, 0, sizeof(*n));
	if (inet_pton(AF_INET, addr, n->addr) == 1)
		n->family = AF_INET;
	else if (inet_pton(AF_INET6, addr, n->addr) == 1)
		n->family = AF_INET6;
	else
		return -EINVAL;
	n->prefix = n->family == AF_INET ? 32 : 128;
	if (slash) {
		if (parse_double(slash + 1, 0, n->prefix, &prefix) < 0 || prefix != floor(prefix))
			return -EINVAL;
		n->prefix = (uint8_t)prefix;
	}
	return 0;
}

/* Space- or comma-separated words, each handed to fn; -EINVAL/-ENOSPC from fn stops it. */
static int each_word(const char *v, int (*fn)(struct config *, const char *), struct config *cfg)
{
	char word[160];

	while (*v) {
		size_t n = strcspn(v, " \t,");

		if (n >= sizeof(word))
			return -EINVAL;
		if (n) {
			int err;

			memcpy(word, v, n);
			word[n] = '\0';
			if ((err = fn(cfg, word)) < 0)
				return err;
		}
		v += n;
		v += strspn(v, " \t,");
	}
	return 0;
}

static int add_host(struct config *cfg, const char *h)
{
	if (cfg->n_allowed_hosts >= CONFIG_MAX_ALLOWED)
		return -ENOSPC;
	if (strlen(h) >= sizeof(cfg->allowed_hosts[0]))
		return -EINVAL;
	strcpy(cfg->allowed_hosts[cfg->n_allowed_hosts++], h);
	return 0;
}

static int add_net(struct config *cfg, const char *v)
{
	struct config_net n;

	if (cfg->n_status_allow >= CONFIG_MAX_ALLOWED)
		return -ENOSPC;
	if (parse_net(v, &n) < 0)
		return -EINVAL;
	cfg->status_allow[cfg->n_status_allow++] = n;
	return 0;
}

static int add_listen(struct config *cfg, const char *v)
{
	return config_add_listen(cfg, v);
}

/* Sets one key; on error *why says what a valid value looks like. */
static int set_key(struct config *cfg, const struct key *k, const char *v, bool append,
		   const char **why)
{
	char *field = (char *)cfg + k->offset;
	double d;
	int err;

	switch (k->type) {
	case K_U32:
	case K_SIZE:
	case K_MS:
		*why = k->type == K_MS ? "a number of seconds" : "a whole number";
		if (parse_double(v, k->min, k->max, &d) < 0 || (k->type != K_MS && d != floor(d)))
			return -EINVAL;
		if (k->type == K_U32)
			*(uint32_t *)field = (uint32_t)d;
		else if (k->type == K_SIZE)
			*(size_t *)field = (size_t)d;
		else
			*(uint32_t *)field = (uint32_t)llround(d * 1000);
		return 0;
	case K_DOUBLE:
		*why = "a number";
		return parse_double(v, k->min, k->max, (double *)field);
	case K_BOOL:
		*why = "on or off";
		return parse_bool(v, (bool *)field);
	case K_STRING:
		*why = "a shorter value";
		if (strlen(v) >= (size_t)k->max)
			return -EINVAL;
		strcpy(field, v);
		return 0;
	case K_LEVEL:
		*why = "error, warning, notice, info or debug";
		return log_level_parse(v, (enum log_level *)field);
	case K_NODE:
		*why = "1-16 of A-Z a-z 0-9 _ -";
		return config_set_node(cfg, v);
	case K_REDIS:
		*why = "HOST:PORT, [IPv6]:PORT or unix:/path (empty: a single node)";
		return config_set_redis(cfg, v);
	case K_PREFIX:
		*why = "1-31 of A-Z a-z 0-9 _ -";
		if (!name_valid(v, sizeof(cfg->cluster_key_prefix) - 1))
			return -EINVAL;
		strcpy(field, v);
		return 0;
	case K_LISTEN:
		*why = "ADDR:PORT words such as 127.0.0.1:8808 [::1]:8808 (at most 8)";
		if (!append)
			cfg->n_listen = 0;
		err = each_word(v, add_listen, cfg);
		return err < 0 ? err : cfg->n_listen ? 0 : -EINVAL;
	case K_HOSTS:
		*why = "host names such as localhost 127.0.0.1 [::1] (at most 16)";
		if (!append)
			cfg->n_allowed_hosts = 0;
		return each_word(v, add_host, cfg);
	case K_NETS:
		*why = "addresses or networks such as 127.0.0.0/8 ::1 10.0.0.0/8 (at most 16)";
		if (!append)
			cfg->n_status_allow = 0;
		return each_word(v, add_net, cfg);
	}
	return -EINVAL;
}

struct load {
	struct config *cfg;
	const char *path;
	FILE *f;
	int line;
	char *err;
	size_t errlen;
	bool failed;
	int fail_line;  /* the line of the first key error */
	int read_errno; /* the file could not be read */
	bool too_long;  /* a line did not fit inih's buffer */
	const struct key *last; /* the key of the previous line: an indented line continues it */
	bool indented;          /* the line just read starts with white space */
};

static int on_key(void *user, const char *section, const char *name, const char *value)
{
	struct load *l = user;
	const char *why = NULL;

	if (l->failed)
		return 1;
	for (size_t i = 0; i < N_KEYS; i++) {
		if (strcmp(keys[i].section, section) != 0 || strcmp(keys[i].name, name) != 0)
			continue;
		bool append = l->indented && l->last == &keys[i];

		l->last = &keys[i];
		if (set_key(l->cfg, &keys[i], value, append, &why) == 0)
			return 1;
		l->fail_line = l->line;
		if (keys[i].type == K_U32 || keys[i].type == K_SIZE || keys[i].type == K_MS ||
		    keys[i].type == K_DOUBLE)
			snprintf(l->err, l->errlen, "%s:%d: bad value for %s in [%s]: expected %s from %.15g to %.15g",
				 l->path, l->line, name, section, why, keys[i].min, keys[i].max);
		else
			snprintf(l->err, l->errlen, "%s:%d: bad value for %s in [%s]: expected %s",
				 l->path, l->line, name, section, why);
		l->failed = true;
		return 0;
	}
	snprintf(l->err, l->errlen, "%s:%d: unknown key %s in [%s] (see mcp-chatd(8))", l->path,
		 l->line, name, section);
	l->fail_line = l->line;
	l->failed = true;
	return 0;
}

/* fgets that counts lines, so every error names its line, and that stops at a line too long
 * for inih (which would otherwise read its tail as a line of its own). */
static char *read_line(char *str, int num, void *stream)
{
	struct load *l = stream;
	char *r;

	if (l->too_long)
		return NULL;
	r = fgets(str, num, l->f);
	if (!r) {
		if (ferror(l->f))
			l->read_errno = errno ? errno : EIO;
		return NULL;
	}
	l->line++;
	l->indented = str[0] == ' ' || str[0] == '\t';
	if (!strchr(str, '\n') && !feof(l->f)) {
		l->too_long = true;
		return NULL;
	}
	return r;
}

int config_load(struct config *cfg, const char *path, char *err, size_t errlen)
{
	struct load l = { cfg, path, fopen(path, "r"), 0, err, errlen, false, 0, 0, false, NULL, false };
	int rc;

	if (!l.f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	rc = ini_parse_stream(read_line, &l, on_key, &l);
	fclose(l.f);
	if (l.read_errno) {
		snprintf(err, errlen, "%s: %s", path, strerror(l.read_errno));
		return -l.read_errno;
	}
	if (l.too_long && (!l.failed || l.line < l.fail_line)) {
		snprintf(err, errlen, "%s:%d: line longer than %d characters", path, l.line,
			 INI_MAX_LINE - 2);
		return -EINVAL;
	}
	/* inih goes on after a syntax error: report whichever error came first. */
	if (rc > 0 && (!l.failed || rc < l.fail_line))
		snprintf(err, errlen, "%s:%d: not a [section] or key = value line", path, rc);
	else if (!l.failed)
		return 0;
	return -EINVAL;
}

void config_reload(struct config *cur, const struct config *next, char *note, size_t notelen)
{
	size_t used = 0;

	note[0] = '\0';
	for (size_t i = 0; i < N_KEYS; i++) {
		const struct key *k = &keys[i];

		if (k->live)
			continue;
		if (k->type == K_LISTEN
			    ? cur->n_listen != next->n_listen ||
				      memcmp(cur->listen, next->listen, sizeof(cur->listen)) != 0
			    : strcmp((const char *)cur + k->offset, (const char *)next + k->offset) != 0) {
			int n = snprintf(note + used, notelen - used, "%s[%s] %s", used ? ", " : "",
					 k->section, k->name);
			if (n > 0 && (size_t)n < notelen - used)
				used += (size_t)n;
		}
	}
	/* Everything else may change live: copy it, keeping what needs a restart. */
	{
		struct config keep = *cur;

		*cur = *next;
		memcpy(cur->listen, keep.listen, sizeof(keep.listen));
		cur->n_listen = keep.n_listen;
		strcpy(cur->user, keep.user);
		strcpy(cur->control_socket, keep.control_socket);
		strcpy(cur->control_group, keep.control_group);
		strcpy(cur->cluster_redis, keep.cluster_redis);
		strcpy(cur->cluster_node, keep.cluster_node);
		strcpy(cur->cluster_redis_user, keep.cluster_redis_user);
		strcpy(cur->cluster_password_file, keep.cluster_password_file);
		strcpy(cur->cluster_key_prefix, keep.cluster_key_prefix);
	}
}

static bool net_match(const struct config_net *n, const uint8_t *addr)
{
	size_t full = n->prefix / 8;
	unsigned rest = n->prefix % 8;

	if (memcmp(n->addr, addr, full) != 0)
		return false;
	return !rest || ((n->addr[full] ^ addr[full]) & (0xFF << (8 - rest))) == 0;
}

bool config_status_allowed(const struct config *cfg, const void *sockaddr)
{
	const struct sockaddr_in *s4 = sockaddr;
	const struct sockaddr_in6 *s6 = sockaddr;
	uint8_t mapped[4];

	for (int i = 0; i < cfg->n_status_allow; i++) {
		const struct config_net *n = &cfg->status_allow[i];

		if (s4->sin_family == AF_INET && n->family == AF_INET &&
		    net_match(n, (const uint8_t *)&s4->sin_addr))
			return true;
		if (s6->sin6_family != AF_INET6)
			continue;
		if (n->family == AF_INET6 && net_match(n, s6->sin6_addr.s6_addr))
			return true;
		/* An IPv4 peer on a dual-stack socket arrives as ::ffff:a.b.c.d. */
		if (n->family == AF_INET && IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			memcpy(mapped, s6->sin6_addr.s6_addr + 12, 4);
			if (net_match(n, mapped))
				return true;
		}
	}
	return false;
}
