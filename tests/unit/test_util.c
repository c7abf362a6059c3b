#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit.h"
#include "util/b64url.h"
#include "util/htab.h"
#include "util/list.h"
#include "util/siphash.h"
#include "util/utf8.h"
#include "util/xalloc.h"

/* SipHash-2-4 of the messages 00, 00 01, ..., 00 01 .. 3e (lengths 0..63) under the key
 * 00 01 .. 0f: the reference implementation's vectors (vectors.h); entry 15 is the example
 * of the paper's appendix A. */
static const uint64_t sip_vectors[64] = {
	0x726fdb47dd0e0e31ULL, 0x74f839c593dc67fdULL, 0x0d6c8009d9a94f5aULL, 0x85676696d7fb7e2dULL,
	0xcf2794e0277187b7ULL, 0x18765564cd99a68dULL, 0xcbc9466e58fee3ceULL, 0xab0200f58b01d137ULL,
	0x93f5f5799a932462ULL, 0x9e0082df0ba9e4b0ULL, 0x7a5dbbc594ddb9f3ULL, 0xf4b32f46226bada7ULL,
	0x751e8fbc860ee5fbULL, 0x14ea5627c0843d90ULL, 0xf723ca908e7af2eeULL, 0xa129ca6149be45e5ULL,
	0x3f2acc7f57c29bdbULL, 0x699ae9f52cbe4794ULL, 0x4bc1b3f0968dd39cULL, 0xbb6dc91da77961bdULL,
	0xbed65cf21aa2ee98ULL, 0xd0f2cbb02e3b67c7ULL, 0x93536795e3a33e88ULL, 0xa80c038ccd5ccec8ULL,
	0xb8ad50c6f649af94ULL, 0xbce192de8a85b8eaULL, 0x17d835b85bbb15f3ULL, 0x2f2e6163076bcfadULL,
	0xde4daaaca71dc9a5ULL, 0xa6a2506687956571ULL, 0xad87a3535c49ef28ULL, 0x32d892fad841c342ULL,
	0x7127512f72f27cceULL, 0xa7f32346f95978e3ULL, 0x12e0b01abb051238ULL, 0x15e034d40fa197aeULL,
	0x314dffbe0815a3b4ULL, 0x027990f029623981ULL, 0xcadcd4e59ef40c4dULL, 0x9abfd8766a33735cULL,
	0x0e3ea96b5304a7d0ULL, 0xad0c42d6fc585992ULL, 0x187306c89bc215a9ULL, 0xd4a60abcf3792b95ULL,
	0xf935451de4f21df2ULL, 0xa9538f0419755787ULL, 0xdb9acddff56ca510ULL, 0xd06c98cd5c0975ebULL,
	0xe612a3cb9ecba951ULL, 0xc766e62cfcadaf96ULL, 0xee64435a9752fe72ULL, 0xa192d576b245165aULL,
	0x0a8787bf8ecb74b2ULL, 0x81b3e73d20b49b6fULL, 0x7fa8220ba3b2eceaULL, 0x245731c13ca42499ULL,
	0xb78dbfaf3a8d83bdULL, 0xea1ad565322a1a0bULL, 0x60e61c23a3795013ULL, 0x6606d7e446282b93ULL,
	0x6ca4ecb15c5f91e1ULL, 0x9f626da15c9625f3ULL, 0xe51b38608ef25f57ULL, 0x958a324ceb064572ULL,
};

static const uint64_t sip_key[2] = { 0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL };

static void test_siphash_vectors(void)
{
	unsigned char msg[64];

	for (int i = 0; i < 64; i++)
		msg[i] = (unsigned char)i;
	for (size_t len = 0; len < 64; len++)
		if (siphash24(sip_key, msg, len) != sip_vectors[len]) {
			fprintf(stderr, "siphash vector %zu\n", len);
			CU_FAIL("siphash24 reference vector");
		}
}

static void test_siphash_keyed(void)
{
	static const uint64_t other[2] = { 0x0706050403020101ULL, 0x0f0e0d0c0b0a0908ULL };
	unsigned char msg[15];

	for (int i = 0; i < 15; i++)
		msg[i] = (unsigned char)i;
	/* One bit of key, one bit of message and the length all change the hash. */
	CU_ASSERT_NOT_EQUAL(siphash24(other, msg, 15), sip_vectors[15]);
	msg[14] ^= 1;
	CU_ASSERT_NOT_EQUAL(siphash24(sip_key, msg, 15), sip_vectors[15]);
	CU_ASSERT_NOT_EQUAL(siphash24(sip_key, "\0", 1), siphash24(sip_key, "", 0));
	/* Unaligned input hashes the same as aligned. */
	{
		unsigned char buf[72];

		for (int i = 0; i < 64; i++)
			buf[i + 3] = (unsigned char)i;
		CU_ASSERT_EQUAL(siphash24(sip_key, buf + 3, 63), sip_vectors[63]);
	}
}

struct item {
	struct htab_entry h;
	char key[16];
	int seen;
};

static struct item *item_of(struct htab_entry *e)
{
	return e ? container_of(e, struct item, h) : NULL;
}

static void add_item(struct htab *t, struct item *it, unsigned i)
{
	size_t len = (size_t)snprintf(it->key, sizeof(it->key), "key-%u", i);

	htab_add(t, &it->h, it->key, len, htab_hash(t, it->key, len));
}

static void test_htab_basic(void)
{
	static const uint64_t seed[2] = { 1, 2 };
	struct htab t;
	struct item a = { .seen = 0 }, b = { .seen = 0 };

	htab_init(&t, seed);
	CU_ASSERT_PTR_NULL(htab_lookup(&t, "key-1", 5));
	CU_ASSERT_PTR_NULL(htab_next(&t, NULL));
	add_item(&t, &a, 1);
	add_item(&t, &b, 2);
	CU_ASSERT_EQUAL(htab_count(&t), 2);
	CU_ASSERT_PTR_EQUAL(item_of(htab_lookup(&t, "key-1", 5)), &a);
	CU_ASSERT_PTR_EQUAL(item_of(htab_lookup(&t, "key-2", 5)), &b);
	/* A prefix, a longer key and another case are other keys. */
	CU_ASSERT_PTR_NULL(htab_lookup(&t, "key-", 4));
	CU_ASSERT_PTR_NULL(htab_lookup(&t, "key-11", 6));
	CU_ASSERT_PTR_NULL(htab_lookup(&t, "KEY-1", 5));
	htab_del(&t, &a.h);
	CU_ASSERT_EQUAL(htab_count(&t), 1);
	CU_ASSERT_PTR_NULL(htab_lookup(&t, "key-1", 5));
	CU_ASSERT_PTR_EQUAL(item_of(htab_lookup(&t, "key-2", 5)), &b);
	htab_del(&t, &b.h);
	CU_ASSERT_EQUAL(htab_count(&t), 0);
	CU_ASSERT_PTR_NULL(htab_next(&t, NULL));
	htab_fini(&t);
	CU_ASSERT_PTR_NULL(htab_lookup(&t, "key-2", 5));
}

static void test_htab_seed(void)
{
	static const uint64_t s1[2] = { 1, 2 }, s2[2] = { 3, 4 };
	struct htab a, b;

	htab_init(&a, s1);
	htab_init(&b, s2);
	CU_ASSERT_EQUAL(htab_hash(&a, "room", 4), siphash24(s1, "room", 4));
	CU_ASSERT_NOT_EQUAL(htab_hash(&a, "room", 4), htab_hash(&b, "room", 4));
}

/* Many entries: the table grows, every entry stays findable, iteration visits each once,
 * and deleting every other one leaves exactly the rest. */
static void test_htab_grow_del(void)
{
	enum { N = 5000 };
	static const uint64_t seed[2] = { 0x1234, 0x5678 };
	struct item *items = calloc(N, sizeof(*items));
	struct htab t;
	size_t visited = 0;
	char key[16];

	CU_ASSERT_PTR_NOT_NULL_FATAL(items);
	htab_init(&t, seed);
	for (unsigned i = 0; i < N; i++)
		add_item(&t, &items[i], i);
	CU_ASSERT_EQUAL(htab_count(&t), N);
	for (unsigned i = 0; i < N; i++) {
		size_t len = (size_t)snprintf(key, sizeof(key), "key-%u", i);

		CU_ASSERT_PTR_EQUAL(item_of(htab_lookup(&t, key, len)), &items[i]);
	}
	for (struct htab_entry *e = htab_next(&t, NULL); e; e = htab_next(&t, e)) {
		item_of(e)->seen++;
		visited++;
	}
	CU_ASSERT_EQUAL(visited, N);
	for (unsigned i = 0; i < N; i++)
		CU_ASSERT_EQUAL(items[i].seen, 1);
	for (unsigned i = 0; i < N; i += 2)
		htab_del(&t, &items[i].h);
	CU_ASSERT_EQUAL(htab_count(&t), N / 2);
	for (unsigned i = 0; i < N; i++) {
		size_t len = (size_t)snprintf(key, sizeof(key), "key-%u", i);
		struct item *found = item_of(htab_lookup(&t, key, len));

		CU_ASSERT_PTR_EQUAL(found, i % 2 ? &items[i] : NULL);
	}
	htab_fini(&t);
	free(items);
}

/* The decoding definition of a well-formed sequence, for checking utf8_seq_len against. */
static size_t seq_by_decoding(const unsigned char *s, size_t left)
{
	unsigned c = s[0], n, cp, min;

	if (c < 0x80)
		return 1;
	if (c >= 0xc0 && c <= 0xdf)
		n = 2, cp = c & 0x1f, min = 0x80;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f, min = 0x800;
	else if (c >= 0xf0 && c <= 0xf7)
		n = 4, cp = c & 0x07, min = 0x10000;
	else
		return 0;
	if (n > left)
		return 0;
	for (unsigned k = 1; k < n; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[k] & 0x3f);
	}
	return cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ? 0 : n;
}

static void test_utf8_cases(void)
{
	static const struct {
		const char *s;
		size_t len;
		bool ok;
		size_t chars;
	} cases[] = {
		{ "", 0, true, 0 },
		{ "plain ascii, longer than eight", 30, true, 30 },
		{ "\xc3\xa9", 2, true, 1 },
		{ "\xe2\x82\xac", 3, true, 1 },
		{ "\xf0\x9f\x98\x80", 4, true, 1 },
		{ "\xf4\x8f\xbf\xbf", 4, true, 1 }, /* U+10FFFF */
		{ "\xed\x9f\xbf", 3, true, 1 },     /* U+D7FF */
		{ "\xee\x80\x80", 3, true, 1 },     /* U+E000 */
		{ "a\0b", 3, true, 3 },             /* U+0000 is valid UTF-8 */
		{ "12345678\xc3\xa9" "12345678", 18, true, 17 },
		{ "\xc0\x80", 2, false, 0 },         /* overlong NUL */
		{ "\xc1\xbf", 2, false, 0 },         /* overlong */
		{ "\xe0\x9f\xbf", 3, false, 0 },     /* overlong */
		{ "\xf0\x8f\xbf\xbf", 4, false, 0 }, /* overlong */
		{ "\xed\xa0\x80", 3, false, 0 },     /* U+D800 */
		{ "\xed\xbf\xbf", 3, false, 0 },     /* U+DFFF */
		{ "\xf4\x90\x80\x80", 4, false, 0 }, /* past U+10FFFF */
		{ "\xf5\x80\x80\x80", 4, false, 0 },
		{ "\xff", 1, false, 0 },
		{ "\x80", 1, false, 0 },             /* stray continuation */
		{ "\xe2\x82", 2, false, 0 },         /* truncated */
		{ "\xc3\x28", 2, false, 0 },         /* bad continuation */
		{ "12345678\xe2\x82\xac\xc3", 12, false, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t chars = 99;
		bool ok = utf8_valid(cases[i].s, cases[i].len, &chars);

		if (ok != cases[i].ok || (ok && chars != cases[i].chars)) {
			fprintf(stderr, "utf8 case %zu\n", i);
			CU_FAIL("utf8_valid");
		}
		CU_ASSERT_EQUAL(utf8_valid(cases[i].s, cases[i].len, NULL), cases[i].ok);
	}
}

/* Every input of up to 3 bytes, and 4-byte ones with the last byte at the edges of the
 * continuation range: utf8_seq_len agrees with decoding for every left. */
static void test_utf8_exhaustive(void)
{
	static const unsigned char last[] = { 0x00, 0x7f, 0x80, 0x9f, 0xa0, 0xbf, 0xc0, 0xff };
	unsigned char s[4];
	size_t bad = 0;

	for (unsigned a = 0; a < 256; a++)
		for (unsigned b = 0; b < 256; b++)
			for (unsigned c = 0; c < 256; c++)
				for (size_t d = 0; d < (a >= 0xf0 ? sizeof(last) : 1); d++) {
					s[0] = (unsigned char)a;
					s[1] = (unsigned char)b;
					s[2] = (unsigned char)c;
					s[3] = a >= 0xf0 ? last[d] : 0x80;
					for (size_t left = 1; left <= 4; left++)
						bad += utf8_seq_len(s, left) != seq_by_decoding(s, left);
				}
	CU_ASSERT_EQUAL(bad, 0);
}

static void test_utf8_prefix(void)
{
	CU_ASSERT_EQUAL(utf8_prefix("", 4), 0);
	CU_ASSERT_EQUAL(utf8_prefix("abc", 4), 3);
	CU_ASSERT_EQUAL(utf8_prefix("abcd", 4), 4);
	CU_ASSERT_EQUAL(utf8_prefix("abcde", 4), 4);
	CU_ASSERT_EQUAL(utf8_prefix("ab\xc3\xa9", 3), 2);       /* é would be cut */
	CU_ASSERT_EQUAL(utf8_prefix("ab\xc3\xa9", 4), 4);
	CU_ASSERT_EQUAL(utf8_prefix("a\xf0\x9f\x98\x80z", 4), 1); /* so would the emoji */
	CU_ASSERT_EQUAL(utf8_prefix("a\xf0\x9f\x98\x80z", 5), 5);
	CU_ASSERT_EQUAL(utf8_prefix("\xe2\x82\xac", 0), 0);
	CU_ASSERT_EQUAL(utf8_prefix("\xe2\x82\xac", 2), 0);
}

static void test_b64url_vectors(void)
{
	/* RFC 4648 section 10, without padding; then the two digits base64 spells + and /. */
	static const struct {
		const char *raw;
		size_t n;
		const char *enc;
	} v[] = {
		{ "", 0, "" },         { "f", 1, "Zg" },          { "fo", 2, "Zm8" },
		{ "foo", 3, "Zm9v" },  { "foob", 4, "Zm9vYg" },   { "fooba", 5, "Zm9vYmE" },
		{ "foobar", 6, "Zm9vYmFy" }, { "\xfb\xff", 2, "-_8" },
	};
	char out[16];
	unsigned char raw[16];
	size_t n;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		CU_ASSERT_EQUAL(b64url_encode(v[i].raw, v[i].n, out), strlen(v[i].enc));
		CU_ASSERT_STRING_EQUAL(out, v[i].enc);
		CU_ASSERT_EQUAL(b64url_encoded_len(v[i].n), strlen(v[i].enc));
		CU_ASSERT_EQUAL(b64url_decoded_len(strlen(v[i].enc)), v[i].n);
		CU_ASSERT_EQUAL(b64url_decode(v[i].enc, strlen(v[i].enc), raw, &n), 0);
		CU_ASSERT_EQUAL(n, v[i].n);
		CU_ASSERT_EQUAL(memcmp(raw, v[i].raw, v[i].n), 0);
	}
}

static void test_b64url_round_trip(void)
{
	unsigned char in[64], back[64];
	char enc[b64url_encoded_len(64) + 1];
	unsigned x = 12345;

	for (size_t n = 0; n <= sizeof(in); n++) {
		size_t len, got = 999;

		for (size_t i = 0; i < n; i++) {
			x = x * 1103515245u + 12345u;
			in[i] = (unsigned char)(x >> 16);
		}
		len = b64url_encode(in, n, enc);
		CU_ASSERT_EQUAL(len, b64url_encoded_len(n));
		CU_ASSERT_EQUAL(strlen(enc), len);
		CU_ASSERT_EQUAL(strspn(enc, b64url_alphabet), len);
		CU_ASSERT_EQUAL(b64url_decode(enc, len, back, &got), 0);
		CU_ASSERT_EQUAL(got, n);
		CU_ASSERT_EQUAL(memcmp(in, back, n), 0);
	}
}

static void test_b64url_rejects(void)
{
	static const char *const bad[] = {
		"A",        /* 4k + 1 characters */
		"Zm9vY",    /* the same */
		"Zh",       /* nonzero unused bits: "Zg" is the only spelling of "f" */
		"Zm9",      /* likewise for "fo" ("Zm8") */
		"Zm9v+",    /* base64, not base64url */
		"Zm9/",
		"Zm8=",     /* no padding */
		"Zm 9",
		"Zm9v\x80",
	};
	unsigned char out[8];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CU_ASSERT_EQUAL(b64url_decode(bad[i], strlen(bad[i]), out, NULL), -EINVAL);
	CU_ASSERT_EQUAL(b64url_decode("Zm9v", 4, out, NULL), 0);
}

/* Standard base64 (RFC 4648 section 4) for MCP's "=?base64?...?=" header values: "+/",
 * padding optional, but when present it makes whole quanta of four. */
static void test_b64_std_vectors(void)
{
	static const struct {
		const char *enc, *raw;
		size_t n;
	} ok[] = {
		{ "", "", 0 },
		{ "Zg", "f", 1 },         { "Zg==", "f", 1 },
		{ "Zm8", "fo", 2 },       { "Zm8=", "fo", 2 },
		{ "Zm9v", "foo", 3 },
		{ "Zm9vYg", "foob", 4 },  { "Zm9vYg==", "foob", 4 },
		{ "Zm9vYmE", "fooba", 5 }, { "Zm9vYmE=", "fooba", 5 },
		{ "Zm9vYmFy", "foobar", 6 },
		{ "+/8", "\xfb\xff", 2 }, { "+/8=", "\xfb\xff", 2 },
		{ "fn5+", "~~~", 3 },     { "Pz8/", "???", 3 },
		{ "ZgA=", "f\0", 2 },
	};
	unsigned char out[16];
	size_t n;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		n = 999;
		CHECKF(b64url_decode_std(ok[i].enc, strlen(ok[i].enc), out, &n) == 0, "\"%s\"",
		       ok[i].enc);
		CU_ASSERT_EQUAL(n, ok[i].n);
		CU_ASSERT_EQUAL(memcmp(out, ok[i].raw, ok[i].n), 0);
		CU_ASSERT_TRUE(b64url_decoded_len(strlen(ok[i].enc)) >= ok[i].n);
	}
	/* out_len may be NULL. */
	CU_ASSERT_EQUAL(b64url_decode_std("Zm8=", 4, out, NULL), 0);
	CU_ASSERT_EQUAL(memcmp(out, "fo", 2), 0);
	/* len, not a NUL, ends the input. */
	CU_ASSERT_EQUAL(b64url_decode_std("Zm9v!!!!", 4, out, &n), 0);
	CU_ASSERT_EQUAL(n, 3);
}

static void test_b64_std_rejects(void)
{
	static const char *const bad[] = {
		"Zg=",       /* padding that is no whole quantum */
		"Zm9vYg=",
		"Zm8==",
		"Zg===",
		"=",
		"==",
		"====",      /* padding alone */
		"Zm9v====",  /* a quantum of padding */
		"Zg==Zg==",  /* padding in the middle */
		"Zg=A",
		"Z===",      /* three of padding */
		"Zm==",      /* "Zm" has nonzero unused bits: "f" is "Zg==" */
		"Zh==",
		"Zm9=",
		"A",         /* 4k + 1 digits */
		"Zm9vY",
		"-_8",       /* base64url, not base64 */
		"-_8=",
		"Zm9v-",
		"Zm9v_w==",
		"Zm 9",
		"Zm9v\x80",
		"Zm9v\n",
	};
	unsigned char out[16];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECKF(b64url_decode_std(bad[i], strlen(bad[i]), out, NULL) == -EINVAL,
		       "\"%s\" accepted", bad[i]);
	/* And base64url itself still refuses what only the standard form has. */
	CU_ASSERT_EQUAL(b64url_decode("+/8", 3, out, NULL), -EINVAL);
	CU_ASSERT_EQUAL(b64url_decode("Zg==", 4, out, NULL), -EINVAL);
	CU_ASSERT_EQUAL(b64url_decode("-_8", 3, out, NULL), 0);
}

/* Every byte string of 0..64 bytes: base64url with "+/" for "-_", padded or not. */
static void test_b64_std_round_trip(void)
{
	unsigned char in[64], back[64];
	char enc[b64url_encoded_len(64) + 3];
	unsigned x = 777;

	for (size_t n = 0; n <= sizeof(in); n++) {
		size_t len;

		for (size_t i = 0; i < n; i++) {
			x = x * 1103515245u + 12345u;
			in[i] = (unsigned char)(x >> 16);
		}
		len = b64url_encode(in, n, enc);
		for (size_t i = 0; i < len; i++)
			enc[i] = enc[i] == '-' ? '+' : enc[i] == '_' ? '/' : enc[i];
		for (int pad = 0; pad < 2; pad++) {
			size_t l = len, got = 999;

			if (pad)
				while (l % 4)
					enc[l++] = '=';
			CU_ASSERT_EQUAL(b64url_decode_std(enc, l, back, &got), 0);
			CU_ASSERT_EQUAL(got, n);
			CU_ASSERT_EQUAL(memcmp(in, back, n), 0);
		}
	}
}

struct node {
	struct list_link link;
	int v;
};

static void test_list_circular(void)
{
	struct list_link head;
	struct node n[3] = { { .v = 0 }, { .v = 1 }, { .v = 2 } };
	int order[3], k = 0;

	list_head_init(&head);
	CU_ASSERT_TRUE(list_empty(&head));
	for (int i = 0; i < 3; i++)
		list_append(&head, &n[i].link);
	CU_ASSERT_FALSE(list_empty(&head));
	list_del(&n[1].link);
	list_del(&n[1].link); /* a second delete is harmless */
	for (struct list_link *l = head.next; l != &head; l = l->next)
		order[k++] = container_of(l, struct node, link)->v;
	CU_ASSERT_EQUAL(k, 2);
	CU_ASSERT_EQUAL(order[0], 0);
	CU_ASSERT_EQUAL(order[1], 2);
	list_del(&n[0].link);
	list_del(&n[2].link);
	CU_ASSERT_TRUE(list_empty(&head));
}

/* xalloc: the failure policy is "log one line and abort". ASan's allocator would report a
 * huge request and exit on its own; with allocator_may_return_null it returns NULL like
 * glibc, so the same test runs with and without sanitizers. */
#if defined(__SANITIZE_ADDRESS__)
#define UNIT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNIT_ASAN 1
#endif
#endif
#ifdef UNIT_ASAN
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "allocator_may_return_null=1";
}
#endif

enum xa_op { XA_MALLOC, XA_CALLOC, XA_REALLOC };

/* Runs the allocation in a child with stderr on a pipe; returns its wait status and what it
 * wrote in out. */
static int xalloc_child(enum xa_op op, size_t n, char *out, size_t cap)
{
	int fds[2], status = 0;
	size_t got = 0;
	ssize_t r;
	pid_t pid;

	CU_ASSERT_FATAL(pipe(fds) == 0);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		volatile size_t size = n; /* keeps the compiler from judging the request itself */
		struct rlimit none = { 0, 0 };
		void *p = NULL;

		setrlimit(RLIMIT_CORE, &none);
		dup2(fds[1], STDERR_FILENO);
		close(fds[0]);
		if (op == XA_MALLOC)
			p = xmalloc(size);
		else if (op == XA_CALLOC)
			p = xcalloc(size, size);
		else
			p = xrealloc(xmalloc(16), size);
		free(p);
		_exit(0);
	}
	close(fds[1]);
	while (got + 1 < cap && (r = read(fds[0], out + got, cap - 1 - got)) > 0)
		got += (size_t)r;
	out[got] = '\0';
	close(fds[0]);
	CU_ASSERT_FATAL(waitpid(pid, &status, 0) == pid);
	return status;
}

static void test_xalloc_failure_aborts(void)
{
	static const enum xa_op ops[] = { XA_MALLOC, XA_CALLOC, XA_REALLOC };
	char out[512], want[64];

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		/* SIZE_MAX / 2 bytes, or SIZE_MAX/2 squared (an overflow) for calloc. */
		int status = xalloc_child(ops[i], SIZE_MAX / 2, out, sizeof(out));

		CU_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
		snprintf(want, sizeof(want), "allocate %zu bytes; aborting\n",
			 ops[i] == XA_CALLOC ? SIZE_MAX : SIZE_MAX / 2);
		/* A line of its own at error level (ASan may print a warning before it). */
		CU_ASSERT(strncmp(out, "<3>out of memory: ", 18) == 0 ||
			  strstr(out, "\n<3>out of memory: ") != NULL);
		CU_ASSERT_PTR_NOT_NULL(strstr(out, want));
		if (!WIFSIGNALED(status) || !strstr(out, want))
			fprintf(stderr, "op %zu: status %#x, stderr: %s\n", i, status, out);
	}
}

static void test_xalloc_success(void)
{
	char *a = xmalloc(0), *b = xcalloc(0, 8), *c = xcalloc(4, 4), *d = xstrdup("chat");
	char *e = xasprintf("%s-%u", "mcp", 7u);

	CU_ASSERT_PTR_NOT_NULL(a);
	CU_ASSERT_PTR_NOT_NULL(b);
	for (int i = 0; i < 16; i++)
		CU_ASSERT_EQUAL(c[i], 0);
	c = xrealloc(c, 4096);
	c[4095] = 1;
	CU_ASSERT_STRING_EQUAL(d, "chat");
	CU_ASSERT_STRING_EQUAL(e, "mcp-7");
	free(a);
	free(b);
	free(c);
	free(d);
	free(e);
}

static const struct unit_test siphash_tests[] = {
	{ "reference vectors", test_siphash_vectors },
	{ "key, message and length matter", test_siphash_keyed },
	{ NULL, NULL },
};

static const struct unit_test htab_tests[] = {
	{ "add, find, delete", test_htab_basic },
	{ "seeded hash", test_htab_seed },
	{ "grow, iterate, delete half", test_htab_grow_del },
	{ NULL, NULL },
};

static const struct unit_test utf8_tests[] = {
	{ "valid, invalid, overlong, surrogate", test_utf8_cases },
	{ "every short sequence against decoding", test_utf8_exhaustive },
	{ "prefix on a character boundary", test_utf8_prefix },
	{ NULL, NULL },
};

static const struct unit_test b64url_tests[] = {
	{ "RFC 4648 vectors", test_b64url_vectors },
	{ "round trips of 0..64 bytes", test_b64url_round_trip },
	{ "decode rejects", test_b64url_rejects },
	{ "standard base64: vectors, optional padding", test_b64_std_vectors },
	{ "standard base64: rejects", test_b64_std_rejects },
	{ "standard base64: round trips", test_b64_std_round_trip },
	{ NULL, NULL },
};

static const struct unit_test xalloc_tests[] = {
	{ "a failed allocation logs one line and aborts", test_xalloc_failure_aborts },
	{ "allocations that succeed, zero sizes included", test_xalloc_success },
	{ NULL, NULL },
};

static const struct unit_test list_tests[] = {
	{ "circular sentinel list", test_list_circular },
	{ NULL, NULL },
};

int main(void)
{
	static const struct unit_suite suites[] = {
		{ "siphash", siphash_tests, NULL, NULL, NULL, NULL },
		{ "htab", htab_tests, NULL, NULL, NULL, NULL },
		{ "utf8", utf8_tests, NULL, NULL, NULL, NULL },
		{ "b64url", b64url_tests, NULL, NULL, NULL, NULL },
		{ "list", list_tests, NULL, NULL, NULL, NULL },
		{ "xalloc", xalloc_tests, NULL, NULL, NULL, NULL },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};

	return unit_main(suites);
}
