#include "base/sha.h"

#include <openssl/evp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static void hex(const unsigned char *d, char out[2 * SHA256_LEN + 1], int n)
{
	for (int i = 0; i < n; i++) {
		snprintf(out + 2 * i, 3, "%02x", d[i]);
	}
}

/* One example: in, and the digest's hex as the standard that gives it says. */
struct vector {
	const char *in, *sha1, *sha256;
};

/* FIPS 180 examples, RFC 6455's handshake (SHA-1) and RFC 7636's PKCE example (SHA-256: its
 * challenge is this digest, base64url); NULL where the source gives no digest. */
static const struct vector vectors[] = {
        {"", "da39a3ee5e6b4b0d3255bfef95601890afd80709",
         "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "a9993e364706816aba3e25717850c26c9cd0d89d",
         "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "84983e441c3bd26ebaae4aa1f95129e5e54670f1",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
        {"dGhlIHNhbXBsZSBub25jZQ==258EAFA5-E914-47DA-95CA-C5AB0DC85B11",
         "b37a4f2cc0624f1690f64606cf385945b2bec4ea", NULL},
        {"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", NULL,
         "13d31e961a1ad8ec2f16b10c4c982e0876a878ad6df144566ee1894acb70f9c3"},
};

static void test_known_vectors(void **state)
{
	unsigned char d[SHA256_LEN];
	char h[2 * SHA256_LEN + 1];

	(void)state;
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		const struct vector *v = &vectors[i];
		if (v->sha1) {
			sha1_digest(v->in, strlen(v->in), d);
			hex(d, h, SHA1_LEN);
			assert_string_equal(h, v->sha1);
		}
		if (v->sha256) {
			sha256_digest(v->in, strlen(v->in), d);
			hex(d, h, SHA256_LEN);
			assert_string_equal(h, v->sha256);
		}
	}
}

static void test_million_a(void **state)
{
	size_t n = 1000000;
	char *a = malloc(n);
	unsigned char d[SHA256_LEN];
	char h[2 * SHA256_LEN + 1];

	(void)state;
	assert_non_null(a);
	memset(a, 'a', n);
	sha1_digest(a, n, d);
	hex(d, h, SHA1_LEN);
	assert_string_equal(h, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
	sha256_digest(a, n, d);
	hex(d, h, SHA256_LEN);
	assert_string_equal(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	free(a);
}

/* Every length around the padding's block boundaries, against OpenSSL. */
static void test_matches_openssl(void **state)
{
	unsigned char in[300], mine[SHA256_LEN], theirs[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(in); i++) {
		in[i] = (unsigned char)(i * 131 + 7);
	}
	for (size_t len = 0; len <= sizeof(in); len++) {
		sha1_digest(in, len, mine);
		assert_true(EVP_Digest(in, len, theirs, &n, EVP_sha1(), NULL));
		assert_int_equal(n, SHA1_LEN);
		assert_memory_equal(mine, theirs, SHA1_LEN);
		sha256_digest(in, len, mine);
		assert_true(EVP_Digest(in, len, theirs, &n, EVP_sha256(), NULL));
		assert_int_equal(n, SHA256_LEN);
		assert_memory_equal(mine, theirs, SHA256_LEN);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_known_vectors),
	        cmocka_unit_test(test_million_a),
	        cmocka_unit_test(test_matches_openssl),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
