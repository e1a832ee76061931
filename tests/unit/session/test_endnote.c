#include "session/endnote.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

/* What endnote_print wrote on stderr (a file here: not a terminal). */
static char *printed(const char *fatal, bool served, const char *thread)
{
	char path[] = "/tmp/cs-test-endnote-XXXXXX", *text = calloc(1, 4096), *msg = strdup(fatal);
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);

	assert_true(fd >= 0 && saved >= 0 && text && msg);
	fflush(stderr);
	dup2(fd, STDERR_FILENO);
	endnote_print(msg, served, thread);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	assert_true(pread(fd, text, 4095, 0) >= 0);
	close(fd);
	unlink(path);
	free(msg);
	return text;
}

/* The app-server's last lines follow the reason, one log line each, never escaped. */
static void test_fatal_one_line_per_line(void **state)
{
	char *t = printed("the codex app-server exited unexpectedly (status 1); its last "
	                  "output:\nError: boom\n\ncaused by: x",
	                  true, "0b7c");

	(void)state;
	assert_string_equal(t, "codex-switch: error: the codex app-server exited unexpectedly "
	                       "(status 1); its last output:\n"
	                       "codex-switch: error:   | Error: boom\n"
	                       "codex-switch: error:   | caused by: x\n");
	free(t);
}

/* A session that was served on a thread says how to resume it (plain, off a terminal). */
static void test_resume_hint(void **state)
{
	char *t = printed("", true, "019a-thread");

	(void)state;
	assert_string_equal(t, "codex-switch: resume this session with: codex-switch run resume "
	                       "019a-thread\n");
	free(t);
}

/* Nothing to resume: never served, or no thread started. */
static void test_nothing_to_say(void **state)
{
	char *a = printed("", false, "019a-thread"), *b = printed("", true, "");

	(void)state;
	assert_string_equal(a, "");
	assert_string_equal(b, "");
	free(a);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_fatal_one_line_per_line),
	        cmocka_unit_test(test_resume_hint),
	        cmocka_unit_test(test_nothing_to_say),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
