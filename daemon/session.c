#include "session.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int session_random(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void encode(const uint8_t raw[SESSION_RAW_LEN], char id[SESSION_ID_LEN + 1])
{
	for (int i = 0, o = 0; i < SESSION_RAW_LEN; i += 3) {
		uint32_t v = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 | raw[i + 2];
		id[o++] = b64url[v >> 18 & 63];
		id[o++] = b64url[v >> 12 & 63];
		id[o++] = b64url[v >> 6 & 63];
		id[o++] = b64url[v & 63];
	}
	id[SESSION_ID_LEN] = '\0';
}

/* base64url value of each byte + 1; 0 for bytes outside the alphabet. */
static uint8_t b64_value[256];

static void b64_table(void)
{
	if (b64_value['A'])
		return;
	for (int i = 0; i < 64; i++)
		b64_value[(unsigned char)b64url[i]] = (uint8_t)(i + 1);
}

static int decode(const char *id, uint8_t raw[SESSION_RAW_LEN])
{
	b64_table();
	for (int i = 0, o = 0; i < SESSION_ID_LEN; i += 4) {
		uint32_t v = 0;
		for (int k = 0; k < 4; k++) {
			uint8_t d = b64_value[(unsigned char)id[i + k]];
			if (!d)
				return -EINVAL;
			v = v << 6 | (uint32_t)(d - 1);
		}
		raw[o++] = (uint8_t)(v >> 16);
		raw[o++] = (uint8_t)(v >> 8);
		raw[o++] = (uint8_t)v;
	}
	return id[SESSION_ID_LEN] == '\0' ? 0 : -EINVAL;
}

/* The ids are random, so their first bytes are a fine hash. */
static uint32_t hash_of(const uint8_t raw[SESSION_RAW_LEN])
{
	uint32_t h;

	memcpy(&h, raw, sizeof(h));
	return h;
}

static bool same_id(const uint8_t *a, const uint8_t *b)
{
	uint8_t diff = 0;

	for (int i = 0; i < SESSION_RAW_LEN; i++)
		diff |= a[i] ^ b[i];
	return diff == 0;
}

int session_table_init(struct session_table *t, uint32_t max)
{
	memset(t, 0, sizeof(*t));
	t->bucket = calloc(1024, sizeof(*t->bucket));
	if (!t->bucket)
		return -ENOMEM;
	t->mask = 1023;
	t->max = max;
	return 0;
}

void session_table_free(struct session_table *t)
{
	free(t->bucket);
	memset(t, 0, sizeof(*t));
}

static void rehash(struct session_table *t)
{
	uint32_t size = (t->mask + 1) * 2;
	struct session **bucket = calloc(size, sizeof(*bucket));

	if (!bucket)
		return; /* longer chains, still correct */
	for (struct session *s = t->all; s; s = s->next_all) {
		uint32_t b = hash_of(s->raw) & (size - 1);
		s->next = bucket[b];
		bucket[b] = s;
	}
	free(t->bucket);
	t->bucket = bucket;
	t->mask = size - 1;
}

int session_create(struct session_table *t, uint32_t mailbox_capacity, struct session **out)
{
	struct session *s;
	uint8_t hraw[SESSION_HANDLE_LEN / 2];
	uint32_t b;
	int err;

	if (t->count >= t->max)
		return -EAGAIN;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	err = session_random(s->raw, sizeof(s->raw));
	if (err == 0)
		err = session_random(hraw, sizeof(hraw));
	if (err < 0) {
		free(s);
		return err;
	}
	encode(s->raw, s->id);
	for (int i = 0; i < (int)sizeof(hraw); i++) {
		s->handle[2 * i] = "0123456789abcdef"[hraw[i] >> 4];
		s->handle[2 * i + 1] = "0123456789abcdef"[hraw[i] & 15];
	}
	mailbox_init(&s->mbox, mailbox_capacity);
	b = hash_of(s->raw) & t->mask;
	s->next = t->bucket[b];
	t->bucket[b] = s;
	s->next_all = t->all;
	if (t->all)
		t->all->prev_all = s;
	t->all = s;
	if (++t->count > t->mask + 1)
		rehash(t);
	*out = s;
	return 0;
}

struct session *session_find(const struct session_table *t, const char *id)
{
	uint8_t raw[SESSION_RAW_LEN];

	if (!id || strlen(id) != SESSION_ID_LEN || decode(id, raw) < 0)
		return NULL;
	for (struct session *s = t->bucket[hash_of(raw) & t->mask]; s; s = s->next)
		if (same_id(s->raw, raw))
			return s;
	return NULL;
}

struct session *session_find_handle(const struct session_table *t, const char *handle)
{
	for (struct session *s = t->all; s; s = s->next_all)
		if (strcmp(s->handle, handle) == 0)
			return s;
	return NULL;
}

void session_remove(struct session_table *t, struct session *s)
{
	struct session **pp = &t->bucket[hash_of(s->raw) & t->mask];

	while (*pp && *pp != s)
		pp = &(*pp)->next;
	if (*pp)
		*pp = s->next;
	if (s->prev_all)
		s->prev_all->next_all = s->next_all;
	else
		t->all = s->next_all;
	if (s->next_all)
		s->next_all->prev_all = s->prev_all;
	t->count--;
	mailbox_free(&s->mbox);
	free(s);
}
