#include "base/log.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
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

/* A run log stops growing at its limit, with a last line that says so; a new one starts empty. */
static void test_file_size_limit(void **state)
{
	char dir[] = "/tmp/cs-test-log-XXXXXX", path[64], buf[8192];
	struct stat st;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/run.log", dir);
	log_set_file_max(4096);
	log_set_file_level(LOG_INFO);
	log_set_stderr_level(LOG_OFF);
	assert_int_equal(log_open_file(path), 0);
	for (int i = 0; i < 1000; i++) {
		log_info("refused a client connection %d: missing or wrong bearer token", i);
	}
	log_close_file();
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_size > 3000 && st.st_size <= 4096);
	f = fopen(path, "r");
	assert_non_null(f);
	buf[fread(buf, 1, sizeof(buf) - 1, f)] = '\0';
	fclose(f);
	assert_non_null(strstr(buf, "refused a client connection 0:"));
	assert_non_null(strstr(buf, "reached its limit of 4096 bytes"));
	assert_null(strstr(buf, "connection 999:"));
	unlink(path);
	assert_int_equal(log_open_file(path), 0);
	log_info("a new log");
	log_close_file();
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_size > 0 && st.st_size < 100);
	unlink(path);
	rmdir(dir);
	log_set_file_max(LOG_FILE_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_redacts_registered_secrets),
	        cmocka_unit_test(test_redacts_jwt_shapes),
	        cmocka_unit_test(test_escapes_control_characters),
	        cmocka_unit_test(test_short_secrets_ignored),
	        cmocka_unit_test(test_file_size_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
