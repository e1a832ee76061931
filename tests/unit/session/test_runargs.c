#include "session/runargs.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static char *join(char **argv)
{
	static char out[1024];

	out[0] = '\0';
	for (char **p = argv; *p; p++) {
		strncat(out, *p, sizeof(out) - strlen(out) - 2);
		if (p[1]) {
			strncat(out, " ", sizeof(out) - strlen(out) - 1);
		}
	}
	return out;
}

static void check_ok(int argc, char *const argv[], const char *expect)
{
	char err[256];
	char **out;

	assert_int_equal(runargs_check(argc, argv, err, sizeof(err)), 0);
	out = runargs_tui_argv("codex", argc, argv, "/w", "ws://127.0.0.1:9", "ENV");
	assert_non_null(out);
	assert_string_equal(join(out), expect);
	runargs_free(out);
}

static void test_accepted(void **state)
{
	char *none[] = {NULL};
	char *opt[] = {"-m", "gpt", NULL};
	char *resume[] = {"resume", "abc", NULL};
	char *fork_[] = {"fork", "abc", NULL};
	char *prompt[] = {"--model", "x", "--", "fix", "-C", NULL};
	char *first[] = {"fix the build", NULL};
	char *first_opts[] = {"-m", "x", "fix the build", "-c", "k=v", NULL};

	(void)state;
	check_ok(0, none, "codex -C /w --remote ws://127.0.0.1:9 --remote-auth-token-env ENV");
	check_ok(2, opt,
	         "codex -C /w -m gpt --remote ws://127.0.0.1:9 --remote-auth-token-env ENV");
	check_ok(2, resume,
	         "codex resume -C /w abc --remote ws://127.0.0.1:9 --remote-auth-token-env ENV");
	check_ok(2, fork_,
	         "codex fork -C /w abc --remote ws://127.0.0.1:9 --remote-auth-token-env ENV");
	/* -C after "--" is a prompt word, not an option: the directory is still added. */
	check_ok(5, prompt,
	         "codex -C /w --model x --remote ws://127.0.0.1:9 "
	         "--remote-auth-token-env ENV -- fix -C");
	/* A first prompt, as in `codex "fix the build"`, with options before or after it. */
	check_ok(1, first,
	         "codex -C /w fix the build --remote ws://127.0.0.1:9 --remote-auth-token-env ENV");
	check_ok(5, first_opts,
	         "codex -C /w -m x fix the build -c k=v --remote ws://127.0.0.1:9 "
	         "--remote-auth-token-env ENV");
}

/* On a unix socket codex takes no token: no --remote-auth-token-env. */
static void test_no_token_option(void **state)
{
	char *opt[] = {"-m", "gpt", "--", "fix", NULL};
	char **out = runargs_tui_argv("codex", 4, opt, "/w", "unix:///r/sock-1-tui", NULL);

	(void)state;
	assert_non_null(out);
	assert_string_equal(join(out), "codex -C /w -m gpt --remote unix:///r/sock-1-tui -- fix");
	runargs_free(out);
}

static void test_directory_kept(void **state)
{
	char *c1[] = {"-C", "/d", NULL};
	char *c2[] = {"-C/d", NULL};
	char *c3[] = {"--cd=/d", NULL};
	char *c4[] = {"resume", "--cd", "/d", NULL};

	(void)state;
	check_ok(2, c1, "codex -C /d --remote ws://127.0.0.1:9 --remote-auth-token-env ENV");
	check_ok(1, c2, "codex -C/d --remote ws://127.0.0.1:9 --remote-auth-token-env ENV");
	check_ok(1, c3, "codex --cd=/d --remote ws://127.0.0.1:9 --remote-auth-token-env ENV");
	check_ok(3, c4,
	         "codex resume --cd /d --remote ws://127.0.0.1:9 --remote-auth-token-env ENV");
}

static void test_refused(void **state)
{
	char err[256];
	char *exec_[] = {"exec", "hi", NULL};
	char *login[] = {"login", NULL};
	char *e_[] = {"e", NULL};
	char *remote[] = {"--remote", "ws://x", NULL};
	char *remote_eq[] = {"--remote=ws://x", NULL};
	char *env[] = {"resume", "--remote-auth-token-env=X", NULL};
	char *env2[] = {"--remote-auth-token-env", "X", NULL};

	(void)state;
	assert_int_equal(runargs_check(2, exec_, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "'codex resume'"));
	assert_int_equal(runargs_check(1, login, err, sizeof(err)), -EINVAL);
	assert_int_equal(runargs_check(1, e_, err, sizeof(err)), -EINVAL);
	assert_int_equal(runargs_check(2, remote, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--remote"));
	assert_int_equal(runargs_check(1, remote_eq, err, sizeof(err)), -EINVAL);
	assert_int_equal(runargs_check(2, env, err, sizeof(err)), -EINVAL);
	assert_int_equal(runargs_check(2, env2, err, sizeof(err)), -EINVAL);
}

static void test_summary(void **state)
{
	char out[64];
	char *a[] = {"resume", "secret-looking-arg", NULL};
	char *p[] = {"a prompt", NULL};

	(void)state;
	assert_string_equal(runargs_summary(2, a, out, sizeof(out)), "resume (2 args)");
	assert_string_equal(runargs_summary(0, a, out, sizeof(out)), "default (0 args)");
	assert_string_equal(runargs_summary(1, p, out, sizeof(out)), "prompt (1 args)");
}

static void test_reads_sessions(void **state)
{
	char *r[] = {"resume", NULL}, *f[] = {"fork", "0199", NULL}, *p[] = {"resume me", NULL};
	char *o[] = {"-m", "gpt-5", NULL};

	(void)state;
	assert_true(runargs_reads_sessions(1, r));
	assert_true(runargs_reads_sessions(2, f));
	assert_false(runargs_reads_sessions(1, p));
	assert_false(runargs_reads_sessions(2, o));
	assert_false(runargs_reads_sessions(0, r));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_accepted),       cmocka_unit_test(test_no_token_option),
	        cmocka_unit_test(test_directory_kept), cmocka_unit_test(test_refused),
	        cmocka_unit_test(test_summary),        cmocka_unit_test(test_reads_sessions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
