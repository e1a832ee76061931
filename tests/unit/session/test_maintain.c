/*
 * Keeping the session healthy: the active account's token renewed before it expires, on a real
 * loop and worker, against a token endpoint on 127.0.0.1. (The 15-45 minute usage re-check is
 * left to the integration tests: it has no shorter clock.)
 */
#define _GNU_SOURCE /* nftw, strcasestr */
#include "session/maintain.h"

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
	struct fake_token_server srv;
	struct account a;
	struct pool pool;
	struct maintain m;
	bool busy;
	int renewed_calls, checked_calls;
	char renewed_id[64], renewed_access[1024];
};

static void on_checked(void *ctx)
{
	((struct fixture *)ctx)->checked_calls++;
}

static void on_renewed(void *ctx, const struct account *fresh)
{
	struct fixture *x = ctx;

	x->renewed_calls++;
	snprintf(x->renewed_id, sizeof(x->renewed_id), "%s", fresh->id);
	snprintf(x->renewed_access, sizeof(x->renewed_access), "%s", fresh->access_token);
}

static bool is_busy(void *ctx)
{
	return ((struct fixture *)ctx)->busy;
}

/* alice's access token expires in 200 s: within the renewal window already. */
static int setup(void **state)
{
	struct fixture *x = calloc(1, sizeof(*x));
	struct maintain_ops ops = {.checked = on_checked, .renewed = on_renewed, .busy = is_busy};
	char *payload, err[256];

	if (!x || fake_session_setup(&x->f, "maintain") || fake_token_server_start(&x->srv)) {
		return -1;
	}
	x->a = fake_session_account("alice", "ws-a");
	payload = util_printf("{\"exp\":%lld,\"sub\":\"soon\"}", (long long)time(NULL) + 200);
	free(x->a.access_token);
	x->a.access_token = fake_jwt(payload);
	free(payload);
	if (fake_session_store(&x->f, &x->a)) {
		return -1;
	}
	pool_init(&x->pool, &x->f.env);
	if (pool_load_now(&x->pool, err, sizeof(err))) {
		return -1;
	}
	ops.ctx = x;
	maintain_init(&x->m, &x->f.env, &x->pool, &ops);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *x = *state;

	fake_session_stop_worker(&x->f);
	maintain_release(&x->m);
	pool_release(&x->pool);
	fake_session_teardown(&x->f);
	fake_token_server_stop(&x->srv);
	account_release(&x->a);
	free(x);
	return 0;
}

static bool renewed(void *ctx)
{
	return ((struct fixture *)ctx)->renewed_calls > 0;
}

static bool asked(void *ctx)
{
	return ((struct fixture *)ctx)->srv.requests > 0;
}

static void test_renews_before_expiry(void **state)
{
	struct fixture *x = *state;
	char *access = fake_jwt("{\"exp\":4102444800,\"sub\":\"renewed\"}");

	x->srv.status = 200;
	snprintf(x->srv.body, sizeof(x->srv.body), "{\"access_token\":\"%s\"}", access);
	maintain_activity(&x->m, (int64_t)time(NULL));
	maintain_logged_in(&x->m, &x->a);
	assert_true(fake_session_run_until(&x->f, renewed, x, 10000000));
	assert_int_equal(x->srv.requests, 1);
	assert_non_null(strstr(x->srv.last_request, "refresh-alice"));
	assert_string_equal(x->renewed_id, x->a.id);
	assert_string_equal(x->renewed_access, access);
	assert_true(fake_session_settle(&x->f));
	assert_int_equal(x->renewed_calls, 1);
	assert_int_equal(x->checked_calls, 0);
	free(access);
}

static void test_idle_session_renews_nothing(void **state)
{
	struct fixture *x = *state;

	x->srv.status = 200;
	snprintf(x->srv.body, sizeof(x->srv.body), "{\"access_token\":\"x\"}");
	/* No turn for longer than MAINTAIN_PREWARM_ACTIVE_S: the app-server asks when it needs. */
	maintain_activity(&x->m, (int64_t)time(NULL) - MAINTAIN_PREWARM_ACTIVE_S - 5);
	maintain_logged_in(&x->m, &x->a);
	fake_session_run_for(&x->f, 1500000);
	assert_true(fake_session_settle(&x->f));
	assert_int_equal(x->srv.requests, 0);
	assert_int_equal(x->renewed_calls, 0);
}

static void test_waits_while_a_login_runs(void **state)
{
	struct fixture *x = *state;

	x->busy = true;
	maintain_activity(&x->m, (int64_t)time(NULL));
	maintain_logged_in(&x->m, &x->a);
	fake_session_run_for(&x->f, 1500000);
	assert_int_equal(x->srv.requests, 0);
	assert_int_equal(x->renewed_calls, 0);
}

static void test_revoked_is_not_retried(void **state)
{
	struct fixture *x = *state;

	x->srv.status = 400;
	snprintf(x->srv.body, sizeof(x->srv.body), "{\"error\":\"invalid_grant\"}");
	maintain_activity(&x->m, (int64_t)time(NULL));
	maintain_logged_in(&x->m, &x->a);
	assert_true(fake_session_run_until(&x->f, asked, x, 10000000));
	assert_true(fake_session_settle(&x->f));
	fake_session_run_for(&x->f, 500000);
	assert_int_equal(x->srv.requests, 1);
	assert_int_equal(x->renewed_calls, 0);
}

static void test_new_login_replans(void **state)
{
	struct fixture *x = *state;
	struct account later;

	/* The account logged in next holds a token valid for long: nothing to renew soon. */
	assert_int_equal(account_copy(&later, &x->a), 0);
	free(later.access_token);
	later.access_token = fake_jwt("{\"exp\":4102444800,\"sub\":\"long\"}");
	maintain_activity(&x->m, (int64_t)time(NULL));
	maintain_logged_in(&x->m, &x->a);
	maintain_logged_in(&x->m, &later);
	fake_session_run_for(&x->f, 1500000);
	assert_int_equal(x->srv.requests, 0);
	assert_int_equal(x->renewed_calls, 0);
	account_release(&later);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_renews_before_expiry, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_idle_session_renews_nothing, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_waits_while_a_login_runs, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_revoked_is_not_retried, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_new_login_replans, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
