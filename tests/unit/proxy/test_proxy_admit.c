#include "proxy/proxy.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/resource.h>
#include <cmocka.h>

/* `run` starts with the soft descriptor limit at the hard one, wherever the shell left it. */
static void test_raise_fd_limit(void **state)
{
	struct rlimit rl, now;

	(void)state;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_max < 64) {
		skip();
	}
	now = (struct rlimit){.rlim_cur = 32, .rlim_max = rl.rlim_max};
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &now), 0);
	assert_int_equal(proxy_raise_fd_limit(), 0);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &now), 0);
	assert_true(now.rlim_cur == rl.rlim_max);
	/* Already there: nothing to do. */
	assert_int_equal(proxy_raise_fd_limit(), 0);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_raise_fd_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
