/* The usage cache's snapshot history (one point per fetch, close fetches merged, bounded by
 * count and age) and the reset credit expiry it keeps across fetches that do not list them. */
#define _GNU_SOURCE /* nftw */
#include "store/usage_cache.h"
#include "base/util.h"

#include "tmpstore.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <cmocka.h>

static char dir[] = "/tmp/cs-usage-cache-XXXXXX";
static struct paths paths;
static const char *id = "11111111-2222-4333-8444-555555555555";

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

/* A usage fetched at t with the 5-hour window at five %. */
static void put(int64_t t, double five, long credits, int64_t expire)
{
	struct usage u;

	usage_init(&u);
	u.fetched_at = t;
	u.primary = (struct usage_window){true, five, 300, t + 3600};
	u.secondary = (struct usage_window){true, five / 10, 10080, t + 86400};
	u.reset_credits_available = credits;
	u.reset_credits_expire_at = expire;
	assert_int_equal(usage_cache_store(&paths, &id, &u, 1), 0);
	usage_release(&u);
}

static size_t history(struct forecast_point **h)
{
	size_t n;

	assert_int_equal(usage_cache_history(&paths, id, h, &n), 0);
	return n;
}

static void test_history(void **state)
{
	int64_t now = util_now();
	struct forecast_point *h;
	size_t n;

	(void)state;
	unlink(paths.usage_cache);
	assert_int_equal(history(&h), 0);
	assert_null(h);
	put(now - 3600, 10, -1, 0);
	put(now - 1800, 20, -1, 0);
	put(now - 1790, 21, -1, 0); /* within 2 minutes: replaces the last one */
	put(now - 1790, 99, -1, 0); /* the same fetch stored again: no new point */
	n = history(&h);
	assert_int_equal(n, 2);
	assert_true(h[0].t == now - 3600 && h[0].five_hour == 10 && h[0].weekly == 1);
	assert_int_equal(h[0].five_hour_reset, now);
	assert_int_equal(h[0].weekly_reset, now - 3600 + 86400);
	assert_true(h[1].t == now - 1790 && h[1].five_hour == 21);
	free(h);
}

static void test_bounded(void **state)
{
	int64_t now = util_now();
	struct forecast_point *h;
	size_t n;

	(void)state;
	unlink(paths.usage_cache);
	put(now - 2 * USAGE_CACHE_HISTORY_AGE_S, 1, -1, 0); /* too old once the next comes */
	for (int i = 0; i < USAGE_CACHE_HISTORY_MAX + 10; i++) {
		put(now - 4 * 3600 + i * 121, i, -1, 0);
	}
	n = history(&h);
	assert_int_equal(n, USAGE_CACHE_HISTORY_MAX);
	assert_true(h[n - 1].five_hour == USAGE_CACHE_HISTORY_MAX + 9);
	assert_true(h[0].five_hour == 10); /* the oldest went first */
	free(h);
}

static void test_credit_expiry_kept(void **state)
{
	int64_t now = util_now(), exp = now + 10 * 86400;
	struct usage u;

	(void)state;
	unlink(paths.usage_cache);
	put(now - 600, 10, 2, exp); /* a listing found the expiry */
	put(now - 300, 12, 2, 0);   /* /wham/usage only counts */
	assert_int_equal(usage_cache_load(&paths, id, &u), 0);
	assert_int_equal(u.reset_credits_available, 2);
	assert_int_equal(u.reset_credits_expire_at, exp);
	usage_release(&u);
	put(now, 12, 1, 0); /* one was spent: which one is next is unknown */
	assert_int_equal(usage_cache_load(&paths, id, &u), 0);
	assert_int_equal(u.reset_credits_available, 1);
	assert_int_equal(u.reset_credits_expire_at, 0);
	usage_release(&u);
}

/* Every account of a store from one read: API-key accounts and accounts without an entry
 * have none, and the arrays follow the store's order. */
static void test_load_store(void **state)
{
	struct account a[] = {
	        {.kind = ACCOUNT_CHATGPT, .id = "99999999-0000-4000-8000-000000000000"},
	        {.kind = ACCOUNT_API_KEY, .id = (char *)id},
	        {.kind = ACCOUNT_CHATGPT, .id = (char *)id},
	};
	struct store s = {.accounts = a, .n = 3};
	struct usage *u;
	bool *found;

	(void)state;
	unlink(paths.usage_cache);
	put(util_now(), 42, 3, 0);
	assert_int_equal(usage_cache_load_store(&paths, &s, &u, &found), 0);
	assert_false(found[0]);
	assert_false(found[1]); /* the same id, but an API key has no ChatGPT usage */
	assert_true(found[2]);
	assert_int_equal((int)u[2].primary.used_percent, 42);
	assert_int_equal(u[2].reset_credits_available, 3);
	usage_cache_free_all(u, found, s.n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_history),
	        cmocka_unit_test(test_bounded),
	        cmocka_unit_test(test_credit_expiry_kept),
	        cmocka_unit_test(test_load_store),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
