#include "policy/usage.h"
#include "cli/usage_view.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* A /wham/usage body as the backend sends it, with the weekly window in the primary slot. */
static const char swapped_body[] =
        "{\"plan_type\":\"pro\",\"rate_limit\":{\"allowed\":true,\"limit_reached\":false,"
        "\"primary_window\":{\"used_percent\":71,\"limit_window_seconds\":604800,"
        "\"reset_after_seconds\":1000,\"reset_at\":1900000000},"
        "\"secondary_window\":{\"used_percent\":12,\"limit_window_seconds\":18000,"
        "\"reset_after_seconds\":60,\"reset_at\":1800000000}},"
        "\"credits\":{\"has_credits\":true,\"unlimited\":false,\"balance\":\"12.5\"},"
        "\"rate_limit_reset_credits\":{\"available_count\":3},"
        "\"additional_rate_limits\":[{\"limit_name\":\"Spark\",\"metered_feature\":\"codex_spark\","
        "\"rate_limit\":{\"primary_window\":{\"used_percent\":100,\"limit_window_seconds\":18000,"
        "\"reset_at\":1800000100},\"secondary_window\":null}},{\"bogus\":1},7],"
        "\"rate_limit_reached_type\":{\"type\":\"workspace_owner_credits_depleted\"},"
        "\"new_field\":{\"x\":[1,2]}}";

static void test_parse_swapped_windows(void **state)
{
	struct usage u;
	char why[128];

	(void)state;
	assert_int_equal(usage_parse(swapped_body, &u), 0);
	assert_string_equal(u.plan_type, "pro");
	assert_true(u.primary.present);
	assert_int_equal(u.primary.window_minutes, 10080);
	assert_int_equal(u.secondary.window_minutes, 300);
	assert_ptr_equal(usage_weekly(&u), &u.primary);
	assert_ptr_equal(usage_five_hour(&u), &u.secondary);
	assert_true(usage_five_hour(&u)->used_percent == 12.0);
	assert_int_equal(u.secondary.resets_at, 1800000000);
	assert_true(u.credits.known && u.credits.has_credits && !u.credits.unlimited);
	assert_string_equal(u.credits.balance, "12.5");
	assert_int_equal(u.reset_credits_available, 3);
	assert_int_equal(u.nlimits, 2);
	assert_string_equal(u.limits[0].limit_id, "codex_spark");
	assert_string_equal(u.limits[0].limit_name, "Spark");
	assert_true(u.limits[0].primary.used_percent == 100.0);
	assert_false(u.limits[0].secondary.present);
	assert_null(u.limits[1].limit_id);
	assert_string_equal(u.rate_limit_reached_type, "workspace_owner_credits_depleted");
	assert_string_equal(usage_view_unavailable(&u, why, sizeof(why)), "credits depleted");
	usage_release(&u);
}

static void test_parse_nulls_and_missing(void **state)
{
	const char *bodies[] = {
	        "{}",
	        "{\"plan_type\":null,\"rate_limit\":null,\"credits\":null,"
	        "\"additional_rate_limits\":null,\"rate_limit_reached_type\":null}",
	        "{\"rate_limit\":{\"primary_window\":null,\"secondary_window\":null}}",
	        "{\"rate_limit\":{\"primary_window\":{}},\"credits\":{\"balance\":null}}",
	};
	struct usage u;
	char why[64];

	(void)state;
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		assert_int_equal(usage_parse(bodies[i], &u), 0);
		assert_null(u.plan_type);
		assert_null(usage_five_hour(&u));
		assert_null(usage_weekly(&u));
		assert_null(u.rate_limit_reached_type);
		assert_int_equal(u.reset_credits_available, -1);
		assert_null(usage_view_unavailable(&u, why, sizeof(why)));
		usage_release(&u);
	}
	assert_int_equal(usage_parse("{\"rate_limit\":{\"primary_window\":{}}}", &u), 0);
	assert_true(u.primary.present);
	assert_int_equal(u.primary.window_minutes, 0);
	usage_release(&u);
	assert_int_equal(usage_parse("[1,2]", &u), -EINVAL);
	usage_release(&u);
	assert_int_equal(usage_parse("<html>", &u), -EINVAL);
	usage_release(&u);
}

static void test_parse_reached_types(void **state)
{
	struct usage u;

	(void)state;
	assert_int_equal(usage_parse("{\"rate_limit_reached_type\":{\"type\":\"brand_new\"}}", &u),
	                 0);
	assert_null(u.rate_limit_reached_type);
	usage_release(&u);
	assert_int_equal(usage_parse("{\"rate_limit_reached_type\":\"rate_limit_reached\"}", &u),
	                 0);
	assert_string_equal(u.rate_limit_reached_type, "rate_limit_reached");
	usage_release(&u);
}

static void test_window_minutes_round_up(void **state)
{
	struct usage u;

	(void)state;
	assert_int_equal(usage_parse("{\"rate_limit\":{\"primary_window\":{\"used_percent\":5,"
	                             "\"limit_window_seconds\":17999,\"reset_after_seconds\":10}}}",
	                             &u),
	                 0);
	assert_int_equal(u.primary.window_minutes, 300);
	assert_true(u.primary.resets_at >= u.fetched_at + 10);
	usage_release(&u);
}

static void test_classification(void **state)
{
	struct {
		long minutes;
		enum usage_window_kind kind;
	} cases[] = {
	        {300, USAGE_WINDOW_FIVE_HOUR}, {285, USAGE_WINDOW_FIVE_HOUR},
	        {315, USAGE_WINDOW_FIVE_HOUR}, {284, USAGE_WINDOW_OTHER},
	        {316, USAGE_WINDOW_OTHER},     {1440, USAGE_WINDOW_DAILY},
	        {10080, USAGE_WINDOW_WEEKLY},  {9576, USAGE_WINDOW_WEEKLY},
	        {10584, USAGE_WINDOW_WEEKLY},  {10585, USAGE_WINDOW_OTHER},
	        {43200, USAGE_WINDOW_MONTHLY}, {525600, USAGE_WINDOW_ANNUAL},
	        {0, USAGE_WINDOW_OTHER},       {60, USAGE_WINDOW_OTHER},
	};
	struct usage_window w = {.present = true};
	struct usage u;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		w.window_minutes = cases[i].minutes;
		assert_int_equal(usage_window_kind(&w), cases[i].kind);
	}
	w.present = false;
	w.window_minutes = 300;
	assert_int_equal(usage_window_kind(&w), USAGE_WINDOW_OTHER);
	/* two windows of one kind: neither is "the" 5-hour window */
	usage_init(&u);
	u.primary = (struct usage_window){true, 10, 300, 0};
	u.secondary = (struct usage_window){true, 20, 299, 0};
	assert_null(usage_five_hour(&u));
	assert_null(usage_weekly(&u));
}

static void test_rate_limits_notification(void **state)
{
	const char *params =
	        "{\"rateLimits\":{\"limitId\":\"codex\",\"limitName\":\"codex\","
	        "\"primary\":{\"usedPercent\":43,\"windowDurationMins\":10080,\"resetsAt\":1900000000},"
	        "\"secondary\":{\"usedPercent\":7,\"windowDurationMins\":300,\"resetsAt\":null},"
	        "\"credits\":{\"hasCredits\":true,\"unlimited\":false,\"balance\":\"0\"},"
	        "\"planType\":null,\"rateLimitReachedType\":\"rate_limit_reached\"},"
	        "\"emittedAtMs\":1}";
	cJSON *j = cJSON_Parse(params);
	struct usage u;
	char why[64];

	(void)state;
	assert_int_equal(usage_from_rate_limits(j, &u), 0);
	assert_null(u.plan_type);
	assert_ptr_equal(usage_weekly(&u), &u.primary);
	assert_true(usage_five_hour(&u)->used_percent == 7.0);
	assert_int_equal(u.primary.resets_at, 1900000000);
	assert_int_equal(u.secondary.resets_at, 0);
	assert_true(u.credits.known && u.credits.has_credits);
	assert_string_equal(u.credits.balance, "0");
	assert_string_equal(u.rate_limit_reached_type, "rate_limit_reached");
	assert_string_equal(usage_view_unavailable(&u, why, sizeof(why)), "rate limit reached");
	usage_release(&u);
	/* the bare snapshot works too */
	assert_int_equal(
	        usage_from_rate_limits(cJSON_GetObjectItemCaseSensitive(j, "rateLimits"), &u), 0);
	assert_int_equal(u.primary.window_minutes, 10080);
	usage_release(&u);
	cJSON_Delete(j);
	assert_int_equal(usage_from_rate_limits(NULL, &u), -EINVAL);
	usage_release(&u);
}

static void test_rate_limits_other_family(void **state)
{
	const char *result =
	        "{\"rateLimits\":{\"limitId\":\"codex\",\"primary\":{\"usedPercent\":100,"
	        "\"windowDurationMins\":300},\"secondary\":null,\"credits\":null,"
	        "\"planType\":\"plus\",\"rateLimitReachedType\":null},"
	        "\"rateLimitsByLimitId\":{\"codex\":{\"limitId\":\"codex\"},"
	        "\"codex_other\":{\"limitId\":\"codex_other\",\"limitName\":\"Other\","
	        "\"primary\":{\"usedPercent\":3,\"windowDurationMins\":300}}}}";
	const char *other_only = "{\"rateLimits\":{\"limitId\":\"codex_other\",\"primary\":"
	                         "{\"usedPercent\":9,\"windowDurationMins\":300}}}";
	cJSON *j = cJSON_Parse(result);
	struct usage u;
	char why[64];

	(void)state;
	assert_int_equal(usage_from_rate_limits(j, &u), 0);
	assert_string_equal(u.plan_type, "plus");
	assert_false(u.credits.known);
	assert_int_equal(u.nlimits, 1);
	assert_string_equal(u.limits[0].limit_id, "codex_other");
	assert_string_equal(usage_view_unavailable(&u, why, sizeof(why)), "5-hour usage is 100.0%");
	usage_release(&u);
	cJSON_Delete(j);
	j = cJSON_Parse(other_only);
	assert_int_equal(usage_from_rate_limits(j, &u), 0);
	assert_false(u.primary.present);
	assert_int_equal(u.nlimits, 1);
	assert_true(u.limits[0].primary.used_percent == 9.0);
	usage_release(&u);
	cJSON_Delete(j);
}

static void test_json_round_trip(void **state)
{
	struct usage u, back, copy;
	cJSON *j;

	(void)state;
	assert_int_equal(usage_parse(swapped_body, &u), 0);
	j = usage_to_json(&u);
	assert_non_null(j);
	assert_int_equal(usage_from_json(j, &back), 0);
	assert_int_equal(usage_copy(&copy, &back), 0);
	assert_string_equal(copy.plan_type, "pro");
	assert_int_equal(copy.primary.window_minutes, 10080);
	assert_int_equal(copy.secondary.resets_at, 1800000000);
	assert_string_equal(copy.credits.balance, "12.5");
	assert_int_equal(copy.reset_credits_available, 3);
	assert_int_equal(copy.nlimits, 2);
	assert_string_equal(copy.limits[0].limit_name, "Spark");
	assert_string_equal(copy.rate_limit_reached_type, "workspace_owner_credits_depleted");
	assert_int_equal(copy.fetched_at, u.fetched_at);
	usage_release(&u);
	usage_release(&back);
	usage_release(&copy);
	cJSON_Delete(j);
}

static void test_view_helpers(void **state)
{
	char s[64];
	struct usage u;

	(void)state;
	usage_view_bar(50, s, sizeof(s));
	assert_string_equal(s, "[##########----------]");
	usage_view_bar(250, s, sizeof(s));
	assert_string_equal(s, "[####################]");
	usage_view_reset(1000 + 3600, 1000, s, sizeof(s));
	assert_non_null(strstr(s, "(in 1h 0m)"));
	usage_init(&u);
	usage_view_summary(&u, s, sizeof(s));
	assert_string_equal(s, "-");
	u.primary = (struct usage_window){true, 31, 300, 0};
	u.secondary = (struct usage_window){true, 7, 10080, 0};
	usage_view_summary(&u, s, sizeof(s));
	assert_string_equal(s, "5h 31% wk 7%");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse_swapped_windows),
	        cmocka_unit_test(test_parse_nulls_and_missing),
	        cmocka_unit_test(test_parse_reached_types),
	        cmocka_unit_test(test_window_minutes_round_up),
	        cmocka_unit_test(test_classification),
	        cmocka_unit_test(test_rate_limits_notification),
	        cmocka_unit_test(test_rate_limits_other_family),
	        cmocka_unit_test(test_json_round_trip),
	        cmocka_unit_test(test_view_helpers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
