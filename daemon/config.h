#ifndef MCPCHAT_CONFIG_H
#define MCPCHAT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_MAX_LISTEN 8
#define CONFIG_MAX_ALLOWED 16
#define CONFIG_NODE_MAX 16 /* a node name: 1-16 of [A-Za-z0-9_-] */

/* Every tunable of the daemon. config_defaults() is the embedded default config: loopback,
 * a high port, the limits of CHAT-PROTOCOL.md. */
struct config {
	char listen[CONFIG_MAX_LISTEN][64]; /* "ADDR:PORT", IPv6 as "[::1]:PORT" */
	int n_listen;
	/* Host header names allowed (without port); Origin must be http(s)://one of these. */
	char allowed_hosts[CONFIG_MAX_ALLOWED][128];
	int n_allowed_hosts;

	char control_socket[108]; /* empty: ctl_default_socket_path() */
	char control_group[64];   /* empty: the daemon's group */
	char user[64];            /* started as root: run as this user (empty: stay root) */
	int log_level;            /* enum log_level */

	/* GET /healthz and /metrics, answered only to peers in status_allow. */
	bool healthz;
	bool metrics;
	struct config_net {
		int family; /* AF_INET or AF_INET6 */
		uint8_t addr[16];
		uint8_t prefix;
	} status_allow[CONFIG_MAX_ALLOWED];
	int n_status_allow;

	/* [web]: the chat page at / and its assets under /web/ (off: 404). */
	bool web;

	size_t max_head_bytes;
	size_t max_body_bytes;
	size_t max_send_queue;
	uint32_t max_sessions;
	uint32_t max_connections;

	uint32_t head_timeout_ms;
	uint32_t keepalive_timeout_ms;
	uint32_t session_idle_timeout_ms;
	uint32_t chat_idle_ms; /* a 2026-07-28 chat with no request and no waiting call ends */
	uint32_t reconnect_grace_ms; /* a session whose push stream closed ends after this */
	uint32_t sse_keepalive_ms;
	uint32_t shutdown_grace_ms;

	/* Chat limits. */
	size_t max_message_bytes;
	uint32_t max_display_name_chars;
	uint32_t mailbox_events;
	uint32_t replay_window_bytes;
	double rate_per_second;
	double rate_burst;
	uint32_t interest_fallback_ms;
	uint32_t max_interests;
	uint32_t max_interest_chars;

	/* [cluster]: several daemons share one chat through Redis (empty redis: one node, all
	 * in memory). Nothing here changes on a reload. */
	char cluster_redis[128];     /* "HOST:PORT", "[v6]:PORT" or "unix:/path" */
	char cluster_node[CONFIG_NODE_MAX + 1]; /* this daemon's name in the cluster */
	char cluster_redis_user[64]; /* ACL user for AUTH (empty: the default user) */
	char cluster_password_file[256]; /* its password, first line of this file */
	char cluster_key_prefix[32];  /* every key under {PREFIX} */
};

void config_defaults(struct config *cfg);

/* Reads an INI file over cfg (keys not in the file keep their values). Returns 0, -errno when
 * the file cannot be read, or -EINVAL with err holding "FILE:LINE: what is wrong" for the
 * first bad line. */
int config_load(struct config *cfg, const char *path, char *err, size_t errlen);

/* Copies what a SIGHUP may change (limits, timeouts, log level, allow-lists) from next into
 * cur, and writes into note the keys that differ but need a restart ("" when none). */
void config_reload(struct config *cur, const struct config *next, char *note, size_t notelen);

/* Is this peer address (struct sockaddr_in/in6) in status_allow? */
bool config_status_allowed(const struct config *cfg, const void *sockaddr);

/* [cluster] values from the command line (--node, --redis); -EINVAL when malformed. */
int config_set_node(struct config *cfg, const char *name);
int config_set_redis(struct config *cfg, const char *addr);
/* After the file and the options: a cluster node without a name is named after the host
 * (cut to its first 16 valid characters), and the cluster keys are checked together
 * (a readable, non-empty password file; a user only with a password). Returns 0, or -EINVAL
 * with err saying what is wrong. */
int config_finish(struct config *cfg, char *err, size_t errlen);
/* Reads the first line of a secret file into buf (NUL-terminated, newline dropped). Returns
 * its length, or -errno (-EINVAL: empty or longer than len - 1). The secret is never logged. */
int config_read_secret(const char *path, char *buf, size_t len);

/* Adds a listen address ("127.0.0.1:0", "[::1]:8080"); -EINVAL when malformed, -ENOSPC when full. */
int config_add_listen(struct config *cfg, const char *addr);

#endif
