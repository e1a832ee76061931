/* base64: RFC 4648's examples, OpenSSL's encoder as the independent reference, round trips. */
#include "base/base64.h"

#include <errno.h>
#include <openssl/evp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

/* RFC 4648 section 10. */
static void test_rfc_vectors(void **state)
{
	static const char *const in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
	static const char *const std[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
	                                  "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
	static const char *const url[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
	char out[16];

	(void)state;
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		assert_int_equal(base64_encode(in[i], strlen(in[i]), out), strlen(std[i]));
		assert_string_equal(out, std[i]);
		assert_int_equal(base64url_encode(in[i], strlen(in[i]), out), strlen(url[i]));
		assert_string_equal(out, url[i]);
	}
	base64url_encode("\xfb\xff", 2, out);
	assert_string_equal(out, "-_8");
}

/* Every length up to a few blocks, every byte value: OpenSSL agrees, and decoding the
 * URL-safe form gives the bytes back. */
static void test_matches_openssl_and_round_trips(void **state)
{
	unsigned char in[200], back[200];
	char mine[BASE64_LEN(200) + 1], theirs[BASE64_LEN(200) + 1];
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(in); i++) {
		in[i] = (unsigned char)(i * 97 + 251);
	}
	for (size_t len = 0; len <= sizeof(in); len++) {
		size_t k = base64_encode(in, len, mine);
		assert_int_equal(k, BASE64_LEN(len));
		assert_int_equal(EVP_EncodeBlock((unsigned char *)theirs, in, (int)len), (int)k);
		assert_string_equal(mine, theirs);
		k = base64url_encode(in, len, mine);
		assert_int_equal(base64url_decode(mine, k, back, &n), 0);
		assert_int_equal(n, len);
		assert_memory_equal(back, in, len);
	}
}

static void test_decode_refuses(void **state)
{
	unsigned char out[16];
	size_t n = 99;

	(void)state;
	assert_int_equal(base64url_decode("Zm9v", 4, out, &n), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(out, "foo", 3);
	/* the standard alphabet's '+' and '/', padding, whitespace, a length no encoding has */
	assert_int_equal(base64url_decode("Zm+v", 4, out, &n), -EINVAL);
	assert_int_equal(base64url_decode("Zm/v", 4, out, &n), -EINVAL);
	assert_int_equal(base64url_decode("Zg==", 4, out, &n), -EINVAL);
	assert_int_equal(base64url_decode("Zm 9v", 5, out, &n), -EINVAL);
	assert_int_equal(base64url_decode("Zm9vY", 5, out, &n), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_rfc_vectors),
	        cmocka_unit_test(test_matches_openssl_and_round_trips),
	        cmocka_unit_test(test_decode_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
