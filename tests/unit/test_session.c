#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp/internal.h"
#include "unit.h"

#define MANY 10000

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static bool is_b64url_id(const char *id)
{
	return strlen(id) == MCP_SESSION_ID_LEN && strspn(id, b64url) == MCP_SESSION_ID_LEN;
}

static bool is_hex_handle(const char *h)
{
	return strlen(h) == MCP_SESSION_HANDLE_LEN && strspn(h, "0123456789abcdef") == MCP_SESSION_HANDLE_LEN;
}

static struct mcp_session *create_ok(struct mcp_sessions *t)
{
	struct mcp_session *s = NULL;

	CU_ASSERT_EQUAL_FATAL(mcp_sessions_create(t, 16, &s), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	return s;
}

/* Removes every session, then frees the table. */
static void drain(struct mcp_sessions *t)
{
	while (t->all)
		mcp_sessions_remove(t, t->all);
	CU_ASSERT_EQUAL(t->count, 0);
	mcp_sessions_free(t);
}

static int cmp_id(const void *a, const void *b)
{
	return strcmp((*(struct mcp_session *const *)a)->id, (*(struct mcp_session *const *)b)->id);
}

static void test_id_and_handle_shape(void)
{
	struct mcp_sessions t;
	struct mcp_session *s;

	mcp_sessions_init(&t, 10);
	s = create_ok(&t);
	CU_ASSERT_TRUE(is_b64url_id(s->id));
	CU_ASSERT_TRUE(is_hex_handle(s->handle));
	CU_ASSERT_EQUAL(t.count, 1);
	CU_ASSERT_PTR_EQUAL(t.all, s);
	CU_ASSERT_EQUAL(s->mbox.capacity, 16);
	CU_ASSERT_EQUAL(s->mbox.count, 0);
	CU_ASSERT_PTR_NULL(s->stream);
	CU_ASSERT_PTR_NULL(s->calls);
	CU_ASSERT_PTR_NULL(s->app);
	drain(&t);
}

static void test_found_by_id(void)
{
	struct mcp_sessions t;
	struct mcp_session *a, *b;
	char copy[MCP_SESSION_ID_LEN + 1];

	mcp_sessions_init(&t, 10);
	a = create_ok(&t);
	b = create_ok(&t);
	CU_ASSERT_STRING_NOT_EQUAL(a->id, b->id);
	CU_ASSERT_PTR_EQUAL(mcp_sessions_find(&t, a->id), a);
	CU_ASSERT_PTR_EQUAL(mcp_sessions_find(&t, b->id), b);
	memcpy(copy, a->id, sizeof(copy)); /* by value, not by pointer */
	CU_ASSERT_PTR_EQUAL(mcp_sessions_find(&t, copy), a);
	drain(&t);
}

static void test_not_found_after_removal(void)
{
	struct mcp_sessions t;
	struct mcp_session *s[3];
	char ids[3][MCP_SESSION_ID_LEN + 1];

	mcp_sessions_init(&t, 10);
	for (int i = 0; i < 3; i++) {
		s[i] = create_ok(&t);
		memcpy(ids[i], s[i]->id, sizeof(ids[i]));
	}
	mcp_sessions_remove(&t, s[1]); /* middle of the list */
	CU_ASSERT_PTR_NULL(mcp_sessions_find(&t, ids[1]));
	CU_ASSERT_PTR_EQUAL(mcp_sessions_find(&t, ids[0]), s[0]);
	CU_ASSERT_PTR_EQUAL(mcp_sessions_find(&t, ids[2]), s[2]);
	mcp_sessions_remove(&t, s[2]); /* head (newest) */
	CU_ASSERT_PTR_NULL(mcp_sessions_find(&t, ids[2]));
	CU_ASSERT_PTR_EQUAL(mcp_sessions_find(&t, ids[0]), s[0]);
	CU_ASSERT_PTR_EQUAL(t.all, s[0]);
	mcp_sessions_remove(&t, s[0]);
	CU_ASSERT_PTR_NULL(mcp_sessions_find(&t, ids[0]));
	CU_ASSERT_PTR_NULL(t.all);
	CU_ASSERT_EQUAL(t.count, 0);
	mcp_sessions_free(&t);
}

static void test_malformed_ids_not_found(void)
{
	struct mcp_sessions t;
	struct mcp_session *s;
	char id[MCP_SESSION_ID_LEN + 2];
	static const char wrong[] = "+/=. \n%\x80";

	mcp_sessions_init(&t, 10);
	s = create_ok(&t);
	CU_ASSERT_PTR_NULL(mcp_sessions_find(&t, NULL));
	CU_ASSERT_PTR_NULL(mcp_sessions_find(&t, ""));
	/* Short: the first 31 characters. */
	memcpy(id, s->id, MCP_SESSION_ID_LEN - 1);
	id[MCP_SESSION_ID_LEN - 1] = '\0';
	CU_ASSERT_PTR_NULL(mcp_sessions_find(&t, id));
	/* Long: one more character. */
	memcpy(id, s->id, MCP_SESSION_ID_LEN);
	id[MCP_SESSION_ID_LEN] = 'A';
	id[MCP_SESSION_ID_LEN + 1] = '\0';
	CU_ASSERT_PTR_NULL(mcp_sessions_find(&t, id));
	/* Each position with each wrong character. */
	for (int pos = 0; pos < MCP_SESSION_ID_LEN; pos++) {
		for (const char *w = wrong; *w; w++) {
			memcpy(id, s->id, MCP_SESSION_ID_LEN + 1);
			id[pos] = *w;
			CU_ASSERT_PTR_NULL(mcp_sessions_find(&t, id));
		}
	}
	drain(&t);
}

static void test_other_valid_id_not_found(void)
{
	struct mcp_sessions t;
	struct mcp_session *s;
	char id[MCP_SESSION_ID_LEN + 1];

	mcp_sessions_init(&t, 10);
	s = create_ok(&t);
	for (int pos = 0; pos < MCP_SESSION_ID_LEN; pos++) {
		memcpy(id, s->id, sizeof(id));
		id[pos] = id[pos] == 'A' ? 'B' : 'A';
		CU_ASSERT_PTR_NULL(mcp_sessions_find(&t, id));
	}
	/* Case matters in base64url. */
	memcpy(id, s->id, sizeof(id));
	for (int i = 0; i < MCP_SESSION_ID_LEN; i++)
		if (id[i] >= 'a' && id[i] <= 'z')
			id[i] = (char)(id[i] - 'a' + 'A');
	if (strcmp(id, s->id) != 0)
		CU_ASSERT_PTR_NULL(mcp_sessions_find(&t, id));
	drain(&t);
}

static void test_handle_is_not_an_id(void)
{
	struct mcp_sessions t;
	struct mcp_session *s;
	char padded[MCP_SESSION_ID_LEN + 1];

	mcp_sessions_init(&t, 10);
	s = create_ok(&t);
	CU_ASSERT_PTR_NULL(mcp_sessions_find(&t, s->handle));
	/* Four copies of the handle make 32 valid characters, and still no session. */
	for (int i = 0; i < 4; i++)
		memcpy(padded + i * MCP_SESSION_HANDLE_LEN, s->handle, MCP_SESSION_HANDLE_LEN);
	padded[MCP_SESSION_ID_LEN] = '\0';
	CU_ASSERT_PTR_NULL(mcp_sessions_find(&t, padded));
	/* And an id is not a handle. */
	CU_ASSERT_PTR_NULL(mcp_sessions_find_handle(&t, s->id));
	drain(&t);
}

static void test_find_handle(void)
{
	struct mcp_sessions t;
	struct mcp_session *s[5];
	char gone[MCP_SESSION_HANDLE_LEN + 1];

	mcp_sessions_init(&t, 10);
	for (int i = 0; i < 5; i++)
		s[i] = create_ok(&t);
	for (int i = 0; i < 5; i++)
		CU_ASSERT_PTR_EQUAL(mcp_sessions_find_handle(&t, s[i]->handle), s[i]);
	CU_ASSERT_PTR_NULL(mcp_sessions_find_handle(&t, ""));
	CU_ASSERT_PTR_NULL(mcp_sessions_find_handle(&t, "zzzzzzzz"));
	memcpy(gone, s[2]->handle, sizeof(gone));
	mcp_sessions_remove(&t, s[2]);
	CU_ASSERT_PTR_NULL(mcp_sessions_find_handle(&t, gone));
	CU_ASSERT_PTR_EQUAL(mcp_sessions_find_handle(&t, s[4]->handle), s[4]);
	CU_ASSERT_PTR_EQUAL(mcp_sessions_find_handle(&t, s[0]->handle), s[0]);
	drain(&t);
}

static void test_cap_gives_eagain(void)
{
	struct mcp_sessions t;
	struct mcp_session *s[3], *extra = NULL;

	mcp_sessions_init(&t, 3);
	for (int i = 0; i < 3; i++)
		s[i] = create_ok(&t);
	CU_ASSERT_EQUAL(mcp_sessions_create(&t, 16, &extra), -EAGAIN);
	CU_ASSERT_PTR_NULL(extra);
	CU_ASSERT_EQUAL(t.count, 3);
	mcp_sessions_remove(&t, s[1]);
	CU_ASSERT_EQUAL(mcp_sessions_create(&t, 16, &extra), 0);
	CU_ASSERT_PTR_NOT_NULL(extra);
	CU_ASSERT_PTR_EQUAL(mcp_sessions_find(&t, extra->id), extra);
	CU_ASSERT_EQUAL(mcp_sessions_create(&t, 16, &extra), -EAGAIN);
	drain(&t);
}

static void test_zero_cap_refuses_all(void)
{
	struct mcp_sessions t;
	struct mcp_session *s = NULL;

	mcp_sessions_init(&t, 0);
	CU_ASSERT_EQUAL(mcp_sessions_create(&t, 16, &s), -EAGAIN);
	CU_ASSERT_PTR_NULL(s);
	mcp_sessions_free(&t);
}

/* 10 000 sessions: distinct ids, the table rehashes several times and finds every one. */
static void test_many_distinct_and_findable(void)
{
	struct mcp_sessions t;
	struct mcp_session **s = calloc(MANY, sizeof(*s));
	uint32_t mask0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	mcp_sessions_init(&t, MANY);
	mask0 = t.mask;
	for (int i = 0; i < MANY; i++) {
		s[i] = create_ok(&t);
		CU_ASSERT_TRUE_FATAL(is_b64url_id(s[i]->id));
	}
	CU_ASSERT_EQUAL(t.count, MANY);
	CU_ASSERT_TRUE(t.mask > mask0);
	CU_ASSERT_TRUE(t.mask + 1 >= MANY);
	for (int i = 0; i < MANY; i++)
		CU_ASSERT_PTR_EQUAL_FATAL(mcp_sessions_find(&t, s[i]->id), s[i]);
	qsort(s, MANY, sizeof(*s), cmp_id);
	for (int i = 1; i < MANY; i++)
		CU_ASSERT_STRING_NOT_EQUAL_FATAL(s[i - 1]->id, s[i]->id);
	free(s);
	drain(&t);
}

/* Removing half after rehashes leaves the other half findable, and the removed not. */
static void test_remove_after_rehash(void)
{
	struct mcp_sessions t;
	struct mcp_session **s = calloc(MANY / 2, sizeof(*s));
	char (*ids)[MCP_SESSION_ID_LEN + 1] = calloc(MANY / 2, sizeof(*ids));

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ids);
	mcp_sessions_init(&t, MANY);
	for (int i = 0; i < MANY / 2; i++) {
		s[i] = create_ok(&t);
		memcpy(ids[i], s[i]->id, sizeof(ids[i]));
	}
	for (int i = 0; i < MANY / 2; i += 2)
		mcp_sessions_remove(&t, s[i]);
	CU_ASSERT_EQUAL(t.count, MANY / 4);
	for (int i = 0; i < MANY / 2; i++) {
		const struct mcp_session *want = i % 2 ? s[i] : NULL;

		CU_ASSERT_PTR_EQUAL_FATAL(mcp_sessions_find(&t, ids[i]), want);
	}
	/* New sessions still go in and are found next to the old ones. */
	for (int i = 0; i < MANY / 2; i += 2)
		s[i] = create_ok(&t);
	for (int i = 0; i < MANY / 2; i++)
		CU_ASSERT_PTR_EQUAL_FATAL(mcp_sessions_find(&t, s[i]->id), s[i]);
	free(ids);
	free(s);
	drain(&t);
}

static void test_all_list_links(void)
{
	struct mcp_sessions t;
	struct mcp_session *s[4];
	int n = 0;

	mcp_sessions_init(&t, 10);
	for (int i = 0; i < 4; i++)
		s[i] = create_ok(&t);
	/* Newest first. */
	CU_ASSERT_PTR_EQUAL(t.all, s[3]);
	mcp_sessions_remove(&t, s[0]); /* tail */
	for (struct mcp_session *p = t.all; p; p = p->next_all) {
		CU_ASSERT_PTR_NOT_EQUAL(p, s[0]);
		if (p->next_all)
			CU_ASSERT_PTR_EQUAL(p->next_all->prev_all, p);
		n++;
	}
	CU_ASSERT_EQUAL(n, 3);
	drain(&t);
}

static void test_mailbox_is_usable(void)
{
	struct mcp_sessions t;
	struct mcp_session *s;

	mcp_sessions_init(&t, 10);
	s = create_ok(&t);
	CU_ASSERT_EQUAL(mailbox_add(&s->mbox, "m", "{}", 2, true), 1);
	CU_ASSERT_EQUAL(mailbox_unread(&s->mbox), 1);
	drain(&t); /* session_remove frees the event: ASan checks */
}

static void test_random_fills(void)
{
	uint8_t a[64] = { 0 }, b[64] = { 0 };

	CU_ASSERT_EQUAL(mcp_random(a, sizeof(a)), 0);
	CU_ASSERT_EQUAL(mcp_random(b, sizeof(b)), 0);
	CU_ASSERT_NOT_EQUAL(memcmp(a, b, sizeof(a)), 0);
	CU_ASSERT_EQUAL(mcp_random(a, 0), 0);
}

/* A named node's ids are "NODE." + the random part; only its own prefix finds a session. */
static void test_node_prefix(void)
{
	struct mcp_sessions t;
	struct mcp_session *s;
	char other[MCP_SESSION_ID_MAX + 1];

	mcp_sessions_init(&t, 10);
	mcp_sessions_set_node(&t, "node-7_b");
	s = create_ok(&t);
	CU_ASSERT_EQUAL(strncmp(s->id, "node-7_b.", 9), 0);
	CU_ASSERT_TRUE(is_b64url_id(s->id + 9));
	CU_ASSERT_PTR_EQUAL(mcp_sessions_find(&t, s->id), s);
	/* The random part alone, or under another node's name, is unknown here. */
	CU_ASSERT_PTR_NULL(mcp_sessions_find(&t, s->id + 9));
	snprintf(other, sizeof(other), "node-7_c.%s", s->id + 9);
	CU_ASSERT_PTR_NULL(mcp_sessions_find(&t, other));
	snprintf(other, sizeof(other), "node-7_b%s", s->id + 9);
	CU_ASSERT_PTR_NULL(mcp_sessions_find(&t, other));
	snprintf(other, sizeof(other), "node-7_b.%s", s->id + 10);
	CU_ASSERT_PTR_NULL(mcp_sessions_find(&t, other));
	/* The longest name fits the id buffer. */
	mcp_sessions_set_node(&t, "abcdefghijklmnop");
	s = create_ok(&t);
	CU_ASSERT_EQUAL(strlen(s->id), MCP_SESSION_ID_MAX);
	CU_ASSERT_PTR_EQUAL(mcp_sessions_find(&t, s->id), s);
	/* A name too long, or none, makes plain ids. */
	mcp_sessions_set_node(&t, "abcdefghijklmnopq");
	CU_ASSERT_TRUE(is_b64url_id(create_ok(&t)->id));
	mcp_sessions_set_node(&t, NULL);
	s = create_ok(&t);
	CU_ASSERT_TRUE(is_b64url_id(s->id));
	CU_ASSERT_PTR_EQUAL(mcp_sessions_find(&t, s->id), s);
	drain(&t);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "id and handle shape", test_id_and_handle_shape },
		{ "found by id", test_found_by_id },
		{ "not found after removal", test_not_found_after_removal },
		{ "malformed ids not found", test_malformed_ids_not_found },
		{ "other valid id not found", test_other_valid_id_not_found },
		{ "handle is not an id", test_handle_is_not_an_id },
		{ "find_handle", test_find_handle },
		{ "cap gives -EAGAIN", test_cap_gives_eagain },
		{ "zero cap refuses all", test_zero_cap_refuses_all },
		{ "10000 distinct and findable", test_many_distinct_and_findable },
		{ "remove after rehash", test_remove_after_rehash },
		{ "all-list links", test_all_list_links },
		{ "mailbox is usable", test_mailbox_is_usable },
		{ "session_random fills", test_random_fills },
		{ "node prefix", test_node_prefix },
		{ NULL, NULL },
	};
	static const struct unit_suite suites[] = {
		{ "session", tests, NULL, NULL, NULL, NULL },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};

	return unit_main(suites);
}
