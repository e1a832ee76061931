#include "base/termsafe.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

static void test_is_control(void **state)
{
	(void)state;
	for (unsigned c = 0; c < 0x20; c++) {
		assert_true(termsafe_is_control((unsigned char)c));
	}
	assert_true(termsafe_is_control(0x7f));
	assert_true(termsafe_is_control(0x1b));
	assert_false(termsafe_is_control(' '));
	assert_false(termsafe_is_control('~'));
	/* UTF-8 bytes pass: names in other scripts stay readable. */
	assert_false(termsafe_is_control(0xc3));
	assert_false(termsafe_is_control(0x80));
}

static void test_has_control(void **state)
{
	(void)state;
	assert_false(termsafe_has_control("work"));
	assert_false(termsafe_has_control(""));
	assert_false(termsafe_has_control(NULL));
	assert_false(termsafe_has_control("caf\xc3\xa9"));
	assert_true(termsafe_has_control("a\tb"));
	assert_true(termsafe_has_control("x\x1b[2J"));
	assert_true(termsafe_has_control("del\x7f"));
}

static void test_replace(void **state)
{
	char s[] = "a\x1b[31mb\r\n\x7f\xc3\xa9";

	(void)state;
	termsafe_replace(s);
	assert_string_equal(s, "a?[31mb???\xc3\xa9");
	termsafe_replace(NULL);
}

static void test_copy(void **state)
{
	char out[8];

	(void)state;
	termsafe_copy(out, sizeof(out),
	              "ab\x1b"
	              "c",
	              100);
	assert_string_equal(out, "ab?c");
	/* max bytes of the source at most. */
	termsafe_copy(out, sizeof(out), "abcdef", 3);
	assert_string_equal(out, "abc");
	/* never past the end of out. */
	termsafe_copy(out, sizeof(out), "0123456789", 100);
	assert_string_equal(out, "0123456");
	termsafe_copy(out, sizeof(out), NULL, 100);
	assert_string_equal(out, "");
	termsafe_copy(out, 1, "abc", 100);
	assert_string_equal(out, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_is_control),
	        cmocka_unit_test(test_has_control),
	        cmocka_unit_test(test_replace),
	        cmocka_unit_test(test_copy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
