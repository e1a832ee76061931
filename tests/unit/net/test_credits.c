/* Parsing the reset credit list and the consume answer, and saying what a consume did. */
#include "net/credits.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_list),
	        cmocka_unit_test(test_list_without_count),
	        cmocka_unit_test(test_consume),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
