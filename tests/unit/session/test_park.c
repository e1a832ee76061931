/*
 * Waiting for a reset: the timer, the usage fetched again on the worker from a backend on
 * 127.0.0.1 ($CODEX_SWITCH_CHATGPT_BASE_URL), the cache written, the supervisor woken.
 */
#define _GNU_SOURCE /* nftw, strcasestr */
#include "session/park.h"

#include "store/usage_cache.h"

#include "fake_session.h"
#include "fake_token_server.h"

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
	struct fake_token_server srv; /* plays the ChatGPT backend here */
	struct account a;
	struct park p;
	int wakes;
	int64_t woke_at; /* Unix seconds */
};

static void on_wake(void *ctx)
{
	struct fixture *x = ctx;

	x->wakes++;
	x->woke_at = (int64_t)time(NULL);
}

static int setup(void **state)
{
	struct fixture *x = calloc(1, sizeof(*x));
	char *base;

	if (!x || fake_session_setup(&x->f, "park") || fake_token_server_start(&x->srv)) {
		return -1;
	}
	base = util_printf("http://127.0.0.1:%d/backend-api", x->srv.port);
	setenv("CODEX_SWITCH_CHATGPT_BASE_URL", base, 1);
	free(base);
	x->a = fake_session_account("alice", "ws-a");
	if (fake_session_store(&x->f, &x->a)) {
		return -1;
	}
	park_init(&x->p, &x->f.env, on_wake, x);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *x = *state;

	fake_session_stop_worker(&x->f);
	park_release(&x->p);
	fake_session_teardown(&x->f);
	fake_token_server_stop(&x->srv);
	unsetenv("CODEX_SWITCH_CHATGPT_BASE_URL");
	account_release(&x->a);
	free(x);
	return 0;
}

static bool woken(void *ctx)
{
	return ((struct fixture *)ctx)->wakes > 0;
}

static void test_wakes_after_reset_with_fresh_usage(void **state)
{
	struct fixture *x = *state;
	int64_t t0 = (int64_t)time(NULL);
	struct usage u;

	x->srv.status = 200;
	snprintf(x->srv.body, sizeof(x->srv.body),
	         "{\"plan_type\":\"plus\",\"rate_limit\":{\"primary_window\":{\"used_percent\":12,"
	         "\"limit_window_seconds\":18000,\"reset_at\":%lld}}}",
	         (long long)t0 + 18000);
	park_until(&x->p, x->a.id, t0 + 1);
	assert_true(park_active(&x->p));
	assert_int_equal(x->p.until, t0 + 1);
	assert_true(fake_session_run_until(&x->f, woken, x, 10000000));
	/* Not before the reset and its margin. */
	assert_true(x->woke_at >= t0 + 1 + PARK_AFTER_RESET_S);
	assert_int_equal(x->srv.requests, 1);
	assert_non_null(strstr(x->srv.last_request, "GET /backend-api/wham/usage"));
	assert_false(park_active(&x->p));
	assert_int_equal(usage_cache_load(&x->f.paths, x->a.id, &u), 0);
	assert_true(u.primary.used_percent == 12);
	usage_release(&u);
	assert_int_equal(x->wakes, 1);
}

static void test_without_account_wakes_without_fetch(void **state)
{
	struct fixture *x = *state;

	park_until(&x->p, NULL, (int64_t)time(NULL) + 1);
	assert_true(fake_session_run_until(&x->f, woken, x, 10000000));
	assert_int_equal(x->srv.requests, 0);
	assert_false(park_active(&x->p));
}

static void test_cancel(void **state)
{
	struct fixture *x = *state;

	park_until(&x->p, x->a.id, (int64_t)time(NULL));
	/* A reset time that has passed, or none, looks again after PARK_RETRY_S. */
	assert_true(x->p.until <= (int64_t)time(NULL));
	park_until(&x->p, x->a.id, 0);
	assert_true(x->p.until >= (int64_t)time(NULL) + PARK_RETRY_S - 1);
	park_until(&x->p, x->a.id, (int64_t)time(NULL) + 1);
	park_cancel(&x->p);
	assert_false(park_active(&x->p));
	fake_session_run_for(&x->f, (1 + PARK_AFTER_RESET_S + 1) * 1000000);
	assert_int_equal(x->wakes, 0);
	assert_int_equal(x->srv.requests, 0);
}

static void test_cancel_while_fetching(void **state)
{
	struct fixture *x = *state;

	x->srv.status = 200;
	x->srv.delay_ms = 500;
	snprintf(x->srv.body, sizeof(x->srv.body), "{\"plan_type\":\"plus\"}");
	park_until(&x->p, x->a.id, (int64_t)time(NULL) + 1);
	for (int i = 0; i < 100 && !x->p.job; i++) {
		fake_session_run_for(&x->f, 50000);
	}
	assert_non_null(x->p.job);
	park_cancel(&x->p); /* the fetch's end only frees its job */
	assert_false(park_active(&x->p));
	assert_true(fake_session_settle(&x->f));
	assert_int_equal(x->srv.requests, 1);
	assert_int_equal(x->wakes, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_wakes_after_reset_with_fresh_usage, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_without_account_wakes_without_fetch, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_cancel_while_fetching, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
