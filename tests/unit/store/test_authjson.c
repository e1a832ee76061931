#define _GNU_SOURCE /* nftw */
#include "store/authjson.h"
#include "base/fileio.h"
#include "base/util.h"

#include "fake_jwt.h"
#include "tmpstore.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

static char dir[] = "/tmp/cs-auth-XXXXXX";
static struct paths paths;

static int setup(void **state)
{
	(void)state;
	return tmpstore_setup(dir, NULL, false, &paths);
}

static int teardown(void **state)
{
	(void)state;
	tmpstore_teardown(dir, &paths);
	return 0;
}

static void write_auth(const char *json)
{
	assert_int_equal(fileio_write_atomic(paths.auth_json, json, strlen(json)), 0);
}

/* auth.json text for a ChatGPT login; extra is spliced in after the tokens. */
static char *chatgpt_auth(const char *mode, const char *account_id, const char *extra)
{
	char *idt = fake_id_token("a@example.com", "u-1", "ws-claim", "pro");
	char *acct = account_id ? util_printf(",\"account_id\":\"%s\"", account_id) : strdup("");
	char *text = util_printf("{%s\"OPENAI_API_KEY\":null,\"tokens\":{\"id_token\":\"%s\","
	                         "\"access_token\":\"at-1\",\"refresh_token\":\"rt-1\"%s}%s}",
	                         mode, idt, acct, extra);

	free(idt);
	free(acct);
	return text;
}

static void test_chatgpt_round_trip(void **state)
{
	char *text = chatgpt_auth("\"auth_mode\":\"chatgpt\",", "ws-explicit",
	                          ",\"last_refresh\":\"2026-05-01T10:00:00.5Z\"");
	struct account a, b;
	struct stat st;
	char err[512], *out;
	int64_t t;

	(void)state;
	write_auth(text);
	free(text);
	assert_int_equal(authjson_read(paths.auth_json, &a, err, sizeof(err)), 0);
	assert_int_equal(a.kind, ACCOUNT_CHATGPT);
	assert_string_equal(a.chatgpt_account_id, "ws-explicit"); /* tokens.account_id wins */
	assert_string_equal(a.email, "a@example.com");
	assert_string_equal(a.plan_type, "pro");
	assert_string_equal(a.chatgpt_user_id, "u-1");
	assert_int_equal(util_parse_rfc3339("2026-05-01T10:00:00.5Z", &t), 0);
	assert_int_equal(a.token_last_refresh_at, t);
	assert_int_equal(authjson_write(paths.auth_json, &a), 0);
	assert_int_equal(stat(paths.auth_json, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(fileio_read(paths.auth_json, FILEIO_MAX_JSON, &out, NULL), 0);
	assert_non_null(strstr(out, "\"OPENAI_API_KEY\":\tnull"));
	assert_non_null(strstr(out, "\"auth_mode\":\t\"chatgpt\""));
	assert_non_null(strstr(out, "\"last_refresh\":\t\"2026-05-01T10:00:00.500000Z\""));
	assert_int_equal(out[strlen(out) - 1], '\n');
	free(out);
	assert_int_equal(authjson_read(paths.auth_json, &b, err, sizeof(err)), 0);
	assert_true(account_same_identity(&a, &b));
	assert_string_equal(b.access_token, "at-1");
	assert_string_equal(b.refresh_token, "rt-1");
	assert_int_equal(b.token_last_refresh_at, t);
	account_release(&a);
	account_release(&b);
}

static void test_mode_defaults(void **state)
{
	char *text = chatgpt_auth("", NULL, "");
	struct account a;
	char err[512];
	int64_t before = util_now_ms() * 1000;

	(void)state;
	write_auth(text);
	free(text);
	assert_int_equal(authjson_read(paths.auth_json, &a, err, sizeof(err)), 0);
	assert_int_equal(a.kind, ACCOUNT_CHATGPT);
	assert_string_equal(a.chatgpt_account_id, "ws-claim"); /* from the id token */
	assert_true(a.token_last_refresh_at >= before);        /* no last_refresh: now */
	account_release(&a);
	write_auth("{\"OPENAI_API_KEY\":\"sk-abcdefghijkl\"}");
	assert_int_equal(authjson_read(paths.auth_json, &a, err, sizeof(err)), 0);
	assert_int_equal(a.kind, ACCOUNT_API_KEY);
	assert_string_equal(a.api_key, "sk-abcdefghijkl");
	text = authjson_to_string(&a);
	assert_non_null(strstr(text, "\"auth_mode\":\t\"apikey\""));
	assert_null(strstr(text, "tokens"));
	util_free_secret(text);
	account_release(&a);
}

static void expect_reject(const char *json, int code, const char *want)
{
	struct account a;
	char err[512] = "";

	write_auth(json);
	assert_int_equal(authjson_read(paths.auth_json, &a, err, sizeof(err)), code);
	assert_non_null(strstr(err, want));
	assert_non_null(strstr(err, paths.auth_json));
	assert_null(a.id_token);
}

static void test_rejections(void **state)
{
	char *bad_jwt = util_printf("{\"auth_mode\":\"chatgpt\",\"tokens\":{\"id_token\":\"x.y\","
	                            "\"access_token\":\"a\",\"refresh_token\":\"r\"}}");
	struct account a;
	char err[512];

	(void)state;
	expect_reject("{\"auth_mode\":\"chatgptAuthTokens\",\"OPENAI_API_KEY\":null}", -ENOTSUP,
	              "chatgptAuthTokens");
	expect_reject("{\"auth_mode\":\"agentIdentity\"}", -ENOTSUP, "agentIdentity");
	expect_reject("{\"auth_mode\":\"magic\"}", -EINVAL, "unknown auth_mode");
	expect_reject("{\"auth_mode\":\"chatgpt\"}", -EINVAL, "without 'tokens'");
	expect_reject("{\"auth_mode\":\"apikey\",\"OPENAI_API_KEY\":null}", -EINVAL,
	              "OPENAI_API_KEY");
	expect_reject(bad_jwt, -EINVAL, "not a valid JWT");
	expect_reject("{\"tokens\":{\"id_token\":\"a.b.c\"}}", -EINVAL, "lacks");
	expect_reject("{oops", -EINVAL, "invalid JSON");
	expect_reject("[1]", -EINVAL, "not a JSON object");
	free(bad_jwt);
	unlink(paths.auth_json);
	assert_int_equal(authjson_read(paths.auth_json, &a, err, sizeof(err)), -ENOENT);
}

static void test_current(void **state)
{
	struct store s = {0};
	struct account a;
	char *text = chatgpt_auth("", NULL, ""), err[512];

	(void)state;
	unlink(paths.auth_json);
	assert_int_equal(authjson_current(&paths, &s), -1);
	write_auth(text);
	free(text);
	assert_int_equal(authjson_current(&paths, &s), -1);
	assert_int_equal(authjson_read(paths.auth_json, &a, err, sizeof(err)), 0);
	a.id = strdup("id-1");
	a.name = strdup("one");
	assert_int_equal(store_add(&s, &a), 0);
	assert_int_equal(authjson_current(&paths, &s), 0);
	account_release(&a);
	store_release(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_chatgpt_round_trip),
	        cmocka_unit_test(test_mode_defaults),
	        cmocka_unit_test(test_rejections),
	        cmocka_unit_test(test_current),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
