#include "session/notice.h"

#include <cjson/cJSON.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static char *method_of(const struct notice *n)
{
	char *json = notice_message(n, "Switched to bob");
	cJSON *o = cJSON_Parse(json);
	char *m;

	assert_non_null(o);
	m = strdup(cJSON_GetObjectItemCaseSensitive(o, "method")->valuestring);
	cJSON_Delete(o);
	free(json);
	return m;
}

static void expect_style(const char *version, const char *method)
{
	struct notice n;
	char *m;

	notice_init(&n);
	notice_set_codex(&n, version);
	m = method_of(&n);
	assert_string_equal(m, method);
	free(m);
}

/* Each TUI gets the notification it renders inline (README "Supported codex versions"). */
static void test_style_by_version(void **state)
{
	(void)state;
	expect_style("0.117.0", "deprecationNotice");
	expect_style("0.121.9", "deprecationNotice");
	expect_style("0.122.0", "warning");
	expect_style("0.151.0", "warning");
	expect_style("0.152.0", "modelProvider/authRecoveryCompleted");
	expect_style("0.171.0", "modelProvider/authRecoveryCompleted");
	expect_style(NULL, "modelProvider/authRecoveryCompleted");
}

/* Nothing shows before the TUI's chat view exists (its first thread), whatever the style. */
static void test_nothing_before_a_thread(void **state)
{
	const char *versions[] = {"0.117.0", "0.143.0", "0.169.0"};

	(void)state;
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		struct notice n;
		notice_init(&n);
		notice_set_codex(&n, versions[i]);
		assert_false(notice_can_show(&n));
		notice_thread(&n, "th-1", false);
		assert_true(notice_can_show(&n));
	}
}

/* The newest style shows during the TUI's own turn or before a thread's first turn only; the
 * older ones at any time once a thread exists. */
static void test_when_a_line_can_show(void **state)
{
	struct notice n, old;

	(void)state;
	notice_init(&n);
	notice_set_codex(&n, "0.169.0");
	notice_init(&old);
	notice_set_codex(&old, "0.117.0");
	notice_thread(&n, "th-1", false);
	notice_thread(&old, "th-1", false);
	notice_turn_started(&n, "th-1", "t-1", true);
	notice_turn_started(&old, "th-1", "t-1", true);
	assert_true(notice_can_show(&n));
	notice_turn_ended(&n, "t-1");
	notice_turn_ended(&old, "t-1");
	assert_false(notice_can_show(&n));
	assert_true(notice_can_show(&old));
	notice_turn_started(&n, "th-1", "t-2", false); /* one codex-switch sent again */
	assert_false(notice_can_show(&n));
}

static void test_hidden_threads_are_not_the_users(void **state)
{
	struct notice n;

	(void)state;
	notice_init(&n);
	notice_thread(&n, "th-1", false);
	notice_thread(&n, "title", true);
	assert_true(notice_hidden(&n, "title"));
	notice_turn_started(&n, "title", "t-9", true);
	assert_false(n.had_turn);
	assert_string_equal(n.thread_id, "th-1");
}

static void test_deferred_lines_keep_the_newest(void **state)
{
	struct notice n;
	const char *const *lines;
	char text[16];

	(void)state;
	notice_init(&n);
	for (int i = 0; i < NOTICE_PENDING_MAX + 1; i++) {
		snprintf(text, sizeof(text), "line %d", i);
		notice_defer(&n, text);
	}
	assert_int_equal(notice_take(&n, &lines), NOTICE_PENDING_MAX);
	assert_string_equal(lines[0], "line 1");
	assert_string_equal(lines[NOTICE_PENDING_MAX - 1], "line 4");
	assert_int_equal(notice_take(&n, &lines), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_style_by_version),
	        cmocka_unit_test(test_nothing_before_a_thread),
	        cmocka_unit_test(test_when_a_line_can_show),
	        cmocka_unit_test(test_hidden_threads_are_not_the_users),
	        cmocka_unit_test(test_deferred_lines_keep_the_newest),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
