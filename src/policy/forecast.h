/*
 * The pool forecast of `usage --all`: at the pace of the last hours, when the accounts run
 * dry and when capacity comes back. Pure: the history and `now` are inputs, so a test can
 * replay any day.
 *
 * The pace is measured across the pool, in percentage points per hour of the 5-hour and of
 * the weekly window, from the usage snapshots the cache keeps (usage_cache_history). A
 * window that reset between two snapshots counts what was used since the reset, never a
 * negative amount. The forecast then spends that pace on one account at a time (as `run`
 * does), the account whose next reset comes first, and lets every window reset on the way
 * give its capacity back.
 */
#ifndef CS_FORECAST_H
#define CS_FORECAST_H

#include "policy/usage.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FORECAST_LOOKBACK_S  (2 * 3600)      /* the pace is the one of the last 2 hours */
#define FORECAST_MIN_SPAN_S  (10 * 60)       /* less history than this: no forecast */
#define FORECAST_HORIZON_S   (7 * 24 * 3600) /* beyond this: "more than 7 days" */
#define FORECAST_FIVE_HOUR_S (5 * 3600)
#define FORECAST_WEEK_S      (7 * 24 * 3600)

/* One usage snapshot of one account. */
struct forecast_point {
	int64_t t;               /* Unix s when the usage was fetched */
	double five_hour;        /* used %, < 0 when the account has no 5-hour window */
	double weekly;           /* used %, < 0 when it has no weekly window */
	int64_t five_hour_reset; /* Unix s; 0 = unknown */
	int64_t weekly_reset;    /* Unix s; 0 = unknown */
};

struct forecast_account {
	const struct forecast_point *history; /* oldest first; borrowed; may be NULL when n = 0 */
	size_t nhistory;
	struct forecast_point now; /* the usage fetched now (it may also end the history) */
};

enum forecast_status {
	FORECAST_NO_HISTORY, /* not enough history yet to measure a pace */
	FORECAST_IDLE,       /* history, but nothing was used in it */
	FORECAST_OK,
};

struct forecast {
	enum forecast_status status;
	size_t naccounts;
	int64_t span_s;        /* the history the pace was measured over */
	double five_hour_pace; /* percentage points per hour, across the pool */
	double weekly_pace;
	bool dry_now;    /* no account can go on now */
	int64_t dry_at;  /* when the pool runs dry at that pace; 0 = not within the horizon */
	int64_t back_at; /* when dry: the first moment an account can go on again; 0 = unknown */
	int64_t first_reset_at; /* the first reset of a used window in the pool; 0 = none known */
};

/* The snapshot of a usage fetched at u->fetched_at (windows classified by duration). */
void forecast_point_from_usage(const struct usage *u, struct forecast_point *out);

/*
 * The pool's pace over the snapshots of a[0..n) taken in [now - lookback_s, now]: points per
 * hour of each window kind, and the span they cover (0 when fewer than two snapshots).
 */
void forecast_pace(const struct forecast_account *a, size_t n, int64_t now, int64_t lookback_s,
                   double *five_hour_pace, double *weekly_pace, int64_t *span_s);

/* The forecast for a[0..n) (the accounts that count: enabled, usable ChatGPT ones). */
void forecast_compute(const struct forecast_account *a, size_t n, int64_t now,
                      struct forecast *out);

#endif
