#include "session/poolview.h"

#include <cjson/cJSON.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define NOW 1900000000LL

static struct usage bob_usage(double five_hour, int64_t resets_at)
{
	struct usage u;

	usage_init(&u);
	u.primary = (struct usage_window){true, five_hour, 300, resets_at};
	u.secondary = (struct usage_window){true, 20, 10080, NOW + 86400};
	return u;
}

static cJSON *parse(char *json)
{
	cJSON *o;

	assert_non_null(json);
	o = cJSON_Parse(json);
	free(json);
	assert_non_null(o);
	return o;
}

static double num(const cJSON *o, const char *a, const char *b, const char *c)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);

	v = b ? cJSON_GetObjectItemCaseSensitive(v, b) : v;
	v = c ? cJSON_GetObjectItemCaseSensitive(v, c) : v;
	assert_true(cJSON_IsNumber(v));
	return v->valuedouble;
}

static const char updated[] =
        "{\"method\":\"account/rateLimits/updated\",\"params\":{\"rateLimits\":{\"limitId\":"
        "\"codex\",\"limitName\":null,\"primary\":{\"usedPercent\":92,\"windowDurationMins\":300,"
        "\"resetsAt\":1900003600},\"secondary\":{\"usedPercent\":40,\"windowDurationMins\":10080,"
        "\"resetsAt\":1900086400},\"credits\":null,\"planType\":null}}}";

static void test_updated_shows_the_pool_capped(void **state)
{
	struct usage b = bob_usage(10, NOW + 3600);
	struct poolview_account acc[] = {{"alice", NULL, true, false}, {"bob", &b, false, false}};
	struct poolview pv = {acc, 2, true, NOW};
	cJSON *o = parse(poolview_updated(&pv, updated, strlen(updated)));
	const cJSON *rl = cJSON_GetObjectItemCaseSensitive(
	        cJSON_GetObjectItemCaseSensitive(o, "params"), "rateLimits");

	(void)state;
	/* (92 + 10) / 2 = 51: the pool's, then below the TUI's first heads-up. */
	assert_int_equal((int)num(rl, "primary", "usedPercent", NULL), POOLVIEW_CAP);
	/* (40 + 20) / 2 */
	assert_int_equal((int)num(rl, "secondary", "usedPercent", NULL), 30);
	assert_int_equal((long long)num(rl, "primary", "resetsAt", NULL), 1900003600LL);
	cJSON_Delete(o);
	usage_release(&b);
}

static void test_updated_untouched_without_a_spare(void **state)
{
	struct poolview_account acc[] = {{"alice", NULL, true, false}};
	struct poolview pv = {acc, 1, false, NOW};

	(void)state;
	assert_null(poolview_updated(&pv, updated, strlen(updated)));
}

static void test_reset_window_counts_as_unused(void **state)
{
	/* bob's cached 5-hour window at 100 % reset an hour ago. */
	struct usage b = bob_usage(100, NOW - 3600);
	struct poolview_account acc[] = {{"alice", NULL, true, false}, {"bob", &b, false, false}};
	struct poolview pv = {acc, 2, true, NOW};
	static const char low[] =
	        "{\"method\":\"account/rateLimits/updated\",\"params\":{\"rateLimits\":{\"primary\":"
	        "{\"usedPercent\":40,\"windowDurationMins\":300,\"resetsAt\":null}}}}";
	cJSON *o = parse(poolview_updated(&pv, low, strlen(low)));

	(void)state;
	assert_int_equal((int)num(cJSON_GetObjectItemCaseSensitive(o, "params"), "rateLimits",
	                          "primary", "usedPercent"),
	                 20);
	cJSON_Delete(o);
	usage_release(&b);
}

static void test_other_buckets_only_capped(void **state)
{
	struct usage b = bob_usage(0, NOW + 3600);
	struct poolview_account acc[] = {{"alice", NULL, true, false}, {"bob", &b, false, false}};
	struct poolview pv = {acc, 2, true, NOW};
	static const char other[] =
	        "{\"method\":\"account/rateLimits/updated\",\"params\":{\"rateLimits\":{\"limitId\":"
	        "\"codex_other\",\"primary\":{\"usedPercent\":30,\"windowDurationMins\":300},"
	        "\"secondary\":{\"usedPercent\":97,\"windowDurationMins\":10080}}}}";
	cJSON *o = parse(poolview_updated(&pv, other, strlen(other)));
	const cJSON *rl = cJSON_GetObjectItemCaseSensitive(
	        cJSON_GetObjectItemCaseSensitive(o, "params"), "rateLimits");

	(void)state;
	assert_int_equal((int)num(rl, "primary", "usedPercent", NULL), 30);
	assert_int_equal((int)num(rl, "secondary", "usedPercent", NULL), POOLVIEW_CAP);
	cJSON_Delete(o);
	usage_release(&b);
}

static const char read_resp[] =
        "{\"id\":7,\"result\":{\"rateLimits\":{\"limitId\":\"codex\",\"limitName\":null,"
        "\"primary\":{\"usedPercent\":96,\"windowDurationMins\":300,\"resetsAt\":1900003600},"
        "\"secondary\":null,\"credits\":{\"hasCredits\":false,\"unlimited\":false,\"balance\":"
        "\"0\"},\"planType\":\"plus\"},\"rateLimitsByLimitId\":{\"codex\":{\"limitId\":\"codex\","
        "\"primary\":{\"usedPercent\":96,\"windowDurationMins\":300,\"resetsAt\":1900003600}}},"
        "\"rateLimitResetCredits\":null}}";

static void test_read_adds_a_bucket_per_account(void **state)
{
	struct usage b = bob_usage(12, NOW + 1800);
	struct poolview_account acc[] = {{"alice", NULL, true, false},
	                                 {"Bob Smith", &b, false, false},
	                                 {"carol", NULL, false, false}};
	struct poolview pv = {acc, 3, true, NOW};
	cJSON *o = parse(poolview_read_response(&pv, read_resp, strlen(read_resp)));
	const cJSON *res = cJSON_GetObjectItemCaseSensitive(o, "result");
	const cJSON *by = cJSON_GetObjectItemCaseSensitive(res, "rateLimitsByLimitId");
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(by, "codex_switch_0_alice");
	const cJSON *bb = cJSON_GetObjectItemCaseSensitive(by, "codex_switch_1_bob_smith");

	(void)state;
	assert_int_equal((int)num(o, "id", NULL, NULL), 7);
	/* The status line's bucket: the pool's view, capped. */
	assert_int_equal((int)num(res, "rateLimits", "primary", "usedPercent"), POOLVIEW_CAP);
	assert_int_equal((int)num(by, "codex", "primary", "usedPercent"), POOLVIEW_CAP);
	/* The accounts' buckets: as they are; carol is unknown and left out. */
	assert_non_null(a);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(a, "limitName")->valuestring,
	                    "alice (active)");
	assert_int_equal((int)num(a, "primary", "usedPercent", NULL), 96);
	assert_non_null(bb);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(bb, "limitName")->valuestring,
	                    "Bob Smith");
	assert_int_equal((int)num(bb, "primary", "usedPercent", NULL), 12);
	assert_int_equal((long long)num(bb, "primary", "resetsAt", NULL), NOW + 1800);
	assert_int_equal((int)num(bb, "secondary", "windowDurationMins", NULL), 10080);
	assert_int_equal(cJSON_GetArraySize(by), 3);
	cJSON_Delete(o);
	usage_release(&b);
}

/* What the session saw of the active account this session (its latest answer's headers) is
 * newer than the app-server's read: /status shows that. */
static void test_read_prefers_the_live_numbers(void **state)
{
	struct usage live = bob_usage(92, NOW + 1800);
	struct poolview_account acc[] = {{"alice", &live, true, true}};
	struct poolview pv = {acc, 1, false, NOW};
	cJSON *o = parse(poolview_read_response(&pv, read_resp, strlen(read_resp)));
	const cJSON *by = cJSON_GetObjectItemCaseSensitive(
	        cJSON_GetObjectItemCaseSensitive(o, "result"), "rateLimitsByLimitId");

	(void)state;
	assert_int_equal((int)num(by, "codex_switch_0_alice", "primary", "usedPercent"), 92);
	assert_int_equal((int)num(by, "codex", "primary", "usedPercent"), 96);
	cJSON_Delete(o);
	usage_release(&live);
}

static void test_read_without_spare_keeps_numbers(void **state)
{
	struct poolview_account acc[] = {{"alice", NULL, true, false}};
	struct poolview pv = {acc, 1, false, NOW};
	static const char bare[] = "{\"id\":\"r\",\"result\":{\"rateLimits\":{\"primary\":{"
	                           "\"usedPercent\":96,\"windowDurationMins\":300}},"
	                           "\"rateLimitsByLimitId\":null}}";
	cJSON *o = parse(poolview_read_response(&pv, bare, strlen(bare)));
	const cJSON *by = cJSON_GetObjectItemCaseSensitive(
	        cJSON_GetObjectItemCaseSensitive(o, "result"), "rateLimitsByLimitId");

	(void)state;
	assert_int_equal((int)num(by, "codex", "primary", "usedPercent"), 96);
	assert_int_equal((int)num(by, "codex_switch_0_alice", "primary", "usedPercent"), 96);
	cJSON_Delete(o);
}

static void test_read_other_shapes_forwarded(void **state)
{
	struct poolview pv = {NULL, 0, true, NOW};
	static const char err[] = "{\"id\":3,\"error\":{\"code\":-32603,\"message\":\"x\"}}";
	static const char junk[] = "{\"id\":3,\"result\":";

	(void)state;
	assert_null(poolview_read_response(&pv, err, strlen(err)));
	assert_null(poolview_read_response(&pv, junk, strlen(junk)));
	assert_null(poolview_updated(&pv, junk, strlen(junk)));
}

static void test_snapshot(void **state)
{
	struct usage b = bob_usage(12, NOW + 1800), a = bob_usage(80, NOW + 600);
	struct poolview_account acc[] = {{"alice", &a, false, false}, {"bob", &b, true, false}};
	struct poolview pv = {acc, 2, true, NOW};
	cJSON *o = parse(poolview_snapshot(&pv, &b));
	const cJSON *rl = cJSON_GetObjectItemCaseSensitive(
	        cJSON_GetObjectItemCaseSensitive(o, "params"), "rateLimits");
	struct usage none;

	(void)state;
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(o, "method")->valuestring,
	                    "account/rateLimits/updated");
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(rl, "limitId")->valuestring, "codex");
	assert_int_equal((int)num(rl, "primary", "usedPercent", NULL), 46); /* (12 + 80) / 2 */
	assert_int_equal((int)num(rl, "primary", "windowDurationMins", NULL), 300);
	assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(rl, "credits")));
	cJSON_Delete(o);
	usage_init(&none);
	assert_null(poolview_snapshot(&pv, &none));
	usage_release(&a);
	usage_release(&b);
}

/* After a switch each account's own bucket goes out: "(active)" moves to the new account. */
static void test_account_update(void **state)
{
	struct usage al = bob_usage(100, NOW + 600), b = bob_usage(10, NOW + 3600);
	struct poolview_account acc[] = {{"alice", &al, false, false},
	                                 {"bob", &b, true, false},
	                                 {"carol", NULL, false, false}};
	struct poolview pv = {acc, 3, false, NOW};
	cJSON *o = parse(poolview_account_update(&pv, 1));
	const cJSON *rl = cJSON_GetObjectItemCaseSensitive(
	        cJSON_GetObjectItemCaseSensitive(o, "params"), "rateLimits");

	(void)state;
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(o, "method")->valuestring,
	                    "account/rateLimits/updated");
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(rl, "limitId")->valuestring,
	                    "codex_switch_1_bob");
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(rl, "limitName")->valuestring,
	                    "bob (active)");
	assert_true(num(rl, "primary", "usedPercent", NULL) == 10);
	cJSON_Delete(o);
	o = parse(poolview_account_update(&pv, 0));
	rl = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, "params"),
	                                      "rateLimits");
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(rl, "limitName")->valuestring,
	                    "alice");
	assert_true(num(rl, "primary", "usedPercent", NULL) == 100);
	cJSON_Delete(o);
	assert_null(poolview_account_update(&pv, 2)); /* nothing known of carol */
	assert_null(poolview_account_update(&pv, 3));
}

static void test_thread_list(void **state)
{
	static const char scoped[] =
	        "{\"id\":12,\"method\":\"thread/list\",\"params\":{\"limit\":25,"
	        "\"currentAccountOnly\":true,\"cursor\":null}}";
	static const char open_[] = "{\"id\":13,\"method\":\"thread/list\",\"params\":{"
	                            "\"currentAccountOnly\":false}}";
	static const char none[] = "{\"id\":14,\"method\":\"thread/list\",\"params\":{}}";
	cJSON *o = parse(poolview_thread_list(scoped, strlen(scoped)));
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "params");

	(void)state;
	assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(p, "currentAccountOnly")));
	assert_int_equal((int)num(p, "limit", NULL, NULL), 25);
	assert_int_equal((int)num(o, "id", NULL, NULL), 12);
	cJSON_Delete(o);
	assert_null(poolview_thread_list(open_, strlen(open_)));
	assert_null(poolview_thread_list(none, strlen(none)));
	assert_null(poolview_thread_list("{", 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_updated_shows_the_pool_capped),
	        cmocka_unit_test(test_updated_untouched_without_a_spare),
	        cmocka_unit_test(test_reset_window_counts_as_unused),
	        cmocka_unit_test(test_other_buckets_only_capped),
	        cmocka_unit_test(test_read_adds_a_bucket_per_account),
	        cmocka_unit_test(test_read_prefers_the_live_numbers),
	        cmocka_unit_test(test_read_without_spare_keeps_numbers),
	        cmocka_unit_test(test_read_other_shapes_forwarded),
	        cmocka_unit_test(test_snapshot),
	        cmocka_unit_test(test_account_update),
	        cmocka_unit_test(test_thread_list),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
