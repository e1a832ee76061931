#define _GNU_SOURCE /* nftw */
#include "base/fileio.h"
#include "store/store.h"
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

static char dir[] = "/tmp/cs-store-XXXXXX";
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

static void reset_store(void)
{
	unlink(paths.accounts);
}

/* A ChatGPT account as login would make it; strings are owned by the account. */
static struct account make_chatgpt(const char *name, const char *email, const char *user,
                                   const char *ws)
{
	struct account a = {.kind = ACCOUNT_CHATGPT};
	char id[UTIL_UUID_LEN + 1];

	util_uuid(id);
	a.id = strdup(id);
	a.name = strdup(name);
	a.id_token = fake_id_token(email, user, ws, "plus");
	a.access_token = util_printf("access-%s", name);
	a.refresh_token = util_printf("refresh-%s", name);
	a.created_at = util_now_ms() * 1000;
	assert_int_equal(account_apply_id_token(&a), 0);
	return a;
}

static char *read_all(const char *path)
{
	char *text = NULL;

	assert_int_equal(fileio_read(path, FILEIO_MAX_JSON, &text, NULL), 0);
	return text;
}

static int add_fn(struct store *s, void *ctx)
{
	return store_add(s, ctx) ? -ENOMEM : 1;
}

static int abort_fn(struct store *s, void *ctx)
{
	(void)ctx;
	store_remove(s, 0);
	return -EPERM;
}

static int noop_fn(struct store *s, void *ctx)
{
	(void)s;
	(void)ctx;
	return 0;
}

static void test_missing_file_is_empty(void **state)
{
	struct store s;
	char err[256] = "";
	char *text;

	(void)state;
	reset_store();
	assert_int_equal(store_load(&paths, &s, err, sizeof(err)), 0);
	assert_int_equal(s.n, 0);
	text = store_to_string(&s);
	assert_non_null(strstr(text, "\"version\":\t1"));
	assert_non_null(strstr(text, "\"masked_account_ids\":\t[]"));
	assert_int_equal(text[strlen(text) - 1], '\n');
	free(text);
	store_release(&s);
	assert_int_equal(store_update(&paths, noop_fn, NULL, err, sizeof(err)), 0);
	assert_int_equal(access(paths.accounts, F_OK), -1); /* no change: nothing written */
}

static void test_update_saves_privately(void **state)
{
	struct account a = make_chatgpt("work", "a@example.com", "u-1", "ws-1");
	struct store s;
	struct stat st;
	char err[256];

	(void)state;
	reset_store();
	assert_int_equal(store_update(&paths, add_fn, &a, err, sizeof(err)), 0);
	assert_int_equal(stat(paths.accounts, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(access(paths.accounts_lock, F_OK), -1); /* lock released */
	assert_int_equal(store_load(&paths, &s, err, sizeof(err)), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.accounts[0].name, "work");
	assert_string_equal(s.accounts[0].refresh_token, "refresh-work");
	assert_int_equal(store_find_id(&s, a.id), 0);
	assert_int_equal(store_find_chatgpt_account(&s, "ws-1"), 0);
	assert_int_equal(store_find_chatgpt_account(&s, "ws-x"), -1);
	store_release(&s);
	assert_int_equal(store_update(&paths, abort_fn, NULL, err, sizeof(err)), -EPERM);
	assert_int_equal(store_load(&paths, &s, err, sizeof(err)), 0);
	assert_int_equal(s.n, 1); /* the aborted removal was not saved */
	store_release(&s);
	account_release(&a);
}

static void test_rust_file_round_trip(void **state)
{
	const char *root = getenv("CS_SOURCE_ROOT");
	char *fixture = util_printf("%s/tests/data/rust-accounts.json", root ? root : ".");
	char *text = read_all(fixture), *out;
	cJSON *back;
	struct store s;
	char err[256];

	(void)state;
	assert_int_equal(fileio_write_atomic(paths.accounts, text, strlen(text)), 0);
	assert_int_equal(store_load(&paths, &s, err, sizeof(err)), 0);
	assert_int_equal(s.n, 2);
	out = store_to_string(&s);
	back = cJSON_Parse(out);
	assert_non_null(back);
	assert_string_equal(cJSON_GetObjectItem(back, "active_account_id")->valuestring,
	                    "7c9e6679-7425-40de-944b-e07fc1f90ae7");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(back, "masked_account_ids")), 1);
	assert_non_null(cJSON_GetObjectItem(
	        cJSON_GetArrayItem(cJSON_GetObjectItem(back, "accounts"), 0), "future_field"));
	cJSON_Delete(back);
	free(out);
	store_release(&s);
	free(text);
	free(fixture);
}

static void expect_corrupt(const char *content, const char *want)
{
	char err[512] = "";
	char *before;
	struct store s;

	assert_int_equal(fileio_write_atomic(paths.accounts, content, strlen(content)), 0);
	assert_int_equal(store_load(&paths, &s, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, paths.accounts));
	assert_non_null(strstr(err, want));
	err[0] = '\0';
	assert_int_equal(store_update(&paths, noop_fn, NULL, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, want));
	before = read_all(paths.accounts);
	assert_string_equal(before, content); /* never overwritten */
	free(before);
}

static void test_corrupt_file_untouched(void **state)
{
	(void)state;
	expect_corrupt("{\"version\":1,\"accounts\":[", "invalid JSON near byte");
	expect_corrupt("[]", "not a JSON object");
	expect_corrupt("{\"version\":2,\"accounts\":[]}", "unsupported version");
	expect_corrupt("{\"version\":1,\"accounts\":{}}", "'accounts' is not a list");
	expect_corrupt("{\"version\":1,\"accounts\":[{\"name\":\"x\"}]}",
	               "account 1: missing field 'id'");
	reset_store();
}

static void fill_selector_store(struct store *s)
{
	struct account a = make_chatgpt("work", "a@example.com", "u-1", "ws-1");
	struct account b = make_chatgpt("team", "a@example.com", "u-1", "ws-2");
	struct account c = make_chatgpt("solo", "c@example.com", "u-3", "ws-3");

	memset(s, 0, sizeof(*s));
	/* Ids chosen so that "abcd" is an ambiguous prefix and "abcd1" is not. */
	memcpy(a.id, "abcd1111", 8);
	memcpy(b.id, "abcd2222", 8);
	memcpy(c.id, "ffff0000", 8);
	assert_int_equal(store_add(s, &a), 0);
	assert_int_equal(store_add(s, &b), 0);
	assert_int_equal(store_add(s, &c), 0);
	account_release(&a);
	account_release(&b);
	account_release(&c);
}

static void test_selectors(void **state)
{
	struct store s;
	char err[512];

	(void)state;
	fill_selector_store(&s);
	assert_int_equal(store_select(&s, "team", err, sizeof(err)), 1);
	assert_int_equal(store_select(&s, s.accounts[2].id, err, sizeof(err)), 2);
	assert_int_equal(store_select(&s, "abcd1", err, sizeof(err)), 0);
	assert_int_equal(store_select(&s, "FFFF", err, sizeof(err)), 2);
	assert_int_equal(store_select(&s, "ffa", err, sizeof(err)), -ENOENT); /* too short */
	assert_int_equal(store_select(&s, "C@example.com", err, sizeof(err)), 2);
	assert_int_equal(store_select(&s, "nobody", err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "no account matches 'nobody'"));
	assert_non_null(strstr(err, "codex-switch list"));
	assert_int_equal(store_select(&s, "abcd", err, sizeof(err)), -EEXIST);
	assert_non_null(strstr(err, "work (abcd1111)"));
	assert_non_null(strstr(err, "team (abcd2222)"));
	assert_null(strstr(err, "solo"));
	assert_int_equal(store_select(&s, "a@example.com", err, sizeof(err)), -EEXIST);
	store_remove(&s, 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.accounts[0].name, "team");
	store_release(&s);
}

static void test_identity_in_store(void **state)
{
	struct store s;
	struct account same_user_other_ws = make_chatgpt("x", "a@example.com", "u-1", "ws-9");
	struct account other_user_same_ws = make_chatgpt("y", "z@example.com", "u-7", "ws-1");
	struct account rotated = make_chatgpt("z", "a@example.com", "u-1", "ws-2");

	(void)state;
	fill_selector_store(&s);
	assert_int_equal(store_find_identity(&s, &same_user_other_ws), -1);
	assert_int_equal(store_find_identity(&s, &other_user_same_ws), -1);
	assert_int_equal(store_find_identity(&s, &rotated), 1);
	account_release(&same_user_other_ws);
	account_release(&other_user_same_ws);
	account_release(&rotated);
	store_release(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_missing_file_is_empty),
	        cmocka_unit_test(test_update_saves_privately),
	        cmocka_unit_test(test_rust_file_round_trip),
	        cmocka_unit_test(test_corrupt_file_untouched),
	        cmocka_unit_test(test_selectors),
	        cmocka_unit_test(test_identity_in_store),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
