#include "mcp/state.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "util/b64url.h"
#include "util/htab.h"
#include "util/list.h"
#include "util/sha256.h"
#include "util/xalloc.h"

/* Token: base64url of version (2) | expiry ms (8, big-endian) | nonce (16) | call digest (32)
 * | data, followed by the HMAC-SHA256 (32) of everything before it. The expiry is on the
 * daemon's monotonic clock: a state outlives no restart, which changes the key anyway. */

#define VERSION 2
#define AT_NONCE (1 + 8)
#define AT_DIGEST (AT_NONCE + MCP_STATE_NONCE_LEN)
#define HEAD (AT_DIGEST + SHA256_LEN)

struct member {
	cJSON *item;
	size_t pos;
};

static int by_name(const void *a, const void *b)
{
	const struct member *x = a, *y = b;
	int c = strcmp(x->item->string ? x->item->string : "", y->item->string ? y->item->string : "");

	return c ? c : (x->pos > y->pos) - (x->pos < y->pos);
}

/* Object members in byte order of their names (duplicates keep their order), at every
 * depth, so the digest does not depend on the order a client wrote them in. */
static void canonical(cJSON *j)
{
	struct member *v;
	size_t n = 0, i = 0;
	cJSON *c;

	for (c = j ? j->child : NULL; c; c = c->next, n++)
		canonical(c);
	if (!cJSON_IsObject(j) || n < 2)
		return;
	v = xcalloc(n, sizeof(*v));
	for (c = j->child; c; c = c->next, i++)
		v[i] = (struct member){ c, i };
	qsort(v, n, sizeof(*v), by_name);
	j->child = v[0].item;
	for (i = 0; i < n; i++) {
		v[i].item->next = i + 1 < n ? v[i + 1].item : NULL;
		v[i].item->prev = v[i ? i - 1 : n - 1].item; /* cJSON: the head's prev is the tail */
	}
	free(v);
}

/* What the state is bound to: the method, the name and the arguments, canonical. */
static void call_digest(const char *method, const char *name, const cJSON *args,
			uint8_t out[SHA256_LEN])
{
	struct sha256 s;
	cJSON *copy = args ? cJSON_Duplicate(args, 1) : NULL;
	char *json;

	canonical(copy);
	json = copy ? cJSON_PrintUnformatted(copy) : NULL;
	sha256_init(&s);
	sha256_update(&s, method, strlen(method) + 1);
	sha256_update(&s, name, strlen(name) + 1);
	if (json)
		sha256_update(&s, json, strlen(json));
	else if (args)
		sha256_update(&s, "\xff", 1); /* out of memory: a digest no call has */
	sha256_final(&s, out);
	free(json);
	cJSON_Delete(copy);
}

/* Used states */

struct used {
	struct htab_entry entry;
	struct list_link link; /* oldest first */
	uint64_t exp;
	uint8_t nonce[MCP_STATE_NONCE_LEN];
};

struct mcp_state_used {
	struct htab by_nonce;
	struct list_link fifo;
	uint32_t max;
};

struct mcp_state_used *mcp_state_used_new(uint32_t max)
{
	struct mcp_state_used *u;
	uint64_t seed[2];

	if (getrandom(seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
		return NULL;
	u = xcalloc(1, sizeof(*u));
	htab_init(&u->by_nonce, seed);
	list_head_init(&u->fifo);
	u->max = max ? max : 1;
	return u;
}

static void forget(struct mcp_state_used *u, struct used *e)
{
	htab_del(&u->by_nonce, &e->entry);
	list_del(&e->link);
	free(e);
}

void mcp_state_used_free(struct mcp_state_used *u)
{
	if (!u)
		return;
	while (!list_empty(&u->fifo))
		forget(u, container_of(u->fifo.next, struct used, link));
	htab_fini(&u->by_nonce);
	free(u);
}

size_t mcp_state_used_count(const struct mcp_state_used *u)
{
	return u ? htab_count(&u->by_nonce) : 0;
}

/* 0: first use, remembered until exp; -EALREADY: used before. */
static int use(struct mcp_state_used *u, const uint8_t *nonce, uint64_t exp, uint64_t now_ms)
{
	struct used *e;

	/* Every state lives as long, so the oldest expires first. */
	while (!list_empty(&u->fifo) &&
	       container_of(u->fifo.next, struct used, link)->exp < now_ms)
		forget(u, container_of(u->fifo.next, struct used, link));
	if (htab_lookup(&u->by_nonce, (const char *)nonce, MCP_STATE_NONCE_LEN))
		return -EALREADY;
	if (htab_count(&u->by_nonce) >= u->max)
		forget(u, container_of(u->fifo.next, struct used, link));
	e = xcalloc(1, sizeof(*e));
	memcpy(e->nonce, nonce, MCP_STATE_NONCE_LEN);
	e->exp = exp;
	list_append(&u->fifo, &e->link);
	htab_add(&u->by_nonce, &e->entry, (const char *)e->nonce, MCP_STATE_NONCE_LEN,
		 htab_hash(&u->by_nonce, (const char *)e->nonce, MCP_STATE_NONCE_LEN));
	return 0;
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
	if (getrandom(raw + AT_NONCE, MCP_STATE_NONCE_LEN, 0) != MCP_STATE_NONCE_LEN) {
		free(raw);
		return NULL;
	}
	raw[0] = VERSION;
	for (int i = 0; i < 8; i++)
		raw[1 + i] = (uint8_t)(exp >> (56 - 8 * i));
	call_digest(method, name, args, raw + AT_DIGEST);
	memcpy(raw + HEAD, data, dlen);
	hmac_sha256(key, MCP_STATE_KEY_LEN, raw, n, raw + n);
	out = xmalloc(b64url_encoded_len(n + SHA256_LEN) + 1);
	b64url_encode(raw, n + SHA256_LEN, out);
	free(raw);
	return out;
}

int mcp_state_open(const uint8_t key[MCP_STATE_KEY_LEN], const char *method, const char *name,
		   const cJSON *args, const char *token, uint64_t now_ms,
		   struct mcp_state_used *used, char **data)
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
	if (!sha256_equal(digest, raw + AT_DIGEST, SHA256_LEN))
		goto fail;
	for (int i = 0; i < 8; i++)
		exp = exp << 8 | raw[1 + i];
	err = -ETIMEDOUT;
	if (now_ms > exp)
		goto fail;
	if (used && (err = use(used, raw + AT_NONCE, exp, now_ms)) < 0)
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
