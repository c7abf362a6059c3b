#ifndef MCPCHAT_CONFIG_H
#define MCPCHAT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_MAX_LISTEN 8
#define CONFIG_MAX_ALLOWED 16

/* Every tunable of the daemon. config_defaults() is the embedded default config: loopback,
 * a high port, the limits of CHAT-PROTOCOL.md. */
struct config {
	char listen[CONFIG_MAX_LISTEN][64]; /* "ADDR:PORT", IPv6 as "[::1]:PORT" */
	int n_listen;
	/* Host header names allowed (without port); Origin must be http(s)://one of these. */
	char allowed_hosts[CONFIG_MAX_ALLOWED][128];
	int n_allowed_hosts;

	size_t max_head_bytes;
	size_t max_body_bytes;
	size_t max_send_queue;
	uint32_t max_sessions;
	uint32_t max_connections;

	uint32_t head_timeout_ms;
	uint32_t keepalive_timeout_ms;
	uint32_t session_idle_timeout_ms;
	uint32_t sse_keepalive_ms;
	uint32_t shutdown_grace_ms;

	/* Chat limits. */
	size_t max_message_bytes;
	uint32_t max_display_name_chars;
	uint32_t mailbox_events;
	double rate_per_second;
	double rate_burst;
	uint32_t interest_fallback_ms;
	uint32_t max_interests;
	uint32_t max_interest_chars;
};

void config_defaults(struct config *cfg);

/* Adds a listen address ("127.0.0.1:0", "[::1]:8080"); -EINVAL when malformed, -ENOSPC when full. */
int config_add_listen(struct config *cfg, const char *addr);

#endif
