#include "net/token.h"

#include "fake_jwt.h"
#include "base/log.h"
#include "base/util.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static void test_classify(void **state)
{
	const char *code;

	(void)state;
	assert_int_equal(token_classify(400, "{\"error\":\"invalid_grant\"}", &code),
	                 TOKEN_ERROR_TERMINAL);
	assert_string_equal(code, "invalid_grant");
	assert_int_equal(
	        token_classify(401, "{\"error\":{\"code\":\"refresh_token_reused\"}}", &code),
	        TOKEN_ERROR_TERMINAL);
	assert_string_equal(code, "refresh_token_reused");
	assert_int_equal(
	        token_classify(401, "{\"error\":{\"code\":\"refresh_token_expired\"}}", &code),
	        TOKEN_ERROR_TERMINAL);
	assert_int_equal(token_classify(200, "refresh_token_invalidated", &code),
	                 TOKEN_ERROR_TERMINAL);
	assert_string_equal(code, "refresh_token_invalidated");
	assert_int_equal(token_classify(403, "<html>forbidden</html>", &code),
	                 TOKEN_ERROR_TERMINAL);
	assert_null(code);
	assert_int_equal(token_classify(401, NULL, NULL), TOKEN_ERROR_TERMINAL);
	assert_int_equal(token_classify(500, "{\"error\":\"server_error\"}", &code),
	                 TOKEN_ERROR_TRANSIENT);
	assert_int_equal(token_classify(429, "slow down", &code), TOKEN_ERROR_TRANSIENT);
	assert_int_equal(token_classify(502, "", &code), TOKEN_ERROR_TRANSIENT);
}

static void test_needs_refresh(void **state)
{
	int64_t now = 1800000000;
	char *soon = fake_jwt("{\"exp\":1800000299}"), *later = fake_jwt("{\"exp\":1800000301}");
	struct account a = {0};

	(void)state;
	a.access_token = soon;
	assert_true(token_needs_refresh(&a, now));
	a.access_token = later;
	assert_false(token_needs_refresh(&a, now));
	/* no readable exp: the age of the last refresh decides (8 days) */
	a.access_token = (char *)"opaque-token";
	a.token_last_refresh_at = (now - 7 * 86400) * 1000000LL;
	assert_false(token_needs_refresh(&a, now));
	a.token_last_refresh_at = (now - 9 * 86400) * 1000000LL;
	assert_true(token_needs_refresh(&a, now));
	a.token_last_refresh_at = 0;
	assert_true(token_needs_refresh(&a, now));
	free(soon);
	free(later);
}

static void test_apply_response_rotation(void **state)
{
	char *id = fake_jwt("{\"email\":\"new@example.com\",\"https://api.openai.com/auth\":"
	                    "{\"chatgpt_plan_type\":\"pro\",\"chatgpt_user_id\":\"user-1\","
	                    "\"chatgpt_account_id\":\"acct-1\"}}");
	char *body = util_printf("{\"id_token\":\"%s\",\"access_token\":\"new-access-123\"}", id);
	struct account a = {0};

	(void)state;
	a.kind = ACCOUNT_CHATGPT;
	a.name = strdup("w");
	a.id_token = strdup("old-id");
	a.access_token = strdup("old-access");
	a.refresh_token = strdup("old-refresh-kept");
	a.email = strdup("old@example.com");
	a.chatgpt_account_id = strdup("acct-1");
	assert_int_equal(token_apply_response(&a, body), 0);
	assert_string_equal(a.access_token, "new-access-123");
	assert_string_equal(a.refresh_token, "old-refresh-kept");
	assert_string_equal(a.id_token, id);
	assert_string_equal(a.email, "new@example.com");
	assert_string_equal(a.plan_type, "pro");
	assert_string_equal(a.chatgpt_account_id, "acct-1");
	assert_string_equal(a.chatgpt_user_id, "user-1");
	free(body);
	body = strdup("{\"access_token\":\"a2\",\"refresh_token\":\"rotated-refresh\"}");
	assert_int_equal(token_apply_response(&a, body), 0);
	assert_string_equal(a.refresh_token, "rotated-refresh");
	assert_string_equal(a.id_token, id);
	assert_int_equal(token_apply_response(&a, "{\"refresh_token\":\"x\"}"), -EINVAL);
	assert_int_equal(token_apply_response(&a, "not json"), -EINVAL);
	assert_string_equal(a.refresh_token, "rotated-refresh");
	free(body);
	free(id);
	account_release(&a);
}

/* A token answer carrying another user's or workspace's tokens never relabels the account. */
static void test_apply_response_other_account(void **state)
{
	static const char *const claims[] = {
	        /* another user in the same workspace */
	        "{\"https://api.openai.com/auth\":{\"chatgpt_user_id\":\"user-2\","
	        "\"chatgpt_account_id\":\"acct-1\"}}",
	        /* the same user in another workspace */
	        "{\"https://api.openai.com/auth\":{\"chatgpt_user_id\":\"user-1\","
	        "\"chatgpt_account_id\":\"acct-2\"}}",
	};
	struct account a = {0};

	(void)state;
	a.kind = ACCOUNT_CHATGPT;
	a.name = strdup("alice");
	a.id_token = strdup("old-id");
	a.access_token = strdup("old-access");
	a.refresh_token = strdup("old-refresh");
	a.email = strdup("alice@example.com");
	a.chatgpt_user_id = strdup("user-1");
	a.chatgpt_account_id = strdup("acct-1");
	for (size_t i = 0; i < 2; i++) {
		char *jwt = fake_jwt(claims[i]);
		char *in_id = util_printf("{\"id_token\":\"%s\",\"access_token\":\"x\","
		                          "\"refresh_token\":\"other-refresh\"}",
		                          jwt);
		char *in_access = util_printf("{\"access_token\":\"%s\"}", jwt);
		assert_int_equal(token_apply_response(&a, in_id), -EXDEV);
		assert_int_equal(token_apply_response(&a, in_access), -EXDEV);
		assert_string_equal(a.id_token, "old-id");
		assert_string_equal(a.access_token, "old-access");
		assert_string_equal(a.refresh_token, "old-refresh");
		assert_string_equal(a.chatgpt_user_id, "user-1");
		assert_string_equal(a.chatgpt_account_id, "acct-1");
		free(in_id);
		free(in_access);
		free(jwt);
	}
	account_release(&a);
}

/* A long session: 300 refreshes of 3 accounts. The capability token and every account's
 * current tokens are still redacted at the end. */
static void test_long_session_redaction(void **state)
{
	struct account a[3] = {{0}};
	char out[256], body[256];

	(void)state;
	log_forget_secrets();
	log_pin_secret("capability-token-of-the-session");
	for (int i = 0; i < 3; i++) {
		a[i].kind = ACCOUNT_CHATGPT;
		a[i].name = util_printf("acc%d", i);
		a[i].access_token = strdup("initial-access");
		a[i].refresh_token = strdup("initial-refresh");
	}
	for (int n = 0; n < 300; n++) {
		struct account *x = &a[n % 3];
		snprintf(body, sizeof(body),
		         "{\"access_token\":\"access/%d+x\",\"refresh_token\":\"refresh/%d+y\"}", n,
		         n);
		assert_int_equal(token_apply_response(x, body), 0);
	}
	log_redact("capability-token-of-the-session", out, sizeof(out));
	assert_string_equal(out, "<redacted>");
	for (int i = 0; i < 3; i++) {
		log_redact(a[i].access_token, out, sizeof(out));
		assert_string_equal(out, "<redacted>");
		log_redact(a[i].refresh_token, out, sizeof(out));
		assert_string_equal(out, "<redacted>");
		account_release(&a[i]);
	}
	log_forget_secrets();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_classify),
	        cmocka_unit_test(test_needs_refresh),
	        cmocka_unit_test(test_apply_response_rotation),
	        cmocka_unit_test(test_apply_response_other_account),
	        cmocka_unit_test(test_long_session_redaction),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
