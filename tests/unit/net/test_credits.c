/* Parsing the reset credit list and the consume answer, saying what a consume did, and
 * choosing the account whose cached credit `run` would name or spend. */
#define _GNU_SOURCE /* nftw */
#include "net/credits.h"
#include "base/util.h"
#include "store/usage_cache.h"

#include "tmpstore.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#define NOW 1800000000LL /* 2027-01-15T08:00:00Z */

static void test_list(void **state)
{
	struct credits_info ci;
	const char *body =
	        "{\"available_count\": 2, \"credits\": ["
	        "{\"id\":\"a\",\"reset_type\":\"later\",\"status\":\"available\","
	        "\"expires_at\":\"2027-02-01T00:00:00Z\"},"
	        "{\"id\":\"b\",\"reset_type\":\"codex_rate_limits\",\"status\":\"available\","
	        "\"granted_at\":\"2027-01-01T00:00:00Z\",\"expires_at\":\"2027-01-20T10:00:00Z\"},"
	        "{\"id\":\"c\",\"status\":\"redeemed\",\"expires_at\":\"2027-01-16T00:00:00Z\"},"
	        "{\"id\":\"d\",\"status\":\"available\",\"expires_at\":\"2027-01-01T00:00:00Z\"}]}";

	(void)state;
	assert_int_equal(credits_parse_list(body, NOW, &ci), 0);
	assert_int_equal(ci.available, 2);
	/* redeemed and expired credits do not count for the expiry */
	assert_int_equal(ci.earliest_expiry, 1800439200LL);
	assert_string_equal(ci.reset_type, "codex_rate_limits");
}

static void test_list_without_count(void **state)
{
	struct credits_info ci;

	(void)state;
	/* No available_count: the available, unexpired credits are counted. */
	assert_int_equal(
	        credits_parse_list("{\"credits\":[{\"status\":\"available\"},"
	                           "{\"status\":\"available\",\"expires_at\":1700000000},"
	                           "{\"status\":\"available\",\"expires_at\":1900000000}]}",
	                           NOW, &ci),
	        0);
	assert_int_equal(ci.available, 2);
	assert_int_equal(ci.earliest_expiry, 1900000000LL);
	assert_int_equal(credits_parse_list("{}", NOW, &ci), 0);
	assert_int_equal(ci.available, 0);
	assert_int_equal(ci.earliest_expiry, 0);
	assert_int_equal(credits_parse_list("{\"credits\": 5, \"available_count\": -3}", NOW, &ci),
	                 0);
	assert_int_equal(ci.available, 0);
	assert_int_equal(credits_parse_list("[1]", NOW, &ci), -EINVAL);
	assert_int_equal(credits_parse_list("<html>", NOW, &ci), -EINVAL);
	assert_int_equal(credits_parse_list(NULL, NOW, &ci), -EINVAL);
}

static void test_consume(void **state)
{
	struct credits_result r;
	char buf[128];

	(void)state;
	assert_int_equal(credits_parse_consume("{\"code\":\"reset\",\"windows_reset\":2}", &r), 0);
	assert_int_equal(r.code, CREDITS_RESET);
	assert_int_equal(r.windows_reset, 2);
	assert_string_equal(credits_describe(&r, buf, sizeof(buf)), "reset 2 usage windows");
	r.windows_reset = 1;
	assert_string_equal(credits_describe(&r, buf, sizeof(buf)), "reset 1 usage window");
	assert_int_equal(credits_parse_consume("{\"code\":\"reset\"}", &r), 0);
	assert_int_equal(r.windows_reset, -1);
	assert_string_equal(credits_describe(&r, buf, sizeof(buf)), "usage windows reset");
	assert_int_equal(credits_parse_consume("{\"code\":\"nothing_to_reset\"}", &r), 0);
	assert_int_equal(r.code, CREDITS_NOTHING_TO_RESET);
	assert_non_null(strstr(credits_describe(&r, buf, sizeof(buf)), "credit was kept"));
	assert_int_equal(credits_parse_consume("{\"code\":\"no_credit\"}", &r), 0);
	assert_int_equal(r.code, CREDITS_NO_CREDIT);
	assert_int_equal(credits_parse_consume("{\"code\":\"already_redeemed\"}", &r), 0);
	assert_int_equal(r.code, CREDITS_ALREADY_REDEEMED);
	/* unknown codes are reported as they came, control characters made harmless */
	assert_int_equal(credits_parse_consume("{\"code\":\"new\\u001b[31m\"}", &r), 0);
	assert_int_equal(r.code, CREDITS_UNKNOWN);
	assert_string_equal(credits_describe(&r, buf, sizeof(buf)),
	                    "the backend answered 'new?[31m'");
	assert_int_equal(credits_parse_consume("{\"windows_reset\":1}", &r), -EINVAL);
	assert_int_equal(credits_parse_consume("{\"code\":3}", &r), -EINVAL);
	assert_int_equal(credits_parse_consume("oops", &r), -EINVAL);
}

static char dir[] = "/tmp/cs-credits-XXXXXX";
static struct paths paths;

static int setup(void **state)
{
	(void)state;
	return tmpstore_setup(dir, "codex", true, &paths);
}

static int teardown(void **state)
{
	(void)state;
	tmpstore_teardown(dir, &paths);
	return 0;
}

/* Caches a usage for id with weekly % used, credits and their first expiry. */
static void cache(const char *id, double weekly, long credits, int64_t expire)
{
	struct usage u;

	usage_init(&u);
	u.fetched_at = util_now();
	u.primary = (struct usage_window){true, 100, 300, u.fetched_at + 600};
	u.secondary = (struct usage_window){true, weekly, 10080, u.fetched_at + 86400};
	u.reset_credits_available = credits;
	u.reset_credits_expire_at = expire;
	assert_int_equal(usage_cache_store(&paths, &id, &u, 1), 0);
	usage_release(&u);
}

static void test_pick_cached(void **state)
{
	struct account a[] = {
	        {.kind = ACCOUNT_CHATGPT, .id = "aaaaaaaa-0000", .name = "none"},
	        {.kind = ACCOUNT_CHATGPT, .id = "bbbbbbbb-0000", .name = "late"},
	        {.kind = ACCOUNT_CHATGPT, .id = "cccccccc-0000", .name = "side project"},
	        {.kind = ACCOUNT_CHATGPT, .id = "dddddddd-0000", .name = "off", .disabled = true},
	        {.kind = ACCOUNT_API_KEY, .id = "eeeeeeee-0000", .name = "key"},
	        {.kind = ACCOUNT_CHATGPT,
	         .id = "ffffffff-0000",
	         .name = "gone",
	         .relogin_reason = "invalid_grant"},
	};
	struct store s = {.accounts = a, .n = 6};
	int64_t now = util_now();
	char hint[512];

	(void)state;
	unlink(paths.usage_cache);
	assert_int_equal(credits_hint(&paths, &s, NULL, 0), -1);
	assert_int_equal(credits_hint(&paths, &s, hint, sizeof(hint)), -1);
	assert_string_equal(hint, "");
	cache(a[0].id, 90, 0, 0);
	cache(a[1].id, 20, 1, now + 20 * 86400);
	cache(a[3].id, 99, 3, now + 86400); /* disabled: its credit is not ours to spend */
	cache(a[4].id, 99, 3, now + 86400);
	cache(a[5].id, 99, 3, now + 86400);
	assert_int_equal(credits_hint(&paths, &s, NULL, 0), 1);
	assert_int_equal(credits_hint(&paths, &s, hint, sizeof(hint)), 1);
	assert_string_equal(hint, "late (bbbbbbbb) has 1 rate-limit reset credit: "
	                          "'codex-switch reset-usage late' resets its usage windows");
	/* the credit that expires first wins */
	cache(a[2].id, 10, 2, now + 5 * 86400);
	assert_int_equal(credits_hint(&paths, &s, NULL, 0), 2);
	assert_int_equal(credits_hint(&paths, &s, hint, sizeof(hint)), 2);
	assert_non_null(strstr(hint, "has 2 rate-limit reset credits"));
	assert_non_null(strstr(hint, "reset-usage cccccccc'")); /* a name with a space: the id */
	/* equal (unknown) expiries: the most weekly usage gains the most. (A new count drops
	 * the cached expiry; the same count would keep it.) */
	cache(a[1].id, 20, 2, 0);
	cache(a[2].id, 60, 3, 0);
	assert_int_equal(credits_hint(&paths, &s, NULL, 0), 2);
	cache(a[1].id, 80, 2, 0);
	assert_int_equal(credits_hint(&paths, &s, NULL, 0), 1);
}

/* From usages already read, the file is not needed: the session reads it once per load. */
static void test_hint_from_usages(void **state)
{
	struct account a[] = {
	        {.kind = ACCOUNT_CHATGPT, .id = "aaaaaaaa-0000", .name = "spent"},
	        {.kind = ACCOUNT_CHATGPT, .id = "bbbbbbbb-0000", .name = "work"},
	        {.kind = ACCOUNT_CHATGPT, .id = "cccccccc-0000", .name = "unknown"},
	};
	struct store s = {.accounts = a, .n = 3};
	struct usage u[3];
	bool have[3] = {true, true, false};
	char hint[512];

	(void)state;
	unlink(paths.usage_cache);
	for (int i = 0; i < 3; i++) {
		usage_init(&u[i]);
	}
	u[1].reset_credits_available = 2;
	u[2].reset_credits_available = 5; /* not in the cache: not known */
	assert_int_equal(credits_hint_from(&s, u, have, hint, sizeof(hint)), 1);
	assert_string_equal(hint, "work (bbbbbbbb) has 2 rate-limit reset credits: "
	                          "'codex-switch reset-usage work' resets its usage windows");
	assert_int_equal(credits_pick(&s, u, have), 1);
	have[1] = false;
	assert_int_equal(credits_hint_from(&s, u, have, hint, sizeof(hint)), -1);
	assert_string_equal(hint, "");
	assert_int_equal(credits_hint(&paths, &s, hint, sizeof(hint)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_list),
	        cmocka_unit_test(test_list_without_count),
	        cmocka_unit_test(test_consume),
	        cmocka_unit_test(test_pick_cached),
	        cmocka_unit_test(test_hint_from_usages),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
