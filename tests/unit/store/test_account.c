#include "store/account.h"
#include "base/fileio.h"
#include "base/util.h"

#include "fake_jwt.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static cJSON *fixture;

static int load_fixture(void **state)
{
	const char *root = getenv("CS_SOURCE_ROOT");
	char *path = util_printf("%s/tests/data/rust-accounts.json", root ? root : ".");
	char *text;

	(void)state;
	if (fileio_read(path, FILEIO_MAX_JSON, &text, NULL)) {
		free(path);
		return -1;
	}
	fixture = cJSON_Parse(text);
	free(text);
	free(path);
	return fixture ? 0 : -1;
}

static int free_fixture(void **state)
{
	(void)state;
	cJSON_Delete(fixture);
	return 0;
}

static const cJSON *fixture_account(int i)
{
	return cJSON_GetArrayItem(cJSON_GetObjectItem(fixture, "accounts"), i);
}

static void test_reads_rust_chatgpt_account(void **state)
{
	struct account a;
	const char *why;
	int64_t t;

	(void)state;
	assert_int_equal(account_from_json(fixture_account(0), &a, &why), 0);
	assert_string_equal(a.id, "7c9e6679-7425-40de-944b-e07fc1f90ae7");
	assert_string_equal(a.name, "work");
	assert_string_equal(a.email, "rust@example.com");
	assert_string_equal(a.plan_type, "plus");
	assert_string_equal(a.chatgpt_user_id, "user-rust");
	assert_string_equal(a.chatgpt_account_id, "acct-rust-0001");
	assert_int_equal(a.kind, ACCOUNT_CHATGPT);
	assert_string_equal(a.refresh_token, "rt_rust_fixture_refresh_0001");
	assert_false(a.disabled);
	assert_int_equal(util_parse_rfc3339("2026-05-01T12:34:56.123456Z", &t), 0);
	assert_int_equal(a.token_last_refresh_at, t); /* nanoseconds truncated to micro */
	assert_int_equal(a.subscription_expires_at, 0);
	assert_true(a.last_used_at > a.created_at);
	assert_null(a.relogin_reason);
	account_release(&a);
}

static void test_reads_rust_api_key_account(void **state)
{
	struct account a;
	const char *why;

	(void)state;
	assert_int_equal(account_from_json(fixture_account(1), &a, &why), 0);
	assert_int_equal(a.kind, ACCOUNT_API_KEY);
	assert_string_equal(a.api_key, "sk-rust-fixture-key-0002");
	assert_null(a.email);
	assert_true(a.disabled);
	assert_int_equal(a.token_last_refresh_at, 0);
	assert_int_equal(a.subscription_expires_at, 1799971200LL * 1000000);
	assert_int_equal(a.last_used_at, 0);
	account_release(&a);
}

static void test_round_trip_keeps_unknown_fields(void **state)
{
	struct account a, b;
	const char *why;
	cJSON *out, *again;

	(void)state;
	assert_int_equal(account_from_json(fixture_account(0), &a, &why), 0);
	free(a.name);
	a.name = strdup("renamed");
	a.relogin_reason = strdup("refresh token revoked");
	out = account_to_json(&a);
	assert_non_null(out);
	assert_string_equal(cJSON_GetObjectItem(out, "auth_mode")->valuestring, "chat_g_p_t");
	assert_string_equal(
	        cJSON_GetObjectItem(cJSON_GetObjectItem(out, "auth_data"), "type")->valuestring,
	        "chat_g_p_t");
	assert_true(cJSON_Compare(cJSON_GetObjectItem(out, "future_field"),
	                          cJSON_GetObjectItem(fixture_account(0), "future_field"), true));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(out, "subscription_expires_at")));
	assert_string_equal(cJSON_GetObjectItem(out, "token_last_refresh_at")->valuestring,
	                    "2026-05-01T12:34:56.123456Z");
	assert_int_equal(account_from_json(out, &b, &why), 0);
	assert_string_equal(b.name, "renamed");
	assert_string_equal(b.relogin_reason, "refresh token revoked");
	assert_string_equal(b.access_token, a.access_token);
	assert_int_equal(b.created_at, a.created_at);
	assert_int_equal(b.last_used_at, a.last_used_at);
	free(b.relogin_reason);
	b.relogin_reason = NULL;
	again = account_to_json(&b);
	assert_null(cJSON_GetObjectItem(again, "relogin_reason")); /* omitted when NULL */
	cJSON_Delete(again);
	cJSON_Delete(out);
	account_release(&a);
	account_release(&b);
}

static void test_accepts_chatgpt_spelling(void **state)
{
	cJSON *obj = cJSON_Duplicate(fixture_account(0), true);
	struct account a;
	const char *why;

	(void)state;
	cJSON_ReplaceItemInObject(obj, "auth_mode", cJSON_CreateString("chatgpt"));
	cJSON_ReplaceItemInObject(cJSON_GetObjectItem(obj, "auth_data"), "type",
	                          cJSON_CreateString("chatgpt"));
	cJSON_DeleteItemFromObject(cJSON_GetObjectItem(obj, "auth_data"), "account_id");
	assert_int_equal(account_from_json(obj, &a, &why), 0);
	assert_int_equal(a.kind, ACCOUNT_CHATGPT);
	assert_null(a.chatgpt_account_id);
	account_release(&a);
	cJSON_Delete(obj);
}

/* Applies one edit to a copy of the fixture account and expects the given error. */
static void expect_error(const char *key, cJSON *value, const char *want)
{
	cJSON *obj = cJSON_Duplicate(fixture_account(0), true);
	struct account a;
	const char *why = NULL;

	if (value) {
		cJSON_ReplaceItemInObject(obj, key, value);
	} else {
		cJSON_DeleteItemFromObject(obj, key);
	}
	assert_int_equal(account_from_json(obj, &a, &why), -EINVAL);
	assert_string_equal(why, want);
	assert_null(a.id);
	cJSON_Delete(obj);
}

static void test_errors_name_the_field(void **state)
{
	(void)state;
	expect_error("id", NULL, "missing field 'id'");
	expect_error("name", cJSON_CreateNumber(3), "field 'name' is not a string");
	expect_error("created_at", cJSON_CreateString("yesterday"),
	             "field 'created_at' is not an RFC 3339 time");
	expect_error("auto_switch_disabled", cJSON_CreateString("no"),
	             "field 'auto_switch_disabled' is not true or false");
	expect_error("auth_mode", cJSON_CreateString("api_key"),
	             "field 'auth_mode' does not match auth_data.type");
	expect_error("auth_data", NULL, "missing field 'auth_data'");
}

static void test_identity(void **state)
{
	char u1[] = "user-1", u2[] = "user-2", ws1[] = "ws-1", ws2[] = "ws-2";
	char rta[] = "rt-a", rtb[] = "rt-b", sk1[] = "sk-1", sk1b[] = "sk-1", sk2[] = "sk-2";
	struct account a = {.kind = ACCOUNT_CHATGPT}, b = {.kind = ACCOUNT_CHATGPT};
	struct account k1 = {.kind = ACCOUNT_API_KEY}, k2 = {.kind = ACCOUNT_API_KEY};

	(void)state;
	a.chatgpt_user_id = u1;
	a.chatgpt_account_id = ws1;
	a.refresh_token = rta;
	b.chatgpt_user_id = u1;
	b.chatgpt_account_id = ws1;
	b.refresh_token = rtb; /* rotated: still the same account */
	assert_true(account_same_identity(&a, &b));
	b.chatgpt_account_id = ws2; /* same person, another workspace */
	assert_false(account_same_identity(&a, &b));
	b.chatgpt_account_id = ws1;
	b.chatgpt_user_id = u2; /* another person in the same workspace */
	assert_false(account_same_identity(&a, &b));
	b.refresh_token = rta;
	assert_false(account_same_identity(&a, &b)); /* user ids decide when both are known */
	b.chatgpt_user_id = NULL;
	assert_true(account_same_identity(&a, &b)); /* otherwise the refresh token */
	b.refresh_token = rtb;
	assert_false(account_same_identity(&a, &b));
	k1.api_key = sk1;
	k2.api_key = sk1b;
	assert_true(account_same_identity(&k1, &k2));
	k2.api_key = sk2;
	assert_false(account_same_identity(&k1, &k2));
	assert_false(account_same_identity(&a, &k1));
}

static void test_label_and_copy(void **state)
{
	struct account a = {0}, c;
	char label[256];

	(void)state;
	a.id = strdup("0123456789abcdef");
	a.name = strdup("bad\nname\x1b");
	a.json = cJSON_CreateObject();
	account_label(&a, label, sizeof(label));
	assert_string_equal(label, "bad?name? (01234567)");
	assert_int_equal(account_copy(&c, &a), 0);
	assert_ptr_not_equal(c.name, a.name);
	assert_string_equal(c.name, a.name);
	assert_ptr_not_equal(c.json, a.json);
	account_release(&c);
	account_release(&a);
	account_release(&a); /* released twice: a no-op */
}

static void test_apply_id_token(void **state)
{
	struct account a = {.kind = ACCOUNT_CHATGPT};

	(void)state;
	a.chatgpt_account_id = strdup("kept");
	a.id_token = fake_jwt("{\"email\":\"x@example.com\"}");
	assert_int_equal(account_apply_id_token(&a), 0);
	assert_string_equal(a.email, "x@example.com");
	assert_string_equal(a.chatgpt_account_id, "kept");
	util_free_secret(a.id_token);
	a.id_token = fake_id_token("y@example.com", "u-9", "ws-9", "hc");
	assert_int_equal(account_apply_id_token(&a), 0);
	assert_string_equal(a.email, "y@example.com");
	assert_string_equal(a.chatgpt_account_id, "ws-9");
	assert_string_equal(a.chatgpt_user_id, "u-9");
	assert_string_equal(a.plan_type, "enterprise");
	util_free_secret(a.id_token);
	a.id_token = strdup("not-a-jwt");
	assert_int_equal(account_apply_id_token(&a), -EINVAL);
	account_release(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_reads_rust_chatgpt_account),
	        cmocka_unit_test(test_reads_rust_api_key_account),
	        cmocka_unit_test(test_round_trip_keeps_unknown_fields),
	        cmocka_unit_test(test_accepts_chatgpt_spelling),
	        cmocka_unit_test(test_errors_name_the_field),
	        cmocka_unit_test(test_identity),
	        cmocka_unit_test(test_label_and_copy),
	        cmocka_unit_test(test_apply_id_token),
	};

	return cmocka_run_group_tests(tests, load_fixture, free_fixture);
}
