#include "session/rpcmsg.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static void test_login_and_refresh(void **state)
{
	struct account a = {
	        .access_token = "at-123", .chatgpt_account_id = "acct-A", .plan_type = "plus"};
	char *s;

	(void)state;
	s = rpcmsg_login("codex-switch/x/1", &a);
	assert_string_equal(s,
	                    "{\"id\":\"codex-switch/x/1\",\"method\":\"account/login/start\","
	                    "\"params\":{\"type\":\"chatgptAuthTokens\",\"accessToken\":\"at-123\","
	                    "\"chatgptAccountId\":\"acct-A\",\"chatgptPlanType\":\"plus\"}}");
	free(s);
	/* The id keeps the server's JSON type. */
	s = rpcmsg_refresh_result("0", &a);
	assert_string_equal(s, "{\"id\":0,\"result\":{\"accessToken\":\"at-123\","
	                       "\"chatgptAccountId\":\"acct-A\",\"chatgptPlanType\":\"plus\"}}");
	free(s);
	a.plan_type = NULL;
	s = rpcmsg_refresh_result("\"r-1\"", &a);
	assert_non_null(strstr(s, "\"id\":\"r-1\""));
	assert_non_null(strstr(s, "\"chatgptPlanType\":null"));
	free(s);
}

static void test_error_warning_initialize(void **state)
{
	char *s;

	(void)state;
	s = rpcmsg_error("12345678901234567890", -32000, "no \"token\"");
	assert_non_null(strstr(s, "\"code\":-32000"));
	assert_non_null(strstr(s, "\"message\":\"no \\\"token\\\"\""));
	free(s);
	s = rpcmsg_warning("switched");
	assert_string_equal(s, "{\"method\":\"warning\",\"params\":{\"threadId\":null,"
	                       "\"message\":\"switched\"}}");
	free(s);
	s = rpcmsg_initialize("codex-switch/x/1", "0.171.0");
	assert_non_null(strstr(s, "\"experimentalApi\":true"));
	/* exactly the TUI's clientInfo, so backend requests carry codex-tui/<codex version> */
	assert_non_null(strstr(s, "\"clientInfo\":{\"name\":\"codex-tui\",\"title\":null,"
	                          "\"version\":\"0.171.0\"}"));
	free(s);
	assert_null(rpcmsg_error("not json", 1, "x"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_login_and_refresh),
	        cmocka_unit_test(test_error_warning_initialize),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
