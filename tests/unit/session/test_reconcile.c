/* The watcher of outside changes: inotify on a temporary CODEX_HOME and store, on a real loop. */
#define _GNU_SOURCE /* nftw */
#include "session/reconcile.h"

#include "base/fileio.h"
#include "store/authjson.h"

#include "fake_session.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

struct fixture {
	struct fake_session f;
	struct reconcile r;
	int calls, what;
	int64_t at; /* ev_now_us() of the last report */
};

static void changed(void *ctx, int what)
{
	struct fixture *x = ctx;

	x->calls++;
	x->what = what;
	x->at = ev_now_us();
}

static int setup(void **state)
{
	struct fixture *x = calloc(1, sizeof(*x));

	if (!x || fake_session_setup(&x->f, "reconcile")) {
		return -1;
	}
	reconcile_init(&x->r, &x->f.env, changed, x);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *x = *state;

	fake_session_stop_worker(&x->f);
	reconcile_release(&x->r);
	fake_session_teardown(&x->f);
	free(x);
	return 0;
}

/* Writes dir/name as the tools do: a temporary file in the same directory, then rename. */
static void write_by_rename(const char *dir, const char *name, const char *text)
{
	char *tmp = util_printf("%s/.%s.tmp", dir, name), *path = util_printf("%s/%s", dir, name);
	FILE *fp = fopen(tmp, "w");

	assert_non_null(fp);
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(rename(tmp, path), 0);
	free(tmp);
	free(path);
}

static bool reported(void *ctx)
{
	return ((struct fixture *)ctx)->calls > 0;
}

/* Runs until the first report, then a while longer so a second one would show. */
static void expect_one(struct fixture *x, int what, int64_t since)
{
	assert_true(fake_session_run_until(&x->f, reported, x, 5000000));
	fake_session_run_for(&x->f, 3 * RECONCILE_DEBOUNCE_US);
	assert_int_equal(x->calls, 1);
	assert_int_equal(x->what, what);
	assert_true(x->at - since >= RECONCILE_DEBOUNCE_US - 5000);
	x->calls = x->what = 0;
}

static void test_auth_json_rename(void **state)
{
	struct fixture *x = *state;
	int64_t t0;

	assert_int_equal(reconcile_start(&x->r), 0);
	t0 = ev_now_us();
	write_by_rename(x->f.paths.codex_home, "auth.json", "{}\n");
	expect_one(x, RECONCILE_AUTH, t0);
	/* codex-switch's own writer (temp file, fsync, rename) is seen the same way. */
	{
		struct account a = fake_session_account("alice", "ws-a");

		t0 = ev_now_us();
		assert_int_equal(authjson_write(x->f.paths.auth_json, &a), 0);
		expect_one(x, RECONCILE_AUTH, t0);
		account_release(&a);
	}
	/* A removal (codex logout) is a change too. */
	t0 = ev_now_us();
	assert_int_equal(unlink(x->f.paths.auth_json), 0);
	expect_one(x, RECONCILE_AUTH, t0);
}

static void test_store_files(void **state)
{
	struct fixture *x = *state;
	int64_t t0;

	assert_int_equal(reconcile_start(&x->r), 0);
	t0 = ev_now_us();
	write_by_rename(x->f.paths.store_dir, "accounts.json", "{\"version\":1,\"accounts\":[]}\n");
	expect_one(x, RECONCILE_ACCOUNTS, t0);
	t0 = ev_now_us();
	write_by_rename(x->f.paths.store_dir, "usage-cache.json", "{}\n");
	expect_one(x, RECONCILE_USAGE, t0);
}

static void test_burst_is_one_report(void **state)
{
	struct fixture *x = *state;
	int64_t t0;

	assert_int_equal(reconcile_start(&x->r), 0);
	t0 = ev_now_us();
	for (int i = 0; i < 5; i++) {
		write_by_rename(x->f.paths.codex_home, "auth.json", "{}\n");
	}
	write_by_rename(x->f.paths.store_dir, "accounts.json", "{\"version\":1,\"accounts\":[]}\n");
	expect_one(x, RECONCILE_AUTH | RECONCILE_ACCOUNTS, t0);
}

static void test_other_files_are_ignored(void **state)
{
	struct fixture *x = *state;
	char *sub = util_printf("%s/sessions", x->f.paths.codex_home);

	assert_int_equal(reconcile_start(&x->r), 0);
	write_by_rename(x->f.paths.codex_home, "config.toml", "model = \"x\"\n");
	write_by_rename(x->f.paths.codex_home, "auth.json.bak", "{}\n");
	write_by_rename(x->f.paths.store_dir, "config.json", "{}\n");
	write_by_rename(x->f.paths.store_dir, "accounts.json.lock", "");
	assert_int_equal(mkdir(sub, 0700), 0);
	write_by_rename(sub, "auth.json", "{}\n"); /* not the watched directory */
	fake_session_run_for(&x->f, 3 * RECONCILE_DEBOUNCE_US);
	assert_int_equal(x->calls, 0);
	/* Still watching. */
	write_by_rename(x->f.paths.store_dir, "accounts.json", "{\"version\":1,\"accounts\":[]}\n");
	expect_one(x, RECONCILE_ACCOUNTS, 0);
	free(sub);
}

static void test_nothing_before_start_or_after_release(void **state)
{
	struct fixture *x = *state;

	write_by_rename(x->f.paths.codex_home, "auth.json", "{}\n");
	fake_session_run_for(&x->f, 2 * RECONCILE_DEBOUNCE_US);
	assert_int_equal(x->calls, 0);
	assert_int_equal(reconcile_start(&x->r), 0);
	write_by_rename(x->f.paths.codex_home, "auth.json", "{}\n");
	/* Released within the debounce: the pending report is dropped. */
	fake_session_run_for(&x->f, RECONCILE_DEBOUNCE_US / 3);
	reconcile_release(&x->r);
	assert_int_equal(x->r.io.fd, -1);
	fake_session_run_for(&x->f, 2 * RECONCILE_DEBOUNCE_US);
	assert_int_equal(x->calls, 0);
}

static void test_missing_directory(void **state)
{
	struct fixture *x = *state;

	tmpdir_remove(x->f.paths.codex_home);
	assert_int_equal(reconcile_start(&x->r), -ENOENT);
	assert_int_equal(x->r.io.fd, -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_auth_json_rename, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_store_files, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_burst_is_one_report, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_other_files_are_ignored, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_nothing_before_start_or_after_release, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_missing_directory, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
