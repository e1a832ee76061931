/* The session's in-memory accounts and usage cache: loads and writes on a real worker. */
#define _GNU_SOURCE /* nftw */
#include "session/pool.h"

#include "store/authjson.h"
#include "store/usage_cache.h"

#include "fake_session.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

struct fixture {
	struct fake_session f;
	struct account a, b;
	struct pool p;
	int loaded_calls, loaded_err, committed_calls, committed_err;
	size_t n_at_load;
	char loaded_msg[512];
};

static void on_loaded(void *ctx, int err, const char *msg)
{
	struct fixture *x = ctx;

	x->loaded_calls++;
	x->loaded_err = err;
	x->n_at_load = x->p.cur.store.n;
	snprintf(x->loaded_msg, sizeof(x->loaded_msg), "%s", err ? msg : "");
}

static void on_committed(void *ctx, int err)
{
	struct fixture *x = ctx;

	x->committed_calls++;
	x->committed_err = err;
}

static int setup(void **state)
{
	struct fixture *x = calloc(1, sizeof(*x));

	if (!x || fake_session_setup(&x->f, "pool")) {
		return -1;
	}
	x->a = fake_session_account("alice", "ws-a");
	x->b = fake_session_account("bob", "ws-b");
	if (fake_session_store(&x->f, &x->a) || fake_session_store(&x->f, &x->b)) {
		return -1;
	}
	pool_init(&x->p, &x->f.env);
	x->p.on_loaded = on_loaded;
	x->p.on_committed = on_committed;
	x->p.ctx = x;
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *x = *state;

	fake_session_stop_worker(&x->f);
	pool_release(&x->p);
	fake_session_teardown(&x->f);
	account_release(&x->a);
	account_release(&x->b);
	free(x);
	return 0;
}

static struct usage some_usage(double used)
{
	struct usage u;

	usage_init(&u);
	u.fetched_at = (int64_t)time(NULL);
	u.primary = (struct usage_window){true, used, 300, u.fetched_at + 3600};
	u.secondary = (struct usage_window){true, 3, 10080, u.fetched_at + 86400};
	return u;
}

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
}

static void test_load_now(void **state)
{
	struct fixture *x = *state;
	struct usage u = some_usage(42);
	const char *ids[] = {x->a.id};
	char err[512] = "";
	long ia, ib;

	assert_int_equal(usage_cache_store(&x->f.paths, ids, &u, 1), 0);
	assert_int_equal(authjson_write(x->f.paths.auth_json, &x->b), 0);
	assert_null(pool_account(&x->p, x->a.id)); /* nothing before the load */
	assert_int_equal(pool_load_now(&x->p, err, sizeof(err)), 0);
	assert_true(x->p.loaded);
	assert_int_equal(x->p.cur.store.n, 2);
	ia = pool_index(&x->p, x->a.id);
	ib = pool_index(&x->p, x->b.id);
	assert_true(ia >= 0 && ib >= 0 && ia != ib);
	assert_string_equal(pool_account(&x->p, x->b.id)->name, "bob");
	assert_int_equal(pool_index(&x->p, "no-such-id"), -1);
	assert_int_equal(pool_index(&x->p, NULL), -1);
	assert_true(x->p.cur.in_cache[ia]);
	assert_false(x->p.cur.in_cache[ib]);
	assert_true(x->p.cur.cached[ia].primary.used_percent == 42);
	assert_int_equal(x->p.cur.auth_current, ib);
	assert_true(x->p.cur.auth_present);
	assert_int_equal(x->loaded_calls, 0); /* the blocking load reports through its result */
	usage_release(&u);
}

static void test_load_now_bad_store(void **state)
{
	struct fixture *x = *state;
	char err[512] = "";

	write_file(x->f.paths.accounts, "{not json");
	assert_int_equal(pool_load_now(&x->p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, x->f.paths.accounts));
	assert_false(x->p.loaded);
}

static bool loaded_twice(void *ctx)
{
	return ((struct fixture *)ctx)->loaded_calls >= 2;
}

static void test_reload_on_worker(void **state)
{
	struct fixture *x = *state;
	struct account c = fake_session_account("carol", "ws-c");
	char err[512];

	assert_int_equal(pool_load_now(&x->p, err, sizeof(err)), 0);
	assert_int_equal(x->p.cur.auth_current, -1);
	assert_false(x->p.cur.auth_present);
	assert_int_equal(fake_session_store(&x->f, &c), 0);
	assert_int_equal(authjson_write(x->f.paths.auth_json, &c), 0);
	/* Three asks while the first job is out: one more reload, not three. */
	pool_reload(&x->p);
	pool_reload(&x->p);
	pool_reload(&x->p);
	assert_true(x->p.loading);
	assert_int_equal(x->p.cur.store.n, 2); /* the loop thread read nothing */
	assert_true(fake_session_run_until(&x->f, loaded_twice, x, 10000000));
	assert_true(fake_session_settle(&x->f));
	assert_int_equal(x->loaded_calls, 2);
	assert_int_equal(x->loaded_err, 0);
	assert_int_equal(x->n_at_load, 3);
	assert_false(x->p.loading);
	assert_int_equal(x->p.cur.auth_current, pool_index(&x->p, c.id));
	assert_true(x->p.cur.auth_present);

	/* A broken file: reported, and the last good snapshot is kept. */
	write_file(x->f.paths.accounts, "{not json");
	pool_reload(&x->p);
	assert_true(fake_session_settle(&x->f));
	assert_int_equal(x->loaded_calls, 3);
	assert_int_equal(x->loaded_err, -EINVAL);
	assert_non_null(strstr(x->loaded_msg, "accounts.json"));
	assert_true(x->p.loaded);
	assert_int_equal(x->p.cur.store.n, 3);
	account_release(&c);
}

static void test_note_limits(void **state)
{
	struct fixture *x = *state;
	struct usage u = some_usage(77), back;
	char err[512];
	long ia;

	assert_int_equal(pool_load_now(&x->p, err, sizeof(err)), 0);
	ia = pool_index(&x->p, x->a.id);
	assert_false(x->p.cur.in_cache[ia]);
	pool_note_limits(&x->p, x->a.id, &u);
	/* In memory at once, for the next decision... */
	assert_true(x->p.cur.in_cache[ia]);
	assert_true(x->p.cur.cached[ia].primary.used_percent == 77);
	/* ...and in usage-cache.json after the worker wrote it. */
	assert_int_equal(x->p.writes, 1);
	assert_true(fake_session_settle(&x->f));
	assert_int_equal(x->p.writes, 0);
	assert_int_equal(usage_cache_load(&x->f.paths, x->a.id, &back), 0);
	assert_true(back.primary.used_percent == 77);
	assert_int_equal(back.primary.window_minutes, 300);
	usage_release(&back);
	assert_int_equal(usage_cache_load(&x->f.paths, x->b.id, &back), -ENOENT);
	usage_release(&back);
	/* Limits of an account not (yet) in the snapshot still reach the file. */
	pool_note_limits(&x->p, "not-loaded-yet", &u);
	assert_true(fake_session_settle(&x->f));
	assert_int_equal(usage_cache_load(&x->f.paths, "not-loaded-yet", &back), 0);
	usage_release(&back);
	assert_int_equal(x->committed_calls, 0);
	usage_release(&u);
}

static void test_commit(void **state)
{
	struct fixture *x = *state;
	struct store s;
	char err[512];
	long ib;

	assert_int_equal(pool_load_now(&x->p, err, sizeof(err)), 0);
	assert_int_equal(pool_commit(&x->p, pool_account(&x->p, x->b.id)), 0);
	assert_true(fake_session_settle(&x->f));
	assert_int_equal(x->committed_calls, 1);
	assert_int_equal(x->committed_err, 0);
	assert_int_equal(store_load(&x->f.paths, &s, err, sizeof(err)), 0);
	ib = store_find_id(&s, x->b.id);
	assert_int_equal(authjson_current(&x->f.paths, &s), ib);
	assert_true(s.accounts[ib].last_used_at > 0);
	assert_int_equal(s.accounts[store_find_id(&s, x->a.id)].last_used_at, 0);
	store_release(&s);
}

static void test_commit_failure_is_reported(void **state)
{
	struct fixture *x = *state;
	char err[512];

	assert_int_equal(pool_load_now(&x->p, err, sizeof(err)), 0);
	tmpdir_remove(x->f.paths.codex_home); /* auth.json cannot be written */
	assert_int_equal(pool_commit(&x->p, pool_account(&x->p, x->b.id)), 0);
	assert_true(fake_session_settle(&x->f));
	assert_int_equal(x->committed_calls, 1);
	assert_true(x->committed_err < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_load_now, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_load_now_bad_store, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_reload_on_worker, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_note_limits, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_commit, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_commit_failure_is_reported, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
