#include "mcp/state.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/b64url.h"
#include "util/sha256.h"
#include "util/xalloc.h"

/* Token: base64url of version (1) | expiry ms (8, big-endian) | call digest (32) | data,
 * followed by the HMAC-SHA256 (32) of everything before it. The expiry is on the daemon's
 * monotonic clock: a state outlives no restart, which changes the key anyway. */

#define VERSION 1
#define HEAD (1 + 8 + SHA256_LEN)

/* What the state is bound to: the method, the name and the arguments as cJSON prints them
 * (member order as the client sent it; a retry repeats the same arguments). */
static void call_digest(const char *method, const char *name, const cJSON *args,
			uint8_t out[SHA256_LEN])
{
	struct sha256 s;
	char *json = args ? cJSON_PrintUnformatted(args) : NULL;

	sha256_init(&s);
	sha256_update(&s, method, strlen(method) + 1);
	sha256_update(&s, name, strlen(name) + 1);
	if (json)
		sha256_update(&s, json, strlen(json));
	sha256_final(&s, out);
	free(json);
}

char *mcp_state_seal(const uint8_t key[MCP_STATE_KEY_LEN], const char *method, const char *name,
		     const cJSON *args, const char *data, uint64_t now_ms)
{
	size_t dlen = strlen(data), n = HEAD + dlen;
	uint64_t exp = now_ms + MCP_STATE_TTL_MS;
	uint8_t *raw;
	char *out;

	if (dlen > MCP_STATE_MAX_DATA)
		return NULL;
	raw = xmalloc(n + SHA256_LEN);
	raw[0] = VERSION;
	for (int i = 0; i < 8; i++)
		raw[1 + i] = (uint8_t)(exp >> (56 - 8 * i));
	call_digest(method, name, args, raw + 9);
	memcpy(raw + HEAD, data, dlen);
	hmac_sha256(key, MCP_STATE_KEY_LEN, raw, n, raw + n);
	out = xmalloc(b64url_encoded_len(n + SHA256_LEN) + 1);
	b64url_encode(raw, n + SHA256_LEN, out);
	free(raw);
	return out;
}

int mcp_state_open(const uint8_t key[MCP_STATE_KEY_LEN], const char *method, const char *name,
		   const cJSON *args, const char *token, uint64_t now_ms, char **data)
{
	size_t len = strlen(token), n;
	uint8_t *raw = NULL, tag[SHA256_LEN], digest[SHA256_LEN];
	uint64_t exp = 0;
	int err = -EBADMSG;

	*data = NULL;
	if (len > b64url_encoded_len(HEAD + MCP_STATE_MAX_DATA + SHA256_LEN))
		goto fail;
	raw = xmalloc(b64url_decoded_len(len) + 1);
	if (b64url_decode(token, len, raw, &n) != 0 || n < HEAD + SHA256_LEN || raw[0] != VERSION)
		goto fail;
	n -= SHA256_LEN;
	hmac_sha256(key, MCP_STATE_KEY_LEN, raw, n, tag);
	if (!sha256_equal(tag, raw + n, SHA256_LEN))
		goto fail;
	call_digest(method, name, args, digest);
	err = -EXDEV;
	if (!sha256_equal(digest, raw + 9, SHA256_LEN))
		goto fail;
	for (int i = 0; i < 8; i++)
		exp = exp << 8 | raw[1 + i];
	err = -ETIMEDOUT;
	if (now_ms > exp)
		goto fail;
	*data = xmalloc(n - HEAD + 1);
	memcpy(*data, raw + HEAD, n - HEAD);
	(*data)[n - HEAD] = '\0';
	free(raw);
	return 0;
fail:
	free(raw);
	return err;
}
