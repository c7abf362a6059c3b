/* config_load on arbitrary files: a file it accepts leaves every key within its documented
 * range (packaging/mcp-chat.conf, mcp-chatd(8)); a file it refuses says where and why. The
 * ranges are written down here again on purpose, not read from config.c. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "fuzz_common.h"
#include "fuzz_entry.h"

static int fd = -1;
static char path[64];

struct range {
	const char *name;
	size_t offset, size; /* size: 4 (uint32_t) or 8 (size_t) */
	double min, max;
};

#define U32(f, lo, hi) { #f, offsetof(struct config, f), 4, lo, hi }
#define SZ(f, lo, hi) { #f, offsetof(struct config, f), 8, lo, hi }

static const struct range ranges[] = {
	U32(max_connections, 16, 10000000),
	U32(max_sessions, 1, 10000000),
	SZ(max_head_bytes, 1024, 1 << 20),
	SZ(max_body_bytes, 1024, 16 << 20),
	SZ(max_send_queue, 16384, 1 << 30),
	SZ(max_message_bytes, 1, 60000),
	U32(max_display_name_chars, 1, 256),
	U32(mailbox_events, 16, 65536),
	U32(max_interests, 0, 8),
	U32(max_interest_chars, 1, 64),
	U32(head_timeout_ms, 100, 3600000),
	U32(keepalive_timeout_ms, 100, 86400000),
	U32(session_idle_timeout_ms, 1000, 86400000),
	U32(sse_keepalive_ms, 1000, 3600000),
	U32(interest_fallback_ms, 0, 3600000),
	U32(shutdown_grace_ms, 0, 60000),
};

static double value_of(const struct config *c, const struct range *r)
{
	uint32_t u;
	size_t z;

	if (r->size == 4) {
		memcpy(&u, (const char *)c + r->offset, 4);
		return u;
	}
	memcpy(&z, (const char *)c + r->offset, 8);
	return (double)z;
}

#define SAFE "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"

static void check_strings(const struct config *c)
{
	FZ_CHECK(memchr(c->user, 0, sizeof(c->user)), "user not terminated");
	FZ_CHECK(memchr(c->control_socket, 0, sizeof(c->control_socket)), "socket not terminated");
	FZ_CHECK(memchr(c->control_group, 0, sizeof(c->control_group)), "group not terminated");
	FZ_CHECK(c->n_listen >= 1 && c->n_listen <= CONFIG_MAX_LISTEN, "n_listen %d", c->n_listen);
	for (int i = 0; i < c->n_listen; i++) {
		const char *l = c->listen[i], *colon;

		FZ_CHECK(memchr(l, 0, sizeof(c->listen[i])), "listen %d not terminated", i);
		colon = strrchr(l, ':');
		FZ_CHECK(colon && colon != l && colon[1], "listen \"%s\" is not ADDR:PORT", l);
	}
	FZ_CHECK(c->n_allowed_hosts >= 0 && c->n_allowed_hosts <= CONFIG_MAX_ALLOWED,
		 "n_allowed_hosts %d", c->n_allowed_hosts);
	for (int i = 0; i < c->n_allowed_hosts; i++) {
		FZ_CHECK(memchr(c->allowed_hosts[i], 0, sizeof(c->allowed_hosts[i])),
			 "host %d not terminated", i);
		FZ_CHECK(c->allowed_hosts[i][0], "empty allowed host %d", i);
	}
	/* [cluster]: a node name is 0-16 of the safe set (it goes into session ids), a prefix
	 * 1-31 of it (it goes into every Redis key). */
	FZ_CHECK(strlen(c->cluster_node) <= CONFIG_NODE_MAX &&
			 strspn(c->cluster_node, SAFE) == strlen(c->cluster_node), "node \"%s\"", c->cluster_node);
	FZ_CHECK(c->cluster_key_prefix[0] && strspn(c->cluster_key_prefix, SAFE) == strlen(c->cluster_key_prefix),
		 "key_prefix \"%s\"", c->cluster_key_prefix);
	FZ_CHECK(memchr(c->cluster_redis, 0, sizeof(c->cluster_redis)), "redis not terminated");
	FZ_CHECK(memchr(c->cluster_password_file, 0, sizeof(c->cluster_password_file)), "password file not terminated");
}

static void check_nets(const struct config *c)
{
	FZ_CHECK(c->n_status_allow >= 0 && c->n_status_allow <= CONFIG_MAX_ALLOWED,
		 "n_status_allow %d", c->n_status_allow);
	for (int i = 0; i < c->n_status_allow; i++) {
		const struct config_net *n = &c->status_allow[i];

		FZ_CHECK(n->family == AF_INET || n->family == AF_INET6, "family %d", n->family);
		FZ_CHECK(n->prefix <= (n->family == AF_INET ? 32 : 128), "prefix %u", n->prefix);
	}
}

static void check_config(const struct config *c)
{
	uint8_t b[2];

	for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
		double v = value_of(c, &ranges[i]);

		FZ_CHECK(v >= ranges[i].min && v <= ranges[i].max, "%s = %.17g outside [%g, %g]",
			 ranges[i].name, v, ranges[i].min, ranges[i].max);
	}
	FZ_CHECK(c->rate_per_second >= 0.001 && c->rate_per_second <= 1e9, "rate_per_second %g",
		 c->rate_per_second);
	FZ_CHECK(c->rate_burst >= 1 && c->rate_burst <= 1e9, "rate_burst %g", c->rate_burst);
	FZ_CHECK(c->log_level >= 3 && c->log_level <= 7, "log_level %d", c->log_level);
	memcpy(&b[0], &c->healthz, 1);
	memcpy(&b[1], &c->metrics, 1);
	FZ_CHECK(b[0] <= 1 && b[1] <= 1, "booleans %u %u", b[0], b[1]);
	check_strings(c);
	check_nets(c);
}

/* The allow-list and a reload run on what was loaded, as the daemon does. */
static void use_config(struct config *c)
{
	struct sockaddr_in s4 = { .sin_family = AF_INET };
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6 };
	struct config cur;
	char note[256];

	inet_pton(AF_INET, "10.1.2.3", &s4.sin_addr);
	inet_pton(AF_INET6, "::ffff:127.0.0.1", &s6.sin6_addr);
	config_status_allowed(c, &s4);
	config_status_allowed(c, &s6);
	inet_pton(AF_INET6, "fe80::1", &s6.sin6_addr);
	config_status_allowed(c, &s6);
	config_defaults(&cur);
	config_reload(&cur, c, note, sizeof(note));
	FZ_CHECK(memchr(note, 0, sizeof(note)), "note not terminated");
	check_config(&cur);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_quiet();
	fd = memfd_create("fuzz_config", 0);
	FZ_CHECK(fd >= 0, "memfd_create");
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config c;
	char err[512];
	int rc;

	FZ_CHECK(ftruncate(fd, 0) == 0 && pwrite(fd, data, size, 0) == (ssize_t)size, "memfd");
	config_defaults(&c);
	memset(err, 0, sizeof(err));
	rc = config_load(&c, path, err, sizeof(err));
	if (rc < 0) {
		FZ_CHECK(rc == -EINVAL, "config_load: %d", rc);
		FZ_CHECK(strncmp(err, path, strlen(path)) == 0 && err[strlen(path)] == ':',
			 "error does not name the file: %s", err);
		return 0;
	}
	check_config(&c);
	use_config(&c);
	return 0;
}
