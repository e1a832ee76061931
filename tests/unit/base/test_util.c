#include "base/util.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static void test_ct_equal(void **state)
{
	(void)state;
	assert_true(util_ct_equal("abc", 3, "abc", 3));
	assert_false(util_ct_equal("abc", 3, "abd", 3));
	assert_false(util_ct_equal("abc", 3, "abcd", 4));
	assert_true(util_ct_equal("", 0, "", 0));
}

static void test_random_hex(void **state)
{
	unsigned char a[32], b[32];
	char hex[65];

	(void)state;
	assert_int_equal(util_random_bytes(a, sizeof(a)), 0);
	assert_int_equal(util_random_bytes(b, sizeof(b)), 0);
	assert_memory_not_equal(a, b, sizeof(a));
	util_hex(a, sizeof(a), hex);
	assert_int_equal(strlen(hex), 64);
	assert_int_equal(strspn(hex, "0123456789abcdef"), 64);
}

static void test_parse_long(void **state)
{
	long v;

	(void)state;
	assert_int_equal(util_parse_long("42", 0, 100, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(util_parse_long("42x", 0, 100, &v), -EINVAL);
	assert_int_equal(util_parse_long("", 0, 100, &v), -EINVAL);
	assert_int_equal(util_parse_long(" 4", 0, 100, &v), -EINVAL);
	assert_int_equal(util_parse_long("101", 0, 100, &v), -ERANGE);
	assert_int_equal(util_parse_long("99999999999999999999999", 0, 100, &v), -ERANGE);
}

static void test_rfc3339(void **state)
{
	int64_t us;
	char out[40];

	(void)state;
	assert_int_equal(util_parse_rfc3339("2026-05-01T12:00:00Z", &us), 0);
	assert_true(us == 1777636800LL * 1000000);
	assert_int_equal(util_parse_rfc3339("2026-05-01T12:00:00.123456789Z", &us), 0);
	assert_true(us == 1777636800LL * 1000000 + 123456);
	assert_int_equal(util_parse_rfc3339("2026-05-01T14:00:00+02:00", &us), 0);
	assert_true(us == 1777636800LL * 1000000);
	util_format_rfc3339(1777636800LL * 1000000 + 5, out, sizeof(out));
	assert_string_equal(out, "2026-05-01T12:00:00.000005Z");
	assert_int_equal(util_parse_rfc3339("2026-05-01", &us), -EINVAL);
	assert_int_equal(util_parse_rfc3339("2026-13-01T00:00:00Z", &us), -EINVAL);
	assert_int_equal(util_parse_rfc3339("2026-05-01T12:00:00Zjunk", &us), -EINVAL);
}

static void test_strings(void **state)
{
	char *s;

	(void)state;
	assert_true(util_contains_icase("You\xe2\x80\x99ve hit your Usage Limit.", "usage limit"));
	assert_false(util_contains_icase("limit of usage", "usage limit"));
	assert_false(util_contains_icase(NULL, "x"));
	s = util_printf("%s-%d", "a", 7);
	assert_string_equal(s, "a-7");
	free(s);
	assert_true(util_starts_with("codex-switch/1", "codex-switch/"));
	assert_false(util_starts_with(NULL, "x"));
}

static void test_countdown(void **state)
{
	char s[32];

	(void)state;
	util_format_countdown(2 * 3600 + 13 * 60, s, sizeof(s));
	assert_string_equal(s, "2h 13m");
	util_format_countdown(4 * 86400 + 2 * 3600 + 5, s, sizeof(s));
	assert_string_equal(s, "4d 2h");
	/* rounded up: a reset 61 s away is not "1m" yet. */
	util_format_countdown(61, s, sizeof(s));
	assert_string_equal(s, "2m");
	util_format_countdown(1, s, sizeof(s));
	assert_string_equal(s, "1m");
	util_format_countdown(0, s, sizeof(s));
	assert_string_equal(s, "now");
	util_format_countdown(-5, s, sizeof(s));
	assert_string_equal(s, "now");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_ct_equal),   cmocka_unit_test(test_random_hex),
	        cmocka_unit_test(test_parse_long), cmocka_unit_test(test_rfc3339),
	        cmocka_unit_test(test_strings),    cmocka_unit_test(test_countdown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
