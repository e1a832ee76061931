#include "base/log.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
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

static bool redacted(const char *secret)
{
	char out[256];

	log_redact(secret, out, sizeof(out));
	return strcmp(out, "<redacted>") == 0;
}

/*
 * A long session: thousands of refreshes register new tokens. The pinned capability token and
 * the tokens in use stay redacted; old tokens make room; the table never grows past its limit.
 */
static void test_pinned_survive_long_session(void **state)
{
	char cap[] = "capability-token-0123456789", cur[3][64], old[64];

	(void)state;
	log_forget_secrets();
	assert_int_equal(log_pin_secret(cap), 0);
	snprintf(old, sizeof(old), "refresh-token-never-used-again");
	log_add_secret(old);
	for (int i = 0; i < 3; i++) {
		snprintf(cur[i], sizeof(cur[i]), "account-%d-token-generation-0", i);
		assert_int_equal(log_pin_secret(cur[i]), 0);
	}
	for (int gen = 1; gen <= 3 * LOG_MAX_SECRETS; gen++) {
		int i = gen % 3;
		char next[64], noise[64];
		snprintf(next, sizeof(next), "account-%d-token-generation-%d", i, gen);
		assert_int_equal(log_pin_secret(next), 0);
		log_unpin_secret(cur[i]);
		snprintf(cur[i], sizeof(cur[i]), "%s", next);
		snprintf(noise, sizeof(noise), "usage-answer-secret-%d", gen);
		log_add_secret(noise);
		assert_true(redacted(cap));
	}
	assert_true(redacted(cap));
	for (int i = 0; i < 3; i++) {
		assert_true(redacted(cur[i]));
	}
	assert_false(redacted(old)); /* evicted, so memory stays bounded */
	assert_false(redacted("account-1-token-generation-1"));
	log_unpin_secret(cap);
	for (int i = 0; i < 2 * LOG_MAX_SECRETS; i++) {
		char noise[64];
		snprintf(noise, sizeof(noise), "later-secret-%d", i);
		log_add_secret(noise);
	}
	assert_false(redacted(cap)); /* unpinned, it is evictable again */
	log_forget_secrets();
}

/* Pins are bounded; one over the limit is still redacted, only not pinned. */
static void test_pin_limit(void **state)
{
	char s[64];

	(void)state;
	log_forget_secrets();
	for (int i = 0; i < LOG_MAX_PINNED; i++) {
		snprintf(s, sizeof(s), "pinned-secret-%d", i);
		assert_int_equal(log_pin_secret(s), 0);
	}
	assert_int_equal(log_pin_secret("one-pin-too-many"), -ENOSPC);
	assert_true(redacted("one-pin-too-many"));
	assert_int_equal(log_pin_secret("pinned-secret-0"), 0); /* already pinned */
	for (int i = 0; i < 2 * LOG_MAX_SECRETS; i++) {
		snprintf(s, sizeof(s), "plain-secret-%d", i);
		log_add_secret(s);
	}
	assert_true(redacted("pinned-secret-0"));
	assert_true(redacted("pinned-secret-127"));
	log_forget_secrets();
}

/* Registering a known secret again keeps it: it is still in use. */
static void test_reregistered_kept(void **state)
{
	char s[64];

	(void)state;
	log_forget_secrets();
	log_add_secret("token-read-from-the-store");
	for (int i = 0; i < 3 * LOG_MAX_SECRETS; i++) {
		snprintf(s, sizeof(s), "other-secret-%d", i);
		log_add_secret(s);
		if (i % 100 == 0) {
			log_add_secret("token-read-from-the-store"); /* the store is read again */
		}
	}
	assert_true(redacted("token-read-from-the-store"));
	assert_false(redacted("other-secret-0"));
	log_forget_secrets();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_redacts_registered_secrets),
	        cmocka_unit_test(test_redacts_jwt_shapes),
	        cmocka_unit_test(test_escapes_control_characters),
	        cmocka_unit_test(test_short_secrets_ignored),
	        cmocka_unit_test(test_file_size_limit),
	        cmocka_unit_test(test_pinned_survive_long_session),
	        cmocka_unit_test(test_pin_limit),
	        cmocka_unit_test(test_reregistered_kept),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
