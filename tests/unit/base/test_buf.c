#include "base/buf.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static void test_limit(void **state)
{
	struct buf b;
	char *s;

	(void)state;
	buf_init(&b, 10);
	assert_int_equal(buf_append_str(&b, "hello"), 0);
	assert_int_equal(buf_append_str(&b, "world"), 0);
	assert_int_equal(buf_append_str(&b, "!"), -E2BIG);
	/* A failed append leaves the buffer as it was. */
	assert_int_equal(b.len, 10);
	assert_string_equal(b.data, "helloworld");
	s = buf_detach(&b);
	assert_string_equal(s, "helloworld");
	free(s);
	assert_null(b.data);
	buf_release(&b);
}

static void test_printf_large(void **state)
{
	struct buf b;
	char big[2000];

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	buf_init(&b, 1 << 20);
	assert_int_equal(buf_printf(&b, "%s-%d", big, 5), 0);
	assert_int_equal(b.len, sizeof(big) - 1 + 2);
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	buf_release(&b);
	buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_limit),
	        cmocka_unit_test(test_printf_large),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
