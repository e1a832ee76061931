/* The pool forecast on simulated histories: steady use, bursts, windows resetting in the
 * history and on the way, spent pools, and too little history. */
#include "policy/forecast.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define NOW  1800000000LL
#define HOUR 3600LL
#define MIN  60LL
#define FAR  (NOW + 1000 * HOUR) /* a reset that never comes within the horizon */

static struct forecast_point pt(int64_t t, double five, int64_t r5, double week, int64_t rw)
{
	return (struct forecast_point){t, five, week, r5, rw};
}

/* Within a minute: the simulation works in whole seconds. */
static void assert_near(int64_t got, int64_t want)
{
	if (llabs(got - want) > 60) {
		print_error("got %lld, wanted %lld (off by %lld s)\n", (long long)got,
		            (long long)want, (long long)(got - want));
		fail();
	}
}

static void test_steady_use(void **state)
{
	/* One account used at 10 points an hour for 2 hours, two untouched ones. */
	struct forecast_point h[5];
	struct forecast_account a[3] = {0};
	struct forecast f;

	(void)state;
	for (int i = 0; i < 5; i++) {
		h[i] = pt(NOW - 2 * HOUR + i * 30 * MIN, 10 + 5 * i, FAR, 2 + 0.5 * i, FAR);
	}
	a[0] = (struct forecast_account){h, 4, h[4]};
	a[1].now = pt(NOW, 0, 0, 0, 0);
	a[2].now = pt(NOW, 0, 0, 0, 0);
	forecast_compute(a, 3, NOW, &f);
	assert_int_equal(f.status, FORECAST_OK);
	assert_int_equal(f.naccounts, 3);
	assert_int_equal(f.span_s, 2 * HOUR);
	assert_true(fabs(f.five_hour_pace - 10.0) < 1e-9);
	assert_true(fabs(f.weekly_pace - 1.0) < 1e-9);
	/* 70 + 100 + 100 five-hour points at 10 an hour; the weekly window never binds. */
	assert_false(f.dry_now);
	assert_near(f.dry_at, NOW + 27 * HOUR);
	assert_int_equal(f.back_at, FAR);
	assert_int_equal(f.first_reset_at, FAR);
}

static void test_burst(void **state)
{
	/* Nothing for an hour, 40 points in half an hour, nothing since: 20 points an hour. */
	struct forecast_point h[] = {
	        pt(NOW - 2 * HOUR, 0, FAR, 0, FAR),
	        pt(NOW - HOUR, 0, FAR, 0, FAR),
	        pt(NOW - 30 * MIN, 40, FAR, 8, FAR),
	};
	struct forecast_account a[1] = {{h, 3, pt(NOW, 40, FAR, 8, FAR)}};
	struct forecast f;

	(void)state;
	forecast_compute(a, 1, NOW, &f);
	assert_int_equal(f.status, FORECAST_OK);
	assert_true(fabs(f.five_hour_pace - 20.0) < 1e-9);
	assert_true(fabs(f.weekly_pace - 4.0) < 1e-9);
	assert_near(f.dry_at, NOW + 3 * HOUR); /* 60 points left */
	/* Older snapshots than the lookback do not count. */
	h[0].t = NOW - 5 * HOUR;
	h[0].five_hour = 0;
	forecast_compute(a, 1, NOW, &f);
	assert_int_equal(f.span_s, HOUR);
	assert_true(fabs(f.five_hour_pace - 40.0) < 1e-9);
}

static void test_reset_in_history(void **state)
{
	/* 80 -> 95, then the 5-hour window starts over and 10 are used in the new one. */
	int64_t r1 = NOW - 50 * MIN, r2 = r1 + 5 * HOUR;
	struct forecast_point h[] = {
	        pt(NOW - 2 * HOUR, 80, r1, 50, FAR),
	        pt(NOW - HOUR, 95, r1, 53, FAR),
	};
	struct forecast_account a[1] = {{h, 2, pt(NOW, 10, r2, 55, FAR)}};
	double p5, pw;
	int64_t span;

	(void)state;
	forecast_pace(a, 1, NOW, FORECAST_LOOKBACK_S, &p5, &pw, &span);
	assert_int_equal(span, 2 * HOUR);
	assert_true(fabs(p5 - 12.5) < 1e-9); /* (15 + 10) / 2 h, never negative */
	assert_true(fabs(pw - 2.5) < 1e-9);
	/* A lower value with an unknown reset is a restart too. */
	h[1].five_hour_reset = 0;
	a[0].now.five_hour_reset = 0;
	forecast_pace(a, 1, NOW, FORECAST_LOOKBACK_S, &p5, &pw, &span);
	assert_true(fabs(p5 - 12.5) < 1e-9);
}

static void test_resets_on_the_way(void **state)
{
	/* 10 five-hour and 2 weekly points an hour on one account: its 5-hour window resets
	 * every 5 hours and never fills, so the weekly window decides: 50 points left at 2 an
	 * hour last 25 hours, then the account is back when the week resets. */
	int64_t week = NOW + 100 * HOUR;
	struct forecast_point h[] = {
	        pt(NOW - HOUR, 80, NOW + 30 * MIN, 48, week),
	};
	struct forecast_account a[1] = {{h, 1, pt(NOW, 90, NOW + 30 * MIN, 50, week)}};
	struct forecast f;

	(void)state;
	forecast_compute(a, 1, NOW, &f);
	assert_int_equal(f.status, FORECAST_OK);
	assert_near(f.dry_at, NOW + 25 * HOUR);
	assert_int_equal(f.back_at, week);
	assert_int_equal(f.first_reset_at, NOW + 30 * MIN);
}

static void test_five_hour_binds_then_resets(void **state)
{
	/* 40 points an hour: 60 left fill in 1.5 h; the window is back 3.5 h later, when a
	 * second account (spent until then) has nothing to give. */
	int64_t r = NOW + 5 * HOUR;
	struct forecast_point h[] = {pt(NOW - HOUR, 0, r, 0, FAR)};
	struct forecast_account a[2] = {{h, 1, pt(NOW, 40, r, 0, FAR)},
	                                {NULL, 0, pt(NOW, 100, NOW + 6 * HOUR, 10, FAR)}};
	struct forecast f;

	(void)state;
	forecast_compute(a, 2, NOW, &f);
	assert_int_equal(f.status, FORECAST_OK);
	assert_near(f.dry_at, NOW + 90 * MIN);
	assert_int_equal(f.back_at, r);
}

static void test_spent_now(void **state)
{
	struct forecast_account a[2] = {{NULL, 0, pt(NOW, 100, NOW + 2 * HOUR, 40, FAR)},
	                                {NULL, 0, pt(NOW, 30, NOW + HOUR, 100, NOW + 3 * HOUR)}};
	struct forecast f;

	(void)state;
	forecast_compute(a, 2, NOW, &f);
	assert_int_equal(f.status, FORECAST_NO_HISTORY);
	assert_true(f.dry_now);
	assert_int_equal(f.dry_at, NOW);
	assert_int_equal(f.back_at, NOW + 2 * HOUR);
	assert_int_equal(f.first_reset_at, NOW + HOUR);
}

static void test_not_enough_history(void **state)
{
	struct forecast_point h[] = {pt(NOW - 5 * MIN, 10, FAR, 1, FAR)};
	struct forecast_account a[1] = {{h, 1, pt(NOW, 12, FAR, 1, FAR)}};
	struct forecast f;

	(void)state;
	forecast_compute(a, 1, NOW, &f);
	assert_int_equal(f.status, FORECAST_NO_HISTORY);
	assert_int_equal(f.dry_at, 0);
	assert_false(f.dry_now);
	a[0].nhistory = 0;
	forecast_compute(a, 1, NOW, &f);
	assert_int_equal(f.status, FORECAST_NO_HISTORY);
	assert_int_equal(f.span_s, 0);
	forecast_compute(NULL, 0, NOW, &f);
	assert_int_equal(f.status, FORECAST_NO_HISTORY);
	assert_false(f.dry_now);
}

static void test_idle_and_beyond_horizon(void **state)
{
	struct forecast_point h[] = {pt(NOW - HOUR, 10, FAR, 5, FAR)};
	struct forecast_account a[1] = {{h, 1, pt(NOW, 10, FAR, 5, FAR)}};
	struct forecast f;

	(void)state;
	forecast_compute(a, 1, NOW, &f);
	assert_int_equal(f.status, FORECAST_IDLE);
	assert_int_equal(f.dry_at, 0);
	/* Slow use: 90 points at 0.1 an hour outlast the 7-day horizon. */
	h[0].five_hour = 9.9;
	h[0].weekly = 5;
	forecast_compute(a, 1, NOW, &f);
	assert_int_equal(f.status, FORECAST_OK);
	assert_int_equal(f.dry_at, 0);
	assert_false(f.dry_now);
}

static void test_point_from_usage(void **state)
{
	struct usage u;
	struct forecast_point p;

	(void)state;
	usage_init(&u);
	u.fetched_at = NOW;
	/* Slots swapped: the windows are told apart by duration. */
	u.primary = (struct usage_window){true, 70, 10080, NOW + 99};
	u.secondary = (struct usage_window){true, 20, 300, NOW + 9};
	forecast_point_from_usage(&u, &p);
	assert_int_equal(p.t, NOW);
	assert_true(p.five_hour == 20 && p.weekly == 70);
	assert_int_equal(p.five_hour_reset, NOW + 9);
	assert_int_equal(p.weekly_reset, NOW + 99);
	u.secondary.present = false;
	forecast_point_from_usage(&u, &p);
	assert_true(p.five_hour < 0 && p.five_hour_reset == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_steady_use),
	        cmocka_unit_test(test_burst),
	        cmocka_unit_test(test_reset_in_history),
	        cmocka_unit_test(test_resets_on_the_way),
	        cmocka_unit_test(test_five_hour_binds_then_resets),
	        cmocka_unit_test(test_spent_now),
	        cmocka_unit_test(test_not_enough_history),
	        cmocka_unit_test(test_idle_and_beyond_horizon),
	        cmocka_unit_test(test_point_from_usage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
