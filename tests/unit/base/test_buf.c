#include "base/buf.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
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

/* fd holding n bytes, then end of file. */
static int pipe_with(size_t n)
{
	char data[10000];
	int fds[2];

	memset(data, 'x', sizeof(data));
	assert_true(n <= sizeof(data));
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], data, n), (ssize_t)n);
	close(fds[1]);
	return fds[0];
}

static void test_read_fd(void **state)
{
	size_t maxes[] = {20000, 10000, 9999, 0};
	int want[] = {0, 0, -E2BIG, -E2BIG};

	(void)state;
	for (size_t i = 0; i < sizeof(maxes) / sizeof(maxes[0]); i++) {
		struct buf b;
		int fd = pipe_with(10000);

		buf_init(&b, maxes[i]);
		assert_int_equal(buf_read_fd(&b, fd), want[i]);
		assert_int_equal(b.len, maxes[i] < 10000 ? maxes[i] : 10000);
		assert_true(b.len == 0 || (b.data[0] == 'x' && b.data[b.len] == '\0'));
		buf_release(&b);
		close(fd);
	}
	assert_int_equal(buf_read_fd(&(struct buf){0}, -1), -EBADF);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_limit),
	        cmocka_unit_test(test_printf_large),
	        cmocka_unit_test(test_read_fd),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
