#include "session/trigger.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static struct trigger from(const char *json, bool is_error)
{
	cJSON *p = cJSON_Parse(json);
	struct trigger t;

	assert_non_null(p);
	if (is_error) {
		trigger_from_error(p, &t);
	} else {
		trigger_from_rate_limits(p, &t);
	}
	cJSON_Delete(p);
	return t;
}

static void test_usage_limit_error(void **state)
{
	struct trigger t;

	(void)state;
	t = from("{\"error\":{\"message\":\"x\",\"codexErrorInfo\":\"usageLimitExceeded\"},"
	         "\"willRetry\":false}",
	         true);
	assert_int_equal(t.kind, TRIGGER_HARD);
	/* The real message uses a curly apostrophe and mixed case. */
	t = from("{\"error\":{\"message\":\"You\xe2\x80\x99ve hit your Usage Limit. Upgrade\"},"
	         "\"willRetry\":false}",
	         true);
	assert_int_equal(t.kind, TRIGGER_HARD);
}

static void test_retried_and_other_errors_ignored(void **state)
{
	struct trigger t;

	(void)state;
	t = from(
	        "{\"error\":{\"message\":\"usage limit\",\"codexErrorInfo\":\"usageLimitExceeded\"},"
	        "\"willRetry\":true}",
	        true);
	assert_int_equal(t.kind, TRIGGER_NONE);
	t = from("{\"error\":{\"message\":\"Reconnecting... 1/5\",\"codexErrorInfo\":"
	         "{\"responseStreamDisconnected\":{\"httpStatusCode\":null}}},\"willRetry\":false}",
	         true);
	assert_int_equal(t.kind, TRIGGER_NONE);
	t = from("{}", true);
	assert_int_equal(t.kind, TRIGGER_NONE);
}

static void test_rate_limits(void **state)
{
	struct trigger t;

	(void)state;
	t = from(
	        "{\"rateLimits\":{\"limitId\":\"codex\",\"primary\":{\"usedPercent\":43,"
	        "\"windowDurationMins\":300,\"resetsAt\":1900000000},\"secondary\":{\"usedPercent\":7,"
	        "\"windowDurationMins\":10080,\"resetsAt\":1900500000}}}",
	        false);
	assert_int_equal(t.kind, TRIGGER_NONE);
	assert_string_equal(t.limit_id, "codex");
	/* Swapped slots: the weekly window is primary here and at 100 %. */
	t = from(
	        "{\"rateLimits\":{\"limitId\":\"codex_other\",\"primary\":{\"usedPercent\":100,"
	        "\"windowDurationMins\":10080,\"resetsAt\":1900500000},\"secondary\":{\"usedPercent\":"
	        "3,\"windowDurationMins\":300,\"resetsAt\":1900000000}}}",
	        false);
	assert_int_equal(t.kind, TRIGGER_HARD);
	assert_non_null(strstr(t.reason, "weekly"));
	assert_int_equal(t.resets_at, 1900500000);
	t = from("{\"rateLimits\":{\"primary\":{\"usedPercent\":96,\"windowDurationMins\":300}}}",
	         false);
	assert_int_equal(t.kind, TRIGGER_SOFT);
	/* 99 % weekly = 1 point of weekly headroom = 5 five-hour points: soft, not hard. */
	t = from("{\"rateLimits\":{\"secondary\":{\"usedPercent\":99}}}", false);
	assert_int_equal(t.kind, TRIGGER_SOFT);
	t = from("{\"rateLimits\":{\"secondary\":{\"usedPercent\":98}}}", false);
	assert_int_equal(t.kind, TRIGGER_NONE);
}

static void test_reached_type_and_credits(void **state)
{
	struct trigger t;

	(void)state;
	t = from("{\"rateLimits\":{\"rateLimitReachedType\":\"workspace_owner_credits_depleted\"}}",
	         false);
	assert_int_equal(t.kind, TRIGGER_HARD);
	assert_true(t.workspace_wide);
	t = from("{\"rateLimits\":{\"rateLimitReachedType\":\"rate_limit_reached\"}}", false);
	assert_int_equal(t.kind, TRIGGER_HARD);
	assert_false(t.workspace_wide);
	t = from("{\"rateLimits\":{\"credits\":{\"hasCredits\":true,\"unlimited\":false,"
	         "\"balance\":\"0\"}}}",
	         false);
	assert_int_equal(t.kind, TRIGGER_HARD);
	t = from("{\"rateLimits\":{\"credits\":{\"hasCredits\":false,\"unlimited\":false,"
	         "\"balance\":\"0\"}}}",
	         false);
	assert_int_equal(t.kind, TRIGGER_NONE);
	t = from("{\"rateLimits\":{\"credits\":{\"hasCredits\":true,\"unlimited\":true,"
	         "\"balance\":\"0\"}}}",
	         false);
	assert_int_equal(t.kind, TRIGGER_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_usage_limit_error),
	        cmocka_unit_test(test_retried_and_other_errors_ignored),
	        cmocka_unit_test(test_rate_limits),
	        cmocka_unit_test(test_reached_type_and_credits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
