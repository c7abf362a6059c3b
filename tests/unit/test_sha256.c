#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "util/sha256.h"

/* SHA-256 against FIPS 180-4's examples, HMAC-SHA256 against RFC 4231's test cases, the
 * streaming interface against the one-shot one, and the constant-time comparison. */

static void hex(const uint8_t *d, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void expect_sha(const char *msg, size_t len, const char *want)
{
	uint8_t d[SHA256_LEN];
	char h[2 * SHA256_LEN + 1];

	sha256(msg, len, d);
	hex(d, SHA256_LEN, h);
	CHECKF(strcmp(h, want) == 0, "sha256 of %zu bytes: %s", len, h);
}

static void test_sha256_vectors(void)
{
	static const char two_blocks[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	char *million = malloc(1000000);

	expect_sha("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	expect_sha("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	expect_sha(two_blocks, strlen(two_blocks),
		   "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	memset(million, 'a', 1000000);
	expect_sha(million, 1000000,
		   "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	free(million);
}

/* Fed in pieces of every size, the digest is the one-shot one. */
static void test_sha256_streaming(void)
{
	uint8_t msg[200], one[SHA256_LEN], d[SHA256_LEN];
	struct sha256 s;

	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)(i * 7 + 3);
	for (size_t len = 0; len <= sizeof(msg); len += 13) {
		sha256(msg, len, one);
		for (size_t step = 1; step <= 65; step += 16) {
			sha256_init(&s);
			for (size_t off = 0; off < len; off += step)
				sha256_update(&s, msg + off, len - off < step ? len - off : step);
			sha256_final(&s, d);
			CHECKF(memcmp(d, one, SHA256_LEN) == 0, "len %zu step %zu", len, step);
		}
	}
}

static void expect_hmac(const void *key, size_t klen, const char *data, const char *want)
{
	uint8_t d[SHA256_LEN];
	char h[2 * SHA256_LEN + 1];

	hmac_sha256(key, klen, data, strlen(data), d);
	hex(d, SHA256_LEN, h);
	CHECKF(strcmp(h, want) == 0, "hmac with a %zu-byte key: %s", klen, h);
}

static void test_hmac_rfc4231(void)
{
	uint8_t k20[20], k131[131];

	memset(k20, 0x0b, sizeof(k20));
	memset(k131, 0xaa, sizeof(k131));
	expect_hmac(k20, sizeof(k20), "Hi There",
		    "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
	expect_hmac("Jefe", 4, "what do ya want for nothing?",
		    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	expect_hmac(k131, sizeof(k131), "Test Using Larger Than Block-Size Key - Hash Key First",
		    "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

static void test_equal(void)
{
	uint8_t a[32] = { 0 }, b[32] = { 0 };

	CU_ASSERT_TRUE(sha256_equal(a, b, 32));
	CU_ASSERT_TRUE(sha256_equal(a, b, 0));
	for (int i = 0; i < 32; i += 31) {
		b[i] = 1;
		CU_ASSERT_FALSE(sha256_equal(a, b, 32));
		b[i] = 0;
	}
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "FIPS 180-4 examples", test_sha256_vectors },
		{ "streaming in pieces", test_sha256_streaming },
		{ "HMAC: RFC 4231 cases 1, 2, 6", test_hmac_rfc4231 },
		{ "constant-time equality", test_equal },
		{ NULL, NULL },
	};
	static const struct unit_suite suites[] = {
		{ "sha256", tests, NULL, NULL, NULL, NULL },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};

	return unit_main(suites);
}
