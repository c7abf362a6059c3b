#ifndef MCPCHAT_MCP_STATE_H
#define MCPCHAT_MCP_STATE_H

#include <stdint.h>

#include <cjson/cJSON.h>

/* The requestState of an input_required result (MCP 2026-07-28, basic/patterns/mrtr): the
 * client echoes it on its retry and may have changed it, so it is sealed with HMAC-SHA256
 * under a per-daemon key. It binds the method, the name (tool or prompt), a digest of the
 * arguments (canonical: members in byte order of their names, so a client that re-orders
 * them retries the same call) and an expiry, so it is refused on any other call and after it
 * lapses; and it carries a random nonce, so with a mcp_state_used set it opens once (a
 * replayed state is refused). Pure but for the nonce (getrandom). */

#define MCP_STATE_KEY_LEN 32
#define MCP_STATE_TTL_MS (10u * 60 * 1000)
#define MCP_STATE_MAX_DATA 4096 /* the tool's own state text, at most */

#define MCP_STATE_NONCE_LEN 16
#define MCP_STATE_USED_MAX 65536 /* states remembered as used; beyond, the oldest go first */

/* The states opened, by nonce, until they expire: a replay is refused. Bounded at max: when
 * full the oldest (the soonest to expire, as every state lives MCP_STATE_TTL_MS) is forgotten
 * early, so a replay of it within its lifetime is no longer caught. */
struct mcp_state_used;
struct mcp_state_used *mcp_state_used_new(uint32_t max);
void mcp_state_used_free(struct mcp_state_used *u);
size_t mcp_state_used_count(const struct mcp_state_used *u);

/* A token carrying data (NUL-terminated, may be "") for a retry of method/name with args
 * (NULL: none), valid until now_ms + MCP_STATE_TTL_MS. Malloc'd; NULL when data is too long
 * or getrandom failed. */
char *mcp_state_seal(const uint8_t key[MCP_STATE_KEY_LEN], const char *method, const char *name,
		     const cJSON *args, const char *data, uint64_t now_ms);
/* Checks token: 0 and *data (malloc'd, NUL-terminated); -EBADMSG when it is malformed or its
 * tag does not verify (tampered, or another daemon's), -EXDEV when it belongs to another call
 * (method, name or arguments differ), -ETIMEDOUT when it has expired, -EALREADY when used
 * (not NULL) has it already: a valid token opens once and is remembered there. */
int mcp_state_open(const uint8_t key[MCP_STATE_KEY_LEN], const char *method, const char *name,
		   const cJSON *args, const char *token, uint64_t now_ms,
		   struct mcp_state_used *used, char **data);

#endif
