#include "base/log.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static void test_redacts_registered_secrets(void **state)
{
	char out[256];

	(void)state;
	log_add_secret("rt_secret/value+1");
	log_redact("body refresh_token=rt_secret/value+1 and rt_secret%2Fvalue%2B1", out,
	           sizeof(out));
	assert_string_equal(out, "body refresh_token=<redacted> and <redacted>");
	log_forget_secrets();
	log_redact("rt_secret/value+1", out, sizeof(out));
	assert_string_equal(out, "rt_secret/value+1");
}

static void test_redacts_jwt_shapes(void **state)
{
	char out[256];

	(void)state;
	log_redact("token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl end", out, sizeof(out));
	assert_string_equal(out, "token <redacted> end");
}

static void test_escapes_control_characters(void **state)
{
	char out[64];

	(void)state;
	log_redact("a\nb\x1b[31m", out, sizeof(out));
	assert_string_equal(out, "a\\x0ab\\x1b[31m");
	/* Truncation still terminates. */
	log_redact("0123456789", out, 5);
	assert_string_equal(out, "0123");
}

static void test_short_secrets_ignored(void **state)
{
	char out[64];

	(void)state;
	log_add_secret("abc");
	log_redact("abc", out, sizeof(out));
	assert_string_equal(out, "abc");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_redacts_registered_secrets),
	        cmocka_unit_test(test_redacts_jwt_shapes),
	        cmocka_unit_test(test_escapes_control_characters),
	        cmocka_unit_test(test_short_secrets_ignored),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
