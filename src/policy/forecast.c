#include "policy/forecast.h"

#include <math.h>
#include <string.h>

/* Stores hold a handful of accounts; beyond this many the rest do not count. */
#define FORECAST_MAX_ACCOUNTS 128
/* Each step of the simulation ends one account's run or passes one reset. */
#define FORECAST_MAX_STEPS 100000
#define FULL               100.0
#define EPSILON            1e-6

void forecast_point_from_usage(const struct usage *u, struct forecast_point *out)
{
	const struct usage_window *f = usage_five_hour(u), *w = usage_weekly(u);

	memset(out, 0, sizeof(*out));
	out->t = u->fetched_at;
	out->five_hour = f ? f->used_percent : -1;
	out->weekly = w ? w->used_percent : -1;
	out->five_hour_reset = f ? f->resets_at : 0;
	out->weekly_reset = w ? w->resets_at : 0;
}

/* ---- pace ---- */

/* Points used between two snapshots of one window; len is the window's length. */
static double used_between(double a, int64_t ra, double b, int64_t rb, int64_t len)
{
	if (a < 0 || b < 0) {
		return 0;
	}
	/* A reset moved on by half a window or more, or less use than before: the window
	 * started over between the two, and what b shows was used since. */
	if ((ra && rb && rb >= ra + len / 2) || b + 0.5 < a) {
		return b;
	}
	return b > a ? b - a : 0;
}

struct pace_acc {
	double five_hour, weekly;
	int64_t first, last;
};

static void pace_step(struct pace_acc *acc, const struct forecast_point *prev,
                      const struct forecast_point *p)
{
	if (!acc->first || p->t < acc->first) {
		acc->first = p->t;
	}
	if (p->t > acc->last) {
		acc->last = p->t;
	}
	if (!prev) {
		return;
	}
	acc->five_hour += used_between(prev->five_hour, prev->five_hour_reset, p->five_hour,
	                               p->five_hour_reset, FORECAST_FIVE_HOUR_S);
	acc->weekly += used_between(prev->weekly, prev->weekly_reset, p->weekly, p->weekly_reset,
	                            FORECAST_WEEK_S);
}

static void pace_account(struct pace_acc *acc, const struct forecast_account *a, int64_t from,
                         int64_t now)
{
	const struct forecast_point *prev = NULL;

	for (size_t i = 0; i < a->nhistory; i++) {
		const struct forecast_point *p = &a->history[i];
		if (p->t < from || p->t > now || (prev && p->t <= prev->t)) {
			continue;
		}
		pace_step(acc, prev, p);
		prev = p;
	}
	if (a->now.t >= from && a->now.t <= now && (!prev || a->now.t > prev->t)) {
		pace_step(acc, prev, &a->now);
	}
}

void forecast_pace(const struct forecast_account *a, size_t n, int64_t now, int64_t lookback_s,
                   double *five_hour_pace, double *weekly_pace, int64_t *span_s)
{
	struct pace_acc acc = {0};
	double hours;

	for (size_t i = 0; i < n; i++) {
		pace_account(&acc, &a[i], now - lookback_s, now);
	}
	*span_s = acc.first && acc.last > acc.first ? acc.last - acc.first : 0;
	hours = (double)*span_s / 3600.0;
	*five_hour_pace = hours > 0 ? acc.five_hour / hours : 0;
	*weekly_pace = hours > 0 ? acc.weekly / hours : 0;
}

/* ---- simulation ---- */

struct sim_win {
	bool present;
	double used;
	int64_t reset; /* 0 = unknown: a full window then never comes back */
	int64_t len;
	double pace; /* points per hour while the account is the one in use */
};

struct sim_acct {
	struct sim_win w[2]; /* 5-hour, weekly */
};

static void sim_win_init(struct sim_win *w, double used, int64_t reset, int64_t len, double pace)
{
	w->present = used >= 0;
	w->used = used < 0 ? 0 : used > FULL ? FULL : used;
	w->reset = reset;
	w->len = len;
	w->pace = pace;
}

static void roll(struct sim_win *w, int64_t t)
{
	if (!w->present || !w->reset || w->reset > t) {
		return;
	}
	w->used = 0;
	while (w->reset <= t) {
		w->reset += w->len;
	}
}

static bool usable(const struct sim_acct *a)
{
	for (int k = 0; k < 2; k++) {
		if (a->w[k].present && a->w[k].used >= FULL - EPSILON) {
			return false;
		}
	}
	return true;
}

/* The next reset of a window of a after t, or INT64_MAX. Unused windows count too: the
 * account in use fills them on the way. */
static int64_t next_reset(const struct sim_acct *a, int64_t t)
{
	int64_t r = INT64_MAX;

	for (int k = 0; k < 2; k++) {
		const struct sim_win *w = &a->w[k];
		if (w->present && w->reset > t && w->reset < r) {
			r = w->reset;
		}
	}
	return r;
}

/* When a spent account can go on again: every full window must reset. INT64_MAX = never. */
static int64_t free_at(const struct sim_acct *a)
{
	int64_t r = 0;

	for (int k = 0; k < 2; k++) {
		const struct sim_win *w = &a->w[k];
		if (w->present && w->used >= FULL - EPSILON) {
			if (!w->reset) {
				return INT64_MAX;
			}
			r = w->reset > r ? w->reset : r;
		}
	}
	return r;
}

/* Seconds until the account in use fills a window; INFINITY when it never does. */
static double time_to_full(const struct sim_acct *a)
{
	double best = INFINITY;

	for (int k = 0; k < 2; k++) {
		const struct sim_win *w = &a->w[k];
		if (w->present && w->pace > EPSILON) {
			double s = (FULL - w->used) / w->pace * 3600.0;
			best = s < best ? s : best;
		}
	}
	return best;
}

struct sim {
	struct sim_acct acct[FORECAST_MAX_ACCOUNTS];
	size_t n;
	int64_t t, end;
};

/* The usable account whose next reset comes first (its capacity is lost soonest), or -1. */
static long pick(const struct sim *s)
{
	long best = -1;
	int64_t best_reset = INT64_MAX;

	for (size_t i = 0; i < s->n; i++) {
		int64_t r = next_reset(&s->acct[i], s->t);
		if (usable(&s->acct[i]) && (best < 0 || r < best_reset)) {
			best = (long)i;
			best_reset = r;
		}
	}
	return best;
}

static int64_t pool_next_reset(const struct sim *s)
{
	int64_t r = INT64_MAX;

	for (size_t i = 0; i < s->n; i++) {
		int64_t x = next_reset(&s->acct[i], s->t);
		r = x < r ? x : r;
	}
	return r;
}

/* The account in use spends from..to; a window it fills ends at FULL (usable() allows for
 * the rounding of the float sum). */
static void spend(struct sim_acct *a, int64_t from, int64_t to)
{
	for (int k = 0; k < 2; k++) {
		struct sim_win *w = &a->w[k];
		if (w->present) {
			w->used += w->pace * (double)(to - from) / 3600.0;
			w->used = w->used > FULL ? FULL : w->used;
		}
	}
}

static void roll_all(struct sim *s)
{
	for (size_t i = 0; i < s->n; i++) {
		roll(&s->acct[i].w[0], s->t);
		roll(&s->acct[i].w[1], s->t);
	}
}

static void mark_dry(const struct sim *s, struct forecast *out)
{
	int64_t back = INT64_MAX;

	for (size_t i = 0; i < s->n; i++) {
		int64_t f = free_at(&s->acct[i]);
		back = f < back ? f : back;
	}
	out->dry_at = s->t;
	out->back_at = back == INT64_MAX ? 0 : back;
}

/* One step: the account in use runs until it fills, a reset comes, or the horizon ends.
 * Returns false when the simulation is over. */
static bool step(struct sim *s, struct forecast *out)
{
	int64_t reset, full_at, to;
	double full;
	long i;

	roll_all(s);
	i = pick(s);
	if (i < 0) {
		mark_dry(s, out);
		return false;
	}
	full = time_to_full(&s->acct[i]);
	full_at = isinf(full) || full > (double)(s->end - s->t) ? INT64_MAX
	                                                        : s->t + (int64_t)ceil(full);
	reset = pool_next_reset(s);
	if (full_at == INT64_MAX && reset == INT64_MAX) {
		return false; /* nothing fills and nothing changes: never dry */
	}
	to = full_at < reset ? full_at : reset;
	to = to < s->end ? to : s->end;
	spend(&s->acct[i], s->t, to);
	s->t = to;
	return s->t < s->end;
}

static void sim_init(struct sim *s, const struct forecast_account *a, size_t n, int64_t now,
                     double p5, double pw)
{
	s->n = n > FORECAST_MAX_ACCOUNTS ? FORECAST_MAX_ACCOUNTS : n;
	s->t = now;
	s->end = now + FORECAST_HORIZON_S;
	for (size_t i = 0; i < s->n; i++) {
		const struct forecast_point *p = &a[i].now;
		sim_win_init(&s->acct[i].w[0], p->five_hour, p->five_hour_reset,
		             FORECAST_FIVE_HOUR_S, p5);
		sim_win_init(&s->acct[i].w[1], p->weekly, p->weekly_reset, FORECAST_WEEK_S, pw);
	}
}

static int64_t first_reset(const struct forecast_account *a, size_t n, int64_t now)
{
	int64_t r = 0;

	for (size_t i = 0; i < n; i++) {
		const struct forecast_point *p = &a[i].now;
		int64_t c[2] = {p->five_hour > EPSILON ? p->five_hour_reset : 0,
		                p->weekly > EPSILON ? p->weekly_reset : 0};
		for (int k = 0; k < 2; k++) {
			if (c[k] > now && (!r || c[k] < r)) {
				r = c[k];
			}
		}
	}
	return r;
}

void forecast_compute(const struct forecast_account *a, size_t n, int64_t now, struct forecast *out)
{
	struct sim s; /* about 10 KiB */
	double p5, pw;
	int64_t span;

	memset(out, 0, sizeof(*out));
	out->naccounts = n;
	out->first_reset_at = first_reset(a, n, now);
	forecast_pace(a, n, now, FORECAST_LOOKBACK_S, &p5, &pw, &span);
	out->span_s = span;
	out->five_hour_pace = p5;
	out->weekly_pace = pw;
	out->status = span < FORECAST_MIN_SPAN_S     ? FORECAST_NO_HISTORY
	              : p5 < EPSILON && pw < EPSILON ? FORECAST_IDLE
	                                             : FORECAST_OK;
	memset(&s, 0, sizeof(s));
	sim_init(&s, a, n, now, out->status == FORECAST_OK ? p5 : 0,
	         out->status == FORECAST_OK ? pw : 0);
	for (int i = 0; i < FORECAST_MAX_STEPS && step(&s, out); i++) {
	}
	out->dry_now = n > 0 && out->dry_at == now;
	if (out->status != FORECAST_OK && !out->dry_now) {
		out->dry_at = 0; /* without a pace there is no forecast, only the state of now */
	}
}
