#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

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

	cfg->max_head_bytes = 8 * 1024;
	cfg->max_body_bytes = 64 * 1024;
	cfg->max_send_queue = 256 * 1024;
	cfg->max_sessions = 100000;
	cfg->max_connections = 200000;

	cfg->head_timeout_ms = 10 * 1000;
	cfg->keepalive_timeout_ms = 60 * 1000;
	cfg->session_idle_timeout_ms = 120 * 1000;
	cfg->sse_keepalive_ms = 15 * 1000;
	cfg->shutdown_grace_ms = 3 * 1000;

	cfg->max_message_bytes = 4096;
	cfg->max_display_name_chars = 32;
	cfg->mailbox_events = 256;
	cfg->rate_per_second = 5;
	cfg->rate_burst = 20;
	cfg->interest_fallback_ms = 10 * 1000;
	cfg->max_interests = 8;
	cfg->max_interest_chars = 24;
}

int config_add_listen(struct config *cfg, const char *addr)
{
	const char *colon = strrchr(addr, ':');

	if (!colon || colon == addr || !colon[1] || strlen(addr) >= sizeof(cfg->listen[0]))
		return -EINVAL;
	if (cfg->n_listen >= CONFIG_MAX_LISTEN)
		return -ENOSPC;
	strcpy(cfg->listen[cfg->n_listen++], addr);
	return 0;
}
